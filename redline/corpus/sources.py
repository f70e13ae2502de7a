"""Where a corpus comes from: folders, tables, URL lists and redline's own JSONL, as articles.

`iter_articles(args, mapping)` turns `redline corpus ingest`'s SOURCE arguments into
`Article`s one at a time (a corpus never has to fit in memory):

* a folder: every ``*.txt``, ``*.html`` and ``*.htm`` in it, sorted (as `redline analyze`
  reads one); HTML is reduced to its article text by trafilatura, which also gives the
  title, date and site name;
* ``.jsonl`` / ``.ndjson``, ``.csv`` / ``.tsv``, ``.parquet``: one article per row, its
  text in a ``text`` (or ``html``) column, with optional ``id, url, source, date, title``
  columns, matched without regard to case (``ID`` is ``id``); ``--map col=field`` reads
  another column as one of those fields. Other columns are kept in the document's meta;
* redline's own ``-f jsonl`` output: the analysis is taken as it is (not re-run); the
  text comes from the record's ``text`` or is read again from its ``path`` and must
  hash to its ``text_sha256``;
* a ``.urls`` file, or a ``.txt`` file whose every non-blank line is a URL, and URLs
  given directly: fetched with the server's safe fetcher (`redline.io.fetch`), one host
  at a time no more often than ``per_host_s`` (`PoliteFetcher`).

Outlet names are normalised with `normalise_source` (alias map below). A source that
cannot be read yields one `Article` with its `error`; a bad row yields one for that row,
and the rest are read on.
"""

from __future__ import annotations

import csv
import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import urlsplit

from redline.corpus.store import parse_date
from redline.doc import Actor, Attribution, Claim, Document, Mention, Relation, Role
from redline.errors import InputError
from redline.io.inputs import ARTICLE_SUFFIXES, HTML_SUFFIXES, MAX_FILE_BYTES, decode_text, is_url, \
    read_file_limited
from redline.io.ptc import article_id_from_path

# The fields a table row can give (anything else is kept in meta).
FIELDS = ("text", "html", "id", "url", "source", "date", "title")
TABLE_SUFFIXES = (".jsonl", ".ndjson", ".csv", ".tsv", ".parquet")
URL_LIST_SUFFIXES = (".urls",)

# Outlet spellings -> one display name. The key is the name lower-cased with everything
# but letters and digits removed, so "The Huffington Post", "thehuffingtonpost" and
# "the huffington-post" meet; the value is how the outlet is shown. It covers the ~40
# outlets of the narrative-frames climate corpus (which spells each two ways: `breitbart`
# and `Breitbart`); an outlet not listed keeps its own spelling, stripped.
OUTLET_ALIASES: dict[str, str] = {
    "bbc": "BBC", "bipartisanreport": "Bipartisan Report", "breitbart": "Breitbart",
    "buzzfeed": "BuzzFeed", "cbsnews": "CBS News", "cnbc": "CNBC", "cnn": "CNN", "dailykos": "Daily Kos",
    "dailymail": "Daily Mail", "drudgereport": "Drudge Report", "foxnews": "Fox News", "fusion": "Fusion",
    "motherjones": "Mother Jones", "nationalreview": "National Review", "newsbusters": "NewsBusters",
    "npr": "NPR", "palmerreport": "Palmer Report", "pbs": "PBS", "politicususa": "Politicus USA",
    "redstate": "RedState", "rt": "RT", "shareblue": "Shareblue", "slate": "Slate",
    "talkingpointsmemo": "Talking Points Memo", "theblaze": "TheBlaze", "thedailycaller": "The Daily Caller",
    "dailycaller": "The Daily Caller", "theduran": "The Duran", "theguardian": "The Guardian",
    "guardian": "The Guardian", "thehill": "The Hill", "thehuffingtonpost": "The Huffington Post",
    "huffingtonpost": "The Huffington Post", "huffpost": "The Huffington Post",
    "thenewyorktimes": "The New York Times", "newyorktimes": "The New York Times", "nytimes": "The New York Times",
    "thepoliticalinsider": "The Political Insider", "therightscoop": "The Right Scoop", "usatoday": "USA Today",
    "vox": "Vox", "yahoonews": "Yahoo News",
}


def normalise_source(name: Any) -> str | None:
    """An outlet's display name from any of its spellings (OUTLET_ALIASES), else as given."""
    if name is None:
        return None
    text = " ".join(str(name).split())
    if not text:
        return None
    return OUTLET_ALIASES.get(re.sub(r"[^a-z0-9]+", "", text.lower()), text)


