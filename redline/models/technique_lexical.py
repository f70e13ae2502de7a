"""A lexical technique classifier: the second member of the TC ensemble.

The encoder's span head sees a span through six layers of a small model; many PTC
techniques are also told apart by their words ("America", "our nation" for
flag-waving; "?" for doubt; a phrase that already occurred for repetition) and by the
shape of the span in its sentence (slogans and clichés fill a whole short sentence).
This member is a multinomial logistic regression over

* TF-IDF of the span's words (1-2 grams) and characters (2-5 grams within words),
* TF-IDF of the words just before and after it (60 characters each side),
* `surface_features`: length, recurrence before and after the span in the article,
  quotes, "!", "?", capitals, and how much of its sentence the span covers.

It is trained on PTC train spans with scikit-learn (`fit`), but inference needs only
numpy: `featurize` re-implements `TfidfVectorizer`'s analyzers and weighting for the
fitted vocabularies (tests/test_technique_lexical.py checks the two agree), because
importing scikit-learn costs a second of cold start. `TechniqueModel.classify`
combines it with the span head (by the stacker that `redline train` learns out of fold).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from redline.errors import ModelError

CONTEXT_CHARS = 60
_WORD = re.compile(r"(?u)\b\w\w+\b")  # TfidfVectorizer's default token_pattern
_BOUNDARY_BEFORE = ("\n", ". ", "? ", "! ")
N_SURFACE = 16


def occurrences(haystack: str, needle: str) -> list[int]:
    """Starts of the non-overlapping occurrences of `needle`, as re.finditer would give
    them for the escaped needle, without compiling a pattern per span."""
    found: list[int] = []
    if not needle:
        return found
    i = haystack.find(needle)
    while i >= 0:
        found.append(i)
        i = haystack.find(needle, i + len(needle))
    return found


def surface_features(text: str, start: int, end: int, lowered: str | None = None) -> list[float]:
    """Cues about the span's length, recurrence and place in its sentence."""
    low = text.lower() if lowered is None else lowered
    frag = text[start:end]
    key = low[start:end].strip()
    occ = occurrences(low, key)
    before = sum(1 for o in occ if o < start)
    after = sum(1 for o in occ if o > start)
    n_words = len(frag.split())
    sent_start = max(text.rfind(b, 0, start) for b in _BOUNDARY_BEFORE) + 1
    ends = [i for i in (text.find(b, end) for b in _BOUNDARY_BEFORE) if i >= 0]
    sent_end = min(ends) if ends else len(text)
    first_break = text.find("\n")
    return [
        math.log1p(len(frag)) / 6.0,
        math.log1p(n_words) / 4.0,
        math.log1p(max(len(occ) - 1, 0)),
        1.0 if any(q in text[max(0, start - 1):end + 1] for q in "\"“”") else 0.0,
        1.0 if "!" in text[start:end + 1] else 0.0,
        1.0 if frag.isupper() and len(frag) > 3 else 0.0,
        1.0 if "?" in text[start:end + 1] else 0.0,
        1.0 if n_words <= 4 else 0.0,
        # Repetition is annotated on the later occurrences of a phrase, rarely the first.
        float(before > 0), float(after > 0), math.log1p(before), math.log1p(after),
        (end - start) / max(sent_end - sent_start, 1),
        1.0 if not text[sent_start:start].strip() else 0.0,
        1.0 if not text[end:sent_end].strip(" .!?\"”") else 0.0,
        1.0 if first_break < 0 or first_break > start else 0.0,  # in the title line
    ]


def word_ngrams(text: str, n_max: int = 2) -> list[str]:
    toks = _WORD.findall(text.lower())
    out = list(toks)
    for n in range(2, n_max + 1):
        out += [" ".join(toks[i:i + n]) for i in range(len(toks) - n + 1)]
    return out


def char_wb_ngrams(text: str, n_min: int = 2, n_max: int = 5) -> list[str]:
    """TfidfVectorizer(analyzer="char_wb"): n-grams inside space-padded words.

    As scikit-learn does it, a padded word shorter than n gives itself once, and no
    longer n-grams.
    """
    out = []
    for w in text.lower().split():
        w = f" {w} "
        for n in range(n_min, n_max + 1):
            out.append(w[:n])
            offset = 0
            while offset + n < len(w):
                offset += 1
                out.append(w[offset:offset + n])
            if offset == 0:
                break
    return out


