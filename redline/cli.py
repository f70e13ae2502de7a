"""The `redline` command: thin layers over the library calls in redline.pipeline."""

from __future__ import annotations

import contextlib
import gc
import json
import sys
from enum import Enum
from pathlib import Path
from typing import List, Optional

import typer

from redline import __version__
from redline.errors import RedlineError
from redline.models import PRECISIONS
from redline.taxonomy import DEFAULT_TAXONOMY, TAXONOMIES

app = typer.Typer(
    name="redline",
    help="Lay bare how an article argues: persuasion techniques, actors, claims.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Help texts are plain text: "[technique,]" is an optional field, not rich markup to eat.
    rich_markup_mode=None,
)


class Fmt(str, Enum):
    json = "json"
    jsonl = "jsonl"
    ptc = "ptc"
    text = "text"
    html = "html"
    csv = "csv"  # one row per technique span (redline.io.exchange)
    brat = "brat"  # a .txt/.ann pair per document in the folder given with -o
    labelstudio = "labelstudio"  # Label Studio tasks with pre-annotations
    conll = "conll"  # a token per line with BIO tags


Precision = Enum("Precision", {p: p for p in PRECISIONS}, type=str)  # redline.models.PRECISIONS
Taxonomy = Enum("Taxonomy", {t: t for t in TAXONOMIES}, type=str)  # redline.taxonomy.TAXONOMIES
_TAXONOMY_HELP = (f"Technique labels: 'ptc' (14 classes) or 'semeval2023' (the 23 of SemEval-2023 Task 3). "
                  f"Default: {DEFAULT_TAXONOMY}.")


class Task(str, Enum):
    si = "si"
    tc = "tc"
    flc = "flc"


@contextlib.contextmanager
def _loading_without_gc():
    """Python's cyclic garbage collector off while a command loads the models, and what
    they loaded frozen after (`gc.freeze`), so that later collections skip it.

    Why: loading builds hundreds of thousands of long-lived objects (torch, spaCy, the
    models) and every collection their allocation triggers walks all of them again:
    about 1 s of CPU in each cold start on 2 cores. Only the command line does this: a
    server that loaded its models this way stayed 11-13% higher in memory after a burst
    of requests (tests/test_server.py::test_memory_returns_to_its_baseline_after_a_burst).
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.freeze()
            gc.enable()


def _fail(msg: str, code: int = 2) -> None:
    typer.echo(f"redline: error: {msg}", err=True)
    raise typer.Exit(code)


def _emit(text: str, out: Optional[Path]) -> None:
    """Write a command's output to OUT, or to stdout."""
    if out is None:
        sys.stdout.write(text)
        return
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        _fail(f"{out}: cannot write ({exc.strerror})")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"redline {__version__}")
        raise typer.Exit()


@app.callback()
def main(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                      help="Print the version and exit."),
         precision: Optional[Precision] = typer.Option(
             None, "--precision", envvar="REDLINE_PRECISION",
             help="How the technique encoder computes. auto: bf16 on CPUs with bf16 instructions, else "
                  "int8 (calibrated, FFN-out layers kept in fp32: dev SI 0.473, fp32 0.471; faster than fp32). "
                  "fp32, bf16, int8: forced.")) -> None:
    """redline: persuasion and propaganda techniques, actors and claims in news articles."""
    if precision is not None:
        import os
        os.environ["REDLINE_PRECISION"] = precision.value  # read where the model loads, for every command


def _components(spec: Optional[str]) -> Optional[tuple[str, ...]]:
    return tuple(c.strip() for c in spec.split(",") if c.strip()) if spec else None


# Formats written one document at a time, flushed, so an interrupted batch keeps every
# finished document; the others (json, html) are whole files, written to a temporary
# file beside the target and renamed into place, so the target is never half-written.
STREAMED_FORMATS = ("jsonl", "ptc", "csv", "text", "brat", "conll")


class _Interrupted(BaseException):
    """SIGINT or SIGTERM arrived during a batch.

    A BaseException, like KeyboardInterrupt, so that a component's `except Exception`
    cannot swallow it and carry on.
    """

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


