"""The corpus store: real pipeline output into a real DuckDB file, read back with SQL."""

from __future__ import annotations

import json

import duckdb
import pytest

import redline
from redline.corpus.sources import document_from_record
from redline.corpus.store import Store, actor_key, child_rows, doc_id_for, parse_date
from redline.doc import Document
from redline.errors import InputError
from redline.io.formats import jsonl_record

TEXT_A = ("Only a traitor would sign this deal. The minister said the plan is a disaster, "
          "a total disaster, and everyone knows it.")
TEXT_B = TEXT_A + " The vote is on Tuesday."

# The agreed layout (corpus-stats reads these columns): names fixed, more may be added.
AGREED = {
    "documents": ["doc_id", "article_key", "version", "previous_doc_id", "url", "source", "title", "date", "month",
                  "path", "text", "n_chars", "n_words", "meta", "run_id", "model", "model_version", "precision",
                  "threshold", "components"],
    "spans": ["doc_id", "span_id", "start", "end", "technique", "family", "text", "score", "triggers"],
    "actors": ["doc_id", "actor_id", "name", "type", "actor_key", "role_main", "role_guess", "role_fine",
               "role_score", "n_mentions"],
    "mentions": ["doc_id", "actor_id", "mention_id", "start", "end", "text"],
    "relations": ["doc_id", "relation_id", "subject_actor", "predicate", "kind", "object_actor", "start", "end",
                  "text"],
    "claims": ["doc_id", "claim_id", "start", "end", "text", "source", "source_actor_key", "checkworthiness",
               "hedged"],
    "targets": ["doc_id", "span_id", "actor_id"],
    "errors": ["run_id", "source_ref", "reason", "at"],
    "runs": ["run_id", "started", "finished", "command", "model"],
}


def lexicon_doc(text: str, **meta):
    return redline.analyze(text, id=meta.pop("id", "a"), meta=meta, components=("lexicon",))


def test_schema_has_the_agreed_columns(tmp_path):
    with Store(tmp_path / "c.duckdb") as store:
        con = store.connect()
        for table, columns in AGREED.items():
            have = [r[0] for r in con.execute(f"DESCRIBE {table}").fetchall()]
            assert have[:len(columns)] == columns, table


def test_same_text_is_stored_once_and_a_new_text_under_a_known_key_is_a_version(tmp_path):
    path = tmp_path / "c.duckdb"
    first = lexicon_doc(TEXT_A, article_key="story-1", source="BBC", date="2019-03-04", path="a.txt", desk="world")
    with Store(path) as store:
        assert store.add_documents([first], "run1") == 1
        assert store.add_documents([first], "run2") == 0  # idempotent
        second = lexicon_doc(TEXT_B, article_key="story-1", source="BBC", date="2019-03-05")
        assert store.add_documents([second], "run2") == 1
        assert store.known([doc_id_for(TEXT_A), doc_id_for(TEXT_B), "0" * 16]) == {doc_id_for(TEXT_A),
                                                                                      doc_id_for(TEXT_B)}
    # A reader opens the file read-only, as corpus stats and the web app do.
    con = duckdb.connect(str(path), read_only=True)
    rows = con.execute("SELECT doc_id, article_key, version, previous_doc_id, source, date, month, meta, "
                       "n_chars, n_words, model, components FROM documents ORDER BY version").fetchall()
    assert [r[:4] for r in rows] == [(doc_id_for(TEXT_A), "story-1", 1, None),
                                     (doc_id_for(TEXT_B), "story-1", 2, doc_id_for(TEXT_A))]
    assert rows[0][4:7] == ("BBC", parse_date("2019-03-04"), "2019-03")
    assert json.loads(rows[0][7]) == {"desk": "world"}  # metadata that has no column of its own
    assert rows[0][8:10] == (len(TEXT_A), len(TEXT_A.split()))
    assert rows[0][10:] == ("lexicon", "lexicon")
    # Every stored span slices its document's text exactly (SQL substr is 1-based).
    bad = con.execute('SELECT count(*) FROM spans s JOIN documents d USING (doc_id) '
                      'WHERE substr(d.text, s.start + 1, s."end" - s.start) <> s.text').fetchone()[0]
    n_spans = con.execute("SELECT count(*) FROM spans").fetchone()[0]
    assert n_spans == len(first.spans) + len(second.spans) > 0 and bad == 0
    assert con.execute("SELECT count(*) FROM spans WHERE family IS NULL").fetchone()[0] == 0