@dataclass
class Article:
    """One article to ingest, or the reason it could not be read.

    `ref` says where it came from, for messages and the errors table ("file.csv:12").
    `record` holds a redline JSONL record's analysis, used instead of running the pipeline.
    """

    ref: str
    id: str = ""
    text: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    record: dict[str, Any] | None = None
    already_stored: bool = False  # a URL the store holds: not fetched again


def parse_mapping(pairs: list[str]) -> dict[str, str]:
    """--map col=field pairs -> {column: field}, refusing unknown fields and malformed pairs."""
    mapping: dict[str, str] = {}
    for pair in pairs:
        col, sep, name = pair.partition("=")
        col, name = col.strip(), name.strip().lower()
        if not sep or not col or not name:
            raise InputError(f"--map {pair!r}: expected COLUMN=FIELD, e.g. --map body=text")
        if name not in FIELDS:
            raise InputError(f"--map {pair!r}: FIELD must be one of {', '.join(FIELDS)}")
        mapping[col] = name
    return mapping


class PoliteFetcher:
    """The safe fetcher, one request at a time, with at least `per_host_s` seconds between
    the end of one answer from a host and the next request to it."""

    def __init__(self, allow_private: bool = False, per_host_s: float = 1.0, timeout_s: float | None = None,
                 known_urls: set[str] | None = None):
        self.known_urls = known_urls or set()
        self.allow_private = allow_private
        self.per_host_s = per_host_s
        self.timeout_s = timeout_s
        self._last: dict[str, float] = {}  # host -> when it was last asked (monotonic)

    def __call__(self, url: str, ref: str, meta: dict[str, Any] | None = None) -> Article:
        from redline.io.fetch import fetch

        if url in self.known_urls:
            return Article(ref, url, meta={"url": url}, already_stored=True)
        host = (urlsplit(url).hostname or "").lower()
        wait = self._last.get(host, -1e9) + self.per_host_s - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        try:
            kw = {"timeout": self.timeout_s} if self.timeout_s else {}
            got = fetch(url, self.allow_private, **kw)
        except InputError as exc:
            return Article(ref, url, error=str(exc))
        finally:
            self._last[host] = time.monotonic()  # the pause runs from the end of the last answer
        found = {"url": got.final_url, "source": re.sub(r"^www\.", "", host)}
        if got.title:
            found["title"] = got.title
        meta = found | {k: v for k, v in (meta or {}).items() if v not in (None, "")}
        return Article(ref, url, got.text, meta | {"article_key": url})


def iter_articles(args: list[str], mapping: dict[str, str] | None = None,
                  fetcher: PoliteFetcher | None = None) -> Iterator[Article]:
    """Every article the SOURCE arguments name, read one at a time (module doc)."""
    mapping = mapping or {}
    fetcher = fetcher or PoliteFetcher()
    if not args:
        raise InputError("no sources: give folders, table files (.jsonl, .csv, .tsv, .parquet), URL lists or URLs")
    for arg in args:
        if is_url(arg):
            yield fetcher(arg, arg)
            continue
        path = Path(arg)
        if path.is_dir():
            files = sorted(p for p in path.iterdir() if p.suffix.lower() in ARTICLE_SUFFIXES and p.is_file())
            if not files:
                yield Article(str(path), path.name, error=f"{path}: folder has no *.txt or *.html files")
            for f in files:
                yield _read_file_article(f)
            continue
        if not path.exists():
            yield Article(str(path), path.name, error=f"{path}: no such file or folder")
            continue
        suffix = path.suffix.lower()
        if suffix in TABLE_SUFFIXES and not path.is_file():
            # a device or pipe named x.jsonl would be read without end ("/dev/zero" has no lines)
            yield Article(str(path), path.name, error=f"{path}: not a regular file (a device, pipe or socket); "
                                                       f"tables are read from files")
            continue
        try:
            if suffix in (".jsonl", ".ndjson"):
                yield from _jsonl_articles(path, mapping)
            elif suffix in (".csv", ".tsv"):
                yield from _csv_articles(path, mapping)
            elif suffix == ".parquet":
                yield from _parquet_articles(path, mapping)
            elif _is_url_list(path):
                yield from _url_list_articles(path, fetcher)
            else:
                yield _read_file_article(path)
        except InputError as exc:
            yield Article(str(path), path.name, error=str(exc))
        except OSError as exc:
            yield Article(str(path), path.name, error=f"{path}: cannot read ({exc.strerror or exc})")


