"""The web app's corpus views, mounted by `redline serve --store STORE`.

Routes (all GET, all read-only):
    /corpus                      the dashboard (redline.corpus.dashboard), recomputed for the
                                 filters in the query: source (repeat), since, until, technique
    /corpus/articles             search: text (q, plain ILIKE, no extension), source, since,
                                 until, actor (a name or an actor key), technique; 50 a page
    /corpus/articles/{doc_id}    one article's report (redline.report)
    /corpus/api/stats            `redline corpus stats` as JSON or CSV (by, the same filters)
    /corpus/api/articles         the search as JSON

DuckDB lets one process write a file, and a process that reads it blocks that writer
(and is blocked by it): a read-only connection cannot open while an ingest holds the
file, nor an ingest while a reader is open. So the server never keeps the store open:
each request opens it read-only and closes it when done (milliseconds to a second),
and whenever it opens a changed store it first copies it to a private snapshot. While
an ingest holds the store, requests read that snapshot and the pages say so ("as of");
the next request after the ingest sees the new articles. A server started during an
ingest, with no snapshot yet, answers 503 with Retry-After until the ingest ends.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import shutil
import tempfile
import threading
import weakref
from collections import OrderedDict
from pathlib import Path
from typing import Iterator, List, Optional
from urllib.parse import quote

# At module level: FastAPI reads the routes' annotations (strings here) in this module's globals.
from fastapi import Query, Request

from redline.corpus.stats import Filters, Settings, compute, parse_date, parse_until, resolve_techniques, to_csv
from redline.corpus.store import lock_holder
from redline.errors import InputError

PAGE_SIZE = 50
CACHED_PAGES = 8  # dashboards kept per server (each a few MB at most)
MAX_QUERY = 200  # characters of a search text


class StoreBusy(Exception):
    """An ingest holds the store and there is no snapshot to read instead."""


class StoreReader:
    """Per-request read-only connections to a store, with a snapshot for while it is written (module doc)."""

    def __init__(self, path: str | Path, snapshot_dir: str | Path | None = None):
        self.path = Path(path)
        self._own_dir = snapshot_dir is None
        self.snapshot_dir = Path(snapshot_dir or tempfile.mkdtemp(prefix="redline-snapshot-"))
        self.snapshot = self.snapshot_dir / "store.duckdb"
        self._signature: tuple | None = None  # (mtime_ns, size) of the store the snapshot copies
        self.snapshot_taken: dt.datetime | None = None
        self._lock = threading.Lock()  # one copy at a time
        if self._own_dir:  # the snapshot goes when the reader does (the server stops)
            weakref.finalize(self, shutil.rmtree, str(self.snapshot_dir), True)

    def _store_signature(self) -> tuple:
        wal = self.path.with_name(self.path.name + ".wal")
        parts = [self.path.stat().st_mtime_ns, self.path.stat().st_size]
        if wal.exists():
            parts += [wal.stat().st_mtime_ns, wal.stat().st_size]
        return tuple(parts)

    def _refresh_snapshot(self) -> None:
        """Copy the store while a read-only connection to it is open (no writer can start)."""
        signature = self._store_signature()
        if signature == self._signature:
            return
        with self._lock:
            if signature == self._signature:
                return
            tmp = self.snapshot.with_suffix(".tmp")
            shutil.copyfile(self.path, tmp)
            wal = self.path.with_name(self.path.name + ".wal")
            snapshot_wal = self.snapshot.with_name(self.snapshot.name + ".wal")
            if wal.exists():
                shutil.copyfile(wal, snapshot_wal.with_suffix(".tmp"))
                snapshot_wal.with_suffix(".tmp").replace(snapshot_wal)
            elif snapshot_wal.exists():
                snapshot_wal.unlink()
            tmp.replace(self.snapshot)
            self._signature = signature
            self.snapshot_taken = dt.datetime.now()

    def state(self, from_snapshot: bool) -> tuple:
        """What a cached page depends on: the store file's (or the snapshot's) size and times."""
        return ("snapshot", self._signature) if from_snapshot else ("store", self._store_signature())

    @contextlib.contextmanager
    def connect(self) -> Iterator[tuple[object, str | None]]:
        """Yield (read-only connection, note): the note is None for the live store, or says
        the page shows the snapshot because an ingest is writing the store."""
        import duckdb

        if not self.path.is_file():
            raise InputError(f"no corpus store at {self.path}")
        note = None
        try:
            con = duckdb.connect(str(self.path), read_only=True)
        except duckdb.IOException as exc:
            # No waiting here (unlike the commands, connect_duckdb): a page reads the snapshot at once.
            if lock_holder(exc) is None:
                raise InputError(f"{self.path.name}: cannot open the store ({exc})") from None
            with self._lock:
                have_snapshot = self._signature is not None and self.snapshot.exists()
                if not have_snapshot:
                    raise StoreBusy() from None
                con = duckdb.connect(str(self.snapshot), read_only=True)
            note = (f"An ingest is writing the store: this page shows it as of "
                    f"{self.snapshot_taken:%Y-%m-%d %H:%M:%S}. Reload after the ingest for the new articles.")
        except duckdb.Error as exc:
            raise InputError(f"{self.path.name}: not a redline store ({exc})") from None
        try:
            if note is None:
                self._refresh_snapshot()
            yield con, note
        finally:
            con.close()


def _filters(source: list[str] | None, since: str | None, until: str | None, technique: list[str] | None) -> Filters:
    sources = tuple(s.strip() for value in (source or []) for s in value.split(",") if s.strip())
    return Filters(sources=sources, since=parse_date(since, "since"), until=parse_until(until),
                   techniques=resolve_techniques(t for t in (technique or []) if t))


def _like(text: str) -> str:
    """An ILIKE pattern matching `text` anywhere, with its own % and _ taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _snippet(text: str, query: str, width: int = 110) -> tuple[str, str, str]:
    """(before, match, after) around the first match of `query`, or the text's start."""
    flat = " ".join(text.split())
    at = flat.lower().find(query.lower()) if query else -1
    if at < 0:
        return (flat[:2 * width] + ("…" if len(flat) > 2 * width else ""), "", "")
    start = max(0, at - width)
    end = min(len(flat), at + len(query) + width)
    return (("…" if start else "") + flat[start:at], flat[at:at + len(query)],
            flat[at + len(query):end] + ("…" if end < len(flat) else ""))


