"""Train the 23-technique (SemEval-2023 Task 3) head on the technique encoder's states.

    python -m redline.training.technique23 --data ../shared/data --out redline/models/technique23

Two steps, both seeded:

1. **cache**: one pass of the shipped technique model (`redline/models/technique`) over
   every SemEval-2023 English article, keeping per word piece the encoder's last layer
   (fp16) and the 14-class model's own token outputs, under `runs/t23/` (not committed;
   reused when present). The encoder is not fine-tuned here, so the head reads exactly
   what the pipeline's single encoder pass gives at run time.
2. **fit**: the small head of `redline/models/technique23.py`, on CPU, from the cache.

Split: the SemEval-2023 English articles are the PTC train and dev articles, re-processed
(same ids; the texts differ from PTC's in quote marks, some line breaks and the final
newline). An article whose id is a PTC dev article id is in our **dev** split and is never
trained on. `load_semeval2023` checks each match by text (at least 95% of the word
sequence in common) and refuses a train article that opens with the same 25 words as a
dev article, so a renumbered article cannot leak. The shipped encoder was
fine-tuned on PTC train only, so its states carry no dev labels either.
"""

from __future__ import annotations

import argparse
import difflib
import json
import logging
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import torch
from torch import nn

from redline.io.ptc import Label, article_id_from_path, load_articles, read_article_text
from redline.metrics import score_flc
from redline.models.technique23 import (
    N23, TECHNIQUES23, Decoded, SpanShape, Technique23Net, aux_inputs, decode, paragraph_of_pieces, paragraphs,
    recurrence_features,
)

log = logging.getLogger("redline.training.technique23")
SEMEVAL_DIR = "semeval2023-task3-en"
DEFAULT_CACHE = Path("runs/t23")
INDEX23 = {t: i for i, t in enumerate(TECHNIQUES23)}


@dataclass
class Article:
    id: str
    text: str
    spans: list[tuple[str, int, int]]  # (technique, start, end), SemEval-2023 labels
    split: str  # "train" or "dev" (the PTC split of its counterpart)


def read_semeval_spans(path: Path) -> list[tuple[str, int, int]]:
    spans = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        _, tech, s, e = line.split("\t")
        spans.append((tech, int(s), int(e)))
    return spans


def same_text(a: str, b: str) -> bool:
    """Whether two versions of an article are the same text. The 2023 re-processing changed
    quote marks, line breaks (some paragraphs re-split) and the final newline, so compare
    the word sequences: at least 95% in common."""
    if a == b:
        return True
    wa, wb = a.split(), b.split()
    return difflib.SequenceMatcher(None, wa, wb, autojunk=False).ratio() >= 0.95


def load_semeval2023(data: Path) -> list[Article]:
    """Every SemEval-2023 English article with its spans and its split (PTC train / dev)."""
    root = data / SEMEVAL_DIR
    ptc = data / "ptc"
    if not (root / "train-articles-subtask-3").is_dir() or not (ptc / "dev-articles").is_dir():
        raise SystemExit(f"need {root}/train-articles-subtask-3 and {ptc}/dev-articles")
    ptc_dev = load_articles(ptc / "dev-articles")
    ptc_train_ids = {article_id_from_path(p) for p in (ptc / "train-articles").glob("*.txt")}
    articles = []
    for path in sorted((root / "train-articles-subtask-3").glob("*.txt")):
        aid = article_id_from_path(path)
        text = read_article_text(path)
        if aid in ptc_dev:
            if not same_text(text, ptc_dev[aid]):
                raise SystemExit(f"article {aid}: same id as a PTC dev article but another text")
            split = "dev"
        elif aid in ptc_train_ids:
            split = "train"
        else:
            raise SystemExit(f"article {aid}: in neither PTC split; cannot place it safely")
        labels = root / "train-labels-subtask-3-spans" / f"article{aid}-labels-subtask-3.txt"
        spans = read_semeval_spans(labels) if labels.exists() else []
        articles.append(Article(aid, text, spans, split))
    opening = {" ".join(a.text.split()[:25]).lower(): a.id for a in articles if a.split == "dev"}
    for art in articles:
        twin = opening.get(" ".join(art.text.split()[:25]).lower())
        if art.split == "train" and twin:
            raise SystemExit(f"train article {art.id} opens like dev article {twin}: a renumbered copy?")
    return articles


