"""The 23-technique head (SemEval-2023 Task 3) over the technique encoder's pass.

The shipped technique model (`technique_net.py`) predicts the 14 PTC classes. This head
reads the same single encoder pass (no second encoder) and predicts the 23 techniques of
SemEval-2023 Task 3 (`redline.taxonomy.SEMEVAL2023`, in the task's order):

* inputs per word piece: the encoder's top layer (768) and the 14-class model's own
  token outputs (span, begin and the 14 technique probabilities);
* a projection and one convolution over neighbouring pieces (a few words of context);
* a **token** output: for each technique, the probability that the piece lies inside a
  span of it (multi-label: 2023 spans of different techniques overlap);
* a **paragraph** output: for each technique, the probability that the paragraph (a
  non-empty line, as in the task's subtask 3) uses it, from the pieces' features pooled
  over the paragraph (max and mean).

Spans come from the paragraph output and the token output together (`decode`): a
technique is marked in a paragraph when the paragraph output passes that technique's
threshold, and its span(s) are where its token probabilities are highest in that
paragraph. So the spans shown and the paragraph-level answer always agree. Weights,
thresholds and figures: `models/technique23/` (MODEL_CARD.md).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from redline.errors import ModelError
from redline.taxonomy import SEMEVAL2023

TECHNIQUES23: list[str] = list(SEMEVAL2023)  # the order of techniques_subtask3.txt
N23 = len(TECHNIQUES23)
N_AUX = 16  # p_span, p_begin, the 14 PTC token probabilities
N_RECURRENCE = 2  # how often the piece's word and the three words from it recur (Repetition)
_WORD_RE = re.compile(r"[^\W_]+", re.UNICODE)
DEFAULT_MODEL_DIR = Path(__file__).resolve().parent / "technique23"


class Technique23Net(nn.Module):
    def __init__(self, hidden: int = 768, width: int = 128, kernel: int = 5, dropout: float = 0.2,
                 recurrence: bool = False):
        super().__init__()
        self.recurrence = recurrence
        self.norm = nn.LayerNorm(hidden)
        self.proj = nn.Linear(hidden + N_AUX + (N_RECURRENCE if recurrence else 0), width)
        self.conv = nn.Conv1d(width, width, kernel, padding=kernel // 2)
        self.dropout = nn.Dropout(dropout)
        self.token = nn.Linear(width, N23)
        self.paragraph = nn.Linear(2 * width, N23)

    def features(self, hidden: torch.Tensor, aux: torch.Tensor) -> torch.Tensor:
        """(n pieces, width) features of one article's pieces, in order."""
        x = torch.nn.functional.gelu(self.proj(torch.cat([self.norm(hidden), aux], -1)))
        x = self.dropout(x)
        ctx = self.conv(x.T.unsqueeze(0)).squeeze(0).T  # neighbours' features, same length
        return x + torch.nn.functional.gelu(ctx)

    def forward(self, hidden: torch.Tensor, aux: torch.Tensor, para_of_piece: torch.Tensor, n_para: int):
        """(token logits (n, 23), paragraph logits (n_para, 23)); para_of_piece is -1 for pieces
        outside every paragraph (blank lines)."""
        z = self.features(hidden, aux)
        token_logits = self.token(self.dropout(z))
        if n_para == 0:
            return token_logits, token_logits.new_zeros((0, N23))
        inside = para_of_piece >= 0
        idx = para_of_piece[inside]
        zi = z[inside]
        width = z.shape[1]
        summed = z.new_zeros((n_para, width)).index_add_(0, idx, zi)
        counts = torch.bincount(idx, minlength=n_para).clamp(min=1).unsqueeze(1).to(z.dtype)
        maxed = z.new_full((n_para, width), -1e4).scatter_reduce(
            0, idx.unsqueeze(1).expand(-1, width), zi, reduce="amax", include_self=True)
        maxed = torch.where(maxed <= -1e4, torch.zeros_like(maxed), maxed)  # a paragraph without pieces
        pooled = torch.cat([summed / counts, maxed], -1)
        return token_logits, self.paragraph(self.dropout(pooled))


def paragraphs(text: str) -> list[tuple[int, int, int]]:
    """The task's paragraphs: (line number from 1, start, end) of every non-empty line.

    SemEval-2023 subtask 3 labels each line of an article that is not empty (the article
    split at "\\n"); its gold set is the techniques of the spans that touch the line.
    """
    out, pos = [], 0
    for number, line in enumerate(text.split("\n"), start=1):
        if line.strip():
            out.append((number, pos, pos + len(line)))
        pos += len(line) + 1
    return out


def paragraph_of_pieces(offsets: np.ndarray, paras: list[tuple[int, int, int]]) -> np.ndarray:
    """For each word piece, the index into `paras` of the paragraph it starts in, or -1."""
    result = np.full(len(offsets), -1, dtype=np.int64)
    if not len(offsets) or not paras:
        return result
    starts = np.array([s for _, s, _ in paras])
    ends = np.array([e for _, _, e in paras])
    k = np.searchsorted(starts, offsets[:, 0], side="right") - 1
    ok = (k >= 0) & (offsets[:, 0] < ends[np.maximum(k, 0)])
    result[ok] = k[ok]
    return result


