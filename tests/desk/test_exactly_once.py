"""Agent replies reach the customer exactly once, over real HTTP (a served desk on SQLite, a Rasa stand-in):
delivery keys, the conditional retry, the sweep of stale pending replies, `Idempotency-Key`, closing before
acting."""

from __future__ import annotations

import asyncio
import time
from typing import Any, AsyncIterator, Dict, Optional, Tuple

import aiohttp
import pytest

from bot.desk import records
from bot.desk.app import Cadence, create_app
from bot.desk.rasa_client import RasaClient
from bot.desk.records import MessageRole, MessageStatus, TicketStatus
from bot.desk.store import Store
from bot.desk.sweeper import Swept
from desk_http import serve

pytestmark = pytest.mark.filterwarnings("ignore:You have set a listener")


class Desk:
    """A served desk and a client for it."""

    def __init__(self, base: str, http: aiohttp.ClientSession, app: Any, agents: Dict[str, Any],
                 internal: Dict[str, str]) -> None:
        self.base = base
        self.http = http
        self.app = app
        self.agents = agents
        self.internal = internal

    @property
    def store(self) -> Store:
        return self.app.ctx.store

    async def call(self, method: str, path: str, agent: str = "alice", key: Optional[str] = None,
                   json: Any = None) -> Tuple[int, Any, Dict[str, str]]:
        headers = dict(self.agents[agent]["headers"])
        if key is not None:
            headers["Idempotency-Key"] = key
        async with self.http.request(method, f"{self.base}{path}", headers=headers, json=json) as response:
            return response.status, await response.json(content_type=None), dict(response.headers)

    async def open_ticket(self, packet: Dict[str, Any], claim_by: Optional[str] = "alice") -> str:
        async with self.http.post(f"{self.base}/internal/tickets", headers=self.internal, json=packet) as response:
            assert response.status == 201, await response.text()
            code = (await response.json())["id"]
        if claim_by:
            status, body, _ = await self.call("POST", f"/api/tickets/{code}/claim", claim_by)
            assert status == 200, body
        return code


def desk_app(settings: Dict[str, Any], store: Store, rasa_url: str, calendar: Any, leader_round: float = 3600.0) -> Any:
    return create_app(
        settings, store=store, rasa=RasaClient(rasa_url, token="rasa-token", timeout=3), broker=None,
        secret="test-secret", calendar=calendar, notify_positions=False, console=False,
        cadence=Cadence(leader_round=leader_round),
    )


@pytest.fixture
async def desk(settings, sqlite_store, fake_rasa, calendar, agents, internal) -> AsyncIterator[Desk]:
    """The desk on SQLite, served over HTTP; the leader's round is left out (tests sweep themselves)."""
    app = desk_app(settings, sqlite_store, fake_rasa.url, calendar)
    async with serve(app) as base, aiohttp.ClientSession() as http:
        yield Desk(base, http, app, agents, internal)


# ---------------------------------------------------------------- delivery keys and the conditional retry


async def test_every_reply_carries_its_delivery_key(desk, fake_rasa, make_packet) -> None:
    code = await desk.open_ticket(make_packet("key-1"))
    status, first, _ = await desk.call("POST", f"/api/tickets/{code}/messages", json={"text": "one"})
    assert status == 201
    status, second, _ = await desk.call("POST", f"/api/tickets/{code}/messages", json={"text": "two"})
    assert status == 201
    keys = [e["metadata"]["delivery_key"] for e in fake_rasa.events() if e.get("event") == "bot"]
    assert keys == [f"desk-{code}-{first['id']}", f"desk-{code}-{second['id']}"]


