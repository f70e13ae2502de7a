"""The corpus store: one DuckDB file holding articles and everything redline found in them.

Tables (the column names are fixed: `redline corpus stats`, `corpus report` and the web
app read them; columns may be added, never renamed):

* ``documents``: one row per distinct text. ``doc_id`` is the first 16 hex digits of the
  SHA-256 of the text (UTF-8), so the same article ingested twice is stored once.
  ``article_key`` names the article across versions (its given id or URL, else the file's
  id, else ``doc_id``); a known key with another text is a new ``version`` whose
  ``previous_doc_id`` points at the one it follows. Each row records the model, version,
  precision, threshold and components that made it, and the ``run_id`` that stored it.
* ``spans`` (technique spans; ``triggers``: the words the model leaned on, as JSON
  ``[[start, end], ...]``, or null), ``actors`` (with their portrayal and ``actor_key``),
  ``mentions``, ``relations``, ``claims``, ``targets`` (which actor a technique span is
  aimed at): child rows keyed by ``doc_id`` and a position within the document.
* ``errors``: what could not be ingested, with the reason; ``runs``: each ingest's
  command, model and start/end times (the only timestamps in the store, which is why
  ``export`` leaves them out unless asked).

``actor_key`` is how actors are counted across articles (see `actor_key`): the actor's
name, lower-cased, accents and a leading "the" removed, runs of other characters made
one "-", then "|" and its type: "The Kremlin" [ORG] -> ``kremlin|ORG``. The actors step
already names capitals and seats of power as their country's government ("Tehran" is an
actor named "Iran"), so those merge too. Stats and the dashboard read actors through
`redline.corpus.stats.canonical_actors`, which also joins a surname-only person key to the
one full name in the store that ends with it ("trump|PERSON" -> "donald-trump|PERSON").

One process writes (DuckDB allows one writer per file); readers open the file with
``duckdb.connect(path, read_only=True)`` or ``Store(path, read_only=True)``. Every
`add_documents` call is one transaction: a batch is stored whole or not at all, which is
what makes an ingest killed at any moment resumable.

While one process holds the file (an ingest writing it, or a reader such as a request of
`redline serve --store`), DuckDB refuses it to every other process that would write, and
a writer refuses it to readers. `connect_duckdb` tells that refusal from other errors
(`lock_holder`), waits for the file a bounded time, saying so once, and then gives up
with `StoreLocked`, naming the process that holds it. The web app does not wait: it
reads its snapshot instead (`redline.corpus.views`).

The errors table's ``at`` column (when the error was met) is a DuckDB keyword (``AT`` is
time-travel syntax), so SQL must quote it: ``ORDER BY "at"`` (`Store.errors` does).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import time
import unicodedata
from pathlib import Path
from typing import Any, Callable, Iterable

from redline.doc import Document
from redline.errors import InputError

SCHEMA_VERSION = 1

SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    doc_id VARCHAR PRIMARY KEY,
    article_key VARCHAR,
    version INTEGER,
    previous_doc_id VARCHAR,
    url VARCHAR, source VARCHAR, title VARCHAR,
    date DATE,
    month VARCHAR,
    path VARCHAR,
    text VARCHAR,
    n_chars INTEGER, n_words INTEGER,
    meta JSON,
    run_id VARCHAR,
    model VARCHAR, model_version VARCHAR, precision VARCHAR, threshold DOUBLE, components VARCHAR
);
CREATE TABLE IF NOT EXISTS spans (
    doc_id VARCHAR, span_id INTEGER, start INTEGER, "end" INTEGER,
    technique VARCHAR, family VARCHAR, text VARCHAR, score DOUBLE,
    triggers JSON
);
CREATE TABLE IF NOT EXISTS actors (
    doc_id VARCHAR, actor_id VARCHAR, name VARCHAR, type VARCHAR, actor_key VARCHAR,
    role_main VARCHAR, role_guess VARCHAR, role_fine VARCHAR, role_score DOUBLE, n_mentions INTEGER
);
CREATE TABLE IF NOT EXISTS mentions (
    doc_id VARCHAR, actor_id VARCHAR, mention_id INTEGER, start INTEGER, "end" INTEGER, text VARCHAR
);
CREATE TABLE IF NOT EXISTS relations (
    doc_id VARCHAR, relation_id INTEGER, subject_actor VARCHAR, predicate VARCHAR, kind VARCHAR,
    object_actor VARCHAR, start INTEGER, "end" INTEGER, text VARCHAR
);
CREATE TABLE IF NOT EXISTS claims (
    doc_id VARCHAR, claim_id INTEGER, start INTEGER, "end" INTEGER, text VARCHAR, source VARCHAR,
    source_actor_key VARCHAR, checkworthiness DOUBLE, hedged BOOLEAN
);
CREATE TABLE IF NOT EXISTS targets (doc_id VARCHAR, span_id INTEGER, actor_id VARCHAR);
CREATE TABLE IF NOT EXISTS errors (run_id VARCHAR, source_ref VARCHAR, reason VARCHAR, "at" TIMESTAMP);
CREATE TABLE IF NOT EXISTS runs (run_id VARCHAR, started TIMESTAMP, finished TIMESTAMP, command JSON, model JSON);
CREATE TABLE IF NOT EXISTS store_info (key VARCHAR PRIMARY KEY, value VARCHAR);
"""