class _BatchOutput:
    """Where `analyze` puts its documents (see STREAMED_FORMATS)."""

    def __init__(self, out: Optional[Path], fmt: str, with_text: bool = False):
        self.out, self.fmt = out, fmt
        self.streamed = fmt in STREAMED_FORMATS
        self.with_text = with_text  # jsonl records carry their text (what `redline import` writes)
        self.docs: list = []  # whole-file formats only
        self.written = 0
        self._fh = None
        self._tmp: Optional[Path] = None
        self._brat = None  # brat: a folder of .txt/.ann pairs, written per document

    def open(self) -> None:
        """Open the target now, before any work, so an unwritable -o fails at once."""
        import os
        import tempfile

        if self.fmt == "brat":
            from redline.io.exchange import BratWriter

            if self.out is None:
                raise RedlineError("-f brat writes a .txt/.ann pair per document: give the folder with -o FOLDER")
            self._brat = BratWriter(self.out)
            self._brat.open()
            return
        if self.out is None:
            self._fh = sys.stdout
            self._write_header()
            return
        if self.out.is_dir():
            raise RedlineError(f"{self.out}: is a folder; give a file name to -o")
        parent = self.out.parent if str(self.out.parent) else Path(".")
        if not parent.is_dir():
            raise RedlineError(f"{self.out}: cannot write: the folder {parent} does not exist")
        # A target that is not a regular file (/dev/null, a FIFO, /dev/stdout) is written
        # in place: renaming a temporary file onto it would replace the device itself.
        in_place = self.streamed or (self.out.exists() and not self.out.is_file())
        try:
            if in_place:
                self._fh = open(self.out, "w", encoding="utf-8", newline="")
            else:
                fd, tmp = tempfile.mkstemp(dir=parent, prefix=f".{self.out.name}.", suffix=".part")
                self._tmp = Path(tmp)
                self._fh = os.fdopen(fd, "w", encoding="utf-8", newline="")
        except OSError as exc:
            raise RedlineError(f"{self.out}: cannot write ({exc.strerror})") from None
        self._write_header()

    def _write_header(self) -> None:
        """CSV's header line goes first, so even a run that finishes nothing leaves a valid table."""
        if self.fmt == "csv":
            from redline.io.exchange import csv_header

            self._fh.write(csv_header())
            self._fh.flush()

    def add(self, doc) -> None:
        from redline.io import exchange
        from redline.io.formats import render

        if self._brat is not None:
            self._brat.add(doc)
            self.written += 1
            return
        if not self.streamed:
            self.docs.append(doc)
            return
        if self.fmt == "csv":
            text = exchange.to_csv_rows(doc)
        elif self.fmt == "jsonl" and self.with_text:
            text = json.dumps(exchange.labeled_record(doc), ensure_ascii=False) + "\n"
        else:
            text = render([doc], self.fmt)
        if self.fmt == "text" and self.written:
            text = "\n" + text  # the blank line render() puts between documents
        self._fh.write(text)
        self._fh.flush()
        self.written += 1

    def finish(self) -> None:
        """Streamed: close. Whole-file: write every finished document and rename into place."""
        import os

        from redline.io.formats import render

        if self._brat is not None:
            return  # every pair was written as its document was done
        if self.streamed or self._tmp is None:
            if not self.streamed and self.docs:
                self._fh.write(render(self.docs, self.fmt))
                self.written = len(self.docs)
            self._fh.flush()
            if self.out is not None:
                self._fh.close()
            return
        try:
            if self.docs:
                self._fh.write(render(self.docs, self.fmt))
                self._fh.flush()
                os.fsync(self._fh.fileno())
            self._fh.close()
            if self.docs:
                os.replace(self._tmp, self.out)
                self.written = len(self.docs)
            else:
                self._tmp.unlink(missing_ok=True)  # nothing to write: leave any old target alone
        except OSError as exc:
            self._tmp.unlink(missing_ok=True)
            raise RedlineError(f"{self.out}: cannot write ({exc.strerror})") from None


def _parse_meta(pairs: list[str]) -> dict[str, str]:
    """--meta key=value pairs as a dict; a pair without '=' or with an empty key is an error."""
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise RedlineError(f"--meta {pair!r}: write key=value")
        if key.strip() == "path":
            raise RedlineError("--meta path=...: 'path' is where each document came from; choose another key")
        out[key.strip()] = value
    return out


def _language_warning(text: str, lang: Optional[str]) -> Optional[str]:
    """Why the models may not read this text: it is not English (declared or by the look of it)."""
    if lang is None:
        from redline.io.language import not_english_warning
        return not_english_warning(text)
    if lang.lower() not in ("en", "eng", "english"):
        return f"the text is {lang}, and redline's models read English only: its findings will be unreliable"
    return None


