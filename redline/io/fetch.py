"""Fetching an article from a URL, safely enough to run behind a public server.

The server fetches URLs that strangers type, so every fetch is a possible SSRF:

* only ``http`` and ``https``; no ``file://``, no local paths, no credentials in the URL;
* the host name is resolved here and refused if ANY of its addresses is in a block of
  the IANA IPv4/IPv6 special-purpose registries (loopback, private, link-local,
  documentation, benchmarking, 6to4, ...; the tables are below), multicast, outside
  IPv6's global unicast space, or an IPv6 form of such an IPv4 address
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


# --- the refusal list -------------------------------------------------------------------
# Written out from the IANA registries (as of 2025), not left to `ipaddress`: on
# Python 3.11 `is_global` passes 192.0.0.8, fec0::/10, 2002::/16 and 3fff::/20.
#   * IANA IPv4 Special-Purpose Address Registry
#     https://www.iana.org/assignments/iana-ipv4-special-registry/
#   * IANA IPv6 Special-Purpose Address Registry
#     https://www.iana.org/assignments/iana-ipv6-special-registry/
#   * plus, from the IPv4 Multicast and the IPv6 Address Space registries, multicast
#     (224.0.0.0/4, ff00::/8) and the deprecated site-local fec0::/10 (RFC 3879).
# Every block in them is refused, including the few the registry marks "globally
# reachable": those are anycast service addresses (PCP, TURN, DNS-SD, AS112, AMT,
# ORCHIDv2, drone tags), none of them serves web pages, and a public fetcher loses
# nothing by refusing them. Outside 2000::/3 (IANA's only global unicast allocation)
# nothing IPv6 is fetched at all; IPv4 embedded in IPv6 is judged as IPv4 (below).
SPECIAL_IPV4: tuple[tuple[str, str], ...] = (
    ("0.0.0.0/8", "'this network' (RFC 791)"),
    ("10.0.0.0/8", "private-use (RFC 1918)"),
    ("100.64.0.0/10", "shared address space / carrier-grade NAT (RFC 6598)"),
    ("127.0.0.0/8", "loopback (RFC 1122)"),
    ("169.254.0.0/16", "link-local (RFC 3927)"),
    ("172.16.0.0/12", "private-use (RFC 1918)"),
    ("192.0.0.0/24", "IETF protocol assignments (RFC 6890)"),
    ("192.0.0.0/29", "IPv4 service continuity prefix (RFC 7335)"),
    ("192.0.0.8/32", "IPv4 dummy address (RFC 7600)"),
    ("192.0.0.9/32", "port control protocol anycast (RFC 7723)"),
    ("192.0.0.10/32", "TURN anycast (RFC 8155)"),
    ("192.0.0.170/31", "NAT64/DNS64 discovery (RFC 7050)"),
    ("192.0.2.0/24", "documentation, TEST-NET-1 (RFC 5737)"),
    ("192.31.196.0/24", "AS112-v4 (RFC 7535)"),
    ("192.52.193.0/24", "AMT (RFC 7450)"),
    ("192.88.99.0/24", "deprecated 6to4 relay anycast (RFC 7526)"),
    ("192.168.0.0/16", "private-use (RFC 1918)"),
    ("192.175.48.0/24", "direct delegation AS112 service (RFC 7534)"),
    ("198.18.0.0/15", "benchmarking (RFC 2544)"),
    ("198.51.100.0/24", "documentation, TEST-NET-2 (RFC 5737)"),
    ("203.0.113.0/24", "documentation, TEST-NET-3 (RFC 5737)"),
    ("224.0.0.0/4", "multicast (RFC 5771)"),
    ("240.0.0.0/4", "reserved (RFC 1112)"),
    ("255.255.255.255/32", "limited broadcast (RFC 919)"),
)
SPECIAL_IPV6: tuple[tuple[str, str], ...] = (
    ("::/128", "unspecified (RFC 4291)"),
    ("::1/128", "loopback (RFC 4291)"),
    ("::ffff:0:0/96", "IPv4-mapped (RFC 4291)"),
    ("64:ff9b:1::/48", "local-use IPv4/IPv6 translation (RFC 8215)"),
    ("100::/64", "discard-only (RFC 6666)"),
    ("100:0:0:1::/64", "dummy IPv6 prefix (RFC 9780)"),
    ("2001::/23", "IETF protocol assignments (RFC 2928)"),
    ("2001::/32", "Teredo (RFC 4380)"),
    ("2001:1::1/128", "port control protocol anycast (RFC 7723)"),
    ("2001:1::2/128", "TURN anycast (RFC 8155)"),
    ("2001:1::3/128", "DNS-SD service registration protocol anycast (RFC 9665)"),
    ("2001:2::/48", "benchmarking (RFC 5180)"),
    ("2001:3::/32", "AMT (RFC 7450)"),
    ("2001:4:112::/48", "AS112-v6 (RFC 7535)"),
    ("2001:10::/28", "deprecated ORCHID (RFC 4843)"),
    ("2001:20::/28", "ORCHIDv2 (RFC 7343)"),
    ("2001:30::/28", "drone remote ID entity tags (RFC 9374)"),
    ("2001:db8::/32", "documentation (RFC 3849)"),
    ("2002::/16", "6to4 (RFC 3056)"),
    ("2620:4f:8000::/48", "direct delegation AS112 service (RFC 7534)"),
    ("3fff::/20", "documentation (RFC 9637)"),
    ("5f00::/16", "segment routing SIDs (RFC 9602)"),
    ("fc00::/7", "unique-local (RFC 4193)"),
    ("fe80::/10", "link-local (RFC 4291)"),
    ("fec0::/10", "deprecated site-local (RFC 3879)"),
    ("ff00::/8", "multicast (RFC 4291)"),
)
# NAT64's well-known prefix (RFC 6052) is globally reachable in the registry: the address
# stands for the IPv4 address in its last 32 bits, so it is judged by that address.
NAT64_PREFIX = ipaddress.IPv6Network("64:ff9b::/96")
# IPv4-compatible addresses (::a.b.c.d, deprecated by RFC 4291) are judged by the IPv4
# address too, so a refusal names it; they are outside 2000::/3 and refused either way.
IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")
GLOBAL_UNICAST_V6 = ipaddress.IPv6Network("2000::/3")

_V4_TABLE = tuple((ipaddress.IPv4Network(net), why) for net, why in SPECIAL_IPV4)
_V6_TABLE = tuple((ipaddress.IPv6Network(net), why) for net, why in SPECIAL_IPV6)


def _special_block(ip: Address) -> str | None:
    """The most specific registry block holding `ip`, described, or None."""
    table = _V4_TABLE if ip.version == 4 else _V6_TABLE
    best = None
    for net, why in table:
        if ip in net and (best is None or net.prefixlen > best[0].prefixlen):
            best = (net, why)
    return f"{best[0]} is {best[1]}" if best else None


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> tuple[ipaddress.IPv4Address, str] | None:
    """The IPv4 address an IPv6 address stands for, if it is one of the forms that embed one."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped, "IPv4-mapped"
    if ip in NAT64_PREFIX:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF), "NAT64"
    if ip in IPV4_COMPATIBLE and int(ip) > 1:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF), "IPv4-compatible"
    if ip.sixtofour is not None:
        return ip.sixtofour, "6to4"
    if ip.teredo is not None:
        return ip.teredo[1], "Teredo"
    return None


