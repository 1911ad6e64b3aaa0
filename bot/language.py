"""Which language a customer writes in, and Simplified/Traditional Chinese conversion.

The reply language is decided per message: Chinese when Han characters dominate the letters of the message,
Traditional Chinese when those characters are Traditional, English otherwise.
"""

from __future__ import annotations

import functools
import logging
import re

logger = logging.getLogger(__name__)

ZH = "zh"
ZH_HANT = "zh_hant"
EN = "en"
LANGUAGES = (ZH, ZH_HANT, EN)

_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN_WORD = re.compile(r"[A-Za-z]+")


@functools.lru_cache(maxsize=1)
def _converters():  # type: ignore[no-untyped-def]
    from opencc import OpenCC

    return OpenCC("t2s"), OpenCC("s2t")


@functools.lru_cache(maxsize=4096)
def to_simplified(text: str) -> str:
    """Convert Traditional Chinese characters in `text` to Simplified."""
    return _converters()[0].convert(text)


@functools.lru_cache(maxsize=4096)
def to_traditional(text: str) -> str:
    """Convert Simplified Chinese characters in `text` to Traditional."""
    return _converters()[1].convert(text)


def is_traditional(text: str) -> bool:
    """True when the Han characters of `text` are written in Traditional form.

    A text counts as Traditional when converting it to Simplified changes more of its characters than
    converting it to Traditional does: characters common to both scripts count for neither.
    """
    han = "".join(_HAN.findall(text))
    if not han:
        return False
    simplified = to_simplified(han)
    traditional = to_traditional(han)
    changed_by_t2s = sum(a != b for a, b in zip(han, simplified))
    changed_by_s2t = sum(a != b for a, b in zip(han, traditional))
    return changed_by_t2s > changed_by_s2t


def detect(text: str, default: str | None = ZH) -> str | None:
    """Return the language of one customer message: "zh", "zh_hant" or "en".

    Mixed text goes by its dominant script: each Han character weighs one, each Latin word weighs two (a word
    carries about as much as two characters). Text with neither (emoji, digits) gets `default`.
    """
    han = len(_HAN.findall(text or ""))
    latin = len(_LATIN_WORD.findall(text or ""))
    if han == 0 and latin == 0:
        return default
    if han >= latin * 2:
        return ZH_HANT if is_traditional(text) else ZH
    return EN
