"""redline's web server: a page to paste, upload or link an article, and a JSON API.

    >>> from redline.server import create_app, run
    >>> run(port=8000)                      # what `redline serve` calls

Routes
    GET  /                 the form (paste text, upload .txt/.html, or give a URL)
    POST /report           the form's target: the same HTML report as `redline analyze -f html`
    POST /api/analyze      {"text": ...} or {"url": ...} (+ optional "id", "threshold", "taxonomy") -> Document JSON
    GET  /api/techniques   the taxonomy (redline.taxonomy.as_json())
    GET  /healthz          liveness and what is loaded
    GET  /corpus...        with a corpus store (`redline serve --store`): dashboard, search, article
                           reports, stats API (redline.corpus.views), read-only
    GET  /docs, /openapi.json   FastAPI's own API docs

The model loads once, at startup, and is shared. What keeps the server up (README lists the figures):

* Connections: at most `max_connections` open (and always well under the open-file
  limit); at the cap, the connection that has waited longest without an active request
  (a slow or stalled header, an idle keep-alive) is closed to make room. A connection
  gets `HEADER_TIMEOUT_S` to send a complete request header, `BODY_TIMEOUT_S` for its
  body (408 after), and uvicorn closes idle keep-alive connections after `KEEP_ALIVE_S`.
* Analyses run in worker threads in two lanes, so a short text does not wait behind
  long ones: texts up to `SHORT_CHARS` characters run `max_concurrent` at a time, longer
  ones `max_long` at a time (their memory grows with length). Up to `max_queue` more
  short and `max_queue // 2` more long requests wait, first come first served, at most
  `queue_wait_s` each; beyond that the answer is 503 with Retry-After at once, rather
  than queueing without bound.
* Every analysis has a deadline (`analysis_deadline_s`, 504 after) and is cancelled at
  the next step of the pipeline, or the next piece of a long text's spaCy parse, when
  its client hangs up; its slot is freed when the thread has really stopped, so the
  capacity figures stay true.
* Memory returns to its baseline after a burst or a long text: glibc's malloc arenas
  are capped (`limit_malloc_arenas`) and freed heap is handed back when the server
  falls idle or a long text ends.
* URL fetches have their own admission and pool (`max_fetches` at a time, as many
  waiting), so slow sites cannot take the slots of text analyses.
* Repeated log lines are rate-limited (`RateLimitedLog`), so no client can flood the log.

Bodies over `max_body` bytes get 413 (the form gets its page), texts over `max_chars`
characters 413. API errors are JSON ``{"error": "..."}``; the form shows them on the page.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import logging
import os
import resource
import threading
import time
from typing import Any, Literal

import anyio
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException

from redline.errors import InputError, RedlineError

log = logging.getLogger("redline.server")

MAX_BODY = 2 * 1024 * 1024
MAX_CHARS = 60_000  # redline.pipeline.MAX_CHARS: the most the pipeline analyses in well under a minute
MAX_ID = 200
SHORT_CHARS = 20_000  # a long news article; longer texts go to the long lane
MAX_CONNECTIONS = 512  # open connections; also kept below the open-file limit (run())
HEADER_TIMEOUT_S = 10.0  # to send a complete request header
BODY_TIMEOUT_S = 30.0  # to send the body (2 MB at 70 kB/s)
KEEP_ALIVE_S = 5  # an idle keep-alive connection is closed after this
ACCEPT_BACKLOG = 128
QUEUE_WAIT_S = 30.0  # the longest a request waits for a worker before 503
ANALYSIS_DEADLINE_S = 120.0  # one analysis, start to end, before 504
UPLOAD_SUFFIXES = (".txt", ".text", ".md", ".html", ".htm")

# Our own pages fetch nothing, run only their inline script, and post only to us.
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; "
                               "img-src data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


class Busy(Exception):
    """Every worker is busy and the queue is full (or the wait ran out)."""

    def __init__(self, what: str = "analysing other texts"):
        super().__init__(what)
        self.what = what


class Cancelled(Exception):
    """The analysis was stopped: its client went away or its deadline passed."""


class _Lane:
    """Admission for one kind of work: `running` at once, `waiting` more, the rest refused.

    Waiters are served first come, first served (anyio's CapacityLimiter is FIFO).
    Touched only from the event loop thread, so the counter needs no lock.
    """

    def __init__(self, running: int, waiting: int):
        self.limiter = anyio.CapacityLimiter(max(1, running))
        self.capacity = max(1, running) + max(0, waiting)
        self.pending = 0

    @contextlib.asynccontextmanager
    async def slot(self, what: str, wait_s: float = QUEUE_WAIT_S):
        if self.pending >= self.capacity:
            raise Busy(what)
        self.pending += 1
        try:
            with anyio.move_on_after(wait_s) as waited:
                await self.limiter.acquire()
            if waited.cancelled_caught:
                raise Busy(what)
            try:
                yield
            finally:
                self.limiter.release()
        finally:
            self.pending -= 1


class _Gate:
    """The server's lanes: short texts, long texts, URL fetches (see the module doc)."""

    def __init__(self, running: int, waiting: int, long_running: int | None = None, fetches: int = 2):
        running = max(1, running)
        self.short = _Lane(running, waiting)
        self.long = _Lane(long_running or max(1, running // 2), max(0, waiting // 2))
        self.fetching = _Lane(fetches, fetches)
        self.capacity = self.short.capacity + self.long.capacity
        self.abandoned = 0  # analyses whose client hung up (cancelled at their next step)

    @property
    def pending(self) -> int:
        return self.short.pending + self.long.pending

    def lane_for(self, text: str) -> _Lane:
        return self.short if len(text) <= SHORT_CHARS else self.long


class CancelToken:
    """Set from the event loop, read by the worker thread between pipeline steps."""

    def __init__(self):
        self._why: str | None = None

    def cancel(self, why: str) -> None:
        if self._why is None:
            self._why = why

    @property
    def why(self) -> str | None:
        return self._why

    def check(self) -> None:
        if self._why is not None:
            raise Cancelled(self._why)


class _CancellableStep:
    """A pipeline component that first checks the request's CancelToken.

    The server runs the shared components through a per-request Pipeline of these,
    so an abandoned or overdue analysis stops at the next step instead of running to
    the end; attributes (name, uses_parse) are the component's own.
    """

    def __init__(self, component, token: CancelToken):
        self._component = component
        self._token = token

    def __getattr__(self, name):
        return getattr(self._component, name)

    def __call__(self, doc):
        self._token.check()
        return self._component(doc)


def _libc():
    try:
        return ctypes.CDLL("libc.so.6")
    except OSError:  # not glibc (musl, macOS): its allocator has neither call
        return None


def _release_freed_memory() -> None:
    """Hand freed heap back to the OS (glibc keeps it otherwise): after a long text, and
    whenever the server falls idle. A few milliseconds for a 700 MB process."""
    libc = _libc()
    if libc is not None and hasattr(libc, "malloc_trim"):
        libc.malloc_trim(0)


M_ARENA_MAX = -8  # glibc's mallopt parameter number (malloc.h)
MALLOC_ARENAS = 2


def limit_malloc_arenas(arenas: int = MALLOC_ARENAS) -> bool:
    """Cap glibc's malloc arenas for the rest of the process ($MALLOC_ARENA_MAX wins if set).

    Why: glibc gives each thread that allocates its own arena (up to 8 per core), and the
    server's analyses run on whichever worker thread is free, so after a burst every
    worker's arena holds its own fragments of freed model activations that malloc_trim
    cannot return. Measured (bench/load.py, default pipeline, a 60,000-character text
    then 60 requests at concurrency 8): RSS 678 MB before, 767 MB after (+13%; +21-29%
    in longer in-process runs); with two arenas and the trim when idle, 657 -> 672 MB
    (+2.3%), at no measurable cost in time on 2 cores.
    """
    if os.environ.get("MALLOC_ARENA_MAX"):
        return False
    libc = _libc()
    if libc is None or not hasattr(libc, "mallopt"):
        return False
    return bool(libc.mallopt(M_ARENA_MAX, arenas))


class RateLimitedLog(logging.Filter):
    """Let through at most `burst` records with the same message per `window_s` seconds.

    What was held back is counted and reported once, with the next record of that
    message that passes: a client that triggers one error a thousand times a second
    costs one log line a window, not a thousand (issue 18: 69,411 "Too many open files"
    lines in 40 s).
    """

    def __init__(self, burst: int = 5, window_s: float = 10.0, max_keys: int = 1000):
        super().__init__()
        self.burst, self.window_s, self.max_keys = burst, window_s, max_keys
        self._seen: dict[tuple, list] = {}  # key -> [window start, count, suppressed]
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        key = (record.name, record.levelno, str(record.msg)[:200])
        now = time.monotonic()
        with self._lock:
            entry = self._seen.get(key)
            if entry is None or now - entry[0] >= self.window_s:
                suppressed = entry[2] if entry else 0
                if len(self._seen) >= self.max_keys:
                    self._seen.clear()
                self._seen[key] = [now, 1, 0]
                if suppressed:
                    record.msg = f"{record.msg} [{suppressed} similar messages suppressed]"
                return True
            entry[1] += 1
            if entry[1] <= self.burst:
                return True
            entry[2] += 1
            return False


def install_log_rate_limit(burst: int = 5, window_s: float = 10.0, access_per_s: int = 50) -> None:
    """Rate-limit the server's logs: errors and warnings by message (at most `burst` of one
    message per `window_s`), the access log to `access_per_s` lines a second (its lines
    all share one format, so it is limited as a whole)."""
    messages = RateLimitedLog(burst, window_s)
    access = RateLimitedLog(access_per_s, 1.0)
    for name, limiter in (("", messages), ("uvicorn", messages), ("uvicorn.error", messages),
                          ("asyncio", messages), ("redline", messages), ("uvicorn.access", access)):
        for handler in logging.getLogger(name).handlers:
            if not any(isinstance(f, RateLimitedLog) for f in handler.filters):
                handler.addFilter(limiter)


class _BodyLimit:
    """ASGI middleware: refuse request bodies over `max_body` bytes (413) or slower than `timeout_s` (408).

    The body is read here (at most `max_body` kept; an oversize one is drained up to a
    hard stop so that the client reads the 413 rather than a reset) and replayed. The
    API answers JSON; paths in `pages` answer the HTML page that `pages[path]` renders.
    """

    def __init__(self, app, max_body: int, timeout_s: float = BODY_TIMEOUT_S, pages: dict | None = None):
        self.app = app
        self.max_body = max_body
        self.timeout_s = timeout_s
        self.pages = pages or {}

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            return await self.app(scope, receive, send)
        declared = None
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    return await self._refuse(scope, send, 400, "bad Content-Length header")
        too_big = declared is not None and declared > self.max_body
        chunks, size = [], 0
        with anyio.move_on_after(self.timeout_s) as slow:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return
                body = message.get("body", b"")
                size += len(body)
                if size > self.max_body:
                    too_big = True
                if not too_big:
                    chunks.append(body)
                if not message.get("more_body", False):
                    break
                if size > 8 * self.max_body:  # stop draining; the connection will be closed
                    break
        if slow.cancelled_caught:
            return await self._refuse(scope, send, 408, f"the request body did not arrive within {self.timeout_s:g} s")
        if too_big:
            return await self._refuse(scope, send, 413, f"the request body is larger than {self.max_body:,} bytes")
        data = b"".join(chunks)
        sent = False

        async def replay():
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": data, "more_body": False}
            return await receive()

        return await self.app(scope, replay, send)

    async def _refuse(self, scope, send, status: int, message: str):
        render = self.pages.get(scope.get("path"))
        if render is not None:
            payload, ctype = render(message, status).encode("utf-8"), b"text/html; charset=utf-8"
            extra = [(k.lower().encode(), v.encode()) for k, v in PAGE_HEADERS.items()]
        else:
            payload, ctype, extra = json.dumps({"error": message}).encode(), b"application/json", []
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", ctype), (b"content-length", str(len(payload)).encode()),
                                (b"connection", b"close"), *extra]})
        await send({"type": "http.response.body", "body": payload})


