"""Fixtures for the desk tests: settings, stores (SQLite and PostgreSQL), a fake Rasa, the app, agents."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import uuid
from typing import Any, Dict, List, Optional

import pytest
from aiohttp import web

from bot.conversations import channel_of
from bot.desk import auth
from bot.desk.app import create_app
from bot.desk.records import Role
from bot.desk.rasa_client import RasaClient
from bot.desk.store import Store
from bot.settings import load_settings

PG_URL = os.environ.get("FRONTLINE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
SECRET = "test-secret"


def pg_available() -> bool:
    """True when PostgreSQL answers on the test URL."""
    try:
        import psycopg2
    except ImportError:
        return False
    try:
        psycopg2.connect(PG_URL.replace("postgresql://", "postgres://"), connect_timeout=2).close()
    except psycopg2.Error:
        return False
    return True


@pytest.fixture(scope="session")
def settings() -> Dict[str, Any]:
    """The real settings file."""
    return load_settings()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Any) -> Store:
    """A migrated store on SQLite (tmp file) or PostgreSQL (a unique schema, dropped afterwards)."""
    if request.param == "sqlite":
        result = Store(f"sqlite:///{tmp_path / 'desk.db'}")
    else:
        if not pg_available():
            pytest.skip("PostgreSQL is not reachable on 127.0.0.1:5432")
        result = Store(PG_URL, schema=f"desk_test_{uuid.uuid4().hex[:12]}")
    result.migrate()
    yield result
    result.drop_schema()


@pytest.fixture
def sqlite_store(tmp_path: Any) -> Store:
    """A migrated SQLite store."""
    result = Store(f"sqlite:///{tmp_path / 'desk.db'}")
    result.migrate()
    yield result
    result.close()


class PlainCalendar:
    """A calendar that is always open (or always closed, opening at `opening`) and counts plain time."""

    def __init__(self, open_now: bool = True, opening: Optional[dt.datetime] = None) -> None:
        self.open_now = open_now
        self.opening = opening
        self.calls: List[Any] = []

    def add_business_time(self, start: dt.datetime, delta: dt.timedelta, team: Optional[str] = None) -> dt.datetime:
        self.calls.append(("add", start, delta, team))
        return start + delta

    def is_open(self, at: dt.datetime, team: Optional[str] = None) -> bool:
        return self.open_now

    def next_opening(self, at: dt.datetime, team: Optional[str] = None) -> Any:
        start = self.opening or at
        return start, start + dt.timedelta(hours=3)

    def business_seconds_between(self, a: dt.datetime, b: dt.datetime, team: Optional[str] = None) -> float:
        return (b - a).total_seconds()

    timezone = dt.timezone.utc


class FakeRasa:
    """A real HTTP server on loopback that speaks the part of Rasa's API the desk uses and records calls."""

    def __init__(self) -> None:
        self.requests: List[Dict[str, Any]] = []
        self.fail_status: Optional[int] = None
        self.fail_body: Dict[str, Any] = {"error": "boom"}
        self.delay = 0.0  # seconds each answer takes (after the request is recorded), to make calls overlap
        self.runner: Optional[web.AppRunner] = None
        self.url = ""
        # `/model/parse`: the texts asked (with the token given), and the intent ranking answered
        self.parsed: List[Dict[str, Any]] = []
        self.intent_ranking: List[Dict[str, Any]] = []

    @property
    def deliveries(self) -> List[Dict[str, Any]]:
        """The requests that carried more than the pause a claim sends."""
        return [r for r in self.requests if r["body"] != [{"event": "pause"}]]

    async def _events(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.requests.append(
            {"conversation_id": request.match_info["cid"], "query": dict(request.query), "body": body}
        )
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.fail_status:
            return web.json_response(self.fail_body, status=self.fail_status)
        return web.json_response({"sender_id": request.match_info["cid"], "events": body})

    async def _parse(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.parsed.append({"text": body.get("text"), "token": request.query.get("token")})
        if self.fail_status:
            return web.json_response(self.fail_body, status=self.fail_status)
        top = self.intent_ranking[0] if self.intent_ranking else {"name": None, "confidence": 0.0}
        return web.json_response({"text": body.get("text"), "intent": top, "entities": [],
                                  "intent_ranking": self.intent_ranking})

    async def start(self, port: int = 0) -> None:
        """Listen on `port` (a free one when 0)."""
        app = web.Application()
        app.router.add_post("/conversations/{cid}/tracker/events", self._events)
        app.router.add_post("/model/parse", self._parse)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{self.port}"

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None

    def events(self) -> List[Dict[str, Any]]:
        """Every event body posted, flattened."""
        result = []
        for item in self.requests:
            body = item["body"]
            result.extend(body if isinstance(body, list) else [body])
        return result

    def keyed(self, key: str) -> List[Dict[str, Any]]:
        """The `bot` events posted with this `metadata.delivery_key`."""
        return [e for e in self.events() if e.get("event") == "bot" and (e.get("metadata") or {}).get("delivery_key") == key]



@pytest.fixture
async def fake_rasa() -> FakeRasa:
    """A running fake Rasa."""
    server = FakeRasa()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
def calendar() -> PlainCalendar:
    """An always-open plain-time calendar."""
    return PlainCalendar()


@pytest.fixture
def app(settings: Dict[str, Any], sqlite_store: Store, fake_rasa: FakeRasa, calendar: PlainCalendar) -> Any:
    """The desk app on a SQLite store, talking to the fake Rasa, without a broker consumer."""
    return create_app(
        settings,
        store=sqlite_store,
        rasa=RasaClient(fake_rasa.url, token="rasa-token", timeout=3),
        broker=None,
        secret=SECRET,
        calendar=calendar,
        notify_positions=False,
        console=False,
    )


@pytest.fixture
def agents(sqlite_store: Store) -> Dict[str, Dict[str, Any]]:
    """Agents: alice (general, orders), bob (general), carol (senior, after_sales), dave (payments, capacity 1)."""
    result = {}
    for name, skills, senior, capacity in [
        ("alice", ["general", "orders"], False, 3),
        ("bob", ["general"], False, 3),
        ("carol", ["after_sales"], True, 3),
        ("dave", ["payments"], False, 1),
    ]:
        agent, token, password = auth.create_agent(sqlite_store, name, skills, senior, capacity, 0.0, f"pw-{name}-123",
                                            settled=True)
        result[name] = {"agent": agent, "token": token, "password": password,
                        "headers": {"Authorization": f"Bearer {token}"}}
    return result


@pytest.fixture
def staff(sqlite_store: Store) -> Dict[str, Dict[str, Any]]:
    """A supervisor, sam (general), and an admin, ada (general), beside the `agents` (password changed)."""
    result = {}
    for name, role in [("sam", Role.SUPERVISOR), ("ada", Role.ADMIN)]:
        agent, token, password = auth.create_agent(sqlite_store, name, ["general"], True, 3, 0.0, f"pw-{name}-123",
                                                   role=role, settled=True)
        result[name] = {"agent": agent, "token": token, "password": password,
                        "headers": {"Authorization": f"Bearer {token}"}}
    return result


def build_packet(conversation_id: str = "conv-1", **overrides: Any) -> Dict[str, Any]:
    """A context packet as the handoff action sends it (valid against `docs/context-packet.schema.json`).

    A `conversation_id` without a namespace (`conv-1`) is put in its channel's (`socketio:conv-1`, or
    `wechat:conv-1` with `channel="wechat"`), as Rasa's conversation ids are (`bot.conversations`).
    """
    channel = overrides.get("channel", "socketio")
    if isinstance(channel, str) and channel and isinstance(conversation_id, str) and conversation_id.strip() \
            and channel_of(conversation_id) is None:
        conversation_id = f"{channel}:{conversation_id}"
    data: Dict[str, Any] = {
        "version": 1,
        "conversation_id": conversation_id,
        "channel": "socketio",
        "customer": {"id": "cust-1", "display_name": "王*", "tier": "regular", "vip": False, "language": "zh",
                     "earlier_tickets": []},
        "reason": "anger",
        "grade": "A",
        "topic": "faq_order_status",
        "anger_history": [0.2, 0.5, 0.9],
        "intents": [{"turn": 1, "at": "2026-11-23T10:00:00+00:00", "name": "faq_order_status", "confidence": 0.91,
                     "anger": 0.9}],
        "transcript": [
            {"role": "customer", "text": "我的订单呢", "at": "2026-11-23T10:00:00+00:00"},
            {"role": "bot", "text": "正在查询", "at": "2026-11-23T10:00:01+00:00"},
        ],
        "slots": {"language": "zh"},
        "created_at": "2026-11-23T10:00:02+00:00",
    }
    data.update(overrides)
    return data


@pytest.fixture
def make_packet() -> Any:
    """A factory of context packets: `make_packet("conv-1", grade="B", …)`."""
    return build_packet


@pytest.fixture
def internal() -> Dict[str, str]:
    """Headers of the action server's calls to the internal API."""
    return {"X-Frontline-Secret": SECRET}
