"""Roles: how the article portrays each actor (SemEval-2025 Task 10 entity framing).

Main role (Protagonist / Antagonist / Innocent) and fine roles (the 22 roles of the
task) from small heads over frozen features:

* the mean technique-encoder states (layers 6 and 4) of the mention's word pieces inside
  its sentence, the sentence's mean states (layers 6 and 4), and the mean of the
  previous, this and the next sentence (each sentence is encoded once, shared with
  claims);
* the same vectors averaged over every mention of the actor (for the SemEval mentions:
  every occurrence of the same string in the article);
* the article's mean sentence vectors (its overall stance);
* cues: the mention's syntactic role (subject, passive subject, object, ...), whether
  it is the agent or the patient of a hostile or a supportive verb (the relations
  component's verb lists), and counts of name-calling, loaded, fear, victim and
  heroism words in its sentences.

Heads: standardise -> multinomial logistic regression (main role) and one-vs-rest
logistic regressions (fine roles). Decoding keeps only fine roles of the predicted
main role: the most probable one always, others when their probability is at least
`fine_ratio` times the top one. Weights: `redline/models/roles/` (npz + json),
trained by `redline train-roles` (see its MODEL_CARD.md for data and figures).

`frame_mentions(mentions_tsv, docs_dir)` labels SemEval-format mention files.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from functools import lru_cache
from pathlib import Path

import numpy as np

from redline.components.nlp import (
    Encoded, check_head, encode_sentence_spans, parse, parse_text, sentence_encodings, sentence_index, sentences,
    split_sentences,
)
from redline.doc import Document, Role
from redline.errors import InputError
from redline.io.inputs import tsv_rows
from redline.models import check_feature_width, load_once, read_npz_model
from redline.pipeline import register

DEFAULT_MODEL_DIR = Path(__file__).resolve().parent.parent / "models" / "roles"

MAIN_ROLES = ["Protagonist", "Antagonist", "Innocent"]
FINE_ROLES = {
    "Protagonist": ["Guardian", "Martyr", "Peacemaker", "Rebel", "Underdog", "Virtuous"],
    "Antagonist": ["Instigator", "Conspirator", "Tyrant", "Foreign Adversary", "Traitor", "Spy", "Saboteur",
                   "Corrupt", "Incompetent", "Terrorist", "Deceiver", "Bigot"],
    "Innocent": ["Forgotten", "Exploited", "Victim", "Scapegoat"],
}
ALL_FINE = [f for m in MAIN_ROLES for f in FINE_ROLES[m]]
MAIN_OF = {f: m for m in MAIN_ROLES for f in FINE_ROLES[m]}

SYN_DEPS = ["nsubj", "nsubjpass", "obj", "pobj", "poss", "mod", "appos", "other"]
_CUE_WORDS = {
    "victim": r"victims?|civilians?|innocent|suffer\w*|wounded|injured|killed|died|dead|casualt\w+|refugees?|"
              r"homeless|starv\w+|hostages?|orphan\w*|displaced|mourn\w*|tragic|plight|persecuted|oppressed|"
              r"helpless|vulnerable|exploited|forgotten|abandoned|scapegoat\w*|blamed",
    "hero": r"heroe?s?|heroic|brave\w*|courage\w*|defend\w*|protect\w*|peace\w*|freedom|liberat\w+|"
            r"resist\w*|rescue\w*|sacrific\w+|martyr\w*|honou?r\w*|noble|dignity|humanitarian|help\w*|"
            r"support\w*|ceasefire|negotiat\w+|diplomac\w+|saved?|guardian|champion\w*",
    "villain": r"regimes?|dictator\w*|tyrant\w*|terror\w*|aggress\w+|invad\w+|invasion|war crimes?|"
               r"criminals?|corrupt\w*|lies|liars?|propaganda|brutal\w*|atrocit\w+|massacre\w*|occup\w+|"
               r"puppets?|traitors?|treason|sabotag\w+|spy|spies|conspir\w+|scam|fraud\w*|hoax|"
               r"incompeten\w+|failed|failure|threat\w*|genocid\w+|extremis\w+|fascis\w+|nazis?",
}
_CUE_RE = {k: re.compile(rf"\b(?:{v})\b", re.I) for k, v in _CUE_WORDS.items()}
N_CUES = len(SYN_DEPS) + 4 + len(_CUE_RE) + 3


def dims() -> tuple[int, int, int]:
    """(encoder width, local feature width, whole feature row width): they follow the
    technique encoder (384 for MiniLM, 768 for MPNet)."""
    from redline.components.nlp import feature_width
    width = feature_width()
    local = 5 * width + N_CUES
    return width, local, 2 * local + 2 * width


@lru_cache(maxsize=1)
def _lexicon_res() -> list[re.Pattern]:
    out = []
    try:
        import helper_features

        path = Path(helper_features.__file__).parent / "lexicons_expanded_LLM_audited.json"
        lex = json.loads(path.read_text(encoding="utf-8"))
    except (ImportError, OSError, ValueError):
        lex = {}
    for key in ("PROP_NAMECALL", "PROP_LOADED", "PROP_FEAR"):
        words = sorted({w.lower() for w in lex.get(key, []) if len(w) > 2}, key=len, reverse=True)
        out.append(re.compile(r"\b(?:" + "|".join(re.escape(w) for w in words) + r")\b", re.I) if words
                   else re.compile(r"(?!)"))
    return out


def _syntax_cues(sp, start: int, end: int) -> list[float]:
    from redline.components.relations import VERB_TYPE

    span = sp.char_span(start, end, alignment_mode="expand")
    dep = [0.0] * len(SYN_DEPS)
    roles = [0.0] * 4  # agent_hostile, patient_hostile, agent_support, patient_support
    if span is None or len(span) == 0:
        dep[-1] = 1.0
        return dep + roles
    root = span.root
    d = root.dep_
    name = {"nsubj": "nsubj", "nsubjpass": "nsubjpass", "dobj": "obj", "dative": "obj", "iobj": "obj",
            "attr": "obj", "pobj": "pobj", "poss": "poss", "compound": "mod", "amod": "mod", "nmod": "mod",
            "appos": "appos"}.get(d, "other")
    dep[SYN_DEPS.index(name)] = 1.0
    head = root.head
    prep = ""
    if d == "pobj" and head.dep_ in ("prep", "agent"):
        prep = head.lower_
        head = head.head
    if d in ("poss", "compound", "amod") and head.head is not None:
        # "Russia's invasion": the noun's verb
        head = head.head if head.dep_ in ("nsubj", "dobj", "pobj") else head
    typ = VERB_TYPE.get(head.lemma_.lower())
    hostile = typ in ("attack", "kill_injure", "threaten", "accuse", "demand")
    support = typ in ("support", "give_aid")
    agent = d == "nsubj" or prep == "by"
    patient = d in ("nsubjpass", "dobj", "dative", "iobj") or (d == "pobj" and prep in ("against", "on", "at", "to"))
    roles = [float(hostile and agent), float(hostile and patient), float(support and agent),
             float(support and patient)]
    return dep + roles


@lru_cache(maxsize=256)
def _lex_cues(sentence: str) -> tuple[float, ...]:
    # Cached: an article's mentions share sentences, and each call runs ~60 regexes.
    vals = [np.log1p(len(r.findall(sentence))) for r in _CUE_RE.values()]
    vals += [np.log1p(len(r.findall(sentence))) for r in _lexicon_res()]
    return tuple(float(v) for v in vals)


def mention_locals(text: str, sp, sent_spans: list[tuple[int, int]], enc: list[Encoded],
                   mentions: list[tuple[int, int]]) -> np.ndarray:
    """Per mention: [mention states (layer 6, layer 4), sentence mean (layer 6, layer 4),
    mean of the previous, this and the next sentence (layer 6), cues]."""
    rows = []
    for s, e in mentions:
        si = sentence_index(sent_spans, s) if sent_spans else -1
        if si < 0 or not enc:
            rows.append(np.zeros(dims()[1], np.float32))
            continue
        ss, se = sent_spans[si]
        en = enc[si]
        s6, s4 = en.states.mean(0), en.mid.mean(0)
        o = en.offsets
        sel = (o[:, 1] > o[:, 0]) & (o[:, 0] < e - ss) & (o[:, 1] > s - ss)
        p6, p4 = (en.states[sel].mean(0), en.mid[sel].mean(0)) if sel.any() else (s6, s4)
        prev = enc[si - 1].states.mean(0) if si > 0 else s6
        nxt = enc[si + 1].states.mean(0) if si + 1 < len(enc) else s6
        cues = _syntax_cues(sp, s, e) + list(_lex_cues(text[ss:se]))
        rows.append(np.concatenate([p6, p4, s6, s4, (prev + s6 + nxt) / 3, np.asarray(cues, np.float32)]))
    return np.stack(rows).astype(np.float32) if rows else np.zeros((0, dims()[1]), np.float32)


def doc_vector(enc: list[Encoded]) -> np.ndarray:
    """The article's stance: mean of its L2-normalised sentence vectors, top and middle feature layers."""
    if not enc:
        return np.zeros(2 * dims()[0], np.float32)
    v6 = np.mean([e.mean() for e in enc], axis=0)
    v4 = np.mean([e.layer_means[1] / (np.linalg.norm(e.layer_means[1]) + 1e-9) for e in enc], axis=0)
    return np.concatenate([v6, v4]).astype(np.float32)


