"""`redline analyze` on tables: a JSONL or CSV file with a text column and metadata columns,
read row by row with the reader `redline corpus ingest` uses (corpus/sources.py)."""

from __future__ import annotations

import csv
import json
import subprocess
import sys

FAST = ["--components", "lexicon"]
TEXT1 = "Opponents called the plan a reckless betrayal of taxpayers."
TEXT3 = "The minister, a puppet of private investors, said nothing at all!"


def redline(*args):
    return subprocess.run([sys.executable, "-m", "redline.cli", *map(str, args)], capture_output=True, timeout=300)


def test_csv_rows_keep_ids_and_meta_and_a_row_without_text_is_reported(tmp_path):
    table = tmp_path / "rows.csv"
    with table.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["ID", "url", "source", "date", "title", "text", "desk"])
        w.writerow(["r1", "https://example.org/1", "bbc", "2024-03-01", "First", TEXT1, "politics"])
        w.writerow(["r2", "https://example.org/2", "cnn", "2024-03-02", "Second", "", "sport"])
        w.writerow(["", "", "", "", "Third", TEXT3, ""])
    out = tmp_path / "out.jsonl"
    r = redline("analyze", "-f", "jsonl", "-o", out, "-q", *FAST, table)
    assert r.returncode == 1  # one row failed; the others are written
    err = r.stderr.decode()
    assert f"{table}:3: the text is empty" in err and "1 of 3 inputs failed" in err
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [rec["id"] for rec in records] == ["r1", "rows-4"]  # no id: the file's stem and its line
    first, third = records
    assert first["path"] == f"{table}:2"
    assert first["meta"] == {"url": "https://example.org/1", "source": "BBC", "source_raw": "bbc",
                             "date": "2024-03-01", "title": "First", "desk": "politics"}
    assert third["meta"] == {"title": "Third"}
    assert third["techniques"], "the lexicon finds 'puppet'"
    for rec, text in ((first, TEXT1), (third, TEXT3)):
        for s in rec["techniques"]:
            assert text[s["start"]:s["end"]] == s["text"]


def test_jsonl_rows_with_map_and_files_alongside(tmp_path):
    table = tmp_path / "feed.jsonl"
    table.write_text("\n".join(json.dumps(row) for row in [
        {"id": "a1", "body": TEXT1, "outlet_rank": 3},
        {"id": "a2", "headline": "Nothing here"},
    ]) + "\n", encoding="utf-8")
    article = tmp_path / "article7.txt"
    article.write_text(TEXT3, encoding="utf-8")
    r = redline("analyze", "-f", "jsonl", "-q", "--map", "body=text", "--meta", "batch=b1", *FAST, table, article)
    assert r.returncode == 1
    assert f"{table}:2: the text is empty" in r.stderr.decode()
    records = [json.loads(line) for line in r.stdout.decode().splitlines()]
    assert [rec["id"] for rec in records] == ["a1", "7"]  # table rows and files, in argument order
    assert records[0]["meta"] == {"outlet_rank": 3, "batch": "b1"}
    assert records[1]["meta"] == {"batch": "b1"}


def test_map_without_a_table_is_an_error(tmp_path):
    f = tmp_path / "a.txt"
    f.write_text(TEXT1, encoding="utf-8")
    r = redline("analyze", "--map", "body=text", *FAST, f)
    assert r.returncode == 2 and b"--map reads table columns" in r.stderr
    r = redline("analyze", "--map", "body=nonsense", *FAST, tmp_path / "t.csv")
    assert r.returncode == 2 and b"FIELD must be one of" in r.stderr
