"""Which language a customer writes in.

The reply language is decided per message: Chinese when Han characters dominate the letters of the message,
Traditional Chinese when those characters are Traditional, English otherwise. The language codes and the
Simplified/Traditional conversion are `bot.i18n`'s.
"""

from __future__ import annotations

import logging
import re

from bot.i18n import EN, ZH, ZH_HANT, convert, to_simplified

logger = logging.getLogger(__name__)

_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN_WORD = re.compile(r"[A-Za-z]+")


def is_traditional(text: str) -> bool:
    """True when the Han characters of `text` are written in Traditional form.

    A text counts as Traditional when converting it to Simplified changes more of its characters than
    converting it to Traditional does: characters common to both scripts count for neither. Both directions
    are OpenCC's plain standards (`t2s`, `s2t`), whatever regional standard the replies use.
    """
    han = "".join(_HAN.findall(text))
    if not han:
        return False
    simplified = to_simplified(han)
    traditional = convert("s2t", han)
    changed_by_t2s = sum(a != b for a, b in zip(han, simplified))
    changed_by_s2t = sum(a != b for a, b in zip(han, traditional))
    return changed_by_t2s > changed_by_s2t


def detect(text: str, default: str | None = ZH) -> str | None:
    """Return the language of one customer message: `zh`, `zh_hant` or `en` (`bot.i18n.LANGUAGES`).

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