def recurrence_features(text: str, offsets: np.ndarray) -> np.ndarray:
    """Per piece: log counts of how often its word, and the three words from it, occur in
    the article. Repetition is defined by recurrence, which a windowed encoder barely sees."""
    words = [(m.start(), m.end(), m.group().lower()) for m in _WORD_RE.finditer(text)]
    singles = Counter(w for _, _, w in words)
    triples = Counter(tuple(w for _, _, w in words[i:i + 3]) for i in range(len(words)))
    starts = np.array([s for s, _, _ in words]) if words else np.zeros(0, dtype=np.int64)
    feats = np.zeros((len(offsets), N_RECURRENCE), dtype=np.float32)
    for i, (a, _) in enumerate(offsets):
        k = int(np.searchsorted(starts, a, side="right")) - 1
        if k < 0 or a >= words[k][1]:
            continue  # punctuation or space
        feats[i, 0] = np.log1p(singles[words[k][2]] - 1) / 4.0
        feats[i, 1] = np.log1p(triples[tuple(w for _, _, w in words[k:k + 3])] - 1)
    return feats


def aux_inputs(p_span: np.ndarray, p_begin: np.ndarray, p_tech: np.ndarray,
               recurrence: np.ndarray | None = None) -> np.ndarray:
    """The 14-class model's token outputs (and, for heads that read them, the recurrence
    features), as the head reads them."""
    parts = [p_span[:, None], p_begin[:, None], p_tech] + ([recurrence] if recurrence is not None else [])
    return np.concatenate(parts, axis=1).astype(np.float32)


@dataclass
class Decoded:
    """The head's answer for one article."""

    spans: list[tuple[int, int, str, float]]  # (start, end, technique, score)
    paragraphs: list[tuple[int, list[str]]]  # (line number, techniques), every non-empty line
    paragraph_probs: np.ndarray  # (n paragraphs, 23)


@dataclass
class SpanShape:
    """How a chosen (paragraph, technique) becomes spans; tuned out of fold on train
    (redline/training/technique23.py)."""

    token_start: float = 1.0  # a run must reach this share of the paragraph's peak ...
    token_low: float = 0.5  # ... and grows over pieces at or above this share
    smooth: int = 1  # moving average over the token probabilities (pieces)
    merge_gap: int = 0  # join runs this many characters apart


def decode(text: str, offsets: np.ndarray, token_probs: np.ndarray, para_probs: np.ndarray,
           para_index: np.ndarray, paras: list[tuple[int, int, int]], thresholds: np.ndarray,
           shape: SpanShape) -> Decoded:
    """Spans and paragraph sets from the head's two outputs (see the module docstring).

    For each paragraph and each technique whose paragraph probability reaches its
    threshold: the runs of the paragraph's pieces that reach `shape.token_start` of its
    peak token probability for that technique (grown down to `token_low` of it), through the span
    decoding every tagger shares (`span_decoding.candidate_spans`: whole words, merged
    across short gaps; `snap_to_phrase`: phrase edges). A span's score is the paragraph
    probability: the calibrated probability that the paragraph uses the technique.
    """
    from redline.models.span_decoding import DecodeParams, candidate_spans, snap_to_phrase

    spans: list[tuple[int, int, str, float]] = []
    answer: list[tuple[int, list[str]]] = []
    for k, (number, p_start, p_end) in enumerate(paras):
        chosen = [t for t in range(N23) if para_probs[k, t] >= thresholds[t]]
        answer.append((number, [TECHNIQUES23[t] for t in chosen]))
        pieces = np.flatnonzero(para_index == k)
        if not len(pieces):
            continue
        piece_offsets = [(max(int(a), p_start), min(int(b), p_end)) for a, b in offsets[pieces]]
        for t in chosen:
            q = token_probs[pieces, t]
            if 1 < shape.smooth <= len(q):  # smoothed here, so that the peak below is the smoothed one
                q = np.convolve(q, np.ones(shape.smooth) / shape.smooth, mode="same")
            peak = float(q.max())
            params = DecodeParams(threshold=shape.token_start * peak, low=shape.token_low * peak,
                                  merge_gap=shape.merge_gap, min_chars=1)
            for cand in candidate_spans(text, piece_offsets, q, params):
                s, e = snap_to_phrase(text, cand.start, cand.end)
                if e > s:
                    spans.append((s, e, TECHNIQUES23[t], float(para_probs[k, t])))
    return Decoded(sorted(set(spans)), answer, para_probs)


