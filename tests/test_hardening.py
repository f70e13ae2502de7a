"""Issue 18's findings, one test each: bounded reads, lone surrogates, byte-order marks.

Each test failed before the fix it names. Server and batch-output hardening are tested
in test_server.py and test_cli.py; the address policy in test_fetch.py.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading
import time

import pytest

import redline
from redline.errors import InputError
from redline.io.inputs import (decode_text, read_file_limited, read_path, read_stream_limited,
                               read_text_limited)

FAST = ("lexicon",)


def cli(*args, stdin=None, timeout=120):
    return subprocess.run([sys.executable, "-m", "redline.cli", *map(str, args)], stdin=stdin,
                          capture_output=True, timeout=timeout)


# --- 1. bounded reads -----------------------------------------------------------------
def test_a_device_path_is_refused_not_read():
    with pytest.raises(InputError, match="is a device"):
        read_path("/dev/zero")


def test_cli_refuses_dev_zero_quickly():
    t = time.monotonic()
    r = cli("analyze", "/dev/zero", "--components", "lexicon")
    assert r.returncode != 0 and b"is a device" in r.stderr and b"Traceback" not in r.stderr
    assert time.monotonic() - t < 60


def test_stdin_from_dev_zero_stops_at_the_limit():
    with open("/dev/zero", "rb") as zero:
        r = cli("analyze", "-", "--components", "lexicon", stdin=zero)
    assert r.returncode != 0 and b"too large" in r.stderr and b"Traceback" not in r.stderr


def test_evaluate_dev_zero_is_refused(tmp_path):
    labels = tmp_path / "x.labels"
    labels.write_text("1\tDoubt\t0\t5\n")
    r = cli("evaluate", "/dev/zero", labels)
    assert r.returncode == 2 and b"is a device" in r.stderr


def test_stream_reads_hold_at_most_limit_plus_one(tmp_path):
    class Counting:
        def __init__(self):
            self.given = 0

        def read(self, n):
            self.given += n
            return b"a" * n

    stream = Counting()
    with pytest.raises(InputError, match="too large"):
        read_stream_limited(stream, 1000, "stdin")
    assert stream.given == 1001
    assert read_stream_limited(open(os.devnull, "rb"), 10, "x") == b""


def test_regular_file_over_the_limit(tmp_path):
    f = tmp_path / "big.txt"
    f.write_bytes(b"a" * 101)
    with pytest.raises(InputError, match="too large"):
        read_file_limited(f, 100)
    assert read_file_limited(f, 101) == b"a" * 101


def test_fifo_without_writer_is_refused_not_waited_for(tmp_path):
    fifo = tmp_path / "pipe.txt"
    os.mkfifo(fifo)
    t = time.monotonic()
    with pytest.raises(InputError, match="no writer"):
        read_file_limited(fifo, 100, fifo_wait_s=0.3)
    assert time.monotonic() - t < 5


def test_fifo_with_a_writer_is_read_and_bounded(tmp_path):
    fifo = tmp_path / "pipe.txt"
    os.mkfifo(fifo)

    def write(data):
        time.sleep(0.1)
        try:
            with open(fifo, "wb") as fh:
                fh.write(data)
        except BrokenPipeError:  # the reader stopped at its limit
            pass

    w = threading.Thread(target=write, args=(b"They are traitors!",))
    w.start()
    assert read_file_limited(fifo, 100, fifo_wait_s=5) == b"They are traitors!"
    w.join()
    w = threading.Thread(target=write, args=(b"x" * 5000,))
    w.start()
    with pytest.raises(InputError, match="too large"):
        read_file_limited(fifo, 100, fifo_wait_s=5)
    w.join()


def test_tables_are_bounded_too(tmp_path):
    with pytest.raises(InputError, match="device"):
        read_text_limited("/dev/urandom")


# --- 2. lone surrogates -----------------------------------------------------------------
@pytest.mark.parametrize("text", ["\ud800", "They are \udfff traitors", "x" * 50 + "\ud83d"])
def test_lone_surrogates_are_an_input_error(text):
    with pytest.raises(InputError, match="lone surrogate"):
        redline.analyze(text, components=FAST)


def test_lone_surrogate_in_the_id_is_an_input_error():
    with pytest.raises(InputError, match="document id"):
        redline.analyze("They are traitors!", id="a\udc80", components=FAST)


def test_real_astral_characters_still_work():
    doc = redline.analyze("They are traitors! \U0001F621 Shameful liars.", components=FAST)
    assert all(doc.text[s.start:s.end] == s.text for s in doc.spans)


# --- 4. byte-order marks and UTF-16/32 --------------------------------------------------
ARTICLE = "They are traitors and liars! Everyone knows it."


def test_utf8_bom_keeps_offsets_and_hash_true_to_the_file(tmp_path):
    f = tmp_path / "bom.txt"
    raw = b"\xef\xbb\xbf" + ARTICLE.encode()
    f.write_bytes(raw)
    r = cli("analyze", f, "-f", "json", "--components", "lexicon")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["text_sha256"] == hashlib.sha256(raw).hexdigest()
    as_python_reads_it = f.read_text(encoding="utf-8")  # PTC's convention: the BOM is character 0
    assert out["techniques"]
    for s in out["techniques"]:
        assert as_python_reads_it[s["start"]:s["end"]] == s["text"]


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"])
def test_utf16_and_utf32_with_a_bom_are_decoded(codec):
    data = ("\ufeff" + ARTICLE).encode(codec)
    assert decode_text(data, "f") == "\ufeff" + ARTICLE


def test_utf16_without_bom_is_named():
    with pytest.raises(InputError, match="UTF-16LE text without a byte-order mark"):
        decode_text(ARTICLE.encode("utf-16-le"), "f")


def test_broken_utf16_names_the_encoding():
    with pytest.raises(InputError, match="not valid UTF-16LE"):
        decode_text(b"\xff\xfe" + "ab".encode("utf-16-le") + b"\x00\xdc", "f")  # a lone low surrogate


def test_bom_only_file_is_empty():
    with pytest.raises(InputError, match="empty"):
        decode_text(b"\xef\xbb\xbf \n", "f")
    with pytest.raises(InputError, match="empty"):
        redline.analyze("\ufeff  ", components=FAST)



# --- the size limit ------------------------------------------------------------------------
def test_texts_over_the_measured_limit_are_refused_with_the_figure():
    from redline.pipeline import MAX_CHARS
    assert MAX_CHARS == 60_000
    with pytest.raises(InputError, match="at most 60,000"):
        redline.analyze("They lie. " * 6_001, components=FAST)
    doc = redline.analyze(("They are traitors! " * 4_000)[:MAX_CHARS], components=FAST)
    assert len(doc.text) == MAX_CHARS and doc.spans


# --- long texts in bounded pieces ------------------------------------------------------------
@pytest.mark.parametrize("text", [
    "a" * 25_000,  # no break at all: hard cuts
    ("One sentence here. " * 40 + "\n\n") * 30,
    ("word " * 3000),
    "x\n" * 9_000 + "   \n\n  ",  # trailing whitespace joins the last piece
    "short text",
])
def test_parse_pieces_cover_the_text_exactly(text):
    from redline.components.nlp import parse_pieces
    pieces = parse_pieces(text, 1_000)
    assert pieces[0][0] == 0 and pieces[-1][1] == len(text)
    assert all(a[1] == b[0] for a, b in zip(pieces, pieces[1:]))
    assert all(0 < e - s <= 1_000 or (s, e) == pieces[-1] for s, e in pieces)
    assert all(not text[s].isspace() for s, _ in pieces[1:])  # a piece starts at a word


def test_a_long_text_is_parsed_in_bounded_pieces_with_true_offsets(monkeypatch):
    """Before: one spaCy call over the whole text (+245 MB peak at 60,000 characters)."""
    from redline.components import nlp as nlp_mod
    nlp = nlp_mod.get_nlp()
    seen = []

    class Spy:
        def __getattr__(self, name):
            return getattr(nlp, name)

        def __call__(self, text):
            seen.append(len(text))
            return nlp(text)

    monkeypatch.setattr(nlp_mod, "get_nlp", lambda: Spy())
    monkeypatch.setattr(nlp_mod, "PARSE_PIECE", 10_000)  # three pieces of a text that parses in seconds
    paragraphs = ARTICLE + " The minister, Jane Smith, said so in Paris.\n\n"
    text = (paragraphs * 300)[:24_000].rstrip() + "."
    whole = nlp(text)
    parsed = nlp_mod.parse_text(text)
    assert len(seen) == 3 and max(seen) <= nlp_mod.PARSE_PIECE and sum(seen) == len(text)
    assert parsed.text == text
    assert [(t.idx, t.text) for t in parsed] == [(t.idx, t.text) for t in whole]
    for t in parsed:
        assert text[t.idx:t.idx + len(t.text)] == t.text
    for ent in parsed.ents:
        assert text[ent.start_char:ent.end_char] == ent.text
    # The pieces' parses equal the whole one away from the cuts.
    agree = sum(a.dep_ == b.dep_ and a.head.i == b.head.i for a, b in zip(parsed, whole))
    assert agree >= 0.99 * len(whole)
    assert {(e.start_char, e.label_) for e in parsed.ents} == {(e.start_char, e.label_) for e in whole.ents}


@pytest.mark.parametrize("name, content", [
    ("docs.jsonl", '{"id": "a", "text": "They are \\ud800 traitors", "techniques": []}\n'),
    ("docs.jsonl", '{"id": "a\\udc80", "text": "They are traitors"}\n'),
    ("export.json", '[{"data": {"text": "They lie \\udfff"}, "annotations": []}]'),
])
def test_imported_json_with_a_lone_surrogate_is_an_input_error(tmp_path, name, content):
    """Found by bench/fuzz.py's readers target: a UnicodeEncodeError from the text's hash."""
    from redline.io.exchange import read_documents
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(InputError, match="lone surrogate"):
        list(read_documents(path))


def test_corpus_tables_are_bounded_whatever_the_file(tmp_path):
    """A device or pipe named like a table is refused, not read without end; one runaway JSONL
    line (no newline for more than an article's bytes) is skipped with its line number, and
    the records after it still come out."""
    from redline.corpus.sources import iter_articles
    from redline.io.inputs import MAX_FILE_BYTES

    fifo = tmp_path / "feed.jsonl"
    os.mkfifo(fifo)
    (bad,) = list(iter_articles([str(fifo)]))
    assert bad.error and "not a regular file" in bad.error
    table = tmp_path / "t.jsonl"
    with table.open("wb") as fh:
        fh.write(b'{"id": "a", "text": "First article."}\n')
        fh.write(b'{"id": "huge", "text": "' + b"x" * (MAX_FILE_BYTES + 10) + b'"}\n')
        fh.write(b'{"id": "c", "text": "Third article."}\n')
    got = list(iter_articles([str(table)]))
    assert [a.error is None for a in got] == [True, False, True]
    assert "t.jsonl:2" in got[1].error and "over" in got[1].error
    assert got[2].text == "Third article."
