"""Reading articles from files, folders and stdin, with clear errors for bad input.

Every read here is bounded: at most the limit (plus one byte, to tell "exactly the
limit" from "more") is ever held, whatever the path is. ``stat().st_size`` is not
trusted (it is 0 for devices, pipes and stdin). Paths that are not regular files:

* FIFOs (named pipes) are read once a writer has sent data or closed; a FIFO with no
  writer for ``FIFO_WAIT_S`` seconds, or one that stalls that long mid-way, is refused.
* Devices (``/dev/zero``, ``/dev/tty``...), sockets and the like are refused: there is
  no safe way to know when they end.
* stdin is read in chunks up to the limit, whatever it is (a pipe, a file, a device):
  a bounded number of bytes from /dev/zero is refused as too large, not read to the end.

Text encoding rule: UTF-8, or UTF-16/UTF-32 when the data starts with their byte-order
mark. A byte-order mark is kept as the character U+FEFF at offset 0, so offsets count
the characters of the file as written (as PTC's offsets and Python's
``open(encoding="utf-8")`` do) and, for a UTF-8 file, ``text_sha256`` is the SHA-256 of
the file's own bytes.
"""

from __future__ import annotations

import codecs
import os
import re
import select
import stat
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Iterator

from redline.errors import InputError
from redline.io.ptc import article_id_from_path

MAX_FILE_BYTES = 8 * 1024 * 1024  # an article file; MAX_CHARS in redline.pipeline bounds the text
MAX_TABLE_BYTES = 64 * 1024 * 1024  # label files and TSV tables (PTC train labels are 228 kB)
FIFO_WAIT_S = 10.0  # how long a named pipe may keep us waiting for its next bytes
_CHUNK = 1 << 16

# Byte-order marks, longest first: the UTF-32-LE mark starts with the UTF-16-LE one.
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le", "UTF-32LE"),
    (codecs.BOM_UTF32_BE, "utf-32-be", "UTF-32BE"),
    (codecs.BOM_UTF8, "utf-8", "UTF-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le", "UTF-16LE"),
    (codecs.BOM_UTF16_BE, "utf-16-be", "UTF-16BE"),
)


def _too_large(where: str, limit: int) -> InputError:
    return InputError(f"{where}: too large: more than {limit:,} bytes (redline reads at most {limit:,})")


def read_stream_limited(stream: BinaryIO, limit: int, where: str) -> bytes:
    """At most `limit` bytes from an open binary stream (stdin); more is an InputError."""
    data = bytearray()
    while len(data) <= limit:
        chunk = stream.read(min(_CHUNK, limit + 1 - len(data)))
        if not chunk:
            return bytes(data)
        data += chunk
    raise _too_large(where, limit)


def _read_fd_limited(fd: int, limit: int, where: str, wait_s: float | None) -> bytes:
    """At most `limit` bytes from a file descriptor; with `wait_s`, each wait for data is bounded too."""
    data = bytearray()
    poller = None
    if wait_s is not None:
        poller = select.poll()
        poller.register(fd, select.POLLIN)
    while len(data) <= limit:
        if poller is not None:
            if not poller.poll(wait_s * 1000):
                if not data:
                    raise InputError(f"{where}: a named pipe with nothing written to it for {wait_s:g} s "
                                     "(no writer?); refusing to wait longer")
                raise InputError(f"{where}: the named pipe stalled for {wait_s:g} s; refusing to wait longer")
        try:
            chunk = os.read(fd, min(_CHUNK, limit + 1 - len(data)))
        except BlockingIOError:  # woken without data; poll again
            continue
        if not chunk:
            return bytes(data)
        data += chunk
    raise _too_large(where, limit)


