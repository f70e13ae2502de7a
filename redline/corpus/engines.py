"""Who runs the pipeline over a corpus: this process (`LocalEngine`) or a Ray cluster (`RayEngine`).

Both take the articles still to analyse, in order, and yield `Outcome`s in that same
order; the ingest writes them to the store (one writer, whatever the engine). Both turn
an article into a Document with the same function, `analyze_article`, so the rows they
make are the same, byte for byte in `redline corpus export`, as long as the numbers are
computed alike (the same precision and threads per worker: `--threads 1` locally against
Ray workers of 1 thread each).

Ray (an extra: ``pip install 'redline[ray]'``): Ray Data holds the articles, and
`map_batches` runs `RayPipelineWorker`, an actor class, so that each worker loads the
models once and analyses batch after batch; the results stream back to the driver in
order (``preserve_order``). With no ``--address`` a local cluster of ``--workers`` CPUs is
started for the run; ``--address auto`` or ``HOST:PORT`` joins a running one (``ray start
--head`` on one machine, ``ray start --address HOST:6379`` on the others).
"""

from __future__ import annotations

import os
import pickle
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator

from redline.corpus.sources import Article, document_from_record
from redline.doc import Document
from redline.errors import RedlineError


@dataclass(frozen=True)
class PipelineSettings:
    """What `--components`, `--threshold`, `--precision` and `--threads` ask for."""

    components: tuple[str, ...] | None = None
    threshold: float | None = None
    precision: str | None = None
    threads: int | None = None

    def apply_process_settings(self) -> None:
        """Precision and threads are per process: set them before any model loads."""
        if self.precision:
            os.environ["REDLINE_PRECISION"] = self.precision
        if self.threads:
            import torch

            torch.set_num_threads(self.threads)

    def pipeline(self):
        from redline.pipeline import default_pipeline

        return default_pipeline(self.components, self.threshold)


@dataclass
class Outcome:
    """An article and what became of it: its Document, or the reason it failed."""

    article: Article
    doc: Document | None = None
    error: str | None = None
    warnings: list[str] = field(default_factory=list)


def analyze_article(settings: PipelineSettings, article: Article) -> Outcome:
    """One article through the pipeline (or, for a redline JSONL record, rebuilt as it was).

    The call is `redline.pipeline.analyze`, the one `redline analyze` makes for each of its
    documents: the same checks, the same shared pipeline (loaded once per process), the
    spaCy parse started early in the same way, so an ingest costs what `analyze` costs plus
    the store's writes (bench/corpus.py measures both on the same articles).
    """
    from redline.pipeline import analyze

    try:
        if article.record is not None:
            doc = document_from_record(article.record, article.text, article.meta)
        else:
            doc = analyze(article.text, id=article.id or "doc", meta=article.meta,
                          threshold=settings.threshold, components=settings.components)
    except RedlineError as exc:
        return Outcome(article, error=str(exc))
    except (ValueError, KeyError, TypeError) as exc:  # a malformed JSONL record
        if article.record is None:
            raise
        return Outcome(article, error=f"{article.ref}: malformed redline record ({type(exc).__name__}: {exc})")
    doc.cache.clear()  # the parse and encodings: never stored, and not worth shipping back from a worker
    return Outcome(article, doc)


class LocalEngine:
    """The pipeline in this process, one article after another."""

    name = "local"

    def __init__(self, settings: PipelineSettings):
        self.settings = settings
        self._loaded = False

    def load(self) -> None:
        self.settings.apply_process_settings()
        self.settings.pipeline()  # the shared pipeline `analyze_article` then finds loaded
        self._loaded = True

    def run(self, articles: Iterable[Article]) -> Iterator[Outcome]:
        for article in articles:
            # Loaded at the first article that needs it: redline JSONL records need none.
            if not self._loaded and article.record is None:
                self.load()
            yield analyze_article(self.settings, article)

    def close(self) -> None:
        pass


