"""`Store.topic_spans`: what the trainer's review reads from the desk (SQLite and PostgreSQL)."""

from __future__ import annotations

from typing import Any, Dict, Optional

from bot.desk.records import TicketStatus
from bot.desk.store import Store


def ticket(conversation_id: str, topic: Optional[str], at: float) -> Dict[str, Any]:
    return dict(
        conversation_id=conversation_id, channel="rest", grade="B", reason="requested", topic=topic,
        skill="general", context={}, created_at=at, created_real=at, skill_since=at, due_first_response=at + 120,
        warn_first_response=at + 90, due_resolution=at + 3600, warn_resolution=at + 2700,
    )


def test_every_ticket_of_each_conversation_with_its_time_and_topic(store: Store) -> None:
    first, _ = store.create_ticket(ticket("c1", "faq_fees", 100.0))
    store.close_ticket(first.id, TicketStatus.RESOLVED, 150.0, None)
    store.create_ticket(ticket("c1", "faq_refund_status", 200.0))
    second, _ = store.create_ticket(ticket("c2", "faq_delivery_time", 100.0))
    store.close_ticket(second.id, TicketStatus.RESOLVED, 150.0, None)
    store.create_ticket(ticket("c2", None, 300.0))  # a later ticket without a topic
    store.create_ticket(ticket("other", "faq_fees", 100.0))
    assert store.topic_spans(["c1", "c2", "c4", "c1"]) == {
        "c1": [(100.0, 150.0, "faq_fees"), (200.0, None, "faq_refund_status")],
        "c2": [(100.0, 150.0, "faq_delivery_time"), (300.0, None, "")],
    }
    assert store.topic_spans([]) == {}


def test_many_conversations_at_once(sqlite_store: Store) -> None:
    for index in range(1200):
        sqlite_store.create_ticket(ticket(f"c{index}", f"topic_{index}", float(index)))
    spans = sqlite_store.topic_spans(f"c{index}" for index in range(0, 1500))
    assert len(spans) == 1200 and spans["c1199"] == [(1199.0, None, "topic_1199")]