def count_articles(args: list[str]) -> int | None:
    """How many articles the sources hold, cheaply (for the progress ETA); None if unknown."""
    total = 0
    for arg in args:
        path = Path(arg)
        try:
            if is_url(arg):
                total += 1
            elif path.is_dir():
                total += sum(1 for p in path.iterdir() if p.suffix.lower() in ARTICLE_SUFFIXES and p.is_file())
            elif path.suffix.lower() in (".jsonl", ".ndjson"):
                with path.open("rb") as fh:
                    total += sum(1 for line in fh if line.strip())
            elif path.suffix.lower() in (".csv", ".tsv"):
                with path.open(encoding="utf-8-sig", errors="replace", newline="") as fh:
                    total += max(sum(1 for _ in csv.reader(fh, delimiter=_delimiter(path))) - 1, 0)
            elif path.suffix.lower() == ".parquet":
                import duckdb
                total += duckdb.connect().execute("SELECT count(*) FROM read_parquet(?)", [str(path)]).fetchone()[0]
            elif _is_url_list(path):
                total += len(_url_lines(path))
            else:
                total += 1
        except Exception:  # only an estimate: the real read reports the problem
            return None
    return total


# --- files and URL lists -------------------------------------------------------------------

def _is_url_list(path: Path) -> bool:
    """A .urls file, or a small .txt whose every non-blank, non-# line is a URL."""
    if path.suffix.lower() in URL_LIST_SUFFIXES:
        return True
    if path.suffix.lower() != ".txt":
        return False
    try:
        with path.open("rb") as fh:
            head = fh.read(1 << 20)
        lines = [ln.strip() for ln in head.decode("utf-8", "replace").splitlines()]
        lines = [ln for ln in lines if ln and not ln.startswith("#")]
        return bool(lines) and all(is_url(ln) and " " not in ln for ln in lines)
    except OSError:
        return False


def _url_lines(path: Path) -> list[str]:
    text = decode_text(read_file_limited(path, MAX_FILE_BYTES), str(path))
    return [ln.strip() for ln in text.lstrip("\ufeff").splitlines() if ln.strip() and not ln.strip().startswith("#")]


def _html_article(html: str, ref: str, meta: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """Article text and metadata (title, date, site) from HTML, by trafilatura."""
    import trafilatura

    from redline.io.fetch import html_to_text

    text, title = html_to_text(html, ref)
    found: dict[str, Any] = {"title": title} if title else {}
    try:
        info = trafilatura.extract_metadata(html)
    except Exception:  # metadata is a nicety; never lose the article for it
        info = None
    if info is not None:
        if getattr(info, "date", None):
            found["date"] = info.date
        if getattr(info, "sitename", None):
            found["source"] = info.sitename
        if getattr(info, "url", None):
            found["url"] = info.url
    # What the caller already knows (a table's columns) wins over what the page says.
    return text, found | {k: v for k, v in meta.items() if v not in (None, "")}


def _read_file_article(path: Path) -> Article:
    ref, aid = str(path), article_id_from_path(path)
    try:
        text = decode_text(read_file_limited(path, MAX_FILE_BYTES), ref)
        meta: dict[str, Any] = {"path": ref}
        if path.suffix.lower() in HTML_SUFFIXES:
            text, meta = _html_article(text, ref, meta)
        return _finish(Article(ref, aid, text, meta | {"article_key": aid}))
    except InputError as exc:
        return Article(ref, aid, error=str(exc))
    except OSError as exc:
        return Article(ref, aid, error=f"{path}: cannot read ({exc.strerror or exc})")


def _url_list_articles(path: Path, fetcher: PoliteFetcher) -> Iterator[Article]:
    for n, url in enumerate(_url_lines(path), 1):
        yield fetcher(url, f"{path}:{n}")


# --- tables --------------------------------------------------------------------------------

def _delimiter(path: Path) -> str:
    return "\t" if path.suffix.lower() == ".tsv" else ","


def _columns(names: list[str], mapping: dict[str, str], where: str) -> dict[str, str]:
    """{column: field} for a table's columns: --map first, then the field names in any case.
    One --map serves several sources, so a pair whose column a table lacks is passed over."""
    out = {col: name for col, name in mapping.items() if col in names}
    taken = set(out.values())
    for name in names:
        low = name.strip().lower()
        if name not in out and low in FIELDS and low not in taken:
            out[name] = low
            taken.add(low)
    if not taken & {"text", "html"}:
        raise InputError(f"{where}: no text column (nor html); the columns are {', '.join(names)}; "
                         "name one with --map COLUMN=text")
    return out


def _row_article(row: dict[str, Any], columns: dict[str, str], ref: str) -> Article:
    """One table row -> an Article: its fields by `columns`, other columns into meta."""
    fields: dict[str, Any] = {}
    meta: dict[str, Any] = {}
    for col, value in row.items():
        if col in columns:
            fields[columns[col]] = value
        elif value not in (None, ""):
            meta[col] = value
    given_id = fields.get("id")
    given_id = str(given_id).strip() if given_id not in (None, "") else ""
    for name in ("url", "source", "date", "title"):
        if fields.get(name) not in (None, ""):
            meta[name] = fields[name]
    text, html = fields.get("text"), fields.get("html")
    try:
        if text in (None, "") and html not in (None, ""):
            text, meta = _html_article(str(html), ref, meta)
        if text is None or not str(text).strip():
            raise InputError(f"{ref}: the text is empty")
    except InputError as exc:
        return Article(ref, given_id, error=str(exc))
    key = given_id or meta.get("url") or None
    meta = meta | ({"article_key": str(key)} if key else {})
    return _finish(Article(ref, given_id, str(text), meta))


def _csv_articles(path: Path, mapping: dict[str, str]) -> Iterator[Article]:
    csv.field_size_limit(MAX_FILE_BYTES)  # article texts are long fields, but one is at most an article
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh, delimiter=_delimiter(path))
        try:
            names = list(reader.fieldnames or [])
        except (csv.Error, UnicodeDecodeError) as exc:
            raise InputError(f"{path}: not a readable {path.suffix[1:].upper()} file ({exc})") from None
        if not names:
            raise InputError(f"{path}: the file is empty")
        columns = _columns(names, mapping, str(path))
        line = 1
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except (csv.Error, UnicodeDecodeError) as exc:
                yield Article(f"{path}:{reader.line_num}", error=f"{path}: line {reader.line_num}: {exc}")
                return  # the rest of a broken CSV cannot be trusted
            line = reader.line_num
            row.pop(None, None)  # extra fields without a header
            yield _row_article(row, columns, f"{path}:{line}")


