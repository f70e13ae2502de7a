"""Output formats at the edge: JSON, JSONL, PTC label lines, plain text, HTML."""

from __future__ import annotations

import json
from typing import Iterable

from redline.doc import Document
from redline.io.ptc import format_label

FORMATS = ("json", "jsonl", "ptc", "text", "html")


def to_json(docs: list[Document]) -> str:
    data = [d.to_json() for d in docs]
    return json.dumps(data[0] if len(data) == 1 else data, ensure_ascii=False, indent=2) + "\n"


def to_jsonl(docs: Iterable[Document]) -> str:
    return "".join(json.dumps(d.to_json(), ensure_ascii=False) + "\n" for d in docs)


def to_ptc(docs: Iterable[Document]) -> str:
    return "".join(format_label(d.id, s.start, s.end, s.technique) + "\n" for d in docs for s in d.spans)


def to_text(docs: Iterable[Document]) -> str:
    from redline.taxonomy import technique_info
    lines = []
    for d in docs:
        covered = _coverage(d)
        lines.append(f"== {d.id}: {len(d.spans)} technique spans, {covered:.0%} of the text")
        for s in d.spans:
            snippet = " ".join(s.text.split())
            snippet = snippet if len(snippet) <= 90 else snippet[:87] + "..."
            lines.append(f"  {s.start:>6}-{s.end:<6} {s.score:4.2f}  {technique_info(s.technique).name:<32} {snippet}")
        for a in d.actors:
            role = f"{a.role.main} ({', '.join(a.role.fine)})" if a.role else "-"
            lines.append(f"  actor {a.name} [{a.type}] x{len(a.mentions)}: {role}")
        for c in d.claims:
            lines.append(f"  claim {c.checkworthiness:4.2f} source={c.source}: {' '.join(c.text.split())[:90]}")
            if c.hedges:
                lines.append("        markers: " + "; ".join(f"{h.kind or 'hedge'} \"{' '.join(h.text.split())}\""
                                                         for h in c.hedges))
        lines.append("")
    return "\n".join(lines)


def _coverage(doc: Document) -> float:
    covered = set()
    for s in doc.spans:
        covered.update(range(s.start, s.end))
    return len(covered) / max(len(doc.text), 1)


def render(docs: list[Document], fmt: str) -> str:
    if fmt == "json":
        return to_json(docs)
    if fmt == "jsonl":
        return to_jsonl(docs)
    if fmt == "ptc":
        return to_ptc(docs)
    if fmt == "text":
        return to_text(docs)
    if fmt == "html":
        from redline.report import render_html
        return render_html(docs)
    raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
