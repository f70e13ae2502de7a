"""PTC label files and article ids; clear errors for malformed lines."""

import pytest

from redline.errors import InputError
from redline.io.ptc import article_id_from_path, read_labels


def test_article_id():
    assert article_id_from_path("dir/article111111112.txt") == "111111112"
    assert article_id_from_path("article5.task-flc-tc.labels") == "5"
    assert article_id_from_path("my-op-ed.txt") == "my-op-ed"


def test_read_three_and_four_columns(tmp_path):
    f = tmp_path / "x.labels"
    f.write_text("1\tDoubt\t0\t5\n\n2\t3\t9\n")
    labs = read_labels(f)
    assert [(l.article_id, l.technique, l.start, l.end) for l in labs] == [("1", "Doubt", 0, 5), ("2", "", 3, 9)]


@pytest.mark.parametrize("line, needle", [
    ("1\tDoubt\tx\t5", "integers"),
    ("1 Doubt 0 5", "tab-separated"),
    ("1\tDoubt\t9\t5", "bad span"),
])
def test_malformed_line_names_the_line(tmp_path, line, needle):
    f = tmp_path / "bad.labels"
    f.write_text("1\tDoubt\t0\t5\n" + line + "\n")
    with pytest.raises(InputError) as exc:
        read_labels(f)
    assert "bad.labels:2" in str(exc.value) and needle in str(exc.value)


def test_missing_and_non_utf8(tmp_path):
    with pytest.raises(InputError, match="no such"):
        read_labels(tmp_path / "nope.labels")
    f = tmp_path / "latin.labels"
    f.write_bytes("1\tD\xe9\t0\t5\n".encode("latin-1"))
    with pytest.raises(InputError, match="UTF-8"):
        read_labels(f)


# --- strict parsing (issue 18): what int() and a plain split let through ----------------
from redline.taxonomy import PTC_TECHNIQUES  # noqa: E402


@pytest.mark.parametrize("line, needle", [
    ("1\tDoubt\t10_0\t105", "digits 0-9"),
    ("1\tDoubt\t\uff11\t5", "digits 0-9"),          # full-width 1
    ("1\tDoubt\t\u0661\t5", "digits 0-9"),          # Arabic-Indic 1
    ("1\tDoubt\t+1\t5", "digits 0-9"),
    ("1\tDoubt\t 1\t5", "digits 0-9"),
    ("1\tDoubt\t5\t5", "end must be after"),        # zero-length span
    ("1\tDoubtful\t0\t5", "unknown technique"),
    ("1\t\t0\t5", "technique is empty"),
    ("\t0\t5", "article id is empty"),
    ("1\u200b\t0\t5", "U+200B"),
    ("1\ufeff\tDoubt\t0\t5", "U+FEFF"),
])
def test_strict_label_lines(tmp_path, line, needle):
    f = tmp_path / "strict.labels"
    f.write_text("1\tDoubt\t0\t5\n" + line + "\n", encoding="utf-8")
    with pytest.raises(InputError) as exc:
        read_labels(f, PTC_TECHNIQUES)
    assert "strict.labels:2" in str(exc.value) and needle in str(exc.value)


def test_a_leading_bom_is_not_part_of_the_first_id(tmp_path):
    f = tmp_path / "bom.labels"
    f.write_bytes(b"\xef\xbb\xbf1\tDoubt\t0\t5\n2\t3\t9\n")
    labs = read_labels(f, PTC_TECHNIQUES)
    assert [l.article_id for l in labs] == ["1", "2"]


def test_line_numbers_count_only_newlines(tmp_path):
    f = tmp_path / "sep.labels"
    f.write_text("1\tDoubt\t0\t5\n1\tDoubt\t0\t5\x1c\n", encoding="utf-8")  # \x1c: splitlines() splits there
    with pytest.raises(InputError, match="sep.labels:2:"):
        read_labels(f, PTC_TECHNIQUES)


def test_label_reads_are_bounded(tmp_path):
    with pytest.raises(InputError, match="device"):
        read_labels("/dev/zero")
