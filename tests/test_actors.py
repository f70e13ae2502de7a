"""Actors: found with spaCy, merged across mentions (the founding op-ed and small texts)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

pytest.importorskip("spacy")

from redline.components.actors import ActorFinder, actor_index  # noqa: E402
from redline.doc import Document  # noqa: E402


SHARED = Path(os.environ.get("REDLINE_SHARED", Path(__file__).resolve().parents[2] / "shared"))
EXAMPLE = SHARED / "examples" / "assad-redline.txt"
DATA = SHARED / "data"

def actors_of(text: str) -> Document:
    doc = Document(id="t", text=text)
    return ActorFinder()(doc)


def by_name(doc: Document) -> dict:
    return {a.name: a for a in doc.actors}


def mention_texts(actor) -> set[str]:
    return {m.text.lower() for m in actor.mentions}


@pytest.fixture(scope="module")
def op_ed(request):
    if not EXAMPLE.exists():
        pytest.skip("founding example not found in ../shared/examples")
    return actors_of(EXAMPLE.read_text(encoding="utf-8"))


def test_op_ed_iran_is_one_actor(op_ed):
    iran = by_name(op_ed)["Iran"]
    assert iran.type == "GPE"
    texts = mention_texts(iran)
    assert {"iran", "the iranian regime", "iranians", "iranian officials"} <= texts
    # "The regime pulled him out ..." refers back to the Iranian regime.
    regime = [m for m in iran.mentions if m.text.lower() == "the regime"]
    assert regime, texts


def test_op_ed_assad_and_his_regime_are_one_actor(op_ed):
    names = by_name(op_ed)
    assad = names["Assad regime"]
    texts = mention_texts(assad)
    assert {"assad", "assad regime", "the syrian regime", "the assad dynasty"} <= texts
    assert not any(a.name == "Assad" for a in op_ed.actors)


def test_op_ed_people_groups_and_organisations(op_ed):
    names = by_name(op_ed)
    for name, typ in [("Qassem Suleimani", "PERSON"), ("Hossein Hamedani", "PERSON"), ("Gen. Pourdastan", "PERSON"),
                      ("IRGC", "ORG"), ("Quds Force", "ORG"), ("Russia", "GPE"), ("Syrian people", "GROUP"),
                      ("Levant revolutionaries", "GROUP"), ("militia groups", "GROUP")]:
        assert name in names and names[name].type == typ, (name, sorted(names))
    assert len(names["Qassem Suleimani"].mentions) == 2
    militia = mention_texts(names["militia groups"])
    assert any("lebanese" in t for t in militia) and any("pakistani" in t for t in militia)
    # Places used only as places are not actors.
    assert "Aleppo" not in names and "Yemen" not in names


def test_op_ed_mentions_slice_the_text_and_do_not_overlap(op_ed):
    seen = []
    for actor in op_ed.actors:
        assert actor.id and actor.mentions
        for m in actor.mentions:
            assert op_ed.text[m.start:m.end] == m.text
            assert m.text == m.text.strip()
            seen.append((m.start, m.end))
    seen.sort()
    for (s1, e1), (s2, e2) in zip(seen, seen[1:]):
        assert e1 <= s2, (s1, e1, s2, e2)
    assert len({a.id for a in op_ed.actors}) == len(op_ed.actors)
    json.dumps(op_ed.to_json())  # the private parse cache is not serialised


def test_op_ed_pronouns_resolve_for_the_other_components(op_ed):
    index = actor_index(op_ed)
    names = {a.id: a.name for a in op_ed.actors}
    resolved = {names[a] for a in index.pronoun_actor.values()}
    assert "Qassem Suleimani" in resolved  # "turn him into a legend", "his fate is unknown"


def test_capital_demonym_and_surname_merging():
    doc = actors_of("Tehran sent advisers to Syria. The Iranian government denied it, and Iranians protested. "
                    "Qassem Suleimani led the operation. Suleimani was later injured. "
                    "The Kremlin said Russian troops would stay.")
    names = by_name(doc)
    assert {"tehran", "the iranian government", "iranians"} <= mention_texts(names["Iran"])
    assert mention_texts(names["Qassem Suleimani"]) == {"qassem suleimani", "suleimani"}
    assert {"kremlin", "russian troops"} <= mention_texts(names["Russia"])


def test_leader_regime_policy():
    doc = actors_of("Syrian President Bashar al-Assad spoke on Monday. Critics say the Syrian regime "
                    "is brutal. Assad denied the reports. The Iranian regime backs him.")
    names = by_name(doc)
    assad = names["Assad regime"]
    assert {"president bashar al-assad", "the syrian regime", "assad"} <= mention_texts(assad)
    assert "the iranian regime" in mention_texts(names["Iran"])


def test_distinct_people_with_one_surname_stay_apart():
    doc = actors_of("Candace Smith called the police. Quentin Smith was arrested on Friday. "
                    "Smith was charged with murder.")
    names = by_name(doc)
    assert "Candace Smith" in names and "Quentin Smith" in names
    assert "smith" in mention_texts(names["Quentin Smith"])


def test_parse_is_the_same_without_the_vocabulary_string_table(own_example):
    """get_nlp skips loading strings.json (a second of cold start): nothing may change."""
    import spacy

    from redline.components import nlp

    loaded = nlp.get_nlp()
    assert len(loaded.vocab.strings) < 100_000  # the 700k-entry table was not read
    full = spacy.load(loaded.path)

    def described(parsed):
        return ([(t.text, t.tag_, t.pos_, t.dep_, t.head.i, t.lemma_, t.norm_, t.ent_type_, t.ent_iob_,
                  t.is_sent_start) for t in parsed]
                + [(e.start_char, e.end_char, e.label_) for e in parsed.ents]
                + [(c.start, c.end) for c in parsed.noun_chunks])

    text = own_example + "\nAleppo, Damascus and Tehran: the Revolutionary Guards said so on Monday."
    assert described(loaded(text)) == described(full(text))


# --------------------------------------------------------------------------- issue #14: actors a reader would list

def test_a_bare_surname_goes_to_the_father_and_trump_jr_stays_apart():
    doc = actors_of("Donald Trump Jr. met reporters on Monday. Donald Trump was in Florida. "
                    "Trump said the meeting was fine. Trump Jr. disagreed. Mr Trump left early.")
    names = by_name(doc)
    assert mention_texts(names["Donald Trump Jr."]) == {"donald trump jr.", "trump jr."}
    assert mention_texts(names["Donald Trump"]) == {"donald trump", "trump", "mr trump"}


def test_a_titled_surname_never_joins_a_suffixed_name_it_may_not_be():
    doc = actors_of("Donald Trump Jr. spoke to supporters. President Trump later praised him.")
    names = by_name(doc)
    assert mention_texts(names["Donald Trump Jr."]) == {"donald trump jr."}
    assert any("president trump" in mention_texts(a) for a in doc.actors if a.name != "Donald Trump Jr.")


def test_two_different_full_names_are_never_one_actor():
    doc = actors_of("Ahmed Mohamed built a clock. His father, Mohamed El-Hassan Mohamed, was proud. "
                    "Ahmed Mohamed was arrested at school. Mohamed said he only wanted to impress his teacher.")
    for actor in doc.actors:
        full = {m.text for m in actor.mentions if len(m.text.split()) >= 2}
        assert len(full) <= 1, (actor.name, full)
    # The bare surname goes to the one the article names most.
    assert "mohamed" in mention_texts(by_name(doc)["Ahmed Mohamed"])


def test_honorific_and_surname_join_the_full_name():
    doc = actors_of("Theresa May faced her cabinet on Tuesday. Mrs May said the deal was the best available. "
                    "Dr Liam Fox disagreed, and Sir Keir Starmer called for a vote. Mr Starmer was not alone.")
    names = by_name(doc)
    assert mention_texts(names["Theresa May"]) == {"theresa may", "mrs may"}
    assert {"keir starmer", "mr starmer"} <= {t.replace("sir ", "") for t in mention_texts(names["Keir Starmer"])}
    assert not any(a.name in ("May", "Mrs May") for a in doc.actors)


def test_organisation_acronyms_and_word_orders_are_one_actor():
    doc = actors_of("The DOJ said on Monday that it would appeal. A Justice Department spokesman declined to "
                    "comment, and the Department of Justice issued a statement. The Environmental Protection "
                    "Agency (EPA) said the agency would act, and the EPA later confirmed it.")
    names = by_name(doc)
    doj = [a for a in doc.actors if "doj" in mention_texts(a)]
    assert len(doj) == 1 and {"justice department", "department of justice"} <= mention_texts(doj[0])
    assert {"environmental protection agency", "epa", "the agency"} <= mention_texts(names["Environmental "
                                                                                           "Protection Agency"])


def test_a_person_goes_by_the_initials_of_the_full_name():
    doc = actors_of("The Green New Deal, pushed by Alexandra Ocasio-Cortez, would ban nothing. Critics say AOC "
                    "is coming after your air miles, and the EU said nothing.")
    aoc = [a for a in doc.actors if "aoc" in mention_texts(a)]
    assert len(aoc) == 1 and aoc[0].type == "PERSON" and "alexandra ocasio-cortez" in mention_texts(aoc[0])
    assert not any("eu" in mention_texts(a) and a.type == "PERSON" for a in doc.actors)


def test_places_and_platforms_that_only_describe_are_not_actors():
    doc = actors_of("The plan, pushed by freshman New York Democrat Alexandra Ocasio-Cortez, needs a space as "
                    "big as the entire state of California. \"It is beautiful,\" Kimberley Strassel wrote on "
                    "Twitter. New York sued the government on Monday.")
    names = by_name(doc)
    assert "California" not in names and "Twitter" not in names
    # New York is an actor where it acts ("New York sued"), not where it describes a Democrat
    assert mention_texts(names["New York"]) == {"new york"} and len(names["New York"].mentions) == 1


def test_handles_join_their_names_and_groups_drop_a_possessive():
    doc = actors_of("Just spoke to the governor about the horrible shooting of two great police officers.\n"
                    "— Donald J. Trump (@realDonaldTrump) February 11, 2018\n"
                    "President Donald Trump later called the officers heroes. \"Everyone should be as upset "
                    "about this as America’s law enforcement officers are,\" the commissioner wrote.")
    assert not any(m.text.startswith("@") and len(a.mentions) == 1 for a in doc.actors for m in a.mentions)
    trump = [a for a in doc.actors if "@realdonaldtrump" in mention_texts(a)]
    assert len(trump) == 1 and "donald j. trump" in mention_texts(trump[0])
    assert not any(m.text.startswith(("’s", "'s")) for a in doc.actors for m in a.mentions)


def test_capitals_and_seats_of_power():
    doc = actors_of("Brussels warned London on Friday. Number 10 and Downing Street said the talks in Brussels "
                    "had failed. Washington and the Kremlin agreed, and Moscow sent a delegation.")
    names = by_name(doc)
    assert mention_texts(names["European Union"]) == {"brussels"}  # "in Brussels" is a place
    assert "Belgium" not in names
    assert {"london", "number 10", "downing street"} <= mention_texts(names["United Kingdom"])
    assert {"washington"} <= mention_texts(names["United States"])
    assert {"kremlin", "moscow"} <= mention_texts(names["Russia"])


def test_bylines_and_photo_credits_are_not_actors():
    doc = actors_of("PETER OBORNE\n\nBoris Johnson's plan is failing, and the voters know it.\n"
                    "Photo: AFP/Getty Images\n(Reuters) - Johnson told reporters he would press on.\nREUTERS\n")
    names = by_name(doc)
    assert "Boris Johnson" in names and {"boris johnson", "johnson"} <= mention_texts(names["Boris Johnson"])
    for absent in ("PETER OBORNE", "Peter Oborne", "Reuters", "REUTERS", "AFP", "Getty Images", "AFP/Getty Images"):
        assert absent not in names, (absent, sorted(names))


def test_topics_and_headline_guesses_are_not_people():
    doc = actors_of("Brexit Bill Passes Referendum Test As Tories Cheer\n\n"
                    "The pro-Brexit wing welcomed the vote on Brexit. Critics of Obamacare said nothing. "
                    "Theresa May thanked the Tories.")
    names = by_name(doc)
    for absent in ("Brexit", "Bill", "Brexit Bill", "Referendum", "pro-Brexit", "Obamacare"):
        assert absent not in names, (absent, sorted(names))
    assert names["Theresa May"].type == "PERSON"


def test_party_short_forms_and_acronyms_of_things_are_not_people_or_organisations():
    # spaCy reads "Dem" as a person and "FAQ" as an organisation here
    doc = actors_of("WSJ writer slams Ocasio-Cortez's Green New Deal, says it looks like Dem parody bill. "
                    "In a now-deleted FAQ page on Ocasio-Cortez's website, the document explains that it's "
                    "calling for an elimination of greenhouse gas emissions. Recall, also, the much-criticized "
                    "supporting FAQ materials produced by Ocasio-Cortez's office.")
    assert not [a for a in doc.actors if a.name in ("Dem", "FAQ") and a.type in ("PERSON", "ORG")], \
        [(a.name, a.type) for a in doc.actors]


def test_groups_cast_by_description_are_actors():
    doc = actors_of("Climate alarmists want to rebrand climate change. The alarmists say fishing families and "
                    "farmers will suffer, while scientists disagree. Muslims and Christians prayed together, "
                    "and environmental groups protested. People of color are most at risk, but innocent "
                    "people rarely appear in these debates.")
    names = {a.name.lower(): a for a in doc.actors}
    for group in ("climate alarmists", "fishing families", "farmers", "scientists", "environmental groups",
                  "people of color"):
        assert group in names and names[group].type == "GROUP", (group, sorted(names))
    assert "muslims" in names
    assert "the alarmists" in mention_texts(names["climate alarmists"])
    assert not any("innocent" in n for n in names)


def test_an_administration_is_an_actor_apart_from_its_president():
    doc = actors_of("President Donald Trump signed the order. The Trump administration said the rule would "
                    "save money, and the administration will defend it in court. Trump was golfing.")
    names = by_name(doc)
    admin = names["Trump administration"]
    assert admin.type == "ORG"
    assert {"the trump administration", "the administration"} <= mention_texts(admin)
    assert {"president donald trump", "trump"} <= mention_texts(names["Donald Trump"])


def test_own_example_groups_and_people(own_example):
    doc = actors_of(own_example)
    names = {a.name.lower(): a for a in doc.actors}
    assert "fishing families" in names
    assert any("marlow" in n and "people" in n for n in names), sorted(names)
    assert names["dana kreel"].type == "PERSON"


def test_name_and_organisation_normalisation():
    from redline.components.actors import _acronyms_of, _org_key, _person_name

    assert _person_name("Gen. Donald J. Trump Jr.'s").words == ("donald", "trump")
    assert _person_name("Donald Trump Jr.").key != _person_name("Donald Trump").key
    assert _person_name("Donald John Trump").key == _person_name("Donald Trump").key
    assert _person_name("Bashar al-Assad").words == ("bashar", "assad")
    assert _person_name("Alexandria Ocasio-Cortez").words == ("alexandria", "ocasio-cortez")
    assert _person_name("Martin Luther King").words[-1] == "king"
    assert _org_key("the U.S. Justice Department's") == _org_key("Department of Justice")
    assert _org_key("New People's Party") == _org_key("New People Party")
    assert "DOJ" in _acronyms_of("Justice Department")
    assert "USDA" in _acronyms_of("U.S. Department of Agriculture")


def test_gum_news_actors_never_hold_two_full_names():
    """On 24 real news articles: no actor merges two people with different full names."""
    gum = DATA / "gum-news" / "derived"
    if not gum.is_dir():
        pytest.skip("GUM news not found in ../shared/data/gum-news")
    from redline.components.actors import _person_name

    for path in sorted(gum.glob("GUM_news_*.txt"))[:12]:
        doc = actors_of(path.read_text(encoding="utf-8"))
        for actor in doc.actors:
            if actor.type != "PERSON":
                continue
            names = [m.text for m in actor.mentions if all(w[:1].isupper() for w in m.text.split())
                     and m.text.split()[0].lower() not in ("the", "this", "that")]  # not "The President"
            full = {_person_name(n).key for n in names if _person_name(n).full}
            assert len(full) <= 1, (path.name, actor.name, full)


def test_pronouns_follow_the_gender_a_title_gives():
    doc = actors_of("Mrs May met Mr Fox on Monday. She said the deal was done. He disagreed.")
    index = actor_index(doc)
    names = {a.id: a.name for a in doc.actors}
    from redline.components.nlp import parse

    parsed = parse(doc)
    resolved = {parsed[i].text: names[a] for i, a in index.pronoun_actor.items()}
    assert resolved == {"She": "Mrs May", "He": "Mr Fox"}


def test_the_police_is_one_actor_however_it_is_named():
    doc = actors_of("Earlier, the police released the name of the suspect. Police said he fled. "
                    "Two police officers were shot, and police later charged him.")
    police = [a for a in doc.actors if "police" in a.name.lower()]
    assert len(police) == 1, [(a.name, a.type) for a in doc.actors]
    assert "the police" in mention_texts(police[0]) and len(police[0].mentions) >= 3
