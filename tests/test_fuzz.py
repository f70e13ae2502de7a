"""Property-based fuzzing (Hypothesis) of the readers, the library call and the API.

Properties: every input either works or is refused with InputError / a 4xx, never
another exception or a 500; every span slices the text it came from. Bounded to well
under a minute (REDLINE_FUZZ_EXAMPLES scales it; `bench/fuzz.py` is the long run).
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import redline
from redline.errors import InputError
from redline.io.fetch import address_problem
from redline.io.inputs import decode_text, read_file_limited
from redline.io.ptc import parse_label_line
from redline.metrics import SCORERS
from redline.taxonomy import PTC_TECHNIQUES

EXAMPLES = int(os.environ.get("REDLINE_FUZZ_EXAMPLES", "150"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
FAST = ("lexicon",)

PHRASES = ["They are traitors", "Enough is enough!", "so-called experts", "Everyone knows", "the corrupt elites",
           "Never forget", "\r\n", "\n\n", "\ufeff", "\u200b", "\ud800", "\x00", "é", "\U0001F621", "  ", "\t",
           "...", "!!!", "\u2028", "\x85"]

# Text that looks like an article often enough for the rules to fire, with hostile pieces mixed in.
article_like = st.lists(st.one_of(st.sampled_from(PHRASES), st.text(max_size=30)), max_size=40).map("".join)
any_text = st.one_of(st.text(max_size=300), article_like)
bom_bytes = st.sampled_from([b"", b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff", b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff"])


def check_doc(doc) -> None:
    assert 0 < len(doc.text)
    for s in doc.spans:
        assert 0 <= s.start < s.end <= len(doc.text), (s.start, s.end)
        assert doc.text[s.start:s.end] == s.text
        assert 0.0 <= s.score <= 1.0


@FUZZ
@given(st.tuples(bom_bytes, st.binary(max_size=400)).map(b"".join))
def test_decode_text_never_crashes(data):
    try:
        text = decode_text(data, "fuzz")
    except InputError:
        return
    assert isinstance(text, str) and text.strip()
    text.encode("utf-8")  # no lone surrogates get through
    if not data.startswith((b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff")):
        assert text.encode("utf-8") == data  # UTF-8 in, the same bytes out: offsets and hash are the file's


@FUZZ
@given(any_text)
def test_text_round_trips_through_the_reader(text):
    for codec in ("utf-8", "utf-16-le", "utf-32-be"):
        try:
            data = (("\ufeff" + text) if codec != "utf-8" else text).encode(codec)
        except UnicodeEncodeError:
            return  # lone surrogates: not encodable, nothing a file could hold
        try:
            got = decode_text(data, "fuzz")
        except InputError:
            continue
        assert got == (("\ufeff" + text) if codec != "utf-8" else text)


@FUZZ
@given(st.binary(max_size=2000), st.integers(min_value=0, max_value=1500))
def test_file_reads_never_exceed_the_limit(tmp_path_factory, data, limit):
    f = tmp_path_factory.mktemp("fuzz") / "f.txt"
    f.write_bytes(data)
    try:
        got = read_file_limited(f, limit)
    except InputError as exc:
        assert len(data) > limit and "too large" in str(exc)
        return
    assert got == data and len(got) <= limit


label_field = st.one_of(st.text(max_size=12), st.integers(-5, 10**13).map(str), st.sampled_from(PTC_TECHNIQUES))


@FUZZ
@given(st.lists(label_field, min_size=0, max_size=6).map("\t".join))
def test_label_lines_parse_or_name_the_line(line):
    try:
        lab = parse_label_line(line, 7, "fuzz.labels", PTC_TECHNIQUES)
    except InputError as exc:
        assert str(exc).startswith("fuzz.labels:7:")
        return
    if lab is not None:
        assert 0 <= lab.start < lab.end and lab.article_id and lab.article_id.strip() == lab.article_id
        assert lab.technique in PTC_TECHNIQUES or lab.technique == ""


spans = st.lists(st.tuples(st.sampled_from(["1", "2"]), st.sampled_from(PTC_TECHNIQUES[:3]),
                           st.integers(0, 60), st.integers(1, 30)), max_size=12)


offsets = st.one_of(st.integers(-3, 400), st.sampled_from(["0", "1.5", None, True, ""]))
ls_result = st.fixed_dictionaries({
    "type": st.sampled_from(["labels", "choices", "x"]),
    "value": st.fixed_dictionaries({"start": offsets, "end": offsets,
                                    "labels": st.lists(st.sampled_from([*PTC_TECHNIQUES, "", "Nope"]), max_size=2)})})
ls_task = st.fixed_dictionaries({"data": st.fixed_dictionaries({"text": st.one_of(any_text, st.none(), st.integers())}),
                                 "annotations": st.lists(st.fixed_dictionaries({"result": st.lists(ls_result,
                                                                                                   max_size=4)}),
                                                         max_size=2)})
ann_line = st.tuples(st.sampled_from(["T1", "T2", "#1", "R1", "", "\ufeffT1"]), st.sampled_from([*PTC_TECHNIQUES, "", "X"]),
                     st.integers(-3, 400), st.integers(-3, 400), st.text(max_size=20)).map(
    lambda t: f"{t[0]}\t{t[1]} {t[2]} {t[3]}\t{t[4]}")


@FUZZ
@given(any_text, st.lists(ann_line, max_size=5).map("\n".join), st.one_of(ls_task, st.lists(ls_task, max_size=2)),
       st.lists(st.tuples(st.integers(-3, 400), st.integers(-3, 400)), max_size=4))
def test_annotation_readers_slice_or_refuse(tmp_path_factory, text, ann, task, pairs):
    """brat, Label Studio and redline JSONL files, well-formed or not: every document read
    has spans that slice its text; anything else is an InputError (the readers' fuzzing in
    `bench/fuzz.py` runs longer)."""
    import json

    from redline.io.exchange import read_documents

    folder = tmp_path_factory.mktemp("readers")
    (folder / "a.txt").write_bytes(text.encode("utf-8", "surrogatepass"))
    (folder / "a.ann").write_bytes(ann.encode("utf-8", "surrogatepass"))
    (folder / "export.json").write_text(json.dumps(task), encoding="utf-8")
    record = {"id": "d", "text": text, "techniques": [{"start": a, "end": b, "technique": "Doubt"} for a, b in pairs]}
    (folder / "docs.jsonl").write_bytes((json.dumps(record) + "\n").encode("utf-8"))
    for path in (folder / "a.ann", folder / "export.json", folder / "docs.jsonl"):
        try:
            docs = list(read_documents(path))
        except InputError:
            continue
        for doc in docs:
            for s in doc.to_json().get("techniques", []):
                assert 0 <= s["start"] < s["end"] <= len(doc.text) and doc.text[s["start"]:s["end"]] == s["text"]


@FUZZ
@given(spans, spans)
def test_scores_stay_in_range(gold, pred):
    from redline.io.ptc import Label
    g = [Label(a, t, s, s + n) for a, t, s, n in gold]
    p = [Label(a, t, s, s + n) for a, t, s, n in pred]
    for task, scorer in SCORERS.items():
        score = scorer(g, p)
        for value in (score.precision, score.recall, score.f1):
            assert 0.0 <= value <= 1.0 + 1e-9, (task, value)
    assert SCORERS["si"](g, g).f1 in (0.0, 1.0)


@FUZZ
@given(st.integers(0, 2**32 - 1) | st.integers(0, 2**128 - 1))
def test_address_policy_is_total(n):
    import ipaddress
    ip = ipaddress.ip_address(n) if n < 2**32 and n % 3 else ipaddress.IPv6Address(n)
    why = address_problem(str(ip))
    assert why is None or str(ip) in why or str(ip.compressed) in why or "form of" in why


@FUZZ
@given(any_text)
def test_analyze_returns_true_offsets_or_input_error(text):
    try:
        doc = redline.analyze(text, id="fuzz", components=FAST)
    except InputError:
        return
    check_doc(doc)


@pytest.fixture(scope="module")
def api():
    from fastapi.testclient import TestClient

    from redline.server import create_app
    with TestClient(create_app(components=FAST, max_chars=5_000), raise_server_exceptions=False) as client:
        yield client


json_value = st.recursive(st.none() | st.booleans() | st.floats(allow_nan=False) | st.integers() | any_text,
                          lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                                        max_size=3), max_leaves=6)
payloads = st.fixed_dictionaries({}, optional={"text": st.one_of(any_text, json_value), "id": st.one_of(any_text,
                                  json_value), "threshold": st.one_of(st.floats(-1, 2), json_value),
                                  "colour": json_value})


@FUZZ
@given(payloads)
def test_api_never_answers_500(api, payload):
    import json
    body = json.dumps(payload, ensure_ascii=True)  # "\ud800" travels as an escape, as a client would send it
    r = api.post("/api/analyze", content=body.encode(), headers={"content-type": "application/json"})
    assert r.status_code in (200, 400, 413, 422), (r.status_code, r.text[:300])
    if r.status_code == 200:
        out = r.json()
        for s in out["techniques"]:
            assert payload["text"][s["start"]:s["end"]] == s["text"]
    else:
        assert set(r.json()) == {"error"}


@FUZZ
@given(st.binary(max_size=300))
def test_api_survives_any_body(api, body):
    r = api.post("/api/analyze", content=body, headers={"content-type": "application/json"})
    assert r.status_code in (200, 400, 413, 422), (r.status_code, r.text[:300])


@FUZZ
@given(st.dictionaries(st.sampled_from(["text", "url", "file", "other"]), any_text, max_size=3))
def test_form_never_answers_500(api, fields):
    fields.pop("url", None)  # URLs would be resolved: the form's URL path is tested in test_fetch
    data = {k: v.encode("utf-8", "surrogatepass").decode("utf-8", "replace") for k, v in fields.items()}
    r = api.post("/report", data=data)
    assert r.status_code in (200, 400, 413, 422), (r.status_code, r.text[:300])