def cache_states(articles: list[Article], cache: Path, threads: int = 1) -> None:
    """Run the shipped technique model once per article and keep what the head reads."""
    import torch

    from redline.components.tagger import load_technique_model

    import hashlib

    torch.set_num_threads(max(1, threads))
    cache.mkdir(parents=True, exist_ok=True)
    model = load_technique_model()
    # A cache made with other technique weights would train the head on the wrong states.
    weights = hashlib.sha256((model.folder / "model.safetensors").read_bytes()).hexdigest()[:16]
    meta = cache / "meta.json"
    if meta.exists() and json.loads(meta.read_text(encoding="utf-8")).get("weights", weights) != weights:
        raise SystemExit(f"{cache} holds states of other technique weights: delete it and run again")
    top = model.net.encoder.config.num_hidden_layers
    t0 = time.time()
    for i, art in enumerate(articles):
        path = cache / f"{art.id}.npz"
        if path.exists():
            continue
        out = model.run(art.text, keep_hidden=False, layers=(top,))
        tmp = cache / f"{art.id}.tmp.npz"
        np.savez(tmp, hidden=out.layers[top].astype(np.float16),
                 offsets=np.asarray(out.tok.offsets, dtype=np.int32).reshape(-1, 2),
                 p_span=out.p_span, p_begin=out.p_begin, p_tech=out.p_tech.astype(np.float32))
        tmp.rename(path)
        if i % 20 == 0:
            log.info("cached %d/%d articles (%.0fs)", i + 1, len(articles), time.time() - t0)
    meta.write_text(json.dumps({"precision": model.precision, "layer": top, "model": model.config.get("name"),
                                "weights": weights}), encoding="utf-8")



# --- features and targets -----------------------------------------------------------
@dataclass
class Sample:
    """One article as the head trains on it (arrays from the cache, targets from the spans)."""

    article: Article
    hidden: np.ndarray  # (n, 768) fp16
    aux: np.ndarray  # (n, 16)
    offsets: np.ndarray  # (n, 2)
    paras: list[tuple[int, int, int]]
    para_index: np.ndarray  # (n,)
    token_y: np.ndarray  # (n, 23) 0/1
    para_y: np.ndarray  # (n paragraphs, 23) 0/1


def gold_paragraphs(text: str, spans: list[tuple[str, int, int]]) -> list[tuple[int, set[str]]]:
    """The subtask-3 gold of an article: each non-empty line with the techniques of the
    spans that touch it (identical to train-labels-subtask-3.txt on all 9,498 lines)."""
    return [(number, {t for t, s, e in spans if s < p_end and e > p_start})
            for number, p_start, p_end in paragraphs(text)]


def load_sample(art: Article, cache: Path, recurrence: bool = False) -> Sample:
    with np.load(cache / f"{art.id}.npz") as z:
        hidden, offsets = z["hidden"], z["offsets"].astype(np.int64)
        aux = aux_inputs(z["p_span"], z["p_begin"], z["p_tech"],
                         recurrence_features(art.text, offsets) if recurrence else None)
    paras = paragraphs(art.text)
    token_y = np.zeros((len(offsets), N23), dtype=np.float32)
    for tech, s, e in art.spans:
        inside = (offsets[:, 0] < e) & (offsets[:, 1] > s)
        token_y[inside, INDEX23[tech]] = 1.0
    para_y = np.zeros((len(paras), N23), dtype=np.float32)
    for k, (_, techs) in enumerate(gold_paragraphs(art.text, art.spans)):
        for tech in techs:
            para_y[k, INDEX23[tech]] = 1.0
    return Sample(art, hidden, aux, offsets, paras, paragraph_of_pieces(offsets, paras), token_y, para_y)


# --- the head's training -------------------------------------------------------------
@dataclass
class FitConfig:
    epochs: int = 8
    lr: float = 1e-3
    weight_decay: float = 0.01
    width: int = 128
    dropout: float = 0.2
    max_pos_weight: float = 20.0
    token_loss: float = 1.0
    seed: int = 13
    # The recurrence features (models/technique23.py): tried with 12 epochs, out-of-fold
    # paragraph micro-F1 0.547 against 0.550 without, so not in the shipped head.
    recurrence: bool = False


def positive_weights(targets: np.ndarray, cap: float) -> torch.Tensor:
    """Per technique sqrt(negatives / positives), capped: rare techniques count more
    without letting a handful of examples dominate."""
    pos = targets.sum(0)
    neg = len(targets) - pos
    w = np.sqrt(np.maximum(neg, 1) / np.maximum(pos, 1))
    return torch.tensor(np.clip(w, 1.0, cap), dtype=torch.float32)


