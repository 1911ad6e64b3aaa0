"""`python -m bot desk simulate`: a fresh desk filled through its own HTTP API (and the inbox, for what comes from
the event broker) with marked, seasonal traffic; `GET /api/staffing` plans from it; a desk answering an error
stops the run."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import zoneinfo
from typing import Any, Dict

import pytest
from aiohttp import web

from bot.desk import auth, config
from bot.desk.records import TicketStatus
from bot.desk.sim_client import DeskRefused, workstation
from bot.desk.simulate import CustomerSink, Plan, SimulationError, simulate
from bot.desk.store import Store
from bot.settings import repo_root

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
END = dt.datetime(2026, 3, 16, 0, 0, tzinfo=SHANGHAI)  # a Monday midnight: 8 whole days before it


@pytest.fixture
async def simulated(settings: Dict[str, Any], sqlite_store: Store) -> Dict[str, Any]:
    stored = await simulate(sqlite_store, config.load(settings), Plan(days=8, per_day=25, seed=5), end=END)
    return stored


async def test_every_simulated_ticket_lived_its_life_through_the_desk(simulated: Dict[str, Any], sqlite_store: Store) -> None:
    assert os.environ.get("FRONTLINE_NOW") is None  # the desk's clock is given back
    tickets = [sqlite_store.ticket_by_code(f"T-{n:06d}") for n in range(1, simulated["tickets"] + 1)]
    tickets = [t for t in tickets if t is not None] or [
        sqlite_store.get_ticket(n) for n in range(1, simulated["tickets"] + 1)
    ]
    assert len(tickets) == simulated["tickets"] > 10
    assert simulated["conversations"] > simulated["tickets"]
    start, end = (END - dt.timedelta(days=8)).timestamp(), END.timestamp()
    for ticket in tickets:
        assert ticket.status is TicketStatus.RESOLVED
        assert ":sim-5-" in ticket.conversation_id and ticket.customer_name.startswith("[simulated]")
        assert start <= ticket.created_at < end + 86400
        assert ticket.created_at <= ticket.claimed_at <= ticket.first_response_at <= ticket.closed_at
        assert ticket.assignee.startswith("sim-agent-")
    rated = [t.rating for t in tickets if t.rating is not None]
    assert len(rated) == simulated["rated"] and set(rated) <= {1, 2, 3, 4, 5}
    scores = [t.nps for t in tickets if t.nps is not None]
    assert len(scores) == simulated["nps_answers"] > 0 and set(scores) <= set(range(11))
    assert all(t.rating is not None for t in tickets if t.nps is not None)
    angry = [t.rating for t in tickets if t.reason == "anger" and t.rating is not None]
    calm = [t.rating for t in tickets if t.reason == "asked_for_human" and t.rating is not None]
    assert sum(angry) / len(angry) < sum(calm) / len(calm)
    # seasons: office hours are busier than the night
    local_hours = [dt.datetime.fromtimestamp(t.created_at, SHANGHAI).hour for t in tickets]
    assert sum(9 <= h < 18 for h in local_hours) > 5 * sum(0 <= h < 6 for h in local_hours)
    assert json.loads(sqlite_store.get_state("simulated"))["tickets"] == simulated["tickets"]
    # the simulated agents' requests (in simulated time, some after the real now) leave nobody online
    assert all(not name.startswith("sim-agent-") for name in sqlite_store.shared_presence(None, 15.0)[1])


async def test_a_desk_with_data_is_refused_and_left_as_it_was(
    simulated: Dict[str, Any], settings: Dict[str, Any], sqlite_store: Store
) -> None:
    before = sqlite_store.ticket_count()
    with pytest.raises(SimulationError, match="fresh desk"):
        await simulate(sqlite_store, config.load(settings), Plan(days=1, per_day=10), end=END)
    assert sqlite_store.ticket_count() == before


def test_the_agents_worked_every_ticket_over_http_from_their_workstations(
    simulated: Dict[str, Any], sqlite_store: Store
) -> None:
    """The audit log, which only the HTTP API writes, holds each agent's sign-ins and password change and every
    claim, reply and resolution, from the agent's own loopback address."""
    entries = sqlite_store.audit_entries(limit=100000)
    done = {(e.ticket, e.action): e for e in entries if e.action in ("claim", "reply", "resolve")}
    addresses = {}
    for n in range(1, simulated["tickets"] + 1):
        ticket = sqlite_store.get_ticket(n)
        for action in ("claim", "reply", "resolve"):
            entry = done[(ticket.code, action)]
            assert entry.actor == ticket.assignee
            addresses.setdefault(entry.actor, set()).add(entry.address)
    assert len(done) == 3 * simulated["tickets"]
    assert workstation(2) == "127.0.0.3"  # Linux answers on all of 127.0.0.0/8: the agents are told apart
    assert set(addresses) == {f"sim-agent-{n}" for n in range(1, 5)}
    for name, seen in addresses.items():
        assert seen == {workstation(int(name.rsplit("-", 1)[1])) or "127.0.0.1"}
    for n in range(1, 5):
        mine = [e.action for e in entries if e.actor == f"sim-agent-{n}"]
        assert mine[:2] == ["login", "change_password"]
        # sessions last 12 h of the desk's clock: 8 days of work need fresh sign-ins
        assert mine.count("login") > 4 and "login_failed" not in mine