def _input_sources(paths: list[str], column_map: list[str]):
    """(the inputs, one Source at a time; how many, or None if unknown).

    Files, folders, URLs and stdin as `list_sources` lists them; a table file
    (corpus.sources.TABLE_SUFFIXES) row by row through the reader `redline corpus ingest`
    uses, read lazily so that a large table is never held whole.
    """
    from redline.corpus.sources import TABLE_SUFFIXES, count_articles, parse_mapping
    from redline.io.inputs import list_sources

    mapping = parse_mapping(column_map)
    if column_map and not any(Path(p).suffix.lower() in TABLE_SUFFIXES for p in paths):
        raise RedlineError("--map reads table columns: give a .jsonl, .csv, .tsv or .parquet file")
    if not paths:
        raise RedlineError("no input: give files, folders, tables, URLs, or - for stdin")
    # Per argument, in order: None for a table (its rows come later, lazily), else its Sources.
    listed = [None if Path(p).suffix.lower() in TABLE_SUFFIXES and not Path(p).is_dir() else list_sources([p])
              for p in paths]
    total: Optional[int] = 0
    for p, got in zip(paths, listed):
        n = count_articles([p]) if got is None else len(got)
        total = None if n is None or total is None else total + n

    def each():
        for p, got in zip(paths, listed):
            yield from _table_sources(p, mapping) if got is None else got

    return each(), total


def _table_sources(path: str, mapping: dict):
    """A table's rows as Sources (text read), each with its id, FILE:LINE path and meta."""
    from redline.corpus.sources import iter_articles
    from redline.io.inputs import Source

    stem = Path(path).stem
    for article in iter_articles([path], mapping):
        where = article.ref.rsplit(":", 1)[-1].removeprefix("row ").strip()
        doc_id = article.id or f"{stem}-{where}"
        if article.error:
            yield Source(doc_id, article.ref, error=article.error)
            continue
        # article_key is the corpus store's deduplication key, not the document's metadata.
        meta = {k: v for k, v in article.meta.items() if k not in ("article_key", "path")}
        yield Source(doc_id, article.ref, article.text, meta=meta)


def _use_technique_model(folder: Optional[Path]) -> None:
    """--model: the technique model every component loads (components/tagger.py reads
    $REDLINE_TECHNIQUE_MODEL; claims and roles read the same model's encoder)."""
    if folder is None:
        return
    import os

    if not (folder / "config.json").is_file():
        raise RedlineError(f"--model {folder}: not a technique model folder (no config.json); "
                           "make one with `redline train --labels FILE --out FOLDER`")
    os.environ["REDLINE_TECHNIQUE_MODEL"] = str(folder)


class _ProgressLines:
    """Progress as plain lines on stderr, at most one every `every_s` seconds and at the
    end: a bar's carriage returns make a mess of a log file."""

    def __init__(self, total: Optional[int], every_s: float = 10.0):  # None: not known (a table not counted)
        import time

        self.total, self.every_s, self._clock = total, every_s, time.monotonic
        self.start = self.last = self._clock()

    def __call__(self, done: int, failed: int) -> None:
        now = self._clock()
        if now - self.last < self.every_s and (self.total is None or done < self.total):
            return
        self.last = now
        rate = done / max(now - self.start, 1e-9)
        if self.total is None:
            typer.echo(f"redline: {done} inputs ({failed} failed), {rate:.2f}/s", err=True)
            return
        eta = (self.total - done) / rate if rate > 0 else 0.0
        typer.echo(f"redline: {done}/{self.total} inputs ({failed} failed), {rate:.2f}/s, "
                   f"about {eta:.0f} s left", err=True)