def test_a_failed_batch_leaves_nothing_behind(tmp_path):
    good = lexicon_doc(TEXT_A)
    bad = lexicon_doc(TEXT_B, date="not a date")
    with Store(tmp_path / "c.duckdb") as store:
        with pytest.raises(InputError, match="bad date"):
            store.add_documents([good, bad], "run1", errors=[("x.txt", "unreadable")])
        assert store.counts()["documents"] == 0 and store.counts()["spans"] == 0
        assert store.counts()["errors"] == 0  # the batch's error rows went with it
        store.add_error("run1", "y.txt", "empty")
        assert store.connect().execute('SELECT source_ref, reason, "at" IS NOT NULL FROM errors').fetchall() == [
            ("y.txt", "empty", True)]


def test_actor_key_joins_spellings_of_one_actor():
    assert actor_key("The Kremlin", "ORG") == actor_key("kremlin", "ORG") == "kremlin|ORG"
    assert actor_key("Émmanuel Macron", "PERSON") == "emmanuel-macron|PERSON"
    assert actor_key("Iran", "GPE") != actor_key("Iran", "ORG")


def test_read_only_store_that_does_not_exist_is_a_clear_error(tmp_path):
    with pytest.raises(InputError, match="no such store"):
        Store(tmp_path / "missing.duckdb", read_only=True).connect()
    (tmp_path / "junk.duckdb").write_bytes(b"this is not a database at all" * 100)
    with pytest.raises(InputError):
        Store(tmp_path / "junk.duckdb").connect()


@pytest.fixture(scope="module")
def full_doc(request):
    """The default pipeline (techniques, actors, relations, claims, roles, link) on the founding op-ed."""
    from conftest import EXAMPLE

    if not EXAMPLE.exists():
        pytest.skip("founding example not found in ../shared/examples")
    return redline.analyze(EXAMPLE.read_text(encoding="utf-8"), id="assad-redline", meta={"path": str(EXAMPLE)})


def test_full_pipeline_rows_and_jsonl_read_back(tmp_path, full_doc):
    doc = full_doc
    assert doc.actors and doc.claims and doc.relations  # the founding op-ed has all of them
    with Store(tmp_path / "c.duckdb") as store:
        store.add_documents([doc], "run1")
        con = store.connect()
        counts = store.counts()
        assert counts["actors"] == len(doc.actors)
        assert counts["mentions"] == sum(len(a.mentions) for a in doc.actors)
        assert counts["claims"] == len(doc.claims) and counts["relations"] == len(doc.relations)
        assert counts["targets"] == sum(len(set(a.techniques)) for a in doc.actors)
        for table in ("mentions", "claims", "relations"):
            bad = con.execute(f'SELECT count(*) FROM {table} t JOIN documents d USING (doc_id) '
                              f'WHERE substr(d.text, t.start + 1, t."end" - t.start) <> t.text').fetchone()[0]
            assert bad == 0, table
        # Roles: null main role means unclear; the guess is always there.
        roles = con.execute("SELECT role_main, role_guess, role_score FROM actors WHERE role_guess IS NOT NULL").fetchall()
        assert roles and all(m in (None, "Protagonist", "Antagonist", "Innocent") for m, _, _ in roles)
        # A claim vouched for by an actor carries that actor's aggregation key.
        joined = con.execute("SELECT count(*) FROM claims c JOIN actors a ON a.doc_id = c.doc_id "
                             "AND a.actor_id = c.source WHERE c.source_actor_key = a.actor_key").fetchone()[0]
        assert joined == sum(1 for c in doc.claims if c.source != "author")
        assert con.execute("SELECT model, precision IS NOT NULL, threshold IS NOT NULL FROM documents").fetchone()[0]
    # redline's own JSONL record rebuilds the same rows (scores as the record rounds them).
    record = json.loads(json.dumps(jsonl_record(doc)))
    back = document_from_record(record, doc.text, dict(doc.meta))
    direct, again = child_rows(doc, "d"), child_rows(back, "d")
    for table in direct:
        assert _rounded(again[table]) == _rounded(direct[table]), table
    # The tagger's triggers (the words it leaned on) come back with their spans.
    assert any(s.triggers for s in doc.spans)
    assert [[t.to_json() for t in s.triggers] for s in back.spans] == \
           [[t.to_json() for t in s.triggers] for s in doc.spans]


