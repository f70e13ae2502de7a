"""Load and slow-client bench for `redline serve` (issue 18). Loopback only, bounded.

Starts `redline serve` in a child process on 127.0.0.1 under an open-file limit (1,024
by default), then:

1. N requests to /api/analyze at concurrency 8, then N at concurrency 16;
2. S stalled connections (a request header that never ends) held open while /healthz
   is timed, then released;

and prints, per phase, the answers by status (503s with and without Retry-After), the
latency p50/p95/p99, and the server's RSS before and after. Every phase stops at
--max-seconds whatever happens; nothing is sent anywhere but 127.0.0.1.

    python bench/load.py                        # lexicon pipeline: the server, not the model
    python bench/load.py --components tagger --requests 200
"""

from __future__ import annotations

import argparse
import os
import resource
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
ARTICLE = (ROOT / "examples" / "op-ed.txt").read_text(encoding="utf-8")
LOOPBACK = "127.0.0.1"


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def percentiles(values: list[float]) -> str:
    if not values:
        return "no answers"
    q = statistics.quantiles(values, n=100, method="inclusive") if len(values) > 1 else values * 99
    return f"p50 {q[49] * 1000:.0f} ms  p95 {q[94] * 1000:.0f} ms  p99 {q[98] * 1000:.0f} ms  (n={len(values)})"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


def start_server(port: int, components: str, nofile: int) -> subprocess.Popen:
    def limit_files():
        resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))

    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, "-m", "redline.cli", "serve", "--host", LOOPBACK, "--port", str(port),
                             "--components", components], preexec_fn=limit_files, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://{LOOPBACK}:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
        if proc.poll() is not None:
            raise SystemExit(f"the server exited: {proc.stderr.read().decode()[-2000:]}")
    proc.kill()
    raise SystemExit("the server did not start within 120 s")


def hammer(base: str, total: int, concurrency: int, max_seconds: float) -> None:
    latencies: list[float] = []
    statuses: Counter = Counter()
    lock = threading.Lock()
    left = [total]
    stop_at = time.monotonic() + max_seconds

    def worker():
        with httpx.Client(base_url=base, timeout=60, trust_env=False) as client:
            while time.monotonic() < stop_at:
                with lock:
                    if left[0] <= 0:
                        return
                    left[0] -= 1
                t0 = time.monotonic()
                try:
                    r = client.post("/api/analyze", json={"text": ARTICLE})
                    key = r.status_code if r.status_code != 503 else \
                        ("503 with Retry-After" if r.headers.get("retry-after") else "503 WITHOUT Retry-After")
                except httpx.HTTPError as exc:
                    key = type(exc).__name__
                dt = time.monotonic() - t0
                with lock:
                    statuses[key] += 1
                    if key == 200:
                        latencies.append(dt)

    t0 = time.monotonic()
    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.monotonic() - t0
    errors = sum(n for k, n in statuses.items() if k != 200)
    print(f"  concurrency {concurrency}: {sum(statuses.values())} requests in {wall:.1f} s, "
          f"errors {errors}: {dict(statuses)}")
    print(f"    /api/analyze {percentiles(latencies)}")


def probe_healthz(base: str, probes: int) -> tuple[list[float], Counter]:
    latencies, failures = [], Counter()
    # One client (building one costs tens of ms), a new connection for every probe.
    client = httpx.Client(base_url=base, timeout=5, trust_env=False, headers={"connection": "close"})
    for _ in range(probes):
        t = time.monotonic()
        try:
            r = client.get("/healthz")
            if r.status_code == 200:
                latencies.append(time.monotonic() - t)
            else:
                failures[r.status_code] += 1
        except httpx.HTTPError as exc:
            failures[type(exc).__name__] += 1
        time.sleep(0.02)
    client.close()
    return latencies, failures


