"""`redline corpus report`: the dashboard and its article reports from a real ingest of
narrative-frames articles (rules, actors and their links: a few seconds), and the page in a
real browser (Chromium via Playwright; skipped without them) with every request watched."""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import urlsplit

import duckdb
import pytest

from test_corpus_ingest import narrative_subset, redline

COMPONENTS = "lexicon,actors,link"


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("dash")
    tsv = narrative_subset(folder, 8)
    path = folder / "nf.duckdb"
    redline("corpus", "ingest", path, tsv, "--components", COMPONENTS, "-q")
    return path


@pytest.fixture(scope="module")
def dashboard(store, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("out") / "dashboard.html"
    proc = redline("corpus", "report", store, "-o", out, "--resamples", "300")
    assert "8 article reports" in proc.stderr
    return out


def page_data(html: str) -> dict:
    match = re.search(r'<script type="application/json" id="dash-data">(.*?)</script>', html, re.S)
    return json.loads(match.group(1))


def test_dashboard_is_one_self_contained_page(dashboard):
    html = dashboard.read_text(encoding="utf-8")
    markup = re.sub(r"<script\b[^>]*>.*?</script>", "", html, flags=re.S)  # (the browser test watches the scripts)
    assert not re.search(r"<(script|img|iframe)[^>]+\bsrc=", html[:html.index("<script")]) and "<link" not in markup
    assert html.count("<script") == 4 and 'id="chart-rates"' in markup
    data = page_data(html)
    assert data["n_articles"] == 8 and data["rates"] and data["series"]
    assert data["heatmap_actors"] and data["attacked_actors"]
    assert any(a["roles"] for a in data["articles"]) and any(a["aimed"] for a in data["articles"])
    for rate in data["rates"]:
        assert rate["lo"] <= rate["value"] <= rate["hi"]
    # Every article's link names a report written beside the dashboard.
    for a in data["articles"]:
        assert (dashboard.parent / a["href"]).is_file(), a["href"]
    assert len(list((dashboard.parent / "dashboard-articles").iterdir())) == 8


def test_article_reports_rebuild_the_pipeline_output(store):
    """A report from the store shows what the pipeline found: the same spans (slicing the
    text exactly), actors with their mentions and the techniques aimed at them."""
    from redline.corpus.dashboard import document_from_store
    from redline.pipeline import analyze

    with duckdb.connect(str(store), read_only=True) as con:
        ids = [r[0] for r in con.execute("SELECT doc_id FROM documents ORDER BY doc_id LIMIT 3").fetchall()]
        docs = [document_from_store(con, doc_id) for doc_id in ids]
        assert document_from_store(con, "no-such-id") is None
    for doc in docs:
        fresh = analyze(doc.text, components=tuple(COMPONENTS.split(",")))
        assert [(s.start, s.end, s.technique) for s in doc.spans] == \
               [(s.start, s.end, s.technique) for s in fresh.spans]
        assert all(s.text == doc.text[s.start:s.end] for s in doc.spans)
        assert sorted((a.name, len(a.mentions), len(a.techniques)) for a in doc.actors) == \
               sorted((a.name, len(a.mentions), len(a.techniques)) for a in fresh.actors)


def test_bad_report_arguments_are_clear(store, tmp_path):
    for args, message in (((tmp_path / "none.duckdb", "-o", tmp_path / "d.html"), "no such store"),
                          ((store, "-o", tmp_path / "d.html", "--technique", "Nope"), "unknown technique"),
                          ((store, "-o", tmp_path / "d.html", "--since", "soon"), "not a date")):
        proc = redline("corpus", "report", *args, check_rc=2)
        assert message in proc.stderr


@pytest.fixture(scope="module")
def empty_dashboard(tmp_path_factory) -> Path:
    """`corpus report` on a store that holds no article yet (made, then nothing ingested)."""
    from redline.corpus.store import Store

    folder = tmp_path_factory.mktemp("empty")
    with Store(folder / "empty.duckdb"):
        pass
    out = folder / "dashboard.html"
    redline("corpus", "report", folder / "empty.duckdb", "-o", out)
    return out


def test_an_empty_store_says_so_instead_of_drawing_empty_charts(empty_dashboard, store, tmp_path):
    html = empty_dashboard.read_text(encoding="utf-8")
    assert "No articles yet" in html and f"redline corpus ingest {empty_dashboard.parent / 'empty.duckdb'}" in html
    assert 'id="chart-' not in html and 'id="dash-data"' not in html and "vegaEmbed" not in html
    # Filters that leave nothing of a full store say that, not "no articles yet".
    out = tmp_path / "d.html"
    redline("corpus", "report", store, "-o", out, "--source", "Nobody", "--since", "2018", "--no-article-reports")
    html = out.read_text(encoding="utf-8")
    assert "No article matches these filters" in html and "No articles yet" not in html
    assert re.search(r"The store holds 8 articles, but none from Nobody since 2018-01-01", html)
    assert 'id="chart-' not in html


def test_empty_dashboard_in_a_browser(browser, empty_dashboard):
    page = browser.new_page(viewport={"width": 1100, "height": 700})
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(empty_dashboard.as_uri())
    page.wait_for_selector("body[data-ready]", state="attached", timeout=30_000)
    assert page.is_visible("#empty") and "No articles yet" in page.inner_text("#empty")
    assert page.locator("svg").count() == 0 and not errors


def test_dashboard_in_a_browser(browser, dashboard):
    page = browser.new_page(viewport={"width": 1360, "height": 900})
    errors, outside = [], []
    page.on("pageerror", lambda e: errors.append(str(e)))

    def guard(route):  # the page may read its own files, nothing else
        if urlsplit(route.request.url).scheme != "file":
            outside.append(route.request.url)
            return route.abort()
        return route.continue_()

    page.route("**/*", guard)
    page.goto(dashboard.as_uri())
    page.wait_for_selector("body[data-ready]", state="attached", timeout=30_000)
    assert page.evaluate("document.body.dataset.ready") == "1", page.evaluate("document.body.dataset.error")
    for chart in ("rates", "series", "heatmap", "attacked"):
        assert page.locator(f"#chart-{chart} svg .mark-rect path, #chart-{chart} svg .mark-symbol path, "
                            f"#chart-{chart} svg .mark-line path").count() > 0, chart
    rows = page.locator("#article-rows tr")
    assert rows.count() == 8

    # A technique narrows the articles to those using it, and the figures follow.
    data = page_data(dashboard.read_text(encoding="utf-8"))
    label = max(data["techniques"], key=lambda t: sum(a["t"].get(t["label"], 0) > 0 for a in data["articles"]))
    using = sum(a["t"].get(label["label"], 0) > 0 for a in data["articles"])
    page.select_option("#tech", label["label"])
    assert page.inner_text("#articles-what").startswith(f"{using} article")
    assert label["name"].lower() in page.inner_text("#h-rates")

    # Other dates: the page recomputes the rates by the same method; over the whole period
    # its figures match Python's (the same values; intervals from another generator).
    python = page.evaluate("window.redlineDashboard.datasets().rates")
    page.fill("#since", min(a["month"] for a in data["articles"]))
    assert page.is_visible("#recomputed")
    recomputed = {r["source"]: r for r in page.evaluate("window.redlineDashboard.datasets().rates")}
    assert set(recomputed) == {r["source"] for r in python}
    for r in python:
        mine = recomputed[r["source"]]
        assert mine["value"] == pytest.approx(r["value"], abs=1e-3) and mine["n"] == r["n"]
        assert mine["lo"] == pytest.approx(r["lo"], abs=0.25 * (r["hi"] - r["lo"]) + 1e-3)
        assert mine["hi"] == pytest.approx(r["hi"], abs=0.25 * (r["hi"] - r["lo"]) + 1e-3)
    page.fill("#since", "")
    assert not page.is_visible("#recomputed")

    # Clicking a source's dot lists that source's articles only.
    page.select_option("#tech", "")
    dot = page.locator("#chart-rates .mark-symbol path").first
    dot.click()
    shown = page.inner_text("#articles-what")
    source = shown.split(":")[0]
    assert source in {s["source"] for s in data["sources"]}
    cells = page.locator("#article-rows tr td:nth-child(2)").all_inner_texts()
    assert cells and set(cells) == {source}
    assert len(cells) == next(s["n"] for s in data["sources"] if s["source"] == source)

    # Unticking every source empties the figures and the list, and the date range narrows the list.
    page.click("#src-summary")
    if not page.is_visible("#src-none"):
        # under load the click can land while the chart above still reflows, toggling nothing;
        # the list's open state is what this step needs, not that one click
        page.evaluate("document.getElementById('src-details').open = true")
    page.click("#src-none")
    assert page.inner_text("#article-rows") == "No article matches these filters."
    page.click("#src-all")
    page.keyboard.press("Escape")  # closes the source list
    assert not page.locator("#src-details").evaluate("d => d.open")
    page.click("#clear-pick")
    months = sorted(a["month"] for a in data["articles"])
    page.fill("#since", months[-1])
    assert rows.count() == sum(m >= months[-1] for m in months)

    # From the list to an article's own report.
    page.click("#reset")
    link = page.locator("#article-rows a").first
    with page.expect_navigation():
        link.click()
    assert "dashboard-articles/" in page.url
    page.wait_for_selector(".article")
    assert not errors and not outside, (errors, outside)