def address_problem(addr: str | Address) -> str | None:
    """Why an address may not be fetched from a public server, or None if it is public.

    Pure: no lookup, no connection. The IANA tables above decide; `ipaddress`'s own
    flags are checked as well, as a second opinion that can only refuse more.
    """
    try:
        ip = addr if isinstance(addr, (ipaddress.IPv4Address, ipaddress.IPv6Address)) else \
            ipaddress.ip_address(str(addr).split("%", 1)[0])
    except ValueError:
        return f"{addr!r} is not an IP address"
    if isinstance(ip, ipaddress.IPv6Address):
        # ::ffff:10.0.0.1, 64:ff9b::10.0.0.1, 2002:0a00:0001::, Teredo hide IPv4 addresses;
        # judge the IPv4 address first so the message names what the address really is.
        embedded = _embedded_ipv4(ip)
        if embedded is not None:
            why = address_problem(embedded[0])
            if why:
                return f"{ip} is the {embedded[1]} form of {embedded[0]}, and {why}"
        if ip not in GLOBAL_UNICAST_V6 and ip not in NAT64_PREFIX:
            block = _special_block(ip)
            return f"{ip} is not a public address: {block or 'it is outside 2000::/3, the global unicast space'}"
        if ip in NAT64_PREFIX:  # its IPv4 address passed above; `ipaddress` calls all of ::/8 reserved
            return None
    block = _special_block(ip)
    if block:
        return f"{ip} is not a public address: {block}"
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
                raise InputError(f"refusing to fetch {host}: {why}, and redline fetches only public addresses (--allow-private to change that)")
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
