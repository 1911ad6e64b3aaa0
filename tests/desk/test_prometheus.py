"""`GET /metrics` on a real running desk (HTTP on loopback), parsed with prometheus_client's own parser: the
figures of the database and of the process, who may scrape, and that no personal data becomes a label."""

from __future__ import annotations

import datetime as dt
from typing import Any, Dict, Tuple

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.desk.app import create_app
from bot.desk.rasa_client import RasaClient
from bot.metrics_http import TOKEN_ENV, check_scrape
from desk_http import serve

Samples = Dict[Tuple[str, Tuple[Tuple[str, str], ...]], float]


async def scrape(url: str, headers: Dict[str, str] | None = None) -> Tuple[int, str]:
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{url}/metrics", headers=headers or {}) as response:
            return response.status, await response.text()


def samples(text: str) -> Samples:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


@pytest.fixture
def desk_app(settings, sqlite_store, fake_rasa, calendar) -> Any:
    return create_app(settings, store=sqlite_store, rasa=RasaClient(fake_rasa.url, token="t", timeout=3),
                      broker=None, secret="test-secret", calendar=calendar, notify_positions=False, console=False)


async def test_the_desk_reports_queue_handoffs_agents_sla_failures_lag_and_overdue_follow_ups(
    desk_app, internal, make_packet, agents, fake_rasa, monkeypatch
) -> None:
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    start = dt.datetime(2025, 12, 1, 10, 0, tzinfo=dt.timezone.utc)
    monkeypatch.setenv("FRONTLINE_NOW", start.isoformat())
    async with serve(desk_app) as url:
        status, text = await scrape(url)
        assert status == 200
        empty = samples(text)
        assert empty[("frontline_desk_agents_online", ())] == 0
        assert empty[("frontline_desk_delivery_failures_total", ())] == 0
        async with aiohttp.ClientSession() as session:
            async def post(path: str, body: Any, headers: Dict[str, str]) -> Any:
                async with session.post(f"{url}{path}", json=body, headers=headers) as response:
                    return response.status, await response.json()

            codes = []
            for packet in (make_packet("m-1"),  # orders, anger
                           make_packet("m-2", topic="faq_payment_failed", reason="asked_for_human"),
                           make_packet("m-3", topic="faq_refund_status", reason="not_understood")):
                created, answer = await post("/internal/tickets", packet, internal)
                assert created == 201
                codes.append(answer["id"])
            alice = agents["alice"]["headers"]
            assert (await post(f"/api/tickets/{codes[0]}/claim", None, alice))[0] == 200
            fake_rasa.fail_status = 500  # Rasa refuses the reply: kept as failed
            assert (await post(f"/api/tickets/{codes[0]}/messages", {"text": "您好"}, alice))[0] == 502
            due = (start + dt.timedelta(hours=1)).isoformat()
            assert (await post("/api/followups", {"ticket": codes[1], "due_at": due}, alice))[0] == 201
        desk_app.ctx.desk.presence.connected("bob")
        desk_app.ctx.desk.inbox.ingest({"event": "user", "sender_id": "rest:x", "text": "hi",
                                        "timestamp": __import__("time").time() - 3.0})
        monkeypatch.setenv("FRONTLINE_NOW", (start + dt.timedelta(hours=2)).isoformat())  # follow-up overdue;
        status, text = await scrape(url)  # every open ticket past its first response (120 s)
    assert status == 200
    found = samples(text)
    assert found[("frontline_desk_queue_length", (("skill", "after_sales"),))] == 1
    assert found[("frontline_desk_queue_length", (("skill", "payments"),))] == 1
    assert ("frontline_desk_queue_length", (("skill", "orders"),)) not in found  # claimed
    assert found[("frontline_desk_handoffs_total", (("reason", "anger"),))] == 1
    assert found[("frontline_desk_handoffs_total", (("reason", "asked_for_human"),))] == 1
    assert found[("frontline_desk_handoffs_total", (("reason", "not_understood"),))] == 1
    assert found[("frontline_desk_agents_online", ())] == 1  # bob's console (alice's requests were 2 h ago)
    assert found[("frontline_desk_sla_breached_open_tickets", ())] == 3
    assert found[("frontline_desk_sla_missed_total", ())] == 0
    assert found[("frontline_desk_replies_failed", ())] == 1
    assert found[("frontline_desk_delivery_failures_total", ())] == 1
    assert found[("frontline_desk_followups_overdue", ())] == 1
    assert found[("frontline_desk_broker_events_total", ())] == 1
    assert 3.0 <= found[("frontline_desk_broker_lag_seconds", ())] < 60
    # no personal data: no customer, conversation, agent name or text anywhere in the answer
    for private in ("m-1", "rest:x", "alice", "bob", "cust-1", "王", "您好"):
        assert private not in text


async def test_the_metrics_token_is_demanded_when_set(desk_app, monkeypatch) -> None:
    monkeypatch.setenv(TOKEN_ENV, "scrape-secret-1")
    async with serve(desk_app) as url:
        assert (await scrape(url))[0] == 401
        assert (await scrape(url, {"Authorization": "Bearer wrong"}))[0] == 401
        status, text = await scrape(url, {"Authorization": "Bearer scrape-secret-1"})
    assert status == 200 and "frontline_desk_queue_length" in text


def test_production_mode_without_a_token_refuses_and_development_is_open() -> None:
    production = {"DATABASE_URL": "postgresql://desk@db/desk"}
    assert check_scrape({}, production) == (403, "/metrics is off in production mode until FRONTLINE_METRICS_TOKEN is set")
    assert check_scrape({}, {}) is None
    assert check_scrape({"authorization": "Bearer t"}, {**production, TOKEN_ENV: "t"}) is None
    assert check_scrape({"authorization": "Basic t"}, {TOKEN_ENV: "t"})[0] == 401
