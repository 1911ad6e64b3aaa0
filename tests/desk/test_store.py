"""The store on SQLite and PostgreSQL: tickets, one open ticket per conversation, atomic claims, messages."""

from __future__ import annotations

import multiprocessing
import threading
import time
from typing import Any, Dict, List

import pytest

from bot.desk import auth
from bot.desk.records import parse_ticket_code, ticket_code
from bot.desk.store import Store


def values(conversation_id: str = "c1", **extra: Any) -> Dict[str, Any]:
    base = dict(
        conversation_id=conversation_id, channel="socketio", grade="A", reason="anger", topic="faq_x",
        skill="general", team=None, requires_senior=False, customer_id="cust", customer_name="W*", tier="vip",
        language="zh", vip=True, anger=0.8, assignee=None, context={"version": "1.0", "note": "中文"},
        created_at=100.0, created_real=100.0, skill_since=100.0, due_first_response=220.0,
        warn_first_response=190.0, due_resolution=3700.0, warn_resolution=2800.0,
    )
    base.update(extra)
    return base


def test_ticket_codes() -> None:
    assert ticket_code(123) == "T-000123"
    assert parse_ticket_code("T-000123") == 123
    assert parse_ticket_code("123") == 123
    assert parse_ticket_code("T-abc") is None
    assert parse_ticket_code("x") is None


def test_create_and_read_back(store: Store) -> None:
    ticket, created = store.create_ticket(values())
    assert created
    assert ticket.status == "queued" and ticket.assignee is None
    assert ticket.context == {"version": "1.0", "note": "中文"}
    assert store.get_ticket(ticket.id).conversation_id == "c1"
    assert store.open_ticket_for("c1").id == ticket.id
    assert store.get_ticket(ticket.id + 100) is None


def test_one_open_ticket_per_conversation(store: Store) -> None:
    first, created = store.create_ticket(values())
    again, created_again = store.create_ticket(values(grade="B"))
    assert created and not created_again and again.id == first.id
    assert store.close_ticket(first.id, "resolved", 200.0, None)
    assert store.open_ticket_for("c1") is None
    second, created_second = store.create_ticket(values())
    assert created_second and second.id != first.id
    assert [t.id for t in store.tickets_for_customer("cust")] == [second.id, first.id]


def test_claim_is_conditional_and_respects_capacity(store: Store) -> None:
    a, _ = store.create_ticket(values("c1"))
    b, _ = store.create_ticket(values("c2"))
    assert store.claim(a.id, "alice", 1, 150.0)
    assert not store.claim(a.id, "bob", 3, 151.0)  # already claimed
    assert not store.claim(b.id, "alice", 1, 152.0)  # alice at capacity
    assert store.claim(b.id, "bob", 3, 153.0)
    assert store.get_ticket(a.id).assignee == "alice"
    assert store.active_count("alice") == 1 and store.active_count("bob") == 1


def test_transfer_and_close_check_the_owner(store: Store) -> None:
    t, _ = store.create_ticket(values())
    assert store.claim(t.id, "alice", 3, 1.0)
    assert not store.requeue(t.id, "orders", False, 2.0, expect_assignee="bob")
    assert store.requeue(t.id, "orders", False, 2.0, expect_assignee="alice")
    row = store.get_ticket(t.id)
    assert (row.status, row.assignee, row.skill, row.skill_since) == ("queued", None, "orders", 2.0)
    assert store.assign(t.id, "bob", 3.0, expect_assignee=None)
    assert not store.close_ticket(t.id, "resolved", 4.0, expect_assignee="alice")
    assert store.close_ticket(t.id, "handed_back", 4.0, expect_assignee="bob")
    assert not store.claim(t.id, "alice", 3, 5.0)  # closed tickets cannot be claimed
    assert store.stamp_first_response(t.id, 3.5) and not store.stamp_first_response(t.id, 9.0)
    assert store.get_ticket(t.id).first_response_at == 3.5