@app.command()
def analyze(
    paths: List[str] = typer.Argument(..., help="Files (.txt, .html), folders (every *.txt, *.html), URLs, "
                                                   "tables (.jsonl, .csv, .tsv, .parquet: a document per row), "
                                                   "or - for stdin."),
    fmt: Fmt = typer.Option(Fmt.json, "-f", "--format", help="Output format."),
    out: Optional[Path] = typer.Option(None, "-o", "--output", help="Write here instead of stdout."),
    threshold: Optional[float] = typer.Option(None, "--threshold", min=0.0, max=1.0,
                                              help="Minimum span score (the calibrated probability that a span "
                                                   "covers a fragment annotators marked as a technique); higher = "
                                                   "fewer, surer spans. Default: the model's, chosen on PTC dev."),
    components: Optional[str] = typer.Option(None, "--components",
                                             help="Comma-separated pipeline, e.g. 'lexicon' for the fast rules."),
    quiet: bool = typer.Option(False, "-q", "--quiet", help="No progress bar."),
    allow_private: bool = typer.Option(False, "--allow-private",
                                       help="Let URLs reach private and local addresses (off: public ones only)."),
    meta: Optional[List[str]] = typer.Option(None, "--meta", help="key=value added to every document's meta "
                                                                 "(repeat for more), e.g. --meta source=bbc"),
    lang: Optional[str] = typer.Option(None, "--lang",
                                       help="The texts' language, if you know it ('en' skips the check that warns "
                                            "about texts that do not look English)."),
    taxonomy: Optional[Taxonomy] = typer.Option(None, "--taxonomy", help=_TAXONOMY_HELP),
    column_map: Optional[List[str]] = typer.Option(None, "--map", help="COLUMN=FIELD: read a table's COLUMN as "
                                                   "text, id, url, source, date or title (repeat for more), "
                                                   "e.g. --map body=text"),
    model: Optional[Path] = typer.Option(None, "--model", envvar="REDLINE_TECHNIQUE_MODEL",
                                         help="A technique model folder, e.g. one made by `redline train --labels` "
                                              "(default: the shipped model)."),
) -> None:
    """Find persuasion techniques (and actors, claims) in articles.

    A URL is fetched with the server's safe fetcher and an HTML file reduced to its
    article text (trafilatura); the title and URL go into the document's meta.

    A .jsonl/.ndjson, .csv/.tsv or .parquet file is a table, read as `redline corpus
    ingest` reads one: a document per row, its text in a `text` column (or `html`), its
    id from `id`, and url, source, date, title and any other columns in its meta; its
    path is FILE:LINE. A row without text is reported and the other rows go on.

    jsonl, ptc, csv, conll and text output (and brat's file pairs) is written as each
    document is done; json, html and labelstudio are renamed into place at the end. SIGINT/SIGTERM stop the batch: every finished document
    is kept (a valid file), a summary is printed and the exit status is 130/143.
    """
    import signal

    from redline.io.inputs import list_sources, read_source
    from redline.pipeline import analyze as run_analysis

    try:
        _use_technique_model(model)
        extra_meta = _parse_meta(meta or [])
        sources, total = _input_sources(paths, column_map or [])
        output = _BatchOutput(out, fmt.value)
        output.open()
    except RedlineError as exc:
        _fail(str(exc))

    # Signals become _Interrupted, but never in the middle of writing a document.
    state = {"signal": None, "writing": False}

    def on_signal(signum, frame):
        state["signal"] = signum
        if not state["writing"]:
            raise _Interrupted(signum)

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    failures = done = 0
    many = total is None or total > 1
    show_bar = not quiet and many and sys.stderr.isatty()
    # Not on a terminal (a log file, a pipe, a batch job): plain progress lines instead of a bar.
    log_progress = _ProgressLines(total) if not quiet and many and not show_bar else None
    iterator = sources
    if show_bar:
        from tqdm import tqdm
        iterator = tqdm(sources, desc="analyzing", unit="article", total=total)
    try:
        for src in iterator:
            src = read_source(src, allow_private)
            if src.error:
                failures += 1
                typer.echo(f"redline: error: {src.error}", err=True)
            else:
                warning = _language_warning(src.text, lang)
                if warning:
                    typer.echo(f"redline: warning: {src.path}: {warning}", err=True)
                try:
                    # the first analysis that gets through loads the models: without the collector
                    models_loaded = done > failures
                    with contextlib.nullcontext() if models_loaded else _loading_without_gc():
                        doc = run_analysis(src.text, id=src.id, meta={"path": src.path, **src.meta, **extra_meta},
                                           threshold=threshold, components=_components(components),
                                           taxonomy=taxonomy.value if taxonomy else None)
                except RedlineError as exc:
                    failures += 1
                    typer.echo(f"redline: error: {src.path}: {exc}", err=True)
                else:
                    state["writing"] = True
                    try:
                        output.add(doc)
                    except BrokenPipeError:
                        raise _Interrupted(signal.SIGPIPE) from None
                    finally:
                        state["writing"] = False
            done += 1
            if log_progress:
                log_progress(done, failures)
            if state["signal"] is not None:
                raise _Interrupted(state["signal"])
    except _Interrupted as exc:
        state["signal"] = exc.signum
    finally:
        for sig in previous:  # finishing the output is not interrupted
            signal.signal(sig, signal.SIG_IGN)
    try:
        output.finish()
    except RedlineError as exc:
        _fail(str(exc))
    except BrokenPipeError:
        pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    where = str(out) if out is not None else "stdout"
    if state["signal"] is not None:
        name = signal.Signals(state["signal"]).name
        typer.echo(f"redline: interrupted by {name} after {done} of {total if total is not None else '?'} inputs; "
                   f"{output.written} documents written to {where}, {failures} failed", err=True)
        raise typer.Exit(128 + int(state["signal"]))
    if failures:
        typer.echo(f"redline: {failures} of {done} inputs failed", err=True)
        raise typer.Exit(1)


