"""The desk's HTTP API: `/internal/…` for the action server (shared secret) and `/api/…` for agents (bearer).

Every error answer is JSON `{"error": "…"}`: 400 bad body, 401 no valid token/secret, 403 a ticket another
agent owns (or a skill the agent lacks), 404 unknown ticket, 409 claimed/closed/at capacity, 502 Rasa down.
The agents' state-changing calls take an `Idempotency-Key` header (`bot.desk.idempotency`: 422 a key reused for
another request, 409 its first request still in progress). The full reference is `docs/desk-api.md`.
"""

from __future__ import annotations

import asyncio
import hmac
import inspect
import json
import logging
from typing import Any, Callable, Dict, List, Optional, Tuple
from urllib.parse import unquote

from sanic import Blueprint, Request
from sanic.exceptions import InvalidUsage
from sanic.response import HTTPResponse, empty
from sanic.response import json as json_response

from bot import ratelimit
from bot.desk import auth
from bot.desk.config import desk_secret
from bot.desk.errors import DeskError
from bot.desk.idempotency import REPLAYED_HEADER
from bot.desk.records import CLOSED_STATUSES, CLOSING_STATUSES, OPEN_STATUSES, Agent, AgentSession, TicketStatus
from bot.desk.service import Desk
from bot.desk.stream import sse_frame
from bot.desk.tickets import DEFAULT_PAGE

logger = logging.getLogger(__name__)

STATUS_FILTERS: Dict[str, List[TicketStatus]] = {
    "open": [*OPEN_STATUSES, *CLOSING_STATUSES],  # a ticket being closed stays in view until it is closed
    "closed": list(CLOSED_STATUSES),
    "all": list(TicketStatus),
}
SSE_PING_SECONDS = 15.0


def _json(data: Any, status: int = 200) -> HTTPResponse:
    return json_response(data, status=status, ensure_ascii=False)


def _desk(request: Request) -> Desk:
    return request.app.ctx.desk


def _body(request: Request) -> Any:
    """The parsed JSON body (None when empty); 400 on malformed JSON."""
    if not request.body:
        return None
    try:
        return json.loads(request.body)
    except (ValueError, UnicodeDecodeError) as error:
        raise DeskError(400, f"the body is not valid JSON: {error}") from error


async def _once(
    request: Request, agent: Agent, work: Callable[[], Any], status: int = 200
) -> HTTPResponse:
    """Answer a state-changing call (`work` returns its JSON, or an awaitable of it, answered with `status`), once
    per `Idempotency-Key` when the request has one: a repeat gets the first answer (`bot.desk.idempotency`)."""

    async def call() -> Tuple[int, Any]:
        result = work()
        return status, (await result if inspect.isawaitable(result) else result)

    (code, data), replayed = await _desk(request).calls.run(
        agent.name, request.headers.get("idempotency-key"), request.method, request.path, request.body or b"", call
    )
    response = _json(data, status=code)
    if replayed:
        response.headers[REPLAYED_HEADER] = "true"
    return response


def _check_secret(request: Request) -> None:
    expected = request.app.ctx.secret if request.app.ctx.secret is not None else desk_secret()
    given = request.headers.get("x-frontline-secret", "")
    if not expected:
        raise DeskError(401, "the desk has no FRONTLINE_DESK_SECRET configured")
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise DeskError(401, "missing or wrong X-Frontline-Secret")


def _session(request: Request, allow_query_token: bool = False) -> AgentSession:
    token = auth.bearer_token(request.headers, request.args if allow_query_token else None)
    return _desk(request).accounts.authenticate(token)


def _last_event_id(request: Request) -> Optional[int]:
    """The `Last-Event-ID` header (or `?last_event_id=`) of a stream request; None when absent."""
    raw = request.headers.get("last-event-id") or request.args.get("last_event_id")
    if raw is None or raw == "":
        return None
    try:
        value = int(raw)
    except ValueError as error:
        raise DeskError(400, "'Last-Event-ID' must be an event id (a whole number)") from error
    if value < 0:
        raise DeskError(400, "'Last-Event-ID' must be an event id (a whole number)")
    return value


def _statuses(raw: str) -> List[TicketStatus]:
    result: set = set()
    for part in (raw or "open").split(","):
        part = part.strip()
        if part in STATUS_FILTERS:
            result.update(STATUS_FILTERS[part])
        elif part in {s.value for s in TicketStatus}:
            result.add(TicketStatus(part))
        else:
            raise DeskError(400, f"unknown status filter {part!r}: use open, closed, all or a status")
    return sorted(result, key=lambda s: s.value)


