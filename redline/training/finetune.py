"""Fine-tune a trained technique model on one's own labels (`redline train --labels`).

A newsroom's annotations (redline JSONL, a brat folder or a Label Studio export, read by
`redline.io.exchange.read_documents`) adapt the shipped model to its texts and may add
techniques of its own. What it does, and why:

* The heads grow: the model's techniques stay first, in their order, and each new name
  gets a row appended to the token and span technique heads, initialised to the mean of
  the existing rows (plus a little seeded noise so that two new names can part): a new
  technique starts as "an average technique", neither favoured nor ruled out, and the
  old rows are kept as trained.
* Only the top of the encoder learns. The layers up to the highest of the model's
  `feature_layers` stay frozen, so the states the claims and roles heads read are the
  base model's, bit for bit (their weights are copied from the base folder, not
  re-quantized), and those heads need no retraining. For the shipped 6-layer model that
  is the top layer plus the heads. It also makes training cheap: the frozen layers run
  once per window, and each epoch runs only the top.
* A held-out part of the documents (--heldout, 20% by default) is scored with the base
  model and with the fine-tuned one, when there are enough documents to hold some out
  (at least MIN_HELDOUT_DOCS, leaving MIN_TRAIN_DOCS); otherwise the model card says no
  figure was measured. The documents are taken as fully annotated: text without a label
  is taught as "no technique here".
* The decoding settings, span score, threshold and boundary rules are the base model's
  (fitted on PTC dev): a few documents are too few to refit them. The base's lexical TC
  member and stacker know only its own techniques and are not carried over: technique
  labels come from the network's span head.

The output is an ordinary technique model folder (config.json, model.safetensors,
MODEL_CARD.md), which `redline analyze --model FOLDER` and `REDLINE_TECHNIQUE_MODEL` load.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import random
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from redline.doc import Document
from redline.errors import InputError, ModelError
from redline.io.ptc import Label

log = logging.getLogger("redline.training.finetune")

MIN_HELDOUT_DOCS = 2
MIN_TRAIN_DOCS = 3
MAX_TECHNIQUE_NAME = 100


@dataclass
class FinetuneConfig:
    labels: Path  # redline JSONL, a brat folder (or .ann file) or a Label Studio export
    out: Path
    base: Path | None = None  # the model to start from (None: $REDLINE_TECHNIQUE_MODEL, else the shipped one)
    name: str | None = None  # the model's name in outputs (None: the folder's name)
    # 8: on the test fixture a new technique with three examples was still unlearnt after 4
    # epochs (its spans went to old techniques) and learnt after 8; an epoch runs only the
    # top layer and the heads, so each costs little.
    epochs: int = 8
    lr: float = 3e-5  # the unfrozen encoder layers: small, a few documents must not undo PTC training
    head_lr: float = 5e-4
    batch_size: int = 4  # small batches: a handful of documents still gives several steps per epoch
    heldout: float = 0.2
    seed: int = 13
    train_stride: int = 192
    pos_weight: float = 2.0  # the loss weights of training/technique.py
    tech_loss: float = 0.5
    span_loss: float = 1.0


def resolve_base(base: Path | None) -> Path:
    """The model folder to start from: `base`, else $REDLINE_TECHNIQUE_MODEL, else the shipped one."""
    from redline.components.tagger import DEFAULT_MODEL_DIR

    return Path(base or os.environ.get("REDLINE_TECHNIQUE_MODEL") or DEFAULT_MODEL_DIR)


def check_out(out: Path, base_dir: Path) -> None:
    """Refuse to write over the model being fine-tuned (the shipped one, say), or onto a file."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out}: exists and is not a folder")
    if out.resolve() == base_dir.resolve():
        raise InputError(f"--out {out} is the model being fine-tuned; write the new model to another folder")


# ----------------------------------------------------------------------------- the labels

