"""`redline serve --store`: the corpus views over real HTTP on a real ingest, reading while
another process writes the store, and the served dashboard and search in Chromium."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import duckdb
import httpx
import pytest

from conftest import REPO, live_server
from test_corpus_ingest import ENV, narrative_subset, redline

from redline.corpus import stats

COMPONENTS = "lexicon,actors,link"


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("views")
    tsv = narrative_subset(folder, 6)
    path = folder / "nf.duckdb"
    redline("corpus", "ingest", path, tsv, "--components", COMPONENTS, "-q")
    return path


@pytest.fixture(scope="module")
def base(store):
    from redline.server import create_app

    with live_server(create_app(components=("lexicon",), store=store)) as url:
        yield url


def texts(store) -> list[tuple[str, str, str]]:
    with duckdb.connect(str(store), read_only=True) as con:
        return con.execute("SELECT doc_id, source, text FROM documents ORDER BY doc_id").fetchall()


def test_stats_api_is_corpus_stats(base, store):
    got = httpx.get(f"{base}/corpus/api/stats", params={"by": "source,month", "resamples": 300}, timeout=60).json()
    with duckdb.connect(str(store), read_only=True) as con:
        want = stats.compute(con, ("source", "month"), stats.Filters(), stats.Settings(resamples=300))
    assert got == json.loads(json.dumps(want))
    csv_text = httpx.get(f"{base}/corpus/api/stats", params={"format": "csv"}, timeout=60).text
    assert csv_text.startswith("source,n_articles,small,words,metric")
    for params, message in (({"since": "2019-99"}, "not a date"), ({"technique": "Nope"}, "unknown technique"),
                            ({"by": "text"}, "one value per article")):
        r = httpx.get(f"{base}/corpus/api/stats", params=params, timeout=60)
        assert r.status_code == 422 and message in r.json()["error"]


def test_search_by_text_source_date_and_actor(base, store):
    rows = texts(store)

    def total(**params) -> int:
        r = httpx.get(f"{base}/corpus/api/articles", params=params, timeout=30)
        assert r.status_code == 200, r.text
        return r.json()["total"]

    assert total() == len(rows)
    # Plain substring search, case-insensitive; % and _ are characters, not wildcards.
    for q in ("climate", "CLIMATE CHANGE", "%", "_", "the ", "no such words anywhere"):
        assert total(q=q) == sum(q.lower() in t.lower() for _, _, t in rows), q
    source = rows[0][1]
    assert total(source=source) == sum(s == source for _, s, _ in rows)
    assert total(since="2030-01-01") == 0
    with duckdb.connect(str(store), read_only=True) as con:
        name, key, n = con.execute("SELECT mode(name), actor_key, count(DISTINCT doc_id) FROM actors "
                                   "GROUP BY actor_key ORDER BY 3 DESC, 2 LIMIT 1").fetchone()
    assert total(actor=key) == n
    assert total(actor=name) >= n
    hit = httpx.get(f"{base}/corpus/api/articles", params={"q": "climate"}, timeout=30).json()["articles"][0]
    assert hit["snippet"][1].lower() == "climate" and hit["report"] == f"/corpus/articles/{hit['doc_id']}"
    page = httpx.get(f"{base}/corpus/articles", params={"q": "<script>alert(1)</script>"}, timeout=30)
    assert page.status_code == 200 and "<script>alert(1)</script>" not in page.text
    assert httpx.get(f"{base}/corpus/api/articles", params={"q": "x" * 201}, timeout=30).status_code == 422


def test_article_reports_and_dashboard(base, store):
    doc_id, source, text = texts(store)[0]
    r = httpx.get(f"{base}/corpus/articles/{doc_id}", timeout=30)
    assert r.status_code == 200 and "Content-Security-Policy" in r.headers
    assert text.split()[3] in r.text
    assert httpx.get(f"{base}/corpus/articles/nope", timeout=30).status_code == 404
    assert httpx.get(f"{base}/corpus/articles/..%2F..%2Fetc", timeout=30).status_code == 404
    page = httpx.get(f"{base}/corpus", params={"source": source}, timeout=60)
    data = json.loads(re.search(r'id="dash-data">(.*?)</script>', page.text, re.S).group(1))
    assert data["n_articles"] == sum(s == source for _, s, _ in texts(store))
    assert all(a["href"].startswith("/corpus/articles/") for a in data["articles"])
    bad = httpx.get(f"{base}/corpus", params={"until": "someday"}, timeout=30)
    assert bad.status_code == 422 and "not a date" in bad.text


def test_an_empty_store_is_served_as_such(tmp_path):
    from redline.corpus.store import Store
    from redline.server import create_app

    with Store(tmp_path / "empty.duckdb"):
        pass
    with live_server(create_app(components=("lexicon",), store=tmp_path / "empty.duckdb")) as url:
        page = httpx.get(f"{url}/corpus", timeout=60)
        assert page.status_code == 200 and "No articles yet" in page.text and "reload this page" in page.text
        assert 'id="chart-' not in page.text
        assert httpx.get(f"{url}/corpus/api/stats", timeout=60).json()["n_articles"] == 0


WRITER = """
import sys
from redline.corpus.store import Store
from redline.pipeline import analyze
store = Store(sys.argv[1])
store.add_documents([analyze("The corrupt elite lied to the nation. Enough is enough!", id="new",
                             meta={"source": "Writer", "date": "2019-12-31"}, components=("lexicon",))], "writer")