BLOCKS = (  # (name, analyzer, weight of the block)
    ("span_words", "word", 1.0),
    ("span_chars", "char", 1.0),
    ("left_words", "word1", 0.5),
    ("right_words", "word1", 0.5),
)


def _block_texts(text: str, start: int, end: int) -> dict[str, str]:
    return {"span_words": text[start:end], "span_chars": text[start:end],
            "left_words": text[max(0, start - CONTEXT_CHARS):start], "right_words": text[end:end + CONTEXT_CHARS]}


def _analyze(kind: str, s: str) -> list[str]:
    if kind == "word":
        return word_ngrams(s, 2)
    if kind == "word1":
        return word_ngrams(s, 1)
    return char_wb_ngrams(s)


@dataclass
class LexicalTechniqueClassifier:
    labels: list[str]
    vocab: dict[str, dict[str, int]]  # block -> term -> column within the block
    idf: dict[str, np.ndarray]
    coef: np.ndarray  # (n_labels, n_features)
    intercept: np.ndarray
    C: float = 1.0

    @property
    def offsets(self) -> dict[str, int]:
        out, pos = {}, 0
        for name, _, _ in BLOCKS:
            out[name] = pos
            pos += len(self.vocab[name])
        out["surface"] = pos
        return out

    def featurize(self, text: str, spans: list[tuple[int, int]]) -> tuple[list[dict[int, float]], np.ndarray]:
        """Sparse TF-IDF rows (column -> value) and the dense surface block, per span."""
        offs = self.offsets
        lowered = text.lower()
        rows, dense = [], []
        for start, end in spans:
            row: dict[int, float] = {}
            for (name, kind, weight), s in zip(BLOCKS, _block_texts(text, start, end).values()):
                counts: dict[int, int] = {}
                voc = self.vocab[name]
                for term in _analyze(kind, s):
                    j = voc.get(term)
                    if j is not None:
                        counts[j] = counts.get(j, 0) + 1
                if not counts:
                    continue
                vals = {j: (1.0 + math.log(c)) * float(self.idf[name][j]) for j, c in counts.items()}
                norm = math.sqrt(sum(v * v for v in vals.values())) or 1.0
                for j, v in vals.items():
                    row[offs[name] + j] = weight * v / norm
            rows.append(row)
            dense.append(surface_features(text, start, end, lowered))
        return rows, np.asarray(dense, dtype=np.float32).reshape(len(spans), N_SURFACE)

    def predict_proba(self, text: str, spans: list[tuple[int, int]]) -> np.ndarray:
        if not spans:
            return np.zeros((0, len(self.labels)), dtype=np.float32)
        rows, dense = self.featurize(text, spans)
        n_sparse = self.offsets["surface"]
        logits = dense @ self.coef[:, n_sparse:].T + self.intercept
        for i, row in enumerate(rows):
            if row:
                cols = np.fromiter(row.keys(), dtype=np.int64)
                vals = np.fromiter(row.values(), dtype=np.float32)
                logits[i] += self.coef[:, cols] @ vals
        logits -= logits.max(1, keepdims=True)
        p = np.exp(logits)
        return (p / p.sum(1, keepdims=True)).astype(np.float32)

    # -- files -----------------------------------------------------------------------
    def save(self, folder: Path, stem: str = "lexical") -> None:
        arrays = {"coef": self.coef.astype(np.float16), "intercept": self.intercept.astype(np.float32)}
        for name, _, _ in BLOCKS:
            terms = sorted(self.vocab[name], key=self.vocab[name].get)
            arrays[f"{name}.terms"] = np.array(terms, dtype=str)
            arrays[f"{name}.idf"] = self.idf[name].astype(np.float32)
        np.savez_compressed(folder / f"{stem}.npz", **arrays)
        (folder / f"{stem}.json").write_text(json.dumps({"labels": self.labels, "C": self.C,
                                                         "context_chars": CONTEXT_CHARS}, indent=2) + "\n")

    @classmethod
    def load(cls, folder: Path, stem: str = "lexical") -> "LexicalTechniqueClassifier":
        npz, meta_path = folder / f"{stem}.npz", folder / f"{stem}.json"
        if not npz.exists() or not meta_path.exists():
            raise ModelError(f"{folder}: missing {stem}.npz / {stem}.json")
        meta = json.loads(meta_path.read_text())
        with np.load(npz, allow_pickle=False) as z:
            vocab = {name: {t: i for i, t in enumerate(z[f"{name}.terms"].tolist())} for name, _, _ in BLOCKS}
            idf = {name: z[f"{name}.idf"] for name, _, _ in BLOCKS}
            coef, intercept = z["coef"].astype(np.float32), z["intercept"]
        model = cls(meta["labels"], vocab, idf, coef, intercept, meta.get("C", 1.0))
        if coef.shape != (len(model.labels), model.offsets["surface"] + N_SURFACE):
            raise ModelError(f"{npz}: coefficient matrix {coef.shape} does not match the vocabularies")
        return model


