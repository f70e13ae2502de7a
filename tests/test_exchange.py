"""Exchange formats: CSV, brat and Label Studio out; brat, Label Studio and redline JSONL back in."""

from __future__ import annotations

import csv
import io
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import pytest
from typer.testing import CliRunner

from redline.cli import app
from redline.doc import Document
from redline.errors import InputError
from redline.io.exchange import (
    CSV_COLUMNS, BratWriter, Utf16Offsets, labelstudio_config, labelstudio_task, read_brat, read_documents,
    read_jsonl, read_labelstudio, to_conll, to_csv,
)

REPO = Path(__file__).resolve().parents[1]

# Characters outside the Basic Multilingual Plane count two UTF-16 units in Label Studio.
EMOJI_TEXT = ("🙂🙂 Breaking: they are 𝐭𝐫𝐚𝐢𝐭𝐨𝐫𝐬 and cowards!\r\n"
              "Never forget it,\nnever forgive it. Save our town 🏠!")


def _doc(doc_id: str = "emoji", text: str = EMOJI_TEXT) -> Document:
    doc = Document(id=doc_id, text=text, meta={"path": f"in/{doc_id}.txt", "source": "hand"})
    for phrase, technique, score in [("𝐭𝐫𝐚𝐢𝐭𝐨𝐫𝐬", "Name_Calling,Labeling", 0.81),
                                     ("cowards", "Name_Calling,Labeling", 0.5),
                                     ("they are 𝐭𝐫𝐚𝐢𝐭𝐨𝐫𝐬 and cowards", "Loaded_Language", 0.25),
                                     ("Never forget it,\nnever forgive it.", "Slogans", 0.6),
                                     ("Save our town 🏠!", "Flag-Waving", 0.4)]:
        if phrase not in text:
            continue
        start = text.index(phrase)
        doc.add_span(start, start + len(phrase), technique, score)
    doc.sort_spans()
    return doc


def _spans(doc: Document) -> list[tuple]:
    return [(s.start, s.end, s.technique, round(s.score, 4), s.text) for s in doc.spans]


# --------------------------------------------------------------------------- Label Studio

def _schema_from_config(config: str) -> dict:
    """The pre-annotation JSON Label Studio imports for this labelling config, as a JSON
    Schema: a task is {"data": {...}, "predictions": [{"result": [region...]}]} (Label
    Studio docs, "Import pre-annotated data"); a text span region has id, from_name (the
    <Labels> control), to_name (the <Text> object it points to), type "labels" (the control
    tag in lower case) and value {start, end, labels[, text]}, the rules its SDK's
    LabelInterface.validate_prediction checks (LabelsValue: start, end, labels required)."""
    root = ET.fromstring(config)
    labels_tag = root.find("Labels")
    text_tag = root.find("Text")
    assert text_tag.get("value").startswith("$")
    region = {
        "type": "object",
        "required": ["id", "from_name", "to_name", "type", "value"],
        "properties": {
            "id": {"type": "string", "minLength": 1},
            "from_name": {"const": labels_tag.get("name")},
            "to_name": {"const": labels_tag.get("toName")},
            "type": {"const": labels_tag.tag.lower()},
            "score": {"type": "number", "minimum": 0, "maximum": 1},
            "value": {
                "type": "object",
                "required": ["start", "end", "labels"],
                "properties": {
                    "start": {"type": "integer", "minimum": 0},
                    "end": {"type": "integer", "minimum": 0},
                    "text": {"type": "string"},
                    "labels": {"type": "array", "minItems": 1,
                               "items": {"enum": [lab.get("value") for lab in labels_tag.findall("Label")]}},
                },
            },
        },
    }
    assert labels_tag.get("toName") == text_tag.get("name")
    return {
        "type": "object",
        "required": ["data", "predictions"],
        "properties": {
            "data": {"type": "object", "required": [text_tag.get("value")[1:]],
                     "properties": {text_tag.get("value")[1:]: {"type": "string"}}},
            "predictions": {"type": "array", "items": {
                "type": "object", "required": ["result"],
                "properties": {"model_version": {"type": "string"},
                               "score": {"type": "number", "minimum": 0, "maximum": 1},
                               "result": {"type": "array", "items": region}}}},
        },
    }