def fit_head(samples: list[Sample], cfg: FitConfig, on_epoch=None) -> Technique23Net:
    """Train one head on `samples`; `on_epoch(epoch, net)` after each epoch (net in eval mode)."""
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    net = Technique23Net(width=cfg.width, dropout=cfg.dropout, recurrence=cfg.recurrence)
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    token_bce = nn.BCEWithLogitsLoss(
        pos_weight=positive_weights(np.concatenate([s.token_y for s in samples]), cfg.max_pos_weight))
    para_bce = nn.BCEWithLogitsLoss(
        pos_weight=positive_weights(np.concatenate([s.para_y for s in samples]), cfg.max_pos_weight))
    steps = cfg.epochs * len(samples)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=steps, pct_start=0.1)
    for epoch in range(1, cfg.epochs + 1):
        net.train()
        total = 0.0
        for i in rng.permutation(len(samples)):
            s = samples[i]
            tok, par = net(torch.from_numpy(s.hidden.astype(np.float32)), torch.from_numpy(s.aux),
                           torch.from_numpy(s.para_index), len(s.paras))
            loss = cfg.token_loss * token_bce(tok, torch.from_numpy(s.token_y))
            if len(s.paras):
                loss = loss + para_bce(par, torch.from_numpy(s.para_y))
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss.detach())
        net.eval()
        log.info("epoch %d: mean loss %.4f", epoch, total / len(samples))
        if on_epoch:
            on_epoch(epoch, net)
    return net


@torch.inference_mode()
def head_outputs(net: Technique23Net, s: Sample) -> tuple[np.ndarray, np.ndarray]:
    tok, par = net(torch.from_numpy(s.hidden.astype(np.float32)), torch.from_numpy(s.aux),
                   torch.from_numpy(s.para_index), len(s.paras))
    return tok.sigmoid().numpy(), par.sigmoid().numpy()


# --- scores --------------------------------------------------------------------------
def paragraph_scores(gold: dict[tuple[str, int], set[str]], pred: dict[tuple[str, int], set[str]]) -> dict:
    """SemEval-2023 subtask 3: micro-F1 (and macro-F1) over (paragraph, technique) pairs,
    every gold paragraph counted, a paragraph absent from `pred` predicted empty."""
    tp, fp, fn = Counter(), Counter(), Counter()
    for key, g in gold.items():
        p = pred.get(key, set())
        for t in p & g:
            tp[t] += 1
        for t in p - g:
            fp[t] += 1
        for t in g - p:
            fn[t] += 1

    def f1(a: int, b: int, c: int) -> tuple[float, float, float]:
        prec = a / (a + b) if a + b else 0.0
        rec = a / (a + c) if a + c else 0.0
        return prec, rec, (2 * prec * rec / (prec + rec) if prec + rec else 0.0)

    P, R, F = f1(sum(tp.values()), sum(fp.values()), sum(fn.values()))
    per = {t: dict(zip(("precision", "recall", "f1"), f1(tp[t], fp[t], fn[t])),
                   n_gold=tp[t] + fn[t], n_pred=tp[t] + fp[t]) for t in TECHNIQUES23}
    present = [t for t in TECHNIQUES23 if per[t]["n_gold"]]
    macro = float(np.mean([per[t]["f1"] for t in present])) if present else 0.0
    return {"micro_precision": P, "micro_recall": R, "micro_f1": F, "macro_f1": macro,
            "paragraphs": len(gold), "per_technique": per}


def span_scores(gold: list[Label], pred: list[Label]) -> dict:
    """FLC-style span F1 (SemEval-2020 Task 11 semantics, per technique) on 23-technique labels."""
    flc = score_flc(gold, pred)
    return {"precision": flc.precision, "recall": flc.recall, "f1": flc.f1, "n_pred": flc.n_pred,
            "n_gold": flc.n_gold, "per_technique": flc.per_technique}


