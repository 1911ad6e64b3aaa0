"""The desk's HTTP API: `/internal/…` for the action server (shared secret) and `/api/…` for agents (bearer).

Every error answer is JSON `{"error": "…"}`: 400 bad body, 401 no valid token/secret, 403 a ticket another
agent owns (or a skill the agent lacks), 404 unknown ticket, 409 claimed/closed/at capacity, 502 Rasa down.
The full reference is `docs/desk-api.md`.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from typing import Any, Dict, List

from sanic import Blueprint, Request
from sanic.exceptions import InvalidUsage
from sanic.response import HTTPResponse, empty
from sanic.response import json as json_response

from bot.desk import auth, metrics
from bot.desk.config import desk_secret
from bot.desk.service import Desk, DeskError, iso

logger = logging.getLogger(__name__)

STATUS_FILTERS = {
    "open": ["queued", "assigned"],
    "closed": ["resolved", "handed_back"],
    "all": ["queued", "assigned", "resolved", "handed_back"],
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


def _check_secret(request: Request) -> None:
    expected = request.app.ctx.secret if request.app.ctx.secret is not None else desk_secret()
    given = request.headers.get("x-frontline-secret", "")
    if not expected:
        raise DeskError(401, "the desk has no FRONTLINE_DESK_SECRET configured")
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise DeskError(401, "missing or wrong X-Frontline-Secret")


def _agent(request: Request, allow_query_token: bool = False) -> Dict[str, Any]:
    desk = _desk(request)
    token = auth.bearer_token(request.headers, request.args if allow_query_token else None)
    agent = auth.authenticate(desk.store, token, desk.now())
    if agent is None:
        raise DeskError(401, "a valid bearer token is required (Authorization: Bearer <token>)")
    desk.seen(agent["name"])
    return agent


def _statuses(raw: str) -> List[str]:
    result: List[str] = []
    for part in (raw or "open").split(","):
        part = part.strip()
        if part in STATUS_FILTERS:
            result.extend(STATUS_FILTERS[part])
        elif part in STATUS_FILTERS["all"]:
            result.append(part)
        else:
            raise DeskError(400, f"unknown status filter {part!r}: use open, closed, all or a status")
    return sorted(set(result))


def internal_blueprint(name: str) -> Blueprint:
    """The `/internal` blueprint, for the action server (header `X-Frontline-Secret`)."""
    bp = Blueprint(name, url_prefix="/internal")

    @bp.post("/tickets")
    async def create_ticket(request: Request) -> HTTPResponse:
        _check_secret(request)
        answer, created = _desk(request).create_ticket(_body(request))
        return _json(answer, status=201 if created else 200)

    @bp.get("/tickets/<code>")
    async def get_ticket(request: Request, code: str) -> HTTPResponse:
        _check_secret(request)
        desk = _desk(request)
        ticket = desk.find(code)
        data = desk.to_json(ticket, desk.now())
        data.update(desk.creation_answer(ticket, desk.now()))
        return _json(data)

    @bp.post("/tickets/<code>/survey")
    async def survey(request: Request, code: str) -> HTTPResponse:
        _check_secret(request)
        return _json(_desk(request).rate(code, _body(request)))

    @bp.get("/customers/<customer_id>/tickets")
    async def customer_tickets(request: Request, customer_id: str) -> HTTPResponse:
        _check_secret(request)
        return _json(_desk(request).customer_tickets(customer_id))

    @bp.get("/conversations/<conversation_id>/ticket")
    async def conversation_ticket(request: Request, conversation_id: str) -> HTTPResponse:
        _check_secret(request)
        return _json(_desk(request).conversation_ticket(conversation_id))

    return bp


def api_blueprint(name: str) -> Blueprint:
    """The `/api` blueprint, for agents and the console (`Authorization: Bearer <token>`)."""
    bp = Blueprint(name, url_prefix="/api")

    @bp.post("/login")
    async def login(request: Request) -> HTTPResponse:
        desk = _desk(request)
        body = _body(request)
        if not isinstance(body, dict) or not isinstance(body.get("name"), str) or not isinstance(
            body.get("password"), str
        ):
            raise DeskError(400, "send {\"name\": …, \"password\": …}")
        try:
            token, expires = auth.login(
                desk.store, body["name"], body["password"], desk.now(), desk.settings.session_hours
            )
        except auth.AuthError as error:
            raise DeskError(401, str(error)) from error
        agent = desk.store.get_agent(body["name"]) or {}
        return _json({"token": token, "expires_at": iso(expires), "must_change_password": bool(agent.get("must_change_password"))})

    @bp.post("/logout")
    async def logout(request: Request) -> HTTPResponse:
        _agent(request)
        _desk(request).store.delete_token(auth.hash_token(auth.bearer_token(request.headers)))
        return empty()

    @bp.get("/me")
    async def me(request: Request) -> HTTPResponse:
        agent = _agent(request)
        desk = _desk(request)
        return _json(
            {
                "name": agent["name"],
                "skills": agent["skills"],
                "senior": bool(agent["senior"]),
                "capacity": agent["capacity"],
                "active_tickets": desk.store.active_count(agent["name"]),
                "must_change_password": bool(agent["must_change_password"]),
                "token_kind": agent["token_kind"],
                "expires_at": iso(agent["token_expires_at"]),
            }
        )

    @bp.post("/me/password")
    async def change_password(request: Request) -> HTTPResponse:
        agent = _agent(request)
        desk = _desk(request)
        body = _body(request)
        if not isinstance(body, dict):
            raise DeskError(400, "send {\"old_password\": …, \"password\": …}")
        full = desk.store.get_agent(agent["name"]) or {}
        if not auth.verify_password(str(body.get("old_password", "")), full.get("password_hash", "")):
            raise DeskError(403, "the old password is wrong")
        new = body.get("password")
        if not isinstance(new, str) or len(new) < 8:
            raise DeskError(400, "'password' must have at least 8 characters")
        desk.store.update_agent(agent["name"], password_hash=auth.hash_password(new), must_change_password=False)
        return empty()

    @bp.get("/agents")
    async def agents(request: Request) -> HTTPResponse:
        _agent(request)
        desk = _desk(request)
        items = desk.store.list_agents()
        for item in items:
            item["active_tickets"] = desk.store.active_count(item["name"])
            item["created_at"] = iso(item["created_at"])
            item["senior"] = bool(item["senior"])
            item.pop("must_change_password", None)
        return _json(items)

    @bp.get("/skills")
    async def skills(request: Request) -> HTTPResponse:
        _agent(request)
        settings = _desk(request).settings
        return _json(sorted(set(settings.skills.values()) | {settings.general_skill}))

    @bp.get("/canned")
    async def canned(request: Request) -> HTTPResponse:
        _agent(request)
        items = _desk(request).settings.canned
        language = request.args.get("language")
        if language:
            items = [c for c in items if c["language"] == language]
        return _json(items)

    @bp.get("/tickets")
    async def list_tickets(request: Request) -> HTTPResponse:
        agent = _agent(request)
        statuses = _statuses(request.args.get("status", "open"))
        mine = request.args.get("mine", "") in ("1", "true", "yes")
        skill = request.args.get("skill") or None
        return _json(_desk(request).list_for(agent, statuses, mine=mine, skill=skill))

    @bp.get("/tickets/<code>")
    async def get_ticket(request: Request, code: str) -> HTTPResponse:
        agent = _agent(request)
        return _json(_desk(request).detail(code, agent))

    @bp.post("/tickets/<code>/claim")
    async def claim(request: Request, code: str) -> HTTPResponse:
        agent = _agent(request)
        desk = _desk(request)
        ticket = desk.claim(code, agent)
        await desk.hold_conversation(ticket)
        return _json(ticket)

    @bp.post("/tickets/<code>/messages")
    async def reply(request: Request, code: str) -> HTTPResponse:
        agent = _agent(request)
        body = _body(request)
        return _json(await _desk(request).reply(code, agent, body), status=201)

    @bp.post("/tickets/<code>/messages/<message_id:int>/retry")
    async def retry(request: Request, code: str, message_id: int) -> HTTPResponse:
        agent = _agent(request)
        return _json(await _desk(request).retry(code, agent, message_id))

    @bp.post("/tickets/<code>/transfer")
    async def transfer(request: Request, code: str) -> HTTPResponse:
        agent = _agent(request)
        return _json(_desk(request).transfer(code, agent, _body(request)))

    @bp.post("/tickets/<code>/resolve")
    async def resolve(request: Request, code: str) -> HTTPResponse:
        agent = _agent(request)
        return _json(await _desk(request).resolve(code, agent))

    @bp.post("/tickets/<code>/handback")
    async def handback(request: Request, code: str) -> HTTPResponse:
        agent = _agent(request)
        return _json(await _desk(request).handback(code, agent))

    @bp.get("/dashboard")
    async def dashboard(request: Request) -> HTTPResponse:
        _agent(request)
        desk = _desk(request)
        total, with_ticket = desk.store.containment_counts()
        return _json(metrics.dashboard(desk.store.all_tickets(), desk.now(), total, with_ticket))

    @bp.get("/stream")
    async def stream(request: Request) -> HTTPResponse:
        """Server-Sent Events: `ticket` and `message` events as they happen (see `bot.desk.stream`).

        While the stream is open its agent counts as online (the customers' wait estimates use it)."""
        agent = _agent(request, allow_query_token=True)
        try:
            max_seconds = float(request.args.get("max_seconds", "0"))
        except ValueError as error:
            raise DeskError(400, "'max_seconds' must be a number") from error
        desk = _desk(request)
        hub = desk.hub
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max_seconds if max_seconds > 0 else None
        response = await request.respond(
            content_type="text/event-stream; charset=utf-8",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
        queue = hub.subscribe()
        desk.connected(agent["name"])
        try:
            await response.send("retry: 2000\nevent: hello\ndata: {}\n\n")
            while True:
                timeout = SSE_PING_SECONDS
                if deadline is not None:
                    timeout = min(timeout, deadline - loop.time())
                    if timeout <= 0:
                        break
                try:
                    event = await asyncio.wait_for(queue.get(), timeout=timeout)
                except asyncio.TimeoutError:
                    await response.send(": ping\n\n")
                    continue
                data = json.dumps(event["data"], ensure_ascii=False)
                await response.send(f"id: {event['seq']}\nevent: {event['type']}\ndata: {data}\n\n")
        finally:
            hub.unsubscribe(queue)
            desk.disconnected(agent["name"])
        await response.eof()
        return response

    return bp


def error_handler(request: Request, exception: Exception) -> HTTPResponse:
    """Answer desk errors (and sanic's own, on API paths) as JSON `{"error": …}`."""
    if isinstance(exception, DeskError):
        return _json({"error": exception.message}, status=exception.status)
    status = getattr(exception, "status_code", 500) or 500
    if isinstance(exception, InvalidUsage):
        status = 400
    if status >= 500:
        logger.error("desk request failed: %s %s", request.method, request.path)
        logger.debug("desk failure", exc_info=exception)
        return _json({"error": "internal error"}, status=500)
    return _json({"error": str(exception) or "error"}, status=status)
