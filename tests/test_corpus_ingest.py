"""`redline corpus ingest` and `export` as a user runs them: real CLI processes, real files,
the rule pipeline (`--components lexicon`) so that each run takes seconds."""

from __future__ import annotations

import csv
import json
import os
import random
import signal
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from conftest import DATA, REPO

NARRATIVE = DATA / "narrative-frames-climate" / "articles_metadata.tsv"
REDLINE = [sys.executable, "-m", "redline.cli"]
ENV = os.environ | {"OMP_NUM_THREADS": "1"}


def redline(*args: str, check_rc: int | None = 0) -> subprocess.CompletedProcess:
    proc = subprocess.run([*REDLINE, *map(str, args)], capture_output=True, text=True, env=ENV, cwd=REPO,
                          timeout=600)
    assert "Traceback" not in proc.stderr, proc.stderr
    if check_rc is not None:
        assert proc.returncode == check_rc, proc.stderr
    return proc


def exported(store: Path, out: Path) -> dict[str, bytes]:
    """`redline corpus export`'s files, by name (the library call: the CLI is tested below)."""
    from redline.corpus.export import export_store

    export_store(store, out, "parquet")
    return {p.name: p.read_bytes() for p in sorted(out.iterdir())}


def narrative_subset(tmp_path: Path, n: int) -> Path:
    """The first n narrative-frames articles, as the TSV they come in."""
    if not NARRATIVE.exists():
        pytest.skip("narrative-frames data not found in ../shared/data")
    csv.field_size_limit(2**31 - 1)
    with NARRATIVE.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh, delimiter="\t"))[: n + 1]
    path = tmp_path / "subset.tsv"
    with path.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh, delimiter="\t").writerows(rows)
    return path


def test_narrative_frames_ingest_is_idempotent_and_normalises_outlets(tmp_path):
    tsv = narrative_subset(tmp_path, 30)
    store = tmp_path / "c.duckdb"
    first = redline("corpus", "ingest", store, tsv, "--components", "lexicon", "--log-every", "0")
    assert "redline: ingest: " in first.stderr  # plain progress lines when stderr is no terminal
    assert "30/30 articles (30 stored, 0 already there, 0 failed)" in first.stderr
    before = exported(store, tmp_path / "e1")
    again = redline("corpus", "ingest", store, tsv, "--components", "lexicon")
    assert "(0 stored, 30 already there, 0 failed)" in again.stderr
    assert exported(store, tmp_path / "e2") == before
    con = duckdb.connect(str(store), read_only=True)
    sources = {r[0] for r in con.execute("SELECT source FROM documents").fetchall()}
    raw = {json.loads(m).get("source_raw") for (m,) in con.execute("SELECT meta FROM documents").fetchall()}
    assert "thedailycaller" in raw and "The Daily Caller" in sources and "thedailycaller" not in sources
    row = con.execute("SELECT article_key, date, month, json_extract_string(meta, '$.mbfc') FROM documents "
                      "WHERE article_key = '0'").fetchone()
    assert str(row[1]) == "2019-12-02" and row[2] == "2019-12" and row[3] == "right_bias"
    assert con.execute("SELECT count(DISTINCT run_id) FROM documents").fetchone()[0] == 1
    assert con.execute("SELECT count(*) FROM runs WHERE finished IS NOT NULL").fetchone()[0] == 2


