"""URL fetching: address checks, redirects re-checked per hop, limits, and fetching through the API.

Every request here goes to a local http.server on 127.0.0.1. Host names other than
local ones are never resolved: where a test needs a "public" host, the resolver or the
address policy is patched, so no packet leaves the machine.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.server
import socket
import threading
import time

import httpx
import pytest
from conftest import live_server

from redline.errors import InputError
from redline.io import fetch as fetch_mod
from redline.io.fetch import address_problem, check_url, fetch, is_public_address

ARTICLE_HTML = """<!doctype html><html><head><title>The Traitors Among Us</title></head><body>
<nav><a href="/">Home</a> | <a href="/world">World</a></nav>
<article><h1>The Traitors Among Us</h1>
<p>They are traitors, and everyone knows it. The so-called experts have lied to us for years, and the
corrupt elites in the capital never stop their witch hunt against ordinary families.</p>
<p>This is the worst crisis in history. Either we stand together now or our nation will be destroyed.
Enough is enough! The brutal regime must answer for the devastating damage it has done.</p>
<p>According to experts, the threat is growing every day, and the danger to our country is real.</p>
</article><footer>Copyright 2024 Example News</footer></body></html>"""


class _Handler(http.server.BaseHTTPRequestHandler):
    routes: dict = {}
    seen: list = []

    def do_GET(self):  # noqa: N802 (http.server's spelling)
        self.seen.append((self.path, self.headers.get("Host")))
        route = self.routes.get(self.path.split("?")[0])
        if route is None:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        status, headers, body = route() if callable(route) else route
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        if "Content-Length" not in headers:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@contextlib.contextmanager
def local_site(routes: dict):
    """An HTTP server on 127.0.0.1 with the given {path: (status, headers, body)} routes."""
    handler = type("Handler", (_Handler,), {"routes": dict(routes), "seen": []})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", handler
    finally:
        server.shutdown()
        server.server_close()


def html_route(body: str = ARTICLE_HTML, ctype: str = "text/html; charset=utf-8"):
    return (200, {"Content-Type": ctype}, body.encode("utf-8"))


def redirect(location: str):
    return (302, {"Location": location}, b"")


# --- the address policy --------------------------------------------------------------
@pytest.mark.parametrize("addr", ["127.0.0.1", "10.0.0.1", "192.168.1.1", "172.16.5.4", "169.254.169.254", "::1",
                                  "0.0.0.0", "::", "224.0.0.1", "100.64.0.1", "fe80::1", "fc00::1",
                                  "::ffff:127.0.0.1", "::ffff:10.0.0.1", "2002:0a00:0001::1", "240.0.0.1"])
def test_private_and_special_addresses_are_refused(addr):
    assert address_problem(addr) is not None
    assert not is_public_address(addr)


@pytest.mark.parametrize("addr", ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "93.184.216.34"])
def test_public_addresses_pass(addr):
    assert address_problem(addr) is None  # judged offline: nothing is fetched


@pytest.mark.parametrize("url", ["http://10.0.0.1/", "http://192.168.1.1/admin",
                                 "http://169.254.169.254/latest/meta-data/",
                                 "http://[::1]:8000/", "http://127.0.0.1/", "http://2130706433/", "http://0x7f.1/",
                                 "https://[::ffff:169.254.169.254]/"])
def test_urls_to_private_targets_are_refused_before_any_connection(url):
    with pytest.raises(InputError, match="refusing to fetch"):
        check_url(url, allow_private=False)


@pytest.mark.parametrize("url,why", [
    ("file:///etc/passwd", "only http"), ("/etc/passwd", "only http"), ("ftp://127.0.0.1/x", "only http"),
    ("javascript:alert(1)", "only http"), ("gopher://127.0.0.1:25/", "only http"), ("", "empty"),
    ("http://user:secret@127.0.0.1/", "user name"), ("http:///no-host", "no host"),
    ("http://127.0.0.1:99999/", "valid"),
])
def test_bad_urls_are_refused(url, why):
    with pytest.raises(InputError, match=why):
        fetch(url, allow_private=True)


# --- fetching from the local site -----------------------------------------------------
def test_fetch_html_article_with_allow_private():
    with local_site({"/article": html_route()}) as (base, handler):
        got = fetch(base + "/article", allow_private=True)
    assert "They are traitors" in got.text
    assert "Copyright" not in got.text and "Home" not in got.text.split("\n")[0]
    assert got.content_type == "text/html"
    assert got.title == "The Traitors Among Us"


def test_fetch_refuses_loopback_by_default_and_sends_nothing():
    with local_site({"/article": html_route()}) as (base, handler):
        with pytest.raises(InputError, match="loopback"):
            fetch(base + "/article")
        assert handler.seen == []


def test_fetch_plain_text_as_is():
    body = "Line one.\nThey are traitors!\n"
    with local_site({"/a.txt": (200, {"Content-Type": "text/plain; charset=utf-8"}, body.encode())}) as (base, _):
        assert fetch(base + "/a.txt", allow_private=True).text == body


@pytest.mark.parametrize("route,why", [
    ((200, {"Content-Type": "application/pdf"}, b"%PDF-1.4"), "not an HTML page"),
    ((200, {"Content-Type": "image/png"}, b"\x89PNG"), "not an HTML page"),
    ((200, {"Content-Type": "text/html"},
      b"<html><head><script>var a=1;</script></head><body><img src=x></body></html>"), "no article text"),
    ((200, {"Content-Type": "text/html"}, b""), "empty"),
    ((500, {"Content-Type": "text/html"}, b"oops"), "HTTP 500"),
    ((302, {}, b""), "without a Location"),
])
def test_fetch_failures_are_input_errors(route, why):
    with local_site({"/x": route}) as (base, _):
        with pytest.raises(InputError, match=why):
            fetch(base + "/x", allow_private=True)


def test_fetch_404_and_unreachable():
    with local_site({}) as (base, _):
        with pytest.raises(InputError, match="HTTP 404"):
            fetch(base + "/missing", allow_private=True)
    # A port nobody listens on: bind one, close it, then connect.
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    with pytest.raises(InputError, match="cannot reach"):
        fetch(f"http://127.0.0.1:{port}/", allow_private=True)


def test_fetch_size_cap_streamed_and_declared():
    big = b"<html><body><p>" + b"word " * 5000 + b"</p></body></html>"
    with local_site({"/declared": (200, {"Content-Type": "text/html"}, big),
                     "/chunked": (200, {"Content-Type": "text/html", "Content-Length": "10"}, big)}) as (base, _):
        with pytest.raises(InputError, match="at most 1,000"):
            fetch(base + "/declared", allow_private=True, max_bytes=1000)
    # A body larger than it declares is cut by the streaming counter, not trusted.
    with local_site({"/liar": (200, {"Content-Type": "text/html"}, big)}) as (base, _):
        with pytest.raises(InputError, match="larger than|at most"):
            fetch(base + "/liar", allow_private=True, max_bytes=2000)


def test_fetch_timeout():
    def slow():
        time.sleep(1.5)
        return html_route()
    with local_site({"/slow": slow}) as (base, _):
        t0 = time.monotonic()
        with pytest.raises(InputError, match="did not answer|longer than"):
            fetch(base + "/slow", allow_private=True, timeout=0.4)
        assert time.monotonic() - t0 < 1.4


def test_redirects_are_followed_and_counted():
    with local_site({"/a": redirect("/b"), "/b": redirect("/article"), "/article": html_route(),
                     "/loop": redirect("/loop")}) as (base, handler):
        got = fetch(base + "/a", allow_private=True)
        assert got.final_url == base + "/article" and len(got.redirects) == 2
        with pytest.raises(InputError, match="redirects more than 5"):
            fetch(base + "/loop", allow_private=True)
        assert sum(1 for p, _ in handler.seen if p == "/loop") == 6


@pytest.fixture
def only_127_0_0_1_is_public(monkeypatch):
    """Pretend 127.0.0.1 is a public address (the real policy for everything else)."""
    real = fetch_mod.address_problem
    monkeypatch.setattr(fetch_mod, "address_problem", lambda a: None if str(a) == "127.0.0.1" else real(a))


def test_redirect_to_private_address_is_refused_at_that_hop(only_127_0_0_1_is_public):
    with local_site({"/go": None}) as (base, handler):
        port = base.rsplit(":", 1)[1]
        handler.routes["/go"] = redirect(f"http://127.0.0.2:{port}/article")
        handler.routes["/go6"] = redirect(f"http://[::1]:{port}/article")
        handler.routes["/article"] = html_route()
        with pytest.raises(InputError, match="127.0.0.2 is not a public address: 127.0.0.0/8 is loopback"):
            fetch(base + "/go")
        with pytest.raises(InputError, match="::1 is not a public address: ::1/128 is loopback"):
            fetch(base + "/go6")
        # The first hop was fetched (it is "public" here); the private target never was.
        assert [p for p, _ in handler.seen] == ["/go", "/go6"]


def test_connects_to_the_vetted_address_with_the_real_host_name(monkeypatch):
    """No second DNS lookup: the URL's host is replaced by the vetted IP, Host keeps the name."""
    calls = []

    def fake_resolve(host, port):
        calls.append(host)
        return ["127.0.0.1"]  # a rebinding resolver would answer something else next time

    monkeypatch.setattr(fetch_mod, "resolve", fake_resolve)
    with local_site({"/article": html_route()}) as (base, handler):
        port = base.rsplit(":", 1)[1]
        got = fetch(f"http://news.example:{port}/article", allow_private=True)
    assert "traitors" in got.text
    assert calls == ["news.example"]
    assert handler.seen == [("/article", f"news.example:{port}")]