def test_jsonl_record_keeps_span_triggers(tmp_path):
    """A redline JSONL record read back keeps each span's triggers, as offsets into the text."""
    text = "They are traitors and liars, all of them. Never forget it."
    doc = Document("t", text, {"path": "t.txt"})
    doc.add_span(0, 27, "Name_Calling,Labeling", 0.9, triggers=[(9, 17), (22, 27)])
    doc.add_span(42, 58, "Slogans", 0.6)  # no triggers: none made up
    record = json.loads(json.dumps(jsonl_record(doc)))
    assert record["techniques"][0]["triggers"][1] == {"start": 22, "end": 27, "text": "liars"}
    back = document_from_record(record, text, {})
    assert [[(t.start, t.end, t.text) for t in s.triggers] for s in back.spans] == \
           [[(9, 17, "traitors"), (22, 27, "liars")], []]
    assert jsonl_record(back)["techniques"] == record["techniques"]
    # Stored and rebuilt for the article's report: the triggers survive the store too.
    from redline.corpus.dashboard import document_from_store

    with Store(tmp_path / "c.duckdb") as store:
        store.add_documents([back], "run1")
        again = document_from_store(store.connect(), doc_id_for(text))
    assert [s.to_json() for s in again.spans] == [s.to_json() for s in back.spans]
    # A trigger outside the text is refused like any bad offset, not stored.
    record["techniques"][0]["triggers"][0] = {"start": 50, "end": 90, "text": "?"}
    with pytest.raises(ValueError):
        document_from_record(record, text, {})


def _rounded(rows):
    return [tuple(round(v, 4) if isinstance(v, float) else v for v in row) for row in rows]


def test_a_store_from_before_span_triggers_is_upgraded_on_write(tmp_path):
    """A store whose spans table has no triggers column still opens: read as it is, and
    given the column when it is next written."""
    from redline.corpus.dashboard import document_from_store

    path = tmp_path / "old.duckdb"
    with Store(path) as store:
        store.add_documents([lexicon_doc(TEXT_A, id="old")], "run1")
        store.connect().execute("ALTER TABLE spans DROP COLUMN triggers")  # as the first stores were made
    with Store(path, read_only=True) as store:
        old = document_from_store(store.connect(), doc_id_for(TEXT_A))
        assert old.spans and not any(s.triggers for s in old.spans)
    new = Document("new", TEXT_B)
    new.add_span(0, 35, "Name_Calling,Labeling", 0.8, triggers=[(8, 15)])
    with Store(path) as store:
        store.add_documents([new], "run2")
        rows = store.connect().execute("SELECT doc_id, triggers FROM spans ORDER BY doc_id").fetchall()
    assert dict(rows)[doc_id_for(TEXT_B)] == "[[8, 15]]" and dict(rows)[doc_id_for(TEXT_A)] is None
