"""`redline corpus`: ingest articles into a DuckDB store, export it, sum it up.

Each command is its own function here; `redline/cli.py` mounts this sub-app. Imports
stay inside the commands so that `redline --help` does not load DuckDB or the models.
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import List, Optional

import typer

corpus_app = typer.Typer(
    name="corpus",
    help="Many articles in one DuckDB store: ingest, export, stats, report.",
    no_args_is_help=True,
    rich_markup_mode=None,
)


def _fail(msg: str, code: int = 2) -> None:
    typer.echo(f"redline: error: {msg}", err=True)
    raise typer.Exit(code)


class Engine(str, Enum):
    local = "local"
    ray = "ray"


class ExportFormat(str, Enum):
    parquet = "parquet"
    csv = "csv"


@corpus_app.command()
def ingest(
    store: Path = typer.Argument(..., help="The DuckDB store file (made if absent)."),
    sources: List[str] = typer.Argument(..., help="Folders (*.txt, *.html), .jsonl/.csv/.tsv/.parquet files, "
                                                   "files of URLs (.urls), URLs, or redline's own JSONL output."),
    components: Optional[str] = typer.Option(None, "--components",
                                             help="Comma-separated pipeline, as for analyze ('lexicon' for the rules)."),
    threshold: Optional[float] = typer.Option(None, "--threshold", min=0.0, max=1.0,
                                              help="Token probability needed to start a span, as for analyze."),
    precision: Optional[str] = typer.Option(None, "--precision",
                                            help="auto, fp32, bf16 or int8, as for analyze (default: auto)."),
    map_: Optional[List[str]] = typer.Option(None, "--map", help="col=field: read table column COL as FIELD "
                                                                 "(text, html, id, url, source, date, title); repeat."),
    batch_size: int = typer.Option(16, "--batch-size", min=1, help="Articles per committed transaction."),
    engine: Engine = typer.Option(Engine.local, "--engine", help="local (default) or ray (pip install 'redline[ray]')."),
    address: Optional[str] = typer.Option(None, "--address", help="Ray cluster: auto or HOST:PORT "
                                                                   "(default: start a local one)."),
    workers: int = typer.Option(2, "--workers", min=1, help="Ray actor workers (each loads the models once)."),
    threads: Optional[int] = typer.Option(None, "--threads", min=1, help="Torch threads per worker "
                                                                         "(default: torch's; 1 per Ray worker)."),
    allow_private: bool = typer.Option(False, "--allow-private",
                                       help="Let URLs reach private and local addresses (off: public ones only)."),
    per_host_s: float = typer.Option(1.0, "--per-host-delay", min=0.0,
                                     help="Seconds between two fetches from the same host."),
    quiet: bool = typer.Option(False, "-q", "--quiet", help="No progress."),
    log_every: float = typer.Option(10.0, "--log-every", min=0.0,
                                    help="Seconds between progress lines when stderr is not a terminal."),
    lock_wait: float = typer.Option(60.0, "--lock-wait", min=0.0,
                                    help="Seconds to wait while another process (another ingest, a "
                                         "'redline serve --store' request) holds the store."),
) -> None:
    """Analyse articles into a corpus store, resumably.

    Ids are content hashes, so the same article twice is stored once and re-running an
    interrupted command finishes the job; a known id or URL with another text is stored
    as that article's next version. Articles that cannot be read or analysed go to the
    store's errors table and the run goes on; the exit status is 1 if any failed.
    """
    from redline.corpus.ingest import IngestOptions, run_ingest
    from redline.errors import RedlineError

    options = IngestOptions(components=components, threshold=threshold, precision=precision,
                            mapping=list(map_ or []), batch_size=batch_size, engine=engine.value,
                            address=address, workers=workers, threads=threads, allow_private=allow_private,
                            per_host_s=per_host_s, quiet=quiet, progress_every_s=log_every,
                            lock_wait_s=lock_wait)
    try:
        code = run_ingest(store, list(sources), options)
    except RedlineError as exc:
        _fail(str(exc))
    raise typer.Exit(code)


@corpus_app.command()
def export(
    store: Path = typer.Argument(..., help="The DuckDB store file."),
    out: Path = typer.Option(..., "-o", "--output", help="Folder to write one file per table into."),
    fmt: ExportFormat = typer.Option(ExportFormat.parquet, "--format", help="parquet or csv."),
    runs: bool = typer.Option(False, "--runs", help="Also write the runs and errors tables, and each "
                                                     "document's run_id (timestamps: not reproducible)."),
) -> None:
    """Write the store's tables as flat files with stable ids, in a stable order.

    documents, spans, actors, mentions, relations, claims and targets, joined on doc_id
    (and actor_id, span_id); no run timestamps unless --runs, so that the same corpus
    exports to the same bytes.
    """
    from redline.corpus.export import export_store
    from redline.errors import RedlineError

    try:
        written = export_store(store, out, fmt.value, runs=runs)
    except RedlineError as exc:
        _fail(str(exc))
    for path, n in written:
        typer.echo(f"{path}: {n} rows", err=True)


class StatsFormat(str, Enum):
    table = "table"
    csv = "csv"
    json = "json"


def _stats_inputs(source: Optional[List[str]], since: Optional[str], until: Optional[str],
                  technique: Optional[List[str]]):
    """The filters of `stats` and `report`, checked (an InputError names the bad value)."""
    from redline.corpus.stats import Filters, parse_date, parse_until, resolve_techniques

    sources = tuple(s.strip() for value in (source or []) for s in value.split(",") if s.strip())
    return Filters(sources=sources, since=parse_date(since, "--since"), until=parse_until(until),
                   techniques=resolve_techniques(technique or []))


@corpus_app.command()
def stats(
    store: Path = typer.Argument(..., help="The DuckDB store file."),
    by: str = typer.Option("source", "--by", help="Comma-separated grouping: source, month, year, a documents "
                                                  "column or a metadata key (e.g. source,month); '' for one group."),
    source: Optional[List[str]] = typer.Option(None, "--source", help="Only these sources (repeat or comma-separate)."),
    since: Optional[str] = typer.Option(None, "--since", help="From this date (YYYY-MM-DD, YYYY-MM or YYYY)."),
    until: Optional[str] = typer.Option(None, "--until", help="Up to this date, inclusive (YYYY-MM: its last day)."),
    technique: Optional[List[str]] = typer.Option(None, "--technique",
                                                  help="Only this technique (label, name or family; repeat)."),
    fmt: StatsFormat = typer.Option(StatsFormat.table, "-f", "--format", help="table, csv or json."),
    min_articles: int = typer.Option(5, "--min-articles", min=1, help="Groups with fewer articles are marked small."),
    resamples: int = typer.Option(1000, "--resamples", min=1, help="Bootstrap resamples per group."),
    seed: int = typer.Option(0, "--seed", help="Seed of the bootstrap (same seed, same intervals)."),
    top: int = typer.Option(10, "--top", min=1, help="Actors listed per group."),
    out: Optional[Path] = typer.Option(None, "-o", "--output", help="Write here instead of stdout."),
) -> None:
    """Per group of articles: techniques per 1,000 words, share of articles using each
    technique and family, text covered, top actors and their portrayal, most-attacked
    actors, claims on the author's word alone; every rate with a 95% interval from an
    article-level bootstrap. JSON gives each rate as {"value", "ci_low", "ci_high"}.
    """
    import json

    from redline.corpus import stats as corpus_stats
    from redline.corpus.store import Store, note_on_stderr
    from redline.errors import RedlineError

    try:
        filters = _stats_inputs(source, since, until, technique)
        settings = corpus_stats.Settings(resamples=resamples, seed=seed, min_articles=min_articles, top_actors=top)
        if not store.is_file():
            raise RedlineError(f"{store}: no such store")
        with Store(store, read_only=True, on_wait=note_on_stderr) as opened:
            result = corpus_stats.compute(opened.connect(), by.split(","), filters, settings)
    except RedlineError as exc:
        _fail(str(exc))
    if fmt is StatsFormat.json:
        text = json.dumps(result, indent=1, ensure_ascii=False) + "\n"
    elif fmt is StatsFormat.csv:
        text = corpus_stats.to_csv(result)
    else:
        text = corpus_stats.to_table(result)
    if out is None:
        typer.echo(text, nl=False)
        return
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        _fail(f"{out}: cannot write ({exc.strerror})")


@corpus_app.command()
def report(
    store: Path = typer.Argument(..., help="The DuckDB store file."),
    out: Path = typer.Option(..., "-o", "--output", help="The dashboard's HTML file."),
    source: Optional[List[str]] = typer.Option(None, "--source", help="Only these sources (repeat or comma-separate)."),
    since: Optional[str] = typer.Option(None, "--since", help="From this date (YYYY-MM-DD, YYYY-MM or YYYY)."),
    until: Optional[str] = typer.Option(None, "--until", help="Up to this date, inclusive."),
    technique: Optional[List[str]] = typer.Option(None, "--technique", help="Only this technique (label, name or family)."),
    article_reports: bool = typer.Option(True, "--article-reports/--no-article-reports",
                                         help="Write each article's report into OUT-articles/ beside the dashboard."),
    min_articles: int = typer.Option(5, "--min-articles", min=1, help="Groups with fewer articles are marked small."),
    resamples: int = typer.Option(1000, "--resamples", min=1, help="Bootstrap resamples per group."),
    seed: int = typer.Option(0, "--seed", help="Seed of the bootstrap."),
    quiet: bool = typer.Option(False, "-q", "--quiet", help="No progress."),
) -> None:
    """Write the corpus dashboard: one self-contained HTML page (no network fetch) with
    technique rates per source and their intervals, monthly series per technique and
    family, an actor-by-source portrayal heatmap and the most-attacked actors; filters by
    source, date and technique; every figure leads to its articles, each to its report.
    """
    import sys

    from redline.corpus import stats as corpus_stats
    from redline.corpus.dashboard import write_dashboard
    from redline.errors import RedlineError

    def progress(done: int, total: int) -> None:
        if not quiet and (done == total or done % 100 == 0):
            typer.echo(f"redline: {done}/{total} article reports", err=True)

    try:
        filters = _stats_inputs(source, since, until, technique)
        settings = corpus_stats.Settings(resamples=resamples, seed=seed, min_articles=min_articles)
        if not store.is_file():
            raise RedlineError(f"{store}: no such store")
        folder, written = write_dashboard(store, out, filters, settings, article_reports=article_reports,
                                          on_report=progress if sys.stderr else None)
    except RedlineError as exc:
        _fail(str(exc))
    typer.echo(f"{out}" + (f" and {written} article reports in {folder}/" if article_reports else ""), err=True)