def test_every_resolved_address_must_be_public(monkeypatch):
    monkeypatch.setattr(fetch_mod, "resolve", lambda host, port: ["8.8.8.8", "10.1.2.3"])
    with pytest.raises(InputError, match="10.1.2.3 is not a public address: 10.0.0.0/8 is private-use"):
        check_url("http://mixed.example/", allow_private=False)


# --- through the server's API ----------------------------------------------------------


def test_api_fetches_url_with_allow_private():
    from redline.server import create_app
    expected = fetch_mod.html_to_text(ARTICLE_HTML)[0]
    with local_site({"/article": html_route()}) as (site, _):
        with live_server(create_app(allow_private=True, components=("lexicon",))) as api:
            r = httpx.post(api + "/api/analyze", json={"url": site + "/article", "id": "local"}, timeout=30)
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["id"] == "local"
    assert doc["text_sha256"] == hashlib.sha256(expected.encode()).hexdigest()
    assert any(s["text"].lower().startswith("traitor") for s in doc["techniques"])


def test_api_refuses_loopback_url_by_default():
    from redline.server import create_app
    with local_site({"/article": html_route()}) as (site, handler):
        with live_server(create_app(components=("lexicon",))) as api:
            r = httpx.post(api + "/api/analyze", json={"url": site + "/article"}, timeout=30)
            r2 = httpx.post(api + "/api/analyze", json={"url": "http://169.254.169.254/latest/meta-data/"}, timeout=30)
        assert handler.seen == []
    assert r.status_code == 422 and "loopback" in r.json()["error"]
    assert r2.status_code == 422 and "link-local" in r2.json()["error"]