def test_malformed_sources_are_recorded_and_lose_no_other_article(tmp_path):
    folder = tmp_path / "articles"
    folder.mkdir()
    (folder / "good.txt").write_text("They are traitors and liars, all of them. Never forget it.", encoding="utf-8")
    (folder / "empty.txt").write_text("  \n", encoding="utf-8")
    (folder / "binary.txt").write_bytes(bytes(range(256)) * 4)
    (folder / "page.html").write_text(
        "<html><head><title>Harbour deal</title><meta property='article:published_time' content='2020-05-06'>"
        "</head><body><article><h1>Harbour deal</h1><p>" + "The council voted to sell the harbour to a "
        "developer, a shameful betrayal of every fishing family in town. " * 4 + "</p></article></body></html>",
        encoding="utf-8")
    no_text = tmp_path / "no_text.csv"
    no_text.write_text("id,body\n1,Some article\n", encoding="utf-8")
    rows = tmp_path / "rows.csv"
    rows.write_text("id,text,date,source\n"
                    "r1,The minister lied again and again.,2019-02-30,foxnews\n"
                    "r2,,2019-02-01,cnn\n"
                    "r3,A calm report on the weather.,2019-02-03,The Guardian\n"
                    "r3,A calm report on the weather and the tides.,2019-02-04,theguardian\n", encoding="utf-8")
    unreadable = tmp_path / "zero.txt"  # a device has no end: refused, however the tests run (root too)
    unreadable.symlink_to("/dev/zero")
    store = tmp_path / "c.duckdb"
    proc = redline("corpus", "ingest", store, folder, no_text, rows, unreadable, tmp_path / "missing.jsonl",
                   "--components", "lexicon", check_rc=1)
    assert "no text column" in proc.stderr and "--map COLUMN=text" in proc.stderr
    assert "bad date '2019-02-30'" in proc.stderr  # a warning: the article is kept, without a date
    con = duckdb.connect(str(store), read_only=True)
    stored = dict(con.execute("SELECT article_key, version FROM documents").fetchall())
    assert stored == {"good": 1, "page": 1, "r1": 1, "r3": 2}  # r3's second text is its next version
    reasons = {r: why for r, why in con.execute("SELECT source_ref, reason FROM errors").fetchall()}
    assert set(reasons) == {str(folder / "empty.txt"), str(folder / "binary.txt"), str(no_text), f"{rows}:3",
                            str(unreadable), str(tmp_path / "missing.jsonl")}
    assert "empty" in reasons[str(folder / "empty.txt")] and "binary" in reasons[str(folder / "binary.txt")]
    page = con.execute("SELECT title, date FROM documents WHERE article_key = 'page'").fetchone()
    assert page[0] == "Harbour deal" and str(page[1]) == "2020-05-06"  # trafilatura's metadata
    r1 = con.execute("SELECT date, source, json_extract_string(meta, '$.date_raw') FROM documents "
                     "WHERE article_key = 'r1'").fetchone()
    assert r1 == (None, "Fox News", "2019-02-30")
    assert f"{len(reasons)} articles failed" in proc.stderr


def test_jsonl_parquet_and_map(tmp_path):
    jsonl = tmp_path / "feed.jsonl"
    jsonl.write_text("\n".join(json.dumps(r) for r in [
        {"uid": "a1", "body": "Only cowards would vote for this shameful deal.", "outlet": "BBC", "link": "https://x.org/a1"},
        {"uid": "a2", "body": "The report lists the costs of the new bridge.", "outlet": "bbc", "link": "https://x.org/a2"},
    ]) + "\n{not json\n", encoding="utf-8")
    parquet = tmp_path / "feed.parquet"
    duckdb.execute(f"COPY (SELECT 'p1' AS ID, 'Everyone knows the mayor is a crook and a liar.' AS Text, "
                   f"DATE '2018-07-01' AS Date) TO '{parquet}' (FORMAT parquet)")
    store = tmp_path / "c.duckdb"
    proc = redline("corpus", "ingest", store, jsonl, parquet, "--components", "lexicon",
                   "--map", "uid=id", "--map", "body=text", "--map", "outlet=source", "--map", "link=url",
                   check_rc=1)
    assert f"{jsonl}:3: not a JSON line" in proc.stderr
    con = duckdb.connect(str(store), read_only=True)
    rows = con.execute("SELECT article_key, source, url, date FROM documents ORDER BY article_key").fetchall()
    assert [(k, s, u) for k, s, u, _ in rows] == [("a1", "BBC", "https://x.org/a1"), ("a2", "BBC", "https://x.org/a2"),
                                                  ("p1", None, None)]
    assert str(rows[2][3]) == "2018-07-01"
    bad_map = redline("corpus", "ingest", store, jsonl, "--map", "body=texts", check_rc=2)
    assert "FIELD must be one of" in bad_map.stderr


