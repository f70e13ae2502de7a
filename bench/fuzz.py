"""Long fuzz run (issue 18): cases tried, crashes and offset violations, per target.

Targets, all in-process (the API through FastAPI's TestClient; nothing touches the network):

  analyze  redline.analyze on mutated articles: hostile characters (lone surrogates,
           NULs, BOMs, zero-width and line-separator characters, CRLF, astral emoji),
           spliced, repeated and truncated text. Every span-like object in the result
           (techniques, mentions, claims... anything with start/end/text) must slice the text.
  decode   the file reader's decode_text on random and BOM-led bytes.
  labels   PTC label lines (strict parsing).
  readers  the annotation readers (brat .txt/.ann, Label Studio JSON, redline JSONL) on
           generated files with good and broken offsets, labels and types.
  api      POST /api/analyze with random JSON payloads and raw bodies, and /report forms.

A crash is any exception other than InputError, or a 5xx from the API. Exit status 1 if
any crash or offset violation was found; the first few are printed with a repro.

    python bench/fuzz.py                                   # 12,000 cases, lexicon pipeline
    python bench/fuzz.py --cases 2000 --components tagger  # the trained model (slower)
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
import traceback
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from redline.errors import InputError  # noqa: E402

HOSTILE = ["\ud800", "\udfff", "\ud83d", "\x00", "\ufeff", "\u200b", "\u200d", "\u2028", "\u2029", "\x85", "\r\n",
           "\r", "\x0b", "\x0c", "\x1c", "\U0001F621", "\U0001F469\u200d\U0001F4BB", "e\u0301", "\u0130", "ß",
           "\ufb01", "\uff21", "İstanbul", "\u202e", "<script>", "&amp;", "\\", "\"", "\t", " " * 50, "!" * 20,
           "\n" * 10, "\u00a0", "\u3000", "Ⅻ", "\U00010000", "\U0010ffff"]
PHRASES = ["They are traitors!", "Enough is enough.", "Everyone knows the so-called experts lie.",
           "Either we act now or our nation will be destroyed.", "the corrupt elites", "Never forget.",
           "According to officials, Iran said", "Mr. Smith claimed that", "Assad regime"]


def load_seeds() -> list[str]:
    seeds = [(ROOT / "examples" / "op-ed.txt").read_text(encoding="utf-8")]
    shared = ROOT.parent / "shared"
    for p in sorted((shared / "data" / "ptc" / "dev-articles").glob("*.txt"))[:20]:
        seeds.append(p.read_text(encoding="utf-8"))
    for p in sorted((shared / "examples").glob("*.txt"))[:5]:
        seeds.append(p.read_text(encoding="utf-8"))
    return seeds


def mutate(rng: random.Random, seeds: list[str], max_len: int) -> str:
    text = rng.choice(seeds)
    if len(text) > max_len:
        start = rng.randrange(len(text) - max_len)
        text = text[start:start + max_len]
    for _ in range(rng.randint(0, 12)):
        op = rng.random()
        pos = rng.randint(0, len(text))
        if op < 0.35:
            text = text[:pos] + rng.choice(HOSTILE) + text[pos:]
        elif op < 0.5:
            text = text[:pos] + rng.choice(PHRASES) + text[pos:]
        elif op < 0.6:
            text = text[:pos] + "".join(chr(rng.randint(1, 0x10FFFF)) for _ in range(rng.randint(1, 8))) + text[pos:]
        elif op < 0.7:
            end = min(len(text), pos + rng.randint(1, 200))
            text = text[:pos] + text[end:]
        elif op < 0.8:
            other = rng.choice(seeds)
            cut = rng.randint(0, len(other))
            text = text[:pos] + other[cut:cut + rng.randint(1, 500)]
        elif op < 0.9:
            piece = text[pos:pos + rng.randint(1, 40)]
            text = text[:pos] + piece * rng.randint(2, 20) + text[pos:]
        else:
            text = text.upper() if rng.random() < 0.5 else text.replace(" ", rng.choice(["  ", "\n", "\t", "\u00a0"]))
    if rng.random() < 0.05:
        text = "".join(rng.choice(HOSTILE) for _ in range(rng.randint(1, 30)))
    return text


def span_violations(text: str, obj, path: str = "$") -> list[str]:
    """Every dict with int start/end and a text that is not text[start:end]."""
    out = []
    if isinstance(obj, dict):
        s, e, t = obj.get("start"), obj.get("end"), obj.get("text")
        if isinstance(s, int) and isinstance(e, int) and isinstance(t, str):
            if not (0 <= s < e <= len(text)) or text[s:e] != t:
                out.append(f"{path}: [{s}, {e}) {t[:40]!r}")
        for k, v in obj.items():
            out.extend(span_violations(text, v, f"{path}.{k}"))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out.extend(span_violations(text, v, f"{path}[{i}]"))
    return out


class Tally:
    def __init__(self):
        self.cases = Counter()
        self.crashes = Counter()
        self.violations = Counter()
        self.refused = Counter()
        self.examples: list[str] = []

    def crash(self, target: str, what: str, repro) -> None:
        self.crashes[target] += 1
        if len(self.examples) < 10:
            self.examples.append(f"[{target}] {what}\n    input: {repro!r:.300}")


def fuzz_analyze(rng, tally, seeds, n, components, max_len):
    import redline
    for _ in range(n):
        text = mutate(rng, seeds, max_len)
        tally.cases["analyze"] += 1
        try:
            doc = redline.analyze(text, id="fuzz", components=components)
        except InputError:
            tally.refused["analyze"] += 1
            continue
        except Exception:
            tally.crash("analyze", traceback.format_exc(limit=3), text)
            continue
        try:
            data = doc.to_json()
            json.dumps(data, ensure_ascii=False).encode("utf-8")
        except Exception:
            tally.crash("analyze", "to_json: " + traceback.format_exc(limit=3), text)
            continue
        bad = span_violations(text, data)
        if bad:
            tally.violations["analyze"] += len(bad)
            if len(tally.examples) < 10:
                tally.examples.append(f"[analyze] offsets: {bad[:3]}\n    input: {text!r:.300}")


def fuzz_decode(rng, tally, seeds, n):
    from redline.io.inputs import decode_text
    boms = [b"", b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff", b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff"]
    for _ in range(n):
        r = rng.random()
        if r < 0.4:
            data = rng.choice(boms) + bytes(rng.randrange(256) for _ in range(rng.randint(0, 300)))
        else:
            text = mutate(rng, seeds, 2000)
            codec = rng.choice(["utf-8", "utf-16-le", "utf-16-be", "utf-32-le", "latin-1", "cp1252"])
            errors = "surrogatepass" if codec.startswith("utf") and rng.random() < 0.5 else "replace"
            data = rng.choice(boms) + text.encode(codec, errors=errors)
        tally.cases["decode"] += 1
        try:
            out = decode_text(data, "fuzz")
            out.encode("utf-8")
        except InputError:
            tally.refused["decode"] += 1
        except Exception:
            tally.crash("decode", traceback.format_exc(limit=3), data)


def fuzz_labels(rng, tally, n):
    from redline.io.ptc import parse_label_line
    from redline.taxonomy import PTC_TECHNIQUES
    pieces = ["1", "111111112", "10_0", "\uff11", "-3", "+4", " 5", "5 ", "0", "99999999999999", "", "\ufeff1",
              "x", *PTC_TECHNIQUES, "Doubtful", "\u0661"]
    for _ in range(n):
        fields = [rng.choice(pieces) if rng.random() < 0.8 else str(rng.randint(0, 500))
                  for _ in range(rng.randint(0, 6))]
        line = "\t".join(fields) + rng.choice(["", "\n", "\r\n"])
        tally.cases["labels"] += 1
        try:
            lab = parse_label_line(line, 3, "fuzz.labels", PTC_TECHNIQUES)
            if lab is not None and not (0 <= lab.start < lab.end):
                tally.violations["labels"] += 1
        except InputError:
            tally.refused["labels"] += 1
        except Exception:
            tally.crash("labels", traceback.format_exc(limit=3), line)


def _brat_lines(rng, text: str) -> str:
    """An .ann file: mostly well-formed T lines over `text`, with broken ones mixed in."""
    from redline.taxonomy import PTC_TECHNIQUES
    lines = []
    for i in range(rng.randint(0, 6)):
        a = rng.randint(-2, len(text) + 2)
        b = a + rng.randint(-3, 40)
        label = rng.choice([*PTC_TECHNIQUES, "Doubt", "Not_A_Technique", "", "Loaded Language"]).replace(" ", "_")
        frag = f"{a} {b}" if rng.random() < 0.8 else f"{a} {b};{b + 1} {b + 5}"
        quoted = text[max(a, 0):max(b, 0)] if rng.random() < 0.8 else "x"
        lines.append(rng.choice([f"T{i + 1}\t{label} {frag}\t{quoted}", f"T{i + 1}\t{label} {frag}",
                                 f"#{i}\tAnnotatorNotes T1\tnote", f"T{i}{label}", "\ufeffT1\tDoubt 0 1\ta"]))
    return "\n".join(lines) + rng.choice(["", "\n", "\r\n"])


def _labelstudio_task(rng, text: str):
    from redline.taxonomy import PTC_TECHNIQUES
    results = []
    for _ in range(rng.randint(0, 5)):
        a = rng.randint(-2, len(text) + 2)
        b = a + rng.randint(-3, 40)
        value = {"start": rng.choice([a, str(a), float(a), None, True]), "end": b,
                 "labels": [rng.choice([*PTC_TECHNIQUES, "Doubt", ""])], "text": text[max(a, 0):max(b, 0)]}
        results.append({"type": rng.choice(["labels", "choices", "x"]), "value": value,
                        "from_name": "label", "to_name": "text"})
    task = {"data": {"text": rng.choice([text, None, 5, ""])}, "annotations": [{"result": results}]}
    return rng.choice([task, [task], {"data": "x"}, [], "text", 3])


def fuzz_readers(rng, tally, seeds, n):
    """The annotation readers (brat, Label Studio, redline JSONL) on generated files:
    every document read has spans that slice its text; anything else is an InputError."""
    import json as json_mod
    import tempfile
    from pathlib import Path

    from redline.io.exchange import read_documents
    with tempfile.TemporaryDirectory(prefix="redline-fuzz-") as tmp:
        for i in range(n):
            text = mutate(rng, seeds, 1500)
            kind = rng.choice(["brat", "labelstudio", "jsonl"])
            folder = Path(tmp) / str(i)
            folder.mkdir()
            if kind == "brat":
                raw = text.encode("utf-8", "surrogatepass")
                (folder / "a.txt").write_bytes(rng.choice([b"", b"\xef\xbb\xbf"]) + raw)
                path = folder / "a.ann"
                path.write_bytes(_brat_lines(rng, text).encode("utf-8", "surrogatepass"))
            elif kind == "labelstudio":
                path = folder / "export.json"
                path.write_text(json_mod.dumps(_labelstudio_task(rng, text)), encoding="utf-8")
            else:
                path = folder / "docs.jsonl"
                spans = [{"start": a, "end": a + rng.randint(-2, 30), "technique": "Doubt"}
                         for a in (rng.randint(-2, len(text) + 2) for _ in range(rng.randint(0, 4)))]
                record = rng.choice([{"id": "d", "text": text, "techniques": spans}, {"text": text}, {"id": 3}, []])
                line = json_mod.dumps(record) if rng.random() < 0.9 else text[:200]
                path.write_bytes((line + "\n").encode("utf-8", "surrogatepass"))  # raw lines may hold any code point
            tally.cases["readers"] += 1
            try:
                for doc in read_documents(path):
                    for v in span_violations(doc.text, doc.to_json()):
                        tally.violations["readers"] += 1
                        if len(tally.examples) < 10:
                            tally.examples.append(f"[readers] offset {v}\n    input: {(kind, text[:100])!r}")
            except InputError:
                tally.refused["readers"] += 1
            except Exception:
                tally.crash("readers", traceback.format_exc(limit=3), (kind, path.read_bytes()[:300]))


def fuzz_api(rng, tally, seeds, n, components):
    from fastapi.testclient import TestClient

    from redline.server import create_app
    junk = [None, True, False, 0, 1, -1, 0.5, 1e308, "0.5", [], {}, ["a"], {"a": 1}, "\ud800", "x" * 100]
    with TestClient(create_app(components=components, max_chars=20_000), raise_server_exceptions=False) as client:
        for _ in range(n):
            tally.cases["api"] += 1
            r = rng.random()
            text = mutate(rng, seeds, 3000)
            try:
                if r < 0.6:
                    payload = {"text": text}
                    for key in ("id", "threshold", "colour"):
                        if rng.random() < 0.3:
                            payload[key] = rng.choice(junk + [text[:50], rng.random()])
                    if rng.random() < 0.1:
                        payload["text"] = rng.choice(junk)
                    body = json.dumps(payload, ensure_ascii=True).encode()
                    resp = client.post("/api/analyze", content=body, headers={"content-type": "application/json"})
                elif r < 0.8:
                    body = bytes(rng.randrange(256) for _ in range(rng.randint(0, 200)))
                    resp = client.post("/api/analyze", content=body, headers={"content-type": "application/json"})
                    payload = None
                else:
                    fields = {"text": text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")}
                    resp = client.post("/report", data=fields)
                    payload = None
            except Exception:
                tally.crash("api", traceback.format_exc(limit=3), text)
                continue
            if resp.status_code >= 500:
                tally.crash("api", f"HTTP {resp.status_code}: {resp.text[:200]}", text)
            elif resp.status_code == 200:
                if payload is not None:
                    tally.violations["api"] += len(span_violations(payload["text"], resp.json()))
            else:
                tally.refused["api"] += 1


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", type=int, default=12_000, help="in all, split 35/20/15/10/20 over analyze/decode/labels/readers/api")
    ap.add_argument("--seed", type=int, default=18)
    ap.add_argument("--components", default="lexicon")
    ap.add_argument("--max-len", type=int, default=4000, help="longest analysed text, in characters")
    args = ap.parse_args()
    comps = tuple(c.strip() for c in args.components.split(",") if c.strip())
    rng = random.Random(args.seed)
    seeds = load_seeds()
    tally = Tally()
    plan = [("analyze", 0.35), ("decode", 0.20), ("labels", 0.15), ("readers", 0.10), ("api", 0.20)]
    t0 = time.monotonic()
    for target, share in plan:
        n = int(args.cases * share)
        t = time.monotonic()
        if target == "analyze":
            fuzz_analyze(rng, tally, seeds, n, comps, args.max_len)
        elif target == "decode":
            fuzz_decode(rng, tally, seeds, n)
        elif target == "labels":
            fuzz_labels(rng, tally, n)
        elif target == "readers":
            fuzz_readers(rng, tally, seeds, n)
        else:
            fuzz_api(rng, tally, seeds, n, comps)
        print(f"{target:<8} cases {tally.cases[target]:>6}  refused {tally.refused[target]:>6}  "
              f"crashes {tally.crashes[target]}  offset violations {tally.violations[target]}  "
              f"({time.monotonic() - t:.0f} s)", flush=True)
    total, crashes, violations = sum(tally.cases.values()), sum(tally.crashes.values()), sum(tally.violations.values())
    print(f"total    cases {total:>6}  crashes {crashes}  offset violations {violations}  "
          f"({time.monotonic() - t0:.0f} s, seed {args.seed}, components {','.join(comps)})")
    for example in tally.examples:
        print(example)
    sys.exit(1 if crashes or violations else 0)


if __name__ == "__main__":
    main()