def _guarded_protocol(max_connections: int, header_timeout_s: float = HEADER_TIMEOUT_S):
    """uvicorn's h11 protocol with a connection cap and a header timeout (uvicorn has neither).

    Why: a client that opens connections and never finishes a request header would
    otherwise hold each one for ever; 1,100 of them used up a 1,024 open-file limit.
    Here, a connection not in an active request (a partial header, an idle keep-alive)
    is closed after `header_timeout_s`, and at `max_connections` the one idle longest is
    closed to make room for the new one, so a complete request always gets through.
    """
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class GuardedH11Protocol(H11Protocol):
        def connection_made(self, transport):
            self._idle_since = time.monotonic()
            at_cap = len(self.connections) >= max_connections
            super().connection_made(transport)
            if at_cap and not self._evict_longest_idle():
                transport.close()  # every connection is mid-request: this one waits its turn in the backlog
                return
            self._schedule_sweep()

        def _active(self) -> bool:
            return self.cycle is not None and not self.cycle.response_complete

        def _evict_longest_idle(self) -> bool:
            idle = [c for c in self.connections
                    if c is not self and isinstance(c, GuardedH11Protocol) and not c._active()]
            if not idle:
                return False
            victim = min(idle, key=lambda c: c._idle_since if c._idle_since is not None else time.monotonic())
            victim.transport.close()
            self.connections.discard(victim)  # counted out now; connection_lost follows
            return True

        def _schedule_sweep(self) -> None:
            # One sweep timer per server, kept on the shared server state.
            state = self.server_state
            if getattr(state, "_redline_sweep", None) is None:
                state._redline_sweep = self.loop.call_later(1.0, _sweep, self.loop, state)

    def _sweep(loop, state) -> None:
        now = time.monotonic()
        for conn in list(state.connections):
            if not isinstance(conn, GuardedH11Protocol):
                continue
            if conn._active():
                conn._idle_since = None
            elif conn._idle_since is None:
                conn._idle_since = now
            elif now - conn._idle_since > header_timeout_s and not conn.transport.is_closing():
                conn.transport.close()
        state._redline_sweep = loop.call_later(1.0, _sweep, loop, state) if state.connections else None

    return GuardedH11Protocol


