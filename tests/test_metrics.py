"""Official SemEval-2020 Task 11 semantics, on hand-computed cases and PTC dev."""

import pytest

from redline.io.ptc import Label, read_labels
from redline.metrics import merge_overlapping, score_flc, score_si, score_tc


def L(start, end, tech="", art="1"):
    return Label(art, tech, start, end)


def test_merge_overlapping_not_touching():
    assert merge_overlapping([(0, 5), (3, 8), (8, 10), (20, 25)]) == [(0, 8), (8, 10), (20, 25)]


def test_si_partial_overlap_by_hand():
    gold = [L(0, 10)]
    pred = [L(5, 15)]
    s = score_si(gold, pred)
    # |s∩t| = 5: precision 5/10, recall 5/10.
    assert s.precision == pytest.approx(0.5) and s.recall == pytest.approx(0.5) and s.f1 == pytest.approx(0.5)


def test_si_two_predictions_on_one_gold():
    gold = [L(0, 10), L(20, 30)]
    pred = [L(0, 4), L(6, 10)]
    s = score_si(gold, pred)
    assert s.precision == pytest.approx(1.0)  # both predictions fully inside gold
    assert s.recall == pytest.approx((4 / 10 + 4 / 10) / 2)


def test_si_merges_overlapping_predictions_and_ignores_techniques():
    gold = [L(0, 10, "Doubt")]
    pred = [L(0, 6, "Loaded_Language"), L(4, 10, "Slogans")]  # merged into [0, 10)
    s = score_si(gold, pred)
    assert (s.n_pred, s.precision, s.recall) == (1, 1.0, 1.0)


def test_si_articles_are_separate():
    s = score_si([L(0, 10, art="a")], [L(0, 10, art="b")])
    assert s.f1 == 0.0


def test_tc_duplicates_matched_best_way():
    gold = [L(0, 5, "Doubt"), L(0, 5, "Repetition"), L(7, 9, "Slogans")]
    pred = [L(0, 5, "Repetition"), L(0, 5, "Repetition"), L(7, 9, "Slogans")]
    s = score_tc(gold, pred)
    assert s.f1 == pytest.approx(2 / 3)
    assert s.per_technique["Slogans"]["f1"] == 1.0
    assert s.per_technique["Doubt"]["recall"] == 0.0


def test_flc_needs_matching_technique():
    gold = [L(0, 10, "Doubt")]
    assert score_flc(gold, [L(0, 10, "Slogans")]).f1 == 0.0
    assert score_flc(gold, [L(0, 5, "Doubt")]).f1 == pytest.approx(2 * 1.0 * 0.5 / 1.5)


def test_known_values_on_ptc_dev(ptc_dir):
    gold = read_labels(ptc_dir / "dev-task-flc-tc.labels")
    assert len(gold) == 1063
    assert score_si(gold, gold).f1 == 1.0
    assert score_tc(gold, gold).f1 == 1.0
    assert score_flc(gold, gold).f1 == 1.0
    loaded = [Label(g.article_id, "Loaded_Language", g.start, g.end) for g in gold]
    assert score_tc(gold, loaded).f1 == pytest.approx(325 / 1063)
    assert round(score_tc(gold, loaded).f1, 4) == 0.3057
    # The SI gold file is the merge of the technique spans.
    assert score_si(read_labels(ptc_dir / "dev-task-si.labels"), gold).f1 == 1.0
