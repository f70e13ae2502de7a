"""The technique taxonomies: complete, consistent, and covering every label in the data."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from redline import taxonomy
from redline.taxonomy import (
    FAMILIES,
    PTC,
    PTC_TECHNIQUES,
    RELATION_TYPES,
    SEMEVAL2021_TO_PTC,
    SEMEVAL2023,
    SEMEVAL2023_TO_PTC,
    Technique,
    as_json,
    technique_info,
    to_ptc,
)

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
HEX = re.compile(r"^#[0-9A-Fa-f]{6}$")


def _data(*parts: str) -> Path:
    p = DATA.joinpath(*parts)
    if not p.exists():
        pytest.skip(f"shared data not found: {p}")
    return p


def _check_techniques(techniques: dict[str, Technique]) -> None:
    for label, t in techniques.items():
        assert t.label == label
        for field in ("label", "name", "definition", "example", "family", "color"):
            assert getattr(t, field).strip(), f"{label}: empty {field}"
        assert t.family in FAMILIES, label
        assert HEX.match(t.color), f"{label}: bad colour {t.color!r}"
    colors = [t.color.upper() for t in techniques.values()]
    assert len(set(colors)) == len(colors), "colours must be distinct"


def test_ptc_order_and_fields():
    assert list(PTC) == PTC_TECHNIQUES
    assert len(PTC_TECHNIQUES) == 14
    _check_techniques(PTC)


def test_ptc_families_follow_2023_grouping():
    assert FAMILIES == ["Attack on reputation", "Justification", "Simplification",
                        "Distraction", "Call", "Manipulative wording"]
    assert PTC["Doubt"].family == "Attack on reputation"
    assert PTC["Bandwagon,Reductio_ad_hitlerum"].family == "Justification"
    assert {t.family for t in PTC.values()} == set(FAMILIES)


def test_ptc_labels_in_data_are_known():
    labels = {line.split("\t")[1] for line in
              _data("ptc", "train-task-flc-tc.labels").read_text(encoding="utf-8").splitlines()
              if line.strip()}
    assert labels == set(PTC_TECHNIQUES)


def test_semeval2023_complete():
    text = _data("semeval2023-task3-en", "techniques_subtask3.txt").read_text(encoding="utf-8")
    listed = [l.strip() for l in text.splitlines() if l.strip()]
    assert len(listed) == 23
    assert list(SEMEVAL2023) == listed


def test_semeval2023_fields_and_mapping_keys():
    assert len(SEMEVAL2023) == 23
    _check_techniques(SEMEVAL2023)
    assert set(SEMEVAL2023_TO_PTC) == set(SEMEVAL2023)
    for target in SEMEVAL2023_TO_PTC.values():
        assert target is None or target in PTC
    # the six 2023 groups, with their 2023 members
    assert SEMEVAL2023["Doubt"].family == "Attack on reputation"
    assert SEMEVAL2023["Guilt_by_Association"].family == "Attack on reputation"
    assert SEMEVAL2023["Appeal_to_Time"].family == "Call"
    assert SEMEVAL2023["Obfuscation-Vagueness-Confusion"].family == "Manipulative wording"


def test_semeval2023_labels_in_data_map():
    root = _data("semeval2023-task3-en")
    seen: set[str] = set()
    for f in sorted((root / "train-labels-subtask-3-spans").glob("*.txt")):
        for line in f.read_text(encoding="utf-8").splitlines():
            if line.strip():
                seen.add(line.split("\t")[1])
    for line in (root / "train-labels-subtask-3.txt").read_text(encoding="utf-8").splitlines():
        cols = line.split("\t")
        if len(cols) > 2:
            seen.update(t for t in cols[2].split(",") if t)
    assert seen, "no labels read"
    assert seen <= set(SEMEVAL2023)
    for label in seen:
        to_ptc(label)  # no KeyError
        technique_info(label)


def test_semeval2021_labels_in_data_map():
    root = _data("semeval2021-task6")
    text = (root / "techniques_list_task1-2.txt").read_text(encoding="utf-8")
    listed = {l.strip() for l in text.splitlines() if l.strip()}
    assert len(listed) == 20
    assert listed <= set(SEMEVAL2021_TO_PTC)
    seen: set[str] = set()
    for name in ("training_set_task2.txt", "dev_set_task2.txt"):
        for item in json.loads((root / name).read_text(encoding="utf-8")):
            seen.update(lab["technique"] for lab in item["labels"])
    assert "Black-and-white Fallacy/Dictatorship" in seen
    for label in seen:
        assert label in SEMEVAL2021_TO_PTC, label
        target = to_ptc(label)
        assert target is None or target in PTC


def test_to_ptc():
    for label in PTC_TECHNIQUES:
        assert to_ptc(label) == label
    assert to_ptc("Name_Calling-Labeling") == "Name_Calling,Labeling"
    assert to_ptc("Guilt_by_Association") == "Bandwagon,Reductio_ad_hitlerum"
    assert to_ptc("False_Dilemma-No_Choice") == "Black-and-White_Fallacy"
    assert to_ptc("Obfuscation-Vagueness-Confusion") is None
    assert to_ptc("Thought-terminating cliché") == "Thought-terminating_Cliches"
    assert to_ptc("Black-and-white Fallacy/Dictatorship") == "Black-and-White_Fallacy"
    with pytest.raises(KeyError):
        to_ptc("Not_A_Technique")


def test_technique_info():
    assert technique_info("Flag-Waving") is PTC["Flag-Waving"]
    assert technique_info("Flag_Waving") is SEMEVAL2023["Flag_Waving"]
    for junk in ("", "loaded_language", "Propaganda!", "Smears"):
        with pytest.raises(KeyError, match="unknown technique"):
            technique_info(junk)


def test_relation_types():
    assert RELATION_TYPES == ["support", "give_aid", "supply_arms", "deploy", "attack",
                              "kill_injure", "threaten", "accuse", "demand", "state"]


def test_as_json():
    data = json.loads(json.dumps(as_json()))
    assert [t["label"] for t in data["ptc"]] == PTC_TECHNIQUES
    assert len(data["semeval2023"]) == 23
    assert data["families"] == FAMILIES
    assert data["semeval2023_to_ptc"]["Appeal_to_Popularity"] == "Bandwagon,Reductio_ad_hitlerum"
    assert set(data["semeval2021_to_ptc"]) == set(SEMEVAL2021_TO_PTC)
    assert taxonomy.__doc__