async def test_agents_left_by_an_earlier_run_get_a_new_one_time_password_and_work(
    settings: Dict[str, Any], sqlite_store: Store
) -> None:
    """A run that stopped before its first ticket leaves its agents: the next run resets their passwords, as
    `python -m bot desk reset-password` would, and signs them in with the new ones."""
    desk_settings = config.load(settings)
    skills = sorted({*desk_settings.skills.values(), desk_settings.general_skill, "emergency"})  # as it made them
    auth.create_agent(sqlite_store, "sim-agent-2", skills, False, 3, 0.0, "an-old-password")
    stored = await simulate(sqlite_store, desk_settings, Plan(days=1, per_day=40, seed=5), end=END)
    assert stored["tickets"] > 0
    mine = [e.action for e in sqlite_store.audit_entries(actor="sim-agent-2", limit=1000)]
    assert mine[:2] == ["login", "change_password"] and "login_failed" not in mine
    assert not auth.verify_password("an-old-password", sqlite_store.password_hash("sim-agent-2"))


class FailingCustomers(CustomerSink):
    """Simulated customers whose Rasa answers every event with 500."""

    async def _events(self, request: web.Request) -> web.Response:
        self.received += 1
        return web.json_response({"error": "simulated Rasa failure"}, status=500)


async def test_a_desk_answering_an_error_stops_the_run_with_the_call_and_the_answer(
    settings: Dict[str, Any], sqlite_store: Store
) -> None:
    sink = FailingCustomers()
    with pytest.raises(DeskRefused) as raised:
        await simulate(sqlite_store, config.load(settings), Plan(days=2, per_day=25, seed=5), end=END, sink=sink)
    message = str(raised.value)
    assert raised.value.status == 502
    assert "/api/tickets/T-000001/" in message and "with 502" in message, message
    assert sink.received >= 1
    assert sqlite_store.ticket_count() == 1  # stopped at the first ticket, nothing skipped past
    assert sqlite_store.get_state("simulated") is None
    assert os.environ.get("FRONTLINE_NOW") is None


def test_the_command_refuses_bad_arguments_with_status_2(tmp_path: Any) -> None:
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'desk.db'}", "FRONTLINE_VAR": str(tmp_path)}
    result = subprocess.run([sys.executable, "-m", "bot", "desk", "simulate", "--days", "0"], cwd=repo_root(),
                            env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "--days must be from 1 to 365" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_command_stops_with_status_1_and_the_desks_answer_when_the_desk_refuses_a_call(tmp_path: Any) -> None:
    """An admin made `sim-agent-1` an ordinary agent: the desk refuses it a senior's ticket, and the command says
    which call got which answer."""
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'desk.db'}", "FRONTLINE_VAR": str(tmp_path)}
    store = Store(env["DATABASE_URL"])
    store.migrate()
    auth.create_agent(store, "sim-agent-1", ["general"], False, 3, 0.0, "a-password-1")
    store.close()
    result = subprocess.run([sys.executable, "-m", "bot", "desk", "simulate", "--days", "2", "--per-day", "40",
                             "--seed", "5"], cwd=repo_root(), env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 1, result.stderr[-2000:]
    assert "error: the simulation stopped: the desk answered POST /api/tickets/T-" in result.stderr
    assert "with 403" in result.stderr and "Traceback" not in result.stderr and result.stdout == ""
