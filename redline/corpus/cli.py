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
                            per_host_s=per_host_s, quiet=quiet)
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
