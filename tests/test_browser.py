"""The report in a real browser: paste, submit, hover a mark, toggle a technique, move the slider.

Needs Playwright's Python package and Chromium at /usr/bin/chromium
(`apt-get install -y chromium fonts-dejavu-core`); skips cleanly without them.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from conftest import live_server

EXAMPLE = Path(__file__).resolve().parents[2] / "shared" / "examples" / "assad-redline.txt"
HAND_WRITTEN = ("They are traitors! Everyone knows the so-called experts lie to us.\n"
                "Either we act now or our nation will be destroyed. Enough is enough!\n"
                "The brutal regime and its puppets spread fear and terror every day.\n")
XSS = "\n<script>alert('xss')</script></script><script>alert(2)</script><img src=x onerror=alert(3)>\n"




def test_paste_submit_hover_toggle_slide(browser, tmp_path):
    from redline.server import create_app

    article = (EXAMPLE.read_text(encoding="utf-8") if EXAMPLE.exists() else HAND_WRITTEN) + XSS
    with live_server(create_app(components=("lexicon",))) as base:
        page = browser.new_page(viewport={"width": 1360, "height": 900})
        dialogs, outside, errors = [], [], []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.on("pageerror", lambda e: errors.append(str(e)))

        def guard(route):  # the page may talk to our server only
            if urlsplit(route.request.url).hostname != "127.0.0.1":
                outside.append(route.request.url)
                return route.abort()
            return route.continue_()

        page.route("**/*", guard)
        page.goto(base + "/")
        page.fill("textarea[name=text]", article)
        with page.expect_navigation():
            page.click("button[type=submit]")
        assert page.url.endswith("/report")
        page.wait_for_selector("mark.m")

        # The report: the article's text is there, escaped, with marks.
        assert "<script>alert('xss')</script>" in page.inner_text(".article")
        marks = page.locator("mark.m")
        n_marks = marks.count()
        assert n_marks > 5
        spans = json.loads(page.inner_text("script.doc-data"))["spans"]
        techniques = json.loads(page.inner_text("#redline-data"))["techniques"]

        # Hover a mark: the tooltip names its technique(s) with a confidence in %.
        first = marks.first
        first.scroll_into_view_if_needed()
        first.hover()
        tip = page.locator("#tip")
        tip.wait_for(state="visible")
        covering = [spans[int(i)] for i in first.get_attribute("data-s").split()]
        text = tip.inner_text()
        for s in covering:
            assert techniques[s[2]]["name"] in text
            assert f"{round(s[3] * 100)}% confidence" in text
            if s[5]:  # the words that triggered the span
                assert "Triggered by" in text and s[5][0] in text
        assert first.get_attribute("aria-describedby") == "tip"

        # Keyboard users get the same tooltip by focusing a mark.
        page.mouse.move(5, 5)
        page.keyboard.press("Escape")
        marks.nth(1).focus()
        tip.wait_for(state="visible")

        # Untick the technique of the first mark: none of its marks stay highlighted.
        key = str(covering[0][2])
        page.mouse.move(5, 5)
        page.keyboard.press("Escape")
        box = page.locator(f'.legend input[type=checkbox][data-t="{key}"]')
        box.scroll_into_view_if_needed()
        box.uncheck()
        state = page.evaluate("""key => {
            const out = {visibleWithKey: 0, onlyKeyStillOn: 0};
            const spans = JSON.parse(document.querySelector('script.doc-data').textContent).spans;
            document.querySelectorAll('mark.m').forEach(m => {
                const techs = m.dataset.s.split(' ').map(i => String(spans[+i][2]));
                if (!m.classList.contains('off') && m.dataset.vt.split(' ').includes(key)) out.visibleWithKey++;
                if (techs.every(t => t === key) && !m.classList.contains('off')) out.onlyKeyStillOn++;
            });
            return out;
        }""", key)
        assert state == {"visibleWithKey": 0, "onlyKeyStillOn": 0}
        assert page.locator("mark.m.off").count() > 0
        box.check()
        assert page.locator("mark.m.off").count() == 0

        # The confidence slider starts at the threshold the spans were chosen with, and
        # hides marks whose spans are all below it as it rises.
        threshold = round(min(s[3] for s in spans) * 100)
        assert int(page.locator(".thr-in").input_value()) <= threshold
        on_before = page.locator("mark.m:not(.off)").count()
        page.locator(".thr-in").fill("60")
        assert page.inner_text(".thr-out") == "60%"
        below = page.evaluate("""() => {
            const spans = JSON.parse(document.querySelector('script.doc-data').textContent).spans;
            let bad = 0;
            document.querySelectorAll('mark.m').forEach(m => {
                const scores = m.dataset.s.split(' ').map(i => spans[+i][3]);
                const on = !m.classList.contains('off');
                if (on !== scores.some(s => s >= 0.6)) bad++;
            });
            return bad;
        }""")
        assert below == 0
        assert page.locator("mark.m:not(.off)").count() < on_before
        page.locator(".thr-in").fill("0")
        assert page.locator("mark.m:not(.off)").count() == on_before

        page.screenshot(path=str(tmp_path / "report.png"), full_page=False)
        assert (tmp_path / "report.png").stat().st_size > 10_000
        assert dialogs == [] and outside == [] and errors == []


def test_story_sections_read_well(browser, tmp_path):
    """Actors with an unclear role, evidence and relations, and attributed claims, laid out
    in a real browser: visible, inside the page width, and the narrow layout drops columns."""
    from test_report import _story_doc

    from redline.report import render_html

    path = tmp_path / "story.html"
    path.write_text(render_html([_story_doc()]), encoding="utf-8")
    page = browser.new_page(viewport={"width": 1360, "height": 900})
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(path.as_uri())
    actors = page.locator("section.actors")
    assert "not redline’s judgement of the actor" in actors.inner_text()
    unclear = page.locator(".actors-table tbody tr", has=page.locator("th", has_text="Iran")).locator("td.cast")
    assert "unclear" in unclear.inner_text() and "leans Antagonist 52%" in unclear.inner_text()
    assert page.locator("ul.evidence").first.is_visible()
    assert page.locator(".claim mark.source").first.inner_text() == "Gen. Pourdastan"
    assert page.locator(".claim mark.cue").first.inner_text() == "announced"
    assert page.locator(".relations-table tbody tr").count() == 1
    # nothing pushes the page wider than the window
    assert page.evaluate("document.documentElement.scrollWidth") <= 1360
    page.set_viewport_size({"width": 420, "height": 900})
    assert not page.locator(".actors-table .col-type").first.is_visible()
    page.screenshot(path=str(tmp_path / "story.png"), full_page=True)
    assert (tmp_path / "story.png").stat().st_size > 10_000
    assert errors == []
