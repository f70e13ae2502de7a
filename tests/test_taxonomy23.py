"""The 23-technique taxonomy (SemEval-2023 Task 3) as a choice: the head, its scores, and
--taxonomy in the library, the CLI and the API."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
import numpy as np
import pytest
from conftest import DATA, REPO, live_server

from redline.errors import InputError
from redline.models.technique23 import DEFAULT_MODEL_DIR, paragraph_of_pieces, paragraphs
from redline.taxonomy import PTC_TECHNIQUES, SEMEVAL2023, check_taxonomy
from redline.training.technique23 import gold_paragraphs, paragraph_scores

OP_ED = REPO / "examples" / "op-ed.txt"
TAGGER = ("tagger",)


@pytest.fixture(scope="module")
def head_dir() -> Path:
    if not (DEFAULT_MODEL_DIR / "model.safetensors").exists():
        pytest.skip("the 23-technique head is not in redline/models/technique23")
    return DEFAULT_MODEL_DIR


def redline(*args, timeout: int = 300):
    return subprocess.run([sys.executable, "-m", "redline.cli", *map(str, args)], capture_output=True,
                          timeout=timeout)


# --- the task's paragraphs and scores, on hand-made cases ------------------------------
def test_paragraphs_are_the_non_empty_lines_numbered_from_one():
    text = "Title\n\nFirst para.\n   \nSecond para.\n"
    assert paragraphs(text) == [(1, 0, 5), (3, 7, 18), (5, 23, 35)]
    # a piece belongs to the paragraph it starts in; pieces on blank lines to none
    offsets = np.array([[0, 5], [7, 12], [19, 20], [23, 29], [30, 35]])
    assert paragraph_of_pieces(offsets, paragraphs(text)).tolist() == [0, 1, -1, 2, 2]


def test_gold_paragraphs_take_every_technique_touching_the_line():
    text = "Traitors all.\n\nA calm line.\nThey will destroy us."
    spans = [("Name_Calling-Labeling", 0, 8), ("Appeal_to_Fear-Prejudice", 30, 48),
             ("Loaded_Language", 10, 35)]  # crosses the blank line and the calm one
    assert gold_paragraphs(text, spans) == [
        (1, {"Name_Calling-Labeling", "Loaded_Language"}), (3, {"Loaded_Language"}),
        (4, {"Appeal_to_Fear-Prejudice", "Loaded_Language"})]


def test_paragraph_micro_f1_counts_pairs_and_empty_paragraphs():
    gold = {("a", 1): {"Doubt"}, ("a", 2): set(), ("a", 3): {"Slogans", "Doubt"}}
    pred = {("a", 1): {"Doubt"}, ("a", 2): {"Slogans"}}  # paragraph 3 missing: predicted empty
    s = paragraph_scores(gold, pred)
    # tp 1 (Doubt on 1), fp 1 (Slogans on 2), fn 2 (paragraph 3)
    assert s["micro_precision"] == pytest.approx(0.5) and s["micro_recall"] == pytest.approx(1 / 3)
    assert s["micro_f1"] == pytest.approx(2 * 0.5 * (1 / 3) / (0.5 + 1 / 3))
    assert s["per_technique"]["Slogans"]["n_gold"] == 1 and s["per_technique"]["Slogans"]["f1"] == 0.0


def test_recurrence_features_count_words_and_three_word_phrases():
    from redline.models.technique23 import recurrence_features

    text = "Save our town! Save our town! The end."
    offsets = np.array([[0, 4], [5, 8], [13, 14], [15, 19], [34, 37]])  # Save, our, "!", Save, end
    f = recurrence_features(text, offsets)
    assert f[0, 0] > 0 and f[0, 1] > 0  # "Save" and "Save our town" recur
    assert f[1, 0] > 0 and f[1, 1] == 0  # "our town Save" occurs once
    assert f[2].tolist() == [0.0, 0.0]  # punctuation
    assert f[4].tolist() == [0.0, 0.0]  # "end" once


def test_unknown_taxonomy_is_refused():
    assert check_taxonomy(None) in ("ptc", "semeval2023") and check_taxonomy("semeval2023") == "semeval2023"
    with pytest.raises(InputError, match="unknown taxonomy 'ptc2020'"):
        check_taxonomy("ptc2020")


# --- the split and the gold, on the real data -------------------------------------------
def test_split_holds_out_the_ptc_dev_counterparts_and_gold_matches_the_official_labels():
    root = DATA / "semeval2023-task3-en"
    if not (root / "train-labels-subtask-3.txt").exists() or not (DATA / "ptc" / "dev-articles").is_dir():
        pytest.skip("SemEval-2023 or PTC data not found in ../shared/data")
    from redline.training.technique23 import load_semeval2023

    articles = load_semeval2023(DATA)
    dev_ids = {p.stem[len("article"):] for p in (DATA / "ptc" / "dev-articles").glob("*.txt")}
    assert {a.id for a in articles if a.split == "dev"} == dev_ids
    assert not dev_ids & {a.id for a in articles if a.split == "train"}
    official: dict[tuple[str, int], set[str]] = {}
    for line in (root / "train-labels-subtask-3.txt").read_text(encoding="utf-8").splitlines():
        aid, number, techs = line.split("\t")
        official[(aid, int(number))] = {t for t in techs.split(",") if t}
    for art in articles[:40]:
        for number, techs in gold_paragraphs(art.text, art.spans):
            assert official[(art.id, number)] == techs, (art.id, number)


# --- the real pipeline, CLI and API -------------------------------------------------------
def test_pipeline_speaks_the_23_techniques_and_spans_slice_the_text(head_dir):
    from redline.pipeline import analyze

    text = OP_ED.read_text(encoding="utf-8")
    doc = analyze(text, id="op-ed", components=TAGGER, taxonomy="semeval2023")
    assert doc.model["tagger"]["taxonomy"] == "semeval2023"
    assert doc.spans, "the sample op-ed is full of techniques"
    for s in doc.spans:
        assert s.technique in SEMEVAL2023
        assert text[s.start:s.end] == s.text and s.text.strip() == s.text
        assert 0.0 <= s.score <= 1.0
        assert "\n" not in s.text  # a span stays in its paragraph
    assert any(s.technique not in PTC_TECHNIQUES for s in doc.spans), "some labels exist only in 2023"
    # the reader's threshold filters on the score: higher shows a subset
    strict = analyze(text, id="op-ed", components=TAGGER, taxonomy="semeval2023", threshold=0.8)
    assert {(s.start, s.end, s.technique) for s in strict.spans} <= {(s.start, s.end, s.technique) for s in doc.spans}
    assert all(s.score >= 0.8 for s in strict.spans)
    # the model block: None = the head's per-technique thresholds; a number = --threshold
    assert doc.model["tagger"]["threshold"] is None and strict.model["tagger"]["threshold"] == 0.8
    with pytest.raises(InputError, match="needs the 'tagger'"):
        analyze(text, components=("lexicon",), taxonomy="semeval2023")


def test_cli_analyze_and_classify_take_the_option(head_dir, tmp_path):
    r = redline("analyze", OP_ED, "-f", "json", "--components", "tagger", "--taxonomy", "semeval2023")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["model"]["tagger"]["taxonomy"] == "semeval2023"
    assert out["techniques"] and all(s["technique"] in SEMEVAL2023 for s in out["techniques"])

    r = redline("analyze", OP_ED, "--taxonomy", "ptc2020")
    assert r.returncode == 2 and b"ptc2020" in r.stderr and b"semeval2023" in r.stderr

    folder = tmp_path / "articles"
    folder.mkdir()
    text = OP_ED.read_text(encoding="utf-8")
    (folder / "article1.txt").write_text(text, encoding="utf-8")
    start = text.index("Real Marlow patriots") if "Real Marlow patriots" in text else 0
    spans = tmp_path / "spans.tsv"
    spans.write_text(f"1\t{start}\t{start + 20}\n1\t0\t10\n", encoding="utf-8")
    r = redline("classify", "--spans", spans, folder, "--taxonomy", "semeval2023")
    assert r.returncode == 0, r.stderr
    lines = [line.split("\t") for line in r.stdout.decode().splitlines()]
    assert len(lines) == 2 and all(parts[1] in SEMEVAL2023 for parts in lines)
    assert [int(parts[2]) for parts in lines] == [start, 0]


def test_api_takes_the_taxonomy_and_refuses_others(head_dir):
    from redline.server import create_app

    text = OP_ED.read_text(encoding="utf-8")[:3000]
    with live_server(create_app(components=TAGGER)) as url:
        with httpx.Client(base_url=url, timeout=120, trust_env=False) as client:
            r = client.post("/api/analyze", json={"text": text, "taxonomy": "semeval2023"})
            assert r.status_code == 200, r.text
            body = r.json()
            assert body["model"]["tagger"]["taxonomy"] == "semeval2023"
            assert all(s["technique"] in SEMEVAL2023 for s in body["techniques"])
            r = client.post("/api/analyze", json={"text": text, "taxonomy": "ptc"})
            assert r.status_code == 200 and r.json()["model"]["tagger"]["taxonomy"] == "ptc"
            assert all(s["technique"] in PTC_TECHNIQUES for s in r.json()["techniques"])
            r = client.post("/api/analyze", json={"text": text, "taxonomy": "semeval2021"})
            assert r.status_code == 422 and "taxonomy" in r.text
