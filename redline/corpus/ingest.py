"""`redline corpus ingest`: articles from any source, through the pipeline, into the store.

The run, in order: read the sources one article at a time (`redline.corpus.sources`);
skip every text the store already holds (ids are content hashes, so re-running a
command, or running it after a kill, redoes nothing that was stored); analyse the rest
with the engine (`redline.corpus.engines`); write the results in batches of
``batch_size`` articles, each batch one transaction with the errors met since the last.

Why a kill at any moment loses nothing: a batch is in the store whole or not at all
(DuckDB's write-ahead log replays committed transactions when the file is next opened),
and whatever was not committed is simply not "known" on the next run, so it is analysed
again. The rows themselves do not depend on the run (no timestamps, content ids,
versions given by the order of the sources), so the resumed store exports the same
bytes as an uninterrupted one.
"""

from __future__ import annotations

import signal
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from redline.corpus.engines import LocalEngine, Outcome, PipelineSettings, RayEngine
from redline.corpus.sources import Article, PoliteFetcher, count_articles, iter_articles, parse_mapping
from redline.corpus.store import Store, doc_id_for
from redline.errors import InputError


@dataclass
class IngestOptions:
    components: str | None = None  # "lexicon" or "tagger,actors": as `redline analyze --components`
    threshold: float | None = None
    precision: str | None = None
    mapping: list[str] = field(default_factory=list)  # --map col=field
    batch_size: int = 16
    engine: str = "local"
    address: str | None = None
    workers: int = 2
    threads: int | None = None
    allow_private: bool = False
    per_host_s: float = 1.0
    quiet: bool = False
    progress_every_s: float = 10.0
    # Seconds to wait for a store another process holds (a server's request: a moment;
    # another ingest: until it ends, so the wait gives up and names it).
    lock_wait_s: float = 60.0


@dataclass
class Tally:
    """What the run did, for the progress lines and the summary."""

    total: int | None = None
    stored: int = 0
    skipped: int = 0  # already in the store
    failed: int = 0
    store_s: float = 0.0  # time spent writing to the store (the cost of the store over analyze)
    started: float = field(default_factory=time.monotonic)

    @property
    def done(self) -> int:
        return self.stored + self.skipped + self.failed

    def line(self) -> str:
        elapsed = max(time.monotonic() - self.started, 1e-9)
        rate = self.done / elapsed
        of = f"/{self.total}" if self.total is not None else ""
        eta = ""
        if self.total is not None and rate > 0 and self.done < self.total:
            eta = f", about {(self.total - self.done) / rate:.0f} s left"
        return (f"{self.done}{of} articles ({self.stored} stored, {self.skipped} already there, "
                f"{self.failed} failed), {rate:.2f}/s{eta}")