def calibration_error(probs: np.ndarray, y: np.ndarray, bins: int = 10) -> dict:
    """Expected calibration error of paragraph probabilities (every paragraph x technique
    pair), equal-width bins, and the reliability table: is a 30% score right 30% of the time?"""
    probs, y = probs.ravel(), y.ravel()
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(probs, edges[1:-1]), 0, bins - 1)
    table, ece = [], 0.0
    for b in range(bins):
        sel = which == b
        if sel.any():
            mean_p, rate = float(probs[sel].mean()), float(y[sel].mean())
            ece += sel.mean() * abs(mean_p - rate)
            table.append({"bin": f"{edges[b]:.1f}-{edges[b + 1]:.1f}", "n": int(sel.sum()),
                          "mean_score": round(mean_p, 4), "observed": round(rate, 4)})
    return {"ece": float(ece), "table": table}


def gold_of(articles: list[Article]) -> tuple[dict, list[Label]]:
    paras = {(a.id, n): techs for a in articles for n, techs in gold_paragraphs(a.text, a.spans)}
    spans = [Label(a.id, t, s, e) for a in articles for t, s, e in a.spans]
    return paras, spans


def decoded_labels(art_id: str, d: Decoded) -> tuple[dict, list[Label]]:
    paras = {(art_id, n): set(techs) for n, techs in d.paragraphs}
    return paras, [Label(art_id, t, s, e) for s, e, t, _ in d.spans]