async def test_two_retries_at_once_send_the_reply_once(desk, fake_rasa, make_packet) -> None:
    code = await desk.open_ticket(make_packet("retry-race"))
    fake_rasa.fail_status = 500
    status, body, _ = await desk.call("POST", f"/api/tickets/{code}/messages", json={"text": "are you there?"})
    assert status == 502
    [failed] = [m for m in desk.store.messages(desk.store.ticket_by_code(code).id) if m.role is MessageRole.AGENT]
    key = f"desk-{code}-{failed.id}"
    fake_rasa.fail_status = None
    fake_rasa.requests.clear()
    fake_rasa.delay = 0.5  # both retries are in flight together
    path = f"/api/tickets/{code}/messages/{failed.id}/retry"
    answers = await asyncio.gather(desk.call("POST", path), desk.call("POST", path, key="other-click"))
    assert sorted(status for status, _, _ in answers) == [200, 409]
    assert len(fake_rasa.keyed(key)) == 1
    assert desk.store.get_message(failed.id).status is MessageStatus.SENT


async def test_a_retry_that_read_failed_before_another_took_it_loses(store, make_packet) -> None:
    """Two desks read the message as failed; only the first conditional update wins (a read-then-write would let
    both send)."""
    ticket, _ = store.create_ticket(ticket_values("retry-store"))
    message = store.add_message(ticket.id, MessageRole.AGENT, "hi", 1.0, MessageStatus.FAILED, author="alice")
    seen = [store.get_message(message.id), store.get_message(message.id)]
    assert all(m.status is MessageStatus.FAILED for m in seen)
    outcomes = [store.set_message_status(m.id, MessageStatus.PENDING, expect=MessageStatus.FAILED) for m in seen]
    assert outcomes == [True, False]


def ticket_values(conversation_id: str) -> Dict[str, Any]:
    now = time.time()
    return dict(
        conversation_id=f"socketio:{conversation_id}", channel="socketio", status="assigned", grade="B",
        reason="asked_for_human", topic=None, skill="general", requires_senior=False, vip=False, anger=0.0,
        assignee="alice", context={}, created_at=now, created_real=now, skill_since=now, claimed_at=now,
        due_first_response=now + 60, warn_first_response=now + 45, due_resolution=now + 3600,
        warn_resolution=now + 2700, language="en",
    )


def test_a_close_is_claimed_once_and_a_claim_cannot_take_a_closing_ticket(store) -> None:
    queued, _ = store.create_ticket({**ticket_values("close-store"), "status": "queued", "assignee": None})
    assert store.begin_close(queued.id, TicketStatus.HANDING_BACK, 5.0, None)
    assert not store.begin_close(queued.id, TicketStatus.RESOLVING, 5.0, None)  # the double click
    assert not store.claim(queued.id, "alice", 3, 6.0)  # a claim racing the close
    assert store.undo_close(queued.id, TicketStatus.HANDING_BACK, TicketStatus.QUEUED)  # Rasa did not take it
    again = store.get_ticket(queued.id)
    assert (again.status, again.assignee, again.closed_at) == (TicketStatus.QUEUED, None, None)
    assert store.begin_close(queued.id, TicketStatus.RESOLVING, 7.0, None)
    assert store.finish_close(queued.id, TicketStatus.RESOLVING, 8.0)
    assert not store.undo_close(queued.id, TicketStatus.RESOLVING, TicketStatus.QUEUED)  # closed stays closed
    closed = store.get_ticket(queued.id)
    assert (closed.status, closed.closed_at) == (TicketStatus.RESOLVED, 8.0)
    assert store.open_ticket_for(closed.conversation_id) is None


# ---------------------------------------------------------------- the sweep of stale pending replies


