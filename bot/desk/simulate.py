"""`python -m bot desk simulate --days 28`: fill a fresh desk with simulated traffic, so a new user sees the
dashboard, the forecast and the staffing plan with data.

The traffic comes from `bot.staffing.traffic` (daily and weekly seasons, growth, one peak day). It goes through
the real desk: the desk app (`bot.desk.app.create_app`) is served on a free loopback port inside this process
(`bot.desk.inprocess`, no broker consumer, a random internal secret, the leader's round so rare it never runs
during the simulation: no sweep, auto-assignment or abandonment acts at the pinned moments) and driven over HTTP
(`bot.desk.sim_client`), as the action server and the agents' consoles drive it. A share of the conversations
is handed over: the ticket is created from a context packet (`POST /internal/tickets`), claimed, answered and
resolved by a signed-in agent (`POST /api/tickets/{id}/claim`, `/messages`, `/resolve`, bearer token and
`Idempotency-Key`), then rated, most raters also answering the recommendation question
(`POST /internal/tickets/{id}/survey`). Any answer that is not 2xx stops the simulation (`DeskRefused`, with the
call, the status and the body). The conversations themselves (counted for the containment rate) reach a desk
from Rasa's event broker, not over HTTP: their `user` event goes to the inbox directly (`Inbox.ingest`, what
the broker consumer calls).

The agents (`sim-agent-N`) are provisioned as an admin would (`auth.create_agent`, or a password reset when they
exist), then sign in and change their one-time password over the API. The desk's clock is pinned
(`FRONTLINE_NOW`) to each simulated moment; the desk runs in this process, so every stored time, due time, SLA
and session expiry is computed by the desk itself, in business time (an expired session: the agent signs in
again). Angry customers wait on grade A, calm ones ask for a human or were not understood; angry customers rate
lower.

The desk's replies and surveys go to the simulated customers: a loopback HTTP server that speaks the part of
Rasa's API the desk uses (`POST /conversations/{id}/tracker/events`) and keeps nothing, so no real conversation
is touched. Everything is marked: conversation ids `<channel>:sim-…`, customers `sim-customer-…` named
`[simulated] …`, agents `sim-agent-N`, every text starts with `[simulated]`, and `desk_state` holds `simulated`
(what was run), which `GET /api/staffing` reports. A desk that holds tickets or conversations already is refused.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import json
import logging
import os
import random
import secrets
from typing import Any, AsyncIterator, Dict, List, Optional, Tuple

from aiohttp import web

from bot import clock
from bot.desk import auth
from bot.desk.app import Cadence, create_app
from bot.desk.config import DeskSettings
from bot.desk.inprocess import serve
from bot.desk.rasa_client import RasaClient
from bot.desk.service import Desk
from bot.desk.sim_client import AgentClient, InternalClient, workstation
from bot.desk.staffing import SIMULATED_STATE
from bot.desk.store import Store
from bot.staffing import traffic

logger = logging.getLogger(__name__)

MARK = "[simulated]"
AGENTS = 4  # sim-agent-1 is senior (repeat complaints need one); all have every skill
CHANNELS = [("socketio", 0.6), ("wechat", 0.3), ("rest", 0.1)]
# reason, grade, share of handoffs, angry
REASONS = [
    ("anger", "A", 0.22, True),
    ("asked_for_human", "B", 0.40, False),
    ("not_understood", "C", 0.20, False),
    ("repeat_complaint", "B", 0.08, True),
    ("emergency", "A", 0.10, False),
]
CALM_RATINGS = [1, 2, 10, 35, 52]  # weights of 1..5
ANGRY_RATINGS = [18, 20, 25, 22, 15]
RATED_SHARE = 0.6
# The recommendation question (NPS, settings.yml survey.nps): the share of raters who answer it, and the scores
# (0..10) each rating tends to go with. Drawn from a generator of its own, so the traffic and ratings a seed
# gives are the same as without it.
NPS_ANSWERED_SHARE = 0.8
NPS_BY_RATING = {1: (0, 5), 2: (2, 6), 3: (5, 8), 4: (7, 9), 5: (8, 10)}


class SimulationError(ValueError):
    """The desk cannot take a simulation (it holds data already, or an argument is out of range)."""


@dataclasses.dataclass(frozen=True)
class Plan:
    """What to simulate.

    Attributes:
        days: days of history, ending at the current hour.
        per_day: conversations with the assistant on an average day at the start.
        handoff_share: the share of conversations handed to a human.
        seed: the random seed (the same seed, the same traffic).
        peak_day: the day with 2.5 times its usual traffic (default: 10 days before the end, when it fits).
    """

    days: int = 28
    per_day: float = 120.0
    handoff_share: float = 0.3
    seed: int = 1
    peak_day: Optional[int] = None

    def check(self) -> None:
        """Raise `SimulationError` naming the argument out of range."""
        if not 1 <= self.days <= 365:
            raise SimulationError(f"--days must be from 1 to 365, got {self.days}")
        if not 0 < self.per_day <= 5000:
            raise SimulationError(f"--per-day must be more than 0 and at most 5000, got {self.per_day}")
        if not 0 <= self.handoff_share <= 1:
            raise SimulationError(f"--handoff-share must be from 0 to 1, got {self.handoff_share}")


class CustomerSink:
    """Where the desk's replies to simulated customers go: Rasa's events endpoint on loopback, keeping nothing
    but a count."""

    def __init__(self) -> None:
        self.received = 0
        self.url = ""
        self._runner: Optional[web.AppRunner] = None

    async def _events(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.received += 1
        return web.json_response({"sender_id": request.match_info["cid"], "events": body})

    async def start(self) -> None:
        """Listen on a free loopback port."""
        app = web.Application()
        app.router.add_post("/conversations/{cid}/tracker/events", self._events)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        """Stop listening."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