@app.command()
def classify(
    spans: Path = typer.Option(..., "--spans", help="PTC template lines: article_id, [technique,] start, end."),
    articles: Path = typer.Argument(..., help="Folder with article<ID>.txt files."),
    out: Optional[Path] = typer.Option(None, "-o", "--output"),
    taxonomy: Optional[Taxonomy] = typer.Option(None, "--taxonomy", help=_TAXONOMY_HELP),
) -> None:
    """The TC task: label given spans with a technique (PTC lines out, same order)."""
    from redline.components.tagger import TechniqueTagger
    from redline.io.inputs import read_path
    from redline.io.ptc import format_label, read_labels

    try:
        labels = read_labels(spans)
        if not articles.is_dir():
            raise RedlineError(f"{articles}: not a folder of articles")
        tagger = TechniqueTagger(taxonomy=taxonomy.value if taxonomy else None)
        by_article: dict[str, list[int]] = {}
        for i, lab in enumerate(labels):
            by_article.setdefault(lab.article_id, []).append(i)
        result: list[str] = [""] * len(labels)
        for aid, idx in by_article.items():
            path = articles / f"article{aid}.txt"
            if not path.exists():
                path = articles / f"{aid}.txt"
            text = read_path(path)
            for i in idx:
                if labels[i].end > len(text):
                    raise RedlineError(f"span {labels[i].start}-{labels[i].end} is beyond the end of {path}")
            preds = tagger.classify(text, [(labels[i].start, labels[i].end) for i in idx])
            for i, (tech, _) in zip(idx, preds):
                result[i] = format_label(aid, labels[i].start, labels[i].end, tech)
    except RedlineError as exc:
        _fail(str(exc))
    text = "".join(line + "\n" for line in result)
    _emit(text, out)