# The child tables, in export order, with the columns that order their rows.
CHILD_TABLES = {
    "spans": ("doc_id", "span_id"),
    "actors": ("doc_id", "actor_id"),
    "mentions": ("doc_id", "actor_id", "mention_id"),
    "relations": ("doc_id", "relation_id"),
    "claims": ("doc_id", "claim_id"),
    "targets": ("doc_id", "span_id", "actor_id"),
}

# documents' metadata columns that come from a document's meta (the rest stays in `meta`).
META_COLUMNS = ("url", "source", "title", "date", "path")


def doc_id_for(text: str) -> str:
    """The content id: the first 16 hex digits of the text's SHA-256 (UTF-8)."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def actor_key(name: str, type_: str) -> str:
    """The key that joins one actor across articles (module doc): 'kremlin|ORG'."""
    text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    text = re.sub(r"^the\s+", "", text.strip())
    text = re.sub(r"[^a-z0-9]+", "-", text).strip("-") or name.strip().lower()
    return f"{text}|{type_}"


def parse_date(value: Any) -> dt.date | None:
    """A date from metadata: a date, or a string starting 'YYYY-MM-DD' (ISO dates and
    timestamps); None for nothing. Anything else is an InputError naming the value."""
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = str(value).strip()
    match = re.match(r"(\d{4})-(\d{1,2})-(\d{1,2})(?:$|[T ])", text)
    if match:
        try:
            return dt.date(*(int(g) for g in match.groups()))
        except ValueError:
            pass
    raise InputError(f"bad date {text[:40]!r}: expected YYYY-MM-DD")


def _utcnow() -> dt.datetime:
    """Timestamps in the store are UTC, without a zone (TIMESTAMP)."""
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def _role_fields(actor) -> tuple:
    role = actor.role
    if role is None:
        return None, None, None, None
    return role.main, role.guess or None, ",".join(role.fine) or None, float(role.score)


def model_fields(doc: Document) -> dict[str, Any]:
    """Which model made a document's rows: technique model (or the rule component that
    found the spans), its version, precision, threshold, and the components run."""
    from redline import __version__

    model = doc.model or {}
    tagger = model.get("tagger") or {}
    components = list(model.get("components") or [])
    # Without the trained tagger, the first component found the spans (e.g. "lexicon"):
    # named by its component name, which a JSONL record keeps too.
    name = tagger.get("name") if tagger else (components[0] if components else None)
    threshold = tagger.get("threshold")
    return {"model": name, "model_version": f"redline {model.get('redline') or __version__}", "precision": tagger.get("precision"),
            "threshold": float(threshold) if threshold is not None else None,
            "components": ",".join(components)}


def _doc_row(doc: Document, doc_id: str) -> dict[str, Any]:
    meta = dict(doc.meta)
    date = parse_date(meta.get("date"))
    row = {
        "doc_id": doc_id,
        "url": meta.get("url"), "source": meta.get("source"), "title": meta.get("title"),
        "date": date, "month": date.strftime("%Y-%m") if date else None, "path": meta.get("path"),
        "text": doc.text, "n_chars": len(doc.text), "n_words": len(doc.text.split()),
        "meta": json.dumps({k: v for k, v in meta.items() if k not in META_COLUMNS},
                           ensure_ascii=False, sort_keys=True, default=str),
    }
    return row | model_fields(doc)


def child_rows(doc: Document, doc_id: str) -> dict[str, list[tuple]]:
    """A document's annotations as rows of the child tables (CHILD_TABLES)."""
    from redline.taxonomy import technique_info

    keys = {a.id: actor_key(a.name, a.type) for a in doc.actors}
    rows: dict[str, list[tuple]] = {name: [] for name in CHILD_TABLES}
    for i, s in enumerate(doc.spans):
        triggers = json.dumps([[t.start, t.end] for t in s.triggers]) if s.triggers else None
        rows["spans"].append((doc_id, i, s.start, s.end, s.technique, technique_info(s.technique).family,
                              s.text, float(s.score), triggers))
    for a in doc.actors:
        rows["actors"].append((doc_id, a.id, a.name, a.type, keys[a.id], *_role_fields(a), len(a.mentions)))
        for j, m in enumerate(a.mentions):
            rows["mentions"].append((doc_id, a.id, j, m.start, m.end, m.text))
        for span_index in sorted(set(a.techniques)):
            rows["targets"].append((doc_id, span_index, a.id))
    for i, r in enumerate(doc.relations):
        rows["relations"].append((doc_id, i, r.subject, r.action, r.type, r.object, r.start, r.end,
                                  doc.text[r.start:r.end]))
    for i, c in enumerate(doc.claims):
        source_key = keys.get(c.source) if c.source and c.source != "author" else None
        hedged = any(h.kind in ("", "hedge") for h in c.hedges)
        rows["claims"].append((doc_id, i, c.start, c.end, c.text, c.source, source_key,
                               float(c.checkworthiness), hedged))
    return rows