def _utf16_slice(text: str, start: int, end: int) -> str:
    """What a JavaScript editor shows for [start, end) (independent of redline's converter)."""
    return text.encode("utf-16-le")[2 * start:2 * end].decode("utf-16-le")


def test_labelstudio_tasks_match_the_documented_schema_with_utf16_offsets():
    doc = _doc()
    tasks = json.loads(json.dumps([labelstudio_task(doc)]))
    schema = _schema_from_config(labelstudio_config())
    for task in tasks:
        jsonschema.validate(task, schema)
        ids = [r["id"] for r in task["predictions"][0]["result"]]
        assert len(set(ids)) == len(ids), "Label Studio needs distinct region ids"
    regions = tasks[0]["predictions"][0]["result"]
    assert len(regions) == len(doc.spans) == 5
    for region, span in zip(regions, doc.spans):
        value = region["value"]
        # The editor (UTF-16) shows exactly redline's span; Python offsets would not.
        assert _utf16_slice(doc.text, value["start"], value["end"]) == span.text == value["text"]
        assert value["labels"] == [span.technique]
    # Two emoji (4 units) before the first span, and a mathematical bold word (2 units a letter).
    first = regions[0]["value"]
    assert (first["start"], first["end"]) != (doc.spans[0].start, doc.spans[0].end)
    assert first["start"] == doc.spans[0].start + 2


def test_labelstudio_round_trip_and_export_with_corrections(tmp_path):
    doc = _doc()
    path = tmp_path / "tasks.json"
    path.write_text(json.dumps([labelstudio_task(doc)], ensure_ascii=False), encoding="utf-8")
    (back,) = read_labelstudio(path)
    assert back.text == doc.text and back.id == doc.id
    assert back.meta == doc.meta
    assert _spans(back) == _spans(doc)

    # What Label Studio exports once an annotator has corrected the pre-annotations: the
    # task gets its id and an annotation (drop the Loaded_Language span, add a Doubt span
    # written in UTF-16 units as the editor counts); a later cancelled annotation is skipped.
    task = json.loads(path.read_text(encoding="utf-8"))[0]
    kept = [r for r in task["predictions"][0]["result"] if r["value"]["labels"] != ["Loaded_Language"]]
    units = len("🙂🙂 ".encode("utf-16-le")) // 2
    added = {"id": "x1", "from_name": "technique", "to_name": "text", "type": "labels", "origin": "manual",
             "value": {"start": units, "end": units + len("Breaking"), "text": "Breaking", "labels": ["Doubt"]}}
    task |= {"id": 41, "annotations": [
        {"id": 1, "result": kept + [added], "was_cancelled": False, "updated_at": "2026-01-02T10:00:00Z"},
        {"id": 2, "result": [], "was_cancelled": True, "updated_at": "2026-01-03T10:00:00Z"}]}
    path.write_text(json.dumps([task]), encoding="utf-8")
    (corrected,) = read_documents(path)
    got = {(s.technique, s.text) for s in corrected.spans}
    assert ("Doubt", "Breaking") in got and ("Loaded_Language", "they are 𝐭𝐫𝐚𝐢𝐭𝐨𝐫𝐬 and cowards") not in got
    assert len(corrected.spans) == 5
    for s in corrected.spans:
        assert corrected.text[s.start:s.end] == s.text


