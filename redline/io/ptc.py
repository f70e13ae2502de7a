"""The PTC (SemEval-2020 Task 11) formats: article folders and label files.

Label lines are tab-separated: ``article_id<TAB>technique<TAB>start<TAB>end``
for the TC/FLC tasks and ``article_id<TAB>start<TAB>end`` for SI. Offsets are
character positions into the raw article file, end exclusive.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from redline.errors import InputError

_ARTICLE_RE = re.compile(r"^article(?P<id>[^.]+)(?:\..*)?$")


@dataclass(frozen=True)
class Label:
    article_id: str
    technique: str  # "" for SI lines
    start: int
    end: int


def article_id_from_path(path: Path | str) -> str:
    """`article123.txt` -> `123`; anything else -> the file stem."""
    name = Path(path).name
    stem = name.rsplit(".", 1)[0] if "." in name else name
    m = _ARTICLE_RE.match(stem)
    return m.group("id") if m else stem


def read_article_text(path: Path) -> str:
    """Read an article exactly as PTC offsets expect: UTF-8, newlines untouched."""
    with open(path, encoding="utf-8", newline="") as fh:
        return fh.read()


def load_articles(folder: Path | str) -> dict[str, str]:
    folder = Path(folder)
    return {article_id_from_path(p): read_article_text(p) for p in sorted(folder.glob("*.txt"))}


def parse_label_line(line: str, lineno: int, source: str = "") -> Label | None:
    """Parse one label line; blank lines give None; a malformed one raises InputError naming it."""
    raw = line.rstrip("\r\n")
    if not raw.strip():
        return None
    parts = raw.split("\t")
    where = f"{source}:{lineno}" if source else f"line {lineno}"
    if len(parts) == 4:
        art, tech, s, e = parts
    elif len(parts) == 3:
        art, s, e = parts
        tech = ""
    else:
        raise InputError(f"{where}: expected 3 or 4 tab-separated fields "
                         f"(article_id, [technique,] start, end), got {len(parts)}: {raw[:80]!r}")
    try:
        start, end = int(s), int(e)
    except ValueError:
        raise InputError(f"{where}: start and end must be integers, got {s!r} and {e!r}") from None
    if start < 0 or end < start:
        raise InputError(f"{where}: bad span [{start}, {end})")
    return Label(art.strip(), tech.strip(), start, end)


def read_labels(path: Path | str) -> list[Label]:
    """Read a label file, or a folder of per-article label files."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such label file or folder")
    files = sorted(path.glob("*.labels")) if path.is_dir() else [path]
    labels: list[Label] = []
    for f in files:
        try:
            text = f.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise InputError(f"{f}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
        for i, line in enumerate(text.splitlines(), 1):
            lab = parse_label_line(line, i, str(f))
            if lab is not None:
                labels.append(lab)
    return labels


def format_label(article_id: str, start: int, end: int, technique: str | None = None) -> str:
    if technique is None:
        return f"{article_id}\t{start}\t{end}"
    return f"{article_id}\t{technique}\t{start}\t{end}"


def write_labels(labels: Iterable[Label], path: Path | str, with_technique: bool = True) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        for lab in labels:
            fh.write(format_label(lab.article_id, lab.start, lab.end,
                                  lab.technique if with_technique else None) + "\n")


def group_by_article(labels: Iterable[Label]) -> dict[str, list[Label]]:
    out: dict[str, list[Label]] = {}
    for lab in labels:
        out.setdefault(lab.article_id, []).append(lab)
    return out
