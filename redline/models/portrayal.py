"""The portrayal network: how an article casts an actor, read off the technique encoder's pass.

One encoder pass per article serves techniques, claims and roles: this network does not
run an encoder of its own. It reads, for each mention of an actor, a window of word
pieces around it from the article pass (`ArticleOutput`):

* the states of two of the technique encoder's feature layers (top and middle),
  projected to `pca_dim` by a fixed PCA fitted on training articles (stored with the
  weights: it makes the trainable part small and fast);
* the tagger's own per-piece technique probabilities (14) and span probability: where
  the text name-calls, loads language or appeals to fear, and at whom;
* three flags per piece: inside this mention, inside another mention of the same actor,
  inside a quotation (what others say vs the author's own voice).

One small transformer layer mixes the window; the mention's pieces and an attention pool
over the window give a mention vector, joined with syntax cues from the spaCy parse
(subject / object / ..., agent or patient of harm or of support). An actor's mentions
are pooled by learned attention into one vector, read by three heads: the main role
(Protagonist / Antagonist / Innocent), 22 fine roles (one-vs-rest), and, for training
only, the sentiment of a news sentence toward a target (NewsMTSC), which teaches the
network what praise and blame look like in news prose.

Trained by `redline train-roles` (`redline/training/roles.py`); weights in
`redline/models/roles/` (safetensors + config.json + MODEL_CARD.md).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from redline.errors import ModelError

MAIN_ROLES = ["Protagonist", "Antagonist", "Innocent"]
FINE_ROLES = {
    "Protagonist": ["Guardian", "Martyr", "Peacemaker", "Rebel", "Underdog", "Virtuous"],
    "Antagonist": ["Instigator", "Conspirator", "Tyrant", "Foreign Adversary", "Traitor", "Spy", "Saboteur",
                   "Corrupt", "Incompetent", "Terrorist", "Deceiver", "Bigot"],
    "Innocent": ["Forgotten", "Exploited", "Victim", "Scapegoat"],
}
ALL_FINE = [f for m in MAIN_ROLES for f in FINE_ROLES[m]]
MAIN_OF = {f: m for m in MAIN_ROLES for f in FINE_ROLES[m]}
SENTIMENTS = ["negative", "neutral", "positive"]

WINDOW = 48  # word pieces per mention window (the mention near its middle)
MAX_MENTIONS = 6  # mentions read per actor (spread over the article)
N_FLAGS = 3  # this mention, another mention of the same actor, inside quotes
N_TECH_CHANNELS = 15  # the tagger's 14 technique probabilities + span probability

_QUOTE_PAIRS = [("“", "”"), ('"', '"'), ("‘", "’")]


def quote_mask(text: str) -> np.ndarray:
    """Per character: inside a quotation ("…", “…”). Straight quotes pair up in order;
    single curly quotes only count when they open a run of at least three words (else
    they are apostrophes)."""
    mask = np.zeros(len(text) + 1, dtype=bool)
    for m in re.finditer(r"“[^”]{1,2000}”|\"[^\"\n]{1,2000}\"|‘(?:[^’]*\s){2,}[^’]*’", text):
        mask[m.start():m.end()] = True
    return mask[:len(text)]


@dataclass
class Window:
    """One mention in its window of word pieces: what the network reads."""

    states: np.ndarray  # [WINDOW, D] float16: top and middle feature layers (raw, or PCA-projected)
    tech: np.ndarray  # [WINDOW, N_TECH_CHANNELS] float16
    flags: np.ndarray  # [WINDOW, N_FLAGS] float16
    length: int  # real pieces (the rest is padding)
    cues: np.ndarray  # [N_CUES] float32: syntax cues of the mention


def token_states(out, layers: tuple[int, int]) -> np.ndarray:
    """Per word piece of an article pass: the top and middle feature layers side by side."""
    top, mid = layers
    return np.concatenate([out.layers[top], out.layers[mid]], axis=1)


def mention_windows(states: np.ndarray, out, mentions: list[tuple[int, int]], quotes: np.ndarray,
                    cues: list, same_actor: list[tuple[int, int]] | None = None) -> list[Window]:
    """Windows for `mentions` (char spans) of one article pass `out` (an ArticleOutput).

    `states`: per word piece, what the network reads (`token_states`, raw or already
    PCA-projected: the component projects an article once, not each window).
    `same_actor`: all char spans of the actor (flagged as its other mentions); defaults
    to `mentions`."""
    offsets = np.asarray(out.tok.offsets, dtype=np.int64).reshape(-1, 2)
    n = len(offsets)
    others = same_actor if same_actor is not None else mentions
    result = []
    for (s, e), cue in zip(mentions, cues):
        inside = np.nonzero((offsets[:, 0] < e) & (offsets[:, 1] > s))[0]
        if len(inside) == 0:
            centre = int(np.searchsorted(offsets[:, 0], s)) if n else 0
            inside = np.array([min(max(centre, 0), max(n - 1, 0))])
        a, b = int(inside[0]), int(inside[-1]) + 1
        ws = max(0, min((a + b) // 2 - WINDOW // 2, n - WINDOW))
        we = min(n, ws + WINDOW)
        L = we - ws
        win = np.zeros((WINDOW, states.shape[1]), np.float16)
        tech = np.zeros((WINDOW, N_TECH_CHANNELS), np.float16)
        flags = np.zeros((WINDOW, N_FLAGS), np.float16)
        if L > 0:
            win[:L] = states[ws:we]
            # The 14 PTC columns: a model fine-tuned on one's own labels appends its new
            # techniques after them (training/finetune.py), which these heads never saw.
            tech[:L, :14] = out.p_tech[ws:we, :14]
            tech[:L, 14] = out.p_span[ws:we]
            po = offsets[ws:we]
            flags[:L, 0] = (po[:, 0] < e) & (po[:, 1] > s)
            for os_, oe in others:
                if (os_, oe) != (s, e) and os_ < po[-1, 1] and oe > po[0, 0]:
                    flags[:L, 1] = np.maximum(flags[:L, 1], (po[:, 0] < oe) & (po[:, 1] > os_))
            starts = np.clip(po[:, 0], 0, max(len(quotes) - 1, 0))
            flags[:L, 2] = quotes[starts] if len(quotes) else 0
        result.append(Window(win, tech, flags, L, np.asarray(cue, np.float32)))
    return result


def spread(items: list, k: int = MAX_MENTIONS) -> list:
    """At most k items, evenly spread over the list (first and last kept)."""
    if len(items) <= k:
        return list(items)
    idx = np.linspace(0, len(items) - 1, k).round().astype(int)
    return [items[i] for i in sorted(set(idx.tolist()))]


class PortrayalNet(nn.Module):
    def __init__(self, width: int, pca_dim: int = 256, d: int = 256, n_cues: int = 12, dropout: float = 0.1):
        super().__init__()
        # The fixed PCA (buffers: saved with the weights, never trained).
        self.register_buffer("pca_mean", torch.zeros(2 * width))
        self.register_buffer("pca_proj", torch.zeros(2 * width, pca_dim))
        self.inp = nn.Linear(pca_dim + N_TECH_CHANNELS + N_FLAGS, d)
        self.norm = nn.LayerNorm(d)
        self.mix = nn.TransformerEncoderLayer(d, 4, 2 * d, dropout, batch_first=True, norm_first=True)
        self.pool = nn.Linear(d, 1)
        self.occ = nn.Sequential(nn.Linear(2 * d + n_cues, d), nn.GELU(), nn.Dropout(dropout))
        self.group_pool = nn.Linear(d, 1)
        self.main = nn.Linear(d, len(MAIN_ROLES))
        self.fine = nn.Linear(d, len(ALL_FINE))
        self.sentiment = nn.Linear(d, len(SENTIMENTS))
        self.drop = nn.Dropout(dropout)

    def project(self, states: torch.Tensor) -> torch.Tensor:
        return (states - self.pca_mean) @ self.pca_proj

    def mention_vectors(self, states, tech, flags, lengths, cues, projected: bool = False) -> torch.Tensor:
        """[N, WINDOW, ...] windows -> [N, d] mention vectors. `projected`: the states are
        already PCA-projected (training projects its cached windows once)."""
        states = states.float() if projected else self.project(states.float())
        x = torch.cat([states, tech.float(), flags.float()], -1)
        x = self.drop(self.norm(self.inp(x)))
        pad = torch.arange(x.shape[1])[None, :] >= lengths[:, None]
        x = self.mix(x, src_key_padding_mask=pad)
        here = flags[..., 0].float()
        m = (x * here[..., None]).sum(1) / here.sum(1, keepdim=True).clamp(min=1.0)
        score = self.pool(x).squeeze(-1) + 2.0 * here
        score = score.masked_fill(pad, -1e4)
        ctx = (score.softmax(1)[..., None] * x).sum(1)
        return self.occ(torch.cat([m, ctx, cues.float()], -1))

    def group_vectors(self, vecs: torch.Tensor, group_mask: torch.Tensor) -> torch.Tensor:
        """[G, M, d] mention vectors and [G, M] validity -> [G, d] actor vectors."""
        score = self.group_pool(vecs).squeeze(-1).masked_fill(~group_mask, -1e4)
        return (score.softmax(1)[..., None] * vecs).sum(1)

    def forward(self, states, tech, flags, lengths, cues, group_mask, projected: bool = False):
        """Inputs are [G, M, ...] (G actors, M mention slots); returns (main, fine, sentiment) logits."""
        G, M = group_mask.shape
        flat = lambda t: t.reshape(G * M, *t.shape[2:])  # noqa: E731
        keep = group_mask.reshape(-1)  # run only the real windows, not the padding slots
        real = self.mention_vectors(flat(states)[keep], flat(tech)[keep], flat(flags)[keep],
                                    flat(lengths)[keep], flat(cues)[keep], projected=projected)
        v = real.new_zeros(G * M, real.shape[1])
        v[keep] = real
        g = self.drop(self.group_vectors(v.reshape(G, M, -1), group_mask))
        return self.main(g), self.fine(g), self.sentiment(g)


class PortrayalEnsemble(nn.Module):
    """Networks trained alike from different seeds; their logits are averaged. They share
    the fixed PCA, so the projection is done once."""

    def __init__(self, nets: list[PortrayalNet]):
        super().__init__()
        self.members = nn.ModuleList(nets)

    def project(self, states: torch.Tensor) -> torch.Tensor:
        return self.members[0].project(states)

    def forward(self, *inputs, projected: bool = False):
        outs = [net(*inputs, projected=projected) for net in self.members]
        return tuple(torch.stack(parts).mean(0) for parts in zip(*outs))


def stack_groups(groups: list[list[Window]]):
    """Pad a batch of actors' windows into [G, M, ...] tensors."""
    M = max(1, max(len(g) for g in groups))
    G = len(groups)
    w0 = next(w for g in groups for w in g)
    states = np.zeros((G, M) + w0.states.shape, np.float16)
    tech = np.zeros((G, M) + w0.tech.shape, np.float16)
    flags = np.zeros((G, M) + w0.flags.shape, np.float16)
    lengths = np.ones((G, M), np.int64)
    cues = np.zeros((G, M, len(w0.cues)), np.float32)
    mask = np.zeros((G, M), bool)
    for i, g in enumerate(groups):
        for j, w in enumerate(g):
            states[i, j], tech[i, j], flags[i, j] = w.states, w.tech, w.flags
            lengths[i, j] = max(w.length, 1)
            cues[i, j] = w.cues
            mask[i, j] = True
    return (torch.from_numpy(states), torch.from_numpy(tech), torch.from_numpy(flags), torch.from_numpy(lengths),
            torch.from_numpy(cues), torch.from_numpy(mask))