def _bounded_lines(fh, limit: int) -> Iterator[bytes | None]:
    """The file's lines, each read with at most `limit` bytes held; a longer line comes out
    as None (and is skipped to its end), so one runaway record cannot exhaust memory."""
    while True:
        line = fh.readline(limit + 1)
        if not line:
            return
        if len(line) > limit and not line.endswith(b"\n"):
            while line and not line.endswith(b"\n"):
                line = fh.readline(1 << 20)
            yield None
            continue
        yield line


def _jsonl_articles(path: Path, mapping: dict[str, str]) -> Iterator[Article]:
    with path.open("rb") as fh:
        columns: dict[str, str] | None = None
        for n, raw in enumerate(_bounded_lines(fh, MAX_FILE_BYTES), 1):
            ref = f"{path}:{n}"
            if raw is None:
                yield Article(ref, error=f"{ref}: the line is over {MAX_FILE_BYTES:,} bytes (the most one "
                                         f"article may take); skipped")
                continue
            if not raw.strip():
                continue
            try:
                row = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                yield Article(ref, error=f"{ref}: not a JSON line ({exc})")
                continue
            if not isinstance(row, dict):
                yield Article(ref, error=f"{ref}: a JSON line must be an object")
                continue
            if "schema_version" in row and "techniques" in row and "text_sha256" in row:
                yield _record_article(row, ref, path)
                continue
            try:
                if columns is None or any(k not in columns and k.lower() in FIELDS for k in row):
                    columns = _columns(list(row), mapping, ref)
            except InputError as exc:
                yield Article(ref, str(row.get("id", "")), error=str(exc))
                continue
            yield _row_article(row, columns, ref)


def _parquet_articles(path: Path, mapping: dict[str, str]) -> Iterator[Article]:
    import duckdb

    con = duckdb.connect()
    try:
        cur = con.execute("SELECT * FROM read_parquet(?)", [str(path)])
    except duckdb.Error as exc:
        raise InputError(f"{path}: not a readable Parquet file ({str(exc).splitlines()[0]})") from None
    names = [d[0] for d in cur.description]
    columns = _columns(names, mapping, str(path))
    n = 0
    while True:
        rows = cur.fetchmany(256)
        if not rows:
            break
        for values in rows:
            n += 1
            yield _row_article(dict(zip(names, values)), columns, f"{path}:row {n}")