@contextlib.contextmanager
def _pinned_clock() -> Any:
    """Let the simulation move the desk's clock (`FRONTLINE_NOW`), and give the old value back afterwards."""
    before = os.environ.get(clock.ENV_VAR)
    try:
        yield lambda at: os.environ.__setitem__(clock.ENV_VAR, at.isoformat())
    finally:
        if before is None:
            os.environ.pop(clock.ENV_VAR, None)
        else:
            os.environ[clock.ENV_VAR] = before


def _choice(rng: random.Random, weighted: List[Tuple[Any, float]]) -> Any:
    return rng.choices([item for item, _ in weighted], weights=[w for _, w in weighted])[0]


def _packet(conversation_id: str, channel: str, customer: int, reason: str, grade: str, angry: bool,
            topic: str, at: dt.datetime, rng: random.Random) -> Dict[str, Any]:
    """A context packet as the handoff action sends it, every text marked."""
    anger = round(rng.uniform(0.75, 0.98), 2) if angry else round(rng.uniform(0.0, 0.3), 2)
    stamp = at.isoformat()
    return {
        "version": 1,
        "conversation_id": conversation_id,
        "channel": channel,
        "created_at": stamp,
        "customer": {
            "id": f"sim-customer-{customer}", "display_name": f"{MARK} customer {customer}",
            "tier": "vip" if rng.random() < 0.05 else "regular", "vip": False, "language": rng.choice(["zh", "zh", "en"]),
            "earlier_tickets": [],
        },
        "reason": reason,
        "grade": grade,
        "topic": topic,
        "anger_history": [round(anger / 2, 2), anger],
        "intents": [{"turn": 1, "at": stamp, "name": topic, "confidence": 0.9, "anger": anger}],
        "transcript": [{"role": "customer", "text": f"{MARK} a question about {topic}", "at": stamp}],
        "slots": {"simulated": True},
    }