# How long a command waits for a store another process holds (seconds). A request of
# `redline serve --store` holds it for a second at most; anything that holds it for longer
# (another ingest, a notebook's connection) has to be stopped by the user, and the message
# says which process it is. `corpus ingest --lock-wait` sets its own.
LOCK_WAIT_S = 10.0


class StoreLocked(InputError):
    """Another process holds the store file (module doc), and it stayed held past the wait."""


def lock_holder(exc: Exception) -> str | None:
    """Who holds the file, from DuckDB's lock error ("process 123 (/usr/bin/python3)", or
    "another process" when DuckDB does not say); None if `exc` is not a lock conflict."""
    text = str(exc)
    if "could not set lock" not in text.lower() and "conflicting lock" not in text.lower():
        return None
    match = re.search(r"held in (.+?) \(PID (\d+)\)", text)
    return f"process {match.group(2)} ({match.group(1)})" if match else "another process"


def connect_duckdb(path: str | Path, read_only: bool = False, wait_s: float = LOCK_WAIT_S,
                   on_wait: Callable[[str], None] | None = None):
    """A DuckDB connection to the store at `path`, waiting up to `wait_s` seconds while
    another process holds it (`on_wait` hears once that it waits, and why). InputError for
    a file DuckDB cannot open; StoreLocked if the wait runs out."""
    import duckdb

    started = time.monotonic()
    pause, told = 0.05, False
    while True:
        try:
            return duckdb.connect(str(path), read_only=read_only)
        except duckdb.IOException as exc:
            holder = lock_holder(exc)
            if holder is None:
                raise InputError(f"{path}: cannot open the store ({_first_line(exc)})") from None
            left = wait_s - (time.monotonic() - started)
            if left <= 0:
                raise StoreLocked(
                    f"{path}: {holder} holds the store (DuckDB lets one process write a file, and no other open "
                    f"it meanwhile); waited {wait_s:g} s. Let that process finish or stop it, then run this "
                    "again" + (" (--lock-wait S waits longer)" if not read_only else "")) from None
            if on_wait is not None and not told:
                on_wait(f"{path}: {holder} holds the store; waiting up to {wait_s:g} s for it")
                told = True
            time.sleep(min(pause, left))
            pause = min(pause * 2, 1.0)  # a request's hold ends in milliseconds; an ingest's does not
        except duckdb.Error as exc:
            raise InputError(f"{path}: not a DuckDB store ({_first_line(exc)})") from None