def read_file_limited(path: Path | str, limit: int = MAX_FILE_BYTES, *, fifo_wait_s: float = FIFO_WAIT_S) -> bytes:
    """The bytes of a regular file or named pipe, at most `limit`; anything else is refused.

    Opened non-blocking, so that opening a FIFO with no writer cannot hang; the type is
    judged on the opened descriptor (fstat), so a swapped path cannot slip a device in.
    """
    path = Path(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a folder") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror})") from None
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise InputError(f"{path}: is a folder")
        if stat.S_ISREG(mode):
            os.set_blocking(fd, True)
            return _read_fd_limited(fd, limit, str(path), None)
        if stat.S_ISFIFO(mode):
            return _read_fd_limited(fd, limit, str(path), fifo_wait_s)
        kind = "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "not a regular file"
        raise InputError(f"{path}: is {kind}, not a text file; redline reads regular files, "
                         "named pipes and stdin (-)")
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror})") from None
    finally:
        os.close(fd)


def read_text_limited(path: Path | str, limit: int = MAX_TABLE_BYTES, what: str = "file") -> str:
    """A UTF-8 text file (label file, TSV table) read within `limit` bytes.

    A leading UTF-8 byte-order mark is dropped here: in a table it is an encoding mark,
    never part of the first field (it would turn article id "1" into "\\ufeff1").
    Newlines are left as they are; callers split lines.
    """
    data = read_file_limited(path, limit)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: {what} is not UTF-8 text ({exc.reason} at byte {exc.start})") from None


def tsv_rows(path: Path | str, min_fields: int, expected: str) -> Iterator[tuple[int, list[str]]]:
    """(line number, tab-separated fields) of a TSV file's non-blank lines.

    A line with fewer than `min_fields` fields is an InputError naming file:line and
    the `expected` layout.
    """
    raw = read_text_limited(path, MAX_TABLE_BYTES, "the table")
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
    path: str  # as given: a file path, "-" for stdin, or a URL
    text: str | None = None
    error: str | None = None
    meta: dict = field(default_factory=dict)  # what the input says of itself: title, url


HTML_SUFFIXES = (".html", ".htm")
ARTICLE_SUFFIXES = (".txt",) + HTML_SUFFIXES


def is_url(arg: str) -> bool:
    return arg.lower().startswith(("http://", "https://"))


def _url_id(url: str) -> str:
    """A readable id for a URL: its last path segment, else its host."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    last = [p for p in parts.path.split("/") if p]
    name = re.sub(r"\.(html?|php|aspx?)$", "", last[-1], flags=re.I) if last else parts.hostname or "url"
    return re.sub(r"[^\w.-]+", "-", name).strip("-") or "url"


def _utf16_without_bom(sample: bytes) -> str | None:
    """'UTF-16LE' / 'UTF-16BE' when NUL bytes sit at every other position, as in ASCII text in UTF-16."""
    pairs = len(sample) // 2
    if pairs < 4:
        return None
    even = sum(1 for i in range(0, 2 * pairs, 2) if sample[i] == 0)
    odd = sum(1 for i in range(1, 2 * pairs, 2) if sample[i] == 0)
    if odd >= 0.9 * pairs and even < 0.1 * pairs:
        return "UTF-16LE"
    if even >= 0.9 * pairs and odd < 0.1 * pairs:
        return "UTF-16BE"
    return None


def decode_text(data: bytes, where: str) -> str:
    """Bytes -> text: UTF-8, or UTF-16/32 after their byte-order mark (kept as U+FEFF).

    Binary data and other encodings are refused with a message that says why.
    """
    codec, name = "utf-8", "UTF-8"
    for bom, bom_codec, bom_name in _BOMS:
        if data.startswith(bom):
            codec, name = bom_codec, bom_name
            break
    if codec == "utf-8":
        if not data.strip():
            raise InputError(f"{where}: the file is empty")
        if b"\x00" in data[:8192]:
            guess = _utf16_without_bom(data[:8192])
            if guess:
                raise InputError(f"{where}: looks like {guess} text without a byte-order mark; convert it first, "
                                 f"e.g. `iconv -f {guess.lower()} -t utf-8`")
            raise InputError(f"{where}: looks like a binary file (NUL bytes), not text")
    try:
        # The explicit-endian codecs keep the mark as U+FEFF, so offsets count it (module doc).
        text = data.decode(codec)
    except UnicodeDecodeError as exc:
        shown = data[exc.start:exc.start + 1].hex() or "end"
        raise InputError(f"{where}: not valid {name} (byte 0x{shown} at offset {exc.start}); "
                         "convert it first, e.g. `iconv -f latin1 -t utf-8`") from None
    if "\x00" in text[:8192]:
        raise InputError(f"{where}: looks like a binary file (NUL characters), not text")
    controls = sum(1 for c in text[:8192] if ord(c) < 32 and c not in "\n\r\t\f")
    if controls > 0.05 * min(len(text), 8192):
        raise InputError(f"{where}: looks like a binary file (control characters), not text")
    if not text.lstrip("\ufeff").strip():
        raise InputError(f"{where}: the text is empty")
    return text


def read_path(path: Path) -> str:
    """An article file's text: at most MAX_FILE_BYTES read, decoded by the rule in the module doc."""
    return decode_text(read_file_limited(path, MAX_FILE_BYTES), str(path))


