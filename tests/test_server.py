"""The web server, driven over real HTTP: uvicorn on a free loopback port, httpx as the client."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
import pytest
from conftest import live_server

from redline.doc import Document
from redline.pipeline import analyze, register
from redline.server import create_app

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / "redline" / "models" / "technique" / "model.safetensors"
EXAMPLE = Path(__file__).resolve().parents[2] / "shared" / "examples" / "assad-redline.txt"
ARTICLE = ("They are traitors! Everyone knows the so-called experts lie.\n"
           "Either we act now or our nation will be destroyed. Enough is enough!\n")




@pytest.fixture(scope="module")
def base():
    with live_server(create_app(components=("lexicon",), max_chars=20_000)) as url:
        yield url


@pytest.fixture(scope="module")
def client(base):
    with httpx.Client(base_url=base, timeout=30, trust_env=False) as c:
        yield c


def _error(r: httpx.Response, status: int) -> str:
    assert r.status_code == status, (r.status_code, r.text)
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert set(body) == {"error"} and body["error"]
    return body["error"]


def test_healthz(client):
    r = client.get("/healthz")
    assert r.status_code == 200 and r.json()["status"] == "ok" and r.json()["components"] == ["lexicon"]


def test_techniques(client):
    from redline.taxonomy import as_json
    r = client.get("/api/techniques")
    assert r.status_code == 200 and r.json() == as_json()


def test_analyze_text_is_exactly_the_library_json(client):
    r = client.post("/api/analyze", json={"text": ARTICLE, "id": "art-1"})
    assert r.status_code == 200, r.text
    assert r.json() == analyze(ARTICLE, id="art-1", components=("lexicon",)).to_json()
    assert any(s["text"] == "traitors" for s in r.json()["techniques"])


def test_analyze_defaults_and_threshold(client):
    r = client.post("/api/analyze", json={"text": ARTICLE, "threshold": 0.5})
    assert r.status_code == 200 and r.json()["id"] == "doc"


@pytest.mark.parametrize("payload,status,needle", [
    ({"text": ""}, 422, "empty"),
    ({"text": "   \n "}, 422, "empty"),
    ({"text": "x" * 20_001}, 413, "at most 20,000"),
    ({"url": "file:///etc/passwd"}, 422, "only http"),
    ({"url": "/etc/passwd"}, 422, "only http"),
    ({"url": "http://127.0.0.1:1/"}, 422, "loopback"),
    ({}, 422, "exactly one"),
    ({"text": "a", "url": "http://example.com"}, 422, "exactly one"),
    ({"text": 123}, 422, "text"),
    ({"text": "a", "threshold": 2}, 422, "threshold"),
    ({"text": "a", "colour": "red"}, 422, "colour"),
    ({"text": "a\x00b"}, 422, "NUL"),
])
def test_bad_input_is_a_json_4xx(client, payload, status, needle):
    assert needle in _error(client.post("/api/analyze", json=payload), status)


def test_invalid_json(client):
    r = client.post("/api/analyze", content=b'{"text": "unterminated', headers={"content-type": "application/json"})
    assert "not valid JSON" in _error(r, 400)
    r = client.post("/api/analyze", content=b"[1, 2]", headers={"content-type": "application/json"})
    _error(r, 422)


def test_oversize_body_413(client):
    big = b'{"text": "' + b"a" * (2 * 1024 * 1024 + 10) + b'"}'
    assert "larger than" in _error(client.post("/api/analyze", content=big,
                                               headers={"content-type": "application/json"}), 413)

    def chunks():  # no Content-Length: the streamed body is counted too
        for _ in range(40):
            yield b"a" * 65536

    r = client.post("/api/analyze", content=chunks(), headers={"content-type": "application/json"})
    _error(r, 413)


def test_not_found_is_json(client):
    _error(client.get("/no/such/page"), 404)


def test_openapi_and_docs(client):
    spec = client.get("/openapi.json").json()
    assert "/api/analyze" in spec["paths"] and "/api/techniques" in spec["paths"] and "/healthz" in spec["paths"]
    assert client.get("/docs").status_code == 200


def test_index_page(client):
    r = client.get("/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in r.headers["content-security-policy"]
    page = r.text
    assert 'action="/report"' in page and 'name="text"' in page and 'name="file"' in page and 'name="url"' in page
    assert "<link" not in page and " src=" not in page and "http://" not in page.replace('placeholder="https://', "")


def test_form_text_gives_the_report(client):
    r = client.post("/report", data={"text": ARTICLE + "<script>alert(1)</script>"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert '<mark class="m"' in r.text and "&lt;script&gt;alert(1)" in r.text and "<script>alert(1)" not in r.text
    assert 'href="/"' in r.text


def test_form_uploads(client):
    r = client.post("/report", files={"file": ("piece.txt", ARTICLE.encode(), "text/plain")})
    assert r.status_code == 200 and "traitors" in r.text and "piece" in r.text
    page = ("<html><head><title>Op-ed</title></head><body><nav>Menu</nav><article><p>"
            + ARTICLE.replace("\n", "</p><p>") + "</p></article></body></html>")
    r = client.post("/report", files={"file": ("op-ed.html", page.encode(), "text/html")})
    assert r.status_code == 200 and '<mark class="m"' in r.text
    r = client.post("/report", files={"file": ("scan.pdf", b"%PDF-1.4 ...", "application/pdf")})
    assert r.status_code == 422 and "upload a .txt or .html file" in r.text
    r = client.post("/report", files={"file": ("bin.txt", b"\x00\x01\x02" * 100, "text/plain")})
    assert r.status_code == 422 and "binary" in r.text


def test_form_errors_show_on_the_page(client):
    r = client.post("/report", data={"text": "  ", "url": ""})
    assert r.status_code == 422 and 'class="error"' in r.text
    r = client.post("/report", data={"url": "file:///etc/passwd"})
    assert r.status_code == 422 and "only http" in r.text and 'value="file:///etc/passwd"' in r.text
    r = client.post("/report", data={"text": "y" * 20_001})
    assert r.status_code == 413 and "at most 20,000" in r.text


# --- concurrency and loading -----------------------------------------------------------
_gate = threading.Event()
_factory_calls: list[str] = []


class _Slow:
    name = "test-slow"

    def __call__(self, doc: Document) -> Document:
        _gate.wait(10)
        return doc


@register("test-slow")
def _make_slow(**options):
    return _Slow()


class _Counted:
    name = "test-counted"

    def __call__(self, doc: Document) -> Document:
        return doc


@register("test-counted")
def _make_counted(**options):
    _factory_calls.append("made")
    return _Counted()


def test_busy_server_answers_503():
    _gate.clear()
    with live_server(create_app(components=("test-slow",), max_concurrent=1, max_queue=0)) as url:
        results = {}

        def first():
            results["first"] = httpx.post(url + "/api/analyze", json={"text": "one"}, timeout=30)

        t = threading.Thread(target=first)
        t.start()
        try:
            deadline = time.monotonic() + 10
            while httpx.get(url + "/healthz").json()["busy"] < 1:
                assert time.monotonic() < deadline
                time.sleep(0.02)
            r = httpx.post(url + "/api/analyze", json={"text": "two"}, timeout=30)
            assert "busy" in _error(r, 503)
            assert r.headers.get("retry-after")
        finally:
            _gate.set()
            t.join(15)
        assert results["first"].status_code == 200


def test_pipeline_is_built_once_at_startup():
    _factory_calls.clear()
    app = create_app(components=("test-counted",))
    assert _factory_calls == []  # nothing loads at import or app creation
    with live_server(app) as url:
        assert _factory_calls == ["made"]  # loaded by startup, before any request
        for i in range(3):
            assert httpx.post(url + "/api/analyze", json={"text": f"text {i}"}).status_code == 200
    assert _factory_calls == ["made"]


@pytest.mark.skipif(not MODEL.exists(), reason="the trained technique model is not in redline/models/technique")
def test_default_model_pipeline():
    text = EXAMPLE.read_text(encoding="utf-8") if EXAMPLE.exists() else ARTICLE
    with live_server(create_app(components=("tagger",))) as url:
        r = httpx.post(url + "/api/analyze", json={"text": text, "id": "model"}, timeout=120)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["id"] == "model" and "tagger" in body["model"]
    for s in body["techniques"]:
        assert text[s["start"]:s["end"]] == s["text"]


@pytest.mark.skipif(MODEL.exists(), reason="only meaningful without a trained model")
def test_missing_model_stops_startup_with_a_clear_error():
    from fastapi.testclient import TestClient

    from redline.errors import ModelError
    with pytest.raises(ModelError, match="no technique model"):
        with TestClient(create_app(components=("tagger",))):
            pass


# --- hardening (issue 18) -------------------------------------------------------------------
import contextlib  # noqa: E402
import logging  # noqa: E402
import socket  # noqa: E402

from redline.server import RateLimitedLog, server_config  # noqa: E402


@contextlib.contextmanager
def guarded_server(app, **config):
    """Like conftest.live_server, but with the server configuration `redline serve` uses."""
    import uvicorn
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(server_config(app, "127.0.0.1", port, log_level="warning", **config))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}", port
    finally:
        server.should_exit = True
        thread.join(15)
        sock.close()


@pytest.mark.parametrize("body,needle", [
    ('{"text": "\\ud800"}', "surrogate"),
    ('{"text": "They are traitors! \\udfff"}', "surrogate"),
    ('{"text": "ok", "id": "\\ud800"}', "id"),
    ('{"url": "http://\\ud800.example/"}', "surrogate"),
    ('{"text": "ok", "threshold": true}', "threshold"),
    ('{"text": "ok", "threshold": "0.5"}', "threshold"),
    ('{"text": "ok", "threshold": null, "id": 5}', "id"),
])
def test_unencodable_text_and_loose_types_are_422(client, body, needle):
    r = client.post("/api/analyze", content=body.encode(), headers={"content-type": "application/json"})
    assert needle in _error(r, 422)


def test_integer_threshold_is_still_a_number(client):
    assert client.post("/api/analyze", json={"text": ARTICLE, "threshold": 1}).status_code == 200


def test_a_file_part_named_text_is_refused(client):
    r = client.post("/report", files={"text": ("x.txt", ARTICLE.encode(), "text/plain")})
    assert r.status_code == 422 and "must be text, not a file" in r.text and "UploadFile" not in r.text
    r = client.post("/report", data={"file": "not a file", "text": ""})
    assert r.status_code == 422 and "must be a file upload" in r.text


def test_oversize_form_gets_the_page(client):
    r = client.post("/report", data={"text": "a" * (2 * 1024 * 1024 + 10)})
    assert r.status_code == 413 and r.headers["content-type"].startswith("text/html")
    assert 'class="error"' in r.text and "larger than" in r.text
    assert "default-src 'none'" in r.headers["content-security-policy"]


_slow_release = threading.Event()
_after_calls: list[str] = []


class _SlowStep:
    name = "test-slow-step"

    def __call__(self, doc: Document) -> Document:
        if len(doc.text) > 20_000 or doc.text.startswith("slow"):
            _slow_release.wait(20)
        return doc


class _AfterStep:
    name = "test-after-step"

    def __call__(self, doc: Document) -> Document:
        _after_calls.append(doc.id)
        return doc


register("test-slow-step")(lambda **o: _SlowStep())
register("test-after-step")(lambda **o: _AfterStep())
SLOW = ("test-slow-step", "test-after-step")


def _wait_busy(url: str, n: int, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while httpx.get(url + "/healthz").json()["busy"] < n:
        assert time.monotonic() < deadline, "the request never started"
        time.sleep(0.02)


def test_work_for_a_client_that_hung_up_is_cancelled():
    _slow_release.clear()
    _after_calls.clear()
    with live_server(create_app(components=SLOW, max_concurrent=1, max_queue=0)) as url:
        with pytest.raises(httpx.ReadTimeout):
            httpx.post(url + "/api/analyze", json={"text": "slow text", "id": "gone"}, timeout=1.0)
        deadline = time.monotonic() + 10
        while httpx.get(url + "/healthz").json()["abandoned"] < 1:  # the server has seen the hang-up
            assert time.monotonic() < deadline
            time.sleep(0.02)
        _slow_release.set()  # the first step ends; the second must not run for a client that left
        deadline = time.monotonic() + 10
        while httpx.get(url + "/healthz").json()["busy"]:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        assert "gone" not in _after_calls
        r = httpx.post(url + "/api/analyze", json={"text": "quick", "id": "next"}, timeout=10)
        assert r.status_code == 200 and _after_calls == ["next"]


class _ParseThenWait:
    """Needs the parse (so the pipeline starts it in the parse thread), then waits."""
    name = "test-parse-then-wait"
    uses_parse = True

    def __call__(self, doc: Document) -> Document:
        _slow_release.wait(20)
        return doc


register("test-parse-then-wait")(lambda **o: _ParseThenWait())


def test_the_parse_of_a_long_text_stops_at_the_next_piece_when_the_client_hangs_up(monkeypatch):
    from redline.components import nlp as nlp_mod
    nlp = nlp_mod.get_nlp()
    pieces = []

    class SlowSpy:  # the real parse, a piece at a time, slowed so that the hang-up comes mid-parse
        def __getattr__(self, name):
            return getattr(nlp, name)

        def __call__(self, text):
            pieces.append(len(text))
            time.sleep(0.05)
            return nlp(text)

    monkeypatch.setattr(nlp_mod, "get_nlp", lambda: SlowSpy())
    monkeypatch.setattr(nlp_mod, "PARSE_PIECE", 300)
    text = (ARTICLE * 200)[:24_000]
    total = len(nlp_mod.parse_pieces(text))
    _slow_release.clear()
    with live_server(create_app(components=("test-parse-then-wait",), max_chars=30_000)) as url:
        try:
            with pytest.raises(httpx.ReadTimeout):
                httpx.post(url + "/api/analyze", json={"text": text}, timeout=1.0)
            deadline = time.monotonic() + 10
            while httpx.get(url + "/healthz").json()["abandoned"] < 1:
                assert time.monotonic() < deadline
                time.sleep(0.02)
            time.sleep(0.5)  # at most one piece more after the hang-up
            stopped_at = len(pieces)
            time.sleep(1.0)
            assert len(pieces) == stopped_at < total, (stopped_at, total)
        finally:
            _slow_release.set()
        deadline = time.monotonic() + 10
        while httpx.get(url + "/healthz").json()["busy"]:
            assert time.monotonic() < deadline
            time.sleep(0.02)


def test_an_overdue_analysis_gets_504_and_frees_its_slot():
    _slow_release.clear()
    _after_calls.clear()
    with live_server(create_app(components=SLOW, analysis_deadline_s=0.5)) as url:
        timer = threading.Timer(1.5, _slow_release.set)
        timer.start()
        r = httpx.post(url + "/api/analyze", json={"text": "slow one", "id": "late"}, timeout=30)
        assert "longer than 0.5 s" in _error(r, 504) and _after_calls == []
        assert httpx.get(url + "/healthz").json()["busy"] == 0
        timer.join()


def test_a_short_text_does_not_wait_behind_long_ones():
    _slow_release.clear()
    with live_server(create_app(components=SLOW, max_concurrent=2, max_queue=4, max_chars=100_000)) as url:
        results = []
        long_posts = [threading.Thread(target=lambda: results.append(
            httpx.post(url + "/api/analyze", json={"text": "x " * 15_000}, timeout=60))) for _ in range(2)]
        for t in long_posts:
            t.start()
        try:
            _wait_busy(url, 2)
            t0 = time.monotonic()
            r = httpx.post(url + "/api/analyze", json={"text": ARTICLE}, timeout=10)
            assert r.status_code == 200 and time.monotonic() - t0 < 5
        finally:
            _slow_release.set()
            for t in long_posts:
                t.join(30)
        assert sorted(r.status_code for r in results) == [200, 200]


def test_a_full_queue_answers_503_with_retry_after_at_once():
    _slow_release.clear()
    with live_server(create_app(components=SLOW, max_concurrent=1, max_queue=1)) as url:
        threads = [threading.Thread(target=httpx.post, args=(url + "/api/analyze",),
                                    kwargs={"json": {"text": "slow"}, "timeout": 30}) for _ in range(2)]
        for t in threads:
            t.start()
        try:
            _wait_busy(url, 2)
            t0 = time.monotonic()
            r = httpx.post(url + "/api/analyze", json={"text": "slow third"}, timeout=30)
            assert "busy" in _error(r, 503) and r.headers["retry-after"] and time.monotonic() - t0 < 2
        finally:
            _slow_release.set()
            for t in threads:
                t.join(30)


def test_slow_url_fetches_cannot_take_the_text_slots(monkeypatch):
    from redline.errors import InputError
    from redline.io import fetch as fetch_mod
    release = threading.Event()

    def slow_fetch(url, allow_private=False, **kw):
        release.wait(20)
        raise InputError("gave up")

    monkeypatch.setattr(fetch_mod, "fetch", slow_fetch)
    with live_server(create_app(components=("lexicon",), max_concurrent=1, max_queue=1, max_fetches=1)) as url:
        threads = [threading.Thread(target=httpx.post, args=(url + "/api/analyze",),
                                    kwargs={"json": {"url": "http://slow.example/"}, "timeout": 30})
                   for _ in range(2)]
        for t in threads:
            t.start()
        try:
            deadline = time.monotonic() + 10
            while httpx.get(url + "/healthz").json()["fetching"] < 2:
                assert time.monotonic() < deadline
                time.sleep(0.02)
            r = httpx.post(url + "/api/analyze", json={"url": "http://slow.example/3"}, timeout=30)
            assert "fetching other URLs" in _error(r, 503)
            r = httpx.post(url + "/api/analyze", json={"text": ARTICLE}, timeout=30)
            assert r.status_code == 200
        finally:
            release.set()
            for t in threads:
                t.join(30)


def _stalled(port: int, n: int) -> list[socket.socket]:
    socks = []
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # never finished
        socks.append(s)
    return socks


def test_stalled_headers_are_timed_out_and_cannot_crowd_out_requests():
    with guarded_server(create_app(components=("lexicon",)), max_connections=20, header_timeout_s=1.0) as (url, port):
        socks = _stalled(port, 40)  # twice the cap
        try:
            with httpx.Client(timeout=5) as c:  # a new client still gets in, at once
                for _ in range(5):
                    t0 = time.monotonic()
                    assert c.get(url + "/healthz", headers={"connection": "close"}).status_code == 200
                    assert time.monotonic() - t0 < 1.0
            time.sleep(3)  # > header timeout + the 1 s sweep
            for s in socks:
                s.settimeout(2)
                try:
                    assert s.recv(1024) == b""  # closed by the server
                except ConnectionResetError:
                    pass
        finally:
            for s in socks:
                s.close()


def test_a_slow_body_gets_408():
    with live_server(create_app(components=("lexicon",), body_timeout_s=0.5)) as url:
        port = int(url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port)) as s:
            s.sendall(b"POST /api/analyze HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                      b"Content-Length: 100\r\n\r\n{\"text\": ")
            s.settimeout(5)
            answer = b""
            while chunk := s.recv(4096):  # the head and the body may come in separate segments
                answer += chunk
        assert answer.startswith(b"HTTP/1.1 408") and b"did not arrive within 0.5 s" in answer


def test_repeated_log_lines_are_rate_limited():
    logger = logging.getLogger("redline.test.flood")
    records = []

    class Keep(logging.Handler):
        def emit(self, record):
            records.append(record.getMessage())

    handler = Keep()
    handler.addFilter(RateLimitedLog(burst=3, window_s=0.3))
    logger.addHandler(handler)
    logger.propagate = False
    try:
        for _ in range(1000):
            logger.error("socket.accept() out of system resource")
        assert len(records) == 3
        time.sleep(0.35)
        logger.error("socket.accept() out of system resource")
        assert len(records) == 4 and "997 similar messages suppressed" in records[-1]
        logger.error("something else")
        assert records[-1] == "something else"
    finally:
        logger.removeHandler(handler)


# --- memory after a burst -------------------------------------------------------------------
def _rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as fh:
        return next(int(line.split()[1]) / 1024 for line in fh if line.startswith("VmRSS:"))


@pytest.mark.skipif(not MODEL.exists(), reason="the trained technique model is not in redline/models/technique")
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads RSS from /proc")
def test_memory_returns_to_its_baseline_after_a_burst(tmp_path):
    """`redline serve` (a real process, loopback) keeps its RSS within 10% after a burst.

    Before the arena cap and the trim when idle (server.limit_malloc_arenas), this burst
    left the server 23% above its warmed-up baseline, 593 -> 732 MB (each worker
    thread's malloc arena kept fragments of the model's activations); now +4%.
    """
    import os
    import socket
    import subprocess
    import sys
    from concurrent.futures import ThreadPoolExecutor

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
    log = open(tmp_path / "serve.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "redline.cli", "serve", "--host", "127.0.0.1", "--port", str(port),
                             "--components", "tagger"], stdout=log, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    text = (ROOT / "examples" / "op-ed.txt").read_text(encoding="utf-8")
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None and time.monotonic() < deadline, (tmp_path / "serve.log").read_text()
            try:
                if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        with httpx.Client(base_url=url, timeout=120, trust_env=False) as c:
            for n in range(1, 6):  # warm, at each length: the first passes allocate what stays
                assert c.post("/api/analyze", json={"text": f"{text}\n\n" * n}).status_code == 200
        time.sleep(0.5)
        before = _rss_mb(proc.pid)

        def client(i: int) -> int:
            with httpx.Client(base_url=url, timeout=120, trust_env=False) as c:
                return sum(c.post("/api/analyze", json={"text": f"{text} ({i}.{k})\n\n" * (1 + (i + k) % 5)}).status_code == 200
                           for k in range(4))

        with ThreadPoolExecutor(8) as pool:
            assert sum(pool.map(client, range(8))) == 32
        time.sleep(0.5)
        after = _rss_mb(proc.pid)
        assert after <= before * 1.10, f"RSS {before:.0f} MB before the burst, {after:.0f} MB after"
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
