"""Quality assurance: a share of closed tickets and every ticket rated 1–2 enter the QA queue (`GET /api/qa`),
supervisors score them once on the criteria of `desk.qa` (`POST /api/qa/{id}/score`), and the scores per agent
over time come back from `GET /api/qa/agents`."""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any, Dict

import pytest

from bot.desk import config
from bot.desk.app import create_app
from bot.desk.qa import picked
from bot.desk.rasa_client import RasaClient
from bot.settings import SettingsError

DAY1 = dt.datetime(2026, 11, 23, 10, 0, tzinfo=dt.timezone.utc)


def with_qa(settings: Dict[str, Any], **qa: Any) -> Dict[str, Any]:
    changed = copy.deepcopy(settings)
    changed["desk"]["qa"] = {**changed["desk"].get("qa", {}), **qa}
    return changed


def qa_app(settings: Dict[str, Any], store: Any, fake_rasa: Any, calendar: Any, **qa: Any) -> Any:
    return create_app(with_qa(settings, **qa), store=store, rasa=RasaClient(fake_rasa.url, token="t", timeout=3),
                      broker=None, secret="test-secret", calendar=calendar, notify_positions=False, console=False)


async def handled(app: Any, internal: Dict[str, str], packet: Dict[str, Any], headers: Dict[str, str],
                  rating: int = 0) -> str:
    """A ticket claimed and resolved by the agent of `headers`, rated `rating` (0: not rated)."""
    _, created = await app.asgi_client.post("/internal/tickets", headers=internal, json=packet)
    code = created.json["id"]
    assert (await app.asgi_client.post(f"/api/tickets/{code}/claim", headers=headers))[1].status == 200
    assert (await app.asgi_client.post(f"/api/tickets/{code}/resolve", headers=headers))[1].status == 200
    if rating:
        _, rated = await app.asgi_client.post(f"/internal/tickets/{code}/survey", headers=internal,
                                              json={"rating": rating})
        assert rated.status == 200, rated.text
    return code


def test_the_sample_is_stable_and_near_its_share() -> None:
    hits = sum(picked(i, 0.1) for i in range(1, 10_001))
    assert 900 <= hits <= 1100
    assert [picked(i, 0.1) for i in range(1, 50)] == [picked(i, 0.1) for i in range(1, 50)]
    assert not any(picked(i, 0.0) for i in range(1, 500)) and all(picked(i, 1.0) for i in range(1, 500))


async def test_low_ratings_always_enter_and_the_share_is_sampled(
    settings, sqlite_store, fake_rasa, calendar, internal, make_packet, agents, staff
) -> None:
    app = qa_app(settings, sqlite_store, fake_rasa, calendar, share=0.0)
    alice = agents["alice"]["headers"]
    low = await handled(app, internal, make_packet("qa-low"), alice, rating=2)
    await handled(app, internal, make_packet("qa-high"), alice, rating=5)
    await handled(app, internal, make_packet("qa-none"), alice)
    _, refused = await app.asgi_client.get("/api/qa", headers=agents["bob"]["headers"])
    assert refused.status == 403  # the QA queue is for supervisors
    _, queue = await app.asgi_client.get("/api/qa", headers=staff["sam"]["headers"])
    assert queue.status == 200
    assert queue.json["criteria"] == ["greeting", "accuracy", "compliance", "empathy", "closing"]
    assert [(i["ticket"], i["reason"], i["agent"], i["rating"]) for i in queue.json["items"]] == [
        (low, "low_rating", "alice", 2)]

    sampled_app = qa_app(settings, sqlite_store, fake_rasa, calendar, share=1.0)
    every = await handled(sampled_app, internal, make_packet("qa-every"), alice)
    _, queue = await sampled_app.asgi_client.get("/api/qa", headers=staff["sam"]["headers"])
    assert [i["ticket"] for i in queue.json["items"]] == [low, every]
    assert queue.json["items"][1]["reason"] == "sampled"


