"""What the assistant says when it is not sure what the customer means (pure logic, no rasa_sdk).

First miss: offer the best two guesses as buttons. Second miss in a row: offer a human. A message whose best
guess is small talk or out of scope gets the scope statement, never an FAQ topic.
"""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional

from bot import texts
from bot.i18n import localise

logger = logging.getLogger(__name__)

FALLBACK_INTENT = "nlu_fallback"
NOT_TOPICS = {"out_of_scope", "chitchat"}


def consecutive_misses(events: List[Dict[str, Any]]) -> int:
    """Count the user messages in a row, ending with the latest, that the classifier was unsure about."""
    misses = 0
    for event in reversed(events):
        if event.get("event") != "user":
            continue
        intent = ((event.get("parse_data") or {}).get("intent") or {}).get("name")
        if intent != FALLBACK_INTENT:
            break
        misses += 1
    return misses


def best_guesses(ranking: List[Dict[str, Any]], known_topics: List[str], count: int = 2) -> List[str]:
    """Return up to `count` FAQ topic intents from an intent ranking, best first."""
    known = set(known_topics)
    guesses = [item["name"] for item in ranking if item.get("name") in known]
    return guesses[:count]


def top_is_out_of_scope(ranking: List[Dict[str, Any]]) -> bool:
    """True when the classifier's own best guess (ignoring the fallback) is out of scope or small talk."""
    for item in ranking:
        if item.get("name") == FALLBACK_INTENT:
            continue
        return item.get("name") in NOT_TOPICS
    return False


def clarify_message(language: Optional[str], titles: List[tuple[str, str]]) -> Dict[str, Any]:
    """A question offering the guessed topics as buttons, plus "none of these" and a human.

    Args:
        language: the customer's language code.
        titles: (intent, button title: the topic's canonical question in the customer's language, Simplified
            for Chinese) pairs, best first.
    """
    buttons = [{"title": localise(language, zh=title, en=title), "payload": f"/{intent}"} for intent, title in titles]
    buttons += [{"title": title, "payload": f"/{intent}"} for title, intent in texts.clarify_other_buttons(language)]
    return {"text": texts.clarify_question(language), "buttons": buttons}


def offer_human_message(language: Optional[str]) -> Dict[str, Any]:
    """After a second miss in a row: say so plainly and offer a human agent."""
    return {
        "text": texts.offer_human(language),
        "buttons": [{"title": title, "payload": f"/{intent}"} for title, intent in texts.offer_human_buttons(language)],
    }
