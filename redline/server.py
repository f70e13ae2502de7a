"""redline's web server: a page to paste, upload or link an article, and a JSON API.

    >>> from redline.server import create_app, run
    >>> run(port=8000)                      # what `redline serve` calls

Routes
    GET  /                 the form (paste text, upload .txt/.html, or give a URL)
    POST /report           the form's target: the same HTML report as `redline analyze -f html`
    POST /api/analyze      {"text": ...} or {"url": ...} (+ optional "id", "threshold") -> Document JSON
    GET  /api/techniques   the taxonomy (redline.taxonomy.as_json())
    GET  /healthz          liveness and what is loaded
    GET  /docs, /openapi.json   FastAPI's own API docs

The model loads once, at startup, and is shared. Analyses run in worker threads,
at most `max_concurrent` at a time with up to `max_queue` more waiting; beyond that
the server answers 503 at once rather than queueing without bound. Bodies over
`max_body` bytes get 413, texts over `max_chars` characters 413. API errors are
JSON ``{"error": "..."}``; the form shows them on the page.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from typing import Any

import anyio
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException

from redline.errors import InputError, RedlineError

log = logging.getLogger("redline.server")

MAX_BODY = 2 * 1024 * 1024
MAX_CHARS = 200_000
MAX_ID = 200
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
    """Every worker is busy and the queue is full."""


class _Gate:
    """At most `running` analyses at once, `running + waiting` admitted; the rest refused."""

    def __init__(self, running: int, waiting: int):
        self.analysis = anyio.CapacityLimiter(max(1, running))
        self.fetching = anyio.CapacityLimiter(4)
        self.capacity = max(1, running) + max(0, waiting)
        self.pending = 0  # touched only from the event loop thread

    @contextlib.contextmanager
    def admit(self):
        if self.pending >= self.capacity:
            raise Busy()
        self.pending += 1
        try:
            yield
        finally:
            self.pending -= 1


class _BodyLimit:
    """ASGI middleware: refuse request bodies over `max_body` bytes with 413 JSON.

    The body is read here (at most `max_body` kept; an oversize one is drained up to a
    hard stop so that the client reads the 413 rather than a reset) and replayed.
    """

    def __init__(self, app, max_body: int):
        self.app = app
        self.max_body = max_body

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            return await self.app(scope, receive, send)
        declared = None
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    return await self._refuse(send, 400, "bad Content-Length header")
        too_big = declared is not None and declared > self.max_body
        chunks, size = [], 0
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
        if too_big:
            return await self._refuse(send, 413, f"the request body is larger than {self.max_body:,} bytes")
        data = b"".join(chunks)
        sent = False

        async def replay():
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": data, "more_body": False}
            return await receive()

        return await self.app(scope, replay, send)

    @staticmethod
    async def _refuse(send, status: int, message: str):
        payload = json.dumps({"error": message}).encode()
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(payload)).encode()),
                                (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": payload})


class AnalyzeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "examples": [{"text": "They are traitors! Never forget it.", "id": "example"}]})
    text: str | None = Field(None, description="The article text (give this or url).")
    url: str | None = Field(None, description="An http(s) URL to fetch the article from (give this or text).")
    id: str | None = Field(None, max_length=MAX_ID, description="Document id echoed in the result.")
    threshold: float | None = Field(None, ge=0.0, le=1.0, description="Decision threshold for the model.")


def _components_from_env() -> tuple[str, ...] | None:
    names = os.environ.get("REDLINE_COMPONENTS", "").strip()
    return tuple(n.strip() for n in names.split(",") if n.strip()) or None


def create_app(allow_private: bool = False, components: tuple[str, ...] | None = None, max_chars: int = MAX_CHARS,
               max_concurrent: int = 2, *, max_queue: int = 8, max_body: int = MAX_BODY, preload: bool = True):
    """The FastAPI app. `components=None` means $REDLINE_COMPONENTS or the default pipeline."""
    import redline
    from redline.pipeline import DEFAULT_COMPONENTS, analyze, default_pipeline

    comps = tuple(components) if components else (_components_from_env() or DEFAULT_COMPONENTS)
    gate = _Gate(max_concurrent, max_queue)

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
    app.add_middleware(_BodyLimit, max_body=max_body)

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
        return error(503, "the server is busy analysing other texts; try again shortly", {"Retry-After": "5"})

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
        fetched = await anyio.to_thread.run_sync(lambda: fetch(url, allow_private), limiter=gate.fetching)
        meta = {"url": fetched.final_url}
        if fetched.title:
            meta["title"] = fetched.title
        return fetched.text, meta

    async def run_analysis(text: str, doc_id: str, meta: dict, threshold: float | None):
        check_length(text)
        if threshold is not None:
            threshold = round(float(threshold), 2)  # bounds the number of cached pipelines
        return await anyio.to_thread.run_sync(
            lambda: analyze(text, id=doc_id, meta=meta, threshold=threshold, components=comps),
            limiter=gate.analysis)

    # --- API ------------------------------------------------------------------------
    @app.post("/api/analyze", summary="Analyse one article",
              response_description="The document as `redline analyze -f json` prints it.",
              responses={400: {"description": "invalid JSON"}, 413: {"description": "too large"},
                         422: {"description": "bad input"}, 503: {"description": "busy"}})
    async def api_analyze(req: AnalyzeRequest) -> JSONResponse:
        if (req.text is None) == (req.url is None):
            raise HTTPException(422, 'give exactly one of "text" or "url"')
        with gate.admit():
            if req.url is not None:
                text, meta = await fetch_text(req.url)
            else:
                text, meta = req.text, {}
            doc = await run_analysis(text, req.id or "doc", meta, req.threshold)
        return JSONResponse(doc.to_json())

    @app.get("/api/techniques", summary="The technique taxonomy")
    async def api_techniques() -> JSONResponse:
        from redline.taxonomy import as_json
        return JSONResponse(as_json())

    @app.get("/healthz", summary="Liveness")
    async def healthz() -> dict[str, Any]:
        return {"status": "ok", "version": redline.__version__, "components": list(comps),
                "busy": gate.pending, "capacity": gate.capacity}

    # --- pages ----------------------------------------------------------------------
    def page(error_message: str | None = None, status: int = 200, **values) -> HTMLResponse:
        from redline.report import render_page
        html = render_page("index.html.j2", error=error_message, max_chars=max_chars, max_body=max_body,
                           components=", ".join(comps), values=values)
        return HTMLResponse(html, status_code=status, headers=PAGE_HEADERS)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def index() -> HTMLResponse:
        return page()

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
            text = str(form.get("text") or "")
            url = str(form.get("url") or "").strip()
            upload = form.get("file")
            meta: dict[str, Any] = {}
            doc_id = "pasted-text"
            if text.strip():
                pass
            elif upload is not None and getattr(upload, "filename", None):
                data = await upload.read()
                text = _upload_text(upload.filename, getattr(upload, "content_type", "") or "", data)
                doc_id = _safe_id(upload.filename)
                meta["file"] = upload.filename
            elif url:
                with gate.admit():
                    text, meta = await fetch_text(url)
                doc_id = url
            else:
                return page("Paste a text, choose a file or give a URL.", 422)
            with gate.admit():
                doc = await run_analysis(text, doc_id, meta, None)
        except HTTPException as exc:
            return page(str(exc.detail), exc.status_code, text=text[:max_chars], url=url)
        except Busy:
            return page("The server is busy analysing other texts; try again in a moment.", 503, text=text[:max_chars],
                        url=url)
        except InputError as exc:
            return page(str(exc), 422, text=text[:max_chars], url=url)
        html = render_html([doc], back_link="/")
        return HTMLResponse(html, headers=PAGE_HEADERS)

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


def run(host: str = "127.0.0.1", port: int = 8000, allow_private: bool = False,
        components: tuple[str, ...] | None = None, **options) -> None:
    """Serve redline with uvicorn (what `redline serve` calls)."""
    import uvicorn

    logging.basicConfig(level=logging.INFO, format="%(levelname)s: %(message)s")
    if host not in ("127.0.0.1", "localhost", "::1"):
        log.warning("serving on %s: anyone who can reach it can use this server (no authentication)", host)
    app = create_app(allow_private=allow_private, components=components, **options)
    uvicorn.run(app, host=host, port=port, log_level="info", proxy_headers=False, server_header=False)
