"""The trained technique model as a pipeline component (the default detector)."""

from __future__ import annotations

import os
from pathlib import Path

from redline.doc import Document
from redline.errors import ModelError
from redline.models import load_once
from redline.registry import register

DEFAULT_MODEL_DIR = Path(__file__).resolve().parent.parent / "models" / "technique"

def _open_technique_model(folder: Path, precision: str):
    from redline.models.technique_net import TechniqueModel

    if not (folder / "config.json").exists():
        raise ModelError(f"no technique model in {folder}: run `redline train` or reinstall redline")
    threads = int(os.environ.get("REDLINE_THREADS", "0")) or None
    return TechniqueModel(folder, threads=threads, precision=precision)


def load_technique_model(folder: Path | str | None = None, precision: str | None = None):
    """Load (once per process) the technique model from its folder, computing in
    `precision` (else $REDLINE_PRECISION, else "auto": see technique_net.PRECISIONS)."""
    precision = precision or os.environ.get("REDLINE_PRECISION") or "auto"
    return load_once(_open_technique_model, folder, "REDLINE_TECHNIQUE_MODEL", DEFAULT_MODEL_DIR, precision)


@register("tagger")
class TechniqueTagger:
    """Finds technique spans with the trained encoder model."""

    name = "tagger"

    def __init__(self, model_dir: str | Path | None = None, threshold: float | None = None,
                 taxonomy: str | None = None):
        from redline.taxonomy import check_taxonomy

        self.taxonomy = check_taxonomy(taxonomy)
        self.model = load_technique_model(model_dir)
        self.threshold = threshold
        # The 23-technique head reads the same encoder pass (models/technique23.py).
        self.head23 = None
        if self.taxonomy == "semeval2023":
            from redline.models.technique23 import load_technique23_model
            self.head23 = load_technique23_model()
            frozen = self.model.config.get("finetune", {}).get("frozen_layers")
            if frozen is not None and self.head23.layer > int(frozen):
                raise ModelError(f"{self.model.folder}: fine-tuned on your own labels, it changed encoder layer "
                                 f"{self.head23.layer}, which the 23-technique head reads: --taxonomy semeval2023 "
                                 "needs the shipped technique model (or one fine-tuned from it: retrain that head)")

    def __call__(self, doc: Document) -> Document:
        from redline.components.nlp import store_technique_output

        # Keep the layers that the claims and roles components read: one encoder pass in all.
        layers = self.model.feature_layers
        if self.head23 is not None:
            layers = tuple(sorted({*layers, self.head23.layer}))
        out = self.model.run(doc.text, layers=layers) if doc.text.strip() else None
        if out is not None:
            store_technique_output(doc, out)
        if self.head23 is not None:
            spans = self.head23.predict_output(doc.text, out, self.threshold).spans if out is not None else []
        else:
            spans = self.model.predict_spans(doc.text, threshold=self.threshold, out=out)
        for span in spans:
            # (start, end, technique, score) tuples from the 23-technique head; ScoredSpan
            # objects, which also name the words that triggered them, from the PTC model.
            s, e, tech, score = span[:4] if isinstance(span, tuple) else (
                span.start, span.end, span.technique, span.score)
            doc.add_span(s, e, tech, score, source=self.name, triggers=getattr(span, "triggers", ()))
        cfg = self.model.config
        doc.model["tagger"] = {
            "name": cfg.get("name"),
            "base": cfg.get("base"),
            "taxonomy": self.taxonomy,
            "precision": self.model.precision,
            # --threshold and the default filter on the span score (span_decoding.SCORE_EVENT).
            "threshold": self.threshold if self.threshold is not None else self.model.threshold,
            "dev_scores": cfg.get("dev_scores", {}),
        }
        if self.head23 is not None:
            head = self.head23.config
            doc.model["tagger"].update({
                "head": head.get("name"),
                # None: the head's own threshold per technique (its config.json), on the
                # paragraph score; a number: --threshold, the same for every technique.
                "threshold": self.threshold,
                "dev_scores": head.get("dev_scores", {}),
            })
        return doc

    def classify(self, text: str, spans: list[tuple[int, int]]) -> list[tuple[str, float]]:
        """The TC task: the most likely technique for each given span (in this tagger's taxonomy)."""
        if self.head23 is not None:
            out = self.model.run(text, keep_hidden=False, layers=(self.head23.layer,))
            return self.head23.classify_output(text, out, spans)
        probs = self.model.classify(text, spans)
        return [(self.model.techniques[int(p.argmax())], float(p.max())) for p in probs]
