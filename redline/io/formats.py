"""Output formats at the edge: JSON, JSONL, PTC label lines, plain text, HTML."""

from __future__ import annotations

import json
import re
from typing import Any, Iterable

from redline.doc import Claim, Document, Role
from redline.io.ptc import format_label

FORMATS = ("json", "jsonl", "ptc", "text", "html", "csv", "labelstudio", "conll")  # brat: a folder, see redline.io.exchange


def to_json(docs: list[Document]) -> str:
    data = [d.to_json() for d in docs]
    return json.dumps(data[0] if len(data) == 1 else data, ensure_ascii=False, indent=2) + "\n"


# A JSONL record's layout; bump when a field changes meaning.
SCHEMA_VERSION = 2


def model_reference(model: dict[str, Any]) -> dict[str, Any]:
    """Which models made a record, in about 200 bytes: repeated on every line of a corpus,
    the full details (2.6 KB) would be 15% of the file. `redline info --json` prints them."""
    from redline import __version__

    tagger = model.get("tagger") or {}
    return {"redline": __version__, "components": list(model.get("components", [])),
            "technique_model": tagger.get("name"), "taxonomy": tagger.get("taxonomy"),
            "precision": tagger.get("precision"), "threshold": tagger.get("threshold")}


def jsonl_record(doc: Document) -> dict[str, Any]:
    """One line of `-f jsonl`: the document's JSON with where it came from first (id, path
    as given, the rest of its meta) and a short model reference instead of the full one."""
    rec = doc.to_json()
    meta = {k: v for k, v in doc.meta.items() if k != "path"}
    head = {"schema_version": SCHEMA_VERSION, "id": rec.pop("id"), "path": doc.meta.get("path"), "meta": meta}
    rec["model"] = model_reference(doc.model)
    return head | rec


def to_jsonl(docs: Iterable[Document]) -> str:
    return "".join(json.dumps(jsonl_record(d), ensure_ascii=False) + "\n" for d in docs)


def to_ptc(docs: Iterable[Document]) -> str:
    return "".join(format_label(d.id, s.start, s.end, s.technique) + "\n" for d in docs for s in d.spans)


def _technique_name(label: str) -> str:
    """A technique's readable name; a technique of one's own (a model fine-tuned with
    `redline train --labels`) is shown as it is named."""
    from redline.taxonomy import technique_info
    try:
        return technique_info(label).name
    except KeyError:
        return label


def to_text(docs: Iterable[Document]) -> str:
    lines = []
    for d in docs:
        covered = _coverage(d)
        lines.append(f"== {d.id}: {len(d.spans)} technique spans, {covered:.0%} of the text")
        for s in d.spans:
            lines.append(f"  {s.start:>6}-{s.end:<6} {s.score:4.2f}  {_technique_name(s.technique):<32} "
                         f"{_clip(s.text, 90)}")
        names = {a.id: a.name for a in d.actors}
        if d.actors:
            roles_note = " (role: how the text casts the actor, not a verdict on it)"
            lines.append("  actors" + (roles_note if any(a.role for a in d.actors) else ""))
        for a in d.actors:
            role = f": {role_label(a.role)}" if a.role else ""
            lines.append(f"    {a.name} [{a.type}] x{len(a.mentions)}{role}")
            evidence = evidence_line(a.role.evidence) if a.role else ""
            if evidence:
                lines.append(f"        evidence: {evidence}")
        if d.relations:
            lines.append("  relations")
        for r in d.relations:
            action = r.type if r.action == r.type else f"{r.type}/{r.action}"
            lines.append(f"    {names.get(r.subject, r.subject)} —{action}→ {names.get(r.object, r.object)}"
                         f"    \"{_clip(d.text[r.start:r.end], 80)}\"")
        if d.claims:
            lines.append("  claims")
        lines.extend(claim_lines(d))
        lines.append("")
    return "\n".join(lines)


def claim_lines(doc: Document) -> list[str]:
    """Each claim: check-worthiness and text, who vouches for it, its markers."""
    names = {a.id: a.name for a in doc.actors}
    lines = []
    for c in doc.claims:
        lines.append(f"    {c.checkworthiness:4.2f} {_clip(c.text, 100)}")
        lines.append(f"         {claim_source(c, names)}")
        if c.hedges:
            lines.append("         markers: " + "; ".join(f"{h.kind or 'hedge'} \"{' '.join(h.text.split())}\""
                                                       for h in c.hedges))
    return lines


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def role_label(role: Role | None) -> str:
    """'Antagonist (Tyrant) 0.83', or 'unclear (leans Antagonist 0.52)' when the model is not sure."""
    if role is None:
        return "no role"
    if role.main is None:
        return f"unclear (leans {role.guess} {role.score:.2f})" if role.guess else "unclear"
    fine = f" ({', '.join(role.fine)})" if role.fine else ""
    return f"{role.main}{fine} {role.score:.2f}"


def evidence_items(evidence: dict[str, Any], pretty: bool = False) -> list[tuple[str, str]]:
    """Each evidence entry as (key, readable value), whatever its keys: counts per name
    read 'Name_Calling x2, Doubt x1', lists are joined, numbers rounded. `pretty` (for the
    HTML report) writes names with spaces and counts with a times sign: 'Name Calling ×2'."""
    out = []
    times = "×" if pretty else "x"
    for key, value in evidence.items():
        if isinstance(value, dict):
            named = {(str(k).replace("_", " ") if pretty else str(k)): v for k, v in value.items()}
            # counts read "Doubt x2"; probabilities (floats under 1) read "Antagonist 0.42"
            text = ", ".join(f"{k} {v:.2f}" if isinstance(v, float) and 0 <= v < 1 else
                             f"{k} {times}{_number(v)}" if isinstance(v, (int, float)) else f"{k}: {v}"
                             for k, v in named.items())
        elif isinstance(value, (list, tuple)):
            text = ", ".join(str(v) for v in value)
        elif isinstance(value, (int, float)):
            text = _number(value)
        else:
            text = str(value)
        if text:
            out.append((str(key), text))
    return out


def evidence_line(evidence: dict[str, Any]) -> str:
    return "; ".join(f"{k}: {v}" for k, v in evidence_items(evidence))


def _number(v: int | float) -> str:
    return str(v) if isinstance(v, int) or float(v).is_integer() and abs(v) >= 1 else f"{v:.2f}"


def source_words_add(name: str, said: str) -> bool:
    """Do the words naming a claim's source say more than the actor's name? "Iranian officials"
    for Iran do; "Trump" or "the FBI" for Donald Trump or the FBI do not."""
    bare = re.sub(r"^(?:the|a|an)\s+", "", said.lower())
    return bool(name and bare and bare not in name.lower())


def claim_source(claim: Claim, names: dict[str, str]) -> str:
    """Who vouches for a claim: 'source: Gen. Pourdastan (cue: announced)' or "author's own voice"."""
    att = claim.attribution
    if att is None:
        # A pipeline without the attribution step names the source actor only.
        if claim.source and claim.source != "author":
            return f"source: {names.get(claim.source, claim.source)}"
        return "author's own voice"
    who = names.get(att.actor, "") if att.actor else ""
    said = " ".join(att.source.text.split())
    label = who or said
    if source_words_add(who, said):
        label = f"{who} (\"{_clip(said, 40)}\")"
    cue = f" (cue: {' '.join(att.cue.text.split())})" if att.cue else ""
    return f"source: {label}{cue}"


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
    if fmt in ("csv", "labelstudio", "conll"):
        from redline.io.exchange import render as render_exchange
        return render_exchange(docs, fmt)
    raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
