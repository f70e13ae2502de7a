"""Which of the technique encoder's Linear layers int8 hurts: dev SI with one group
quantized at a time (the rest fp32), and for mixes that keep some groups in fp32.

    python bench/int8_sensitivity.py                       # fp32, int8, each kind, each layer
    python bench/int8_sensitivity.py --variants "fp32 int8 keep:ffn_out keep:qkv+ffn_out@0,1"
    python bench/int8_sensitivity.py --ref fp32.json --variants "fp32 int8 bc/sq0.9/int8"  # + agreement
    python bench/int8_sensitivity.py --speed 8 --variants "fp32 int8 bc/sq0.9/int8"  # encoder time
    python bench/int8_sensitivity.py --write-calibration   # the shipped int8_calibration.safetensors

A variant is `fp32`, `int8` (every Linear), `only:GROUP` (only GROUP in int8) or
`keep:GROUP[+GROUP...]` (all int8 but those groups). A group is a Linear kind
(qkv, attn_out, ffn_in, ffn_out: technique_net.LINEAR_KINDS), a layer (L0..L5), or a kind
in some layers (`ffn_out@4,5`). A prefix `sqALPHA/` (e.g. `sq0.5/int8`) applies
SmoothQuant first (`sq0.75[ffn_out]/int8`: only to that group), its activation ranges
calibrated on the first --calib PTC *train* articles (never dev); a prefix `bc/` corrects
the quantized Linears' biases by their mean error on the same articles (`bc/sq0.9/int8`).
`sq0.75/keep:ffn_out` is what `--precision int8` ships. SI/FLC come from
bench/quality.py's `evaluate` on the tagger alone, the official measurement; the model loads once (in fp32) and each variant
quantizes a copy of its encoder, so a variant costs one dev pass (about a minute).
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

DEFAULT = ("fp32 int8 only:qkv only:attn_out only:ffn_in only:ffn_out "
           "only:L0 only:L1 only:L2 only:L3 only:L4 only:L5")


def group_test(group: str):
    """A predicate on encoder Linear names for one group."""
    from redline.models.technique_net import linear_kind

    kind, _, layers = group.partition("@")
    if kind.startswith("L") and kind[1:].isdigit():
        return lambda name: f"layer.{kind[1:]}." in name
    wanted = {int(x) for x in layers.split(",")} if layers else None

    def test(name: str) -> bool:
        if linear_kind(name) != kind:
            return False
        return wanted is None or any(f"layer.{i}." in name for i in wanted)
    return test


def keep_rule(variant: str):
    """keep_fp32 predicate for quantize_int8, or None for the fp32 encoder."""
    if variant == "fp32":
        return None
    if variant == "int8":
        return lambda name: False
    how, _, groups = variant.partition(":")
    tests = [group_test(g) for g in groups.split("+")]
    hit = lambda name: any(t(name) for t in tests)  # noqa: E731
    if how == "only":
        return lambda name: not hit(name)
    if how == "keep":
        return hit
    raise SystemExit(f"unknown variant {variant!r}")


def half_si(docs: dict, gold: list, k: int) -> float:
    """SI on every other dev article (k = 0 or 1, by sorted id): a choice made on one half
    can be checked on the other."""
    from redline.io.ptc import Label
    from redline.metrics import score_si

    ids = sorted(docs)[k::2]
    keep = set(ids)
    pred = [Label(aid, "", s.start, s.end) for aid in ids for s in docs[aid].spans]
    return score_si([g for g in gold if g.article_id in keep], pred).f1


def char_set(doc) -> set[int]:
    return {i for s in doc.spans for i in range(s.start, s.end)}


def agreement(covered: dict[str, set[int]], ref: dict[str, set[int]]) -> float:
    """Character-level F1 of a variant's span coverage against the reference variant's:
    how faithfully it reproduces fp32, a steadier signal than SI against gold, which a
    few spans crossing the threshold move by 0.01."""
    both = sum(len(covered[a] & ref[a]) for a in ref)
    total = sum(len(covered[a]) + len(ref[a]) for a in ref)
    return round(2 * both / total, 4) if total else 1.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    ap.add_argument("--variants", default=DEFAULT, help="space-separated; groups joined by '+'")
    ap.add_argument("--limit", type=int, default=0, help="only the first N dev articles")
    ap.add_argument("--calib", type=int, default=20, help="train articles for SmoothQuant's ranges")
    ap.add_argument("--speed", type=int, default=0, metavar="N",
                    help="instead of quality: encoder-only seconds over the first N dev articles' windows, "
                         "variants interleaved --repeat times (medians)")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--write-calibration", action="store_true",
                    help="write the shipped model's int8 calibration (technique_net.INT8_CALIBRATION: SmoothQuant "
                         "ranges and bias errors on the first INT8_CALIBRATION_ARTICLES train articles) and stop")
    ap.add_argument("--ref", type=Path, default=None,
                    help="a file with the fp32 variant's spans: read when it exists (written by a run with fp32), "
                         "the reference for 'agree' (character F1 against fp32)")
    ap.add_argument("--tc", action="store_true", help="also TC (the technique model on the gold spans)")
    a = ap.parse_args()
    os.environ["REDLINE_PRECISION"] = "fp32"  # loaded once in fp32; variants swap the encoder

    from quality import evaluate

    from redline.components.tagger import load_technique_model
    from redline.io.ptc import load_articles, read_labels
    from redline.models.technique_net import (
        activation_ranges, correct_int8_bias, int8_bias_errors, quantize_int8,
    )

    ptc = a.data / "ptc"
    articles = load_articles(ptc / "dev-articles")
    if a.limit:
        articles = dict(list(articles.items())[:a.limit])
    gold = [g for g in read_labels(ptc / "dev-task-flc-tc.labels") if g.article_id in articles]
    model = load_technique_model(precision="fp32")
    if a.write_calibration:
        from redline.models.technique_net import (
            INT8_ALPHA, INT8_BIAS_CORRECTION, INT8_CALIBRATION_ARTICLES, INT8_KEEP_FP32, calibrate_int8,
            write_int8_calibration,
        )
        calib = list(load_articles(ptc / "train-articles").values())[:INT8_CALIBRATION_ARTICLES]
        cal = calibrate_int8(model, calib)
        path = write_int8_calibration(
            model.folder, cal, f"SmoothQuant alpha {INT8_ALPHA}, fp32 kept for {','.join(INT8_KEEP_FP32) or 'none'}, "
            f"bias correction {INT8_BIAS_CORRECTION}, on the first {len(calib)} PTC train articles (sorted by id)")
        print(f"wrote {path} ({path.stat().st_size:,} bytes)")
        return
    fp32 = [copy.deepcopy(net.encoder) for net in model.nets]
    ranges = None
    encoders = {}
    ref = None
    if a.ref and a.ref.exists():
        ref = {k: set(v) for k, v in json.loads(a.ref.read_text()).items()}
    for variant in a.variants.split():
        *prefixes, base = variant.split("/")
        alpha, smooth_test, bias_fix = None, (lambda name: True), False
        for pre in prefixes:
            if pre == "bc":
                bias_fix = True
            elif pre.startswith("sq"):
                alpha_s, _, only = pre[2:].partition("[")
                alpha = float(alpha_s)
                smooth_test = group_test(only.rstrip("]")) if only else (lambda name: True)
            else:
                raise SystemExit(f"unknown prefix {pre!r}")
        if (alpha is not None or bias_fix) and ranges is None:
            for net, enc in zip(model.nets, fp32):
                net.encoder = copy.deepcopy(enc)
            calib = list(load_articles(ptc / "train-articles").values())[:a.calib]
            ranges = activation_ranges(model, calib)
        rule = keep_rule(base)
        for net, enc in zip(model.nets, fp32):
            net.encoder = (copy.deepcopy(enc) if rule is None else
                           quantize_int8(copy.deepcopy(enc), rule,
                                         smooth={k: v for k, v in ranges.items() if smooth_test(k)}
                                         if alpha is not None else None, alpha=alpha or 0.5))
        if bias_fix and rule is not None:
            for net, enc in zip(model.nets, fp32):
                errors = int8_bias_errors(enc, net.encoder, lambda: [model.run(t, keep_hidden=False) for t in calib])
                correct_int8_bias(net.encoder, errors)
        if a.speed:
            encoders[variant] = [net.encoder for net in model.nets]
            continue
        n_int8 = sum(type(m).__name__ == "Linear" and "quantized" in type(m).__module__
                     for m in model.net.encoder.modules())
        t = time.time()
        docs, si, tc, flc = evaluate(articles, gold, ("tagger",), tc=a.tc)
        covered = {aid: char_set(d) for aid, d in docs.items()}
        halves = [round(half_si(docs, gold, k), 4) for k in (0, 1)]
        if variant == "fp32" and a.ref:
            a.ref.write_text(json.dumps({k: sorted(v) for k, v in covered.items()}))
        if ref is None:
            ref = covered  # without --ref, the first variant is the reference for "agree"
        row = {"variant": variant, "int8_linears": n_int8, "si": round(si.f1, 4), "si_p": round(si.precision, 4),
               "si_r": round(si.recall, 4), "si_halves": halves, "flc": round(flc.f1, 4), "spans": si.n_pred,
               "agree": agreement(covered, ref),
               "tc": round(tc.f1, 4) if tc else None, "seconds": round(time.time() - t)}
        print(json.dumps(row), flush=True)
    if a.speed:
        time_encoders(model, encoders, list(articles.values())[:a.speed], a.repeat)


def time_encoders(model, encoders: dict, texts: list[str], repeat: int) -> None:
    """Encoder-only time of each variant over the same windows, interleaved (ABCABC...):
    this machine is shared, and interleaving spreads the load over all variants alike."""
    import statistics

    import torch

    from redline.models.technique_net import WINDOW_BATCH, tokenize_article, window_batches

    batches = [(ids, mask) for text in texts
               for _, ids, mask in window_batches(tokenize_article(model.tokenizer, text, model.window, model.stride),
                                                  model.tokenizer, WINDOW_BATCH)]
    times: dict[str, list[float]] = {v: [] for v in encoders}
    with torch.inference_mode():
        for _ in range(repeat):
            for variant, encs in encoders.items():
                for net, enc in zip(model.nets, encs):
                    net.encoder = enc
                t = time.perf_counter()
                for ids, mask in batches:
                    for net in model.nets:
                        net.encode(ids, mask)
                times[variant].append(time.perf_counter() - t)
    base = statistics.median(times[next(iter(times))])
    for variant, ts in times.items():
        med = statistics.median(ts)
        print(json.dumps({"variant": variant, "encoder_s": round(med, 3),
                          "range": [round(min(ts), 3), round(max(ts), 3)],
                          "speedup_vs_first": round(base / med, 2), "articles": len(texts),
                          "threads": torch.get_num_threads()}), flush=True)


if __name__ == "__main__":
    main()