class Simulator:
    """Runs a `Plan` against a desk served over HTTP whose Rasa client points at a `CustomerSink`.

    Args:
        desk: the served desk's parts (its store fresh): its settings; its inbox, for what arrives from the event
            broker (`Inbox.ingest`); its store and supervision, for provisioning the agents as an admin would.
        internal: the action server's client of the served desk.
        plan: what to simulate.
        end: the end of the simulated history (default: the current hour, local time).
    """

    def __init__(self, desk: Desk, internal: InternalClient, plan: Plan, end: Optional[dt.datetime] = None) -> None:
        self.desk = desk
        self.internal = internal
        self.plan = plan
        self.rng = random.Random(plan.seed)
        self.nps_rng = random.Random(f"nps-{plan.seed}")
        tz = _timezone(desk.settings)
        now = (end or clock.now()).astimezone(tz)
        self.end = now.replace(minute=0, second=0, microsecond=0)
        self.start = self.end - dt.timedelta(days=plan.days)
        self.agents: List[AgentClient] = []
        self.topics = sorted(desk.settings.skills) + ["faq_general"]
        self.counts = {"conversations": 0, "tickets": 0, "resolved": 0, "rated": 0, "nps_answers": 0}

    async def _provision(self, name: str, skills: List[str], senior: bool) -> str:
        """Create the agent as `python -m bot desk add-agent` would (or give an existing one a new one-time
        password, as `reset-password` would); its one-time password."""
        loop = asyncio.get_running_loop()
        if self.desk.store.get_agent(name) is None:
            _agent, _token, password = await loop.run_in_executor(None, lambda: auth.create_agent(
                self.desk.store, name, skills, senior, 3, self.start.timestamp(), secrets.token_urlsafe(16),
                with_token=False))
            return password
        answer = await loop.run_in_executor(None, self.desk.supervision.reset_password, name, None)
        return str(answer["password"])

    async def _ensure_agents(self) -> None:
        """Provision the agents, sign each in from its workstation and change its one-time password."""
        skills = sorted({*self.desk.settings.skills.values(), self.desk.settings.general_skill, "emergency"})
        base = self.internal.base
        for n in range(1, AGENTS + 1):
            name = f"sim-agent-{n}"
            password = await self._provision(name, skills, n == 1)
            agent = AgentClient(base, name, password, workstation(n))
            self.agents.append(agent)
            await agent.change_password(secrets.token_urlsafe(16))

    async def close(self) -> None:
        """Close the agents' connections."""
        for agent in self.agents:
            await agent.close()

    async def run(self) -> Dict[str, Any]:
        """Simulate every hour from `start` to `end`; return what was stored.

        Raises:
            SimulationError: the desk holds data already.
            DeskRefused: the desk answered a call with an error status (the simulation stopped there).
        """
        self.plan.check()
        _refuse_filled(self.desk.store)
        hours = self.plan.days * 24
        peak = self.plan.peak_day if self.plan.peak_day is not None else (self.plan.days - 10 if self.plan.days > 10 else None)
        model = traffic.TrafficModel(per_day=self.plan.per_day, peak_day=peak)
        counts = traffic.hourly_counts(model, self.start, hours, seed=self.plan.seed)
        busiest = max(counts) or 1
        sequence = 0
        with _pinned_clock() as set_clock:
            set_clock(self.start)
            await self._ensure_agents()
            for hour, count in enumerate(counts):
                hour_start = self.start + dt.timedelta(hours=hour)
                for at in sorted(hour_start + dt.timedelta(seconds=self.rng.uniform(0, 3599)) for _ in range(count)):
                    sequence += 1
                    await self._conversation(sequence, at, count / busiest, set_clock)
        # the agents worked in simulated time, which may run past now (a ticket waiting for the next opening):
        # their requests must not make them count as online
        self.desk.store.forget_agents_seen(agent.name for agent in self.agents)
        self.desk.store.set_state(SIMULATED_STATE, json.dumps({
            **dataclasses.asdict(self.plan), "peak_day": peak, "from": self.start.isoformat(),
            "to": self.end.isoformat(), **self.counts,
        }))
        return {"from": self.start.isoformat(), "to": self.end.isoformat(), "peak_day": peak, **self.counts}

    async def _conversation(self, n: int, at: dt.datetime, load: float, set_clock: Any) -> None:
        channel = _choice(self.rng, CHANNELS)
        conversation_id = f"{channel}:sim-{self.plan.seed}-{n}"
        set_clock(at)
        # from Rasa's event broker, not over HTTP: what the desk's broker consumer hands to the inbox
        self.desk.inbox.ingest({
            "event": "user", "sender_id": conversation_id, "timestamp": at.timestamp(), "sequence": 1,
            "input_channel": channel, "text": f"{MARK} hello",
        })
        self.counts["conversations"] += 1
        if self.rng.random() >= self.plan.handoff_share:
            return
        reason, grade, _share, angry = _choice(self.rng, [(r, r[2]) for r in REASONS])
        topic = "faq_lost_card" if reason == "emergency" else self.rng.choice(self.topics)
        customer = self.rng.randrange(1, max(2, int(self.plan.per_day * self.plan.days / 3)))
        created = at + dt.timedelta(seconds=20)
        packet = _packet(conversation_id, channel, customer, reason, grade, angry, topic, created, self.rng)
        set_clock(created)
        answer = await self.internal.call("/internal/tickets", packet)
        self.counts["tickets"] += 1
        code = answer["id"]
        # the desk's answer says whether the ticket's team is open now, else when it opens
        opens = created if answer["open_now"] else dt.datetime.fromisoformat(answer["next_opening"])
        claimed = max(created, opens) + dt.timedelta(seconds=self.rng.expovariate(1 / (30 + 150 * load)))
        agent = self.agents[0] if reason == "repeat_complaint" else self.rng.choice(self.agents)
        set_clock(claimed)
        await agent.act(f"/api/tickets/{code}/claim", None, key=f"{code}:claim")
        set_clock(claimed + dt.timedelta(seconds=self.rng.uniform(15, 60)))
        await agent.act(f"/api/tickets/{code}/messages", {"text": f"{MARK} thank you, I am looking into it"},
                        key=f"{code}:reply")
        resolved = claimed + dt.timedelta(seconds=60 + self.rng.expovariate(1 / 200))
        set_clock(resolved)
        await agent.act(f"/api/tickets/{code}/resolve", None, key=f"{code}:resolve")
        self.counts["resolved"] += 1
        if self.rng.random() < RATED_SHARE:
            set_clock(resolved + dt.timedelta(seconds=self.rng.uniform(10, 120)))
            rating = self.rng.choices(range(1, 6), weights=ANGRY_RATINGS if angry else CALM_RATINGS)[0]
            await self.internal.call(f"/internal/tickets/{code}/survey", {"rating": rating})
            self.counts["rated"] += 1
            if self.nps_rng.random() < NPS_ANSWERED_SHARE:
                nps = self.nps_rng.randint(*NPS_BY_RATING[rating])
                await self.internal.call(f"/internal/tickets/{code}/survey", {"rating": rating, "nps": nps})
                self.counts["nps_answers"] += 1