async def test_a_reply_left_pending_by_a_crashed_desk_is_delivered_once_by_the_leader(
    settings, sqlite_store, fake_rasa, calendar, agents, internal, make_packet
) -> None:
    """The desk stored the reply as pending and died before sending it: the leader's round sends it (its key)."""
    app = desk_app(settings, sqlite_store, fake_rasa.url, calendar, leader_round=0.2)
    async with serve(app) as base, aiohttp.ClientSession() as http:
        served = Desk(base, http, app, agents, internal)
        code = await served.open_ticket(make_packet("sweep-1"))
        ticket = sqlite_store.ticket_by_code(code)
        stale_at = records.now() - app.ctx.desk.sweeper.stale_after - 1
        stuck = sqlite_store.add_message(ticket.id, MessageRole.AGENT, "left behind", stale_at,
                                         MessageStatus.PENDING, author="alice")
        fresh = sqlite_store.add_message(ticket.id, MessageRole.AGENT, "still on its way", records.now(),
                                         MessageStatus.PENDING, author="alice")
        deadline = time.monotonic() + 10
        while sqlite_store.get_message(stuck.id).status is MessageStatus.PENDING:
            assert time.monotonic() < deadline, "the leader never swept"
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.5)  # more rounds: nothing more is sent
    assert sqlite_store.get_message(stuck.id).status is MessageStatus.SENT
    [event] = fake_rasa.keyed(f"desk-{code}-{stuck.id}")
    assert event["text"] == "left behind" and event["metadata"]["agent"] == "alice"
    assert sqlite_store.get_message(fresh.id).status is MessageStatus.PENDING  # its own request may still answer
    assert fake_rasa.keyed(f"desk-{code}-{fresh.id}") == []
    assert sqlite_store.get_ticket(ticket.id).first_response_at is not None


async def test_a_stale_reply_is_marked_failed_when_rasa_is_down(desk, fake_rasa, make_packet) -> None:
    code = await desk.open_ticket(make_packet("sweep-down"))
    ticket = desk.store.ticket_by_code(code)
    sweeper = desk.app.ctx.desk.sweeper
    stuck = desk.store.add_message(ticket.id, MessageRole.AGENT, "hello?", records.now() - sweeper.stale_after - 1,
                                   MessageStatus.PENDING, author="alice")
    await fake_rasa.stop()
    assert await sweeper.sweep() == Swept(failed=1)
    assert desk.store.get_message(stuck.id).status is MessageStatus.FAILED  # the agent may retry it
    assert await sweeper.sweep() == Swept()


async def test_a_close_left_unfinished_is_finished_by_the_sweep(desk, fake_rasa, make_packet) -> None:
    code = await desk.open_ticket(make_packet("sweep-close"))
    ticket = desk.store.ticket_by_code(code)
    sweeper = desk.app.ctx.desk.sweeper
    # The desk claimed the close and died before Rasa answered.
    assert desk.store.begin_close(ticket.id, TicketStatus.RESOLVING, records.now() - sweeper.stale_after - 1, "alice")
    assert await sweeper.sweep() == Swept(closed=1)
    assert desk.store.get_ticket(ticket.id).status is TicketStatus.RESOLVED
    assert len(fake_rasa.keyed(f"desk-{code}-resolve")) == 1
    assert await sweeper.sweep() == Swept()


# ---------------------------------------------------------------- Idempotency-Key


async def test_a_reply_posted_twice_with_one_key_is_stored_and_sent_once(desk, fake_rasa, make_packet) -> None:
    code = await desk.open_ticket(make_packet("idem-1"))
    path = f"/api/tickets/{code}/messages"
    first = await desk.call("POST", path, key="reply-7f3a", json={"text": "your refund is on its way"})
    again = await desk.call("POST", path, key="reply-7f3a", json={"text": "your refund is on its way"})
    assert first[0] == again[0] == 201
    assert again[1] == first[1] and first[1]["status"] == "sent"
    assert again[2].get("Idempotent-Replayed") == "true" and "Idempotent-Replayed" not in first[2]
    ticket = desk.store.ticket_by_code(code)
    replies = [m for m in desk.store.messages(ticket.id) if m.role is MessageRole.AGENT]
    assert [m.id for m in replies] == [first[1]["id"]]
    assert len([e for e in fake_rasa.events() if e.get("event") == "bot"]) == 1
    # Another agent's key of the same name is theirs: bob's request is his own (and refused: not his ticket).
    status, body, _ = await desk.call("POST", path, agent="bob", key="reply-7f3a", json={"text": "x"})
    assert status == 403