def stalled_phase(base: str, port: int, stalled: int, probes: int, max_seconds: float) -> None:
    latencies, failures = probe_healthz(base, probes)
    print(f"  /healthz alone: {percentiles(latencies)}; failures {dict(failures)}")
    socks: list[socket.socket] = []
    refused = 0
    t0 = time.monotonic()
    for _ in range(stalled):
        if time.monotonic() - t0 > max_seconds / 2:
            break
        try:
            s = socket.create_connection((LOOPBACK, port), timeout=5)
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: bench\r\nX-Slow: ")  # never finished
            socks.append(s)
        except OSError:
            refused += 1
    last_opened = time.monotonic()
    print(f"  {len(socks)} stalled connections opened ({refused} refused) in {last_opened - t0:.1f} s")
    latencies, failures = probe_healthz(base, probes)
    print(f"    /healthz beside them: {percentiles(latencies)}; failures {dict(failures)}")
    from redline.server import HEADER_TIMEOUT_S
    time.sleep(max(0.0, HEADER_TIMEOUT_S + 2 - (time.monotonic() - last_opened)))  # past the timeout and a sweep
    closed = 0
    for s in socks:  # how many the server has closed by now (header timeout, eviction)
        s.setblocking(False)
        try:
            if s.recv(1) == b"":
                closed += 1
        except BlockingIOError:
            pass
        except OSError:
            closed += 1
        s.close()
    print(f"    {closed} of {len(socks)} stalled connections closed by the server "
          f"{time.monotonic() - last_opened:.0f} s after the last was opened")


def large_text(n: int) -> str:
    dev = ROOT.parent / "shared" / "data" / "ptc" / "dev-articles"
    parts = [p.read_text(encoding="utf-8") for p in sorted(dev.glob("*.txt"))] or [ARTICLE]
    text = "\n\n".join(parts)
    while len(text) < n:
        text += "\n\n" + text
    return text[:n]


def large_phase(base: str, pid: int, chars: int) -> None:
    text = large_text(chars)
    before = rss_mb(pid)
    peak = [before]
    done = threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], rss_mb(pid))
            time.sleep(0.1)

    sampler = threading.Thread(target=sample)
    sampler.start()
    t0 = time.monotonic()
    try:
        r = httpx.post(base + "/api/analyze", json={"text": text}, timeout=600, headers={"connection": "close"})
        status = r.status_code
    finally:
        done.set()
        sampler.join()
    wall = time.monotonic() - t0
    time.sleep(1)
    print(f"  one {chars:,}-character text: HTTP {status} in {wall:.1f} s; server RSS {before:.0f} MB before, "
          f"peak {peak[0]:.0f} MB, {rss_mb(pid):.0f} MB after")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--components", default="lexicon")
    ap.add_argument("--requests", type=int, default=1000)
    ap.add_argument("--concurrency", type=int, nargs="+", default=[8, 16])
    ap.add_argument("--stalled", type=int, default=1100)
    ap.add_argument("--probes", type=int, default=200, help="/healthz requests while the stalled ones wait")
    ap.add_argument("--nofile", type=int, default=1024, help="the server's open-file limit")
    ap.add_argument("--max-seconds", type=float, default=300, help="per phase")
    ap.add_argument("--large-chars", type=int, default=0,
                    help="first, one request with a text this long (PTC dev articles joined), timed, with RSS")
    args = ap.parse_args()

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)  # this process holds the stalled sockets
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, args.stalled + 256)), hard))
    port = free_port()
    base = f"http://{LOOPBACK}:{port}"
    server = start_server(port, args.components, args.nofile)
    try:
        with httpx.Client(base_url=base, timeout=60, trust_env=False) as c:  # warm up
            for _ in range(5):
                c.post("/api/analyze", json={"text": ARTICLE})
        before = rss_mb(server.pid)
        print(f"redline serve --components {args.components} (pid {server.pid}, open-file limit {args.nofile}); "
              f"article {len(ARTICLE):,} characters; RSS before {before:.0f} MB")
        if args.large_chars:
            large_phase(base, server.pid, args.large_chars)
        for conc in args.concurrency:
            hammer(base, args.requests, conc, args.max_seconds)
        stalled_phase(base, port, args.stalled, args.probes, args.max_seconds)
        time.sleep(1)
        after = rss_mb(server.pid)
        print(f"RSS after {after:.0f} MB ({(after - before) / before:+.1%})")
        err = b""
    finally:
        server.terminate()
        try:
            _, err = server.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            _, err = server.communicate()
    lines = err.decode(errors="replace").splitlines()
    print(f"server log: {len(lines)} lines, {len(err):,} bytes; 'Too many open files': "
          f"{sum('Too many open files' in l for l in lines)}")


if __name__ == "__main__":
    main()