def search_articles(con, filters: Filters, q: str = "", actor: str = "", page: int = 1) -> dict:
    """Articles matching a text, an actor and the filters, newest first; one page of them."""
    from redline.corpus.stats import docs_where

    if len(q) > MAX_QUERY or len(actor) > MAX_QUERY:
        raise InputError(f"a search text has at most {MAX_QUERY} characters")
    params: list = []
    where = [docs_where(filters, params)]
    if q.strip():
        where.append("(d.text ILIKE ? ESCAPE '\\' OR d.title ILIKE ? ESCAPE '\\')")
        params += [_like(q.strip())] * 2
    if actor.strip():
        where.append("EXISTS (SELECT 1 FROM actors a WHERE a.doc_id = d.doc_id AND "
                     "(a.name ILIKE ? ESCAPE '\\' OR a.actor_key = ?))")
        params += [_like(actor.strip()), actor.strip()]
    if filters.techniques:
        where.append(f"EXISTS (SELECT 1 FROM spans s WHERE s.doc_id = d.doc_id AND s.technique IN "
                     f"({', '.join('?' for _ in filters.techniques)}))")
        params += list(filters.techniques)
    clause = " AND ".join(where)
    total = con.execute(f"SELECT count(*) FROM documents d WHERE {clause}", params).fetchone()[0]
    page = max(1, page)
    span_params: list = list(filters.techniques)
    span_filter = (f"AND s.technique IN ({', '.join('?' for _ in filters.techniques)})"
                   if filters.techniques else "")
    rows = con.execute(
        f"""SELECT d.doc_id, d.title, d.source, d.date, d.n_words, d.text,
                   (SELECT count(*) FROM spans s WHERE s.doc_id = d.doc_id {span_filter}) AS n_spans
            FROM documents d WHERE {clause}
            ORDER BY d.date DESC NULLS LAST, d.doc_id LIMIT {PAGE_SIZE} OFFSET {(page - 1) * PAGE_SIZE}""",
        span_params + params).fetchall()
    articles = []
    for doc_id, title, source, date, words, text, n_spans in rows:
        before, match, after = _snippet(text or "", q.strip())
        articles.append({"doc_id": doc_id, "title": title or " ".join((text or "").split())[:90] or doc_id,
                         "source": source, "date": date.isoformat() if date else None, "words": words,
                         "spans": n_spans, "snippet": [before, match, after]})
    return {"total": total, "page": page, "pages": max(1, -(-total // PAGE_SIZE)), "articles": articles}


def corpus_router(store: str | Path, snapshot_dir: str | Path | None = None):
    """The FastAPI router of the corpus views, reading `store` (module doc)."""
    from fastapi import APIRouter
    from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse

    from redline.corpus.dashboard import document_from_store, render_dashboard
    from redline.report import render_html, render_page
    from redline.server import PAGE_HEADERS

    reader = StoreReader(store, snapshot_dir)
    router = APIRouter(prefix="/corpus", tags=["corpus"])
    router.reader = reader  # for the app's shutdown and for tests

    def busy() -> JSONResponse:
        return JSONResponse({"error": "an ingest is writing the corpus store and there is no snapshot of it yet; "
                                      "try again when it is done"}, status_code=503, headers={"Retry-After": "10"})

    def page_error(message: str, status: int) -> HTMLResponse:
        html = render_page("corpus_articles.html.j2", error=message, result=None, values={}, sources=[],
                           stale_note=None, query_base="")
        return HTMLResponse(html, status_code=status, headers=PAGE_HEADERS)

    # The last few dashboards, by store state and filters: a big corpus takes seconds to sum up.
    pages: OrderedDict = OrderedDict()
    pages_lock = threading.Lock()

    @router.get("", response_class=HTMLResponse, summary="The corpus dashboard")
    def dashboard(source: Optional[List[str]] = Query(None), since: Optional[str] = None,
                  until: Optional[str] = None, technique: Optional[List[str]] = Query(None)) -> HTMLResponse:
        try:
            filters = _filters(source, since, until, technique)
            with reader.connect() as (con, note):
                key = (reader.state(note is not None), filters)
                with pages_lock:
                    html = pages.get(key)
                if html is None:
                    html = render_dashboard(con, filters, Settings(), served=True, stale_note=note,
                                            article_href=lambda doc_id: f"/corpus/articles/{quote(doc_id)}")
                    with pages_lock:
                        pages[key] = html
                        while len(pages) > CACHED_PAGES:
                            pages.popitem(last=False)
        except StoreBusy:
            return page_error("An ingest is writing the corpus store; this server has no snapshot of it yet. "
                              "Try again when the ingest is done.", 503)
        except InputError as exc:
            return page_error(str(exc), 422)
        return HTMLResponse(html, headers=PAGE_HEADERS)

    @router.get("/api/stats", summary="Corpus statistics with bootstrap intervals (as `redline corpus stats`)")
    def api_stats(by: str = "source", source: Optional[List[str]] = Query(None), since: Optional[str] = None,
                  until: Optional[str] = None, technique: Optional[List[str]] = Query(None),
                  min_articles: int = Query(5, ge=1), resamples: int = Query(1000, ge=1, le=10_000),
                  seed: int = 0, format: str = Query("json", pattern="^(json|csv)$")):
        try:
            filters = _filters(source, since, until, technique)
            settings = Settings(resamples=resamples, seed=seed, min_articles=min_articles)
            with reader.connect() as (con, note):
                result = compute(con, by.split(","), filters, settings)
        except StoreBusy:
            return busy()
        except InputError as exc:
            return JSONResponse({"error": str(exc)}, status_code=422)
        if format == "csv":
            return PlainTextResponse(to_csv(result), media_type="text/csv; charset=utf-8")
        if note:
            result["note"] = note
        return JSONResponse(result)

    def run_search(q, actor, source, since, until, technique, page):
        filters = _filters(source, since, until, technique)
        with reader.connect() as (con, note):
            result = search_articles(con, filters, q or "", actor or "", page)
            sources = [r[0] for r in con.execute("SELECT DISTINCT source FROM documents WHERE source IS NOT NULL "
                                                 "ORDER BY lower(source)").fetchall()]
        return result, note, sources

    @router.get("/api/articles", summary="Search the corpus's articles")
    def api_articles(q: str = "", actor: str = "", source: Optional[List[str]] = Query(None),
                     since: Optional[str] = None, until: Optional[str] = None,
                     technique: Optional[List[str]] = Query(None), page: int = Query(1, ge=1)):
        try:
            result, note, _ = run_search(q, actor, source, since, until, technique, page)
        except StoreBusy:
            return busy()
        except InputError as exc:
            return JSONResponse({"error": str(exc)}, status_code=422)
        for a in result["articles"]:
            a["report"] = f"/corpus/articles/{quote(a['doc_id'])}"
        if note:
            result["note"] = note
        return JSONResponse(result)

    @router.get("/articles", response_class=HTMLResponse, summary="Search page")
    def articles_page(request: Request, q: str = "", actor: str = "", source: Optional[List[str]] = Query(None),
                      since: Optional[str] = None, until: Optional[str] = None,
                      technique: Optional[List[str]] = Query(None), page: int = Query(1, ge=1)) -> HTMLResponse:
        values = {"q": q, "actor": actor, "source": [s for s in (source or []) if s], "since": since or "",
                  "until": until or "", "technique": (technique or [""])[0]}
        try:
            result, note, sources = run_search(q, actor, source, since, until, technique, page)
        except StoreBusy:
            return page_error("An ingest is writing the corpus store; this server has no snapshot of it yet. "
                              "Try again when the ingest is done.", 503)
        except InputError as exc:
            return page_error(str(exc), 422)
        query = [(k, v) for k, v in request.query_params.multi_items() if k != "page"]
        query_base = "&".join(f"{quote(k)}={quote(v)}" for k, v in query)
        html = render_page("corpus_articles.html.j2", error=None, result=result, values=values, sources=sources,
                           stale_note=note, query_base=query_base)
        return HTMLResponse(html, headers=PAGE_HEADERS)

    @router.get("/articles/{doc_id}", response_class=HTMLResponse, summary="One article's report")
    def article(doc_id: str) -> HTMLResponse:
        try:
            with reader.connect() as (con, _):
                doc = document_from_store(con, doc_id)
        except StoreBusy:
            return page_error("An ingest is writing the corpus store; try again when it is done.", 503)
        except InputError as exc:
            return page_error(str(exc), 422)
        if doc is None:
            return page_error(f"No article {doc_id!r} in this store.", 404)
        return HTMLResponse(render_html([doc], back_link="/corpus/articles"), headers=PAGE_HEADERS)

    return router