def _refuse_filled(store: Store) -> None:
    """Raise `SimulationError` when the desk holds tickets or conversations already."""
    if store.ticket_count() or store.containment_counts()[0]:
        raise SimulationError(
            "the desk already holds tickets or conversations: simulate fills a fresh desk only "
            "(point DATABASE_URL at an empty database, or use a new FRONTLINE_VAR)"
        )


def _timezone(settings: DeskSettings) -> dt.tzinfo:
    import zoneinfo

    name = ((settings.raw.get("calendar") or {}).get("timezone")) or "UTC"
    return zoneinfo.ZoneInfo(str(name))


# The leader's round (sweeps, auto-assignment offers, abandoned waits, …) every this many seconds: never during
# a simulation, whose pinned clock would have it act at odd moments.
QUIET_ROUND_SECONDS = 365 * 86400.0


@contextlib.asynccontextmanager
async def simulated_desk(
    store: Store, settings: DeskSettings, sink: Optional[CustomerSink] = None
) -> AsyncIterator[Tuple[Desk, InternalClient]]:
    """The desk app over `store` served on a free loopback port, its replies going to `sink` (a new
    `CustomerSink` when None), and the action server's client of it; all started and stopped around the block."""
    sink = sink or CustomerSink()
    await sink.start()
    secret = secrets.token_urlsafe(32)
    app = create_app(
        settings.raw, store=store, rasa=RasaClient(sink.url, token="simulated", timeout=10), broker=None,
        secret=secret, notify_positions=False, console=False, cadence=Cadence(leader_round=QUIET_ROUND_SECONDS),
    )
    app.config.MOTD = False  # the command prints one JSON line; sanic's banner is not part of it
    try:
        async with serve(app) as base:
            internal = InternalClient(base, secret)
            try:
                yield app.ctx.desk, internal
            finally:
                await internal.close()
    finally:
        await sink.stop()


async def simulate(
    store: Store, settings: DeskSettings, plan: Plan, end: Optional[dt.datetime] = None,
    sink: Optional[CustomerSink] = None,
) -> Dict[str, Any]:
    """Fill the fresh desk `store` with `plan`'s simulated traffic through the desk's HTTP API; return the counts
    stored.

    Args:
        store: the desk's store (fresh).
        settings: the desk's settings.
        plan: what to simulate.
        end: the end of the simulated history (default: the current hour).
        sink: the simulated customers (Rasa's events endpoint); a new `CustomerSink` when None.

    Raises:
        SimulationError: the store holds data already, or the plan is out of range.
        DeskRefused: the desk answered a call with an error status: the simulation stopped there (what was
            stored before stays).
    """
    plan.check()
    _refuse_filled(store)
    async with simulated_desk(store, settings, sink) as (desk, internal):
        simulator = Simulator(desk, internal, plan, end)
        try:
            return await simulator.run()
        finally:
            await simulator.close()


def run(store: Store, settings: DeskSettings, plan: Plan) -> Dict[str, Any]:
    """`simulate` from synchronous code (the command line)."""
    return asyncio.run(simulate(store, settings, plan))
