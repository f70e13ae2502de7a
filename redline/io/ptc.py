"""The PTC (SemEval-2020 Task 11) formats: article folders and label files.

Label lines are tab-separated: ``article_id<TAB>technique<TAB>start<TAB>end``
for the TC/FLC tasks and ``article_id<TAB>start<TAB>end`` for SI. Offsets are
character positions into the raw article file, end exclusive.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Collection, Iterable

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
    """Read an article exactly as PTC offsets expect: UTF-8, newlines untouched, at most MAX_FILE_BYTES."""
    from redline.io.inputs import MAX_FILE_BYTES, read_file_limited

    data = read_file_limited(path, MAX_FILE_BYTES)
    try:
        return data.decode("utf-8")  # a BOM stays as U+FEFF: PTC offsets count it
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None


def load_articles(folder: Path | str) -> dict[str, str]:
    folder = Path(folder)
    return {article_id_from_path(p): read_article_text(p) for p in sorted(folder.glob("*.txt"))}


# Offsets are plain ASCII decimals. int() alone would also take "10_0", " 7", "+5" and
# full-width or other Unicode digits ("１２"), so a label file could mean something else
# than it shows.
_OFFSET_RE = re.compile(r"[0-9]{1,12}", re.ASCII)
# Article ids: visible characters only. A stray BOM, zero-width or control character
# would make an id that matches no article and silently score 0.
_BAD_ID_CHAR_RE = re.compile(r"[\s\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2064\ufeff]")


def parse_label_line(line: str, lineno: int, source: str = "",
                     techniques: Collection[str] | None = None) -> Label | None:
    """Parse one label line; blank lines give None; a malformed one raises InputError naming it.

    With `techniques`, a technique outside it is an error too (evaluate passes the 14
    PTC techniques). Spans must be non-empty: start < end.
    """
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
    if not _OFFSET_RE.fullmatch(s) or not _OFFSET_RE.fullmatch(e):
        raise InputError(f"{where}: start and end must be integers written in the digits 0-9, "
                         f"got {s!r} and {e!r}")
    start, end = int(s), int(e)
    if end <= start:
        raise InputError(f"{where}: bad span [{start}, {end}): the end must be after the start")
    art = art.strip()
    if not art:
        raise InputError(f"{where}: the article id is empty")
    bad = _BAD_ID_CHAR_RE.search(art)
    if bad:
        raise InputError(f"{where}: the article id {art!r} contains U+{ord(bad.group()):04X}, "
                         "an invisible or space character")
    tech = tech.strip()
    if len(parts) == 4 and not tech:
        raise InputError(f"{where}: the technique is empty")
    if techniques is not None and len(parts) == 4 and tech not in techniques:
        raise InputError(f"{where}: unknown technique {tech[:60]!r}; "
                         "see `redline techniques` for the 14 PTC names")
    return Label(art, tech, start, end)


def read_labels(path: Path | str, techniques: Collection[str] | None = None) -> list[Label]:
    """Read a label file, or a folder of per-article label files (each within MAX_TABLE_BYTES).

    A UTF-8 byte-order mark at the start of a file is dropped (an encoding mark, not part
    of the first article id); anywhere else in an id it is an error.
    """
    from redline.io.inputs import MAX_TABLE_BYTES, read_text_limited

    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such label file or folder")
    files = sorted(path.glob("*.labels")) if path.is_dir() else [path]
    labels: list[Label] = []
    for f in files:
        text = read_text_limited(f, MAX_TABLE_BYTES, "the label file")
        # Only "\n" ends a line (str.splitlines would also split at U+2028, \x1c... and
        # shift every later line number in the messages).
        for i, line in enumerate(text.split("\n"), 1):
            lab = parse_label_line(line, i, str(f), techniques)
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