@dataclass
class Portrayal:
    """The network's reading of one actor, calibrated."""

    probabilities: dict[str, float]  # per main role
    guess: str
    main: str | None  # None when the top probability is under the abstention threshold
    fine: list[str]
    score: float


class PortrayalModel:
    """A trained portrayal network in its folder (config.json, weights.safetensors)."""

    def __init__(self, folder: Path | str):
        from safetensors.torch import load_file

        folder = Path(folder)
        cfg_path, w_path = folder / "config.json", folder / "weights.safetensors"
        if not cfg_path.exists() or not w_path.exists():
            raise ModelError(f"no portrayal model in {folder}: run `redline train-roles`")
        try:
            self.config = json.loads(cfg_path.read_text(encoding="utf-8"))
            nets = [PortrayalNet(int(self.config["width"]), int(self.config["pca_dim"]), int(self.config["d"]),
                                 int(self.config["n_cues"])) for _ in range(int(self.config.get("members", 1)))]
            net = nets[0] if len(nets) == 1 else PortrayalEnsemble(nets)
            net.load_state_dict({k: v.float() for k, v in load_file(str(w_path)).items()})
            check_camps(self.config.get("camps") or {})
        except (KeyError, ValueError, RuntimeError, OSError) as exc:
            raise ModelError(f"unusable portrayal model in {folder}: {exc}; run `redline train-roles`") from exc
        self.folder = folder
        self.net = net.eval()
        self.temperature = float(self.config.get("temperature", 1.0))
        self.abstain_below = float(self.config.get("abstain_below", 0.0))
        self.fine_ratio = float(self.config.get("fine_ratio", 1.0))
        self.layers = tuple(self.config["layers"])  # (top, middle) technique-encoder layers

    @classmethod
    def from_net(cls, net: PortrayalNet, config: dict) -> "PortrayalModel":
        self = cls.__new__(cls)
        self.config, self.net, self.folder = dict(config), net.eval(), None
        self.temperature = float(config.get("temperature", 1.0))
        self.abstain_below = float(config.get("abstain_below", 0.0))
        self.fine_ratio = float(config.get("fine_ratio", 1.0))
        self.layers = tuple(config["layers"])
        return self

    def save(self, folder: Path | str) -> None:
        from safetensors.torch import save_file

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        # fp16 on disk (about half the size); computed in fp32.
        save_file({k: v.detach().half().contiguous() for k, v in self.net.state_dict().items()},
                  str(folder / "weights.safetensors"))
        (folder / "config.json").write_text(json.dumps(self.config, indent=2) + "\n", encoding="utf-8")

    @torch.inference_mode()
    def project(self, out) -> np.ndarray:
        """An article pass's word pieces through the fixed PCA, once per article."""
        raw = torch.from_numpy(token_states(out, self.layers)).float()
        return self.net.project(raw).half().numpy()

    @torch.inference_mode()
    def logits(self, groups: list[list[Window]], batch: int = 64) -> tuple[np.ndarray, np.ndarray]:
        """Windows must hold projected states (`project`)."""
        mains, fines = [], []
        for b in range(0, len(groups), batch):
            # fp32, also where the CPU has bf16: measured on the PTC dev articles, bf16
            # autocast here was no faster and raised peak RSS by about 300 MB (oneDNN keeps
            # bf16 copies and primitives for every batch shape).
            main, fine, _ = self.net(*stack_groups(groups[b:b + batch]), projected=True)
            mains.append(main.numpy())
            fines.append(fine.numpy())
        if not mains:
            return np.zeros((0, len(MAIN_ROLES)), np.float32), np.zeros((0, len(ALL_FINE)), np.float32)
        return np.concatenate(mains), np.concatenate(fines)

    def main_probabilities(self, main_logits: np.ndarray) -> np.ndarray:
        """Calibrated main-role probabilities (temperature fitted on held-out articles)."""
        z = main_logits / self.temperature
        z = z - z.max(1, keepdims=True)
        pm = np.exp(z)
        return pm / pm.sum(1, keepdims=True)

    def decode(self, main_logits: np.ndarray, fine_logits: np.ndarray,
               main_probs: np.ndarray | None = None) -> list[Portrayal]:
        """Roles from the network's logits; `main_probs` replaces the calibrated main-role
        probabilities when a later step (the camps, `camp_update`) has revised them."""
        pm = self.main_probabilities(main_logits) if main_probs is None else main_probs
        pf = 1.0 / (1.0 + np.exp(-fine_logits))
        out = []
        for m_probs, f_probs in zip(pm, pf):
            mi = int(np.argmax(m_probs))
            guess = MAIN_ROLES[mi]
            allowed = [i for i, f in enumerate(ALL_FINE) if MAIN_OF[f] == guess]
            best = max(allowed, key=lambda i: f_probs[i])
            fine = [ALL_FINE[i] for i in sorted(allowed, key=lambda i: -f_probs[i])
                    if i == best or f_probs[i] >= self.fine_ratio * f_probs[best]]
            sure = float(m_probs[mi]) >= self.abstain_below
            out.append(Portrayal({r: float(p) for r, p in zip(MAIN_ROLES, m_probs)}, guess,
                                 guess if sure else None, fine, float(m_probs[mi])))
        return out

    def predict(self, groups: list[list[Window]]) -> list[Portrayal]:
        if not groups:
            return []
        return self.decode(*self.logits(groups))