def test_messages_keep_order_and_deduplicate(store: Store) -> None:
    t, _ = store.create_ticket(values())
    m1 = store.add_message(t.id, "customer", "一", 1.0, "received", external_id="m1")
    assert store.add_message(t.id, "customer", "一", 1.0, "received", external_id="m1") is None
    store.add_message(t.id, "agent", "二", 2.0, "pending", author="alice")
    store.add_message(t.id, "agent", "三", 3.0, "pending", author="alice")
    store.set_message_status(m1.id, "received")
    texts = [m.text for m in store.messages(t.id)]
    assert texts == ["一", "二", "三"]
    # Another ticket may carry the same external id.
    other, _ = store.create_ticket(values("c2"))
    assert store.add_message(other.id, "customer", "x", 1.0, "received", external_id="m1") is not None


def test_agents_tokens_and_state(store: Store) -> None:
    agent, token, password = auth.create_agent(store, "alice", ["general"], True, 2, 10.0)
    assert agent.skills == ("general",) and agent.senior
    with pytest.raises(auth.AuthError):
        auth.create_agent(store, "alice", ["general"], False, 2, 10.0)
    assert auth.authenticate(store, token, 10.0).agent.name == "alice"
    assert auth.authenticate(store, token + "x", 10.0) is None
    session, expires = auth.login(store, "alice", password, 100.0, hours=1)
    assert expires == 3700.0
    assert auth.authenticate(store, session, 3699.0).agent.name == "alice"
    assert auth.authenticate(store, session, 3701.0) is None  # sessions expire
    with pytest.raises(auth.AuthError):
        auth.login(store, "alice", "wrong", 100.0, hours=1)
    assert store.purge_expired_tokens(4000.0) == 1
    assert store.get_state("k") is None
    store.set_state("k", "1")
    store.set_state("k", "2")
    assert store.get_state("k") == "2"


def test_containment_counts(store: Store) -> None:
    assert store.seen_conversation("a", "rest", 1.0)
    assert not store.seen_conversation("a", "rest", 2.0)
    store.seen_conversation("b", "rest", 1.0)
    store.seen_conversation("c", "rest", 1.0)
    store.create_ticket(values("b"))
    assert store.containment_counts() == (3, 1)


def test_claim_race_threads_have_one_winner(store: Store) -> None:
    for round_ in range(3):
        t, _ = store.create_ticket(values(f"race-{round_}"))
        barrier = threading.Barrier(12)
        wins: List[str] = []

        def attempt(name: str, tid: int = t.id, barrier: Any = barrier, wins: List[str] = wins) -> None:
            barrier.wait()
            if store.claim(tid, name, 5, time.time()):
                wins.append(name)

        threads = [threading.Thread(target=attempt, args=(f"agent{i}",)) for i in range(12)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(wins) == 1
        assert store.get_ticket(t.id).assignee == wins[0]


def _claim_in_process(url: str, schema: str | None, ticket_id: int, name: str, start: Any, results: Any) -> None:
    store = Store(url, schema=schema)
    start.wait()
    results.put((name, store.claim(ticket_id, name, 5, time.time())))
    store.close()


def test_claim_race_processes_have_one_winner(store: Store) -> None:
    t, _ = store.create_ticket(values("proc-race"))
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Event()
    results = ctx.Queue()
    procs = [
        ctx.Process(target=_claim_in_process, args=(store.url, store.schema, t.id, f"p{i}", start, results))
        for i in range(6)
    ]
    for proc in procs:
        proc.start()
    time.sleep(1.5)
    start.set()
    outcomes = [results.get(timeout=60) for _ in procs]
    for proc in procs:
        proc.join(timeout=30)
    winners = [name for name, won in outcomes if won]
    assert len(outcomes) == 6 and len(winners) == 1
    assert store.get_ticket(t.id).assignee == winners[0]