def read_label_documents(path: Path) -> tuple[list[Document], list[str]]:
    """The annotated documents, and the errors of those that could not be read (skipped)."""
    from redline.io.exchange import read_documents

    errors: list[str] = []
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file or folder")
    docs = list(read_documents(path, on_error=lambda exc: errors.append(str(exc))))
    seen: dict[str, int] = {}
    for doc in docs:
        if doc.id in seen:
            raise InputError(f"{path}: two documents have the id {doc.id!r}; ids must be unique "
                             "(the held-out scores match labels by document id)")
        seen[doc.id] = 1
        for s in doc.spans:
            check_technique_name(s.technique, f"{path}: document {doc.id}")
    docs = [d for d in docs if d.text.strip()]
    if not docs:
        detail = f" ({len(errors)} could not be read; the first: {errors[0]})" if errors else ""
        raise InputError(f"{path}: no annotated documents with text to learn from{detail}")
    return docs, errors


def check_technique_name(name: str, where: str) -> None:
    """A name a model can carry and PTC label lines can hold (tab-separated)."""
    if not name.strip() or len(name) > MAX_TECHNIQUE_NAME or any(c in name for c in "\t\r\n") \
            or name != name.strip():
        raise InputError(f"{where}: technique name {name[:60]!r} must be 1 to {MAX_TECHNIQUE_NAME} characters, "
                         "without tabs, line breaks or surrounding spaces")


def split_heldout(docs: list[Document], fraction: float, seed: int) -> tuple[list[Document], list[Document], str]:
    """(train, held-out, why none is held out: '' when some is). Seeded and by document:
    spans of one article never fall on both sides."""
    n_held = int(round(fraction * len(docs)))
    if fraction <= 0:
        return list(docs), [], "no part was held out (--heldout 0)"
    if n_held < MIN_HELDOUT_DOCS or len(docs) - n_held < MIN_TRAIN_DOCS:
        return list(docs), [], (f"{len(docs)} documents are too few to hold {fraction:.0%} out (it needs at least "
                                f"{MIN_HELDOUT_DOCS} held out and {MIN_TRAIN_DOCS} to train on); "
                                "all were used for training")
    order = sorted(docs, key=lambda d: d.id)
    random.Random(seed).shuffle(order)
    held_ids = {d.id for d in order[:n_held]}
    return [d for d in docs if d.id not in held_ids], [d for d in docs if d.id in held_ids], ""


