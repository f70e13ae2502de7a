"""`redline corpus stats`: figures checked by hand on a small store, the bootstrap against a
plain loop, the CLI on real narrative-frames articles, and the 10,000-article time target."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import duckdb
import numpy as np
import pytest

from conftest import REPO
from test_corpus_ingest import ENV, narrative_subset

from redline.corpus import stats
from redline.corpus.store import SCHEMA, Store
from redline.doc import Actor, Claim, Document, Role


def article(text: str, source: str, date: str, spans=(), actors=(), claims=(), **meta) -> Document:
    """A Document as the pipeline leaves it: spans given as (phrase, technique), actors as
    (id, name, role or None, [indexes of spans aimed at it]), claims as (sentence, source)."""
    doc = Document(id=f"{source}-{date}-{len(text)}", text=text, meta={"source": source, "date": date, **meta})
    for phrase, technique in spans:
        start = text.index(phrase)
        doc.add_span(start, start + len(phrase), technique, 0.9)
    for actor_id, name, role, aimed in actors:
        at = text.index(name)
        doc.actors.append(Actor(actor_id, name, "ORG", [doc.mention(at, at + len(name))],
                                Role(role, score=0.8) if role else None, techniques=list(aimed)))
    for sentence, source_ in claims:
        at = text.index(sentence)
        doc.claims.append(Claim(at, at + len(sentence), sentence, 0.7, source_))
    return doc


TEXTS = ["The brutal Agency lied again and again to everyone here today",
         "A shameful Agency report came out on Monday as officials had said",
         "Farmers said the Agency helped them a lot this year and they were grateful for the "
         "support they got from the state when the river flooded",
         "Nothing happened in town today"]
ALPHA_WORDS = sum(len(t.split()) for t in TEXTS[:3])


def hand_store(path) -> None:
    """Two sources: 'Alpha' (3 articles) uses loaded language and name calling against the
    Agency; 'Beta' (1 article) none."""
    docs = [
        article(TEXTS[0], "Alpha", "2018-01-05",
                spans=[("brutal", "Loaded_Language"), ("lied", "Name_Calling,Labeling")],
                actors=[("agency", "Agency", "Antagonist", [0, 1])],
                claims=[("The brutal Agency lied again", "author")]),
        article(TEXTS[1], "Alpha", "2018-01-20",
                spans=[("shameful", "Loaded_Language")],
                actors=[("agency", "Agency", None, [0])],
                claims=[("A shameful Agency report came out on Monday", "agency")]),
        article(TEXTS[2], "Alpha", "2018-02-03",
                actors=[("agency", "Agency", "Protagonist", []), ("farmers", "Farmers", "Innocent", [])]),
        article(TEXTS[3], "Beta", "2018-02-10"),
    ]
    with Store(path) as store:
        store.add_documents(docs, "test-run")


@pytest.fixture
def store(tmp_path):
    path = tmp_path / "hand.duckdb"
    hand_store(path)
    return path


def compute(path, by=("source",), filters=stats.Filters(), **settings):
    with duckdb.connect(str(path), read_only=True) as con:
        return stats.compute(con, by, filters, stats.Settings(**settings))


def test_figures_by_hand(store):
    result = compute(store)
    alpha, beta = result["groups"]
    assert (alpha["source"], alpha["n_articles"], alpha["words"], alpha["small"]) == ("Alpha", 3, ALPHA_WORDS, True)
    assert (beta["source"], beta["n_articles"], beta["words"]) == ("Beta", 1, 5)
    # 3 spans in 49 words; loaded language in 2 of 3 articles; name calling in 1.
    assert alpha["techniques_per_1000_words"]["value"] == pytest.approx(3 / ALPHA_WORDS * 1000, abs=1e-3)
    ll = alpha["techniques"]["Loaded_Language"]
    assert ll["spans"] == 2
    assert ll["share_of_articles"]["value"] == pytest.approx(2 / 3, abs=1e-4)
    assert alpha["families"]["Manipulative wording"]["spans"] == 2
    assert alpha["families"]["Attack on reputation"]["share_of_articles"]["value"] == pytest.approx(1 / 3, abs=1e-4)
    covered = len("brutal") + len("lied") + len("shameful")
    chars = sum(len(t) for t in TEXTS[:3])
    assert alpha["share_of_text_covered"]["value"] == pytest.approx(covered / chars, abs=1e-3)
    # One of two claims rests on the author alone; Beta has no claim, so no rate at all.
    assert alpha["share_of_claims_author_only"]["value"] == pytest.approx(0.5)
    assert beta["share_of_claims_author_only"] is None
    assert beta["techniques"]["Loaded_Language"]["per_1000_words"] == {"value": 0.0, "ci_low": 0.0, "ci_high": 0.0}
    # Actors across articles by actor_key; portrayal among the articles naming the actor.
    agency = alpha["top_actors"][0]
    assert (agency["actor_key"], agency["articles"]) == ("agency|ORG", 3)
    assert agency["portrayal"]["Antagonist"]["value"] == pytest.approx(1 / 3, abs=1e-4)
    assert agency["portrayal"]["Protagonist"]["value"] == pytest.approx(1 / 3, abs=1e-4)
    assert agency["portrayal"]["unclear"]["value"] == pytest.approx(1 / 3, abs=1e-4)
    attacked = alpha["most_attacked"]
    assert [(a["name"], a["spans"], a["articles"]) for a in attacked] == [("Agency", 3, 2)]
    assert beta["most_attacked"] == [] and beta["top_actors"] == []


def test_every_rate_has_an_interval_around_it(store):
    result = compute(store, by=())
    (group,) = result["groups"]

    def rates(node):
        if isinstance(node, dict):
            if set(node) == {"value", "ci_low", "ci_high"}:
                yield node
            else:
                for v in node.values():
                    yield from rates(v)
        elif isinstance(node, list):
            for v in node:
                yield from rates(v)

    found = list(rates(group))
    assert len(found) > 20
    for r in found:
        assert r["ci_low"] - 1e-9 <= r["value"] <= r["ci_high"] + 1e-9, r
    # Four articles with different rates: the interval of the overall rate has width.
    overall = group["techniques_per_1000_words"]
    assert overall["ci_low"] < overall["value"] < overall["ci_high"]


def test_seeded_intervals_do_not_depend_on_other_groups(store):
    both = compute(store)["groups"][0]
    alone = compute(store, filters=stats.Filters(sources=("alpha",)))["groups"][0]  # case-insensitive
    assert both == alone
    assert compute(store)["groups"][0] == both  # the same seed, the same intervals
    # Another seed draws other resamples (on 3 articles the bounds are often the same extremes).
    data = np.arange(1.0, 41.0)[:, None]
    draws = [stats.bootstrap_ratios(data, np.ones_like(data), resamples=200, rng=np.random.default_rng(s))
             for s in (1, 2)]
    assert draws[0][0] == draws[1][0] and (draws[0][1], draws[0][2]) != (draws[1][1], draws[1][2])


def test_filters_months_meta_keys_and_latest_versions(store):
    by_month = compute(store, by=("month",))
    assert [(g["month"], g["n_articles"]) for g in by_month["groups"]] == [("2018-01", 2), ("2018-02", 2)]
    since = compute(store, by=(), filters=stats.Filters(since=stats.parse_date("2018-01-10", "--since"),
                                                      until=stats.parse_until("2018-02")))
    assert since["n_articles"] == 3
    only = compute(store, by=(), filters=stats.Filters(techniques=stats.resolve_techniques(["Loaded language"])))
    assert list(only["groups"][0]["techniques"]) == ["Loaded_Language"]
    assert only["groups"][0]["most_attacked"][0]["spans"] == 2
    # A new version of an article replaces the old one in the figures.
    with Store(store) as s:
        s.add_documents([article("Nothing at all happened in town today", "Beta", "2018-02-10",
                                 article_key="beta-town")], "run-2")
        s.add_documents([article("Nothing at all happened in town today, again", "Beta", "2018-02-11",
                                 article_key="beta-town")], "run-3")
    beta = compute(store)["groups"][1]
    assert beta["n_articles"] == 2
    # A metadata key that is no column groups too; articles without it are "(none)".
    assert [g["kind"] for g in compute(store, by=("kind",))["groups"]] == ["(none)"]


def test_bad_input_is_a_clear_error(store):
    for by, message in ((("text",), "one value per article"), (("x;drop",), "not a column name")):
        with pytest.raises(stats.InputError, match=message):
            compute(store, by=by)
    with pytest.raises(stats.InputError, match="not a date"):
        stats.parse_date("2018-13", "--since")
    with pytest.raises(stats.InputError, match="unknown technique"):
        stats.resolve_techniques(["Nonsense"])
    empty = compute(store, by=(), filters=stats.Filters(sources=("Nobody",)))
    assert empty["n_articles"] == 0 and empty["groups"] == []


def test_vectorised_bootstrap_matches_a_plain_loop():
    rng = np.random.default_rng(3)
    words = rng.integers(200, 1500, size=60).astype(float)
    spans = rng.poisson(words / 150).astype(float)
    value, low, high = stats.bootstrap_ratios(spans[:, None], words[:, None], resamples=4000,
                                              rng=np.random.default_rng(11))
    loop_rng = np.random.default_rng(12)
    ratios = []
    for _ in range(4000):
        pick = loop_rng.integers(0, len(words), len(words))
        ratios.append(spans[pick].sum() / words[pick].sum())
    assert value[0] == pytest.approx(spans.sum() / words.sum())
    assert low[0] == pytest.approx(np.percentile(ratios, 2.5), rel=0.03)
    assert high[0] == pytest.approx(np.percentile(ratios, 97.5), rel=0.03)


def synthetic_store(path, n: int) -> None:
    """n short articles with spans, actors, targets and claims, written with SQL (fast)."""
    techniques = ["Loaded_Language", "Name_Calling,Labeling", "Repetition", "Doubt", "Flag-Waving", "Slogans"]
    with duckdb.connect(str(path)) as con:
        con.execute(SCHEMA)
        con.execute(f"""INSERT INTO documents (doc_id, article_key, version, source, date, month, n_chars, n_words, meta)
            SELECT printf('%016x', i), printf('%016x', i), 1, 'source-' || (i % 40),
                   DATE '2017-01-01' + CAST(i % 1000 AS INTEGER),
                   strftime(DATE '2017-01-01' + CAST(i % 1000 AS INTEGER), '%Y-%m'), 3000, 500, '{{}}'
            FROM range({n}) t(i)""")
        con.execute(f"""INSERT INTO spans SELECT printf('%016x', i), j, (j * 97 + i) % 2900, (j * 97 + i) % 2900 + 40,
            list_extract({techniques}, 1 + (i * 7 + j) % 6), 'Manipulative wording', 'x', 0.5, NULL
            FROM range({n}) t(i), range(10) u(j)""")
        con.execute(f"""INSERT INTO actors SELECT printf('%016x', i), 'a' || j, 'Actor ' || ((i * 3 + j) % 300),
            'PERSON', 'actor-' || ((i * 3 + j) % 300) || '|PERSON',
            list_extract(['Protagonist', 'Antagonist', 'Innocent', NULL], 1 + (i + j) % 4), NULL, NULL, 0.7, 2
            FROM range({n}) t(i), range(5) u(j)""")
        con.execute(f"INSERT INTO targets SELECT printf('%016x', i), j, 'a' || (j % 5) "
                    f"FROM range({n}) t(i), range(0, 10, 3) u(j)")
        con.execute(f"INSERT INTO claims SELECT printf('%016x', i), j, 0, 10, 'x', "
                    f"CASE WHEN j % 2 = 0 THEN 'author' ELSE 'a1' END, NULL, 0.5, false "
                    f"FROM range({n}) t(i), range(4) u(j)")


def test_ten_thousand_articles_in_seconds(tmp_path):
    path = tmp_path / "10k.duckdb"
    synthetic_store(path, 10_000)
    for by in (("source",), ("month",), ()):
        start = time.perf_counter()
        result = compute(path, by=by)
        elapsed = time.perf_counter() - start
        print(f"stats by {by or 'nothing'} on 10,000 articles: {elapsed:.2f} s")
        assert result["n_articles"] == 10_000
        # The target is 2 s (bench/corpus.py prints it); the test allows for a busy machine.
        assert elapsed < 8


def test_cli_on_real_articles(tmp_path):
    tsv = narrative_subset(tmp_path, 8)
    path = tmp_path / "nf.duckdb"
    run = lambda *args: subprocess.run([sys.executable, "-m", "redline.cli", *map(str, args)], capture_output=True,
                                       text=True, env=ENV, cwd=REPO, timeout=300)
    ingest = run("corpus", "ingest", path, tsv, "--components", "lexicon", "-q")
    assert ingest.returncode == 0, ingest.stderr
    out = run("corpus", "stats", path, "--by", "mbfc,month", "-f", "json", "--resamples", "200")
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["by"] == ["mbfc", "month"] and sum(g["n_articles"] for g in result["groups"]) == 8
    for g in result["groups"]:
        assert {"mbfc", "month", "n_articles", "small", "techniques_per_1000_words", "techniques"} <= set(g)
        assert g["mbfc"] != "(none)"
        rate = g["techniques_per_1000_words"]
        assert set(rate) == {"value", "ci_low", "ci_high"}
    table = run("corpus", "stats", path, "--technique", "Loaded_Language")
    assert table.returncode == 0 and "Loaded_Language" in table.stdout and "95% intervals" in table.stdout
    csv_out = run("corpus", "stats", path, "-f", "csv", "--by", "source")
    assert csv_out.stdout.splitlines()[0] == "source,n_articles,small,words,metric,item,detail,value,ci_low,ci_high"
    for args, message in (((path, "--since", "2019-99"), "not a date"), ((path, "--by", "text"), "one value"),
                          ((tmp_path / "none.duckdb",), "no such store"), ((tsv,), "DuckDB store")):
        bad = run("corpus", "stats", *args)
        assert bad.returncode == 2 and message in bad.stderr and "Traceback" not in bad.stderr


def test_surname_only_person_joins_the_one_full_name(tmp_path):
    """An article that says only "Trump" counts for Donald Trump across the store; "May"
    stays apart where both Theresa May and Brian May are in it; a read-only connection
    can make the view."""
    import duckdb

    from redline.corpus.stats import canonical_actors

    path = tmp_path / "a.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE actors(doc_id VARCHAR, actor_id VARCHAR, name VARCHAR, type VARCHAR, actor_key VARCHAR)")
    con.execute("""INSERT INTO actors VALUES ('1', 'a', 'Donald Trump', 'PERSON', 'donald-trump|PERSON'),
        ('2', 'b', 'Trump', 'PERSON', 'trump|PERSON'), ('3', 'c', 'May', 'PERSON', 'may|PERSON'),
        ('3', 'd', 'Theresa May', 'PERSON', 'theresa-may|PERSON'), ('4', 'e', 'Brian May', 'PERSON', 'brian-may|PERSON'),
        ('5', 'f', 'Trump', 'ORG', 'trump|ORG')""")
    con.close()
    ro = duckdb.connect(str(path), read_only=True)
    view = canonical_actors(ro)
    keys = dict(ro.execute(f"SELECT doc_id || actor_id, actor_key FROM {view}").fetchall())
    assert keys == {"1a": "donald-trump|PERSON", "2b": "donald-trump|PERSON", "3c": "may|PERSON",
                    "3d": "theresa-may|PERSON", "4e": "brian-may|PERSON", "5f": "trump|ORG"}
