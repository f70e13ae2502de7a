"""The HTML report: one self-contained file (inline CSS and JS, no fetches, prints well).

`render_html(docs)` is what `redline analyze -f html` and the server's report page
return. Python does the layout work (segments, stacking slots, densities, the actor
graph) so the file reads well even with JavaScript off or on paper; the small inline
script only adds the tooltips, the legend toggles and the confidence slider.

Safety: Jinja2 autoescaping is on for every template and article text only ever
reaches the page through it; data for the script travels as JSON inside
``<script type="application/json">`` with ``<``, ``>`` and ``&`` escaped, and there
are no inline event handlers.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable

from redline.doc import Document

TEMPLATES = Path(__file__).resolve().parent / "templates"

# Geometry of the stacked underlines (kept in step with the script in base.html.j2).
BAR_H = 3  # px, height of one underline bar
BAR_STEP = 4  # px between the tops of two stacked bars
BAR_GAP = 2  # px between the text and the first bar
TINT_ALPHA = 0.22  # background tint of a marked segment (the taxonomy's colours allow 0.35)

ROLE_COLORS = {"Protagonist": "#2E7D4F", "Antagonist": "#B8283E", "Innocent": "#2973C7"}
UNCLEAR_COLOR = "#8A6D3B"
# What each role says about the text (shown beside the actors; the README words it the same way).
ROLE_MEANINGS = [
    ("Protagonist", "the text casts the actor as a hero or a positive force"),
    ("Antagonist", "the text casts the actor as a villain or a threat"),
    ("Innocent", "the text casts the actor as a victim"),
    ("unclear", "the model is not sure how the text casts the actor; it shows what it leans to"),
]
RELATION_PALETTE = ["#2E7D4F", "#3FA36B", "#7A4FB5", "#5B6770", "#B8283E", "#7A1F3D",
                    "#CE5A00", "#B58500", "#2973C7", "#718F92"]
OTHER_COLOR = "#8A8F98"


# --- techniques -------------------------------------------------------------------
@dataclass(frozen=True)
class _Tech:
    label: str
    name: str
    definition: str
    family: str
    color: str


def _tech_info(label: str) -> _Tech:
    from redline.taxonomy import technique_info
    try:
        t = technique_info(label)
        return _Tech(label, t.name, t.definition, t.family, t.color)
    except (KeyError, AttributeError):
        return _Tech(label, label.replace("_", " "), "A technique outside redline's taxonomy.", "Other", OTHER_COLOR)


def _family_order() -> list[str]:
    from redline.taxonomy import FAMILIES
    return list(FAMILIES) + ["Other"]


def _rgba(color: str, alpha: float) -> str:
    m = re.fullmatch(r"#([0-9a-fA-F]{6})", color or "")
    if not m:
        return f"color-mix(in srgb, {color} {alpha * 100:.0f}%, transparent)"
    v = m.group(1)
    r, g, b = int(v[0:2], 16), int(v[2:4], 16), int(v[4:6], 16)
    return f"rgba({r},{g},{b},{alpha:.2f})"


# --- marks: segments, slots, densities -----------------------------------------------
def assign_slots(spans: list[tuple[int, int]]) -> list[int]:
    """A stacking level per span so that overlapping spans never share one (displaCy's idea).

    Spans are taken by start, longest first; each gets the lowest level not used by a
    span still open at its start. Returns the levels in the input order.
    """
    order = sorted(range(len(spans)), key=lambda i: (spans[i][0], -spans[i][1], i))
    slots = [0] * len(spans)
    active: list[tuple[int, int]] = []  # (end, slot)
    for i in order:
        start, end = spans[i]
        active = [(e, s) for e, s in active if e > start]
        used = {s for _, s in active}
        slot = 0
        while slot in used:
            slot += 1
        slots[i] = slot
        active.append((end, slot))
    return slots


def paragraphs(text: str) -> list[tuple[int, int]]:
    """Each non-blank line is a paragraph: (start, end) without the line break."""
    out = []
    for m in re.finditer(r"[^\r\n]+", text):
        if m.group().strip():
            out.append((m.start(), m.end()))
    return out


def segment_style(covering: list[tuple[int, str]]) -> str:
    """Inline CSS for a segment covered by spans given as (slot, colour), any order.

    One background layer per span draws its underline at its slot's depth; one more
    layer tints the text. The bottom padding makes room for the bars without changing
    the line box (the paragraph's line height already does). The script builds the
    same string when spans are toggled.
    """
    if not covering:
        return ""
    covering = sorted(covering)
    deepest = covering[-1][0]
    pad = BAR_GAP + BAR_STEP * deepest + BAR_H + 2
    images, sizes, positions = [], [], []
    for slot, color in covering:
        images.append(f"linear-gradient({color},{color})")
        sizes.append(f"100% {BAR_H}px")
        positions.append(f"left 0 bottom {pad - BAR_GAP - BAR_STEP * slot - BAR_H}px")
    # The innermost (highest slot) span tints the text; more spans, a little stronger.
    tint = _rgba(covering[-1][1], min(0.5, TINT_ALPHA + 0.06 * (len(covering) - 1)))
    images.append(f"linear-gradient({tint},{tint})")
    sizes.append(f"100% calc(100% - {pad}px)")
    positions.append("left 0 top 0")
    return (f"padding-bottom:{pad}px;background-image:{','.join(images)};"
            f"background-size:{','.join(sizes)};background-position:{','.join(positions)}")


def _segments(para: tuple[int, int], spans: list[tuple[int, int]], local: list[int]):
    """Cut a paragraph at every boundary of the spans in `local` (those overlapping it);
    yield (start, end, [span indexes covering the piece])."""
    ps, pe = para
    cuts = {ps, pe}
    for i in local:
        s, e = spans[i]
        cuts.add(max(s, ps))
        cuts.add(min(e, pe))
    cuts = sorted(cuts)
    for a, b in zip(cuts, cuts[1:]):
        cover = [i for i in local if spans[i][0] <= a and spans[i][1] >= b]
        yield a, b, cover


def _union_len(intervals: Iterable[tuple[int, int]]) -> int:
    total, cur_s, cur_e = 0, None, None
    for s, e in sorted(intervals):
        if cur_e is None or s > cur_e:
            if cur_e is not None:
                total += cur_e - cur_s
            cur_s, cur_e = s, e
        else:
            cur_e = max(cur_e, e)
    if cur_e is not None:
        total += cur_e - cur_s
    return total


def _pct(x: float) -> str:
    return f"{x * 100:.0f}%"


def _threshold_pct(doc: Document) -> int:
    """The tagger's score threshold in whole percent (0 when it is not a number)."""
    tagger = doc.model.get("tagger") if isinstance(doc.model, dict) else None
    threshold = (tagger or {}).get("threshold")
    return int(threshold * 100) if isinstance(threshold, (int, float)) and 0 <= threshold <= 1 else 0


# --- one document -----------------------------------------------------------------
def _shareable(key: str, value):
    """A meta value as a shared report may show it: a local path only by its file name
    (reports are passed around; the folders of whoever made one are nobody's business)."""
    if key == "path" and isinstance(value, str) and value != "-":
        return Path(value).name
    return value


def _flatten(d: Any, prefix: str = "", depth: int = 0, out: list | None = None) -> list[tuple[str, str]]:
    out = [] if out is None else out
    if len(out) >= 40:
        return out
    if isinstance(d, dict) and depth < 4:
        for k, v in d.items():
            _flatten(v, f"{prefix}.{k}" if prefix else str(k), depth + 1, out)
    elif isinstance(d, (list, tuple)) and all(not isinstance(x, (dict, list)) for x in d):
        out.append((prefix, ", ".join(_fmt(x) for x in d)))
    else:
        out.append((prefix, _fmt(d)))
    return out


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    if v is None:
        return "—"
    s = str(v)
    return s if len(s) <= 200 else s[:197] + "…"


def _snippet(text: str, limit: int = 180) -> str:
    s = " ".join(text.split())
    return s if len(s) <= limit else s[: limit - 1] + "…"


def _doc_view(doc: Document, n: int, techs: dict[str, int], tech_list: list[_Tech]) -> dict[str, Any]:
    text = doc.text
    spans = [(s.start, s.end) for s in doc.spans]
    slots = assign_slots(spans)
    order = sorted(range(len(spans)), key=lambda i: (spans[i][0], -spans[i][1], i))
    colors = [tech_list[techs[s.technique]].color for s in doc.spans]

    paras = []
    total_depth = 0
    para_ranges = paragraphs(text)
    nxt = 0  # sweep: spans (in start order) not yet reached, and those still open
    open_spans: list[int] = []
    for p_index, para in enumerate(para_ranges):
        while nxt < len(order) and spans[order[nxt]][0] < para[1]:
            open_spans.append(order[nxt])
            nxt += 1
        open_spans = [i for i in open_spans if spans[i][1] > para[0]]
        local = [i for i in open_spans if spans[i][0] < para[1]]
        segs = []
        depth = 0
        marked = 0
        for a, b, cover in _segments(para, spans, local):
            if cover:
                marked += b - a
                depth = max(depth, 1 + max(slots[i] for i in cover))
                segs.append({
                    "text": text[a:b],
                    "spans": " ".join(str(i) for i in sorted(cover, key=lambda i: slots[i])),
                    "techs": " ".join(sorted({str(techs[doc.spans[i].technique]) for i in cover})),
                    "style": segment_style([(slots[i], colors[i]) for i in cover]),
                })
            else:
                segs.append({"text": text[a:b], "spans": "", "techs": "", "style": ""})
        total_depth = max(total_depth, depth)
        length = para[1] - para[0]
        density = marked / length if length else 0.0
        paras.append({"index": p_index, "start": para[0], "end": para[1], "segments": segs,
                      "depth": depth, "density": density, "density_pct": _pct(density), "title": False})

    if len(paras) > 1:  # a short first line without a full stop reads as the headline
        first = text[paras[0]["start"]:paras[0]["end"]].strip()
        paras[0]["title"] = len(first) <= 150 and not first.endswith((".", ",", ";", ":"))

    # Legend: per technique counts, grouped by family in the taxonomy's order.
    counts = Counter(s.technique for s in doc.spans)
    by_family: dict[str, list[dict]] = {}
    for label, count in counts.items():
        t = tech_list[techs[label]]
        by_family.setdefault(t.family, []).append({
            "key": techs[label], "label": label, "name": t.name, "color": t.color,
            "tint": _rgba(t.color, 0.35), "count": count, "definition": t.definition})
    legend = []
    for fam in _family_order():
        if fam in by_family:
            items = sorted(by_family[fam], key=lambda x: (-x["count"], x["name"]))
            legend.append({"family": fam, "entries": items, "count": sum(i["count"] for i in items)})

    # Summary.
    covered = _union_len(spans)
    fam_counts = Counter(tech_list[techs[s.technique]].family for s in doc.spans)
    fam_chars: dict[str, int] = {}
    for fam in fam_counts:
        fam_chars[fam] = _union_len([spans[i] for i, s in enumerate(doc.spans)
                                     if tech_list[techs[s.technique]].family == fam])
    top_families = [{"family": f, "count": c, "share": _pct(fam_chars[f] / max(len(text), 1))}
                    for f, c in fam_counts.most_common(3)]
    distribution = []
    total = max(len(doc.spans), 1)
    for group in legend:
        for item in group["entries"]:
            distribution.append({**item, "width": 100 * item["count"] / total})
    from redline.taxonomy import TAXONOMIES, labels_of
    tagger = doc.model.get("tagger") if isinstance(doc.model, dict) else None
    taxonomy = (tagger or {}).get("taxonomy", "ptc")
    summary = {
        "coverage": covered / max(len(text), 1),
        "coverage_pct": _pct(covered / max(len(text), 1)),
        "n_spans": len(doc.spans),
        "n_techniques": len(counts),
        "n_known": len(labels_of(taxonomy if taxonomy in TAXONOMIES else "ptc")),  # of the run's taxonomy
        "top_families": top_families,
        "distribution": distribution,
        "chars": len(text),
        "words": len(text.split()),
        "n_paragraphs": len(paras),
        "dense_paragraphs": sum(1 for p in paras if p["density"] >= 0.25),
        "model": _flatten(doc.model),
        "components": ", ".join(str(c) for c in doc.model.get("components", [])) if isinstance(doc.model, dict) else "",
        "meta": [(k, _fmt(_shareable(k, v))) for k, v in (doc.meta or {}).items()
                 if isinstance(v, (str, int, float)) and k not in ("text",)][:8],
    }

    actors = _actors_view(doc, techs, tech_list)
    relations = _relations_view(doc)
    claims = _claims_view(doc)
    graph = actor_graph(doc) if doc.actors else None
    title = doc.meta.get("title") if isinstance(doc.meta, dict) else None
    if not title and paras and paras[0]["title"]:
        title = text[paras[0]["start"]:paras[0]["end"]].strip()
    return {
        "n": n,
        "anchor": f"doc-{n}",
        "id": doc.id,
        "title": title,
        "url": doc.meta.get("url") if isinstance(doc.meta, dict) and isinstance(doc.meta.get("url"), str)
        and doc.meta["url"].startswith(("http://", "https://")) else None,
        "paragraphs": paras,
        "depth": total_depth,
        "legend": legend,
        "summary": summary,
        "spans": [{"i": i, "start": s.start, "end": s.end, "text": s.text, "snippet": _snippet(s.text, 140),
                   "technique": tech_list[techs[s.technique]], "key": techs[s.technique], "score": s.score,
                   "score_pct": _pct(s.score), "triggers": ", ".join(t.text for t in s.triggers)}
                  for i, s in enumerate(doc.spans)],
        # Per span: start, end, technique key, score, underline slot, and the words that
        # triggered it (shown in the tooltip).
        "data": {"spans": [[s.start, s.end, techs[s.technique], round(float(s.score), 4), slots[i],
                            [t.text for t in s.triggers]]
                           for i, s in enumerate(doc.spans)]},
        # The slider starts at the threshold the spans were filtered with: it raises the bar.
        "threshold_pct": _threshold_pct(doc),
        "actors": actors,
        "role_meanings": [{"name": name, "meaning": meaning, "color": ROLE_COLORS.get(name, UNCLEAR_COLOR)}
                          for name, meaning in ROLE_MEANINGS],
        "relations": relations,
        "claims": claims,
        "graph": graph,
    }


def _actor_names(doc: Document) -> dict[str, str]:
    return {a.id: a.name for a in doc.actors}


def _actors_view(doc: Document, techs: dict[str, int], tech_list: list[_Tech]) -> list[dict]:
    names = _actor_names(doc)
    rows = []
    for a in doc.actors:
        aimed = Counter(doc.spans[i].technique for i in a.techniques if 0 <= i < len(doc.spans))
        chips = []
        for label, c in aimed.most_common():
            t = tech_list[techs[label]] if label in techs else _tech_info(label)
            chips.append({"name": t.name, "color": t.color, "tint": _rgba(t.color, 0.3), "count": c})
        claims = []
        for ci in a.claims:
            if 0 <= ci < len(doc.claims):
                c = doc.claims[ci]
                claims.append({"text": _snippet(c.text, 160), "source": _source_view(c, names)["who"],
                               "checkworthiness": _pct(c.checkworthiness)})
        role = _role_view(a.role)
        rows.append({"id": a.id, "name": a.name, "type": a.type, "mentions": len(a.mentions),
                     "mention_texts": sorted({m.text for m in a.mentions if m.text and m.text != a.name})[:6],
                     "role": role, "techniques": chips, "n_aimed": sum(aimed.values()), "claims": claims})
    rows.sort(key=lambda r: (-r["n_aimed"], -r["mentions"], r["name"]))
    return rows


def _role_view(role) -> dict | None:
    """A role for the page: 'unclear' with its leaning when `main` is None (an older
    roles model always sets `main`, and then there is no leaning to show)."""
    if role is None:
        return None
    from redline.doc import MAIN_ROLES
    from redline.io.formats import evidence_items
    unclear = role.main is None
    probabilities = [{"name": r, "pct": _pct(role.probabilities[r]), "width": 100 * float(role.probabilities[r]),
                      "color": ROLE_COLORS.get(r, OTHER_COLOR)} for r in MAIN_ROLES if r in role.probabilities]
    return {"main": "unclear" if unclear else role.main, "unclear": unclear, "guess": role.guess or None,
            "fine": list(role.fine), "score": _pct(role.score),
            "color": UNCLEAR_COLOR if unclear else ROLE_COLORS.get(role.main, OTHER_COLOR),
            "guess_color": ROLE_COLORS.get(role.guess, OTHER_COLOR),
            # for an unclear role, the other readings the model weighed, most likely first
            "others": [f"{r} {_pct(p)}" for r, p in sorted(role.probabilities.items(), key=lambda x: -x[1])
                       if unclear and r != role.guess],
            "probabilities": probabilities,
            "evidence": [{"key": k.replace("_", " "), "value": v} for k, v in evidence_items(role.evidence, True)]}


def _source_view(claim, names: dict[str, str]) -> dict[str, Any]:
    """Who vouches for a claim: a name, the words that name them and the cue, or the author."""
    from redline.io.formats import source_words_add

    att = claim.attribution
    if att is None:
        if claim.source and claim.source != "author":  # a pipeline without the attribution step
            return {"who": names.get(claim.source, claim.source), "author": False, "said": "", "cue": ""}
        return {"who": "the author", "author": True, "said": "", "cue": ""}
    said = " ".join(att.source.text.split())
    who = names.get(att.actor, "") if att.actor else ""
    return {"who": who or said, "author": False,
            "said": said if source_words_add(who, said) else "",  # "Iranian officials" for Iran
            "cue": " ".join(att.cue.text.split()) if att.cue else ""}


def relation_colors(types: Iterable[str] = ()) -> dict[str, str]:
    try:
        from redline.taxonomy import RELATION_TYPES
    except ImportError:
        RELATION_TYPES = []
    colors = {t: RELATION_PALETTE[i % len(RELATION_PALETTE)] for i, t in enumerate(RELATION_TYPES)}
    for t in types:
        colors.setdefault(t, OTHER_COLOR)
    return colors


def _relations_view(doc: Document) -> list[dict]:
    names = _actor_names(doc)
    colors = relation_colors(r.type for r in doc.relations)
    out = []
    for r in doc.relations:
        ok = 0 <= r.start < r.end <= len(doc.text)
        out.append({"subject": names.get(r.subject, r.subject), "object": names.get(r.object, r.object),
                    "action": r.action, "type": r.type, "color": colors.get(r.type, OTHER_COLOR),
                    "evidence": _snippet(doc.text[r.start:r.end], 200) if ok else "", "start": r.start})
    out.sort(key=lambda x: x["start"])
    return out


def _claim_markers(claim) -> list[tuple[int, int, str]]:
    """The words to mark in a claim: the source and its cue, hedges and certainty markers."""
    marks = []
    if claim.attribution is not None:
        marks.append((claim.attribution.source.start, claim.attribution.source.end, "source"))
        if claim.attribution.cue is not None:
            marks.append((claim.attribution.cue.start, claim.attribution.cue.end, "cue"))
    marks += [(h.start, h.end, h.kind or "hedge") for h in claim.hedges]
    return sorted(marks)


def _claims_view(doc: Document) -> list[dict]:
    names = _actor_names(doc)
    out = []
    for n, c in enumerate(doc.claims):
        parts = []  # claim text cut at its markers: (text, "" | "hedge" | "certainty" | "source" | "cue")
        pos = c.start
        for ms, me, kind in _claim_markers(c):
            hs, he = max(ms, c.start, pos), min(me, c.end)
            if hs >= he or hs > ms:  # outside the claim, or overlapping a marker already cut
                continue
            parts.append((doc.text[pos:hs], ""))
            parts.append((doc.text[hs:he], kind))
            pos = he
        parts.append((doc.text[pos:c.end], ""))
        if not (0 <= c.start < c.end <= len(doc.text)):
            parts = [(c.text, "")]
        parts = [(re.sub(r"\s+", " ", t), h) for t, h in parts]
        if parts:
            parts[0] = (parts[0][0].lstrip(), parts[0][1])
            parts[-1] = (parts[-1][0].rstrip(), parts[-1][1])
        parts = [(t, h) for t, h in parts if t]
        source = _source_view(c, names)
        out.append({"n": n, "parts": parts, "checkworthiness": c.checkworthiness,
                    "cw_pct": _pct(c.checkworthiness),
                    "source": source["who"], "said": source["said"], "cue": source["cue"],
                    "author": source["author"],
                    "hedged": any((h.kind or "hedge") == "hedge" for h in c.hedges),
                    "certain": any(h.kind == "certainty" for h in c.hedges)})
    out.sort(key=lambda x: (-x["checkworthiness"], x["n"]))
    return out


# --- actor graph ----------------------------------------------------------------------
def actor_graph(doc: Document, width: int = 680, height: int = 440) -> dict[str, Any] | None:
    """Geometry of the actor graph (circular layout), drawn as inline SVG by actors.html.j2."""
    if not doc.actors:
        return None
    actors = sorted(doc.actors, key=lambda a: (-len(a.mentions), a.name))
    n = len(actors)
    cx, cy = width / 2, height / 2
    radius = min(width, height) / 2 - 70 if n > 1 else 0
    nodes = {}
    for k, a in enumerate(actors):
        angle = -math.pi / 2 + 2 * math.pi * k / n
        x, y = cx + radius * math.cos(angle), cy + radius * math.sin(angle)
        r = min(24.0, 7 + 3 * math.sqrt(max(len(a.mentions), 1)))
        cos = math.cos(angle)
        # Centred labels only right at the top and bottom: with many actors, two neighbours
        # near the bottom would otherwise both centre their labels and overlap.
        centred = abs(cos) < (0.3 if n <= 8 else 0.1)
        anchor = "middle" if centred or n == 1 else ("start" if cos > 0 else "end")
        lx = x + (r + 6) * cos if n > 1 else x
        ly = y + (r + 6) * math.sin(angle) + 4 if n > 1 else y + r + 16
        if n > 1 and centred:
            ly = y + (r + 16 if math.sin(angle) > 0 else -(r + 8))
        role = (a.role.main or "unclear") if a.role else None
        nodes[a.id] = {"id": a.id, "name": a.name, "short": a.name if len(a.name) <= 28 else a.name[:27] + "…",
                       "type": a.type, "x": round(x, 1), "y": round(y, 1), "r": round(r, 1),
                       "lx": round(lx, 1), "ly": round(ly, 1), "anchor": anchor,
                       "color": UNCLEAR_COLOR if role == "unclear" else ROLE_COLORS.get(role, OTHER_COLOR),
                       "role": role or "no role",
                       "mentions": len(a.mentions)}
    colors = relation_colors(r.type for r in doc.relations)
    pair_count: Counter = Counter()
    pair_seen: Counter = Counter()
    for r in doc.relations:
        if r.subject in nodes and r.object in nodes:
            pair_count[frozenset((r.subject, r.object))] += 1
    names = _actor_names(doc)
    edges = []
    for r in doc.relations:
        if r.subject not in nodes or r.object not in nodes:
            continue
        a, b = nodes[r.subject], nodes[r.object]
        key = frozenset((r.subject, r.object))
        k = pair_seen[key]
        pair_seen[key] += 1
        label = f"{names.get(r.subject, r.subject)} — {r.action} — {names.get(r.object, r.object)} ({r.type})"
        color = colors.get(r.type, OTHER_COLOR)
        if r.subject == r.object:  # a loop above the node
            x, y, rr = a["x"], a["y"], a["r"]
            d = (f"M {x - rr * 0.6:.1f} {y - rr * 0.8:.1f} C {x - rr * 2.2:.1f} {y - rr * 3.2:.1f} "
                 f"{x + rr * 2.2:.1f} {y - rr * 3.2:.1f} {x + rr * 0.6:.1f} {y - rr * 0.8:.1f}")
            edges.append({"d": d, "color": color, "type": r.type, "label": label})
            continue
        total = pair_count[key]
        # Spread parallel edges (either direction) around the straight line, in a frame
        # that does not depend on the direction, so a->b and b->a never coincide.
        offset = (k - (total - 1) / 2) * 30
        lo, hi = (a, b) if a["id"] < b["id"] else (b, a)
        dx, dy = hi["x"] - lo["x"], hi["y"] - lo["y"]
        dist = math.hypot(dx, dy) or 1.0
        nx, ny = -dy / dist, dx / dist
        mx, my = (a["x"] + b["x"]) / 2 + nx * offset, (a["y"] + b["y"]) / 2 + ny * offset
        # Trim both ends to the node circles (direction towards the control point).
        def trim(px, py, qx, qy, by):
            vx, vy = qx - px, qy - py
            ln = math.hypot(vx, vy) or 1.0
            return px + vx / ln * by, py + vy / ln * by
        sx, sy = trim(a["x"], a["y"], mx, my, a["r"] + 2)
        ex, ey = trim(b["x"], b["y"], mx, my, b["r"] + 5)
        edges.append({"d": f"M {sx:.1f} {sy:.1f} Q {mx:.1f} {my:.1f} {ex:.1f} {ey:.1f}",
                      "color": color, "type": r.type, "label": label})
    used = sorted({e["type"] for e in edges})
    return {"width": width, "height": height, "nodes": list(nodes.values()), "edges": edges,
            "legend": [{"type": t, "color": colors[t], "name": t.replace("_", " ")} for t in used],
            "markers": [{"id": f"arrow-{i}", "type": t, "color": colors[t]} for i, t in enumerate(used)],
            "roles": [{"name": k, "color": v} for k, v in ROLE_COLORS.items()]
            + [{"name": "unclear", "color": UNCLEAR_COLOR}, {"name": "no role", "color": OTHER_COLOR}]}


# --- rendering ----------------------------------------------------------------------
@lru_cache(maxsize=1)
def environment():
    import jinja2
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=True,  # every template, whatever its name
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    return env


def _techniques_for(docs: list[Document]) -> tuple[dict[str, int], list[_Tech]]:
    from redline.taxonomy import PTC_TECHNIQUES
    labels = list(PTC_TECHNIQUES)
    for d in docs:
        for s in d.spans:
            if s.technique not in labels:
                labels.append(s.technique)
    for d in docs:
        for a in d.actors:
            for i in a.techniques:
                if 0 <= i < len(d.spans) and d.spans[i].technique not in labels:
                    labels.append(d.spans[i].technique)
    tech_list = [_tech_info(label) for label in labels]
    return {label: i for i, label in enumerate(labels)}, tech_list


def render_html(docs: list[Document], *, title: str | None = None, back_link: str | None = None) -> str:
    """One self-contained HTML report for one or more analysed documents."""
    import redline

    docs = list(docs)
    techs, tech_list = _techniques_for(docs)
    views = [_doc_view(d, n + 1, techs, tech_list) for n, d in enumerate(docs)]
    if title is None:
        title = (views[0]["title"] or views[0]["id"]) if len(views) == 1 else f"{len(views)} articles"
    script_data = {
        "techniques": [{"label": t.label, "name": t.name, "definition": t.definition, "family": t.family,
                        "color": t.color, "tint": _rgba(t.color, TINT_ALPHA)} for t in tech_list],
        "bar": {"h": BAR_H, "step": BAR_STEP, "gap": BAR_GAP, "alpha": TINT_ALPHA},
    }
    return environment().get_template("base.html.j2").render(
        docs=views, title=title, version=redline.__version__, data=script_data, back_link=back_link,
    )


def render_page(template: str, **context) -> str:
    """Render one of the server's own pages (same environment, autoescaped)."""
    import redline
    return environment().get_template(template).render(version=redline.__version__, **context)
