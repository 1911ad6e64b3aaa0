"""Auto-assignment (`desk.auto_assign`): the agent's status, offers to the free, qualified agent with the fewest
open tickets (ties: the longest idle), accept / decline, an offer that lapses goes to the next agent, pull stays
for the other teams; and a race: several desks offering at once while agents claim, on SQLite and PostgreSQL."""

from __future__ import annotations

import copy
import datetime as dt
import random
import threading
from collections import Counter
from typing import Any, Dict, List

import pytest

from bot.desk import auth, config
from bot.desk.app import create_app
from bot.desk.errors import DeskError
from bot.desk.rasa_client import RasaClient
from bot.desk.service import Desk
from bot.desk.store import Store
from bot.settings import SettingsError

START = dt.datetime(2026, 11, 23, 10, 0, tzinfo=dt.timezone.utc)


def pin(monkeypatch: pytest.MonkeyPatch, seconds: float) -> float:
    at = START + dt.timedelta(seconds=seconds)
    monkeypatch.setenv("FRONTLINE_NOW", at.isoformat())
    return at.timestamp()


def auto(settings: Dict[str, Any], teams: List[str], offer_seconds: float = 30) -> Dict[str, Any]:
    changed = copy.deepcopy(settings)
    changed["desk"]["auto_assign"] = {"teams": teams, "offer_seconds": offer_seconds}
    return changed


@pytest.fixture
def auto_app(settings, sqlite_store, fake_rasa, calendar) -> Any:
    return create_app(auto(settings, ["orders"]), store=sqlite_store,
                      rasa=RasaClient(fake_rasa.url, token="t", timeout=3), broker=None, secret="test-secret",
                      calendar=calendar, notify_positions=False, console=False)


@pytest.fixture
def team(sqlite_store: Store) -> Dict[str, Dict[str, str]]:
    """Orders agents erin, frank, gina (capacity 2), a senior orders agent hal, and bob (general only)."""
    result = {}
    for name, skills, senior in [("erin", ["orders"], False), ("frank", ["orders"], False), ("gina", ["orders"], False),
                                 ("hal", ["orders"], True), ("bob", ["general"], False)]:
        _, token, _ = auth.create_agent(sqlite_store, name, skills, senior, 2, 0.0, f"pw-{name}-123", settled=True)
        result[name] = {"Authorization": f"Bearer {token}"}
    return result


async def create(app: Any, internal: Dict[str, str], packet: Dict[str, Any]) -> str:
    _, response = await app.asgi_client.post("/internal/tickets", headers=internal, json=packet)
    assert response.status == 201, response.text
    return response.json["id"]


async def status(app: Any, headers: Dict[str, str], value: str) -> Any:
    _, response = await app.asgi_client.post("/api/me/status", headers=headers, json={"status": value})
    return response


async def test_the_agent_sets_a_status(auto_app, team) -> None:
    for bad in ({"status": "busy"}, {}, ["online"]):
        _, response = await auto_app.asgi_client.post("/api/me/status", headers=team["erin"], json=bad)
        assert response.status == 400 and "status" in response.json["error"]
    _, me = await auto_app.asgi_client.get("/api/me", headers=team["erin"])
    assert me.json["status"] == "offline"
    response = await status(auto_app, team["erin"], "away")
    assert response.status == 200 and response.json["status"] == "away"
    _, me = await auto_app.asgi_client.get("/api/me", headers=team["erin"])
    assert me.json["status"] == "away"
    _, refused = await auto_app.asgi_client.post("/api/me/status", json={"status": "online"})
    assert refused.status == 401