def technique_counts(docs: list[Document]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for d in docs:
        for s in d.spans:
            counts[s.technique] = counts.get(s.technique, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def _labels(docs: list[Document]) -> list[Label]:
    return [Label(d.id, s.technique, s.start, s.end) for d in docs for s in d.spans]


# ----------------------------------------------------------------------------- the network

def extend_heads(net, n_new: int, seed: int) -> None:
    """Append `n_new` rows to the technique heads (token and span), in place.

    New rows start as the mean of the trained rows (weights and bias) plus seeded noise of
    a hundredth of the rows' spread: the old rows are untouched, so before any training
    the old techniques' logits are the base model's (to float rounding)."""
    if n_new <= 0:
        return
    gen = torch.Generator().manual_seed(seed)

    def grown(layer: nn.Linear) -> nn.Linear:
        w, b = layer.weight.data, layer.bias.data
        noise = torch.randn((n_new, w.shape[1]), generator=gen) * (w.std(0, keepdim=True) * 0.01)
        new = nn.Linear(layer.in_features, layer.out_features + n_new)
        new.weight.data = torch.cat([w, w.mean(0, keepdim=True).expand(n_new, -1) + noise])
        new.bias.data = torch.cat([b, b.mean().expand(n_new)])
        return new

    net.token_tech = grown(net.token_tech)
    net.span_head[-1] = grown(net.span_head[-1])


def trainable_names(net, feature_layers: tuple[int, ...]) -> set[str]:
    """The parameters fine-tuning may change: the encoder layers above the highest feature
    layer (hidden state k is layer k-1's output, so layers k..top) and every head."""
    top = max(feature_layers)
    names = set()
    for name, _ in net.named_parameters():
        if not name.startswith("encoder."):
            names.add(name)
            continue
        parts = name.split(".")
        if parts[1:3] == ["encoder", "layer"] and int(parts[3]) >= top:
            names.add(name)
    return names


# ----------------------------------------------------------------------------- training

def finetune(cfg: FinetuneConfig) -> dict:
    """Fine-tune, write the model folder with its card, and return what was measured."""
    from redline.models.technique_net import TechniqueModel, cpu_runs_bf16_fast
    from redline.training.technique import TrainConfig, build_examples, collate, linear_warmup_decay, set_seed

    t_start = time.time()
    base_dir = resolve_base(cfg.base)
    # As the user named it: the card and config do not carry this machine's install path.
    base_shown = str(cfg.base) if cfg.base else (
        os.environ.get("REDLINE_TECHNIQUE_MODEL") or "the model shipped with redline")
    out = Path(cfg.out)
    check_out(out, base_dir)
    if not 0.0 <= cfg.heldout < 1.0:
        raise InputError(f"--heldout {cfg.heldout}: give a fraction from 0 to below 1")
    if cfg.epochs < 1:
        raise InputError("--epochs must be at least 1")
    docs, read_errors = read_label_documents(cfg.labels)
    for err in read_errors:
        log.warning("skipped: %s", err)
    train_docs, held_docs, why_not_held = split_heldout(docs, cfg.heldout, cfg.seed)

    set_seed(cfg.seed)
    base = TechniqueModel(base_dir, precision="fp32")  # fp32 weights to train from
    if len(base.nets) > 1:
        log.warning("%s is an ensemble of %d networks: fine-tuning its first", base_dir, len(base.nets))
    techniques = list(base.techniques)
    new = [t for t in dict.fromkeys(s.technique for d in docs for s in d.spans) if t not in techniques]
    techniques += new
    index = {t: i for i, t in enumerate(techniques)}

    base_scores = score_model(base, held_docs) if held_docs else None

    net = base.net
    extend_heads(net, len(new), cfg.seed)
    train_names = trainable_names(net, base.feature_layers)
    for name, p in net.named_parameters():
        p.requires_grad_(name in train_names)
    top = max(base.feature_layers)
    tok = base.tokenizer
    tcfg = TrainConfig(data=Path("."), out=out, window=base.window, train_stride=cfg.train_stride)
    articles = {d.id: d.text for d in train_docs}
    by_doc: dict[str, list[Label]] = {}
    for lab in _labels(train_docs):
        by_doc.setdefault(lab.article_id, []).append(lab)
    examples = build_examples(tok, articles, by_doc, tcfg, tech_index=index)
    examples = [ex for ex in examples if len(ex["ids"])]
    n_tech = len(techniques)
    use_bf16 = cpu_runs_bf16_fast()
    encoder = net.encoder
    lower, upper = encoder.encoder.layer[:top], encoder.encoder.layer[top:]

    # The frozen layers, once per window: their output is what the trained layers read.
    net.eval()
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=use_bf16):
        for b in range(0, len(examples), 8):
            batch = examples[b:b + 8]
            ids, mask, *_ = collate(batch, tok.cls_token_id, tok.sep_token_id, tok.pad_token_id, n_tech)
            x = encoder.embeddings(ids)
            bias = encoder.attention_bias(ids, mask, x.dtype)
            for layer in lower:
                x = layer(x, bias)
            for r, ex in enumerate(batch):
                ex["frozen"] = x[r, :len(ex["ids"]) + 2].float()
    log.info("fine-tuning on %d documents (%d windows, %d spans); %d held out; new techniques: %s",
             len(train_docs), len(examples), sum(len(d.spans) for d in train_docs), len(held_docs),
             ", ".join(new) or "none")

    params = dict(net.named_parameters())
    enc_params = [params[n] for n in sorted(train_names) if n.startswith("encoder.")]
    head_params = [params[n] for n in sorted(train_names) if not n.startswith("encoder.")]
    opt = torch.optim.AdamW([{"params": enc_params, "lr": cfg.lr}, {"params": head_params, "lr": cfg.head_lr}],
                            weight_decay=0.01)
    steps_per_epoch = math.ceil(len(examples) / cfg.batch_size)
    total = steps_per_epoch * cfg.epochs
    sched = linear_warmup_decay(opt, max(1, total // 10), total)
    bio_loss = nn.CrossEntropyLoss(weight=torch.tensor([1.0, cfg.pos_weight, cfg.pos_weight]), ignore_index=-100)
    losses = []
    for epoch in range(cfg.epochs):
        net.train()
        order = list(range(len(examples)))
        random.Random(cfg.seed + epoch).shuffle(order)
        running = []
        for b in range(0, len(order), cfg.batch_size):
            batch = [examples[i] for i in order[b:b + cfg.batch_size]]
            ids, mask, bio, tech, tmask, (rows, fs, ls, feats, targets) = collate(
                batch, tok.cls_token_id, tok.sep_token_id, tok.pad_token_id, n_tech)
            x = torch.zeros((len(batch), ids.shape[1], batch[0]["frozen"].shape[1]))
            for r, ex in enumerate(batch):
                x[r, :ex["frozen"].shape[0]] = ex["frozen"]
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=use_bf16):
                bias = encoder.attention_bias(ids, mask, torch.bfloat16 if use_bf16 else torch.float32)
                for layer in upper:
                    x = layer(x, bias)
                bio_logits, tech_logits = net.token_logits(x)
                span_logits = net.span_logits(x, rows, fs, ls, feats)
            loss = bio_loss(bio_logits.float().reshape(-1, 3), bio.reshape(-1))
            tl = nn.functional.binary_cross_entropy_with_logits(tech_logits.float(), tech, reduction="none").mean(-1)
            loss = loss + cfg.tech_loss * (tl * tmask).sum() / tmask.sum()
            if len(rows):
                loss = loss + cfg.span_loss * -(targets * span_logits.float().log_softmax(-1)).sum(-1).mean()
            loss.backward()
            torch.nn.utils.clip_grad_norm_([p for p in net.parameters() if p.requires_grad], 1.0)
            opt.step()
            sched.step()
            opt.zero_grad(set_to_none=True)
            running.append(loss.item())
        losses.append(float(np.mean(running)))
        log.info("epoch %d/%d: loss %.4f", epoch + 1, cfg.epochs, losses[-1])
    net.eval()

    name = cfg.name or out.resolve().name
    config = _model_config(base, base_shown, name, techniques, new, cfg)
    save_finetuned(net, base, base_dir, out, config, train_names)

    finetuned = TechniqueModel(out)  # the folder as written (4-bit differences): what ships is what is scored
    scores = score_model(finetuned, held_docs) if held_docs else None
    report = {
        "out": str(out), "name": name, "base": base_shown, "labels": str(cfg.labels),
        "documents": len(docs), "train_documents": len(train_docs), "heldout_documents": len(held_docs),
        "skipped_documents": len(read_errors), "techniques": techniques, "new_techniques": new,
        "counts": technique_counts(docs), "train_counts": technique_counts(train_docs),
        "heldout_counts": technique_counts(held_docs), "heldout_ids": sorted(d.id for d in held_docs),
        "epochs": cfg.epochs, "loss_per_epoch": losses,
        "heldout_scores": scores, "base_heldout_scores": base_scores, "heldout_note": why_not_held,
        "seconds": round(time.time() - t_start, 1),
    }
    config = json.loads((out / "config.json").read_text())
    config["heldout_scores"] = scores
    (out / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    (out / "finetune_report.json").write_text(json.dumps(report, indent=2) + "\n")
    (out / "MODEL_CARD.md").write_text(model_card(report, config, cfg), encoding="utf-8")
    return report


def _model_config(base, base_shown: str, name: str, techniques: list[str], new: list[str],
                  cfg: FinetuneConfig) -> dict:
    from redline.components.nlp import SharedEncoder

    config = {k: v for k, v in base.config.items()
              if k not in ("lexical", "stacker", "members", "dev_scores", "train", "name", "base")}
    base_name = base.config.get("name") or "technique model"
    config = {
        "name": name,
        "base": f"{base_name} fine-tuned on {Path(cfg.labels).name}",
        **config,
        "techniques": techniques,
        # The states claims and roles read are the base model's (the layers up to the
        # highest feature layer are copied unchanged), so their heads' check against the
        # weights they were trained on (components/nlp.check_head) compares with these.
        "feature_fingerprint": base.config.get("feature_fingerprint") or SharedEncoder(base).fingerprint,
        "finetune": {
            "base_model": base_name, "base_folder": base_shown, "labels": str(cfg.labels),
            "new_techniques": new, "epochs": cfg.epochs, "lr": cfg.lr, "head_lr": cfg.head_lr,
            "batch_size": cfg.batch_size, "heldout": cfg.heldout, "seed": cfg.seed,
            "trained_layers": f"encoder layers from {max(base.feature_layers) + 1} (1-based) up, and the heads",
            # Encoder layers 1..frozen_layers are the base's: a head reading one of them
            # (claims, roles, the 23-technique head) still fits; above them it does not.
            "frozen_layers": max(base.feature_layers),
        },
        "dev_scores": {},  # PTC dev figures belong to the base model; see heldout_scores
    }
    return config


def save_finetuned(net, base, base_dir: Path, out: Path, config: dict, trained: set[str]) -> None:
    """Write the network: tensors fine-tuning did not change copied from the base folder as
    stored (so the frozen layers stay bit for bit the base's), the others packed as
    4-bit differences from the encoder package's weights (models/deltas.py)."""
    from safetensors.torch import load_file, save_file

    from redline.models import deltas
    from redline.models.technique_net import FROZEN_BASE_WEIGHTS, build_encoder

    member = base.config.get("members", ["model.safetensors"])[0]
    stored = load_file(str(base_dir / member))
    keep = {}
    for key, value in stored.items():
        param = key.removesuffix(deltas.SUFFIX_CODES).removesuffix(deltas.SUFFIX_SCALE)
        if param not in trained:
            keep[key] = value
    state = {k: v for k, v in net.state_dict().items()
             if k in trained and k not in FROZEN_BASE_WEIGHTS and not k.endswith("position_ids")}
    base_encoder, _ = build_encoder(config.get("encoder"))
    pristine = {f"encoder.{k}": v for k, v in base_encoder.state_dict().items() if f"encoder.{k}" in state}
    out.mkdir(parents=True, exist_ok=True)
    save_file({**keep, **deltas.pack(state, pristine)}, str(out / "model.safetensors"))
    (out / "config.json").write_text(json.dumps(config, indent=2) + "\n")


# ----------------------------------------------------------------------------- scores

def score_model(model, docs: list[Document]) -> dict:
    """SI, TC (on the gold spans) and FLC on documents, with the model's default threshold."""
    from redline.metrics import score_flc, score_si, score_tc

    gold = _labels(docs)
    pred, tc_pred = [], []
    for d in docs:
        out = model.run(d.text)
        pred += [Label(d.id, s.technique, s.start, s.end) for s in model.predict_spans(d.text, out=out)]
        spans = [(s.start, s.end) for s in d.spans]
        for (s, e), p in zip(spans, model.classify(d.text, spans, out)):
            tc_pred.append(Label(d.id, model.techniques[int(p.argmax())], s, e))
    si = score_si(gold, [Label(p.article_id, "", p.start, p.end) for p in pred])
    tc, flc = score_tc(gold, tc_pred), score_flc(gold, pred)
    return {"si": si.as_dict(), "tc": tc.as_dict(), "flc": flc.as_dict(), "spans": len(gold)}


def _labels_digest(path: Path) -> str:
    """SHA-256 (16 hex) of the label file, or of a folder's files in name order."""
    h = hashlib.sha256()
    path = Path(path)
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for f in files:
        h.update(f.name.encode() + b"\0" + f.read_bytes())
    return h.hexdigest()[:16]


def model_card(report: dict, config: dict, cfg: FinetuneConfig) -> str:
    new = set(report["new_techniques"])
    lines = [
        f"# {report['name']}",
        "",
        f"A redline technique model fine-tuned with `redline train --labels` from **{config['finetune']['base_model']}**"
        f" ({report['base']}).",
        "",
        "## Data",
        "",
        f"- Labels: `{report['labels']}` (SHA-256 {_labels_digest(Path(cfg.labels))}), "
        f"{report['documents']} documents"
        + (f"; {report['skipped_documents']} could not be read and were skipped" if report["skipped_documents"] else "")
        + ".",
        f"- Trained on {report['train_documents']} documents, {report['heldout_documents']} held out.",
        "- The documents are taken as fully annotated: text without a label was taught as no technique.",
        "",
        "| technique | spans | train | held out | |",
        "|---|---:|---:|---:|---|",
    ]
    for tech, n in report["counts"].items():
        lines.append(f"| {tech} | {n} | {report['train_counts'].get(tech, 0)} | "
                     f"{report['heldout_counts'].get(tech, 0)} | {'new' if tech in new else ''} |")
    ft = config["finetune"]
    lines += [
        "",
        "## Training",
        "",
        f"- {report['epochs']} epochs, batch {ft['batch_size']}, learning rate {ft['lr']} (encoder) and "
        f"{ft['head_lr']} (heads), seed {ft['seed']}; loss per epoch: "
        + ", ".join(f"{v:.3f}" for v in report["loss_per_epoch"]) + ".",
        f"- Trained: {ft['trained_layers']}. The lower layers are the base model's, unchanged, so the claims "
        "and roles components read the same features as with the base model.",
        f"- Techniques: the base model's {len(report['techniques']) - len(new)}"
        + (f", then {len(new)} new: {', '.join(report['new_techniques'])}" if new else "")
        + ". New rows of the technique heads started as the mean of the trained rows.",
        "- Kept from the base model (fitted on PTC dev, not refitted on these labels): decoding settings, span "
        "score and default threshold, boundary rules. Not carried over: the base's lexical technique member and "
        "stacker (they know only its own techniques); technique labels come from the network's span head.",
        "",
        "## Held-out scores",
        "",
    ]
    if report["heldout_scores"]:
        lines += [
            f"Measured on the {report['heldout_documents']} held-out documents ({report['heldout_scores']['spans']} "
            "spans) with the model's default threshold; SemEval-2020 Task 11 semantics (`redline evaluate`). "
            "Few documents make these rough figures.",
            "",
            "| model | SI F1 | TC micro-F1 (gold spans) | FLC F1 |",
            "|---|---:|---:|---:|",
        ]
        for label, sc in (("base", report["base_heldout_scores"]), ("fine-tuned", report["heldout_scores"])):
            lines.append(f"| {label} | {sc['si']['f1']:.3f} | {sc['tc']['f1']:.3f} | {sc['flc']['f1']:.3f} |")
    else:
        lines.append(f"Not measured: {report['heldout_note']}. Score the model on documents it did not see with "
                     "`redline analyze --model FOLDER -f jsonl` and `redline evaluate --model FOLDER GOLD PRED`.")
    lines += [
        "",
        "## Use",
        "",
        "```",
        f"redline analyze --model {report['out']} article.txt",
        "```",
        "",
    ]
    return "\n".join(lines)