class Technique23Model:
    """The trained head: weights, thresholds and decoding settings from a model folder."""

    def __init__(self, folder: Path | str | None = None):
        from safetensors.torch import load_file

        self.folder = Path(folder or DEFAULT_MODEL_DIR)
        try:
            self.config = json.loads((self.folder / "config.json").read_text(encoding="utf-8"))
            state = load_file(str(self.folder / "model.safetensors"))
        except (OSError, ValueError) as exc:
            raise ModelError(f"no usable 23-technique model in {self.folder}: {exc}; run "
                             "`python -m redline.training.technique23 --data ../shared/data`") from exc
        if self.config.get("techniques") != TECHNIQUES23:
            raise ModelError(f"{self.folder}: its techniques are not the 23 of SemEval-2023 in order")
        net_cfg = self.config.get("net", {})
        self.net = Technique23Net(**net_cfg)
        try:
            self.net.load_state_dict({k: v.float() for k, v in state.items()})
        except RuntimeError as exc:
            raise ModelError(f"{self.folder}: weights do not match the network ({exc})") from exc
        self.net.eval()
        self.layer = int(self.config.get("layer", 6))
        self.thresholds = np.asarray(self.config["thresholds"], dtype=np.float32)
        self.shape = SpanShape(**self.config.get("span_shape", {}))
        calib = self.config.get("calibration") or {}
        self.calibration = (np.asarray(calib["x"]), np.asarray(calib["y"])) if calib else None

    @torch.inference_mode()
    def probabilities(self, hidden: np.ndarray, aux: np.ndarray, para_index: np.ndarray, n_para: int):
        """(token probabilities (n, 23), paragraph probabilities (n_para, 23)), numpy."""
        tok, par = self.net(torch.from_numpy(hidden.astype(np.float32)), torch.from_numpy(aux),
                            torch.from_numpy(para_index), n_para)
        return tok.sigmoid().numpy(), par.sigmoid().numpy()

    def predict_output(self, text: str, out, threshold: float | None = None) -> Decoded:
        """Decode one article from the technique model's pass (`ArticleOutput` with this
        head's layer among `out.layers`). `threshold`: one threshold on the score for every
        technique (`--threshold`) instead of the per-technique ones tuned in training."""
        if self.layer not in out.layers:
            raise ModelError(f"the 23-technique head needs encoder layer {self.layer} in the pass")
        offsets = np.asarray(out.tok.offsets, dtype=np.int64).reshape(-1, 2)
        return self.predict_arrays(text, out.layers[self.layer], self.aux(text, out, offsets), offsets, threshold)

    def aux(self, text: str, out, offsets: np.ndarray) -> np.ndarray:
        recurrence = recurrence_features(text, offsets) if self.net.recurrence else None
        return aux_inputs(out.p_span, out.p_begin, out.p_tech, recurrence)

    def predict_arrays(self, text: str, hidden: np.ndarray, aux: np.ndarray, offsets: np.ndarray,
                       threshold: float | None = None) -> Decoded:
        """`predict_output` from the pass's arrays (what training caches)."""
        paras = paragraphs(text)
        para_index = paragraph_of_pieces(offsets, paras)
        tok, par = self.probabilities(hidden, aux, para_index, len(paras))
        if self.calibration is not None:
            par = np.interp(par, *self.calibration).astype(np.float32)
        thresholds = self.thresholds if threshold is None else np.full(N23, threshold, dtype=np.float32)
        return decode(text, offsets, tok, par, para_index, paras, thresholds, self.shape)

    def classify_output(self, text: str, out, spans: list[tuple[int, int]]) -> list[tuple[str, float]]:
        """The TC task in the 23 techniques: for each given span, the technique with the
        highest mean token probability over the span's pieces, and that probability's share
        of the 23 (a relative score, not a calibrated probability)."""
        offsets = np.asarray(out.tok.offsets, dtype=np.int64).reshape(-1, 2)
        aux = self.aux(text, out, offsets)
        no_paragraphs = np.full(len(offsets), -1, dtype=np.int64)
        tok, _ = self.probabilities(out.layers[self.layer], aux, no_paragraphs, 0)
        result = []
        for start, end in spans:
            inside = (offsets[:, 0] < end) & (offsets[:, 1] > start)
            if not inside.any():  # only whitespace: the nearest piece
                inside = np.zeros(len(offsets), dtype=bool)
                if len(offsets):
                    inside[int(np.argmin(np.abs(offsets[:, 0] - start)))] = True
            mean = tok[inside].mean(0) if inside.any() else np.zeros(N23, dtype=np.float32)
            k = int(mean.argmax())
            result.append((TECHNIQUES23[k], float(mean[k] / max(mean.sum(), 1e-9))))
        return result


def load_technique23_model(folder: Path | str | None = None) -> Technique23Model:
    """The 23-technique head, loaded once per process (folder, else $REDLINE_TECHNIQUE23_MODEL,
    else the shipped one)."""
    from redline.models import load_once

    return load_once(Technique23Model, folder, "REDLINE_TECHNIQUE23_MODEL", DEFAULT_MODEL_DIR)