# ----------------------------------------------------------------------------- training

def _sklearn_design(texts: list[str], spans: list[tuple[int, int]], articles: list[int], vectorizers=None):
    """The design matrix with scikit-learn's vectorizers (fitted here when not given)."""
    from scipy.sparse import csr_matrix, hstack
    from sklearn.feature_extraction.text import TfidfVectorizer

    fit = vectorizers is None
    if fit:
        vectorizers = {
            "span_words": TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True),
            "span_chars": TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), min_df=3, sublinear_tf=True),
            "left_words": TfidfVectorizer(min_df=3, sublinear_tf=True),
            "right_words": TfidfVectorizer(min_df=3, sublinear_tf=True),
        }
    per_block = {name: [] for name, _, _ in BLOCKS}
    dense = []
    lowered = {}
    for (s, e), a in zip(spans, articles):
        text = texts[a]
        for name, v in _block_texts(text, s, e).items():
            per_block[name].append(v)
        if a not in lowered:
            lowered[a] = text.lower()
        dense.append(surface_features(text, s, e, lowered[a]))
    mats = []
    for name, _, weight in BLOCKS:
        vec = vectorizers[name]
        mats.append(weight * (vec.fit_transform(per_block[name]) if fit else vec.transform(per_block[name])))
    mats.append(csr_matrix(np.asarray(dense, dtype=np.float64)))
    return hstack(mats).tocsr(), vectorizers


def fit_lexical(texts: list[str], spans: list[tuple[int, int]], articles: list[int], y: list[int],
                labels: list[str], C_grid=(3.0, 10.0, 30.0), folds: int = 3, seed: int = 13,
                log=print) -> LexicalTechniqueClassifier:
    """Fit on training spans; C is chosen by cross-validation grouped by article."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GroupKFold

    y_arr, groups = np.asarray(y), np.asarray(articles)
    best_c, best_acc = C_grid[0], -1.0
    if len(C_grid) > 1 and len(set(articles)) >= folds:
        for C in C_grid:
            correct = 0
            for tr, va in GroupKFold(n_splits=folds).split(spans, y_arr, groups):
                Xtr, vecs = _sklearn_design(texts, [spans[i] for i in tr], [articles[i] for i in tr])
                Xva, _ = _sklearn_design(texts, [spans[i] for i in va], [articles[i] for i in va], vecs)
                clf = LogisticRegression(C=C, max_iter=3000, random_state=seed).fit(Xtr, y_arr[tr])
                correct += int((clf.predict(Xva) == y_arr[va]).sum())
            acc = correct / len(spans)
            log(f"lexical TC: C={C:g} cross-validated accuracy {acc:.4f}")
            if acc > best_acc:
                best_c, best_acc = C, acc
    X, vecs = _sklearn_design(texts, spans, articles)
    clf = LogisticRegression(C=best_c, max_iter=3000, random_state=seed).fit(X, y_arr)
    coef = np.zeros((len(labels), X.shape[1]), dtype=np.float32)
    intercept = np.full(len(labels), -30.0, dtype=np.float32)  # a class never seen stays impossible
    coef[clf.classes_] = clf.coef_
    intercept[clf.classes_] = clf.intercept_
    vocab = {name: {t: int(i) for t, i in vecs[name].vocabulary_.items()} for name, _, _ in BLOCKS}
    idf = {name: vecs[name].idf_.astype(np.float32) for name, _, _ in BLOCKS}
    return LexicalTechniqueClassifier(list(labels), vocab, idf, coef, intercept, best_c)