def test_redline_jsonl_is_read_back_as_it_was_analysed(tmp_path):
    folder = tmp_path / "articles"
    folder.mkdir()
    for i, text in enumerate(["They are traitors, all of them. Never forget it!",
                              "A shameful, disgraceful betrayal by the corrupt elite.",
                              "The bridge opens on Monday, the council said."]):
        (folder / f"a{i}.txt").write_text(text, encoding="utf-8")
    out = tmp_path / "out.jsonl"
    subprocess.run([*REDLINE, "analyze", str(folder), "-f", "jsonl", "--components", "lexicon", "-o", str(out),
                    "-q"], check=True, env=ENV, cwd=REPO, capture_output=True)
    direct, from_jsonl = tmp_path / "direct.duckdb", tmp_path / "jsonl.duckdb"
    redline("corpus", "ingest", direct, folder, "--components", "lexicon")
    redline("corpus", "ingest", from_jsonl, out)
    assert exported(from_jsonl, tmp_path / "e2") == exported(direct, tmp_path / "e1")
    # A record whose text file changed since is refused, not stored with wrong offsets.
    (folder / "a1.txt").write_text("Something else entirely.", encoding="utf-8")
    proc = redline("corpus", "ingest", tmp_path / "third.duckdb", out, check_rc=1)
    assert "has changed since it was analysed" in proc.stderr


def test_kill_9_at_random_points_then_resume_exports_the_same_bytes(tmp_path):
    tsv = narrative_subset(tmp_path, 60)
    args = ["corpus", "ingest", None, str(tsv), "--components", "lexicon", "--batch-size", "3", "--log-every", "0"]
    whole = tmp_path / "whole.duckdb"
    redline(*[str(whole) if a is None else a for a in args])
    killed = tmp_path / "killed.duckdb"
    cmd = [*REDLINE, *[str(killed) if a is None else a for a in args]]
    rng = random.Random(15)
    kills = 0
    for _ in range(3):
        proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=ENV, cwd=REPO)
        # Wait for a committed batch (a progress line with something stored), then kill at
        # a random moment of the next ones: mid-analysis, mid-transaction, between batches.
        for line in proc.stderr:
            if "redline: ingest: " in line and " (0 stored" not in line:
                break
        subprocess.run(["sleep", f"{rng.uniform(0.0, 0.4):.2f}"])
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.wait()
        proc.stderr.close()
    assert kills >= 2  # the runs were really cut short
    resumed = redline(*[str(killed) if a is None else a for a in args])
    done_before = int(resumed.stderr.rsplit("stored, ", 1)[1].split(" already there")[0])
    assert 0 < done_before < 60
    assert exported(killed, tmp_path / "e_killed") == exported(whole, tmp_path / "e_whole")
    con = duckdb.connect(str(killed), read_only=True)
    assert con.execute("SELECT count(*), count(DISTINCT doc_id) FROM documents").fetchone() == (60, 60)
    assert con.execute("SELECT count(*) FROM runs").fetchone()[0] == 4  # 3 killed + the one that finished


def one_article_store(tmp_path: Path) -> tuple[Path, Path]:
    """A folder with one short article and a store it was ingested into (lexicon pipeline)."""
    folder = tmp_path / "articles"
    folder.mkdir()
    (folder / "a.txt").write_text("They are traitors, all of them. Never forget it!", encoding="utf-8")
    store = tmp_path / "c.duckdb"
    redline("corpus", "ingest", store, folder, "--components", "lexicon", "-q")
    return folder, store


