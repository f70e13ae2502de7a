"""The HTML report: marks for every span, stacking of overlaps, escaping, sections, offline."""

from __future__ import annotations

import html as htmlmod
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from redline.doc import Actor, Attribution, Claim, Document, Relation, Role
from redline.io.formats import render
from redline.pipeline import analyze
from redline.report import assign_slots, paragraphs, render_html, segment_style

EXAMPLE = Path(__file__).resolve().parents[2] / "shared" / "examples" / "assad-redline.txt"

HAND_WRITTEN = (
    "Enough Is Enough\n"
    "\n"
    "The corrupt elites in the capital have betrayed us again. Everyone knows the so-called experts lie.\n"
    "Either we stand up now or our nation will be destroyed forever. What about their scandals?\n"
)

XSS = ('Breaking: <script>alert(1)</script> they said.\n'
       '</script><script>alert(2)</script> and <img src=x onerror=alert(3)> and "quotes" & \'apostrophes\'.\n'
       '<!-- comment --> <style>body{display:none}</style> ]]> {{ 7*7 }} {% raw %}\n')


class _Collector(HTMLParser):
    """Collects the text of each article paragraph, the marks and the JSON script blocks."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.paras: list[str] = []
        self.marks: list[dict] = []
        self.json_blocks: list[str] = []
        self.scripts = 0
        self.attributes: set[str] = set()
        self._in_article_p = False
        self._in_json = False
        self._depth_article = 0
        self._cur_mark = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.attributes.update(a)
        if tag == "div" and "article" in (a.get("class") or "").split():
            self._depth_article = 1
        elif tag == "p" and self._depth_article and "--depth" in (a.get("style") or ""):
            self._in_article_p = True
            self.paras.append("")
        elif tag == "mark" and "m" in (a.get("class") or "").split():
            self._cur_mark = {**a, "text": ""}
            self.marks.append(self._cur_mark)
        elif tag == "script":
            self.scripts += 1
            self._in_json = a.get("type") == "application/json"
            if self._in_json:
                self.json_blocks.append("")

    def handle_endtag(self, tag):
        if tag == "p" and self._in_article_p:
            self._in_article_p = False
        elif tag == "mark":
            self._cur_mark = None
        elif tag == "script":
            self._in_json = False

    def handle_data(self, data):
        if self._in_article_p:
            self.paras[-1] += data
        if self._cur_mark is not None:
            self._cur_mark["text"] += data
        if self._in_json:
            self.json_blocks[-1] += data


def parse(html: str) -> _Collector:
    c = _Collector()
    c.feed(html)
    return c


def _example_text() -> str:
    if not EXAMPLE.exists():
        pytest.skip("founding example not found in ../shared/examples")
    return EXAMPLE.read_text(encoding="utf-8")


def _check_marks_cover_spans(doc: Document, html: str) -> _Collector:
    got = parse(html)
    # The article's text survives whole, paragraph by paragraph.
    assert got.paras == [doc.text[s:e] for s, e in paragraphs(doc.text)]
    # Every span is on at least one mark, and the marks' text is what the spans cover.
    on_marks = set()
    for m in got.marks:
        on_marks.update(int(i) for i in m["data-s"].split())
        assert m["tabindex"] == "0"
    assert on_marks == set(range(len(doc.spans)))
    for i, span in enumerate(doc.spans):
        covered = "".join(m["text"] for m in got.marks if str(i) in m["data-s"].split())
        assert covered.replace("\n", "") == re.sub(r"[\r\n]+", "", span.text)
    return got


def test_founding_article_report():
    text = _example_text()
    doc = analyze(text, id="assad-redline", components=("lexicon",))
    assert doc.spans, "the lexicon finds techniques in the founding article"
    html = render([doc], "html")
    got = _check_marks_cover_spans(doc, html)
    assert "Why is the fall of Assad a redline for Iran?" in html
    data = json.loads(got.json_blocks[0])
    assert len(data["spans"]) == len(doc.spans)
    assert len(json.loads(got.json_blocks[-1])["techniques"]) >= 14
    # Legend counts and summary numbers.
    for label in {s.technique for s in doc.spans}:
        from redline.taxonomy import technique_info
        assert htmlmod.escape(technique_info(label).name) in html
    assert f">{len(doc.spans)}<" in html
    assert 'type="range"' in html and 'type="checkbox"' in html
    assert 'class="dens-bar"' in html


def test_hand_written_article_with_overlapping_spans():
    doc = Document(id="hand", text=HAND_WRITTEN)
    t = doc.text
    s1 = t.index("The corrupt elites")
    doc.add_span(s1, t.index(" again.") + 6, "Loaded_Language", 0.8)        # the whole clause
    doc.add_span(s1 + 4, s1 + 18, "Name_Calling,Labeling", 0.9)             # "corrupt elites", nested
    doc.add_span(s1 + 12, s1 + 30, "Appeal_to_fear-prejudice", 0.3)         # crosses the name calling
    e = t.index("Everyone knows")
    doc.add_span(e, e + 14, "Bandwagon,Reductio_ad_hitlerum", 0.55)
    doc.add_span(e, t.index("lie.") + 3, "Doubt", 0.4)                      # same start, longer
    # A span across the line break between two paragraphs.
    doc.add_span(t.index("experts lie."), t.index("Either we") + 9, "Exaggeration,Minimisation", 0.2)
    doc.add_span(t.index("Either we"), t.index("forever.") + 7, "Black-and-White_Fallacy", 0.7)
    doc.add_span(t.index("What about"), len(t.rstrip()), "Whataboutism,Straw_Men,Red_Herring", 0.65)
    doc.add_span(0, 16, "Slogans", 0.6)
    doc.sort_spans()
    html = render_html([doc])
    got = _check_marks_cover_spans(doc, html)
    assert got.paras[0] == "Enough Is Enough"

    slots = assign_slots([(s.start, s.end) for s in doc.spans])
    by = {s.technique: slots[i] for i, s in enumerate(doc.spans)}
    assert by["Loaded_Language"] == 0 and by["Name_Calling,Labeling"] == 1 and by["Appeal_to_fear-prejudice"] == 2
    assert by["Doubt"] == 0 and by["Bandwagon,Reductio_ad_hitlerum"] == 1
    # "elites" is covered by three spans: one mark carries all three, with three bars.
    triple = [m for m in got.marks if len(m["data-s"].split()) == 3]
    assert triple and "elites" in "".join(m["text"] for m in triple)
    assert triple[0]["style"].count("linear-gradient") == 4  # three bars + the tint
    # Overlapping spans never share a slot.
    for i, a in enumerate(doc.spans):
        for j, b in enumerate(doc.spans):
            if i < j and a.start < b.end and b.start < a.end:
                assert slots[i] != slots[j]


def test_segment_style_stacks_bars():
    style = segment_style([(1, "#112233"), (0, "#445566")])
    assert style.index("#445566") < style.index("#112233")  # slot 0 first (nearest the text)
    assert "bottom 6px" in style and "bottom 2px" in style
    assert segment_style([]) == ""


def test_xss_article_renders_as_text():
    doc = Document(id="<b>id</b>", text=XSS, meta={"title": "</title><script>alert(4)</script>",
                                                    "url": "javascript:alert(5)"})
    for needle, tech in (("<script>alert(1)</script>", "Loaded_Language"), ("</script><script>", "Doubt"),
                         ("<img src=x onerror=alert(3)>", "Slogans"), ("{{ 7*7 }}", "Repetition")):
        i = XSS.index(needle)
        doc.add_span(i, i + len(needle), tech, 0.5)
    doc.actors.append(Actor("a1", "<script>alert(6)</script>", "PERSON", [doc.mention(0, 8)],
                            Role("Antagonist", ["<i>x</i>"], 0.5), [0], [0]))
    doc.claims.append(Claim(0, 40, XSS[:40], 0.5, "a1", [doc.mention(10, 18)]))
    doc.relations.append(Relation("a1", "<svg onload=alert(7)>", "a1", "attack", 0, 8))
    doc.sort_spans()
    html = render_html([doc])
    for raw in ("<script>alert", "</script><script>", "<img src=x", "<svg onload", "<i>x</i>",
                "<b>id</b>", "<style>body", "<!-- comment"):
        assert raw not in html, raw
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert 'href="javascript:' not in html
    assert "{{ 7*7 }}" in html  # template syntax in the article stays text
    got = parse(html)
    # Our script tags only: the data blocks, and the one behaviour script.
    assert got.scripts == 3
    for block in got.json_blocks:
        assert "</" not in block and "<script" not in block.lower()
        json.loads(block)
    assert not [a for a in got.attributes if a.startswith("on")]  # no inline event handlers at all


def test_sections_only_when_present():
    plain = Document(id="plain", text=HAND_WRITTEN)
    html = render_html([plain])
    assert "Actors</h2>" not in html and "Relations</h2>" not in html and "Claims to check</h2>" not in html
    assert "No techniques were found" in html


def test_actors_relations_claims():
    doc = analyze(HAND_WRITTEN, id="hand", components=("lexicon",))
    t = doc.text
    elites = Actor("elites", "The elites", "GROUP", [doc.mention(t.index("elites"), t.index("elites") + 6)],
                   Role("Antagonist", ["Corrupt", "Traitor"], 0.83),
                   [i for i, s in enumerate(doc.spans) if "elites" in s.text], [0])
    experts = Actor("experts", "The experts", "GROUP",
                    [doc.mention(t.index("experts"), t.index("experts") + 7)], None, [], [])
    nation = Actor("nation", "Our nation", "GPE", [doc.mention(t.index("nation"), t.index("nation") + 6)],
                   Role("Innocent", ["Victim"], 0.6), [], [])
    doc.actors += [elites, experts, nation]
    b = t.index("have betrayed")
    doc.relations.append(Relation("elites", "betrayed", "nation", "attack", b, b + 13))
    doc.relations.append(Relation("experts", "lie to", "nation", "state", t.index("lie."), t.index("lie.") + 3))
    doc.relations.append(Relation("nation", "accuses", "elites", "accuse", b, b + 13))
    c = t.index("The corrupt")
    hedge = t.index("again")
    doc.claims.append(Claim(c, t.index("again.") + 6, t[c:t.index("again.") + 6], 0.87, "author",
                            [doc.mention(hedge, hedge + 5)]))
    html = render_html([doc])
    assert "Actors</h2>" in html and "Relations</h2>" in html and "Claims to check</h2>" in html
    assert "The elites" in html and "Corrupt, Traitor" in html and "83%" in html
    assert "<svg" in html and html.count('class="node"') == 3 and html.count("marker-end=") == 3
    assert 'class="hedge" title="hedge">again</mark>' in html
    assert "on the word of the author" in html and "The author’s own voice" in html
    assert "87%" in html


STORY = ("Gen. Pourdastan announced that Iran is ready to send troops. Rebels shelled the town, "
         "officials said. Assad is a redline.\n")


def _story_doc() -> Document:
    """A hand-built document with the new story fields: an unclear role with its leaning,
    probabilities and evidence, an old-style role, attributed and unattributed claims."""
    doc = Document(id="story", text=STORY)
    t = doc.text
    gen = doc.mention(0, len("Gen. Pourdastan"))
    iran = doc.mention(t.index("Iran"), t.index("Iran") + 4)
    rebels = doc.mention(t.index("Rebels"), t.index("Rebels") + 6)
    unclear = Role(None, [], 0.52, guess="Antagonist",
                   probabilities={"Protagonist": 0.2, "Antagonist": 0.52, "Innocent": 0.28},
                   evidence={"techniques_aimed": {"Name_Calling": 2, "Doubt": 1}, "agent_of_harm": 1})
    doc.actors += [
        Actor("iran", "Iran", "GPE", [iran], unclear, [], [0]),
        Actor("gen", "Gen. Pourdastan", "PERSON", [gen], Role("Protagonist", ["Guardian"], 0.81), [], []),
        Actor("rebels", "Rebels", "GROUP", [rebels], None, [], []),
    ]
    first_end = t.index("troops.") + 7
    doc.relations.append(Relation("gen", "announce", "iran", "state", 0, first_end))
    cue = t.index("announced")
    doc.claims.append(Claim(0, first_end, t[:first_end], 0.9, "gen", [],
                            Attribution(gen, "gen", doc.mention(cue, cue + len("announced")))))
    second = t.index("Rebels")
    said = t.index("officials said")
    second_end = t.index("said.") + 5
    doc.claims.append(Claim(second, second_end, t[second:second_end], 0.8, "author", [],
                            Attribution(doc.mention(said, said + 9), None, doc.mention(said + 10, said + 14))))
    last = t.index("Assad")
    doc.claims.append(Claim(last, len(t) - 1, t[last:len(t) - 1], 0.5, "author"))
    return doc


def test_roles_unclear_probabilities_and_evidence():
    html = render_html([_story_doc()])
    # the page says what roles are, and that they describe the text, not the actor
    assert "how this text casts an actor, not redline’s judgement of the actor" in html
    for meaning in ("as a hero or a positive force", "as a villain or a threat", "as a victim", "not sure"):
        assert meaning in html
    # an unclear role shows its leaning, as a percentage, and the evidence by its keys
    assert 'class="role is-unclear"' in html and "leans <b" in html and ">Antagonist</b> 52%" in html
    assert '<span class="ek">techniques aimed:</span> Name Calling ×2, Doubt ×1' in html
    assert '<span class="ek">agent of harm:</span> 1' in html
    assert 'title="Innocent 28%"' in html
    # a sure role, and an actor without a role
    assert ">Protagonist</span> <span class=\"pct\">81%" in html and "Guardian" in html
    # the graph colours the unclear actor as unclear
    assert "1 mention, unclear" in html


def test_claims_show_source_and_cue():
    html = render_html([_story_doc()])
    # the source and cue are marked in the claim's own words
    assert '<mark class="source" title="source">Gen. Pourdastan</mark>' in html
    assert '<mark class="cue" title="cue">announced</mark>' in html
    assert "Source: <strong>Gen. Pourdastan</strong> · cue: <q>announced</q>" in html
    # a speaker who is no actor is named by the words of the text
    assert "Source: <strong>officials</strong> · cue: <q>said</q>" in html
    # no attribution: the author's own voice
    assert "The author’s own voice" in html
    # the relation reads subject, kind and word, object
    assert "<th scope=\"row\">Gen. Pourdastan</th>" in html and "“announce”" in html


def test_text_output_shows_roles_evidence_relations_and_sources():
    out = render([_story_doc()], "text")
    assert "Iran [GPE] x1: unclear (leans Antagonist 0.52)" in out
    assert "evidence: techniques_aimed: Name_Calling x2, Doubt x1; agent_of_harm: 1" in out
    assert "Gen. Pourdastan [PERSON] x1: Protagonist (Guardian) 0.81" in out
    assert "    Rebels [GROUP] x1\n" in out  # no role: nothing claimed
    assert "Gen. Pourdastan —state/announce→ Iran" in out
    assert "source: Gen. Pourdastan (cue: announced)" in out
    assert "source: officials (cue: said)" in out
    assert "author's own voice" in out


def test_old_style_roles_and_claims_without_attribution_render():
    # today's pipeline: main always set, no guess/probabilities/evidence, a source id and no attribution
    doc = Document(id="old", text=STORY)
    gen = doc.mention(0, len("Gen. Pourdastan"))
    doc.actors.append(Actor("gen", "Gen. Pourdastan", "PERSON", [gen], Role("Antagonist", [], 0.7), [], [0]))
    doc.claims.append(Claim(0, 20, STORY[:20], 0.9, "gen"))
    html = render_html([doc])
    table = html[html.index('class="actors-table"'):]
    table = table[:table.index("</table>")]
    assert ">Antagonist</span>" in table and "unclear" not in table and "leans" not in table
    assert "Source: <strong>Gen. Pourdastan</strong>" in html
    out = render([doc], "text")
    assert "Antagonist 0.70" in out and "source: Gen. Pourdastan" in out


def test_multiple_documents_have_a_table_of_contents():
    docs = [analyze(HAND_WRITTEN, id=f"doc-{i}", components=("lexicon",)) for i in range(3)]
    html = render_html(docs)
    assert 'class="toc' in html
    for n in (1, 2, 3):
        assert f'href="#doc-{n}"' in html and f'id="doc-{n}"' in html
    assert len(parse(html).json_blocks) == 4


def test_report_is_self_contained():
    doc = analyze(HAND_WRITTEN, id="hand", components=("lexicon",))
    html = render_html([doc])
    assert "<link" not in html and "@import" not in html and "@font-face" not in html
    assert re.search(r"""\ssrc\s*=""", html) is None
    assert re.search(r"url\(\s*['\"]?(?!#)", html) is None  # only in-document references
    assert "fetch(" not in html and "XMLHttpRequest" not in html
    assert "Content-Security-Policy" in html and "default-src 'none'" in html
    assert "@media print" in html


def test_unknown_technique_label_still_renders():
    doc = Document(id="x", text="Some words here.")
    doc.add_span(0, 4, "Not_A_Real_Technique", 0.5)
    html = render_html([doc])
    assert "Not A Real Technique" in html


def test_crlf_text_keeps_paragraphs():
    text = "First line, with traitors.\r\nSecond line.\r\n\r\nThird."
    doc = Document(id="crlf", text=text)
    doc.add_span(text.index("traitors"), text.index("traitors") + 8, "Name_Calling,Labeling", 0.9)
    got = parse(render_html([doc]))
    assert got.paras == ["First line, with traitors.", "Second line.", "Third."]


def test_claim_source_shows_the_words_only_when_they_add_something():
    from redline.io.formats import claim_source

    text = "Iranian officials announce that Assad stays. Trump says it is over."
    doc = Document(id="src", text=text)
    names = {"iran": "Iran", "trump": "Donald Trump"}
    officials = Claim(0, 44, text[:44], 0.7, "iran", [],
                      Attribution(doc.mention(0, 17), "iran", doc.mention(18, 26)))
    t = text.index("Trump")
    trump = Claim(t, len(text), text[t:], 0.7, "trump", [],
                  Attribution(doc.mention(t, t + 5), "trump", doc.mention(t + 6, t + 10)))
    assert claim_source(officials, names) == 'source: Iran ("Iranian officials") (cue: announce)'
    assert claim_source(trump, names) == "source: Donald Trump (cue: says)"
    fbi = Document(id="fbi", text="The FBI warned officials.")
    warned = Claim(0, 25, fbi.text, 0.5, "fbi", [], Attribution(fbi.mention(0, 7), "fbi", fbi.mention(8, 14)))
    assert claim_source(warned, {"fbi": "FBI"}) == "source: FBI (cue: warned)"


def test_report_shows_no_local_folders():
    from redline.doc import Document
    from redline.report import render_html

    doc = Document(id="a1", text="They are traitors, all of them.", meta={"path": "/home/someone/private/a1.txt"})
    page = render_html([doc])
    assert "a1.txt" in page and "/home/someone" not in page


def test_span_scores_triggers_and_the_slider_start_as_the_tagger_left_them():
    doc = Document(id="trig", text=HAND_WRITTEN)
    t = doc.text
    s = t.index("The corrupt elites")
    corrupt = t.index("corrupt")
    doc.add_span(s, s + 18, "Name_Calling,Labeling", 0.3, triggers=[(corrupt, corrupt + 7)])
    doc.model["tagger"] = {"name": "redline-technique-mpnet6", "threshold": 0.3}
    html = render_html([doc])
    got = _check_marks_cover_spans(doc, html)
    data = [json.loads(b) for b in got.json_blocks if '"spans"' in b][0]
    # The score as it is (the tooltip shows 30%), and the trigger words for the tooltip.
    assert data["spans"][0][3] == 0.3 and data["spans"][0][5] == ["corrupt"]
    # The slider starts at the threshold the spans were chosen with.
    assert re.search(r'class="thr-in"[^>]*value="30"', html)
    assert "triggered by: corrupt" in html