def test_labelstudio_reader_refuses_offsets_that_do_not_fit(tmp_path):
    task = labelstudio_task(_doc())
    region = task["predictions"][0]["result"][0]
    region["value"]["start"] = 1  # inside the first emoji's surrogate pair
    region["value"].pop("text")
    path = tmp_path / "bad.json"
    path.write_text(json.dumps([task]), encoding="utf-8")
    with pytest.raises(InputError, match="falls inside a character"):
        list(read_labelstudio(path))
    region["value"] |= {"start": 4, "text": "not this"}
    path.write_text(json.dumps([task]), encoding="utf-8")
    with pytest.raises(InputError, match=r"bad.json#0: prediction region 0: value.text 'not this'"):
        list(read_labelstudio(path))
    path.write_text("[{\"data\": {}}]", encoding="utf-8")
    with pytest.raises(InputError, match="no data.text"):
        list(read_labelstudio(path))


def test_labelstudio_regions_in_characters_are_read_by_their_text(tmp_path):
    """A tool that wrote Python character offsets (not UTF-16) is read right when the
    region's text says which count it used."""
    text = "😀 They lie."
    task = {"data": {"text": text}, "annotations": [{"result": [
        {"from_name": "technique", "to_name": "text", "type": "labels",
         "value": {"start": 7, "end": 10, "text": "lie", "labels": ["Doubt"]}}]}]}
    path = tmp_path / "chars.json"
    path.write_text(json.dumps(task), encoding="utf-8")
    (doc,) = read_labelstudio(path)
    assert _spans(doc) == [(7, 10, "Doubt", 1.0, "lie")]


def test_utf16_offsets_both_ways():
    text = "a😀b𝐱c"
    conv = Utf16Offsets(text)
    assert [conv.to_units(i) for i in range(len(text) + 1)] == [0, 1, 3, 4, 6, 7]
    assert [conv.to_chars(u) for u in range(8)] == [0, 1, None, 2, 3, None, 4, 5]
    assert Utf16Offsets("plain").to_units(3) == 3


def test_readme_gives_the_labelling_config():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert labelstudio_config() in readme


# --------------------------------------------------------------------------- brat

def test_brat_written_then_read_back_is_equal(tmp_path):
    docs = [_doc("emoji"), _doc("emoji"), _doc("plain/../x", "They are traitors.\r\nSave our town!")]
    writer = BratWriter(tmp_path / "brat")
    writer.open()
    for d in docs:
        writer.add(d)
    names = sorted(p.name for p in (tmp_path / "brat").iterdir())
    assert names == ["annotation.conf", "emoji-2.ann", "emoji-2.txt", "emoji.ann", "emoji.txt",
                     "plain-x.ann", "plain-x.txt"]
    assert (tmp_path / "brat" / "emoji.txt").read_bytes() == EMOJI_TEXT.encode("utf-8")
    ann = (tmp_path / "brat" / "emoji.ann").read_text(encoding="utf-8")
    assert "\tName_Calling__Labeling " in ann
    # The slogan runs over a line break: two fragments, the break left out.
    slogan = next(line for line in ann.splitlines() if line.split("\t")[1].startswith("Slogans"))
    assert ";" in slogan.split("\t")[1] and slogan.endswith("\tNever forget it, never forgive it.")
    conf = (tmp_path / "brat" / "annotation.conf").read_text(encoding="utf-8")
    assert conf.startswith("[entities]\n") and "\nWhataboutism__Straw_Men__Red_Herring\n" in conf
    back = list(read_brat(tmp_path / "brat"))
    assert [d.id for d in back] == ["emoji-2", "emoji", "plain-x"]
    for original, read in zip([docs[1], docs[0]], back[:2]):
        assert read.text == original.text
        assert _spans(read) == _spans(original)
    assert back[2].text == docs[2].text and _spans(back[2]) == []