# --- the IANA special-purpose registries, address by address (in-process, no connection) ---
import ipaddress  # noqa: E402

from redline.io.fetch import SPECIAL_IPV4, SPECIAL_IPV6  # noqa: E402


def _samples(network: str) -> list[str]:
    """First, second, middle and last address of a block (as many as it has)."""
    net = ipaddress.ip_network(network)
    picks = {0, 1, net.num_addresses // 2, net.num_addresses - 1}
    return [str(net.network_address + i) for i in sorted(p for p in picks if p < net.num_addresses)]


SPECIAL_SAMPLES = [(addr, net) for net, _ in SPECIAL_IPV4 + SPECIAL_IPV6 for addr in _samples(net)]
V4_SAMPLES = [(addr, net) for net, _ in SPECIAL_IPV4 for addr in _samples(net)]


@pytest.fixture
def no_connections(monkeypatch):
    """Any attempt to open a connection fails the test: these checks must be pure."""
    def refuse(*args, **kwargs):
        raise AssertionError("a connection was attempted")
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.mark.parametrize("addr,block", SPECIAL_SAMPLES)
def test_every_special_purpose_block_is_refused(addr, block, no_connections):
    why = address_problem(addr)
    assert why is not None, f"{addr} (in {block}) passed"


@pytest.mark.parametrize("addr,block", V4_SAMPLES)
def test_ipv6_forms_of_special_ipv4_addresses_are_refused(addr, block, no_connections):
    v4 = int(ipaddress.IPv4Address(addr))
    forms = {
        "mapped": ipaddress.IPv6Address((0xFFFF << 32) | v4),
        "nat64": ipaddress.IPv6Address((0x64FF9B << 96) | v4),
        "compatible": ipaddress.IPv6Address(v4),
        "6to4": ipaddress.IPv6Address((0x2002 << 112) | (v4 << 80) | 1),
        "teredo": ipaddress.IPv6Address((0x20010000 << 96) | (v4 ^ 0xFFFFFFFF)),
    }
    for kind, ip6 in forms.items():
        assert address_problem(str(ip6)) is not None, f"{kind} form {ip6} of {addr} passed"


@pytest.mark.parametrize("addr", ["192.0.0.8", "192.0.0.100", "192.0.0.172", "fec0::1", "feff::1", "2002:808:808::1",
                                  "3fff::1", "3fff:fff:ffff::1", "2001:db8::1", "192.88.99.1", "5f00::1",
                                  "100::1", "64:ff9b:1::1", "2001:2::1", "198.19.255.255", "::808:808"])
def test_gaps_of_is_global_are_closed(addr, no_connections):
    """The issue's gaps: on Python 3.11 ipaddress calls several of these global."""
    assert address_problem(addr) is not None


@pytest.mark.parametrize("addr", ["192.0.1.0", "192.0.3.0", "100.63.255.255", "100.128.0.0", "198.17.255.255",
                                  "198.20.0.0", "223.255.255.254", "9.255.255.255", "11.0.0.0", "172.32.0.1",
                                  "2001:200::1", "2003::1", "3fff:1000::1", "2a00:1450:4001::1",
                                  "64:ff9b::808:808"])
def test_public_neighbours_of_special_blocks_pass(addr, no_connections):
    assert address_problem(addr) is None


@pytest.mark.parametrize("net,_", SPECIAL_IPV4 + SPECIAL_IPV6)
def test_url_to_each_special_block_is_refused_before_connecting(net, _, monkeypatch, no_connections):
    addr = _samples(net)[-1]
    monkeypatch.setattr(fetch_mod, "resolve", lambda host, port: [addr])  # no resolver either
    with pytest.raises(InputError, match="refusing to fetch"):
        check_url("http://news.example/article", allow_private=False)