async def test_a_key_reused_for_another_request_is_422(desk, make_packet) -> None:
    code = await desk.open_ticket(make_packet("idem-2"))
    status, _, _ = await desk.call("POST", f"/api/tickets/{code}/messages", key="k-1", json={"text": "first"})
    assert status == 201
    status, body, _ = await desk.call("POST", f"/api/tickets/{code}/messages", key="k-1", json={"text": "other"})
    assert status == 422 and "another request" in body["error"]
    status, body, _ = await desk.call("POST", f"/api/tickets/{code}/resolve", key="k-1")
    assert status == 422 and f"POST /api/tickets/{code}/messages" in body["error"]
    assert desk.store.ticket_by_code(code).status is TicketStatus.ASSIGNED  # the resolve did not run


async def test_a_repeat_while_the_first_is_running_is_409(desk, fake_rasa, make_packet) -> None:
    code = await desk.open_ticket(make_packet("idem-3"))
    fake_rasa.delay = 1.0
    path = f"/api/tickets/{code}/messages"
    first = asyncio.ensure_future(desk.call("POST", path, key="slow", json={"text": "one moment"}))
    await asyncio.sleep(0.4)
    status, body, headers = await desk.call("POST", path, key="slow", json={"text": "one moment"})
    assert status == 409 and "in progress, retry" in body["error"]
    assert headers.get("Retry-After") == "1"  # what tells the console to repeat it (bot/desk/static/console.js)
    assert (await first)[0] == 201
    status, _, headers = await desk.call("POST", path, key="slow", json={"text": "one moment"})
    assert status == 201 and headers.get("Idempotent-Replayed") == "true"
    assert len([e for e in fake_rasa.events() if e.get("event") == "bot"]) == 1


@pytest.mark.parametrize("key", ["", "x" * 201, "tab\there", "ключ"])
async def test_a_malformed_key_is_400_and_nothing_happens(desk, fake_rasa, make_packet, key) -> None:
    code = await desk.open_ticket(make_packet("idem-bad"))
    headers = {**desk.agents["alice"]["headers"], "Idempotency-Key": key}
    async with desk.http.post(f"{desk.base}/api/tickets/{code}/messages", headers=headers,
                              json={"text": "hi"}) as response:
        assert response.status == 400, await response.text()
        assert "Idempotency-Key" in (await response.json())["error"]
    assert desk.store.messages(desk.store.ticket_by_code(code).id) == []


async def test_a_failed_answer_is_replayed_too_and_the_message_is_not_stored_twice(desk, fake_rasa, make_packet) -> None:
    code = await desk.open_ticket(make_packet("idem-502"))
    fake_rasa.fail_status = 500
    path = f"/api/tickets/{code}/messages"
    first = await desk.call("POST", path, key="k-502", json={"text": "hello"})
    fake_rasa.fail_status = None
    again = await desk.call("POST", path, key="k-502", json={"text": "hello"})
    assert first[0] == again[0] == 502 and first[1] == again[1]
    replies = [m for m in desk.store.messages(desk.store.ticket_by_code(code).id) if m.role is MessageRole.AGENT]
    assert [m.status for m in replies] == [MessageStatus.FAILED]  # one message, for the retry


def test_keys_are_forgotten_after_a_day(store) -> None:
    from bot.desk.idempotency import KEEP_SECONDS

    assert store.start_call("alice", "old", "POST /api/x", "f") is None
    store.finish_call("alice", "old", 200, {"ok": True})
    assert store.trim_calls(KEEP_SECONDS) == 0
    earlier = store.start_call("alice", "old", "POST /api/x", "f")
    assert (earlier.status, earlier.response) == (200, {"ok": True})
    time.sleep(0.05)
    assert store.trim_calls(0.01) == 1
    assert store.start_call("alice", "old", "POST /api/x", "f") is None  # a new first request


# ---------------------------------------------------------------- close before acting


