"""Fetching an article from a URL, safely enough to run behind a public server.

The server fetches URLs that strangers type, so every fetch is a possible SSRF:

* only ``http`` and ``https``; no ``file://``, no local paths, no credentials in the URL;
* the host name is resolved here and refused if ANY of its addresses is loopback,
  private, link-local, multicast, reserved, unspecified or otherwise not global
  (``allow_private=True`` lifts this, for tests and trusted deployments);
* the connection goes to the address that was vetted (the URL's host is replaced by
  the IP; the ``Host`` header and TLS SNI / certificate check keep the real name), so
  a second DNS answer cannot swap in an internal address (DNS rebinding);
* redirects are followed by hand, at most ``MAX_REDIRECTS``, and every hop is checked
  again as above;
* environment proxies are ignored (a proxy would resolve the name itself);
* a time limit for the whole fetch, a size cap on the streamed body, and only
  ``text/html`` (or XHTML) and ``text/plain`` are read.

HTML is reduced to its article text with trafilatura. Every failure is an
``InputError`` with a message a user can act on.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit, urlunsplit

from redline.errors import InputError

TIMEOUT_S = 10.0
MAX_BYTES = 5 * 1024 * 1024
MAX_REDIRECTS = 5
USER_AGENT = "redline/0.1 (+article analysis; https://github.com/redline)"
HTML_TYPES = ("text/html", "application/xhtml+xml")
TEXT_TYPES = ("text/plain",)
_REDIRECTS = (301, 302, 303, 307, 308)

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass
class Fetched:
    """What a fetch brought back: the final URL, its type and the article text."""

    url: str
    final_url: str
    content_type: str
    text: str
    title: str | None = None
    redirects: list[str] = field(default_factory=list)


def address_problem(addr: str | Address) -> str | None:
    """Why an address may not be fetched from a public server, or None if it is public."""
    try:
        ip = addr if isinstance(addr, (ipaddress.IPv4Address, ipaddress.IPv6Address)) else \
            ipaddress.ip_address(str(addr).split("%", 1)[0])
    except ValueError:
        return f"{addr!r} is not an IP address"
    if isinstance(ip, ipaddress.IPv6Address):
        # ::ffff:10.0.0.1, 64:ff9b::10.0.0.1, 2002:0a00:0001:: hide IPv4 addresses; judge those too.
        for inner in (ip.ipv4_mapped, ip.sixtofour, (ip.teredo or (None, None))[1]):
            if inner is not None:
                why = address_problem(inner)
                if why:
                    return why
    checks = (
        ("is_unspecified", "unspecified"),
        ("is_loopback", "loopback"),
        ("is_link_local", "link-local"),
        ("is_multicast", "multicast"),
        ("is_private", "private"),
        ("is_reserved", "reserved"),
    )
    for attr, word in checks:
        if getattr(ip, attr):
            return f"{ip} is {'an' if word[0] in 'aeiou' else 'a'} {word} address"
    if not ip.is_global:
        return f"{ip} is not a public address"
    return None


def is_public_address(addr: str | Address) -> bool:
    return address_problem(addr) is None


def resolve(host: str, port: int) -> list[str]:
    """Every address the name resolves to (IPv4 and IPv6), in resolver order, no duplicates."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise InputError(f"cannot resolve host {host!r}: {getattr(exc, 'strerror', None) or exc}") from None
    out: list[str] = []
    for family, _, _, _, sockaddr in infos:
        if family not in (socket.AF_INET, socket.AF_INET6):
            continue
        ip = str(sockaddr[0]).split("%", 1)[0]
        if ip not in out:
            out.append(ip)
    if not out:
        raise InputError(f"cannot resolve host {host!r}: no addresses")
    return out