def read_stdin(stream: BinaryIO | None = None) -> str:
    stream = stream if stream is not None else sys.stdin.buffer
    return decode_text(read_stream_limited(stream, MAX_FILE_BYTES, "stdin"), "stdin")


def list_sources(args: list[str]) -> list[Source]:
    """The CLI's PATH arguments expanded, nothing read yet: files, folders (every *.txt,
    sorted) and '-' for stdin. An argument that names nothing usable is a Source with
    its error; `read_source` reads the others one at a time, so a batch never holds
    more than one article's text.
    """
    if not args:
        raise InputError("no input: give files, folders, or - for stdin")
    out: list[Source] = []
    for arg in args:
        if arg == "-":
            out.append(Source("stdin", "-"))
            continue
        if is_url(arg):
            out.append(Source(_url_id(arg), arg))
            continue
        path = Path(arg)
        if path.is_dir():
            files = sorted(p for p in path.iterdir() if p.suffix.lower() in ARTICLE_SUFFIXES and p.is_file())
            if not files:
                out.append(Source(path.name, str(path), error=f"{path}: folder has no *.txt or *.html files"))
            out.extend(Source(article_id_from_path(f), str(f)) for f in files)
        else:
            out.append(Source(article_id_from_path(path), str(path)))
    return out


def read_source(source: Source, allow_private: bool = False) -> Source:
    """The same Source with its text read (bounded), or with the reason it could not be.
    A URL is fetched with the server's safe fetcher (public addresses only unless
    `allow_private`); an .html/.htm file is reduced to its article text by trafilatura."""
    if source.error or source.text is not None:
        return source
    if source.path == "-":
        try:
            return Source(source.id, "-", read_stdin())
        except InputError as exc:
            return Source(source.id, "-", error=str(exc))
    if is_url(source.path):
        from redline.io.fetch import fetch

        try:
            got = fetch(source.path, allow_private)
        except InputError as exc:
            return Source(source.id, source.path, error=str(exc))
        meta = {"url": got.final_url} | ({"title": got.title} if got.title else {})
        return Source(source.id, source.path, got.text, meta=meta)
    return _source_for(Path(source.path))


def iter_sources(args: list[str]) -> Iterator[Source]:
    """Expand the CLI's PATH arguments and read each in turn (see list_sources)."""
    for source in list_sources(args):
        yield read_source(source)


def _source_for(path: Path) -> Source:
    aid = article_id_from_path(path)
    try:
        if not path.exists() and not path.is_symlink():
            raise InputError(f"{path}: no such file")
        text = read_path(path)
        if path.suffix.lower() in HTML_SUFFIXES:
            from redline.io.fetch import html_to_text

            text, title = html_to_text(text, str(path))
            return Source(aid, str(path), text, meta={"title": title} if title else {})
        return Source(aid, str(path), text)
    except InputError as exc:
        return Source(aid, str(path), error=str(exc))
    except OSError as exc:
        return Source(aid, str(path), error=f"{path}: cannot read ({exc.strerror})")
