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
