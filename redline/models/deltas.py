"""Fine-tuned weights stored as small differences from a base that a pinned package ships.

Why: a fine-tuned copy of an 8-layer MPNet is 113 MB in fp16, over the repository's
60 MB budget for all models together, while fine-tuning moves each weight only a
little. So each large matrix is stored as `W_finetuned - W_base`, quantized to a few
bits per value with one fp16 scale per output row (symmetric, round to nearest, the step chosen per row to minimise the squared error); the
loader adds it back onto the base weights read from the package. At 4 bits the
quantization error is about a tenth of the *difference*, a small fraction of a per cent
of the weight itself (the model card gives the dev scores measured on the stored model).
Small tensors (biases, LayerNorms, heads) and anything without a base counterpart are
stored whole, in fp16.

Layout in the safetensors file, for a matrix named `k`:
`k.delta4` (uint8, two 4-bit codes per byte, row-major) and `k.delta_scale` (fp16, one
per row). `k` itself is absent.
"""

from __future__ import annotations

import torch
from torch import nn

SUFFIX_CODES = ".delta4"
SUFFIX_SCALE = ".delta_scale"
BITS = 4
_QMAX = 2 ** (BITS - 1) - 1  # codes -7..7, stored as 1..15


def compressible(name: str, value: torch.Tensor, base: dict[str, torch.Tensor]) -> bool:
    b = base.get(name)
    return (value.dim() == 2 and b is not None and tuple(b.shape) == tuple(value.shape)
            and value.shape[1] % 2 == 0 and value.numel() >= 65536)


def pack(state: dict[str, torch.Tensor], base: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The tensors to save: large matrices as 4-bit deltas from `base`, the rest in fp16."""
    out: dict[str, torch.Tensor] = {}
    for name, value in state.items():
        value = value.detach().float().cpu()
        if not compressible(name, value, base):
            out[name] = value.to(torch.float16).contiguous()
            continue
        delta = value - base[name].float()
        scale = _best_scale(delta)
        codes = (delta / scale.float()).round().clamp(-_QMAX, _QMAX).to(torch.int16) + (_QMAX + 1)
        codes = codes.to(torch.uint8).reshape(value.shape[0], -1, 2)
        out[name + SUFFIX_CODES] = (codes[..., 0] | (codes[..., 1] << 4)).contiguous()
        out[name + SUFFIX_SCALE] = scale.reshape(-1).contiguous()
    return out


def _best_scale(delta: torch.Tensor) -> torch.Tensor:
    """Per row, the step that minimises the squared error: clipping the few largest values
    buys a finer step for all the others (for Gaussian rows about 0.11 of the difference's
    norm instead of 0.13 with the row maximum as the top code)."""
    top = delta.abs().amax(1, keepdim=True).clamp(min=1e-12)
    best, best_err = None, None
    for frac in (1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4):
        scale = (top * frac / _QMAX).to(torch.float16).float().clamp(min=1e-12)
        err = ((delta / scale).round().clamp(-_QMAX, _QMAX) * scale - delta).pow(2).sum(1, keepdim=True)
        if best is None:
            best, best_err = scale, err
        else:
            better = err < best_err
            best, best_err = torch.where(better, scale, best), torch.minimum(err, best_err)
    return best.to(torch.float16)


def _byte_table() -> torch.Tensor:
    """(256, 2): the two signed codes that each byte holds, low nibble first."""
    b = torch.arange(256)
    return torch.stack([b & 0xF, b >> 4], dim=1).float() - (_QMAX + 1)


def unpack(stored: dict[str, torch.Tensor], base: dict[str, torch.Tensor],
           into_base: bool = False) -> dict[str, torch.Tensor]:
    """The full fp32 state back: deltas added onto `base`, other tensors as stored.

    `into_base`: add the differences onto `base`'s own (fp32) tensors instead of copies.
    For the state dict of a freshly built encoder, this spares a second copy of every
    large matrix, which is most of the model's load time on a cold start.
    """
    out: dict[str, torch.Tensor] = {}
    table = _byte_table()
    for name, value in stored.items():
        if name.endswith(SUFFIX_SCALE):
            continue
        if not name.endswith(SUFFIX_CODES):
            out[name] = value.float()
            continue
        key = name[: -len(SUFFIX_CODES)]
        if key not in base:
            raise KeyError(f"{key}: a stored delta without its base weight")
        # One table lookup per byte gives both codes (as F.embedding, which takes int32).
        delta = nn.functional.embedding(value.int(), table).reshape(value.shape[0], -1)
        delta.mul_(stored[key + SUFFIX_SCALE].float()[:, None])
        target = base[key] if into_base and base[key].dtype == torch.float32 else base[key].float().clone()
        out[key] = target.add_(delta)
    return out


def stored_bytes(stored: dict[str, torch.Tensor]) -> int:
    return sum(v.numel() * v.element_size() for v in stored.values())
