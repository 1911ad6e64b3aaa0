"""The one banned-phrase matcher: the trainer lint (`bot.trainer.lint`), the FAQ sheet import and the desk's check
of agents' live replies, notes and canned replies (`bot.desk.compliance`) all use it.

A phrase of `settings.yml: compliance.banned_phrases` matches whatever its case, width (full / half), script
(Simplified / Traditional) and spacing next to a Chinese character or a symbol: `绝对保证` matches `绝对 保证` and
`絕對保證`, `100% guaranteed` matches `100 % GUARANTEED`; a phrase that starts or ends with a Latin letter or digit
matches at a word boundary only (`no risk` is not in `casino risk`).
"""

from __future__ import annotations

import logging
import re
import unicodedata
from typing import Iterable, List, Tuple

from bot.i18n import to_simplified

logger = logging.getLogger(__name__)

_SPACES = re.compile(r"\s+")


def fold(text: str) -> str:
    """Fold text for phrase matching: NFKC, Simplified Chinese, case-folded, single spaces.

    A lone surrogate (in a regex character class of the code, say) becomes `?`: it is no word, and the Chinese
    converter cannot encode it.
    """
    text = unicodedata.normalize("NFKC", (text or "").encode("utf-8", "replace").decode("utf-8"))
    return _SPACES.sub(" ", to_simplified(text).casefold()).strip()


def _spacing_free(char: str) -> bool:
    """A character next to which a space carries no meaning: Han, kana, punctuation or a symbol."""
    return unicodedata.category(char)[0] in "PS" or "\u2e80" <= char <= "\u9fff" or "\uf900" <= char <= "\ufaff"


def phrase_form(text: str) -> str:
    """Fold text for banned-phrase matching: `fold`, then no space next to a Chinese character, punctuation or
    a symbol, so that `绝对 保证` and `100 % guaranteed` match `绝对保证` and `100% guaranteed` (spaces between
    two Latin words stay: `no risk` must not match `casino risk`)."""
    folded = fold(text)
    kept = [
        char
        for index, char in enumerate(folded)
        if char != " " or not (_spacing_free(folded[index - 1]) or _spacing_free(folded[index + 1]))
    ]
    return "".join(kept)


def _latin(char: str) -> bool:
    return char.isascii() and char.isalnum()


def has_phrase(form: str, needle: str) -> bool:
    """Whether a banned phrase occurs in a text, both in `phrase_form`; a phrase that starts or ends with a
    Latin letter or digit must do so at a word boundary (`no risk` is not in `casino risk`)."""
    start = form.find(needle)
    while needle and start != -1:
        end = start + len(needle)
        before = form[start - 1] if start else ""
        after = form[end] if end < len(form) else ""
        if not (_latin(needle[0]) and _latin(before)) and not (_latin(needle[-1]) and _latin(after)):
            return True
        start = form.find(needle, start + 1)
    return False


class BannedPhrases:
    """The banned phrases, folded once, and the check of a text against them.

    Args:
        phrases: the phrases as the settings write them (`compliance.banned_phrases`).
    """

    def __init__(self, phrases: Iterable[str]) -> None:
        needles = [(phrase, phrase_form(phrase)) for phrase in phrases]
        self.needles: List[Tuple[str, str]] = [(phrase, needle) for phrase, needle in needles if needle]

    def __bool__(self) -> bool:
        return bool(self.needles)

    def found_in(self, text: str) -> List[str]:
        """The banned phrases (as the settings write them) that `text` contains, in settings order."""
        form = phrase_form(text)
        return [phrase for phrase, needle in self.needles if has_phrase(form, needle)]

    def needle(self, phrase: str) -> str:
        """The folded form of one of the phrases."""
        return dict(self.needles)[phrase]