def note_on_stderr(message: str) -> None:
    """The commands' `on_wait`: one line on stderr, as their other messages."""
    import sys

    print(f"redline: {message}", file=sys.stderr, flush=True)


def _first_line(exc: Exception) -> str:
    return (str(exc).splitlines() or [type(exc).__name__])[0]


class Store:
    """A corpus store file (module doc). Use as a context manager:

        with Store("corpus.duckdb") as store:
            store.add_documents(docs, run_id)
    """

    def __init__(self, path: str | Path, read_only: bool = False, wait_s: float = LOCK_WAIT_S,
                 on_wait: Callable[[str], None] | None = None):
        self.path = Path(path)
        self.read_only = read_only
        self.wait_s, self.on_wait = wait_s, on_wait  # for a store another process holds (connect_duckdb)
        self._con = None
        self._types: dict[str, dict[str, str]] = {}  # column types per table, for _insert

    def connect(self):
        """The DuckDB connection (opened, and the schema made, on first use)."""
        if self._con is None:
            if self.read_only and not self.path.exists():
                raise InputError(f"{self.path}: no such store")
            self._con = connect_duckdb(self.path, self.read_only, self.wait_s, self.on_wait)
            if not self.read_only:
                self._con.execute(SCHEMA)
                # Columns added since the first stores (CREATE ... IF NOT EXISTS leaves an old table as it was).
                self._con.execute("ALTER TABLE spans ADD COLUMN IF NOT EXISTS triggers JSON")
                self._con.execute("INSERT OR IGNORE INTO store_info VALUES ('schema_version', ?)",
                                  [str(SCHEMA_VERSION)])
        return self._con

    def close(self) -> None:
        if self._con is not None:
            self._con.close()
            self._con = None

    def __enter__(self) -> "Store":
        self.connect()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def known(self, doc_ids: Iterable[str]) -> set[str]:
        """Which of these content ids are stored already."""
        ids = list(dict.fromkeys(doc_ids))
        if not ids:
            return set()
        rows = self.connect().execute("SELECT doc_id FROM documents WHERE doc_id IN (SELECT unnest(?))",
                                      [ids]).fetchall()
        return {r[0] for r in rows}

    def add_documents(self, docs: Iterable[Document], run_id: str | None = None,
                      errors: Iterable[tuple[str, str]] = ()) -> int:
        """Store analysed documents (and the batch's error rows) in one transaction.

        Each document's `meta` gives its metadata (url, source, title, date, path, the rest
        kept as JSON) and `meta["article_key"]`, if set, the key its versions share. A text
        already stored is skipped; a known key with a new text becomes the next version.
        Returns how many documents were added.
        """
        con = self.connect()
        docs = list(docs)
        con.execute("BEGIN TRANSACTION")
        try:
            doc_rows, children = self._rows_for(con, docs, run_id)
            self._insert(con, "documents", doc_rows, columns=list(doc_rows[0]) if doc_rows else None)
            for table, rows in children.items():
                self._insert(con, table, rows)
            for source_ref, reason in errors:
                self._insert_error(con, run_id, source_ref, reason)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        return len(doc_rows)

    def _rows_for(self, con, docs: list[Document], run_id: str | None) -> tuple[list[dict], dict[str, list]]:
        """The batch's new documents as rows, with their versions, and their child rows."""
        ids = [doc_id_for(d.text) for d in docs]
        stored = self.known(ids)
        keys = [d.meta.get("article_key") or d.meta.get("url") or i for d, i in zip(docs, ids)]
        latest = {k: (v, i) for k, v, i in con.execute(
            "SELECT article_key, max(version), arg_max(doc_id, version) FROM documents "
            "WHERE article_key IN (SELECT unnest(?::VARCHAR[])) GROUP BY article_key", [list(set(keys))]).fetchall()}
        doc_rows: list[dict] = []
        children: dict[str, list] = {name: [] for name in CHILD_TABLES}
        for doc, doc_id, key in zip(docs, ids, keys):
            if doc_id in stored:
                continue
            stored.add(doc_id)  # the same text twice in one batch: stored once
            meta = {k: v for k, v in doc.meta.items() if k != "article_key"}
            row = _doc_row(Document(doc.id, doc.text, meta, model=doc.model), doc_id)
            before = latest.get(key)
            row |= {"article_key": key, "version": before[0] + 1 if before else 1,
                    "previous_doc_id": before[1] if before else None, "run_id": run_id}
            latest[key] = (row["version"], doc_id)
            doc_rows.append(row)
            for table, rows in child_rows(doc, doc_id).items():
                children[table].extend(rows)
        return doc_rows, children

    def _column_types(self, con, table: str) -> dict[str, str]:
        if table not in self._types:
            self._types[table] = {r[0]: r[1] for r in con.execute(f"DESCRIBE {table}").fetchall()}
        return self._types[table]

    def _insert(self, con, table: str, rows: list, columns: list[str] | None = None) -> None:
        """Insert rows with one statement per table: a list per column, unnested together
        (row-by-row inserts cost DuckDB about 1 ms each, three times the rule pipeline)."""
        if not rows:
            return
        types = self._column_types(con, table)
        if columns:  # rows are dicts
            rows = [[r[c] for c in columns] for r in rows]
        else:
            columns = list(types)[:len(rows[0])]
        values = [list(col) for col in zip(*rows)]
        select = ", ".join(f"unnest(?::{types[c]}[])" for c in columns)
        quoted = ", ".join(f'"{c}"' for c in columns)
        con.execute(f"INSERT INTO {table} ({quoted}) SELECT {select}", values)

    @staticmethod
    def _insert_error(con, run_id: str | None, source_ref: str, reason: str) -> None:
        con.execute('INSERT INTO errors (run_id, source_ref, reason, "at") VALUES (?, ?, ?, ?)',
                    [run_id, source_ref, reason, _utcnow()])

    def errors(self, run_id: str | None = None) -> list[tuple]:
        """The errors table's rows (run_id, source_ref, reason, at), oldest first; one run's if given."""
        where, params = ("WHERE run_id = ?", [run_id]) if run_id is not None else ("", [])
        return self.connect().execute(f'SELECT run_id, source_ref, reason, "at" FROM errors {where} '
                                      'ORDER BY "at", source_ref', params).fetchall()

    def add_error(self, run_id: str | None, source_ref: str, reason: str) -> None:
        """Record a source that could not be ingested, and why (its own transaction)."""
        self._insert_error(self.connect(), run_id, source_ref, reason)

    def start_run(self, run_id: str, command: dict[str, Any], model: dict[str, Any]) -> None:
        self.connect().execute("INSERT INTO runs VALUES (?, ?, NULL, ?, ?)",
                               [run_id, _utcnow(), json.dumps(command, default=str), json.dumps(model, default=str)])

    def finish_run(self, run_id: str) -> None:
        self.connect().execute("UPDATE runs SET finished = ? WHERE run_id = ?", [_utcnow(), run_id])

    def counts(self) -> dict[str, int]:
        """Rows per table, for summaries."""
        con = self.connect()
        return {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                for t in ("documents", *CHILD_TABLES, "errors", "runs")}