class _Stopped(BaseException):
    """SIGTERM (or SIGINT) during an ingest: a BaseException so no `except Exception` eats it."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


class _Progress:
    """A tqdm bar on a terminal; otherwise a plain line every `every_s` seconds."""

    def __init__(self, tally: Tally, quiet: bool, every_s: float):
        self.tally, self.every_s = tally, every_s
        self.bar = None
        self.lines = not quiet and not sys.stderr.isatty()
        self.last = time.monotonic()
        if not quiet and sys.stderr.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=tally.total, desc="ingesting", unit="article", file=sys.stderr)

    def update(self) -> None:
        if self.bar is not None:
            self.bar.n = self.tally.done
            self.bar.set_postfix(stored=self.tally.stored, failed=self.tally.failed, refresh=False)
            self.bar.refresh()
        elif self.lines and time.monotonic() - self.last >= self.every_s:
            self.last = time.monotonic()
            print(f"redline: ingest: {self.tally.line()}", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _say(message: str) -> None:
    print(f"redline: {message}", file=sys.stderr, flush=True)


def make_engine(options: IngestOptions, settings: PipelineSettings):
    if options.engine == "ray":
        return RayEngine(settings, workers=options.workers, address=options.address,
                         batch_size=max(1, min(options.batch_size, 8)))
    if options.engine != "local":
        raise InputError(f"--engine {options.engine!r}: choose local or ray")
    return LocalEngine(settings)


def _check_options(options: IngestOptions) -> PipelineSettings:
    from redline.models import PRECISIONS

    if options.precision is not None and options.precision not in PRECISIONS:
        raise InputError(f"--precision {options.precision!r}: choose one of {', '.join(PRECISIONS)}")
    components = tuple(c.strip() for c in options.components.split(",") if c.strip()) if options.components else None
    if components:
        from redline.registry import REGISTRY, import_builtin_components

        import_builtin_components()
        unknown = [c for c in components if c not in REGISTRY]
        if unknown:
            raise InputError(f"--components: unknown {', '.join(unknown)}; known: {', '.join(sorted(REGISTRY))}")
    return PipelineSettings(components, options.threshold, options.precision, options.threads)


def run_ingest(store_path: Path, sources: list[str], options: IngestOptions) -> int:
    """Ingest `sources` into the store at `store_path`; the exit status (0: all stored or
    already there, 1: some failed, 128+N: stopped by signal N)."""
    settings = _check_options(options)
    mapping = parse_mapping(options.mapping)
    run_id = uuid.uuid4().hex[:16]
    tally = Tally(total=count_articles(sources))
    engine = make_engine(options, settings)
    stop = {"signal": None}

    def on_signal(signum, frame):
        stop["signal"] = signum
        raise _Stopped(signum)

    if options.engine == "ray":
        engine.load()  # join or start the cluster before touching the store: a refusal leaves no trace
    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    progress = None
    try:
        with Store(store_path, wait_s=options.lock_wait_s, on_wait=_say) as store:
            command = {"sources": sources, "components": options.components, "threshold": options.threshold,
                       "precision": options.precision, "map": options.mapping, "engine": options.engine,
                       "workers": options.workers if options.engine == "ray" else None, "argv": sys.argv[1:]}
            store.start_run(run_id, command, {"components": list(settings.components or []) or "default",
                                              "threshold": settings.threshold, "precision": settings.precision})
            progress = _Progress(tally, options.quiet, options.progress_every_s)
            _ingest_into(store, run_id, sources, mapping, options, engine, tally, progress)
            store.finish_run(run_id)
    except _Stopped:
        pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if progress is not None:
            progress.close()
        engine.close()
    if stop["signal"] is not None:
        name = signal.Signals(stop["signal"]).name
        _say(f"ingest stopped by {name}: {tally.line()}; every stored article is kept, "
             "run the same command again to finish")
        return 128 + int(stop["signal"])
    if not options.quiet or tally.failed:
        elapsed = time.monotonic() - tally.started
        _say(f"ingest into {store_path}: {tally.line()}; writing the store took {tally.store_s:.1f} s "
             f"of {elapsed:.1f} s")
    if tally.failed:
        # "at" quoted: it is a DuckDB keyword, and this is the query a user copies.
        _say(f"{tally.failed} articles failed: see the store's errors table: "
             f"SELECT source_ref, reason, \"at\" FROM errors WHERE run_id = '{run_id}' ORDER BY \"at\"")
        return 1
    return 0


def _ingest_into(store: Store, run_id: str, sources: list[str], mapping: dict[str, str],
                 options: IngestOptions, engine, tally: Tally, progress: _Progress) -> None:
    con = store.connect()
    known = {r[0] for r in con.execute("SELECT doc_id FROM documents").fetchall()}
    # A URL already in the store is not fetched again (on a resume, nothing is re-fetched).
    known_urls = {r[0] for r in con.execute(
        "SELECT DISTINCT article_key FROM documents WHERE article_key LIKE 'http%'").fetchall()}
    fetcher = PoliteFetcher(options.allow_private, options.per_host_s, known_urls=known_urls)
    pending_errors: list[tuple[str, str]] = []

    def to_analyse() -> Iterator[Article]:
        """The articles not stored yet; read failures and skips are counted on the way."""
        queued: set[str] = set()
        for article in iter_articles(sources, mapping, fetcher):
            if article.already_stored:
                tally.skipped += 1
                progress.update()
                continue
            if article.error is not None:
                tally.failed += 1
                pending_errors.append((article.ref, article.error))
                _say(f"error: {article.error}")
                progress.update()
                continue
            doc_id = doc_id_for(article.text)
            if doc_id in known or doc_id in queued:
                tally.skipped += 1
                progress.update()
                continue
            warning = article.meta.pop("warning", None)
            if warning:
                _say(f"warning: {article.ref}: {warning}")
            queued.add(doc_id)
            yield article

    batch: list[Outcome] = []

    def flush() -> None:
        if not batch and not pending_errors:
            return
        docs = [o.doc for o in batch if o.doc is not None]
        errors = pending_errors + [(o.article.ref, o.error) for o in batch if o.error is not None]
        started = time.monotonic()
        store.add_documents(docs, run_id, errors)
        tally.store_s += time.monotonic() - started
        known.update(doc_id_for(d.text) for d in docs)
        tally.stored += len(docs)
        batch.clear()
        pending_errors.clear()
        progress.update()

    for outcome in engine.run(to_analyse()):
        if outcome.error is not None:
            tally.failed += 1
            _say(f"error: {outcome.article.ref}: {outcome.error}")
        else:
            outcome.doc.meta.setdefault("path", outcome.article.meta.get("path"))
        batch.append(outcome)
        if len(batch) >= options.batch_size or len(pending_errors) >= options.batch_size:
            flush()
    flush()