def connection_cap(wanted: int = MAX_CONNECTIONS, reserve: int = 64) -> int:
    """`wanted`, but at most the open-file limit minus `reserve` (files, models, the listening socket)."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return wanted
    return max(8, min(wanted, soft - reserve))


class AnalyzeRequest(BaseModel):
    # strict: "threshold": true or "0.5" is a client bug to report (422), not a value to coerce.
    model_config = ConfigDict(extra="forbid", strict=True, json_schema_extra={
        "examples": [{"text": "They are traitors! Never forget it.", "id": "example"}]})
    text: str | None = Field(None, description="The article text (give this or url).")
    url: str | None = Field(None, description="An http(s) URL to fetch the article from (give this or text).")
    id: str | None = Field(None, max_length=MAX_ID, description="Document id echoed in the result.")
    threshold: float | None = Field(None, ge=0.0, le=1.0, allow_inf_nan=False,
                                    description="Minimum span score (a calibrated probability); "
                                                "default: the model's, chosen on PTC dev.")
    taxonomy: Literal["ptc", "semeval2023"] | None = Field(  # redline.taxonomy.TAXONOMIES
        None, description="Technique labels: 'ptc' (14 classes) or 'semeval2023' (23 techniques); "
                          "named in the answer's model.tagger.taxonomy.")

    @field_validator("text", "url", "id")
    @classmethod
    def _valid_unicode(cls, value: str | None, info):
        # JSON may carry "\ud800"; a lone surrogate cannot be encoded and is not text.
        if value is not None:
            from redline.pipeline import check_unicode
            try:
                check_unicode(value, "the value")
            except InputError as exc:
                raise ValueError(str(exc).replace("the value ", "")) from None
        return value


def _components_from_env() -> tuple[str, ...] | None:
    names = os.environ.get("REDLINE_COMPONENTS", "").strip()
    return tuple(n.strip() for n in names.split(",") if n.strip()) or None


def create_app(allow_private: bool = False, components: tuple[str, ...] | None = None, max_chars: int = MAX_CHARS,
               max_concurrent: int = 2, *, max_queue: int = 32, max_body: int = MAX_BODY, preload: bool = True,
               max_long: int | None = None, max_fetches: int = 2, queue_wait_s: float = QUEUE_WAIT_S,
               analysis_deadline_s: float = ANALYSIS_DEADLINE_S, body_timeout_s: float = BODY_TIMEOUT_S,
               store: str | os.PathLike | None = None):
    """The FastAPI app. `components=None` means $REDLINE_COMPONENTS or the default pipeline.
    `store`: a corpus store (DuckDB) to serve read-only under /corpus (redline.corpus.views).

    Capacity (module doc): `max_concurrent` short texts and `max_long` (default half,
    at least 1) long ones run at once; `max_queue` short and half as many long wait;
    `max_fetches` URL fetches run and as many wait.
    """
    import redline
    from redline.doc import Document
    from redline.pipeline import DEFAULT_COMPONENTS, Pipeline, check_text, check_unicode, default_pipeline

    comps = tuple(components) if components else (_components_from_env() or DEFAULT_COMPONENTS)
    gate = _Gate(max_concurrent, max_queue, max_long, max_fetches)

    @contextlib.asynccontextmanager
    async def lifespan(app):
        if preload:  # load the model once, before the first request
            log.info("loading pipeline %s", ", ".join(comps))
            try:
                await anyio.to_thread.run_sync(default_pipeline, comps)
            except RedlineError as exc:
                log.error("cannot start: %s", exc)
                raise
        yield

    app = FastAPI(
        title="redline",
        version=redline.__version__,
        description="Marks the persuasion and propaganda techniques an article uses, as character spans.",
        lifespan=lifespan,
    )
    app.state.components = comps
    app.state.allow_private = allow_private
    app.state.gate = gate

    # --- errors: JSON {"error": ...} everywhere in the API ---------------------------
    def error(status: int, message: str, headers: dict | None = None) -> JSONResponse:
        return JSONResponse({"error": message}, status_code=status, headers=headers)

    @app.exception_handler(HTTPException)
    async def _http_error(request: Request, exc: HTTPException):
        return error(exc.status_code, str(exc.detail), getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError):
        errs = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errs):
            detail = next(e for e in errs if e.get("type") == "json_invalid").get("ctx", {}).get("error", "")
            return error(400, f"the body is not valid JSON{': ' + str(detail) if detail else ''}")
        parts = []
        for e in errs[:5]:
            where = ".".join(str(x) for x in e.get("loc", ()) if x != "body")
            parts.append(f"{where}: {e.get('msg')}" if where else str(e.get("msg")))
        return error(422, "; ".join(parts) or "invalid request")

    @app.exception_handler(Busy)
    async def _busy(request: Request, exc: Busy):
        return error(503, f"the server is busy {exc.what}; try again shortly", {"Retry-After": "5"})

    @app.exception_handler(Cancelled)
    async def _cancelled(request: Request, exc: Cancelled):
        return error(504, str(exc))

    @app.exception_handler(InputError)
    async def _input_error(request: Request, exc: InputError):
        return error(422, str(exc))

    @app.exception_handler(RedlineError)
    async def _redline_error(request: Request, exc: RedlineError):
        log.exception("analysis failed")
        return error(500, str(exc))

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception):
        log.exception("unexpected error")
        return error(500, "internal error")

    # --- the work ---------------------------------------------------------------------
    def check_length(text: str) -> None:
        if len(text) > max_chars:
            raise HTTPException(413, f"the text has {len(text):,} characters; this server reads at most {max_chars:,}")
        if not text.strip():
            raise InputError("the text is empty")

    async def fetch_text(url: str) -> tuple[str, dict]:
        from redline.io.fetch import fetch
        async with gate.fetching.slot("fetching other URLs", queue_wait_s):
            fetched = await anyio.to_thread.run_sync(lambda: fetch(url, allow_private))
        meta = {"url": fetched.final_url}
        if fetched.title:
            meta["title"] = fetched.title
        return fetched.text, meta

    def analyze_until_cancelled(text: str, doc_id: str, meta: dict, threshold: float | None,
                                token: CancelToken, taxonomy: str | None = None):
        """What redline.analyze does, through cancellable steps (in a worker thread)."""
        check_text(text)
        check_unicode(doc_id, "the document id")
        from redline.components.nlp import cancel_check
        shared = default_pipeline(comps, threshold, taxonomy)
        steps = Pipeline(_CancellableStep(c, token) for c in shared.components)
        with cancel_check(token.check):  # the spaCy parse of a long text checks between its pieces
            doc = steps(Document(id=doc_id, text=text, meta=dict(meta)))
        token.check()  # overdue or abandoned at the last step: no answer is wanted
        return doc

    async def watch_client(request: Request, token: CancelToken) -> None:
        # After the (replayed) body, the next message uvicorn delivers is the disconnect.
        while True:
            message = await request.receive()
            if message["type"] == "http.disconnect":
                token.cancel("the client went away")
                gate.abandoned += 1
                return

    async def run_analysis(request: Request, text: str, doc_id: str, meta: dict, threshold: float | None,
                           taxonomy: str | None = None):
        check_length(text)
        if threshold is not None:
            threshold = round(float(threshold), 2)  # bounds the number of cached pipelines
        lane = gate.lane_for(text)
        token = CancelToken()
        async with lane.slot("analysing other texts", queue_wait_s):
            result: dict = {}
            async with anyio.create_task_group() as tg:
                tg.start_soon(watch_client, request, token)

                async def deadline():
                    await anyio.sleep(analysis_deadline_s)
                    token.cancel(f"the analysis took longer than {analysis_deadline_s:g} s and was stopped")

                tg.start_soon(deadline)
                try:
                    # Not abandoned on cancel: the slot is held until the thread has stopped.
                    result["doc"] = await anyio.to_thread.run_sync(
                        analyze_until_cancelled, text, doc_id, meta, threshold, token, taxonomy)
                except Exception as exc:  # kept out of the task group, which would wrap it in a group
                    result["error"] = exc
                finally:
                    tg.cancel_scope.cancel()
        if lane is gate.long or gate.pending == 0:
            # After a long text, or when the last analysis of a burst ends: the memory
            # returns to its baseline instead of staying at the peak (issue 18).
            await anyio.to_thread.run_sync(_release_freed_memory)
        if "error" in result:
            raise result["error"]
        return result["doc"]

    # --- API ------------------------------------------------------------------------
    @app.post("/api/analyze", summary="Analyse one article",
              response_description="The document as `redline analyze -f json` prints it.",
              responses={400: {"description": "invalid JSON"}, 408: {"description": "body too slow"},
                         413: {"description": "too large"}, 422: {"description": "bad input"},
                         503: {"description": "busy (Retry-After)"}, 504: {"description": "analysis too long"}})
    async def api_analyze(req: AnalyzeRequest, request: Request) -> JSONResponse:
        if (req.text is None) == (req.url is None):
            raise HTTPException(422, 'give exactly one of "text" or "url"')
        if req.url is not None:
            text, meta = await fetch_text(req.url)
        else:
            text, meta = req.text, {}
        doc = await run_analysis(request, text, req.id or "doc", meta, req.threshold, req.taxonomy)
        return JSONResponse(doc.to_json())

    @app.get("/api/techniques", summary="The technique taxonomy")
    async def api_techniques() -> JSONResponse:
        from redline.taxonomy import as_json
        return JSONResponse(as_json())

    @app.get("/healthz", summary="Liveness")
    async def healthz() -> dict[str, Any]:
        return {"status": "ok", "version": redline.__version__, "components": list(comps),
                "busy": gate.pending, "capacity": gate.capacity, "fetching": gate.fetching.pending,
                "abandoned": gate.abandoned}

    # --- pages ----------------------------------------------------------------------
    def page_html(error_message: str | None = None, **values) -> str:
        from redline.report import render_page
        return render_page("index.html.j2", error=error_message, max_chars=max_chars, max_body=max_body,
                           components=", ".join(comps), values=values)

    def page(error_message: str | None = None, status: int = 200, **values) -> HTMLResponse:
        return HTMLResponse(page_html(error_message, **values), status_code=status, headers=PAGE_HEADERS)

    # The form's oversize or too-slow body is refused before FastAPI sees it: answer the page there too.
    app.add_middleware(_BodyLimit, max_body=max_body, timeout_s=body_timeout_s,
                       pages={"/report": lambda message, status: page_html(message)})

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def index() -> HTMLResponse:
        return page()

    def form_string(form, name: str) -> str:
        value = form.get(name)
        if value is None:
            return ""
        if isinstance(value, UploadFile) or not isinstance(value, str):
            raise InputError(f'the form field "{name}" must be text, not a file; upload files as "file"')
        check_unicode(value, f'the form field "{name}"')
        return value

    @app.post("/report", response_class=HTMLResponse, summary="Analyse a form submission, answer the HTML report",
              openapi_extra={"requestBody": {"content": {"multipart/form-data": {"schema": {
                  "type": "object", "properties": {
                      "text": {"type": "string"}, "url": {"type": "string"},
                      "file": {"type": "string", "format": "binary"}}}}}}})
    async def report(request: Request) -> HTMLResponse:
        from redline.report import render_html
        text = url = ""
        try:
            form = await request.form(max_files=1, max_fields=10, max_part_size=max_body)
        except Exception as exc:  # malformed multipart / urlencoded body
            return page(f"The form could not be read: {exc}", 400)
        try:
            text = form_string(form, "text")
            url = form_string(form, "url").strip()
            upload = form.get("file")
            if upload is not None and not isinstance(upload, UploadFile):
                if str(upload).strip():
                    raise InputError('the form field "file" must be a file upload')
                upload = None
            meta: dict[str, Any] = {}
            doc_id = "pasted-text"
            if text.strip():
                pass
            elif upload is not None and getattr(upload, "filename", None):
                data = await upload.read(max_body + 1)
                text = _upload_text(upload.filename, getattr(upload, "content_type", "") or "", data)
                doc_id = _safe_id(upload.filename)
                meta["file"] = upload.filename
            elif url:
                text, meta = await fetch_text(url)
                doc_id = url
            else:
                return page("Paste a text, choose a file or give a URL.", 422)
            doc = await run_analysis(request, text, doc_id, meta, None)
        except HTTPException as exc:
            return page(str(exc.detail), exc.status_code, text=text[:max_chars], url=url)
        except Busy as exc:
            response = page(f"The server is busy {exc.what}; try again in a moment.", 503,
                            text=text[:max_chars], url=url)
            response.headers["Retry-After"] = "5"
            return response
        except Cancelled as exc:
            return page(f"{str(exc).capitalize()}.", 504, text=text[:max_chars], url=url)
        except InputError as exc:
            return page(str(exc), 422, text=text[:max_chars], url=url)
        html = render_html([doc], back_link="/")
        return HTMLResponse(html, headers=PAGE_HEADERS)

    if store is not None:  # the corpus views: dashboard, search, article reports, stats API
        from redline.corpus.views import corpus_router
        app.include_router(corpus_router(store))

    return app


def _safe_id(name: str) -> str:
    base = os.path.basename(name.replace("\\", "/"))
    stem = base.rsplit(".", 1)[0] if "." in base else base
    return (stem or "upload")[:MAX_ID]


def _upload_text(filename: str, content_type: str, data: bytes) -> str:
    from redline.io.fetch import html_to_text
    from redline.io.inputs import decode_text

    name = filename.lower()
    if not name.endswith(UPLOAD_SUFFIXES):
        raise InputError(f"{os.path.basename(filename)}: upload a .txt or .html file")
    text = decode_text(data, os.path.basename(filename))
    looks_html = name.endswith((".html", ".htm")) or "html" in content_type.lower()
    if looks_html:
        text, _ = html_to_text(text, os.path.basename(filename))
    return text


def server_config(app, host: str = "127.0.0.1", port: int = 8000, *, max_connections: int = MAX_CONNECTIONS,
                  header_timeout_s: float = HEADER_TIMEOUT_S, log_level: str = "info"):
    """The uvicorn Config that `run` serves with: guarded connections, short keep-alive."""
    import uvicorn

    return uvicorn.Config(
        app, host=host, port=port, log_level=log_level, proxy_headers=False, server_header=False,
        http=_guarded_protocol(connection_cap(max_connections), header_timeout_s),
        timeout_keep_alive=KEEP_ALIVE_S,
        # asyncio accepts up to `backlog` connections per wake-up before any of them is
        # counted; a small one keeps a burst from overshooting the connection cap into
        # the open-file limit.
        backlog=ACCEPT_BACKLOG,
        timeout_graceful_shutdown=10,
        h11_max_incomplete_event_size=16 * 1024,  # a request header larger than this is refused (400)
    )


def run(host: str = "127.0.0.1", port: int = 8000, allow_private: bool = False,
        components: tuple[str, ...] | None = None, *, max_connections: int = MAX_CONNECTIONS, **options) -> None:
    """Serve redline with uvicorn (what `redline serve` calls)."""
    import uvicorn

    logging.basicConfig(level=logging.INFO, format="%(levelname)s: %(message)s")
    limit_malloc_arenas()  # before the model loads and any worker thread starts
    if host not in ("127.0.0.1", "localhost", "::1"):
        log.warning("serving on %s: anyone who can reach it can use this server (no authentication)", host)
    app = create_app(allow_private=allow_private, components=components, **options)
    config = server_config(app, host, port, max_connections=max_connections)
    server = uvicorn.Server(config)
    config.load()  # configures uvicorn's loggers; the rate limit goes on their handlers
    install_log_rate_limit()
    server.run()