print("holding", flush=True)
sys.stdin.readline()  # holds the write lock until told
store.close()
"""


def test_reads_while_another_process_writes(base, store):
    from redline.server import create_app

    def n_articles(url: str) -> tuple[int, str | None]:
        r = httpx.get(f"{url}/corpus/api/stats", params={"by": "", "resamples": 50}, timeout=60)
        assert r.status_code == 200, r.text
        return r.json()["n_articles"], r.json().get("note")

    before, note = n_articles(base)
    assert note is None
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(store)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True, env=ENV, cwd=REPO)
    try:
        assert writer.stdout.readline().strip() == "holding"
        # The store is locked by the writer: this server reads its snapshot, and says so.
        during, note = n_articles(base)
        assert during == before and "ingest is writing" in note
        for _ in range(2):  # the second answer comes from the server's cache of pages
            page = httpx.get(f"{base}/corpus", timeout=60)
            assert page.status_code == 200 and "ingest is writing" in page.text
        # A server that never saw the store unlocked has no snapshot: 503, try again later.
        with live_server(create_app(components=("lexicon",), store=store)) as fresh:
            r = httpx.get(f"{fresh}/corpus/api/stats", timeout=30)
            assert r.status_code == 503 and r.headers["Retry-After"] and "ingest" in r.json()["error"]
    finally:
        writer.communicate("\n", timeout=60)
    assert writer.returncode == 0
    after, note = n_articles(base)
    assert (after, note) == (before + 1, None)
    # The dashboard too: a page cached from the snapshot is not served for the changed store.
    page = httpx.get(f"{base}/corpus", timeout=60).text
    data = json.loads(re.search(r'id="dash-data">(.*?)</script>', page, re.S).group(1))
    assert data["n_articles"] == before + 1 and "ingest is writing" not in page


def test_served_dashboard_and_search_in_a_browser(browser, base, store):
    page = browser.new_page(viewport={"width": 1360, "height": 900})
    errors, outside = [], []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)

    def guard(route):
        if urlsplit(route.request.url).hostname != "127.0.0.1":
            outside.append(route.request.url)
            return route.abort()
        return route.continue_()

    page.route("**/*", guard)
    page.goto(f"{base}/corpus")
    # The charts draw under the server's Content-Security-Policy (no eval).
    page.wait_for_selector("body[data-ready]", state="attached", timeout=30_000)
    assert page.evaluate("document.body.dataset.ready") == "1", page.evaluate("document.body.dataset.error")
    assert page.locator("#chart-rates svg .mark-symbol path").count() > 0

    # "Apply to all figures" recomputes on the server for the chosen technique.
    page.select_option("#tech", "Loaded_Language")
    with page.expect_navigation():
        page.click("#recompute")
    assert "technique=Loaded_Language" in page.url and "source=" not in page.url
    page.wait_for_selector("body[data-ready]", state="attached", timeout=30_000)
    assert "Loaded_Language" in page.inner_text(".lede")
    assert page.input_value("#tech") == "Loaded_Language"

    # From the dashboard's article list to an article's report, served.
    with page.expect_navigation():
        page.locator("#article-rows a").first.click()
    assert "/corpus/articles/" in page.url
    page.wait_for_selector(".article")

    # The search page: a word, its hits with the word marked, and a report from there.
    page.goto(f"{base}/corpus/articles")
    page.fill("#q", "climate")
    with page.expect_navigation():
        page.click("form.search button[type=submit]")
    hits = page.locator("#hits li")
    assert hits.count() == sum("climate" in t.lower() for _, _, t in texts(store))
    assert page.locator("#hits mark").first.inner_text().lower() == "climate"
    with page.expect_navigation():
        hits.first.locator("a").click()
    page.wait_for_selector(".article")
    assert not errors and not outside, (errors, outside)


def test_corpus_views_never_answer_500_to_any_query(base):
    """Every corpus view and API under arbitrary query values (Hypothesis, bounded): a page,
    a JSON answer or a 4xx, never a 500; nothing is ever read from outside the store."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    value = st.one_of(st.text(max_size=40), st.sampled_from(["../../etc/passwd", "'; DROP TABLE documents; --",
                                                              "%", "_", "2019-13-40", "\x00", "\ud800", "9" * 40]))
    params = st.dictionaries(st.sampled_from(["q", "actor", "source", "since", "until", "technique", "by",
                                              "format", "resamples", "limit", "offset", "month"]), value, max_size=4)
    paths = st.sampled_from(["/corpus", "/corpus/api/stats", "/corpus/api/articles", "/corpus/articles",
                             "/corpus/articles/..%2F..%2Fetc%2Fpasswd", "/corpus/articles/nope"])

    @settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
    @given(paths, params)
    def probe(path, query):
        safe = {k: v.encode("utf-8", "replace").decode("utf-8") for k, v in query.items()}
        r = httpx.get(f"{base}{path}", params=safe, timeout=60)
        assert r.status_code < 500, (path, safe, r.status_code, r.text[:300])
        assert "root:x:" not in r.text

    probe()
