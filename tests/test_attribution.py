"""Attribution: who vouches for each sentence (reported speech), on small hand-written
texts for each pattern and on real PolNeAR articles (skipped where the data is absent)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("spacy")

from redline.components.actors import ActorFinder  # noqa: E402
from redline.components.attribution import (  # noqa: E402
    DEFAULT_MODEL_DIR, _quote_regions, attribute, find_attributions, load_attribution_model,
)
from redline.components.nlp import sentences  # noqa: E402
from redline.doc import Document  # noqa: E402

SHARED = Path(os.environ.get("REDLINE_SHARED", Path(__file__).resolve().parents[2] / "shared"))
POLNEAR = SHARED / "data" / "polnear"

needs_model = pytest.mark.skipif(not (DEFAULT_MODEL_DIR / "attribution.json").exists(),
                                 reason="no attribution model in redline/models/attribution")


def attributed(text: str) -> tuple[Document, list[tuple[str, object]]]:
    """(doc, [(sentence text, Attribution or None)]) with every offset checked."""
    doc = ActorFinder()(Document(id="t", text=text))
    spans = sentences(doc)
    out = []
    for (s, e), att in zip(spans, attribute(doc, spans)):
        if att is not None:
            for m in (att.source, att.cue):
                if m is not None:
                    assert text[m.start:m.end] == m.text and m.end > m.start
            json.dumps(att.to_json())
        out.append((text[s:e], att))
    return doc, out


def source_of(pairs, startswith: str):
    found = [att for sent, att in pairs if sent.startswith(startswith)]
    assert len(found) == 1, (startswith, [s for s, _ in pairs])
    return found[0]


def actor_name(doc: Document, att) -> str | None:
    names = {a.id: a.name for a in doc.actors}
    return names.get(att.actor) if att and att.actor else None


@needs_model
def test_said_and_claimed_with_the_speaker_first():
    doc, pairs = attributed("The EU Council president Donald Tusk claimed that the sanctions had cut Russian "
                            "exports by 20 percent. Exports fell by 4 percent in 2015.")
    att = source_of(pairs, "The EU Council")
    assert "Donald Tusk" in att.source.text and att.cue.text == "claimed"
    assert actor_name(doc, att) == "Donald Tusk"
    assert source_of(pairs, "Exports fell") is None


@needs_model
def test_said_inversion():
    doc, pairs = attributed('"The economy grew by 3 percent last year," said Angela Merkel, the German '
                            'chancellor.')
    att = source_of(pairs, '"The economy')
    assert "Angela Merkel" in att.source.text and att.cue.text == "said"
    assert actor_name(doc, att) == "Angela Merkel"


@needs_model
def test_according_to_a_report_credits_its_owner():
    doc, pairs = attributed("The United Nations sent inspectors to Aleppo in May. According to the council's "
                            "own report, 4,000 civilians were killed in the city in 2016.")
    att = source_of(pairs, "According to")
    assert att.source.text == "the council's own report" and att.cue.text == "According to"


@needs_model
def test_a_possessor_speaks_through_a_report_not_through_critics():
    doc, pairs = attributed("Donald Trump's critics said that the wall would cost 20 billion dollars. "
                            "Amnesty International's report says that 4,000 civilians were killed in 2016.")
    critics = source_of(pairs, "Donald Trump's critics")
    assert critics.source.text == "Donald Trump's critics" and actor_name(doc, critics) != "Donald Trump"
    report = source_of(pairs, "Amnesty International's report")
    assert report.source.text == "Amnesty International's report" and report.cue.text == "says"
    assert actor_name(doc, report) == "Amnesty International"


@needs_model
def test_the_speaker_with_a_relative_clause_not_the_clauses_object():
    # spaCy hangs "the gunfire" (the object of "who heard") on "said" as a second subject
    doc, pairs = attributed("A neighbor who heard the gunfire said it happened at a home where the occupants "
                            "were always arguing.")
    att = source_of(pairs, "A neighbor")
    assert att.source.text == "A neighbor" and att.cue.text == "said"


@needs_model
def test_personified_facts_and_history_are_the_authors_voice_but_documents_speak():
    doc, pairs = attributed("The facts on the ground say that the rebels are winning. "
                            "History shows that sanctions rarely work and teaches that walls fail. "
                            "According to the evidence, the regime is collapsing. "
                            "The numbers tell us that the plan failed. "
                            "The report said the rebels were winning. "
                            "The ministry's figures show that exports fell.")
    for opening in ("The facts", "History", "According to the evidence", "The numbers"):
        assert source_of(pairs, opening) is None, opening
    assert source_of(pairs, "The report").source.text == "The report"
    assert source_of(pairs, "The ministry's").source.text == "The ministry's figures"


@needs_model
def test_a_report_relays_what_an_actor_told_police_but_an_actor_keeps_what_it_reports():
    doc, pairs = attributed("Candace Smith went to a police station on Monday. She also told police that when "
                            "she “threatens to leave Quentin, he tells her that he would kill her,” the report "
                            "said. Donald Trump said Hillary Clinton told donors that the wall would fail.")
    relayed = source_of(pairs, "She also told")
    assert relayed.cue.text == "told" and actor_name(doc, relayed) == "Candace Smith"
    reported = source_of(pairs, "Donald Trump said")
    assert reported.cue.text == "said" and actor_name(doc, reported) == "Donald Trump"


@needs_model
def test_warned_and_nothing_to_attribute():
    doc, pairs = attributed("The United Nations warned on Monday that 2 million people could starve in Yemen.")
    att = source_of(pairs, "The United Nations")
    assert att.cue.text == "warned" and actor_name(doc, att) == "United Nations"
    empty = Document(id="e", text="...")
    assert attribute(empty, []) == []


@needs_model
def test_told_reporters():
    doc, pairs = attributed("Vladimir Putin told reporters on Monday that Russian troops had left Syria.")
    att = source_of(pairs, "Vladimir Putin told")
    assert att.source.text == "Vladimir Putin" and att.cue.text == "told"
    assert actor_name(doc, att) == "Vladimir Putin"


@needs_model
def test_pronoun_speaker_gets_the_full_name():
    text = ("Vladimir Putin arrived in Damascus on Monday for talks with the Syrian government. "
            "He said that 3,000 Russian troops would stay in Syria until 2020.")
    doc, pairs = attributed(text)
    att = source_of(pairs, "He said")
    assert att.source.text == "Vladimir Putin" and att.source.start < text.index("He said")
    assert att.cue.text == "said" and actor_name(doc, att) == "Vladimir Putin"


@needs_model
def test_pronoun_speaker_continues_the_last_speaker_not_the_victim():
    text = ("Police found the body of John Smith in a garage on Main Street on Sunday. "
            "The garage manager said two men had parked a van near the entrance. "
            "He said they came and went around 3am.")
    doc, pairs = attributed(text)
    assert source_of(pairs, "The garage manager").source.text == "The garage manager"
    att = source_of(pairs, "He said")
    assert att.source.text == "The garage manager"
    assert actor_name(doc, att) != "John Smith"


@needs_model
def test_quote_over_several_sentences_takes_the_speaker_named_after_it():
    text = ('"We will not leave Syria. Our troops will stay until the war ends. The terrorists must be '
            'defeated," Vladimir Putin said on Monday. Oil prices rose by 2 percent on Tuesday.')
    doc, pairs = attributed(text)
    for start in ("\"We will", "Our troops", "The terrorists"):
        att = source_of(pairs, start)
        assert att is not None and att.source.text == "Vladimir Putin", start
    assert source_of(pairs, "Oil prices") is None


@needs_model
def test_a_quote_continuing_after_the_speaker_keeps_the_speaker():
    text = ('"Our progress is on the ballot," Barack Obama said on Saturday in Washington. '
            '"Democracy is on the ballot."\nThe election is on November 8.')
    doc, pairs = attributed(text)
    assert source_of(pairs, '"Democracy').source.text == "Barack Obama"
    assert source_of(pairs, "The election") is None


@needs_model
def test_speaker_named_before_a_colon_quote():
    text = 'Angela Merkel told the Bundestag: "Germany will take 800,000 refugees this year. We can do this."'
    doc, pairs = attributed(text)
    assert source_of(pairs, "Angela Merkel").source.text == "Angela Merkel"
    assert source_of(pairs, "We can").source.text == "Angela Merkel"


@needs_model
def test_signed_quote():
    text = "“He is ignorant of our culture. He makes blanket statements about people.” ― Pamela Padilla\n"
    doc, pairs = attributed(text)
    for start in ("“He is", "He makes"):
        att = source_of(pairs, start)
        assert att is not None and att.source.text == "Pamela Padilla" and att.cue.text == "―"


@needs_model
def test_intentions_and_plain_statements_stay_with_the_author():
    doc, pairs = attributed("Then the Iranians decided to send more troops to Syria. "
                            "Russia provides Iran with missiles.")
    assert all(att is None for _, att in pairs)


@needs_model
def test_speaker_labels_and_inserted_said():
    text = ("PENCE: Well, look, Hillary Clinton apparently thinks the economy grew by 5 percent.\n"
            "Note: The story was updated on Monday.\n"
            "Back in Virginia, Mr. Clarke said, he decided to close 40 coal mines in 2015.")
    doc, pairs = attributed(text)
    assert source_of(pairs, "PENCE").source.text == "PENCE"
    assert source_of(pairs, "Note") is None
    att = source_of(pairs, "Back in Virginia")
    assert att.source.text == "Mr. Clarke" and att.cue.text == "said"


@needs_model
def test_the_authors_own_i_is_the_author():
    doc, pairs = attributed("I think the sanctions cut Russian exports by 20 percent in 2015.")
    assert pairs[0][1] is None


def test_quote_regions():
    text = "He said “one. two” and ''three'' and \"four\".\n“open to the end"
    got = [text[s:e] for s, e in _quote_regions(text)]
    assert got == ["one. two", "three", "four", "open to the end"]


# ----------------------------------------------------------------------------- PolNeAR

def _dev_articles(n: int):
    if not (POLNEAR / "dev" / "attributions").is_dir():
        pytest.skip("PolNeAR not found in ../shared/data")
    from redline.training.attribution import read_polnear
    return read_polnear(POLNEAR / "dev", limit=n)


def test_polnear_reader_offsets_slice_the_text():
    arts = _dev_articles(5)
    assert len(arts) == 5
    for art in arts:
        assert art.attributions
        for att in art.attributions:
            for s, e in att.source + att.cue + att.content:
                assert 0 <= s < e <= len(art.text)
    # the first annotator by file name is gold
    first = sorted((POLNEAR / "dev" / "attributions").glob("*.ann"))[0]
    from redline.training.attribution import read_ann
    assert len(read_ann(first)) == len(arts[0].attributions)


@needs_model
def test_polnear_dev_smoke():
    """On real articles: offsets slice the text, and most found sources hit a gold Source."""
    hits = total = 0
    for art in _dev_articles(3):
        doc = ActorFinder()(Document(id=art.name, text=art.text))
        spans = sentences(doc)
        for (s, e), f in zip(spans, find_attributions(doc, spans)):
            if f is None:
                continue
            for a, b in ((f.source_start, f.source_end), (f.cue_start, f.cue_end), (f.speaker_start, f.speaker_end)):
                assert 0 <= a < b <= len(art.text)
            total += 1
            hits += any(f.speaker_start < ge and gs < f.speaker_end
                        for g in art.attributions for gs, ge in g.source)
    assert total >= 10 and hits / total >= 0.6, (hits, total)


def test_train_attribution_tiny_slice(tmp_path):
    if not (POLNEAR / "train" / "attributions").is_dir():
        pytest.skip("PolNeAR not found in ../shared/data")
    out = tmp_path / "attribution"
    r = subprocess.run([sys.executable, "-m", "redline.training.attribution", "--data", str(SHARED / "data"),
                        "--out", str(out), "--limit", "6"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    result = json.loads(r.stdout)
    assert result["train_articles"] == 6 and result["train_positive"] > 0
    model = load_attribution_model(out)
    assert model.lexicon.reliability  # loads, with the feature list it was fitted on
    assert "say/VERB" in model.config["cues"]
