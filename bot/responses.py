"""Responses of `domain.yml` that code outside Rasa sends (the desk's closing line): the text in the customer's
language, rendered as the assistant renders it (`bot.nlg`): the English variation (condition: slot `language`
is `en`), or the unconditioned Chinese one, converted to Traditional for `zh_hant` (`bot.i18n.localise`).

Trainers edit these texts in `domain.yml` like any other response; the file is read again when it changes.
"""

from __future__ import annotations

import functools
import logging
import pathlib
from typing import Any, Dict, Optional, Tuple

import yaml

from bot.faq import answer_variations
from bot.i18n import localise

logger = logging.getLogger(__name__)

CLOSING_LINE = "utter_closing_line"


@functools.lru_cache(maxsize=4)
def _responses(path: str, mtime: float) -> Dict[str, Any]:
    with open(path, encoding="utf-8") as handle:
        domain = yaml.safe_load(handle) or {}
    responses = domain.get("responses") if isinstance(domain, dict) else None
    return responses if isinstance(responses, dict) else {}


def _texts(name: str, root: pathlib.Path) -> Optional[Tuple[str, str]]:
    path = root / "domain.yml"
    if not path.exists():
        return None
    variations = _responses(str(path), path.stat().st_mtime).get(name)
    zh_index, en_index = answer_variations(variations)
    if zh_index is None or en_index is None:
        return None
    zh, en = variations[zh_index].get("text"), variations[en_index].get("text")
    if not (isinstance(zh, str) and zh.strip() and isinstance(en, str) and en.strip()):
        return None
    return zh, en


def response_text(name: str, language: Optional[str], root: Optional[pathlib.Path] = None) -> Optional[str]:
    """A `domain.yml` response's text in the customer's language (`zh`, `zh_hant`, `en`); None when the domain
    has no such response with a Chinese and an English text (logged).

    Args:
        name: the response, e.g. `utter_closing_line`.
        language: the customer's language.
        root: the project root; the repository by default.
    """
    from bot.settings import repo_root

    texts = _texts(name, root or repo_root())
    if texts is None:
        logger.error("domain.yml has no response %s with a Chinese and an English text", name)
        return None
    return localise(language, zh=texts[0], en=texts[1])