def internal_blueprint(name: str) -> Blueprint:
    """The `/internal` blueprint, for the action server (header `X-Frontline-Secret`, checked on every route)."""
    bp = Blueprint(name, url_prefix="/internal")

    @bp.middleware("request")
    async def check_secret(request: Request) -> None:
        _check_secret(request)

    @bp.post("/tickets")
    async def create_ticket(request: Request) -> HTTPResponse:
        answer, created = _desk(request).intake.create_ticket(_body(request))
        return _json(answer, status=201 if created else 200)

    @bp.get("/tickets/<code>")
    async def get_ticket(request: Request, code: str) -> HTTPResponse:
        return _json(_desk(request).intake.ticket_status(code))

    @bp.post("/tickets/<code>/survey")
    async def survey(request: Request, code: str) -> HTTPResponse:
        return _json(_desk(request).intake.rate(code, _body(request)))

    @bp.get("/customers/<customer_id>/tickets")
    async def customer_tickets(request: Request, customer_id: str) -> HTTPResponse:
        return _json(_desk(request).intake.customer_tickets(customer_id))

    @bp.get("/conversations/<conversation_id>/ticket")
    async def conversation_ticket(request: Request, conversation_id: str) -> HTTPResponse:
        # sanic leaves the path percent-encoded; a conversation id is `<channel>:<id>` and clients may send %3A
        return _json(_desk(request).intake.conversation_ticket(unquote(conversation_id)))

    return bp