def check_url(url: str, allow_private: bool = False) -> tuple[str, str, int, str]:
    """Validate one URL and vet its host. Returns (scheme, host, port, ip to connect to)."""
    if not isinstance(url, str) or not url.strip():
        raise InputError("the URL is empty")
    url = url.strip()
    if len(url) > 4096:
        raise InputError("the URL is too long")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise InputError(f"not a valid URL: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        shown = f"{scheme}://" if scheme else "no scheme"
        raise InputError(f"only http:// and https:// URLs can be fetched (got {shown})")
    if parts.username is not None or parts.password is not None:
        raise InputError("URLs with a user name or password are not fetched")
    host = parts.hostname
    if not host:
        raise InputError("the URL has no host name")
    port = port or (443 if scheme == "https" else 80)
    addrs = resolve(host, port)
    if not allow_private:
        for ip in addrs:
            why = address_problem(ip)
            if why:
                raise InputError(f"refusing to fetch {host}: {why}, and this server only fetches public addresses")
    return scheme, host, port, addrs[0]


def _ip_url(url: str, ip: str, port: int) -> str:
    """The same URL with the host replaced by the vetted IP address."""
    parts = urlsplit(url)
    hostpart = f"[{ip}]" if ":" in ip else ip
    return urlunsplit((parts.scheme.lower(), f"{hostpart}:{port}", parts.path or "/", parts.query, ""))


def _host_header(scheme: str, host: str, port: int) -> str:
    default = 443 if scheme == "https" else 80
    name = f"[{host}]" if ":" in host else host
    try:
        name = name.encode("idna").decode("ascii") if not name.startswith("[") else name
    except UnicodeError:
        pass
    return name if port == default else f"{name}:{port}"


def fetch(url: str, allow_private: bool = False, *, timeout: float = TIMEOUT_S, max_bytes: int = MAX_BYTES,
          max_redirects: int = MAX_REDIRECTS) -> Fetched:
    """Fetch a URL and return its article text (see the module doc for the rules)."""
    import httpx

    deadline = time.monotonic() + timeout
    current = url.strip() if isinstance(url, str) else url
    hops: list[str] = []
    with httpx.Client(trust_env=False, follow_redirects=False, verify=True,
                      timeout=httpx.Timeout(timeout)) as client:
        for _ in range(max_redirects + 1):
            scheme, host, port, ip = check_url(current, allow_private)
            left = deadline - time.monotonic()
            if left <= 0:
                raise InputError(f"fetching {url} took longer than {timeout:g} s")
            headers = {
                "Host": _host_header(scheme, host, port),
                "User-Agent": USER_AGENT,
                "Accept": "text/html,application/xhtml+xml,text/plain;q=0.9",
                "Accept-Encoding": "gzip, deflate",
            }
            extensions = {"sni_hostname": host, "timeout": {k: left for k in ("connect", "read", "write", "pool")}}
            try:
                request = client.build_request("GET", _ip_url(current, ip, port), headers=headers,
                                               extensions=extensions)
                response = client.send(request, stream=True)
            except httpx.TimeoutException:
                raise InputError(f"{host} did not answer within {timeout:g} s") from None
            except httpx.HTTPError as exc:
                raise InputError(f"cannot reach {host}: {exc.__class__.__name__}: {exc}") from None
            try:
                if response.status_code in _REDIRECTS:
                    location = response.headers.get("location")
                    if not location:
                        raise InputError(f"{host} answered {response.status_code} without a Location")
                    hops.append(current)
                    current = urljoin(current, location.strip())
                    continue
                if response.status_code >= 400:
                    raise InputError(f"{host} answered HTTP {response.status_code} for {current}")
                ctype = response.headers.get("content-type", "")
                mime = ctype.split(";", 1)[0].strip().lower()
                if mime not in HTML_TYPES + TEXT_TYPES:
                    raise InputError(f"{current} is {mime or 'of no stated type'}, not an HTML page or plain text")
                length = response.headers.get("content-length")
                if length and length.isdigit() and int(length) > max_bytes:
                    raise InputError(f"{current} is {int(length):,} bytes; at most {max_bytes:,} are read")
                body = bytearray()
                try:
                    for chunk in response.iter_bytes():
                        body += chunk
                        if len(body) > max_bytes:
                            raise InputError(f"{current} is larger than {max_bytes:,} bytes")
                        if time.monotonic() > deadline:
                            raise InputError(f"fetching {url} took longer than {timeout:g} s")
                except httpx.TimeoutException:
                    raise InputError(f"{host} did not answer within {timeout:g} s") from None
                except httpx.HTTPError as exc:
                    raise InputError(f"reading {current} failed: {exc}") from None
                charset = response.charset_encoding
            finally:
                response.close()
            text, title = _to_text(bytes(body), mime, charset, current)
            return Fetched(url=url, final_url=current, content_type=mime, text=text, title=title, redirects=hops)
    raise InputError(f"{url} redirects more than {max_redirects} times")


def _decode(data: bytes, charset: str | None) -> str:
    if charset:
        try:
            return data.decode(charset, errors="replace")
        except LookupError:
            pass
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def _to_text(data: bytes, mime: str, charset: str | None, where: str) -> tuple[str, str | None]:
    if not data.strip():
        raise InputError(f"{where} is empty")
    if mime in TEXT_TYPES:
        if b"\x00" in data[:8192]:
            raise InputError(f"{where} looks like a binary file, not text")
        return _decode(data, charset), None
    html = _decode(data, charset)
    return html_to_text(html, where)


def html_to_text(html: str, where: str = "the page") -> tuple[str, str | None]:
    """Article text (and title, if found) from an HTML page, via trafilatura."""
    import trafilatura

    text = trafilatura.extract(html, include_comments=False)
    if not text or not text.strip():
        raise InputError(f"no article text found in {where}")
    title = None
    try:
        meta = trafilatura.extract_metadata(html)
        title = getattr(meta, "title", None) if meta else None
    except Exception:  # metadata is a nicety; never fail the fetch for it
        title = None
    return text, title


def fetch_article(url: str, allow_private: bool = False, **kw) -> str:
    """Just the article text of a URL."""
    return fetch(url, allow_private, **kw).text