async def test_scores_are_checked_taken_once_and_reported_per_agent(
    settings, sqlite_store, fake_rasa, calendar, internal, make_packet, agents, staff, monkeypatch
) -> None:
    app = qa_app(settings, sqlite_store, fake_rasa, calendar, share=1.0)
    monkeypatch.setenv("FRONTLINE_NOW", DAY1.isoformat())
    first = await handled(app, internal, make_packet("qa-1"), agents["alice"]["headers"])
    second = await handled(app, internal, make_packet("qa-2", topic="faq_greeting"), agents["bob"]["headers"])
    sup = staff["sam"]["headers"]
    _, not_yours = await app.asgi_client.post(f"/api/qa/{first}/score", headers=agents["carol"]["headers"],
                                              json={"scores": {}})
    assert not_yours.status == 403  # scoring is for supervisors
    full = {"greeting": 5, "accuracy": 4, "compliance": 5, "empathy": 3, "closing": 4}
    for bad in ({"scores": {**full, "greeting": 6}}, {"scores": {"greeting": 5}}, {"scores": {**full, "tone": 3}},
                {"scores": {**full, "empathy": True}}, {"scores": "5"}, {"scores": full, "comment": 5}):
        _, refused = await app.asgi_client.post(f"/api/qa/{first}/score", headers=sup, json=bad)
        assert refused.status == 400, bad
    _, unknown = await app.asgi_client.post("/api/qa/T-999999/score", headers=sup, json={"scores": full})
    assert unknown.status == 404
    _, scored = await app.asgi_client.post(f"/api/qa/{first}/score", headers=sup,
                                           json={"scores": full, "comment": "good recovery"})
    assert scored.status == 200, scored.text
    assert scored.json["scored_by"] == "sam" and scored.json["scores"] == full
    _, twice = await app.asgi_client.post(f"/api/qa/{first}/score", headers=sup, json={"scores": full})
    assert twice.status == 409
    monkeypatch.setenv("FRONTLINE_NOW", (DAY1 + dt.timedelta(days=7)).isoformat())
    low = {c: 2 for c in full}
    assert (await app.asgi_client.post(f"/api/qa/{second}/score", headers=sup, json={"scores": low}))[1].status == 200
    third = await handled(app, internal, make_packet("qa-3"), agents["alice"]["headers"])
    assert (await app.asgi_client.post(f"/api/qa/{third}/score", headers=sup,
                                       json={"scores": {c: 3 for c in full}}))[1].status == 200

    _, report = await app.asgi_client.get("/api/qa/agents?period=week", headers=sup)
    assert report.status == 200
    by_agent = {a["agent"]: a for a in report.json["agents"]}
    assert by_agent["alice"]["count"] == 2 and by_agent["bob"]["count"] == 1
    assert by_agent["alice"]["criteria"]["greeting"] == 4.0  # (5 + 3) / 2
    assert by_agent["alice"]["average"] == round((4.2 + 3) / 2, 2)
    assert [(p["period"], p["average"]) for p in by_agent["alice"]["periods"]] == [("2026-W48", 4.2), ("2026-W49", 3.0)]
    # the period reports show each agent's QA score: the reviews scored in the period (2026-11-30 .. 12-06:
    # alice's third ticket, 3 on every criterion; bob's, 2 on every criterion)
    _, period = await app.asgi_client.get("/api/reports?from=2026-11-30&to=2026-12-06", headers=sup)
    assert period.status == 200, period.text
    assert {a["agent"]: a["qa_score"] for a in period.json["agents"]}.get("alice") == 3.0
    _, whole = await app.asgi_client.get("/api/reports?from=2026-11-20&to=2026-12-06", headers=sup)
    assert {a["agent"]: a["qa_score"] for a in whole.json["agents"]} == {"alice": round((4.2 + 3) / 2, 2), "bob": 2.0}
    _, bounded = await app.asgi_client.get("/api/qa/agents?from=2026-11-25", headers=sup)
    assert {a["agent"]: a["count"] for a in bounded.json["agents"]} == {"alice": 1, "bob": 1}
    for bad in ("period=month", "from=yesterday"):
        assert (await app.asgi_client.get(f"/api/qa/agents?{bad}", headers=sup))[1].status == 400
    _, scored_list = await app.asgi_client.get("/api/qa?status=scored", headers=sup)
    assert [i["ticket"] for i in scored_list.json["items"]] == [first, second, third]
    assert scored_list.json["items"][0]["comment"] == "good recovery"
    _, open_list = await app.asgi_client.get("/api/qa", headers=sup)
    assert open_list.json["items"] == []
    assert (await app.asgi_client.get("/api/qa"))[1].status == 401


def test_qa_settings_are_checked(settings) -> None:
    for key, bad in (("share", 1.5), ("low_ratings", [0]), ("criteria", []), ("scale", 1)):
        with pytest.raises(SettingsError, match=f"desk.qa.{key}"):
            config.validate(with_qa(settings, **{key: bad}))


async def test_qa_comments_follow_key_rotation_and_retention(
    settings, sqlite_store, fake_rasa, calendar, internal, make_packet, agents, staff, monkeypatch
) -> None:
    """The QA comment is stored encrypted like the desk's other texts: a rotation re-encrypts it, the retention
    purge of a ticket's texts deletes it (the scores stay)."""
    import sqlalchemy as sa

    from bot import data_keys
    from bot.desk.store.tables import qa_reviews

    old, new = data_keys.generate_key(), data_keys.generate_key()
    monkeypatch.setenv(data_keys.ENV_KEYS, old)
    app = qa_app(settings, sqlite_store, fake_rasa, calendar, share=1.0)
    code = await handled(app, internal, make_packet("qa-keys"), agents["alice"]["headers"])
    full = {c: 4 for c in ("greeting", "accuracy", "compliance", "empathy", "closing")}
    _, scored = await app.asgi_client.post(f"/api/qa/{code}/score", headers=staff["sam"]["headers"],
                                           json={"scores": full, "comment": "quoted: 13812345678"})
    assert scored.status == 200
    with sqlite_store.engine.connect() as conn:
        stored = conn.execute(sa.select(qa_reviews.c.comment)).scalar()
    assert "quoted" not in stored  # encrypted at rest
    monkeypatch.setenv(data_keys.ENV_KEYS, f"{new},{old}")
    assert sqlite_store.rekey() >= 1
    monkeypatch.setenv(data_keys.ENV_KEYS, new)  # the old key dropped: the comment still reads
    assert sqlite_store.list_qa(scored=True)[0]["comment"] == "quoted: 13812345678"
    ticket = sqlite_store.ticket_by_code(code)
    assert sqlite_store.purge_texts(ticket.closed_at + 1) == 1
    row = sqlite_store.list_qa(scored=True)[0]
    assert row["comment"] is None and row["scores"] == full