def test_export_cli_and_its_errors(tmp_path):
    folder, store = one_article_store(tmp_path)
    proc = redline("corpus", "export", store, "-o", tmp_path / "csv", "--format", "csv", "--runs")
    assert "documents.csv: 1 rows" in proc.stderr
    assert sorted(p.name for p in (tmp_path / "csv").iterdir()) == [
        "actors.csv", "claims.csv", "documents.csv", "errors.csv", "mentions.csv", "relations.csv", "runs.csv",
        "spans.csv", "targets.csv"]
    header = (tmp_path / "csv" / "spans.csv").read_text(encoding="utf-8").splitlines()[0]
    assert header == "doc_id,span_id,start,end,technique,family,text,score,triggers"
    assert "run_id" in (tmp_path / "csv" / "documents.csv").read_text(encoding="utf-8").splitlines()[0]
    plain = exported(store, tmp_path / "parquet")
    assert "runs.parquet" not in plain
    assert duckdb.sql(f"SELECT * FROM '{tmp_path / 'parquet' / 'documents.parquet'}'").columns.count("run_id") == 0
    proc = redline("corpus", "export", tmp_path / "nothing.duckdb", "-o", tmp_path / "out", check_rc=2)
    assert "no such store" in proc.stderr
    not_store = tmp_path / "plain.duckdb"
    duckdb.connect(str(not_store)).execute("CREATE TABLE t (x INT)").close()
    proc = redline("corpus", "export", not_store, "-o", tmp_path / "out", check_rc=2)
    assert "not a redline corpus store" in proc.stderr
    bad = redline("corpus", "ingest", tmp_path / "x.duckdb", tmp_path, "--precision", "fp8", check_rc=2)
    assert "--precision 'fp8'" in bad.stderr


def test_errors_are_read_back_with_the_query_the_ingest_prints(tmp_path):
    """The errors table's `at` is a DuckDB keyword: the summary's query, Store.errors and
    export --runs all quote it, and read the rows back in the order they were met."""
    import re

    from redline.corpus.store import Store

    folder = tmp_path / "articles"
    folder.mkdir()
    (folder / "a-good.txt").write_text("They are traitors, all of them. Never forget it!", encoding="utf-8")
    (folder / "b-empty.txt").write_text(" \n", encoding="utf-8")
    (folder / "c-binary.txt").write_bytes(bytes(range(256)) * 4)
    store = tmp_path / "c.duckdb"
    proc = redline("corpus", "ingest", store, folder, "--components", "lexicon", "--batch-size", "1", check_rc=1)
    query = re.search(r"(SELECT source_ref, reason, \"at\" FROM errors .*)$", proc.stderr, re.M).group(1)
    with duckdb.connect(str(store), read_only=True) as con:
        rows = con.execute(query).fetchall()
        with pytest.raises(duckdb.ParserException):  # why the quotes: unquoted, `at` does not parse
            con.execute("SELECT at FROM errors")
    assert [r[0] for r in rows] == [str(folder / "b-empty.txt"), str(folder / "c-binary.txt")]
    assert "empty" in rows[0][1] and rows[0][2] <= rows[1][2]
    run_id = re.search(r"run_id = '(\w+)'", query).group(1)
    with Store(store, read_only=True) as opened:
        assert [(r[1], r[3]) for r in opened.errors(run_id)] == [(r[0], r[2]) for r in rows]
        assert opened.errors("another-run") == []
    redline("corpus", "export", store, "-o", tmp_path / "out", "--format", "csv", "--runs")
    lines = (tmp_path / "out" / "errors.csv").read_text(encoding="utf-8").splitlines()
    assert lines[0] == "run_id,source_ref,reason,at" and len(lines) == 3
    assert lines[1].startswith(f"{run_id},{folder / 'b-empty.txt'},")


# Holds a store the way another process would: "read" as a `redline serve --store` request
# does (a read-only connection), "write" as another ingest does; until told on stdin.
HOLDER = """
import sys
import duckdb
con = duckdb.connect(sys.argv[1], read_only=sys.argv[2] == "read")
print("holding", flush=True)
sys.stdin.readline()
con.close()
print("released", flush=True)
sys.stdin.readline()  # lives on without the connection: the connection was what held the store
"""


def _hold(store: Path, mode: str) -> subprocess.Popen:
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(store), mode], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True, env=ENV, cwd=REPO)
    assert holder.stdout.readline().strip() == "holding"
    return holder