@app.command()
def evaluate(
    gold: Path = typer.Argument(..., help="Gold labels: a PTC label file or folder, a brat folder, a Label "
                                          "Studio export (.json) or redline JSONL (.jsonl)."),
    pred: Path = typer.Argument(..., help="Predicted labels, in any of the same formats."),
    task: Task = typer.Option(Task.si, "--task", help="si, tc or flc."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
    model: Optional[Path] = typer.Option(None, "--model", help="Also accept the technique names of this model "
                                         "folder (one fine-tuned with `redline train --labels`)."),
) -> None:
    """Score predictions with the official SemEval-2020 Task 11 semantics."""
    from redline.io.exchange import read_labels_any
    from redline.metrics import SCORERS
    from redline.taxonomy import PTC_TECHNIQUES

    try:
        # Strict: a technique outside the 14 PTC names (and --model's) is an error with
        # file:line, not a label that silently matches nothing.
        names = list(PTC_TECHNIQUES)
        if model is not None:
            try:
                names += json.loads((model / "config.json").read_text(encoding="utf-8")).get("techniques", [])
            except (OSError, ValueError, AttributeError) as exc:
                raise RedlineError(f"--model {model}: not a readable technique model folder ({exc})") from None
        try:
            g, p = read_labels_any(gold, names), read_labels_any(pred, names)
        except RedlineError as exc:
            if model is None and "unknown technique" in str(exc):
                raise RedlineError(f"{exc} (labels of your own: add --model FOLDER, the model that knows them)") \
                    from None
            raise
        if task is not Task.si and any(not lab.technique for lab in g):
            raise RedlineError(f"{gold}: task {task.value} needs technique labels (4 columns)")
        if task is not Task.si and any(not lab.technique for lab in p):
            raise RedlineError(f"{pred}: task {task.value} needs technique labels (4 columns)")
    except RedlineError as exc:
        _fail(str(exc))
    score = SCORERS[task.value](g, p)
    if as_json:
        typer.echo(json.dumps(score.as_dict(), indent=2))
        return
    typer.echo(f"task {task.value}: P={score.precision:.4f} R={score.recall:.4f} F1={score.f1:.4f} "
               f"(pred {score.n_pred}, gold {score.n_gold})")
    for tech, s in score.per_technique.items():
        typer.echo(f"  {tech:<40} P={s['precision']:.4f} R={s['recall']:.4f} F1={s['f1']:.4f} "
                   f"(pred {s['n_pred']}, gold {s['n_gold']})")


@app.command("import")
def import_annotations(
    sources: List[Path] = typer.Argument(..., help="brat folders or .ann files, Label Studio JSON exports, "
                                                   "redline JSONL files."),
    fmt: Fmt = typer.Option(Fmt.jsonl, "-f", "--format", help="Output format (jsonl records carry their text)."),
    out: Optional[Path] = typer.Option(None, "-o", "--output", help="Write here instead of stdout (brat: a folder)."),
) -> None:
    """Read annotations back (brat, Label Studio, redline JSONL) as redline documents.

    Each document's spans are the annotations (a Label Studio task: its latest submitted
    annotation, else its predictions), checked against the text. Written one document at a
    time; a source that cannot be read is reported and the others still go through.
    """
    from redline.io.exchange import read_documents

    try:
        output = _BatchOutput(out, fmt.value, with_text=True)
        output.open()
    except RedlineError as exc:
        _fail(str(exc))
    failures = 0

    def report(exc: RedlineError) -> None:
        nonlocal failures
        failures += 1
        typer.echo(f"redline: error: {exc}", err=True)

    for source in sources:
        try:
            for doc in read_documents(source, on_error=report):  # a bad document: reported, skipped
                output.add(doc)
        except RedlineError as exc:  # the source as a whole: missing, not JSON, of no known format
            report(exc)
    try:
        output.finish()
    except RedlineError as exc:
        _fail(str(exc))
    typer.echo(f"redline: {output.written} documents imported" + (f", {failures} failed" if failures else ""),
               err=True)
    if failures:
        raise typer.Exit(1)


@app.command()
def train(
    data: Path = typer.Option(Path("../shared/data"), "--data", help="The shared data folder."),
    out: Optional[Path] = typer.Option(None, "--out", help="Model folder to write (default, PTC training: "
                                       "redline/models/technique; required with --labels)."),
    labels: Optional[Path] = typer.Option(None, "--labels", help="Fine-tune on your own labels instead of "
                                          "training on PTC: redline JSONL (.jsonl), a brat folder or a Label "
                                          "Studio export (.json). New technique names are added to the model."),
    base: Optional[Path] = typer.Option(None, "--base", help="With --labels: the model to fine-tune (default: "
                                        "$REDLINE_TECHNIQUE_MODEL, else the shipped one)."),
    heldout: float = typer.Option(0.2, "--heldout", min=0.0, max=0.9,
                                  help="With --labels: the fraction of documents held out and scored for the "
                                       "model card (when there are enough; 0: train on all)."),
    name: Optional[str] = typer.Option(None, "--name", help="With --labels: the model's name in outputs "
                                       "(default: the --out folder's name)."),
    epochs: Optional[int] = typer.Option(None, "--epochs", min=1, help="Default 3 (PTC) or 8 (--labels)."),
    seed: int = typer.Option(13, "--seed"),
    encoder: str = typer.Option("mpnet8", "--encoder", help="Base encoder: mpnet8, mpnet6, mpnet4 (the first "
                                "8, 6 or 4 layers of all-mpnet-base-v2) or minilm (v1)."),
    stacker: bool = typer.Option(False, "--stacker/--no-stacker",
                                 help="Also learn the TC stacker from two half-data fold networks (doubles the time)."),
    members: int = typer.Option(1, "--members", help="Ensemble size: networks trained with seeds seed, seed+1, ..."),
    limit_articles: int = typer.Option(0, "--limit-articles", help="Train on the first N articles (smoke runs)."),
    limit_dev: int = typer.Option(0, "--limit-dev", help="Tune on the first N dev articles (smoke runs)."),
    init_from: Optional[Path] = typer.Option(None, "--init-from", help="Start from this trained model folder's "
                                             "weights: its first layers and its heads (distillation)."),
    teacher: Optional[Path] = typer.Option(None, "--teacher", help="Also learn this trained model's token "
                                           "probabilities (distillation)."),
    kd_weight: float = typer.Option(1.0, "--kd-weight", help="Weight of the teacher's term in the loss."),
    log: Optional[Path] = typer.Option(None, "--log", help="Log file (default OUT/train.log)."),
) -> None:
    """Train the technique model on PTC train; tune and calibrate on PTC dev.

    With --labels FILE --out FOLDER: fine-tune the technique model on your own annotations
    instead (a few epochs of the top encoder layer and the heads; new technique names
    allowed) and write a model folder with a MODEL_CARD.md; use it with
    `redline analyze --model FOLDER`.
    """
    if labels is not None:
        ptc_only = {"--stacker": stacker, "--members": members != 1, "--limit-articles": limit_articles,
                    "--limit-dev": limit_dev, "--init-from": init_from, "--teacher": teacher,
                    "--encoder": encoder != "mpnet8"}
        given = [opt for opt, value in ptc_only.items() if value]
        if given:
            _fail(f"{', '.join(given)}: PTC training options, not for fine-tuning with --labels")
        if out is None:
            _fail("--labels needs --out FOLDER: where to write the fine-tuned model")
        _finetune(labels, out, base, heldout, name, epochs or 8, seed, log)
        return
    out = out or Path("redline/models/technique")
    epochs = epochs or 3
    from redline.training.technique import TrainConfig, setup_logging, train as run_train

    if not (data / "ptc" / "train-articles").is_dir():
        _fail(f"{data}/ptc/train-articles not found: point --data at the shared data folder")
    setup_logging(log or out / "train.log")
    from redline.training.technique import ENCODERS

    if encoder not in ENCODERS:
        _fail(f"unknown --encoder {encoder!r}; choose one of {', '.join(ENCODERS)}")
    for folder in (init_from, teacher):
        if folder is not None and not (folder / "config.json").exists():
            _fail(f"{folder}: not a trained technique model folder (no config.json)")
    report = run_train(TrainConfig(data=data, out=out, epochs=epochs, seed=seed, encoder=encoder, stacker=stacker,
                                   limit_articles=limit_articles, limit_dev=limit_dev, init_from=init_from,
                                   teacher=teacher, kd_weight=kd_weight), members=members)
    typer.echo(json.dumps({k: report[k] for k in report if not k.startswith("dev_")}, indent=2))
    typer.echo(f"dev SI F1 {report['dev_si']['f1']:.4f}  TC micro-F1 {report['dev_tc']['f1']:.4f}  "
               f"FLC F1 {report['dev_flc']['f1']:.4f}")


def _finetune(labels: Path, out: Path, base: Optional[Path], heldout: float, name: Optional[str], epochs: int,
              seed: int, log: Optional[Path]) -> None:
    """`train --labels`: training/finetune.py, with its figures on stdout."""
    from redline.training.finetune import FinetuneConfig, check_out, finetune, resolve_base
    from redline.training.technique import setup_logging

    if base is not None and not (base / "config.json").is_file():
        _fail(f"--base {base}: not a technique model folder (no config.json)")
    try:
        check_out(out, resolve_base(base))  # before the log file goes into it
        setup_logging(log or out / "train.log")
        report = finetune(FinetuneConfig(labels=labels, out=out, base=base, name=name, epochs=epochs,
                                         heldout=heldout, seed=seed))
    except RedlineError as exc:
        _fail(str(exc))
    summary = {k: report[k] for k in ("out", "name", "documents", "train_documents", "heldout_documents",
                                      "new_techniques", "counts", "epochs", "seconds")}
    typer.echo(json.dumps(summary, indent=2))
    scores = report["heldout_scores"]
    if scores:
        typer.echo(f"held out ({report['heldout_documents']} documents): SI F1 {scores['si']['f1']:.4f}  "
                   f"TC micro-F1 {scores['tc']['f1']:.4f}  FLC F1 {scores['flc']['f1']:.4f}")
    else:
        typer.echo(f"held-out scores not measured: {report['heldout_note']}")
    typer.echo(f"model card: {out / 'MODEL_CARD.md'}; use it with `redline analyze --model {out}`")


@app.command()
def frame(
    mentions: Path = typer.Option(..., "--mentions", help="SemEval-2025 Task 10 mention file: article_id, mention, start, end (end inclusive)."),
    documents: Path = typer.Argument(..., help="Folder with the articles the mentions point into."),
    out: Optional[Path] = typer.Option(None, "-o", "--output"),
) -> None:
    """Entity framing: main and fine roles for given mentions (SemEval-2025 Task 10 format)."""
    from redline.components.roles import frame_mentions

    try:
        if not documents.is_dir():
            raise RedlineError(f"{documents}: not a folder of articles")
        lines = frame_mentions(mentions, documents)
    except (RedlineError, OSError, ValueError) as exc:
        _fail(str(exc))
    text = "".join(line + "\n" for line in lines)
    _emit(text, out)


@app.command()
def claims(
    articles: Optional[list[str]] = typer.Argument(None, help="Article files or folders (every *.txt), or - for stdin."),
    score_lines: Optional[Path] = typer.Option(None, "--score-lines",
                                               help="CLEF CheckThat! lines: line, speaker, text[, label]."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per article (id, claims) instead of text."),
) -> None:
    """Check-worthy claims of articles, with who vouches for each and its hedges; or, with
    --score-lines, `line<TAB>score` for each line of a CLEF file, in order."""
    if score_lines is not None:
        if articles:
            _fail("give articles or --score-lines, not both")
        from redline.components.claims import score_lines as run_scoring

        try:
            scored = run_scoring(score_lines)
        except (RedlineError, OSError, ValueError) as exc:
            _fail(str(exc))
        sys.stdout.write("".join(f"{line}\t{score:.6f}\n" for line, score in scored))
        return
    if not articles:
        _fail("give article files or folders (or - for stdin), or --score-lines FILE")
    import json

    from redline.io.formats import claim_lines
    from redline.io.inputs import list_sources, read_source
    from redline.pipeline import analyze as run_analysis

    failures = 0
    try:
        sources = list_sources(articles)
    except RedlineError as exc:
        _fail(str(exc))
    for src in sources:
        src = read_source(src)
        try:
            if src.error:
                raise RedlineError(src.error)
            # "actors" first so that sources resolve to actors; no technique decoding needed.
            doc = run_analysis(src.text, id=src.id, meta={"path": src.path}, components=("actors", "claims"))
        except RedlineError as exc:
            failures += 1
            typer.echo(f"redline: error: {exc}", err=True)
            continue
        if as_json:
            out = {"id": doc.id, "path": src.path, "claims": [c.to_json() for c in doc.claims],
                   "actors": {a.id: a.name for a in doc.actors}}
            sys.stdout.write(json.dumps(out, ensure_ascii=False) + "\n")
        else:
            sys.stdout.write(f"== {doc.id}: {len(doc.claims)} claims\n" + "\n".join(claim_lines(doc)) + "\n\n")
        sys.stdout.flush()
    if failures:
        raise typer.Exit(1)


@app.command("train-roles", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def train_roles(ctx: typer.Context) -> None:
    """Train the entity-framing (roles) heads; options as `python -m redline.training.roles --help`."""
    from redline.training.roles import main as run

    raise typer.Exit(run(list(ctx.args)) or 0)


@app.command("train-claims", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def train_claims(ctx: typer.Context) -> None:
    """Train the check-worthiness head; options as `python -m redline.training.claims --help`."""
    from redline.training.claims import main as run

    raise typer.Exit(run(list(ctx.args)) or 0)


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(8000, "--port", min=1, max=65535),
    allow_private: bool = typer.Option(False, "--allow-private",
                                       help="Let URL fetches reach loopback and private addresses (trusted networks only)."),
    components: Optional[str] = typer.Option(None, "--components", help="Comma-separated pipeline."),
    store: Optional[Path] = typer.Option(None, "--store", help="A corpus store (DuckDB) to serve read-only under "
                                                               "/corpus: dashboard, search, article reports."),
) -> None:
    """Serve the web page and the JSON API (FastAPI)."""
    from redline.server import run as run_server

    if store is not None and not store.is_file():
        _fail(f"{store}: no such corpus store (make one with `redline corpus ingest`)")
    run_server(host=host, port=port, allow_private=allow_private, components=_components(components), store=store)


@app.command()
def techniques(as_json: bool = typer.Option(False, "--json"),
               which: Optional[Taxonomy] = typer.Option(None, "--taxonomy", help=_TAXONOMY_HELP)) -> None:
    """List the technique taxonomy."""
    from redline import taxonomy

    if as_json:
        typer.echo(json.dumps(taxonomy.as_json(), indent=2, ensure_ascii=False))
        return
    for label in taxonomy.labels_of(which.value if which else DEFAULT_TAXONOMY):
        info = taxonomy.technique_info(label)
        typer.echo(f"{label:<40} {info.family:<22} {info.definition}")


@app.command()
def info(
    as_json: bool = typer.Option(False, "--json", help="The full details as JSON."),
    components: Optional[str] = typer.Option(None, "--components", help="Comma-separated pipeline (default: all)."),
) -> None:
    """The models behind each component: names, settings, validation figures (what a
    JSONL record's short `model` reference stands for)."""
    from redline import __version__
    from redline.doc import Document
    from redline.io.formats import SCHEMA_VERSION
    from redline.pipeline import DEFAULT_COMPONENTS, Pipeline

    try:
        pipe = Pipeline.from_names(_components(components) or DEFAULT_COMPONENTS)
        # Components describe their models as they run: run them once on a line of text.
        model = pipe(Document(id="info", text="redline reads this sentence to describe its models.")).model
    except RedlineError as exc:
        _fail(str(exc))
    details = {"redline": __version__, "schema_version": SCHEMA_VERSION, "model": model}
    if as_json:
        typer.echo(json.dumps(details, indent=2, ensure_ascii=False))
        return
    typer.echo(f"redline {__version__}; components: {', '.join(model.get('components', []))}")
    for name, part in model.items():
        if isinstance(part, dict):
            typer.echo(f"  {name}: {part.get('name', '')}")


from redline.corpus.cli import corpus_app  # noqa: E402  (its commands import their work lazily)

app.add_typer(corpus_app, name="corpus")


def run() -> None:  # console-script entry point
    try:
        app()
    except RedlineError as exc:
        typer.echo(f"redline: error: {exc}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:  # a bug, not bad input: say so briefly, full trace on request
        import os
        if os.environ.get("REDLINE_DEBUG"):
            raise
        typer.echo(f"redline: internal error: {type(exc).__name__}: {exc} "
                   "(set REDLINE_DEBUG=1 for the traceback)", err=True)
        sys.exit(3)


if __name__ == "__main__":
    run()
