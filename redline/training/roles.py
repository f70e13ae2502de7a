"""Train the portrayal network of the roles component (`redline/models/portrayal.py`).

    python -m redline.training.roles --data ../shared/data --out redline/models/roles --cache runs/roles

Data (all of it read from `DATA`, none of it copied):

* `semeval2025-task10-en/`: 686 mentions with a main role and fine roles (end offsets
  inclusive; 11 off by 1-2 characters, moved to the nearest occurrence). An item is the
  mention together with the other occurrences of its string in the article.
* `narrative-frames-climate/`: 1,944 entity roles (hero / villain / victim =
  Protagonist / Antagonist / Innocent) without offsets: an item is every whole-word
  occurrence of the entity string in its article (pronoun entities are skipped; the
  majority role where annotators disagree; ties skipped).
* `newsmtsc/train.jsonl`: 8,738 targets with the sentence's sentiment toward each: an
  auxiliary head (negative / neutral / positive) that teaches praise and blame;
  `devtest_rw.jsonl` is its test set.

Evaluation: 5 folds held out by article, over SemEval and narrative frames at once
(fold k holds out SemEval fold k and narrative fold k; NewsMTSC train is always in
training). The out-of-fold predictions give the figures in the model card, the
temperature that calibrates the main-role probability, the abstention threshold
(`main: null`) and the fine-role ratio. The fold models are kept under `--cache`
(`folds/k/`) so `bench/roles.py` can score the full pipeline on held-out articles. The
shipped model is then trained on everything with the same settings.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import pickle
import random
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

log = logging.getLogger("redline.training.roles")

PRONOUNS = {"he", "she", "it", "they", "we", "i", "you", "him", "her", "them", "us", "his", "its", "their",
            "our", "who", "this", "that", "these", "those"}
NARRATIVE_ROLE = {"hero": "Protagonist", "villain": "Antagonist", "victim": "Innocent"}
POLARITY = {2.0: 0, 4.0: 1, 6.0: 2}


@dataclass
class Item:
    """One training or test item: an actor-like group of mention windows and its labels."""

    source: str  # semeval | narrative | newsmtsc
    article: str
    windows: list = field(default_factory=list)
    main: int = -1
    fine: np.ndarray | None = None
    sentiment: int = -1
    key: str = ""  # semeval: row index; narrative: entity string


# ----------------------------------------------------------------------------- extraction

class Extractor:
    """Article pass + spaCy parse -> mention windows (the same code path as the component)."""

    def __init__(self):
        from redline.components.nlp import get_encoder, get_nlp

        self.model = get_encoder().model
        self.nlp = get_nlp()
        layers = self.model.feature_layers
        self.layers = (layers[2], layers[1])  # top and middle

    def article(self, text: str):
        out = self.model.run(text, keep_hidden=False, layers=self.layers)
        return out, self.nlp(text)

    def windows(self, text, out, sp, occurrences, quotes=None):
        from redline.components.roles import actor_windows
        from redline.models.portrayal import quote_mask, token_states

        quotes = quote_mask(text) if quotes is None else quotes
        # Raw states here; the PCA is fitted on them and applied to every window afterwards.
        return actor_windows(token_states(out, self.layers), out, sp, quotes, occurrences)


def nearest(occ: list[tuple[int, int]], focus: tuple[int, int], k: int) -> list[tuple[int, int]]:
    """The focus mention and the k-1 occurrences nearest it, in text order."""
    rest = sorted((o for o in occ if o != focus), key=lambda o: abs(o[0] - focus[0]))[:k - 1]
    return sorted([focus] + rest)


def load_semeval(data: Path, ex: Extractor, limit: int = 0) -> list[Item]:
    from redline.components.roles import fix_offsets, occurrences, read_article, read_mentions
    from redline.models.portrayal import ALL_FINE, MAIN_ROLES, MAX_MENTIONS

    root = data / "semeval2025-task10-en"
    rows = read_mentions(root / "train-annotations.txt")
    by_article: dict[str, list[int]] = defaultdict(list)
    for i, r in enumerate(rows):
        by_article[r[0]].append(i)
    items = []
    for n, (aid, idxs) in enumerate(sorted(by_article.items())):
        if limit and n >= limit:
            break
        text = read_article(root / "train-documents", aid)
        out, sp = ex.article(text)
        for i in idxs:
            _, mention, s, e, labels = rows[i]
            fs, fe = fix_offsets(text, mention, s, e)
            occ = nearest(occurrences(text, mention) or [(fs, fe)], (fs, fe), MAX_MENTIONS)
            fine = np.zeros(len(ALL_FINE), np.float32)
            for f in labels[1:]:
                if f in ALL_FINE:
                    fine[ALL_FINE.index(f)] = 1.0
            items.append(Item("semeval", aid, ex.windows(text, out, sp, occ), MAIN_ROLES.index(labels[0]), fine,
                              key=str(i)))
    log.info("semeval: %d items in %d articles", len(items), len({it.article for it in items}))
    return items


def narrative_gold(data: Path) -> tuple[dict[str, str], dict[str, list[tuple[str, str]]]]:
    """Narrative frames: article texts by ID, and per article its (entity string, main
    role) pairs: the majority role over annotators, even splits and pronouns left out."""
    root = data / "narrative-frames-climate"
    csv.field_size_limit(10_000_000)
    with open(root / "articles_metadata.tsv", encoding="utf-8", newline="") as f:
        texts = {r["ID"]: r["text"] for r in csv.DictReader(f, delimiter="\t")}
    votes: dict[tuple[str, str], Counter] = defaultdict(Counter)
    with open(root / "role_and_frame_annoations.tsv", encoding="utf-8", newline="") as f:
        for r in csv.DictReader(f, delimiter="\t"):
            if r["role"] in NARRATIVE_ROLE and r["entity"].strip().lower() not in PRONOUNS:
                votes[(r["ID"], r["entity"].strip())][NARRATIVE_ROLE[r["role"]]] += 1
    by_article: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for (aid, ent), c in votes.items():
        top = c.most_common(2)
        if len(top) > 1 and top[0][1] == top[1][1]:
            continue  # annotators split evenly: no label
        by_article[aid].append((ent, top[0][0]))
    return texts, by_article


def load_narrative(data: Path, ex: Extractor, limit: int = 0) -> list[Item]:
    from redline.components.roles import occurrences
    from redline.models.portrayal import MAIN_ROLES, spread

    texts, by_article = narrative_gold(data)
    items = []
    missing = 0
    for n, aid in enumerate(sorted(by_article, key=lambda a: int(a) if a.isdigit() else a)):
        if limit and n >= limit:
            break
        text = texts.get(aid)
        if not text:
            continue
        out, sp = ex.article(text)
        for ent, role in by_article[aid]:
            occ = occurrences(text, ent) or occurrences(text, ent, ignore_case=True)
            if not occ:
                missing += 1
                continue
            items.append(Item("narrative", aid, ex.windows(text, out, sp, spread(occ)), MAIN_ROLES.index(role),
                              key=ent))
    log.info("narrative frames: %d items in %d articles (%d entity strings not in their article)", len(items),
             len({it.article for it in items}), missing)
    return items


def load_newsmtsc(path: Path, ex: Extractor, limit: int = 0) -> list[Item]:
    items = []
    with open(path, encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    if limit:
        rows = rows[:limit]
    texts = [r["sentence_normalized"] for r in rows]
    for n, (r, sp) in enumerate(zip(rows, ex.nlp.pipe(texts, batch_size=64))):
        text = texts[n]
        out = ex.model.run(text, keep_hidden=False, layers=ex.layers)
        for t in r["targets"]:
            s, e = int(t["from"]), int(t["to"])
            if not (0 <= s < e <= len(text)) or float(t["polarity"]) not in POLARITY:
                continue
            items.append(Item("newsmtsc", str(n), ex.windows(text, out, sp, [(s, e)]),
                              sentiment=POLARITY[float(t["polarity"])], key=t.get("mention", "")))
        if (n + 1) % 2000 == 0:
            log.info("newsmtsc %s: %d/%d sentences", path.name, n + 1, len(rows))
    log.info("newsmtsc %s: %d targets", path.name, len(items))
    return items


# ----------------------------------------------------------------------------- PCA

def fit_pca(items: list[Item], dim: int, seed: int, sample: int = 60_000) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    rows = []
    for it in items:
        for w in it.windows:
            rows.append(w.states[:w.length])
    X = np.concatenate(rows).astype(np.float32)
    if len(X) > sample:
        X = X[rng.choice(len(X), sample, replace=False)]
    mean = X.mean(0)
    _, _, vt = np.linalg.svd(X - mean, full_matrices=False)
    return mean, vt[:dim].T.astype(np.float32)


def project_items(items: list[Item], mean: np.ndarray, proj: np.ndarray) -> None:
    """Replace each window's raw states by their fixed PCA projection (float16), in place."""
    for it in items:
        for w in it.windows:
            w.states = ((w.states.astype(np.float32) - mean) @ proj).astype(np.float16)