async def test_offers_go_to_the_least_loaded_then_longest_idle_and_move_on(
    auto_app, team, internal, make_packet, fake_rasa, monkeypatch
) -> None:
    desk = auto_app.ctx.desk
    pin(monkeypatch, 0)
    for name in ("erin", "frank", "gina", "bob"):
        assert (await status(auto_app, team[name], "online")).status == 200
    assert (await status(auto_app, team["hal"], "away")).status == 200  # away: never offered
    # frank claimed a ticket at 0 and resolved it; gina claims one at 5 and holds it; erin never claimed.
    old = await create(auto_app, internal, make_packet("old"))
    assert (await auto_app.asgi_client.post(f"/api/tickets/{old}/claim", headers=team["frank"]))[1].status == 200
    assert (await auto_app.asgi_client.post(f"/api/tickets/{old}/resolve", headers=team["frank"]))[1].status == 200
    pin(monkeypatch, 5)
    held = await create(auto_app, internal, make_packet("held"))
    assert (await auto_app.asgi_client.post(f"/api/tickets/{held}/claim", headers=team["gina"]))[1].status == 200
    first = await create(auto_app, internal, make_packet("first", grade="A"))
    second = await create(auto_app, internal, make_packet("second", grade="B"))
    general = await create(auto_app, internal, make_packet("general", topic="faq_greeting"))  # a pull team

    assert desk.assigner.round(pin(monkeypatch, 10)).offered == 2
    offered = {code: desk.store.ticket_by_code(code).offered_to for code in (first, second, general)}
    # first (higher in the queue): erin and frank have no open ticket, erin is the longest idle; second: frank.
    assert offered == {first: "erin", second: "frank", general: None}

    # Nobody else may claim or accept a ticket offered to erin.
    _, taken = await auto_app.asgi_client.post(f"/api/tickets/{first}/claim", headers=team["gina"])
    assert taken.status == 409 and "offered to erin" in taken.json["error"]
    _, wrong = await auto_app.asgi_client.post(f"/api/tickets/{first}/accept", headers=team["gina"])
    assert wrong.status == 409

    # erin declines: at once to frank (1 open offer, like gina's 1 ticket, but idle since 0, gina since 5).
    _, declined = await auto_app.asgi_client.post(f"/api/tickets/{first}/decline", headers=team["erin"])
    assert declined.status == 200 and declined.json["offered_to"] == "frank"

    # Both of frank's offers lapse unanswered (30 s): each goes to someone who has not had it.
    outcome = desk.assigner.round(pin(monkeypatch, 41))
    assert (outcome.lapsed, outcome.offered) == (2, 2)
    after = {code: desk.store.ticket_by_code(code) for code in (first, second)}
    assert after[first].offered_to == "gina"  # erin declined it, frank let it lapse
    assert after[second].offered_to == "erin"
    assert set(after[first].declined_by.split(",")) == {"erin", "frank"}


async def test_an_accepted_offer_is_a_claim(auto_app, team, internal, make_packet, fake_rasa, monkeypatch) -> None:
    desk = auto_app.ctx.desk
    pin(monkeypatch, 0)
    assert (await status(auto_app, team["erin"], "online")).status == 200
    code = await create(auto_app, internal, make_packet("accept-1"))
    assert desk.assigner.round(pin(monkeypatch, 1)).offered == 1
    _, accepted = await auto_app.asgi_client.post(f"/api/tickets/{code}/accept", headers=team["erin"])
    assert accepted.status == 200, accepted.text
    assert accepted.json["assignee"] == "erin" and accepted.json["status"] == "assigned"
    assert accepted.json["offered_to"] is None
    assert any(r["body"] == [{"event": "pause"}] for r in fake_rasa.requests)  # the assistant pauses
    _, again = await auto_app.asgi_client.post(f"/api/tickets/{code}/accept", headers=team["erin"])
    assert again.status == 409


async def test_a_lapsed_offer_cannot_be_accepted(auto_app, team, internal, make_packet, monkeypatch) -> None:
    desk = auto_app.ctx.desk
    pin(monkeypatch, 0)
    assert (await status(auto_app, team["erin"], "online")).status == 200
    code = await create(auto_app, internal, make_packet("late-1"))
    desk.assigner.round(pin(monkeypatch, 1))
    pin(monkeypatch, 32)
    _, late = await auto_app.asgi_client.post(f"/api/tickets/{code}/accept", headers=team["erin"])
    assert late.status == 409 and "lapsed" in late.json["error"]