def api_blueprint(name: str) -> Blueprint:
    """The `/api` blueprint, for agents and the console (`Authorization: Bearer <token>`)."""
    bp = Blueprint(name, url_prefix="/api")

    @bp.post("/login")
    async def login(request: Request) -> HTTPResponse:
        accounts = _desk(request).accounts
        address = ratelimit.request_address(request, accounts.limiter.trusted_proxies)
        return _json(await accounts.login(_body(request), address))

    @bp.post("/logout")
    async def logout(request: Request) -> HTTPResponse:
        _session(request)
        _desk(request).accounts.logout(auth.bearer_token(request.headers))
        return empty()

    @bp.get("/me")
    async def me(request: Request) -> HTTPResponse:
        return _json(_desk(request).accounts.me(_session(request)))

    @bp.post("/me/password")
    async def change_password(request: Request) -> HTTPResponse:
        agent = _session(request).agent
        await _desk(request).accounts.change_password(agent, _body(request))
        return empty()

    @bp.post("/me/status")
    async def set_status(request: Request) -> HTTPResponse:
        agent = _session(request).agent
        return await _once(request, agent, lambda: _desk(request).assigner.set_status(agent, _body(request)))

    @bp.get("/agents")
    async def agents(request: Request) -> HTTPResponse:
        _session(request)
        return _json(_desk(request).accounts.agents())

    @bp.get("/skills")
    async def skills(request: Request) -> HTTPResponse:
        _session(request)
        return _json(_desk(request).tickets.skills())

    @bp.get("/topics")
    async def topics(request: Request) -> HTTPResponse:
        _session(request)
        return _json(_desk(request).tickets.topics())

    @bp.get("/canned")
    async def canned(request: Request) -> HTTPResponse:
        _session(request)
        return _json(_desk(request).tickets.canned(request.args.get("language")))

    @bp.get("/tickets")
    async def list_tickets(request: Request) -> HTTPResponse:
        agent = _session(request).agent
        statuses = _statuses(request.args.get("status", "open"))
        mine = request.args.get("mine", "") in ("1", "true", "yes")
        skill = request.args.get("skill") or None
        limit = request.args.get("limit", str(DEFAULT_PAGE))
        if not limit.isdigit():
            raise DeskError(400, "'limit' must be a whole number")
        items, cursor = _desk(request).tickets.list_for(
            agent, statuses, mine=mine, skill=skill, cursor=request.args.get("cursor") or None, limit=int(limit)
        )
        response = _json(items)
        if cursor:  # the next page: the same query with &cursor=<X-Next-Cursor>
            response.headers["X-Next-Cursor"] = cursor
        return response

    @bp.get("/tickets/<code>")
    async def get_ticket(request: Request, code: str) -> HTTPResponse:
        agent = _session(request).agent
        return _json(_desk(request).tickets.detail(code, agent))

    @bp.post("/tickets/<code>/claim")
    async def claim(request: Request, code: str) -> HTTPResponse:
        agent = _session(request).agent
        return await _once(request, agent, lambda: _desk(request).tickets.claim(code, agent))

    @bp.post("/tickets/<code>/accept")
    async def accept(request: Request, code: str) -> HTTPResponse:
        agent = _session(request).agent
        desk = _desk(request)
        return await _once(request, agent, lambda: desk.assigner.accept(desk.tickets.find(code), agent))

    @bp.post("/tickets/<code>/decline")
    async def decline(request: Request, code: str) -> HTTPResponse:
        agent = _session(request).agent
        desk = _desk(request)
        return await _once(request, agent, lambda: desk.assigner.decline(desk.tickets.find(code), agent))

    @bp.post("/tickets/<code>/messages")
    async def reply(request: Request, code: str) -> HTTPResponse:
        agent = _session(request).agent
        return await _once(request, agent, lambda: _desk(request).tickets.reply(code, agent, _body(request)), 201)

    @bp.post("/tickets/<code>/messages/<message_id:int>/retry")
    async def retry(request: Request, code: str, message_id: int) -> HTTPResponse:
        agent = _session(request).agent
        return await _once(request, agent, lambda: _desk(request).tickets.retry(code, agent, message_id))

    @bp.post("/tickets/<code>/transfer")
    async def transfer(request: Request, code: str) -> HTTPResponse:
        agent = _session(request).agent
        return await _once(request, agent, lambda: _desk(request).tickets.transfer(code, agent, _body(request)))

    @bp.post("/tickets/<code>/topic")
    async def topic(request: Request, code: str) -> HTTPResponse:
        agent = _session(request).agent
        return await _once(request, agent, lambda: _desk(request).tickets.set_topic(code, agent, _body(request)))

    @bp.post("/tickets/<code>/resolve")
    async def resolve(request: Request, code: str) -> HTTPResponse:
        agent = _session(request).agent
        return await _once(request, agent, lambda: _desk(request).tickets.resolve(code, agent))

    @bp.post("/tickets/<code>/handback")
    async def handback(request: Request, code: str) -> HTTPResponse:
        agent = _session(request).agent
        return await _once(request, agent, lambda: _desk(request).tickets.handback(code, agent))

    @bp.get("/at-risk")
    async def at_risk(request: Request) -> HTTPResponse:
        _session(request)  # supervisors only, once roles exist
        return _json(_desk(request).at_risk.listing())

    @bp.get("/qa")
    async def qa_queue(request: Request) -> HTTPResponse:
        _session(request)  # supervisors only, once roles exist
        return _json(_desk(request).qa.queue(request.args))

    @bp.post("/qa/<code>/score")
    async def qa_score(request: Request, code: str) -> HTTPResponse:
        agent = _session(request).agent  # supervisors only, once roles exist
        return await _once(request, agent, lambda: _desk(request).qa.score(code, agent, _body(request)))

    @bp.get("/qa/agents")
    async def qa_agents(request: Request) -> HTTPResponse:
        _session(request)  # supervisors only, once roles exist
        return _json(_desk(request).qa.agents(request.args))

    @bp.get("/dashboard")
    async def dashboard(request: Request) -> HTTPResponse:
        _session(request)
        return _json(_desk(request).reports.dashboard())

    @bp.get("/stream")
    async def stream(request: Request) -> HTTPResponse:
        """Server-Sent Events: `ticket` and `message` events as they happen (see `bot.desk.stream`).

        Event ids are global across desk processes: with `Last-Event-ID: n` (or `?last_event_id=n`) the stream
        starts with every event after n, from whichever desk process. While the stream is open its agent counts
        as online (the customers' wait estimates use it)."""
        agent = _session(request, allow_query_token=True).agent
        try:
            max_seconds = float(request.args.get("max_seconds", "0"))
        except ValueError as error:
            raise DeskError(400, "'max_seconds' must be a number") from error
        after = _last_event_id(request)
        desk = _desk(request)
        hub = desk.hub
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max_seconds if max_seconds > 0 else None
        response = await request.respond(
            content_type="text/event-stream; charset=utf-8",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
        subscription = hub.subscribe(after)
        desk.presence.connected(agent.name)
        try:
            # `hello` carries the position the stream starts from: a console that reconnects before any event
            # came still resumes from it.
            await response.send(f"retry: 2000\nid: {subscription.after}\nevent: hello\ndata: {{}}\n\n")
            while True:
                timeout = SSE_PING_SECONDS
                if deadline is not None:
                    timeout = min(timeout, deadline - loop.time())
                    if timeout <= 0:
                        break
                events = await hub.next(subscription, timeout)
                if not events:
                    await response.send(": ping\n\n")
                    continue
                await response.send("".join(sse_frame(event) for event in events))
        finally:
            hub.unsubscribe(subscription)
            desk.presence.disconnected(agent.name)
        await response.eof()
        return response

    return bp


def error_handler(request: Request, exception: Exception) -> HTTPResponse:
    """Answer desk errors (and sanic's own, on API paths) as JSON `{"error": …}`."""
    if isinstance(exception, DeskError):
        refused = _json({"error": exception.message}, status=exception.status)
        refused.headers.update(exception.headers)
        return refused
    status = getattr(exception, "status_code", 500) or 500
    if isinstance(exception, InvalidUsage):
        status = 400
    if status >= 500:
        logger.error("desk request failed: %s %s", request.method, request.path)
        logger.debug("desk failure", exc_info=exception)
        return _json({"error": "internal error"}, status=500)
    response = _json({"error": str(exception) or "error"}, status=status)
    response.headers.update(getattr(exception, "headers", None) or {})  # e.g. a 429's Retry-After
    return response
