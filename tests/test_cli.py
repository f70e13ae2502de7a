"""The real `redline` command, run as a user runs it."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

FAST = ["--components", "lexicon"]


def redline(*args, stdin: bytes | None = None, cwd=None):
    return subprocess.run([sys.executable, "-m", "redline.cli", *map(str, args)], input=stdin,
                          capture_output=True, cwd=cwd, timeout=300)


def test_version_and_help():
    r = redline("--version")
    assert r.returncode == 0 and r.stdout.decode().startswith("redline ")
    for cmd in ("analyze", "classify", "evaluate", "train"):
        r = redline(cmd, "--help")
        assert r.returncode == 0, r.stderr
        assert b"Usage" in r.stdout


def test_analyze_json_spans_slice_text(own_example, tmp_path):
    f = tmp_path / "article42.txt"
    f.write_text(own_example, encoding="utf-8")
    r = redline("analyze", f, "-f", "json", *FAST)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["id"] == "42" and len(out["text_sha256"]) == 64
    assert out["techniques"], "the sample op-ed is full of techniques"
    for s in out["techniques"]:
        assert own_example[s["start"]:s["end"]] == s["text"]
        assert 0.0 <= s["score"] <= 1.0


def test_ptc_and_jsonl_formats_and_stdin(own_example, tmp_path):
    (tmp_path / "article7.txt").write_text(own_example)
    (tmp_path / "article8.txt").write_text("Enough is enough! They are traitors and liars.")
    r = redline("analyze", tmp_path, "-f", "ptc", *FAST)
    assert r.returncode == 0, r.stderr
    lines = [l.split("\t") for l in r.stdout.decode().splitlines()]
    assert {l[0] for l in lines} == {"7", "8"} and all(len(l) == 4 for l in lines)
    r = redline("analyze", tmp_path, "-f", "jsonl", *FAST)
    assert [json.loads(l)["id"] for l in r.stdout.decode().splitlines()] == ["7", "8"]
    r = redline("analyze", "-", "-f", "json", *FAST, stdin="What a shameless land grab!".encode())
    assert r.returncode == 0 and json.loads(r.stdout)["id"] == "stdin"


def test_output_file(own_example, tmp_path):
    f = tmp_path / "a.txt"
    f.write_text(own_example)
    out = tmp_path / "out.jsonl"
    r = redline("analyze", f, "-f", "jsonl", "-o", out, *FAST)
    assert r.returncode == 0 and json.loads(out.read_text())["id"] == "a"


@pytest.mark.parametrize("content, needle", [
    (b"", "empty"),
    (b"   \n\t\n", "empty"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary"),
    ("caf\xe9 au lait".encode("latin-1"), "UTF-8"),
])
def test_bad_files_give_clear_errors(tmp_path, content, needle):
    f = tmp_path / "bad.txt"
    f.write_bytes(content)
    r = redline("analyze", f, *FAST)
    err = r.stderr.decode()
    assert r.returncode != 0 and needle in err and "Traceback" not in err


def test_missing_file_and_empty_folder(tmp_path):
    r = redline("analyze", tmp_path / "nope.txt", *FAST)
    assert r.returncode != 0 and "no such file" in r.stderr.decode() and b"Traceback" not in r.stderr
    (tmp_path / "empty").mkdir()
    r = redline("analyze", tmp_path / "empty", *FAST)
    assert r.returncode != 0 and "no *.txt" in r.stderr.decode()


def test_one_bad_file_in_a_batch_does_not_stop_the_others(tmp_path):
    (tmp_path / "article1.txt").write_text("They are traitors! Shameful, disgusting liars.")
    (tmp_path / "article2.txt").write_bytes(b"\x89PNG\x00\x00bad")
    (tmp_path / "article3.txt").write_text("Everyone knows the regime lies. Never forget!")
    r = redline("analyze", tmp_path, "-f", "jsonl", *FAST)
    assert r.returncode == 1
    ids = [json.loads(l)["id"] for l in r.stdout.decode().splitlines()]
    assert ids == ["1", "3"]
    assert "article2.txt" in r.stderr.decode() and b"Traceback" not in r.stderr


def test_evaluate_known_values(ptc_dir, tmp_path):
    gold = ptc_dir / "dev-task-flc-tc.labels"
    r = redline("evaluate", "--task", "si", gold, gold, "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["f1"] == 1.0
    loaded = tmp_path / "ll.labels"
    loaded.write_text("".join(f"{l.split(chr(9))[0]}\tLoaded_Language\t{l.split(chr(9))[2]}\t{l.split(chr(9))[3]}"
                              for l in gold.read_text().splitlines(keepends=True)))
    r = redline("evaluate", "--task", "tc", gold, loaded)
    assert r.returncode == 0 and "F1=0.3057" in r.stdout.decode()
    r = redline("evaluate", "--task", "flc", gold, gold, "--json")
    assert json.loads(r.stdout)["f1"] == 1.0


def test_evaluate_malformed_label_file(tmp_path):
    good = tmp_path / "g.labels"
    good.write_text("1\tDoubt\t0\t5\n")
    bad = tmp_path / "p.labels"
    bad.write_text("1\tDoubt\t0\t5\n1\tDoubt\tzero\t5\n")
    r = redline("evaluate", "--task", "tc", good, bad)
    assert r.returncode != 0 and "p.labels:2" in r.stderr.decode() and b"Traceback" not in r.stderr


def test_analyze_with_trained_model_on_founding_article(example_text, model_dir, tmp_path):
    from conftest import EXAMPLE
    r = redline("analyze", EXAMPLE, "-f", "json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["techniques"]
    for s in out["techniques"]:
        assert example_text[s["start"]:s["end"]] == s["text"]
    assert out["model"]["tagger"]["name"]


def test_classify_spans(ptc_dir, model_dir, tmp_path):
    gold = (ptc_dir / "dev-task-flc-tc.labels").read_text().splitlines()
    aid = gold[0].split("\t")[0]
    mine = [l for l in gold if l.startswith(aid + "\t")]
    spans = tmp_path / "spans.tsv"
    spans.write_text("".join(l + "\n" for l in mine))
    r = redline("classify", "--spans", spans, ptc_dir / "dev-articles")
    assert r.returncode == 0, r.stderr
    out = r.stdout.decode().splitlines()
    assert len(out) == len(mine)
    for a, b in zip(out, mine):
        assert a.split("\t")[0] == aid and a.split("\t")[2:] == b.split("\t")[2:]


def test_frame_and_claims_commands(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    text = ("The regime of President Vorn shelled the village again, killing 12 civilians. "
            "Relief workers from the Red Crescent rushed to help the wounded.")
    (docs / "EN_1.txt").write_text(text)
    i = text.index("Vorn")
    j = text.index("Red Crescent")
    mentions = tmp_path / "mentions.tsv"
    mentions.write_text(f"EN_1.txt\tVorn\t{i}\t{i + 3}\nEN_1.txt\tRed Crescent\t{j}\t{j + 11}\n")
    r = redline("frame", "--mentions", mentions, docs)
    assert r.returncode == 0, r.stderr
    rows = [l.split("\t") for l in r.stdout.decode().splitlines()]
    assert len(rows) == 2 and rows[0][:4] == ["EN_1.txt", "Vorn", str(i), str(i + 3)]
    assert all(row[4] in ("Protagonist", "Antagonist", "Innocent") and len(row) >= 6 for row in rows)

    lines = tmp_path / "debate.tsv"
    lines.write_text("1\tSMITH\tThank you all for coming tonight.\n"
                     "2\tSMITH\tUnemployment fell from 9 percent to 4.1 percent in three years.\n")
    r = redline("claims", "--score-lines", lines)
    assert r.returncode == 0, r.stderr
    scored = [l.split("\t") for l in r.stdout.decode().splitlines()]
    assert [s[0] for s in scored] == ["1", "2"]
    assert float(scored[1][1]) > float(scored[0][1])


def test_precision_option_reaches_the_model_and_bad_values_are_refused(example_text, model_dir):
    from conftest import EXAMPLE
    r = redline("--precision", "int8", "analyze", EXAMPLE, "-f", "json", "--components", "tagger")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["model"]["tagger"]["precision"] == "int8"
    assert out["techniques"]
    for s in out["techniques"]:
        assert example_text[s["start"]:s["end"]] == s["text"]
    r = redline("--precision", "fp8", "analyze", EXAMPLE)
    assert r.returncode == 2 and b"fp8" in r.stderr and r.stdout == b""


def test_precision_names_agree_between_cli_and_model():
    from redline.cli import Precision
    from redline.models.technique_net import PRECISIONS
    assert tuple(p.value for p in Precision) == PRECISIONS


# --- batches survive a kill (issue 18) ----------------------------------------------------
import os  # noqa: E402
import signal  # noqa: E402
import time  # noqa: E402


def _batch_with_a_pause(tmp_path):
    """Three articles, then a named pipe nobody writes to: the batch waits there (up to
    10 s), which is where the test interrupts it, with three documents finished."""
    paths = []
    for i in range(1, 4):
        p = tmp_path / f"article{i}.txt"
        p.write_text(f"They are traitors and liars, number {i}! Enough is enough.")
        paths.append(p)
    pause = tmp_path / "article9.txt"
    os.mkfifo(pause)
    return [*paths, pause]


def _start(*args):
    return subprocess.Popen([sys.executable, "-m", "redline.cli", *map(str, args)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _wait_for_reader(fifo, timeout=60.0) -> int:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        except OSError:  # ENXIO: nobody has it open for reading yet
            assert time.monotonic() < deadline, "timed out"
            time.sleep(0.05)


def _wait_for(predicate, timeout=60.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@pytest.mark.parametrize("fmt,sig", [("jsonl", signal.SIGTERM), ("ptc", signal.SIGINT), ("json", signal.SIGTERM),
                                     ("html", signal.SIGINT)])
def test_interrupted_batch_keeps_every_finished_document(tmp_path, fmt, sig):
    inputs = _batch_with_a_pause(tmp_path)
    out = tmp_path / f"out.{fmt}"
    proc = _start("analyze", *inputs, "-f", fmt, "-o", out, *FAST)
    if fmt in ("jsonl", "ptc"):  # streamed: the finished documents are in the file already
        _wait_for(lambda: out.exists() and {l.split("\t")[0] if fmt == "ptc" else json.loads(l)["id"]
                                            for l in out.read_text().splitlines()} == {"1", "2", "3"})
        writer = None
    else:
        # Whole-file formats show nothing until the end: wait until the batch reaches the pipe
        # (a non-blocking open for writing succeeds once a reader has it open), and hold the
        # write end open so that it stays blocked there, reading.
        writer = _wait_for_reader(inputs[-1])
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    if writer is not None:
        os.close(writer)
    assert proc.returncode == 128 + sig, err
    assert b"interrupted by " + signal.Signals(sig).name.encode() in err and b"3 documents written" in err
    text = out.read_text()
    if fmt == "jsonl":
        assert [json.loads(l)["id"] for l in text.splitlines()] == ["1", "2", "3"]
    elif fmt == "ptc":
        assert {l.split("\t")[0] for l in text.splitlines()} == {"1", "2", "3"}
    elif fmt == "json":
        assert [d["id"] for d in json.loads(text)] == ["1", "2", "3"]
    else:
        assert text.rstrip().endswith("</html>")
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".part")] == []


@pytest.mark.parametrize("target,fmt,needle", [("missing-folder/out.jsonl", "jsonl", b"does not exist"),
                                               ("missing-folder/out.json", "json", b"does not exist"),
                                               (".", "json", b"is a folder"),
                                               ("ro/out.json", "json", b"cannot write"),
                                               ("ro/out.jsonl", "jsonl", b"cannot write")])
def test_unwritable_output_fails_before_any_work(tmp_path, target, fmt, needle):
    inputs = _batch_with_a_pause(tmp_path)  # reaching the pipe would cost 10 s
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        if target.startswith("ro/") and os.access(ro, os.W_OK):
            pytest.skip("running as root: permissions are not enforced")
        t = time.monotonic()
        r = redline("analyze", *inputs, "-f", fmt, "-o", tmp_path / target, *FAST)
        assert r.returncode == 2 and needle in r.stderr and b"Traceback" not in r.stderr, r.stderr
        assert time.monotonic() - t < 8
    finally:
        ro.chmod(0o700)


def test_whole_file_output_to_a_non_regular_target_is_written_in_place(tmp_path):
    """-o /dev/null or a named pipe: renaming a temporary file there would replace the device."""
    article = tmp_path / "a.txt"
    article.write_text("They are traitors and liars!")
    target = tmp_path / "out.pipe"
    os.mkfifo(target)
    got = {}

    def read_pipe():
        with open(target, "rb") as fh:
            got["data"] = fh.read()

    import threading
    reader = threading.Thread(target=read_pipe)
    reader.start()
    r = redline("analyze", article, "-f", "json", "-o", target, *FAST)
    reader.join(30)
    assert r.returncode == 0, r.stderr
    assert json.loads(got["data"])["id"] == "a"
    import stat
    assert stat.S_ISFIFO(os.stat(target).st_mode)


@pytest.mark.parametrize("pred, needle", [
    ("1\tDoubt\t10_0\t105\n", b"p.labels:1: start and end must be integers written in the digits 0-9"),
    ("1\tDoubt\t\uff10\t5\n", b"p.labels:1: start and end"),
    ("1\tDoubtful\t0\t5\n", b"p.labels:1: unknown technique 'Doubtful'"),
    ("1\tDoubt\t5\t5\n", b"p.labels:1: bad span [5, 5)"),
])
def test_evaluate_is_strict_with_file_and_line(tmp_path, pred, needle):
    gold = tmp_path / "g.labels"
    gold.write_text("1\tDoubt\t0\t5\n")
    bad = tmp_path / "p.labels"
    bad.write_text(pred, encoding="utf-8")
    r = redline("evaluate", "--task", "flc", gold, bad)
    assert r.returncode == 2 and needle in r.stderr and b"Traceback" not in r.stderr, r.stderr


def test_evaluate_reads_past_a_leading_bom(tmp_path):
    gold = tmp_path / "g.labels"
    gold.write_text("1\tDoubt\t0\t5\n")
    pred = tmp_path / "p.labels"
    pred.write_bytes(b"\xef\xbb\xbf1\tDoubt\t0\t5\n")  # the id was "\ufeff1" and scored 0
    r = redline("evaluate", "--task", "flc", gold, pred, "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["f1"] == 1.0


def test_help_texts_say_what_they_mean():
    # Rich markup used to eat "[technique,]" and show --version as taking a value.
    r = redline("classify", "--help")
    assert r.returncode == 0 and b"[technique,]" in r.stdout
    r = redline("--help")
    line = next(ln for ln in r.stdout.decode().splitlines() if "--version" in ln)
    assert "<bool>" not in line and "BOOLEAN" not in line


def test_claims_on_an_article(tmp_path):
    article = tmp_path / "a1.txt"
    article.write_text("Gen. Smith announced on Monday that 2,000 troops had been sent to the border in 2019. "
                       "The weather was fine.\n", encoding="utf-8")
    r = redline("claims", article)
    assert r.returncode == 0, r.stderr
    out = r.stdout.decode()
    assert out.startswith("== a1:") and "2,000 troops" in out and "source: Gen. Smith" in out
    r = redline("claims", "--json", article)
    doc = json.loads(r.stdout)
    claim = next(c for c in doc["claims"] if "2,000" in c["text"])
    assert claim["attribution"]["cue"]["text"] == "announced"
    assert doc["actors"][claim["source"]] == "Gen. Smith"
    r = redline("claims")
    assert r.returncode == 2 and b"--score-lines" in r.stderr
    r = redline("claims", tmp_path / "missing.txt")
    assert r.returncode == 1 and b"no such file" in r.stderr


def test_html_files_and_urls(tmp_path):
    page = tmp_path / "story.html"
    page.write_text("<html><head><title>Iran sends troops</title></head><body><nav>Home | World</nav><article>"
                    "<h1>Iran sends troops</h1><p>The terrorist regime sent 2,000 fighters to Aleppo last year, "
                    "officials said on Monday, and critics warned of more war.</p></article>"
                    "<footer>Copyright Example News</footer></body></html>", encoding="utf-8")
    (tmp_path / "plain.txt").write_text("They are traitors! Never forget it.\n", encoding="utf-8")
    r = redline("analyze", page, "-f", "jsonl", *FAST)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["id"] == "story" and any(s["text"] == "terrorist" for s in doc["techniques"])
    assert b"<p>" not in r.stdout and b"Copyright" not in r.stdout and b"terrorist" in r.stdout
    r = redline("analyze", tmp_path, "-f", "ptc", *FAST)  # a folder: both the .txt and the .html
    assert {line.split("\t")[0] for line in r.stdout.decode().splitlines()} == {"plain", "story"}
    # URLs go through the safe fetcher: a loopback address is refused without --allow-private,
    # and nothing is sent anywhere.
    r = redline("analyze", "http://127.0.0.1:9/article", *FAST)
    assert r.returncode == 1 and b"not a public address" in r.stderr and b"--allow-private" in r.stderr


def test_jsonl_records_carry_where_they_came_from_and_a_short_model_reference(tmp_path):
    (tmp_path / "a1.txt").write_text("They are traitors! Never forget it.\n", encoding="utf-8")
    r = redline("analyze", tmp_path / "a1.txt", "-f", "jsonl", *FAST)
    rec = json.loads(r.stdout)
    assert list(rec)[:4] == ["schema_version", "id", "path", "meta"]
    assert rec["id"] == "a1" and rec["path"] == str(tmp_path / "a1.txt") and rec["meta"] == {}
    assert len(json.dumps(rec["model"])) < 200 and rec["model"]["components"] == ["lexicon"]
    r = redline("info", "--json", "--components", "lexicon")
    info = json.loads(r.stdout)
    assert info["schema_version"] == rec["schema_version"] and "lexicon" in info["model"]


def test_progress_lines_when_not_on_a_terminal(tmp_path):
    for i in range(3):
        (tmp_path / f"a{i}.txt").write_text(f"They are traitors number {i}! Never forget it.\n", encoding="utf-8")
    r = redline("analyze", tmp_path, "-f", "ptc", "-o", tmp_path / "out.labels", *FAST)  # stderr is a pipe here
    assert r.returncode == 0
    assert b"redline: 3/3 inputs (0 failed)" in r.stderr and b"\r" not in r.stderr
    r = redline("analyze", tmp_path, "-f", "ptc", "-o", tmp_path / "out2.labels", "-q", *FAST)
    assert b"inputs (" not in r.stderr


def test_a_text_that_is_not_english_gets_a_warning(tmp_path):
    fr = tmp_path / "fr.txt"
    fr.write_text("Le gouvernement a annoncé hier que les troupes seraient retirées de la région avant la fin de "
                  "l'année, selon un communiqué publié par le ministère de la Défense à Paris. Les syndicats ont "
                  "critiqué la décision.\n", encoding="utf-8")
    r = redline("analyze", fr, "-f", "ptc", *FAST)
    assert r.returncode == 0 and b"does not look English" in r.stderr
    assert b"does not look English" not in redline("analyze", fr, "-f", "ptc", "--lang", "en", *FAST).stderr
    assert b"English only" in redline("analyze", fr, "-f", "ptc", "--lang", "fr", *FAST).stderr
    en = tmp_path / "en.txt"
    en.write_text("The government announced yesterday that the troops would be withdrawn from the region before "
                  "the end of the year, according to a statement from the defence ministry.\n", encoding="utf-8")
    assert b"warning" not in redline("analyze", en, "-f", "ptc", *FAST).stderr


def test_the_founding_op_ed_looks_english():
    from redline.io.language import MIN_SHARE, english_share

    from conftest import EXAMPLE
    if not EXAMPLE.exists():
        pytest.skip("founding example not found in ../shared/examples")
    assert english_share(EXAMPLE.read_text(encoding="utf-8"))[0] > MIN_SHARE * 2


def test_meta_from_the_command_line(tmp_path):
    f = tmp_path / "a1.txt"
    f.write_text("They are traitors! Never forget it.\n", encoding="utf-8")
    rec = json.loads(redline("analyze", f, "-f", "jsonl", "--meta", "source=bbc", "--meta", "date=2026-12-01",
                             *FAST).stdout)
    assert rec["meta"] == {"source": "bbc", "date": "2026-12-01"}
    for bad in ("nope", "=x", "path=/x"):
        r = redline("analyze", f, "-f", "jsonl", "--meta", bad, *FAST)
        assert r.returncode == 2 and b"--meta" in r.stderr and not r.stdout


def test_the_cli_loads_its_models_without_the_collector_and_turns_it_back_on():
    """Cold start: `redline analyze` loads the models with the cyclic collector off and
    freezes what they loaded; the collector is on again after, also when loading fails."""
    import gc

    from redline.cli import _loading_without_gc

    assert gc.isenabled()
    frozen = gc.get_freeze_count()
    with _loading_without_gc():
        assert not gc.isenabled()
        kept = [[] for _ in range(1000)]
    assert gc.isenabled() and gc.get_freeze_count() >= frozen + len(kept)
    with pytest.raises(RuntimeError):
        with _loading_without_gc():
            raise RuntimeError("a model that does not load")
    assert gc.isenabled()
    gc.unfreeze()