def _finish(article: Article) -> Article:
    """Normalise an article's metadata: the outlet's display name, the date as ISO or
    absent (a bad date is kept in meta as date_raw, with a warning, not an error)."""
    meta = article.meta
    if meta.get("source") not in (None, ""):
        shown = normalise_source(meta["source"])
        if shown != meta["source"]:
            meta["source_raw"] = meta["source"]
        meta["source"] = shown
    if meta.get("date") not in (None, ""):
        try:
            meta["date"] = parse_date(meta["date"]).isoformat()
        except InputError as exc:
            meta["date_raw"] = str(meta.pop("date"))
            meta["warning"] = f"{exc}; stored without a date"
    for key in ("url", "title"):
        if key in meta and meta[key] is not None:
            meta[key] = str(meta[key])
    return article


# --- redline's own JSONL -------------------------------------------------------------------

def _record_article(rec: dict[str, Any], ref: str, jsonl_path: Path) -> Article:
    """A redline `-f jsonl` record: its text (from the record, or read again from its path
    and checked against text_sha256) and its analysis, used as it is."""
    import hashlib

    from redline.io.inputs import Source, read_source

    rid = str(rec.get("id") or "")
    text = rec.get("text")
    path = rec.get("path")
    meta = dict(rec.get("meta") or {})
    if text is None:
        if not path or path == "-" or is_url(str(path)):
            return Article(ref, rid, error=f"{ref}: the record has no text and no file to read it from "
                                            f"(path {path!r}); analyse again with the text at hand")
        candidates = [Path(path), jsonl_path.parent / path]
        found = next((p for p in candidates if p.is_file()), None)
        if found is None:
            return Article(ref, rid, error=f"{ref}: the record's text file {path} is not there")
        src = read_source(Source(rid, str(found)))
        if src.error:
            return Article(ref, rid, error=f"{ref}: {src.error}")
        text = src.text
    if hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest() != rec.get("text_sha256"):
        return Article(ref, rid, error=f"{ref}: the text of {path or rid} has changed since it was analysed "
                                        "(its SHA-256 differs from the record's)")
    if path:
        meta["path"] = path
    meta["article_key"] = rid or meta.get("url") or None
    if not meta["article_key"]:
        del meta["article_key"]
    return _finish(Article(ref, rid, text, meta, record=rec))


def document_from_record(rec: dict[str, Any], text: str, meta: dict[str, Any]) -> Document:
    """A Document rebuilt from a redline JSON/JSONL record and its text (offsets checked)."""
    doc = Document(id=str(rec.get("id") or ""), text=text, meta=dict(meta))

    def mention(m: dict[str, Any] | None) -> Mention | None:
        if not m:
            return None
        return doc.mention(int(m["start"]), int(m["end"]), m.get("kind", ""))

    for s in rec.get("techniques", []):
        # The words the model leaned on (`triggers`) come back too: the article's report shows them.
        doc.add_span(int(s["start"]), int(s["end"]), s["technique"], float(s.get("score", 1.0)),
                     triggers=[(int(t["start"]), int(t["end"])) for t in s.get("triggers") or []])
    for a in rec.get("actors", []) or []:
        role = a.get("role")
        doc.actors.append(Actor(
            id=a["id"], name=a["name"], type=a["type"],
            mentions=[mention(m) for m in a.get("mentions", [])],
            role=Role(main=role.get("main"), fine=list(role.get("fine") or []), score=float(role.get("score", 0.0)),
                      guess=role.get("guess") or "", probabilities=dict(role.get("probabilities") or {}),
                      evidence=dict(role.get("evidence") or {})) if role else None,
            techniques=list(a.get("techniques", [])), claims=list(a.get("claims", []))))
    for r in rec.get("relations", []) or []:
        doc.mention(int(r["start"]), int(r["end"]))  # checks the offsets
        doc.relations.append(Relation(r["subject"], r["action"], r["object"], r["type"], int(r["start"]), int(r["end"])))
    for c in rec.get("claims", []) or []:
        att = c.get("attribution")
        attribution = None
        if att:
            src = att["source"]
            attribution = Attribution(source=mention(src), actor=src.get("actor"), cue=mention(att.get("cue")))
        doc.claims.append(Claim(int(c["start"]), int(c["end"]), doc.mention(int(c["start"]), int(c["end"])).text,
                                float(c.get("checkworthiness", 0.0)), c.get("source") or "author",
                                hedges=[mention(h) for h in c.get("hedges", [])], attribution=attribution))
    ref = rec.get("model") or {}
    components = list(ref.get("components") or [])
    doc.model = {"components": components, "redline": ref.get("redline")}
    if ref.get("technique_model"):
        doc.model["tagger"] = {"name": ref["technique_model"], "precision": ref.get("precision"),
                               "threshold": ref.get("threshold")}
    return doc