async def test_skills_seniority_capacity_and_status_are_respected(
    auto_app, team, internal, make_packet, monkeypatch
) -> None:
    desk = auto_app.ctx.desk
    pin(monkeypatch, 0)
    for name in ("erin", "bob", "hal"):
        assert (await status(auto_app, team[name], "online")).status == 200
    senior = await create(auto_app, internal, make_packet("senior-1", reason="repeat_complaint"))
    plain = [await create(auto_app, internal, make_packet(f"plain-{i}")) for i in range(4)]
    desk.assigner.round(pin(monkeypatch, 1))
    assert desk.store.ticket_by_code(senior).offered_to == "hal"  # only the senior agent may take it
    offered = Counter(desk.store.ticket_by_code(code).offered_to for code in plain)
    assert offered["bob"] == 0  # general only: not an orders agent (no overflow yet)
    assert offered["erin"] == 2 and offered["hal"] == 1  # capacity 2 each, hal holds the senior offer
    assert offered[None] == 1
    # erin goes offline: her offers are withdrawn at once (not left to lapse); hal has no free slot left.
    hers = [code for code in plain if desk.store.ticket_by_code(code).offered_to == "erin"]
    assert (await status(auto_app, team["erin"], "offline")).status == 200
    offered = Counter(desk.store.ticket_by_code(code).offered_to for code in plain)
    assert offered["erin"] == 0 and offered["hal"] == 1 and offered[None] == 3
    assert all(desk.store.ticket_by_code(code).declined_by == "erin" for code in hers)


def test_auto_assign_settings_are_checked(settings) -> None:
    with pytest.raises(SettingsError, match="desk.auto_assign.teams"):
        config.validate(auto(settings, ["nowhere"]))
    with pytest.raises(SettingsError, match="desk.auto_assign.offer_seconds"):
        config.validate(auto(settings, ["orders"], offer_seconds=0))


def test_several_desks_offering_at_once_while_agents_claim(store, settings, calendar, make_packet) -> None:
    """Four desks run rounds at once while agents pull-claim the same tickets: no ticket has two owners or
    offers, no agent holds more than its capacity in tickets and offers together."""
    capacity = 2
    names = [f"agent{i}" for i in range(6)]
    for name in names:
        auth.create_agent(store, name, ["orders"], False, capacity, 0.0, f"pw-{name}-123")
        store.set_agent_status(name, "online", 0.0)
    desk_settings = config.load(auto(settings, ["orders"]))
    desks = [Desk(Store(store.url, schema=store.schema), desk_settings, RasaClient("http://127.0.0.1:9", "t"),
                  calendar=calendar) for _ in range(4)]
    for name in names:
        desks[0].presence.seen(name)
    codes = [desks[0].intake.create_ticket(make_packet(f"race-{i}"))[0]["id"] for i in range(20)]
    barrier = threading.Barrier(len(desks) + 2)
    errors: List[BaseException] = []

    def offering(desk: Desk) -> None:
        try:
            barrier.wait()
            for _ in range(3):
                desk.assigner.round()
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    def claiming(desk: Desk, seed: int) -> None:
        chooser = random.Random(seed)
        try:
            barrier.wait()
            for _ in range(15):
                agent = desk.store.get_agent(chooser.choice(names))
                try:
                    desk.tickets._claim(chooser.choice(codes), desk.tickets.find(chooser.choice(codes)), agent)
                except DeskError:
                    pass
        except BaseException as error:  # noqa: BLE001
            errors.append(error)

    threads = [threading.Thread(target=offering, args=(desk,)) for desk in desks]
    threads += [threading.Thread(target=claiming, args=(desks[i], i)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    tickets = [store.ticket_by_code(code) for code in codes]
    held = Counter(t.assignee for t in tickets if t.assignee) + Counter(t.offered_to for t in tickets if t.offered_to)
    assert all(t.assignee is None or t.offered_to is None for t in tickets)
    assert max(held.values()) <= capacity, held
    assert sum(held.values()) == len(names) * capacity  # every free slot was filled: 12 of 20 tickets
    for desk in desks:
        desk.store.close()
