"""Key facts as an agent sees them: masked the way the transcript masks them, and each fact listed once.

Used for the context packet (`bot.handoff.context`, from the entities of `bot.nlu.key_facts`) and by the desk for
the messages after the handoff (`bot.desk.views`).
"""

from __future__ import annotations

import functools
import logging
import re
from typing import Any, Dict, Iterable, List, Optional, Tuple

from bot.handoff import masking
from bot.key_facts import KINDS, ORDER_NUMBER, PHONE, TRACKING_NUMBER

logger = logging.getLogger(__name__)

# A fact is masked as it would be right after this word in a message (`bot.handoff.masking.mask_after`): an order
# or tracking number stays whole unless it is an ID number, a phone is always masked.
_MASKED_AS_AFTER = {ORDER_NUMBER: "订单号", TRACKING_NUMBER: "运单号", PHONE: "电话"}
_NOT_COMPARED = re.compile(r"[\s\-.()（）]")
# At most this many facts are listed (the first mentioned).
MAX_FACTS = 50
# A longer "fact" is no fact (a run of digits pasted by mistake): left out, as the packet's schema allows 200.
MAX_VALUE_CHARS = 100


def shown_value(kind: str, value: str) -> str:
    """`value` of a fact of `kind` masked for an agent (phones always; anything personal the masking finds)."""
    word = _MASKED_AS_AFTER.get(kind)
    return masking.mask_after(word, value) if word else masking.mask(value)


def _same(kind: str, value: str) -> tuple:
    return kind, _NOT_COMPARED.sub("", masking.fold(value)).lower()


def gather(facts: Iterable[Dict[str, Any]], limit: int = MAX_FACTS) -> List[Dict[str, Any]]:
    """Each fact once, in the order first mentioned: {kind, value (masked), at, turn, mentions}.

    Args:
        facts: dicts with `kind` (one of `bot.key_facts.KINDS`, others ignored), `value` (as written) and,
            optionally, `at` (ISO time of the message) and `turn` (its user turn).
        limit: at most this many facts (the first mentioned).
    """
    listed: Dict[tuple, Dict[str, Any]] = {}
    for fact in facts:
        kind, value = fact.get("kind"), fact.get("value")
        if kind not in KINDS or not isinstance(value, str) or not value.strip() or len(value) > MAX_VALUE_CHARS:
            continue
        shown = shown_value(kind, value.strip())
        key = _same(kind, shown)
        if key in listed:
            listed[key]["mentions"] += 1
        elif len(listed) < limit:
            listed[key] = {"kind": kind, "value": shown, "at": _optional(fact.get("at")),
                           "turn": fact.get("turn"), "mentions": 1}
    return list(listed.values())


def _optional(value: Any) -> Optional[str]:
    return value if isinstance(value, str) else None


def message_facts(text: str) -> List[Dict[str, str]]:
    """The key facts of one (masked) message as the desk shows them with it: [{kind, value}], each once."""
    return [{"kind": kind, "value": value} for kind, value in _message_facts(text)]


@functools.lru_cache(maxsize=4096)
def _message_facts(text: str) -> Tuple[Tuple[str, str], ...]:
    from bot.key_facts.extract import extract
    from bot.nlu import limits

    # the first 2,000 characters, as the NLU reads a message (bot/nlu/limits.py)
    listed = gather({"kind": fact.kind, "value": fact.text} for fact in extract(limits.head(text)))
    return tuple((fact["kind"], fact["value"]) for fact in listed)


def warm_up_key_facts() -> None:
    """Build both pipelines now (a Chinese and an English message), so no request waits for them; a failure is
    logged (the first message then builds them)."""
    try:
        message_facts("订单 20250101000000")
        message_facts("order 20250101000000")
    except Exception:  # boundary: a background warm-up must not end in an unretrieved exception
        logger.error("building the key-fact pipelines failed")
        logger.debug("building the key-fact pipelines failed", exc_info=True)
