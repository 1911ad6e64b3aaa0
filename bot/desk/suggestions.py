"""Helping agents answer: suggested FAQ answers for the customer's last message, and a search over every FAQ
answer.

Suggestions (`GET /api/tickets/{id}/suggestions`) come from the same NLU model the assistant uses: the
customer's last message is parsed by Rasa (`RasaClient.parse`, `/model/parse`), and the best FAQ intents of its
`intent_ranking` (up to `MAX_SUGGESTIONS`) are answered as the assistant would answer them (`bot.faq.Topic.answer`:
the customer's language, Traditional converted). When they cannot be made (Rasa down, no customer message yet)
the list is empty and `reason` says why; the console keeps working.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from bot import faq
from bot.compliance import fold
from bot.desk.errors import find_ticket
from bot.desk.rasa_client import RasaClient, RasaUnavailable
from bot.desk.records import MessageRole, Ticket
from bot.desk.store import Store
from bot.i18n import LANGUAGES, ZH
from bot.language import detect

logger = logging.getLogger(__name__)

MAX_SUGGESTIONS = 3
# Topics the model gives less than this are no suggestion (the rest of a ranking is often exactly 0).
MIN_CONFIDENCE = 0.01
MAX_SEARCH_RESULTS = 20
MAX_QUERY = 200


@dataclass
class SuggestedAnswers:
    """The suggestions for a ticket, and why there are none when there are none."""

    items: List[Dict[str, Any]] = field(default_factory=list)
    reason: Optional[str] = None


def last_customer_message(store: Store, ticket: Ticket) -> Optional[str]:
    """The customer's last message: on the ticket since the handoff, else the last of the context transcript."""
    for message in reversed(store.messages(ticket.id)):
        if message.role is MessageRole.CUSTOMER and message.text.strip():
            return message.text
    for line in reversed(ticket.context.get("transcript") or []):
        if isinstance(line, dict) and line.get("role") == "customer" and str(line.get("text") or "").strip():
            return str(line["text"])
    return None


def customer_language(ticket: Ticket, text: str) -> str:
    """The ticket's language (zh, zh_hant, en), else the language of the text."""
    if ticket.language in LANGUAGES:
        return str(ticket.language)
    return detect(text) or ZH


def answer_json(topic: faq.Topic, language: str) -> Dict[str, Any]:
    """A topic's answer as the console shows it."""
    return {"topic": topic.intent, "name": topic.name(language), "text": topic.answer(language)}


class AnswerHelp:
    """Suggested answers and FAQ search.

    Args:
        store: the ticket store (the customer's messages).
        rasa: the Rasa client (the model's parse).
    """

    def __init__(self, store: Store, rasa: RasaClient) -> None:
        self.store = store
        self.rasa = rasa

    async def suggestions(self, code: str) -> SuggestedAnswers:
        """Up to `MAX_SUGGESTIONS` FAQ answers for a ticket's last customer message, best first.

        Raises:
            DeskError: 404 unknown ticket.
        """
        ticket = find_ticket(self.store, code)
        text = last_customer_message(self.store, ticket)
        if text is None:
            return SuggestedAnswers(reason="the customer has not written anything yet")
        try:
            parsed = await self.rasa.parse(text)
        except RasaUnavailable as error:
            return SuggestedAnswers(reason=f"no suggestions: {error}")
        language = customer_language(ticket, text)
        catalog = faq.load_catalog()
        items: List[Dict[str, Any]] = []
        for ranked in parsed.get("intent_ranking") or []:
            topic = catalog.get(str(ranked.get("name") if isinstance(ranked, dict) else ""))
            if topic is None or topic.answer(language) is None:
                continue  # not an FAQ intent (greet, nlu_fallback, …), or answered by code
            confidence = ranked.get("confidence")
            if not isinstance(confidence, (int, float)) or confidence < MIN_CONFIDENCE:
                continue
            items.append({**answer_json(topic, language), "confidence": round(float(confidence), 4)})
            if len(items) == MAX_SUGGESTIONS:
                break
        return SuggestedAnswers(items=items, reason=None if items else "the model found no FAQ topic for it")

    @staticmethod
    def search(query: str, language: Optional[str] = None) -> List[Dict[str, Any]]:
        """FAQ answers whose topic, questions or answers (Chinese or English) contain `query` (folded: case,
        width, Simplified/Traditional); topics matched by name or canonical question first, then by their other
        questions (the most matching first), then by their answers. An empty query lists them all.

        Args:
            query: what the agent typed.
            language: the language of each result's `text` (zh, zh_hant or en; zh when None).
        """
        needle = fold(query[:MAX_QUERY])
        found: List[tuple] = []
        for topic in faq.load_catalog().values():
            if topic.answer_zh is None or topic.answer_en is None:
                continue
            named = [topic.intent, topic.name_zh or "", topic.name_en or "", topic.canonical_zh or "",
                     topic.canonical_en or ""]
            examples = sum(needle in fold(text) for text in (*topic.examples_zh, *topic.examples_en))
            if not needle or any(needle in fold(text) for text in named):
                rank = 0
            elif examples:
                rank = 1
            elif needle in fold(topic.answer_zh) or needle in fold(topic.answer_en):
                rank = 2
            else:
                continue
            found.append((rank, -examples, topic.intent, topic))
        found.sort(key=lambda item: item[:3])
        return [
            {**answer_json(topic, language or ZH), "question_zh": topic.canonical_zh,
             "question_en": topic.canonical_en, "answer_zh": topic.answer_zh, "answer_en": topic.answer_en}
            for *_, topic in found[:MAX_SEARCH_RESULTS]
        ]