def assemble(local: np.ndarray, group_mean: np.ndarray, docvec: np.ndarray) -> np.ndarray:
    return np.concatenate([local, group_mean, docvec]).astype(np.float32)


def occurrences(text: str, mention: str) -> list[tuple[int, int]]:
    """Every occurrence of a mention string as a whole word (case-sensitive)."""
    if not mention.strip():
        return []
    pat = re.compile(r"(?<![\w])" + re.escape(mention) + r"(?![\w])")
    return [m.span() for m in pat.finditer(text)]


# ----------------------------------------------------------------------------- model

class RoleModel:
    def __init__(self, folder: Path | str):
        self.config, self.arrays = read_npz_model(folder, "roles", "redline train-roles")
        self._setup()

    @classmethod
    def from_arrays(cls, arrays: dict, config: dict) -> "RoleModel":
        self = cls.__new__(cls)
        self.arrays = {k: np.asarray(v, np.float32) for k, v in arrays.items()}
        self.config = dict(config)
        self._setup()
        return self

    def _setup(self):
        a = self.arrays
        self.mean, self.scale = a["mean"], a["scale"]
        self.main_coef, self.main_b = a["main_coef"], a["main_b"]
        self.fine_coef, self.fine_b = a["fine_coef"], a["fine_b"]
        self.main_labels = self.config.get("main_roles", MAIN_ROLES)
        self.fine_labels = self.config.get("fine_roles", ALL_FINE)
        self.fine_ratio = float(self.config.get("fine_ratio", 0.6))

    def save(self, folder: Path | str) -> None:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        np.savez(folder / "weights.npz", **{k: v.astype(np.float32) for k, v in self.arrays.items()})
        (folder / "config.json").write_text(json.dumps(self.config, indent=2) + "\n", encoding="utf-8")

    def probabilities(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        check_feature_width(X, len(self.mean), "roles", "redline train-roles")
        Z = (X - self.mean) / self.scale
        logits = Z @ self.main_coef.T + self.main_b
        logits -= logits.max(1, keepdims=True)
        pm = np.exp(logits)
        pm /= pm.sum(1, keepdims=True)
        pf = 1.0 / (1.0 + np.exp(-(Z @ self.fine_coef.T + self.fine_b)))
        return pm, pf

    def decode(self, pm: np.ndarray, pf: np.ndarray) -> list[tuple[str, list[str], float]]:
        out = []
        for m_probs, f_probs in zip(pm, pf):
            mi = int(np.argmax(m_probs))
            main = self.main_labels[mi]
            allowed = [i for i, f in enumerate(self.fine_labels) if MAIN_OF.get(f) == main]
            best = max(allowed, key=lambda i: f_probs[i])
            fine = [self.fine_labels[i] for i in sorted(allowed, key=lambda i: -f_probs[i])
                    if i == best or f_probs[i] >= self.fine_ratio * f_probs[best]]
            out.append((main, fine, float(m_probs[mi])))
        return out

    def predict(self, X: np.ndarray) -> list[tuple[str, list[str], float]]:
        if len(X) == 0:
            return []
        return self.decode(*self.probabilities(X))


def load_role_model(folder: Path | str | None = None) -> RoleModel:
    return load_once(RoleModel, folder, "REDLINE_ROLES_MODEL", DEFAULT_MODEL_DIR)


# ----------------------------------------------------------------------------- features

def article_features(text: str, groups: list[list[tuple[int, int]]], focus: list[tuple[int, int]] | None = None,
                     sp=None, sent_spans=None, enc=None) -> np.ndarray:
    """Feature rows for mention groups of one article.

    `groups[i]` are all mentions of item i (an actor, or all occurrences of a SemEval
    mention string); `focus[i]` is the mention the local half describes (None: the
    group mean is used for both halves, as for actors).
    """
    if sp is None:
        sp = parse_text(text)
    if sent_spans is None:
        sent_spans = split_sentences(sp)
    if enc is None:
        enc = encode_sentence_spans(text, sent_spans)
    docvec = doc_vector(enc)
    rows = []
    for i, group in enumerate(groups):
        loc = mention_locals(text, sp, sent_spans, enc, group)
        gmean = loc.mean(0) if len(loc) else np.zeros(dims()[1], np.float32)
        if focus is not None and focus[i] is not None:
            flocal = mention_locals(text, sp, sent_spans, enc, [focus[i]])[0]
        else:
            flocal = gmean
        rows.append(assemble(flocal, gmean, docvec))
    return np.stack(rows) if rows else np.zeros((0, dims()[2]), np.float32)


# ----------------------------------------------------------------------------- component

@register("roles")
class RoleLabeler:
    """Portrays each actor: main role, fine roles, confidence."""

    name = "roles"
    uses_parse = True  # the pipeline starts the spaCy parse early (nlp.start_parse)

    def __init__(self, model_dir: str | Path | None = None):
        self.model = load_role_model(model_dir)
        check_head(self.model.config, "roles", "redline train-roles")

    def __call__(self, doc: Document) -> Document:
        if doc.actors:
            groups = [[(m.start, m.end) for m in a.mentions] for a in doc.actors]
            X = article_features(doc.text, groups, None, sp=parse(doc), sent_spans=sentences(doc),
                                 enc=sentence_encodings(doc))
            for actor, (main, fine, score) in zip(doc.actors, self.model.predict(X)):
                actor.role = Role(main=main, fine=fine, score=score)
        cfg = self.model.config
        doc.model["roles"] = {"name": cfg.get("name", "redline-roles"), "encoder": cfg.get("encoder"),
                              "validation": cfg.get("validation", {})}
        return doc


# ----------------------------------------------------------------------------- SemEval files

def read_mentions(path: Path | str) -> list[tuple[str, str, int, int, list[str]]]:
    """SemEval-2025 Task 10 subtask 1 rows: (article_id, mention, start, end_inclusive, labels)."""
    rows = []
    for n, parts in tsv_rows(path, 4, "article_id<TAB>mention<TAB>start<TAB>end"):
        try:
            start, end = int(parts[2]), int(parts[3])
        except ValueError as exc:
            raise InputError(f"{path}:{n}: start and end must be integers") from exc
        rows.append((parts[0], parts[1], start, end, parts[4:]))
    return rows


def read_article(docs_dir: Path | str, article_id: str) -> str:
    docs_dir = Path(docs_dir)
    for name in (article_id, article_id + ".txt", re.sub(r"\.txt$", "", article_id)):
        path = docs_dir / name
        if path.is_file():
            return path.read_text(encoding="utf-8")
    raise InputError(f"no document {article_id!r} in {docs_dir}")


def fix_offsets(text: str, mention: str, start: int, end_inclusive: int) -> tuple[int, int]:
    """Exclusive-end offsets of the mention; the nearest occurrence if the given ones are off."""
    if text[start:end_inclusive + 1] == mention:
        return start, end_inclusive + 1
    occ = [m.start() for m in re.finditer(re.escape(mention), text)]
    if not occ:
        return max(0, min(start, len(text) - 1)), max(1, min(end_inclusive + 1, len(text)))
    best = min(occ, key=lambda o: abs(o - start))
    return best, best + len(mention)


def semeval_features(text: str, items: list[tuple[str, int, int]], sp=None, sent_spans=None, enc=None) -> np.ndarray:
    """Feature rows for SemEval mentions (mention, start, end exclusive) of one article."""
    groups, focus = [], []
    for mention, s, e in items:
        occ = occurrences(text, mention) or [(s, e)]
        if (s, e) not in occ:
            occ.append((s, e))
        groups.append(occ)
        focus.append((s, e))
    return article_features(text, groups, focus, sp=sp, sent_spans=sent_spans, enc=enc)


def frame_mentions(mentions_tsv: Path | str, docs_dir: Path | str, model_dir: Path | str | None = None) -> list[str]:
    """Predict roles for a SemEval-format mention file: one output line per input line, in order."""
    rows = read_mentions(mentions_tsv)
    model = load_role_model(model_dir)
    by_article: dict[str, list[int]] = defaultdict(list)
    for i, row in enumerate(rows):
        by_article[row[0]].append(i)
    preds: dict[int, tuple[str, list[str], float]] = {}
    for aid, idxs in by_article.items():
        text = read_article(docs_dir, aid)
        items = []
        for i in idxs:
            _, mention, s, e, _ = rows[i]
            fs, fe = fix_offsets(text, mention, s, e)
            items.append((mention, fs, fe))
        X = semeval_features(text, items)
        for i, p in zip(idxs, model.predict(X)):
            preds[i] = p
    out = []
    for i, (aid, mention, s, e, _) in enumerate(rows):
        main, fine, _ = preds[i]
        out.append("\t".join([aid, mention, str(s), str(e), main, *fine]))
    return out