# ----------------------------------------------------------------------------- camps

def check_camps(camps: dict) -> None:
    """A "camps" block must have both 3x3 lift tables (positive) when it has a weight, so
    that a hand-edited config fails at load, with the folder named, not mid-analysis."""
    if not float(camps.get("weight", 0.0)):
        return
    for kind in ("ally", "harm"):
        table = np.asarray(camps[kind], dtype=np.float64)
        if table.shape != (3, 3) or not (table > 0).all():
            raise ValueError(f'camps["{kind}"] must be a 3x3 table of positive lifts')


def camp_update(probs: np.ndarray, edges: list[tuple[int, int, str]], camps: dict) -> np.ndarray:
    """Revise each actor's main-role probabilities by the company it keeps in the story.

    A reader casts an actor partly by its relations: whoever arms the villain, or attacks
    the victims, is on the villain's side; whoever is attacked by the villain leans victim.
    `edges` are (i, j, kind): kind "ally" (i supports, arms or deploys j; undirected) or
    "harm" (i attacks, kills, threatens or accuses j). `camps` holds, per kind, the lift
    table L[r_i, r_j] = P(r_i, r_j) / (P(r_i) P(r_j)) of the two actors' roles (estimated
    on held-out pipeline readings, `redline.training.camps`), the weight of one edge and the
    number of rounds. This is loopy belief propagation over the relation graph with the
    network's readings as unary terms: each round, every edge carries to one end the
    other end's reading through the table, that end's other messages included but not
    the one it got from this end (no echo), so a second round lets a chain "Russia arms
    Iran, Iran backs Assad" reach Russia. An actor's log-probabilities gain `weight` times
    the log of each message it receives; an actor without edges keeps its reading exactly.
    """
    weight = float(camps.get("weight", 0.0))
    if not edges or weight <= 0:
        return probs
    tables = {k: np.asarray(camps[k], dtype=np.float64) for k in ("ally", "harm")}
    p = np.clip(probs.astype(np.float64), 1e-9, 1.0)
    # directed messages: (sender, receiver, table seen from the receiver's side)
    arcs = []
    for i, j, kind in edges:
        table = tables[kind]
        arcs.append((j, i, table))  # rows: i's role, columns: j's role
        arcs.append((i, j, table if kind == "ally" else table.T))
    msgs = [np.ones(3) for _ in arcs]
    for _ in range(int(camps.get("rounds", 1))):
        log_in = np.zeros_like(p)
        for (_, rcv, _), m in zip(arcs, msgs):
            log_in[rcv] += np.log(m)
        new = []
        for k, (snd, rcv, table) in enumerate(arcs):
            # all the sender has heard but what this receiver told it (arcs come in pairs)
            z = np.log(p[snd]) + weight * (log_in[snd] - np.log(msgs[k ^ 1]))
            belief = np.exp(z - z.max())
            m = table @ (belief / belief.sum())
            new.append(m / m.sum() * 3)  # scale-free; keeps numbers near 1
        msgs = new
    z = np.log(p)
    for (_, rcv, _), m in zip(arcs, msgs):
        z[rcv] += weight * np.log(m)
    z -= z.max(1, keepdims=True)
    q = np.exp(z)
    q /= q.sum(1, keepdims=True)
    out = probs.copy()
    linked = sorted({i for e in edges for i in e[:2]})
    out[linked] = q[linked].astype(probs.dtype)  # the rest keep their reading bit for bit
    return out