def test_ingest_waits_for_a_store_another_process_holds(tmp_path):
    import time

    folder, store = one_article_store(tmp_path)
    (folder / "b.txt").write_text("The corrupt elite lied to the nation. Enough is enough!", encoding="utf-8")
    holder = _hold(store, "read")
    try:
        ingest = subprocess.Popen([*REDLINE, "corpus", "ingest", str(store), str(folder), "--components", "lexicon"],
                                  stderr=subprocess.PIPE, text=True, env=ENV, cwd=REPO)
        first = ingest.stderr.readline()  # the ingest says it waits, and for whom, before anything else
        assert f"process {holder.pid} (" in first and "holds the store; waiting up to 60 s" in first, first
        time.sleep(0.5)
        assert ingest.poll() is None  # still waiting
        holder.stdin.write("\n")
        holder.stdin.flush()
        assert holder.stdout.readline().strip() == "released"
        err = first + ingest.communicate(timeout=120)[1]
        assert ingest.returncode == 0 and "Traceback" not in err, err
        assert "(1 stored, 1 already there, 0 failed)" in err
    finally:
        holder.communicate("\n\n", timeout=30)
    with duckdb.connect(str(store), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM documents").fetchone()[0] == 2


def test_a_store_held_past_the_wait_is_a_clear_error(tmp_path):
    from redline.corpus.store import Store, StoreLocked

    folder, store = one_article_store(tmp_path)
    holder = _hold(store, "write")  # another ingest, say: it holds the store until it ends
    try:
        proc = redline("corpus", "ingest", store, folder, "--components", "lexicon", "--lock-wait", "1",
                       check_rc=2)
        assert f"process {holder.pid} (" in proc.stderr and "holds the store" in proc.stderr
        assert "waited 1 s" in proc.stderr and "--lock-wait" in proc.stderr
        # Readers (stats, report, export) wait the same way, and say the same.
        with pytest.raises(StoreLocked, match=f"process {holder.pid} .*waited 0.2 s"):
            Store(store, read_only=True, wait_s=0.2).connect()
    finally:
        holder.communicate("\n\n", timeout=30)
    with Store(store, read_only=True, wait_s=0) as opened:  # released: opens at once
        assert opened.counts()["documents"] == 1


def test_url_list_is_fetched_politely_and_not_again(tmp_path):
    import http.server
    import threading
    import time

    page = ("<html><head><title>Harbour sold</title></head><body><article><h1>Harbour sold</h1><p>"
            + "The council sold the harbour, a shameful betrayal of every family in this town. " * 5
            + "</p></article></body></html>").encode()
    hits: list[tuple[float, str]] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            hits.append((time.monotonic(), self.path))
            if self.path.startswith("/missing"):
                self.send_error(404)
                return
            body = page.replace(b"Harbour sold", self.path.encode())
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        urls = tmp_path / "feed.urls"
        urls.write_text(f"# today's links\n{base}/a\n{base}/missing\n{base}/b\n", encoding="utf-8")
        store = tmp_path / "c.duckdb"
        cmd = ("corpus", "ingest", store, urls, "--components", "lexicon", "--per-host-delay", "0.3")
        refused = redline(*cmd, check_rc=1)  # loopback is private: refused unless allowed
        assert refused.stderr.count("not a public address") + refused.stderr.count("private") >= 1
        assert not hits
        proc = redline(*cmd, "--allow-private", check_rc=1)
        assert "HTTP 404" in proc.stderr
        gaps = [b[0] - a[0] for a, b in zip(hits, hits[1:])]
        assert len(hits) == 3 and min(gaps) >= 0.29  # one host: one request per 0.3 s
        con = duckdb.connect(str(store), read_only=True)
        rows = con.execute("SELECT article_key, source, title FROM documents ORDER BY 1").fetchall()
        assert rows == [(f"{base}/a", "127.0.0.1", "/a"), (f"{base}/b", "127.0.0.1", "/b")]
        con.close()
        hits.clear()
        again = redline(*cmd, "--allow-private", check_rc=1)  # the 404 fails again; the others are known
        assert [path for _, path in hits] == ["/missing"]
        assert "2 already there" in again.stderr
    finally:
        server.shutdown()
