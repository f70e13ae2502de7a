"""Reading articles from files, folders and stdin, with clear errors for bad input."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from redline.errors import InputError
from redline.io.ptc import article_id_from_path

MAX_FILE_BYTES = 8 * 1024 * 1024


def tsv_rows(path: Path | str, min_fields: int, expected: str) -> Iterator[tuple[int, list[str]]]:
    """(line number, tab-separated fields) of a TSV file's non-blank lines.

    A line with fewer than `min_fields` fields is an InputError naming file:line and
    the `expected` layout.
    """
    try:
        raw = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read {path}: {exc}") from exc
    for n, line in enumerate(raw.splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split("\t")
        if len(parts) < min_fields:
            raise InputError(f"{path}:{n}: expected {expected}")
        yield n, parts


@dataclass
class Source:
    """One input article, or the reason it could not be read."""

    id: str
    path: str
    text: str | None = None
    error: str | None = None


def decode_text(data: bytes, where: str) -> str:
    """Bytes -> text, refusing binary and non-UTF-8 input with a message that says why."""
    if not data.strip():
        raise InputError(f"{where}: the file is empty")
    if b"\x00" in data[:8192]:
        raise InputError(f"{where}: looks like a binary file (NUL bytes), not text")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"{where}: not valid UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start}); "
                         "convert it first, e.g. `iconv -f latin1 -t utf-8`") from None
    controls = sum(1 for c in text[:8192] if ord(c) < 32 and c not in "\n\r\t\f")
    if controls > 0.05 * min(len(text), 8192):
        raise InputError(f"{where}: looks like a binary file (control characters), not text")
    if not text.strip():
        raise InputError(f"{where}: the text is empty")
    return text


def read_path(path: Path) -> str:
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if path.is_dir():
        raise InputError(f"{path}: is a folder")
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise InputError(f"{path}: {size:,} bytes is too large (at most {MAX_FILE_BYTES:,})")
    with open(path, "rb") as fh:
        data = fh.read()
    # Offsets are into the text as written: keep "\r\n" as it is (no universal newlines).
    return decode_text(data, str(path))


def iter_sources(args: list[str]) -> Iterator[Source]:
    """Expand the CLI's PATH arguments: files, folders (every *.txt, sorted) and '-' for stdin."""
    if not args:
        raise InputError("no input: give files, folders, or - for stdin")
    for arg in args:
        if arg == "-":
            try:
                yield Source("stdin", "-", decode_text(sys.stdin.buffer.read(), "stdin"))
            except InputError as exc:
                yield Source("stdin", "-", error=str(exc))
            continue
        path = Path(arg)
        if path.is_dir():
            files = sorted(p for p in path.glob("*.txt") if p.is_file())
            if not files:
                yield Source(path.name, str(path), error=f"{path}: folder has no *.txt files")
            for f in files:
                yield _source_for(f)
        else:
            yield _source_for(path)


def _source_for(path: Path) -> Source:
    aid = article_id_from_path(path)
    try:
        return Source(aid, str(path), read_path(path))
    except InputError as exc:
        return Source(aid, str(path), error=str(exc))
    except OSError as exc:
        return Source(aid, str(path), error=f"{path}: cannot read ({exc.strerror})")