class RayPipelineWorker:
    """A Ray Data actor: loads the pipeline once, then analyses batch after batch.

    A batch is a dict of columns (`RayEngine` makes them): each row's article is pickled
    in ``article``; the answer's ``outcome`` column holds the pickled `Outcome`s.
    """

    def __init__(self, settings: PipelineSettings):
        settings.apply_process_settings()
        settings.pipeline()  # loaded once per worker, before the first batch
        self.settings = settings

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        import numpy as np

        outcomes = [pickle.dumps(analyze_article(self.settings, pickle.loads(blob))) for blob in batch["article"]]
        return {"seq": batch["seq"], "outcome": np.array(outcomes, dtype=object)}


class RayUnavailable(RedlineError):
    """Ray is not installed, or no cluster could be started or reached."""


class RayEngine:
    """The pipeline in Ray actor workers, via Ray Data `map_batches` (module doc).

    The articles of one `run` call go to Ray as one dataset, so the workers load the
    models once per call; the ingest calls `run` once with every article still to do.
    """

    name = "ray"

    def __init__(self, settings: PipelineSettings, workers: int = 2, address: str | None = None,
                 batch_size: int = 4):
        self.settings = PipelineSettings(settings.components, settings.threshold, settings.precision,
                                         settings.threads or 1)
        self.workers = workers
        self.address = address
        self.batch_size = batch_size
        self._started_here = False

    def load(self) -> None:
        try:
            import ray
        except ImportError:
            raise RayUnavailable("--engine ray needs Ray: pip install 'redline[ray]'") from None
        if ray.is_initialized():
            return
        import logging

        # Ray's own log lines (cluster start, dataset plans) stay in its session logs.
        quiet = {"include_dashboard": False, "log_to_driver": False, "logging_level": logging.WARNING}
        if self.address and self.address != "auto":
            _check_reachable(self.address)  # Ray itself retries an unreachable head for minutes
        try:
            if self.address:
                ray.init(address=self.address, **quiet)
            else:
                ray.init(num_cpus=self.workers, **quiet)
                self._started_here = True
        except Exception as exc:  # Ray raises many kinds here (ConnectionError, RuntimeError, ...)
            raise RayUnavailable(f"Ray could not start{' at ' + self.address if self.address else ''}: "
                                 f"{type(exc).__name__}: {exc}") from None

    def run(self, articles: Iterable[Article]) -> Iterator[Outcome]:
        import logging

        import ray

        self.load()
        items = [{"seq": i, "article": pickle.dumps(a)} for i, a in enumerate(articles)]
        if not items:
            return
        ctx = ray.data.DataContext.get_current()
        ctx.execution_options.preserve_order = True  # outcomes come back in article order
        ctx.enable_progress_bars = False
        logging.getLogger("ray.data").setLevel(logging.WARNING)
        # Enough blocks that every worker gets work from the start, however few the articles.
        blocks = min(len(items), max(-(-len(items) // self.batch_size), 4 * self.workers))
        ds = ray.data.from_items(items, override_num_blocks=blocks)
        ds = ds.map_batches(RayPipelineWorker, fn_constructor_kwargs={"settings": self.settings},
                            batch_size=self.batch_size, batch_format="numpy",
                            compute=ray.data.ActorPoolStrategy(size=self.workers), num_cpus=1)
        expected = 0
        for batch in ds.iter_batches(batch_size=self.batch_size, batch_format="numpy"):
            for seq, blob in zip(batch["seq"], batch["outcome"]):
                if int(seq) != expected:  # preserve_order is what the byte-for-byte export rests on
                    raise RuntimeError(f"Ray returned article {int(seq)} where {expected} was due")
                expected += 1
                yield pickle.loads(blob)

    def close(self) -> None:
        if self._started_here:
            import ray

            ray.shutdown()
            self._started_here = False


def _check_reachable(address: str, timeout_s: float = 5.0) -> None:
    """Refuse, at once, a HOST:PORT where nothing answers."""
    import socket

    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit():
        raise RayUnavailable(f"--address {address!r}: write auto or HOST:PORT (e.g. 10.0.0.5:6379)")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s).close()
    except OSError as exc:
        raise RayUnavailable(f"Ray could not start at {address}: nothing answers there ({exc.strerror or exc}); "
                             "is `ray start --head` running on that machine?") from None