@pytest.mark.parametrize("action", ["resolve", "handback"])
async def test_a_double_click_closes_once_and_sends_one_line(desk, fake_rasa, make_packet, action) -> None:
    code = await desk.open_ticket(make_packet(f"double-{action}"))
    fake_rasa.delay = 0.5
    path = f"/api/tickets/{code}/{action}"
    answers = await asyncio.gather(desk.call("POST", path), desk.call("POST", path))
    assert sorted(status for status, _, _ in answers) == [200, 409]
    assert len(fake_rasa.keyed(f"desk-{code}-{action}")) == 1
    assert len([e for e in fake_rasa.events() if e.get("event") == "resume"]) == 1
    closed = TicketStatus.RESOLVED if action == "resolve" else TicketStatus.HANDED_BACK
    assert desk.store.ticket_by_code(code).status is closed


async def test_a_claim_racing_a_close_cannot_reopen_it(desk, fake_rasa, make_packet) -> None:
    code = await desk.open_ticket(make_packet("race-claim", topic=None), claim_by=None)  # general: bob's and alice's
    fake_rasa.delay = 0.5
    handback = asyncio.ensure_future(desk.call("POST", f"/api/tickets/{code}/handback", agent="bob"))
    await asyncio.sleep(0.2)  # the close is claimed, Rasa is answering
    status, body, _ = await desk.call("POST", f"/api/tickets/{code}/claim", agent="alice")
    assert status == 409 and "handing_back" in body["error"]
    assert (await handback)[0] == 200
    ticket = desk.store.ticket_by_code(code)
    assert (ticket.status, ticket.assignee) == (TicketStatus.HANDED_BACK, None)


async def test_rasa_down_during_resolve_leaves_the_ticket_as_it_was(desk, fake_rasa, make_packet) -> None:
    code = await desk.open_ticket(make_packet("resolve-down"))
    before = desk.store.ticket_by_code(code)
    fake_rasa.fail_status = 503
    status, body, _ = await desk.call("POST", f"/api/tickets/{code}/resolve")
    assert status == 502 and "stays open" in body["error"]
    after = desk.store.ticket_by_code(code)
    assert (after.status, after.assignee, after.closed_at) == (TicketStatus.ASSIGNED, "alice", None)
    assert after.claimed_at == before.claimed_at
    assert desk.store.open_ticket_for(after.conversation_id).id == after.id  # still the conversation's ticket
    # Rasa is back: the resolve goes through, its survey under the same key.
    fake_rasa.fail_status = None
    status, body, _ = await desk.call("POST", f"/api/tickets/{code}/resolve")
    assert status == 200 and body["status"] == "resolved"
    assert len(fake_rasa.keyed(f"desk-{code}-resolve")) == 2  # the first attempt reached Rasa, which refused it


async def test_an_idempotent_resolve_repeated_returns_the_first_answer(desk, fake_rasa, make_packet) -> None:
    code = await desk.open_ticket(make_packet("resolve-key"))
    first = await desk.call("POST", f"/api/tickets/{code}/resolve", key="close-1")
    again = await desk.call("POST", f"/api/tickets/{code}/resolve", key="close-1")
    assert first[0] == again[0] == 200 and first[1] == again[1]
    assert len(fake_rasa.keyed(f"desk-{code}-resolve")) == 1


async def test_a_first_request_whose_desk_died_is_409_reload_not_run_again(desk, fake_rasa, make_packet) -> None:
    from bot.desk.idempotency import fingerprint

    code = await desk.open_ticket(make_packet("idem-crash"))
    path = f"/api/tickets/{code}/messages"
    body = b'{"text": "sorry for the wait"}'
    # The first request was recorded, then its desk was killed before it answered.
    assert desk.store.start_call("alice", "k-crash", f"POST {path}", fingerprint("POST", path, body)) is None
    desk.app.ctx.desk.calls.abandoned_after = 0.0
    headers = {**desk.agents["alice"]["headers"], "Idempotency-Key": "k-crash", "Content-Type": "application/json"}
    async with desk.http.post(f"{desk.base}{path}", headers=headers, data=body) as response:
        assert response.status == 409
        assert "never finished" in (await response.json())["error"]
    assert desk.store.messages(desk.store.ticket_by_code(code).id) == []
    assert [e for e in fake_rasa.events() if e.get("event") == "bot"] == []
