"""Train the check-worthiness head of the claims component.

    python -m redline.training.claims --data ../shared/data --out redline/models/claims

Data (`DATA/checkworthiness/`): ClaimBuster `claimbuster/train.json` and the CLEF
CheckThat! training debates of 2019 (task 1) and 2020 (task 5); a debate present in
both (same date) is taken once, from 2020 (its labels were revised).

Splits (seeded): ClaimBuster sentences 80/20 at random (validation: F1 of the
check-worthy class); CLEF debates 80/20 by debate (validation: MAP over the held-out
debates, the CLEF measure). ClaimBuster sentences that also occur verbatim in a held-out
CLEF debate are dropped from training.

Model: the technique encoder's frozen sentence states (its three feature layers, mean-pooled) +
lexical features -> standardise ->
logistic regression (class-balanced); C and the decision threshold are chosen by
5-fold cross-validation inside the training part only (threshold = best F1 of the
out-of-fold ClaimBuster predictions). The shipped weights are the model fitted on the
training part, so the printed validation figures are those of the shipped weights.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import random
import sys
import time
from pathlib import Path

import numpy as np

log = logging.getLogger("redline.training.claims")


def load_claimbuster(data: Path) -> list[tuple[str, int]]:
    rows = json.loads((data / "checkworthiness" / "claimbuster" / "train.json").read_text(encoding="utf-8"))
    return [(r["text"], int(r["label"])) for r in rows]


def load_clef(data: Path) -> dict[str, list[tuple[str, int]]]:
    """Debate name -> [(text, label)], 2020 preferred over 2019 for the same date."""
    from redline.components.claims import read_clef_lines

    root = data / "checkworthiness"
    debates: dict[str, list[tuple[str, int]]] = {}
    dates: dict[str, str] = {}
    for year in ("clef2020-task5", "clef2019-task1"):
        for path in sorted((root / year / "training").glob("*.tsv")):
            date = path.name[:8]
            if date in dates:
                continue
            dates[date] = path.stem
            debates[f"{year[:8]}/{path.stem}"] = [(t, int(lab or 0)) for _, _, t, lab in read_clef_lines(path)]
    return debates


def encode_cached(texts: list[str], cache: Path | None, tag: str) -> np.ndarray:
    """Claim features for texts, cached on disk by content hash (cache is optional)."""
    from redline.components.claims import N_LEX, claim_features, n_emb
    from redline.components.nlp import ENCODER_NAME, ENCODER_VERSION, get_encoder

    # The key names the technique weights too: their features change when they are retrained.
    enc = get_encoder()
    h = hashlib.sha1(("\x00".join(texts) + ENCODER_NAME + ENCODER_VERSION + enc.fingerprint + str(enc.layers)
                      + f"-{n_emb()}-{N_LEX}").encode("utf-8")
                     ).hexdigest()[:16]
    if cache:
        path = cache / f"claims-{tag}-{h}.npy"
        if path.exists():
            return np.load(path, allow_pickle=False)
    enc = get_encoder()
    feats = []
    t0 = time.time()
    step = 2048
    for i in range(0, len(texts), step):
        chunk = texts[i:i + step]
        feats.append(claim_features(enc.encode(chunk, batch_size=64), chunk))
        log.info("%s: encoded %d/%d sentences (%.0fs)", tag, min(i + step, len(texts)), len(texts), time.time() - t0)
    X = np.concatenate(feats) if feats else np.zeros((0, n_emb() + N_LEX), np.float32)
    if cache:
        cache.mkdir(parents=True, exist_ok=True)
        np.save(path, X)
    return X


def average_precision(scores: np.ndarray, labels: np.ndarray) -> float:
    order = np.argsort(-scores, kind="stable")
    y = labels[order]
    if y.sum() == 0:
        return 0.0
    hits = np.cumsum(y)
    prec = hits / np.arange(1, len(y) + 1)
    return float((prec * y).sum() / y.sum())


def f1_at(scores: np.ndarray, labels: np.ndarray, t: float) -> tuple[float, float, float]:
    pred = scores >= t
    tp = float((pred & (labels == 1)).sum())
    p = tp / max(pred.sum(), 1)
    r = tp / max((labels == 1).sum(), 1)
    return (2 * p * r / (p + r) if p + r else 0.0), p, r


def best_threshold(scores: np.ndarray, labels: np.ndarray) -> float:
    grid = np.linspace(0.05, 0.95, 91)
    f1s = [f1_at(scores, labels, t)[0] for t in grid]
    return float(grid[int(np.argmax(f1s))])


def fit_lr(X: np.ndarray, y: np.ndarray, C: float, w: np.ndarray | None, seed: int):
    from sklearn.linear_model import LogisticRegression

    mean = X.mean(0)
    scale = X.std(0) + 1e-6
    clf = LogisticRegression(C=C, max_iter=2000, class_weight="balanced", random_state=seed)
    clf.fit((X - mean) / scale, y, sample_weight=w)
    return mean, scale, clf.coef_.ravel(), float(clf.intercept_[0])


def predict(params, X: np.ndarray) -> np.ndarray:
    mean, scale, coef, b = params
    return 1.0 / (1.0 + np.exp(-(((X - mean) / scale) @ coef + b)))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="redline train-claims", description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=Path("../shared/data"))
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "models" / "claims")
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--limit", type=int, default=0, help="use at most N ClaimBuster sentences and N//10 lines "
                                                          "per CLEF debate, on 4 debates (smoke test)")
    ap.add_argument("--cache", type=Path, default=None, help="folder for cached features (optional)")
    ap.add_argument("--clef-weight", type=float, default=None,
                    help="sample weight of CLEF lines in training (default: chosen by cross-validation from 0 and 0.3)")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")

    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(args.threads)
    threadpool_limits(args.threads)  # BLAS threads of numpy / scikit-learn
    from redline.components.claims import N_LEX, ClaimModel, n_emb
    from redline.components.nlp import ENCODER_NAME, get_encoder

    rng = random.Random(args.seed)
    cb = load_claimbuster(args.data)
    clef = load_clef(args.data)
    if args.limit:
        rng.shuffle(cb)
        cb = cb[:args.limit]
        names = sorted(clef)[:4]
        clef = {n: clef[n][:max(args.limit // 10, 20)] for n in names}
    log.info("ClaimBuster %d sentences (%d check-worthy); CLEF %d debates, %d lines (%d check-worthy)",
             len(cb), sum(y for _, y in cb), len(clef), sum(len(v) for v in clef.values()),
             sum(y for v in clef.values() for _, y in v))

    # --- splits
    idx = list(range(len(cb)))
    rng.shuffle(idx)
    n_val = max(1, len(idx) // 5)
    cb_val_i, cb_tr_i = sorted(idx[:n_val]), sorted(idx[n_val:])
    names = sorted(clef)
    rng.shuffle(names)
    n_dval = max(1, len(names) // 5)
    clef_val, clef_tr = sorted(names[:n_dval]), sorted(names[n_dval:])
    held_texts = {" ".join(t.split()).lower() for n in clef_val for t, _ in clef[n]}
    before = len(cb_tr_i)
    cb_tr_i = [i for i in cb_tr_i if " ".join(cb[i][0].split()).lower() not in held_texts]
    log.info("ClaimBuster train %d (dropped %d found in held-out CLEF debates), validation %d; "
             "CLEF train debates %d, held-out %d: %s", len(cb_tr_i), before - len(cb_tr_i), len(cb_val_i),
             len(clef_tr), len(clef_val), ", ".join(clef_val))

    # --- features
    X_cb = encode_cached([t for t, _ in cb], args.cache, "cb")
    y_cb = np.asarray([y for _, y in cb])
    clef_X = {}
    for n in names:
        clef_X[n] = encode_cached([t for t, _ in clef[n]], args.cache, "clef-" + n.replace("/", "_"))
    clef_y = {n: np.asarray([y for _, y in clef[n]]) for n in names}

    Xtr_cb, ytr_cb = X_cb[cb_tr_i], y_cb[cb_tr_i]
    # CLEF training lines that are also ClaimBuster validation sentences stay out of training.
    val_texts = {" ".join(cb[i][0].split()).lower() for i in cb_val_i}
    keep = {n: np.asarray([" ".join(t.split()).lower() not in val_texts for t, _ in clef[n]], bool) for n in clef_tr}
    log.info("CLEF training lines dropped as ClaimBuster validation sentences: %d",
             sum(int((~k).sum()) for k in keep.values()))
    Xtr_cl = np.concatenate([clef_X[n][keep[n]] for n in clef_tr]) if clef_tr else np.zeros((0, X_cb.shape[1]))
    ytr_cl = np.concatenate([clef_y[n][keep[n]] for n in clef_tr]) if clef_tr else np.zeros(0, int)

    # --- model selection by 5-fold CV inside the training part (ClaimBuster folds; CLEF lines
    # of the training debates are added to every fold's training data with weight w)
    folds = np.arange(len(ytr_cb)) % 5
    np.random.RandomState(args.seed).shuffle(folds)
    weights = [args.clef_weight] if args.clef_weight is not None else [0.0, 0.3]
    Cs = (0.001, 0.003, 0.01)
    if args.limit:  # smoke test: one setting
        weights, Cs = weights[1:2] or weights[:1], (0.003,)
    best = None
    for w_cl in weights:
        for C in Cs:
            oof = np.zeros(len(ytr_cb))
            for k in range(5):
                tr, te = folds != k, folds == k
                if tr.sum() == 0 or te.sum() == 0 or len(set(ytr_cb[tr])) < 2:
                    continue
                X = np.concatenate([Xtr_cb[tr], Xtr_cl]) if w_cl > 0 else Xtr_cb[tr]
                y = np.concatenate([ytr_cb[tr], ytr_cl]) if w_cl > 0 else ytr_cb[tr]
                sw = np.concatenate([np.ones(tr.sum()), np.full(len(ytr_cl), w_cl)]) if w_cl > 0 else None
                oof[te] = predict(fit_lr(X, y, C, sw, args.seed), Xtr_cb[te])
            t = best_threshold(oof, ytr_cb)
            f1 = f1_at(oof, ytr_cb, t)[0]
            log.info("CV clef_weight=%.1f C=%.3f: out-of-fold ClaimBuster F1 %.4f at threshold %.2f", w_cl, C, f1, t)
            if best is None or f1 > best[0]:
                best = (f1, w_cl, C, t)
    cv_f1, w_cl, C, threshold = best
    log.info("chosen: clef_weight=%.1f C=%.3f threshold=%.2f (CV F1 %.4f)", w_cl, C, threshold, cv_f1)

    # --- fit on the training part, evaluate on validation
    X = np.concatenate([Xtr_cb, Xtr_cl]) if w_cl > 0 else Xtr_cb
    y = np.concatenate([ytr_cb, ytr_cl]) if w_cl > 0 else ytr_cb
    sw = np.concatenate([np.ones(len(ytr_cb)), np.full(len(ytr_cl), w_cl)]) if w_cl > 0 else None
    params = fit_lr(X, y, C, sw, args.seed)
    p_val = predict(params, X_cb[cb_val_i])
    f1, prec, rec = f1_at(p_val, y_cb[cb_val_i], threshold)
    aps = {n: average_precision(predict(params, clef_X[n]), clef_y[n]) for n in clef_val}
    clef_map = float(np.mean(list(aps.values()))) if aps else 0.0
    base_map = float(np.mean([clef_y[n].mean() for n in clef_val])) if clef_val else 0.0
    validation = {
        "claimbuster_val_sentences": len(cb_val_i),
        "claimbuster_f1_checkworthy": round(f1, 4),
        "claimbuster_precision": round(prec, 4),
        "claimbuster_recall": round(rec, 4),
        "clef_heldout_debates": clef_val,
        "clef_map": round(clef_map, 4),
        "clef_map_random_baseline": round(base_map, 4),
        "clef_ap_per_debate": {n: round(v, 4) for n, v in aps.items()},
        "cv_f1_train": round(cv_f1, 4),
    }
    config = {
        "name": "redline-claims",
        "encoder": ENCODER_NAME,
        "encoder_fingerprint": get_encoder().fingerprint,
        "features": f"{n_emb()}-d sentence embedding (mean-pooled layers "
                    f"{', '.join(map(str, get_encoder().layers))}, each L2-normalised) "
                    f"+ {N_LEX} lexical features",
        "threshold": round(threshold, 4),
        "C": C,
        "clef_weight": w_cl,
        "seed": args.seed,
        "limit": args.limit,
        "train": {"claimbuster_sentences": len(cb_tr_i), "clef_debates": clef_tr if w_cl > 0 else []},
        "validation": validation,
        "command": "python -m redline.training.claims " + " ".join(argv if argv is not None else sys.argv[1:]),
    }
    model = ClaimModel.from_arrays(params[0], params[1], params[2], params[3], config)
    model.save(args.out)
    print(json.dumps({"out": str(args.out), **validation}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