# --- thresholds and calibration, out of fold on train ---------------------------------
def calibrate_platt(probs: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Isotonic regression of the paragraph probabilities (all techniques pooled) on
    whether the paragraph uses the technique: knots (x, y) for np.interp."""
    from sklearn.isotonic import IsotonicRegression

    iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(probs.ravel(), y.ravel())
    x = np.asarray(iso.X_thresholds_, dtype=np.float64)
    yy = np.asarray(iso.y_thresholds_, dtype=np.float64)
    return x, yy


def tune_thresholds(probs: np.ndarray, y: np.ndarray, grid: np.ndarray | None = None,
                    rounds: int = 3) -> np.ndarray:
    """Per-technique thresholds that maximise micro-F1 over (paragraph, technique) pairs:
    coordinate ascent from one shared threshold. A technique never seen positive keeps
    an unreachable threshold (1.01)."""
    grid = np.round(np.arange(0.05, 0.96, 0.025), 3) if grid is None else grid
    n_t = probs.shape[1]
    # counts[t, g] = (tp, fp, fn) at threshold grid[g]
    counts = np.zeros((n_t, len(grid), 3))
    for g, th in enumerate(grid):
        pred = probs >= th
        counts[:, g, 0] = (pred & (y == 1)).sum(0)
        counts[:, g, 1] = (pred & (y == 0)).sum(0)
        counts[:, g, 2] = (~pred & (y == 1)).sum(0)

    def micro(choice: np.ndarray) -> float:
        c = counts[np.arange(n_t), choice].sum(0)
        return 2 * c[0] / max(2 * c[0] + c[1] + c[2], 1)

    shared = max(range(len(grid)), key=lambda g: micro(np.full(n_t, g)))
    choice = np.full(n_t, shared)
    for _ in range(rounds):
        for t in range(n_t):
            best = max(range(len(grid)), key=lambda g: (micro(np.where(np.arange(n_t) == t, g, choice)),
                                                        -abs(g - shared)))
            choice[t] = best
    thresholds = grid[choice].astype(np.float64)
    thresholds[y.sum(0) == 0] = 1.01
    return thresholds


def folds_of(n: int, k: int, seed: int) -> list[np.ndarray]:
    order = np.random.default_rng(seed).permutation(n)
    return [np.sort(order[f::k]) for f in range(k)]


def decode_all(samples: list[Sample], outputs: list[tuple[np.ndarray, np.ndarray]], thresholds: np.ndarray,
               shape: SpanShape, calibration=None) -> tuple[dict, list[Label]]:
    paras: dict = {}
    spans: list[Label] = []
    for s, (tok, par) in zip(samples, outputs):
        if calibration is not None:
            par = np.interp(par, *calibration)
        d = decode(s.article.text, s.offsets, tok, par, s.para_index, s.paras, thresholds, shape)
        p, l = decoded_labels(s.article.id, d)
        paras.update(p)
        spans += l
    return paras, spans


def tune_span_shape(train: list[Sample], outputs, thresholds, calib, gold_s: list[Label]) -> SpanShape:
    """The span shape with the best out-of-fold span F1 (FLC-style) on train."""
    scores = {}
    for start in (0.7, 1.0):
        for low in (0.3, 0.5, 0.7):
            for smooth in (1, 3):
                for gap in (0, 10):
                    shape = SpanShape(start, min(low, start), smooth, gap)
                    _, spans = decode_all(train, outputs, thresholds, shape, calib)
                    scores[(start, low, smooth, gap)] = span_scores(gold_s, spans)["f1"]
    best = max(scores, key=scores.get)
    for key, f1 in sorted(scores.items(), key=lambda kv: -kv[1])[:5]:
        log.info("span shape (start, low, smooth, gap) %s: out-of-fold span F1 %.4f", key, f1)
    return SpanShape(*best)


def out_of_fold(train: list[Sample], cfg: FitConfig, folds: int, checkpoints: list[int]):
    """Out-of-fold head outputs on train at each checkpoint epoch: {epoch: [(tok, par)] in train order}."""
    oof: dict[int, list] = {e: [None] * len(train) for e in checkpoints}
    for f, held in enumerate(folds_of(len(train), folds, cfg.seed)):
        held_set = set(held.tolist())
        fit_on = [s for i, s in enumerate(train) if i not in held_set]
        log.info("fold %d/%d: %d articles", f + 1, folds, len(fit_on))

        def record(epoch: int, net: Technique23Net) -> None:
            if epoch in oof:
                for i in held:
                    oof[epoch][i] = head_outputs(net, train[i])

        fit_head(fit_on, FitConfig(**{**cfg.__dict__, "epochs": max(checkpoints)}), on_epoch=record)
    return oof


def save_model(net: Technique23Net, cfg: FitConfig, out: Path, extra: dict) -> None:
    from safetensors.torch import save_file

    out.mkdir(parents=True, exist_ok=True)
    save_file({k: v.detach().to(torch.float16).contiguous() for k, v in net.state_dict().items()},
              str(out / "model.safetensors"))
    config = {"name": "redline-technique23", "techniques": TECHNIQUES23,
              "net": {"width": cfg.width, "dropout": cfg.dropout, "recurrence": cfg.recurrence},
              "fit": cfg.__dict__, **extra}
    (out / "config.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")


def report(name: str, para: dict, span: dict) -> None:
    print(f"{name}: paragraph micro-F1 {para['micro_f1']:.4f} (P {para['micro_precision']:.4f}, "
          f"R {para['micro_recall']:.4f}; macro-F1 {para['macro_f1']:.4f}, {para['paragraphs']} paragraphs); "
          f"span FLC-style F1 {span['f1']:.4f} (P {span['precision']:.4f}, R {span['recall']:.4f}, "
          f"pred {span['n_pred']}, gold {span['n_gold']})")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=Path("../shared/data"))
    ap.add_argument("--out", type=Path, default=Path("redline/models/technique23"))
    ap.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--cache-only", action="store_true")
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--folds", type=int, default=2)
    ap.add_argument("--width", type=int, default=128)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--recurrence", action="store_true", help="add the recurrence features (not shipped)")
    ap.add_argument("--limit", type=int, default=0, help="only the first N train and dev articles (smoke runs)")
    a = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    articles = load_semeval2023(a.data)
    log.info("%d articles: %d train, %d dev", len(articles), sum(x.split == "train" for x in articles),
             sum(x.split == "dev" for x in articles))
    # Dev first: the scores need it, and a half-finished cache is then already useful.
    cache_states(sorted(articles, key=lambda x: x.split != "dev"), a.cache, a.threads)
    if a.cache_only:
        return
    torch.set_num_threads(max(1, a.threads))
    cfg = FitConfig(epochs=a.epochs, seed=a.seed, width=a.width, lr=a.lr, recurrence=a.recurrence)
    train = [load_sample(x, a.cache, cfg.recurrence) for x in articles if x.split == "train"]
    dev = [load_sample(x, a.cache, cfg.recurrence) for x in articles if x.split == "dev"]
    if a.limit:
        train, dev = train[:a.limit], dev[:a.limit]
    t0 = time.time()
    # 1. Out of fold on train: the number of epochs, the calibration, the thresholds and
    #    the span width are all chosen here; dev is only scored.
    checkpoints = sorted({max(1, a.epochs // 2), a.epochs * 3 // 4, a.epochs})
    oof = out_of_fold(train, cfg, a.folds, checkpoints)
    # Kept beside the cache, so that decoding can be studied without refitting.
    np.savez(a.cache / f"oof-{a.out.name}.npz", **{f"{e}/{k}/{s.article.id}": o[k] for e in checkpoints
                                      for s, o in zip(train, oof[e]) for k in (0, 1)})
    y_oof = np.concatenate([s.para_y for s in train])
    best = None
    for epoch in checkpoints:
        probs = np.concatenate([par for _, par in oof[epoch]])
        calib = calibrate_platt(probs, y_oof)
        cal = np.interp(probs, *calib)
        th = tune_thresholds(cal, y_oof)
        gold_p, _ = gold_of([s.article for s in train])
        para, _ = decode_all(train, oof[epoch], th, SpanShape(), calib)
        f1 = paragraph_scores(gold_p, para)["micro_f1"]
        log.info("out of fold, %d epochs: paragraph micro-F1 %.4f", epoch, f1)
        if best is None or f1 > best[0]:
            best = (f1, epoch, calib, th)
    oof_f1, epochs, calib, thresholds = best
    gold_p, gold_s = gold_of([s.article for s in train])
    shape = tune_span_shape(train, oof[epochs], thresholds, calib, gold_s)
    para_oof, spans_oof = decode_all(train, oof[epochs], thresholds, shape, calib)
    report("train, out of fold", paragraph_scores(gold_p, para_oof), span_scores(gold_s, spans_oof))
    # 2. The shipped head: all of train, the chosen epochs.
    net = fit_head(train, FitConfig(**{**cfg.__dict__, "epochs": epochs}))
    extra = {"layer": 6, "threshold_meaning": "calibrated probability that the paragraph uses the technique",
             "thresholds": [round(float(t), 3) for t in thresholds], "span_shape": shape.__dict__,
             "calibration": {"x": [round(float(v), 5) for v in calib[0]], "y": [round(float(v), 5) for v in calib[1]]},
             "train": {"data": str(a.data), "articles": len(train), "folds": a.folds, "epochs_chosen": epochs,
                       "oof_paragraph_micro_f1": round(oof_f1, 4), "seconds": round(time.time() - t0)}}
    save_model(net, FitConfig(**{**cfg.__dict__, "epochs": epochs}), a.out, extra)
    # 3. Dev, scored once, from the saved folder.
    from redline.models.technique23 import Technique23Model

    model = Technique23Model(a.out)
    pred_p: dict = {}
    pred_s: list[Label] = []
    dev_probs = []
    for s in dev:
        decoded = model.predict_arrays(s.article.text, s.hidden, s.aux, s.offsets)
        p, l = decoded_labels(s.article.id, decoded)
        pred_p.update(p)
        pred_s += l
        dev_probs.append(decoded.paragraph_probs)
    dgold_p, dgold_s = gold_of([s.article for s in dev])
    para, span = paragraph_scores(dgold_p, pred_p), span_scores(dgold_s, pred_s)
    reliability = calibration_error(np.concatenate(dev_probs), np.concatenate([s.para_y for s in dev]))
    para["calibration"] = reliability
    print(f"dev calibration of the paragraph scores: ECE {reliability['ece']:.4f}")
    for row in reliability["table"]:
        print(f"  score {row['bin']}: {row['n']:6d} pairs, mean score {row['mean_score']:.3f}, "
              f"observed {row['observed']:.3f}")
    report("dev (PTC dev counterparts, never trained on)", para, span)
    print(f"{'technique':<34} {'para P':>7} {'R':>6} {'F1':>6} {'gold':>5}   {'span F1':>7} {'gold':>5}")
    for t in TECHNIQUES23:
        pt, st = para["per_technique"][t], span["per_technique"].get(t, {"f1": 0.0, "n_gold": 0})
        print(f"{t:<34} {pt['precision']:7.3f} {pt['recall']:6.3f} {pt['f1']:6.3f} {pt['n_gold']:5d}   "
              f"{st['f1']:7.3f} {st['n_gold']:5d}")
    config = json.loads((a.out / "config.json").read_text(encoding="utf-8"))
    config["dev_scores"] = {"paragraph_micro_f1": round(para["micro_f1"], 4),
                            "paragraph_macro_f1": round(para["macro_f1"], 4),
                            "span_flc_f1": round(span["f1"], 4),
                            "paragraph_ece": round(reliability["ece"], 4)}
    (a.out / "config.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    (a.out / "dev_report.json").write_text(json.dumps({"paragraph": para, "span": span}, indent=1) + "\n",
                                           encoding="utf-8")


if __name__ == "__main__":
    main()