def test_brat_reader_errors_name_file_and_line(tmp_path):
    (tmp_path / "a.txt").write_text("They are traitors.", encoding="utf-8")
    (tmp_path / "a.ann").write_text("T1\tLoaded_Language 9 17\ttraitors\nT2\tDoubt 0 4\tThem\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"a.ann:2: the annotation's text 'Them'"):
        list(read_brat(tmp_path))
    (tmp_path / "a.ann").write_text("T1\tLoaded_Language 9 x\ttraitors\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"a.ann:1: bad offsets"):
        list(read_brat(tmp_path))
    (tmp_path / "a.ann").write_text("T1\tLoaded_Language 9 170\ttraitors\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"a.ann:1: span \[9, 170\) does not fit"):
        list(read_brat(tmp_path))
    (tmp_path / "a.txt").unlink()
    with pytest.raises(InputError, match="no a.txt beside it"):
        list(read_brat(tmp_path))


def test_import_skips_a_bad_document_and_keeps_the_others(tmp_path):
    folder = tmp_path / "brat"
    folder.mkdir()
    for name, ann in [("a", "T1\tDoubt 0 4\tThey\n"), ("b", "T1\tDoubt 0 4\tThem\n"), ("c", "")]:
        (folder / f"{name}.txt").write_text("They are traitors.", encoding="utf-8")
        (folder / f"{name}.ann").write_text(ann, encoding="utf-8")
    out = tmp_path / "out.jsonl"
    result = CliRunner().invoke(app, ["import", str(folder), "-o", str(out)])
    assert result.exit_code == 1
    assert "b.ann:1: the annotation's text 'Them'" in result.stderr
    assert "2 documents imported, 1 failed" in result.stderr
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [(r["id"], len(r["techniques"])) for r in records] == [("a", 1), ("c", 0)]
    assert all(r["text"] == "They are traitors." for r in records)


# --------------------------------------------------------------------------- JSONL and CSV

def test_own_labels_jsonl_is_checked(tmp_path):
    path = tmp_path / "labels.jsonl"
    good = {"id": "a", "text": "They are traitors.", "techniques": [{"start": 9, "end": 17, "technique": "Doubt"}]}
    bad = dict(good, techniques=[{"start": 9, "end": 17, "technique": "Doubt", "text": "traitor"}])
    path.write_text(json.dumps(good) + "\n\n" + json.dumps(bad) + "\n", encoding="utf-8")
    docs = read_jsonl(path)
    assert _spans(next(docs)) == [(9, 17, "Doubt", 1.0, "traitors")]
    with pytest.raises(InputError, match=r"labels.jsonl:3: techniques\[0\]: its text 'traitor'"):
        next(docs)
    path.write_text(json.dumps({"id": "b", "path": "missing.txt", "techniques": []}) + "\n", encoding="utf-8")
    with pytest.raises(InputError, match="labels.jsonl:1: no 'text', and its path 'missing.txt'"):
        list(read_jsonl(path))
    (tmp_path / "b.txt").write_text("edited since", encoding="utf-8")
    path.write_text(json.dumps({"id": "b", "path": "b.txt", "text_sha256": "0" * 64, "techniques": []}) + "\n",
                    encoding="utf-8")
    with pytest.raises(InputError, match="SHA-256 differs"):
        list(read_jsonl(path))


def test_csv_has_one_row_per_span_and_one_for_a_document_without():
    empty = Document(id="empty", text="Nothing here.", meta={"path": "e.txt"})
    rows = list(csv.DictReader(io.StringIO(to_csv([_doc(), empty]))))
    assert tuple(rows[0].keys()) == CSV_COLUMNS
    assert len(rows) == 6
    assert rows[-1] | {"meta": ""} == {"id": "empty", "path": "e.txt", "start": "", "end": "", "technique": "",
                                      "score": "", "text": "", "meta": ""}
    slogan = next(r for r in rows if r["technique"] == "Slogans")
    assert slogan["text"] == "Never forget it,\nnever forgive it."
    assert EMOJI_TEXT[int(slogan["start"]):int(slogan["end"])] == slogan["text"]
    assert json.loads(slogan["meta"]) == {"source": "hand"}


def test_conll_bio_tags_overlapping_spans_with_exact_offsets():
    doc = _doc()
    blocks = to_conll(doc).split("\n\n")
    assert blocks[0].startswith("# id = emoji\n# path = in/emoji.txt\n") and blocks[-1] == ""
    rows = [line.split("\t") for line in to_conll(doc).splitlines() if line and not line.startswith("#")]
    for token, start, end, _ in rows:
        assert doc.text[int(start):int(end)] == token
    tags = {token: tag for token, _, _, tag in rows}
    assert tags["they"] == "B-Loaded_Language" and tags["Breaking"] == "O"
    assert tags["𝐭𝐫𝐚𝐢𝐭𝐨𝐫𝐬"] == "I-Loaded_Language|B-Name_Calling,Labeling"
    assert tags["forgive"] == "I-Slogans"  # the slogan runs over a line break: still inside
    assert len(blocks) == 4  # three lines of text, then the end


# --------------------------------------------------------------------------- the CLI, real pipeline

@pytest.mark.usefixtures("model_dir")
def test_cli_round_trip_through_every_format(tmp_path, own_example, example_text, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("op-ed.txt").write_text(own_example, encoding="utf-8")
    Path("assad.txt").write_text(example_text, encoding="utf-8")
    runner = CliRunner()
    inputs = ["op-ed.txt", "assad.txt", "--components", "tagger", "-q"]

    result = runner.invoke(app, ["analyze", *inputs, "-f", "csv", "--meta", "source=test"])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert tuple(rows[0]) == CSV_COLUMNS and {r["id"] for r in rows} == {"op-ed", "assad"}
    texts = {"op-ed": own_example, "assad": example_text}
    for r in rows:
        assert texts[r["id"]][int(r["start"]):int(r["end"])] == r["text"]
        assert r["path"] == f"{r['id']}.txt" and json.loads(r["meta"]) == {"source": "test"}

    for fmt, out in [("brat", "brat"), ("labelstudio", "ls.json"), ("jsonl", "pred.jsonl"), ("ptc", "pred.labels"),
                     ("conll", "pred.conll")]:
        result = runner.invoke(app, ["analyze", *inputs, "-f", fmt, "-o", out])
        assert result.exit_code == 0, result.output
    jsonschema.validate(json.loads(Path("ls.json").read_text(encoding="utf-8"))[0],
                        _schema_from_config(labelstudio_config()))

    conll = Path("pred.conll").read_text(encoding="utf-8")
    assert conll.startswith("# id = op-ed\n# path = op-ed.txt\n") and "\n# id = assad\n" in conll
    assert sum(line.count("B-") for line in conll.splitlines()) == len(rows)

    imported = {}
    for source in ("brat", "ls.json", "pred.jsonl"):
        result = runner.invoke(app, ["import", source, "-o", f"{source}.imported.jsonl"])
        assert result.exit_code == 0, result.output
        records = [json.loads(line) for line in Path(f"{source}.imported.jsonl").read_text().splitlines()]
        imported[source] = {r["id"]: [(t["start"], t["end"], t["technique"]) for t in r["techniques"]]
                            for r in records}
        assert {r["id"]: r["text"] for r in records} == texts
    assert imported["brat"] == imported["ls.json"] == imported["pred.jsonl"]
    assert sum(len(v) for v in imported["brat"].values()) == len(rows)

    # evaluate reads any of the formats: the same predictions score 1.0 against each other.
    for gold, pred in [("brat", "pred.labels"), ("ls.json", "brat.imported.jsonl"), ("pred.labels", "pred.jsonl")]:
        result = runner.invoke(app, ["evaluate", "--task", "flc", gold, pred, "--json"])
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)["f1"] == 1.0

    # A source that cannot be read is reported; the others still go through.
    Path("broken.json").write_text("{not json", encoding="utf-8")
    result = runner.invoke(app, ["import", "broken.json", "brat", "-f", "ptc", "-o", "mixed.labels"])
    assert result.exit_code == 1
    assert "broken.json: not JSON" in result.stderr
    assert sorted(Path("mixed.labels").read_text().splitlines()) == sorted(Path("pred.labels").read_text().splitlines())
    result = runner.invoke(app, ["analyze", "op-ed.txt", "-f", "brat"])
    assert result.exit_code == 2 and "-o FOLDER" in result.stderr
    assert not re.search(r"Traceback", result.output)