# ----------------------------------------------------------------------------- training

def _batch(net, items):
    from redline.models.portrayal import stack_groups

    return net(*stack_groups([it.windows for it in items]), projected=True)


def train_net(items: list[Item], pca: tuple[np.ndarray, np.ndarray], width: int, args, seed: int):
    import torch
    from torch import nn

    from redline.models.portrayal import PortrayalNet

    torch.manual_seed(seed)
    rng = random.Random(seed)
    net = PortrayalNet(width, args.pca_dim, args.d, n_cues=len(items[0].windows[0].cues), dropout=args.dropout)
    net.pca_mean.copy_(torch.from_numpy(pca[0]))
    net.pca_proj.copy_(torch.from_numpy(pca[1]))
    opt = torch.optim.AdamW([p for p in net.parameters() if p.requires_grad], lr=args.lr, weight_decay=0.01)
    roles = [it for it in items if it.main >= 0]
    semeval = [it for it in roles if it.source == "semeval"]
    senti = [it for it in items if it.sentiment >= 0]
    counts = np.bincount([it.main for it in roles], minlength=3).astype(np.float32)
    weights = torch.tensor((counts.sum() / (3 * np.maximum(counts, 1))) ** args.class_power, dtype=torch.float32)
    ce_main = nn.CrossEntropyLoss(weight=weights, label_smoothing=0.05)
    ce_sent = nn.CrossEntropyLoss(label_smoothing=0.05)
    bce = nn.BCEWithLogitsLoss()
    steps_per_epoch = (len(roles) + len(semeval) * (args.semeval_repeat - 1) + min(len(senti), args.senti_per_epoch)) \
        // args.batch + 1
    total = steps_per_epoch * args.epochs
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=total, pct_start=0.1)
    step = 0
    for epoch in range(args.epochs):
        net.train()
        pool = roles + semeval * (args.semeval_repeat - 1) + rng.sample(senti, min(len(senti), args.senti_per_epoch))
        rng.shuffle(pool)
        t0, tot = time.time(), 0.0
        for b in range(0, len(pool), args.batch):
            batch = pool[b:b + args.batch]
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.bf16):
                main, fine, sent = _batch(net, batch)
            main, fine, sent = main.float(), fine.float(), sent.float()
            loss = torch.zeros(())
            ym = torch.tensor([it.main for it in batch])
            if (ym >= 0).any():
                loss = loss + ce_main(main[ym >= 0], ym[ym >= 0])
            fsel = [i for i, it in enumerate(batch) if it.fine is not None]
            if fsel:
                yf = torch.from_numpy(np.stack([batch[i].fine for i in fsel]))
                loss = loss + args.fine_weight * bce(fine[fsel], yf)
            ys = torch.tensor([it.sentiment for it in batch])
            if (ys >= 0).any():
                loss = loss + args.senti_weight * ce_sent(sent[ys >= 0], ys[ys >= 0])
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            opt.step()
            if step < total - 1:
                sched.step()
            step += 1
            tot += float(loss.detach())
        log.info("epoch %d: loss %.4f (%.0fs)", epoch + 1, tot / max(1, len(pool) // args.batch), time.time() - t0)
    return net.eval()


def train_members(items: list[Item], pca, width: int, args, seed: int):
    """One network, or `args.members` networks from seeds seed, seed + 1000, ... averaged."""
    from redline.models.portrayal import PortrayalEnsemble

    nets = [train_net(items, pca, width, args, seed + 1000 * j) for j in range(args.members)]
    return nets[0] if len(nets) == 1 else PortrayalEnsemble(nets).eval()


def predict_logits(net, items: list[Item], batch: int = 64):
    import torch

    mains, fines, sents = [], [], []
    with torch.inference_mode():
        for b in range(0, len(items), batch):
            m, f, s = _batch(net, items[b:b + batch])
            mains.append(m.float().numpy())
            fines.append(f.float().numpy())
            sents.append(s.float().numpy())
    return np.concatenate(mains), np.concatenate(fines), np.concatenate(sents)


# ----------------------------------------------------------------------------- metrics

def macro_f1(y: np.ndarray, p: np.ndarray, n: int) -> float:
    f1s = []
    for c in range(n):
        tp = np.sum((p == c) & (y == c))
        fp = np.sum((p == c) & (y != c))
        fn = np.sum((p != c) & (y == c))
        f1s.append(2 * tp / max(2 * tp + fp + fn, 1))
    return float(np.mean(f1s))


def softmax(z: np.ndarray, t: float = 1.0) -> np.ndarray:
    z = z / t
    z = z - z.max(1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(1, keepdims=True)


def fit_temperature(logits: np.ndarray, y: np.ndarray) -> float:
    best = (1e9, 1.0)
    for t in np.arange(0.4, 4.01, 0.05):
        p = softmax(logits, t)
        nll = -np.mean(np.log(p[np.arange(len(y)), y] + 1e-12))
        best = min(best, (nll, float(t)))
    return round(best[1], 2)


def ece(probs: np.ndarray, y: np.ndarray, bins: int = 10) -> float:
    conf, pred = probs.max(1), probs.argmax(1)
    err = 0.0
    for lo in np.linspace(0, 1, bins, endpoint=False):
        sel = (conf > lo) & (conf <= lo + 1 / bins)
        if sel.any():
            err += sel.mean() * abs(conf[sel].mean() - (pred[sel] == y[sel]).mean())
    return float(err)


def fine_exact_match(main_logits, fine_logits, items, ratio: float) -> float:
    from redline.models.portrayal import ALL_FINE, MAIN_OF, MAIN_ROLES

    pf = 1 / (1 + np.exp(-fine_logits))
    hits = 0
    for ml, fp, it in zip(main_logits, pf, items):
        main = MAIN_ROLES[int(np.argmax(ml))]
        allowed = [i for i, f in enumerate(ALL_FINE) if MAIN_OF[f] == main]
        best = max(allowed, key=lambda i: fp[i])
        pred = {i for i in allowed if i == best or fp[i] >= ratio * fp[best]}
        hits += pred == set(np.nonzero(it.fine)[0].tolist())
    return hits / max(len(items), 1)


def role_scores(logits: np.ndarray, y: np.ndarray, t: float = 1.0) -> dict:
    p = softmax(logits, t)
    pred = p.argmax(1)
    return {"n": int(len(y)), "accuracy": round(float((pred == y).mean()), 4),
            "macro_f1": round(macro_f1(y, pred, 3), 4),
            "majority_accuracy": round(float(np.bincount(y, minlength=3).max() / max(len(y), 1)), 4),
            "majority_macro_f1": round(macro_f1(y, np.full_like(y, np.bincount(y, minlength=3).argmax()), 3), 4),
            "ece": round(ece(p, y), 4)}


def abstention_curve(logits: np.ndarray, y: np.ndarray, t: float) -> list[dict]:
    p = softmax(logits, t)
    conf, pred = p.max(1), p.argmax(1)
    out = []
    for tau in np.arange(0.34, 0.96, 0.02):
        sel = conf >= tau
        out.append({"abstain_below": round(float(tau), 2), "coverage": round(float(sel.mean()), 4),
                    "accuracy": round(float((pred[sel] == y[sel]).mean()) if sel.any() else 0.0, 4)})
    return out


def choose_abstention(curve: list[dict], min_coverage: float) -> dict:
    """The threshold with the best covered accuracy among those keeping `min_coverage`."""
    ok = [c for c in curve if c["coverage"] >= min_coverage]
    return max(ok, key=lambda c: (c["accuracy"], c["coverage"])) if ok else curve[0]


# ----------------------------------------------------------------------------- main

def folds_of(articles: list[str], k: int, seed: int) -> dict[str, int]:
    arts = sorted(set(articles))
    random.Random(seed).shuffle(arts)
    return {a: i % k for i, a in enumerate(arts)}


def config_for(args, width: int, layers, extra: dict | None = None) -> dict:
    from redline.components.nlp import ENCODER_NAME, get_encoder
    from redline.models.portrayal import ALL_FINE, MAIN_ROLES, MAX_MENTIONS, WINDOW

    cfg = {
        "name": "redline-portrayal",
        "version": 2,
        "encoder": ENCODER_NAME,
        "encoder_fingerprint": get_encoder().fingerprint,
        "layers": list(layers),
        "width": width, "pca_dim": args.pca_dim, "d": args.d, "n_cues": 12, "members": args.members,
        "window": WINDOW, "max_mentions": MAX_MENTIONS,
        "main_roles": MAIN_ROLES, "fine_roles": ALL_FINE,
        "train": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
    }
    cfg.update(extra or {})
    return cfg


def save_net(net, cfg: dict, folder: Path) -> None:
    from redline.models.portrayal import PortrayalModel

    PortrayalModel.from_net(net, cfg).save(folder)


def cross_validate(semeval, narrative, senti_train, senti_test, pca, width, layers, args) -> dict:
    """Fold models, out-of-fold figures, calibration and abstention (see the module docstring)."""
    sem_fold = folds_of([it.article for it in semeval], args.folds, args.seed)
    nar_fold = folds_of([it.article for it in narrative], args.folds, args.seed)
    oof_sem = [None] * len(semeval)
    oof_nar = [None] * len(narrative)
    senti_f1 = []
    for k in range(args.folds):
        train = [it for it in semeval if sem_fold[it.article] != k] + \
                [it for it in narrative if nar_fold[it.article] != k] + senti_train
        log.info("fold %d: %d training items", k, len(train))
        net = train_members(train, pca, width, args, args.seed + k)
        sem_idx = [i for i, it in enumerate(semeval) if sem_fold[it.article] == k]
        nar_idx = [i for i, it in enumerate(narrative) if nar_fold[it.article] == k]
        for idx, part, oof in ((sem_idx, semeval, oof_sem), (nar_idx, narrative, oof_nar)):
            if idx:
                m, f, _ = predict_logits(net, [part[i] for i in idx])
                for j, i in enumerate(idx):
                    oof[i] = (m[j], f[j])
        if senti_test:
            _, _, s = predict_logits(net, senti_test)
            senti_f1.append(macro_f1(np.array([it.sentiment for it in senti_test]), s.argmax(1), 3))
            log.info("fold %d NewsMTSC devtest_rw macro-F1 %.4f", k, senti_f1[-1])
        fold_cfg = config_for(args, width, layers, {
            "fold": k, "folds": args.folds, "seed": args.seed,
            "held_out_semeval_articles": sorted(a for a, f in sem_fold.items() if f == k),
            "held_out_narrative_articles": sorted(a for a, f in nar_fold.items() if f == k)})
        save_net(net, fold_cfg, args.cache / "folds" / str(k))

    ms = np.stack([o[0] for o in oof_sem])
    fs = np.stack([o[1] for o in oof_sem])
    ys = np.array([it.main for it in semeval])
    mn = np.stack([o[0] for o in oof_nar]) if narrative else np.zeros((0, 3))
    yn = np.array([it.main for it in narrative])
    temperature = fit_temperature(np.concatenate([ms, mn]), np.concatenate([ys, yn]))
    ratio = max((1.0, 0.9, 0.8, 0.7, 0.6, 0.5), key=lambda r: fine_exact_match(ms, fs, semeval, r))
    curve = abstention_curve(ms, ys, temperature)
    chosen = choose_abstention(curve, args.min_coverage)
    report = {
        "protocol": f"{args.folds} folds held out by article (seed {args.seed}), SemEval and narrative frames "
                    "folded together; NewsMTSC train always in training",
        "semeval": role_scores(ms, ys, temperature) | {
            "fine_exact_match": round(fine_exact_match(ms, fs, semeval, ratio), 4)},
        "narrative_frames_items": role_scores(mn, yn, temperature) if narrative else {},
        "newsmtsc_devtest_rw_macro_f1": round(float(np.mean(senti_f1)), 4) if senti_f1 else None,
        "newsmtsc_fold_range": [round(min(senti_f1), 4), round(max(senti_f1), 4)] if senti_f1 else None,
        "temperature": temperature, "fine_ratio": ratio,
        "abstention": chosen,
        "abstention_curve": curve,
    }
    print(json.dumps({k: v for k, v in report.items() if k != "abstention_curve"}, indent=2))
    (args.cache / "cv_report.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return report


class _ItemUnpickler(pickle.Unpickler):
    """Reads the window cache whether it was written under `python -m` (as `__main__.Item`)
    or through `redline train-roles`."""

    def find_class(self, module, name):
        return Item if name == "Item" else super().find_class(module, name)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="redline train-roles", description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=Path("../shared/data"))
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "models" / "roles")
    ap.add_argument("--cache", type=Path, default=Path("runs/roles"), help="extracted windows and fold models")
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--limit", type=int, default=0, help="first N articles / sentences of each set (smoke test)")
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--d", type=int, default=256)
    ap.add_argument("--pca-dim", type=int, default=256)
    ap.add_argument("--dropout", type=float, default=0.2)
    ap.add_argument("--class-power", type=float, default=0.5, help="class weights: (inverse frequency) ** this")
    ap.add_argument("--semeval-repeat", type=int, default=2)
    ap.add_argument("--senti-per-epoch", type=int, default=1500)
    ap.add_argument("--senti-weight", type=float, default=0.5)
    ap.add_argument("--fine-weight", type=float, default=1.0)
    ap.add_argument("--min-coverage", type=float, default=0.7)
    ap.add_argument("--members", type=int, default=1, help="networks from different seeds, logits averaged")
    ap.add_argument("--cv-only", action="store_true", help="report the folds; do not train the shipped model")
    ap.add_argument("--final-only", action="store_true",
                    help="train the shipped model with the settings of an earlier run's CACHE/cv_report.json")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--no-bf16", dest="bf16", action="store_false")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    import torch

    torch.set_num_threads(args.threads)
    from redline.models.technique_net import cpu_runs_bf16_fast
    args.bf16 = args.bf16 and cpu_runs_bf16_fast()

    ex = Extractor()
    width = int(ex.model.net.encoder.config.hidden_size)
    args.cache.mkdir(parents=True, exist_ok=True)
    cache_file = args.cache / f"items-{ex.model.config.get('name')}-{args.limit}-{args.pca_dim}.pkl"
    if cache_file.exists():
        # Our own cache, written below by this script (not user input).
        with open(cache_file, "rb") as f:
            semeval, narrative, senti_train, senti_test, pca = _ItemUnpickler(f).load()
        log.info("items from %s", cache_file)
    else:
        t0 = time.time()
        semeval = load_semeval(args.data, ex, args.limit)
        narrative = load_narrative(args.data, ex, args.limit)
        senti_train = load_newsmtsc(args.data / "newsmtsc" / "train.jsonl", ex, args.limit * 20)
        senti_test = load_newsmtsc(args.data / "newsmtsc" / "devtest_rw.jsonl", ex, args.limit * 20)
        pca = fit_pca(semeval + narrative + senti_train, args.pca_dim, args.seed)
        for part in (semeval, narrative, senti_train, senti_test):
            project_items(part, *pca)
        with open(cache_file, "wb") as f:
            pickle.dump((semeval, narrative, senti_train, senti_test, pca), f)
        log.info("extracted in %.0fs", time.time() - t0)

    if args.final_only:
        report = json.loads((args.cache / "cv_report.json").read_text(encoding="utf-8"))
    else:
        report = cross_validate(semeval, narrative, senti_train, senti_test, pca, width, ex.layers, args)
    if args.cv_only:
        return 0
    temperature, ratio, chosen = report["temperature"], report["fine_ratio"], report["abstention"]

    net = train_members(semeval + narrative + senti_train, pca, width, args, args.seed)
    cfg = config_for(args, width, ex.layers, {
        "temperature": temperature, "fine_ratio": ratio, "abstain_below": chosen["abstain_below"],
        "cross_validation": {k: v for k, v in report.items() if k != "abstention_curve"},
        "train_items": {"semeval": len(semeval), "narrative_frames": len(narrative), "newsmtsc": len(senti_train)}})
    save_net(net, cfg, args.out)
    log.info("saved %s", args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
