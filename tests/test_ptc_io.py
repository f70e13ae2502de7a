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
