"""The desk's HTTP API: `/internal/…` for the action server (shared secret) and `/api/…` for agents (bearer).

Every error answer is JSON `{"error": "…"}`: 400 bad body, 401 no valid token/secret, 403 a role the route needs
(`bot.desk.roles.require_role`), a ticket outside the agent's reach, another agent owns, or a skill the agent
lacks, 404 unknown ticket, 409 claimed/closed/at capacity, 502 Rasa down. Every action and every view of a
ticket's context is recorded in the audit log (`bot.desk.audit`).
The agents' state-changing calls take an `Idempotency-Key` header (`bot.desk.idempotency`: 422 a key reused for
another request, 409 its first request still in progress). The full reference is `docs/desk-api.md`.
"""

from __future__ import annotations

import asyncio
import hmac
import inspect
import json
import logging
from typing import Any, Awaitable, Callable, Dict, List, Optional, Tuple
from urllib.parse import unquote

from sanic import Blueprint, Request
from sanic.exceptions import InvalidUsage
from sanic.response import HTTPResponse, empty, text
from sanic.response import json as json_response

from bot import conversations, ratelimit
from bot.desk import auth, records, roles
from bot.desk.audit import Action, entries_csv, entry_json
from bot.desk.config import desk_secret
from bot.desk.errors import DeskError
from bot.desk.idempotency import REPLAYED_HEADER
from bot.desk.mail_files import KeptMails, served
from bot.desk.records import (
    CLOSED_STATUSES, CLOSING_STATUSES, OPEN_STATUSES, Agent, Role, TicketStatus, parse_ticket_code, ticket_code,
)
from bot.desk.reports import parse_period
from bot.desk.roles import require_role
from bot.desk.service import Desk
from bot.desk.staffing import parse_days
from bot.desk.stream import sse_frame
from bot.desk.tickets import DEFAULT_PAGE
from bot.desk.views import iso
from bot.i18n import LANGUAGES
from bot.settings import var_dir

logger = logging.getLogger(__name__)

STATUS_FILTERS: Dict[str, List[TicketStatus]] = {
    "open": [*OPEN_STATUSES, *CLOSING_STATUSES],  # a ticket being closed stays in view until it is closed
    "closed": list(CLOSED_STATUSES),
    "all": list(TicketStatus),
}
KEPT_MAIL_CHANNEL = "email"  # tickets of this channel list the mails it kept (`bot.desk.mail_files`)
SSE_PING_SECONDS = 15.0
# An open stream checks this often that the token it was opened through still works for the same agent in the same
# role (`auth.stream_still_valid`): a password change, reset, sign-out, disable or role change ends it within this.
STREAM_RECHECK_SECONDS = 5.0
# Why a ticket has no suggested answers (Rasa down, no customer message yet), in plain English.
SUGGESTIONS_REASON_HEADER = "X-Suggestions-Reason"


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


def _agent(request: Request) -> Agent:
    """The agent of the session `require_role` found."""
    return request.ctx.session.agent


def _address(request: Request) -> str:
    return ratelimit.request_address(request, _desk(request).accounts.limiter.trusted_proxies)


def _audit(request: Request, action: Action, ticket: Optional[str] = None, target: Optional[str] = None,
           **detail: Any) -> None:
    """Record an action of the signed-in agent in the audit log (`bot.desk.audit`)."""
    _desk(request).audit.record(_agent(request).name, action, _address(request), ticket, target, **detail)


def _audited(
    request: Request, action: Action, code: Optional[str], work: Callable[[], Any], target: Optional[str] = None,
    **detail: Any,
) -> Callable[[], Awaitable[Any]]:
    """`work`, recorded in the audit log once it succeeded (inside `_once`: a replayed answer is not recorded)."""

    async def run() -> Any:
        result = work()
        result = await result if inspect.isawaitable(result) else result
        _audit(request, action, _code(code) if code else None, target, **detail)
        return result

    return run


def _code(code: str) -> str:
    """A ticket id as the audit log keeps it (`T-000123`, whichever form the path had)."""
    number = parse_ticket_code(code)
    return ticket_code(number) if number is not None else code[:32]


def _mail_thread(ticket: Any) -> Optional[str]:
    """The e-mail thread of a ticket's conversation (`email:<thread>`), or None for another channel's."""
    if conversations.channel_of(ticket.conversation_id) != KEPT_MAIL_CHANNEL:
        return None
    return conversations.raw_id(ticket.conversation_id, KEPT_MAIL_CHANNEL)


def _kept_mails(request: Request) -> KeptMails:
    """The e-mail channel's kept mails: under `app.ctx.mail_folder` when set (tests), else `$FRONTLINE_VAR`."""
    return KeptMails(getattr(request.app.ctx, "mail_folder", None) or var_dir())


def api_blueprint(name: str) -> Blueprint:
    """The `/api` blueprint, for agents and the console (`Authorization: Bearer <token>`); each route names the
    least role it needs (`bot.desk.roles.require_role`)."""
    bp = Blueprint(name, url_prefix="/api")
    desk_of = _desk

    @bp.post("/login")
    async def login(request: Request) -> HTTPResponse:
        accounts = desk_of(request).accounts
        address = _address(request)
        body = _body(request)
        name = str(body.get("name"))[:128] if isinstance(body, dict) else ""
        try:
            answer = await accounts.login(body, address)
        except DeskError as error:
            if error.status == 401:
                desk_of(request).audit.record(name, Action.LOGIN_FAILED, address)
            raise
        desk_of(request).audit.record(name, Action.LOGIN, address)
        return _json(answer)

    @bp.post("/logout")
    @require_role(Role.AGENT, before_password_change=True)
    async def logout(request: Request) -> HTTPResponse:
        desk_of(request).accounts.logout(auth.bearer_token(request.headers))
        _audit(request, Action.LOGOUT)
        return empty()

    @bp.get("/me")
    @require_role(Role.AGENT, before_password_change=True)
    async def me(request: Request) -> HTTPResponse:
        return _json({**desk_of(request).accounts.me(request.ctx.session), "now": iso(records.now())})

    @bp.post("/me/password")
    @require_role(Role.AGENT, before_password_change=True)
    async def change_password(request: Request) -> HTTPResponse:
        await desk_of(request).accounts.change_password(request.ctx.session, _body(request))
        _audit(request, Action.CHANGE_PASSWORD)
        return empty()

    @bp.post("/me/api-tokens")
    @require_role(Role.AGENT)
    async def api_token(request: Request) -> HTTPResponse:
        answer = desk_of(request).accounts.api_token(request.ctx.session)
        _audit(request, Action.API_TOKEN)
        return _json(answer, status=201)

    @bp.post("/me/status")
    @require_role(Role.AGENT)
    async def set_status(request: Request) -> HTTPResponse:
        agent = _agent(request)
        return await _once(request, agent, lambda: desk_of(request).assigner.set_status(agent, _body(request)))

    @bp.get("/agents")
    @require_role(Role.AGENT)
    async def agents(request: Request) -> HTTPResponse:
        return _json(desk_of(request).accounts.agents())

    @bp.post("/agents/<name>/disable")
    @require_role(Role.SUPERVISOR)
    async def disable_agent(request: Request, name: str) -> HTTPResponse:
        work = _audited(request, Action.DISABLE, None, lambda: desk_of(request).supervision.disable(name, _agent(request)),
                        target=name)
        return await _once(request, _agent(request), work)

    @bp.post("/agents/<name>/enable")
    @require_role(Role.SUPERVISOR)
    async def enable_agent(request: Request, name: str) -> HTTPResponse:
        work = _audited(request, Action.ENABLE, None, lambda: desk_of(request).supervision.enable(name, _agent(request)),
                        target=name)
        return await _once(request, _agent(request), work)

    @bp.post("/agents/<name>/password-reset")
    @require_role(Role.SUPERVISOR)
    async def reset_password(request: Request, name: str) -> HTTPResponse:
        desk = desk_of(request)

        def work() -> Any:
            return asyncio.get_running_loop().run_in_executor(
                desk.accounts.hashing, desk.supervision.reset_password, name, _agent(request)
            )

        return await _once(request, _agent(request), _audited(request, Action.RESET_PASSWORD, None, work, target=name))

    @bp.post("/agents/<name>/role")
    @require_role(Role.ADMIN)
    async def set_role(request: Request, name: str) -> HTTPResponse:
        body = _body(request)
        try:
            role = roles.parse_role(body.get("role") if isinstance(body, dict) else None)
        except auth.AuthError as error:
            raise DeskError(400, str(error)) from error
        work = _audited(request, Action.SET_ROLE, None,
                        lambda: desk_of(request).supervision.set_role(name, role, _agent(request)),
                        target=name, role=role.value)
        return await _once(request, _agent(request), work)

    @bp.get("/skills")
    @require_role(Role.AGENT)
    async def skills(request: Request) -> HTTPResponse:
        return _json(desk_of(request).tickets.skills())

    @bp.get("/topics")
    @require_role(Role.AGENT)
    async def topics(request: Request) -> HTTPResponse:
        return _json(desk_of(request).tickets.topics())

    @bp.get("/canned")
    @require_role(Role.AGENT)
    async def canned(request: Request) -> HTTPResponse:
        return _json(desk_of(request).tickets.canned(request.args.get("language")))

    @bp.get("/tickets")
    @require_role(Role.AGENT)
    async def list_tickets(request: Request) -> HTTPResponse:
        agent = _agent(request)
        statuses = _statuses(request.args.get("status", "open"))
        mine = request.args.get("mine", "") in ("1", "true", "yes")
        skill = request.args.get("skill") or None
        limit = request.args.get("limit", str(DEFAULT_PAGE))
        if not limit.isdigit():
            raise DeskError(400, "'limit' must be a whole number")
        items, cursor = desk_of(request).tickets.list_for(
            agent, statuses, mine=mine, skill=skill, cursor=request.args.get("cursor") or None, limit=int(limit)
        )
        response = _json(items)
        if cursor:  # the next page: the same query with &cursor=<X-Next-Cursor>
            response.headers["X-Next-Cursor"] = cursor
        return response

    @bp.get("/tickets/<code>")
    @require_role(Role.AGENT)
    async def get_ticket(request: Request, code: str) -> HTTPResponse:
        desk = desk_of(request)
        detail = desk.tickets.detail(code, _agent(request))
        _audit(request, Action.VIEW, detail["id"])
        detail["customer"].update(desk.customers.list(code))  # the profile card's notes and tags
        thread = _mail_thread(desk.tickets.find(code))
        if thread is not None:  # what the customer's mails brought: the raw mails and their attachments
            try:
                detail["mails"] = _kept_mails(request).listing(thread, detail["id"])
            except DeskError as error:  # the ticket still opens; the console says why the mails are missing
                detail["mails"], detail["mails_error"] = [], error.message
        return _json(detail)

    @bp.get("/tickets/<code>/attachments/<attachment_id>")
    @require_role(Role.AGENT)
    async def attachment(request: Request, code: str, attachment_id: str) -> HTTPResponse:
        """An attachment of one of the ticket's e-mails, as a download (`bot.desk.mail_files`)."""
        thread = _mail_thread(desk_of(request).tickets.find_for(code, _agent(request)))  # 403 outside the reach
        if thread is None:
            raise DeskError(404, f"ticket {_code(code)} is not an e-mail ticket: it has no attachments")
        attachment_id = unquote(attachment_id)
        kept = _kept_mails(request).attachment(thread, attachment_id)  # 400 not an id, 404 not this ticket's
        _audit(request, Action.VIEW, _code(code), attachment=attachment_id)
        return served(kept)

    @bp.get("/tickets/<code>/mails/<mail_id>/raw")
    @require_role(Role.AGENT)
    async def raw_mail(request: Request, code: str, mail_id: str) -> HTTPResponse:
        """The kept raw mail (size-limited), as a download (`bot.desk.mail_files`)."""
        thread = _mail_thread(desk_of(request).tickets.find_for(code, _agent(request)))
        if thread is None:
            raise DeskError(404, f"ticket {_code(code)} is not an e-mail ticket: it has no kept mails")
        mail_id = unquote(mail_id)
        kept = _kept_mails(request).raw_mail(thread, mail_id)
        _audit(request, Action.VIEW, _code(code), raw_mail=mail_id)
        return served(kept)

    @bp.get("/tickets/<code>/suggestions")
    @require_role(Role.AGENT)
    async def suggestions(request: Request, code: str) -> HTTPResponse:
        """Up to 3 FAQ answers for the customer's last message; when there are none, `X-Suggestions-Reason`."""
        desk = desk_of(request)
        desk.tickets.find_for(code, _agent(request))  # 403 outside the agent's reach
        found = await desk.answers.suggestions(code)
        response = _json(found.items)
        if found.reason:
            response.headers[SUGGESTIONS_REASON_HEADER] = found.reason.encode("ascii", "replace").decode("ascii")
        return response

    @bp.get("/faq")
    @require_role(Role.AGENT)
    async def faq_search(request: Request) -> HTTPResponse:
        language = request.args.get("language") or None
        if language is not None and language not in LANGUAGES:
            raise DeskError(400, f"'language' must be one of {', '.join(LANGUAGES)}")
        return _json(desk_of(request).answers.search(request.args.get("q", ""), language))

    @bp.get("/tickets/<code>/customer/notes")
    @require_role(Role.AGENT)
    async def customer_notes(request: Request, code: str) -> HTTPResponse:
        desk = desk_of(request)
        desk.tickets.find_for(code, _agent(request))
        return _json(desk.customers.list(code))

    @bp.post("/tickets/<code>/customer/notes")
    @require_role(Role.AGENT)
    async def add_customer_note(request: Request, code: str) -> HTTPResponse:
        agent = _agent(request)
        desk = desk_of(request)
        desk.tickets.find_for(code, agent)
        work = _audited(request, Action.CUSTOMER_NOTE, code, lambda: desk.customers.add(code, agent, _body(request)))
        return await _once(request, agent, work, 201)

    @bp.delete("/tickets/<code>/customer/notes/<note_id:int>")
    @require_role(Role.AGENT)
    async def remove_customer_note(request: Request, code: str, note_id: int) -> HTTPResponse:
        agent = _agent(request)
        desk = desk_of(request)
        desk.tickets.find_for(code, agent)
        desk.customers.remove(code, agent, note_id)
        _audit(request, Action.CUSTOMER_NOTE, _code(code), removed=note_id)
        return empty()

    @bp.post("/tickets/<code>/claim")
    @require_role(Role.AGENT)
    async def claim(request: Request, code: str) -> HTTPResponse:
        agent = _agent(request)
        work = _audited(request, Action.CLAIM, code, lambda: desk_of(request).tickets.claim(code, agent))
        return await _once(request, agent, work)

    @bp.post("/tickets/<code>/accept")
    @require_role(Role.AGENT)
    async def accept(request: Request, code: str) -> HTTPResponse:
        agent = _agent(request)
        desk = desk_of(request)
        work = _audited(request, Action.CLAIM, code, lambda: desk.assigner.accept(desk.tickets.find(code), agent),
                        offer="accepted")
        return await _once(request, agent, work)

    @bp.post("/tickets/<code>/decline")
    @require_role(Role.AGENT)
    async def decline(request: Request, code: str) -> HTTPResponse:
        agent = _agent(request)
        desk = desk_of(request)
        return await _once(request, agent, lambda: desk.assigner.decline(desk.tickets.find(code), agent))

    @bp.post("/tickets/<code>/messages")
    @require_role(Role.AGENT)
    async def reply(request: Request, code: str) -> HTTPResponse:
        agent = _agent(request)
        work = _audited(request, Action.REPLY, code, lambda: desk_of(request).tickets.reply(code, agent, _body(request)))
        return await _once(request, agent, work, 201)

    @bp.post("/tickets/<code>/messages/<message_id:int>/retry")
    @require_role(Role.AGENT)
    async def retry(request: Request, code: str, message_id: int) -> HTTPResponse:
        agent = _agent(request)
        work = _audited(request, Action.RETRY, code, lambda: desk_of(request).tickets.retry(code, agent, message_id),
                        message=message_id)
        return await _once(request, agent, work)

    @bp.post("/tickets/<code>/transfer")
    @require_role(Role.AGENT)
    async def transfer(request: Request, code: str) -> HTTPResponse:
        agent = _agent(request)
        body = _body(request)
        to = body if isinstance(body, dict) else {}
        work = _audited(request, Action.TRANSFER, code, lambda: desk_of(request).tickets.transfer(code, agent, body),
                        target=to.get("agent") if isinstance(to.get("agent"), str) else None,
                        skill=to.get("skill") if isinstance(to.get("skill"), str) else None)
        return await _once(request, agent, work)

    @bp.post("/tickets/<code>/topic")
    @require_role(Role.AGENT)
    async def topic(request: Request, code: str) -> HTTPResponse:
        agent = _agent(request)
        work = _audited(request, Action.TOPIC, code,
                        lambda: desk_of(request).tickets.set_topic(code, agent, _body(request)))
        return await _once(request, agent, work)

    @bp.post("/tickets/<code>/resolve")
    @require_role(Role.AGENT)
    async def resolve(request: Request, code: str) -> HTTPResponse:
        agent = _agent(request)
        work = _audited(request, Action.RESOLVE, code, lambda: desk_of(request).tickets.resolve(code, agent))
        return await _once(request, agent, work)

    @bp.post("/tickets/<code>/handback")
    @require_role(Role.AGENT)
    async def handback(request: Request, code: str) -> HTTPResponse:
        agent = _agent(request)
        work = _audited(request, Action.HANDBACK, code, lambda: desk_of(request).tickets.handback(code, agent))
        return await _once(request, agent, work)

    @bp.post("/tickets/<code>/reassign")
    @require_role(Role.SUPERVISOR)
    async def reassign(request: Request, code: str) -> HTTPResponse:
        agent = _agent(request)
        body = _body(request)
        to = body.get("agent") if isinstance(body, dict) and isinstance(body.get("agent"), str) else None
        work = _audited(request, Action.REASSIGN, code,
                        lambda: desk_of(request).supervision.reassign(code, agent, body), target=to,
                        queue=to is None)
        return await _once(request, agent, work)

    @bp.post("/tickets/<code>/grade")
    @require_role(Role.SUPERVISOR)
    async def grade(request: Request, code: str) -> HTTPResponse:
        agent = _agent(request)
        body = _body(request)
        work = _audited(request, Action.GRADE, code, lambda: desk_of(request).supervision.set_grade(code, agent, body),
                        grade=body.get("grade") if isinstance(body, dict) else None)
        return await _once(request, agent, work)

    @bp.get("/followups")
    @require_role(Role.AGENT)
    async def list_followups(request: Request) -> HTTPResponse:
        args = {key: request.args.get(key) for key in request.args}
        return _json(desk_of(request).followups.list_for(_agent(request), args))

    @bp.post("/followups")
    @require_role(Role.AGENT)
    async def create_followup(request: Request) -> HTTPResponse:
        agent = _agent(request)
        return await _once(request, agent, lambda: desk_of(request).followups.create(agent, _body(request)), 201)

    @bp.post("/followups/<code>/outcome")
    @require_role(Role.AGENT)
    async def followup_outcome(request: Request, code: str) -> HTTPResponse:
        agent = _agent(request)
        return await _once(request, agent, lambda: desk_of(request).followups.finish(agent, code, _body(request)))

    @bp.post("/followups/<code>/message")
    @require_role(Role.AGENT)
    async def followup_message(request: Request, code: str) -> HTTPResponse:
        """A message to the follow-up's customer on their channel (`bot.desk.followup_messages`), audited."""
        agent = _agent(request)
        desk = desk_of(request)

        async def work() -> Any:
            sent = await desk.followup_messages.send(agent, code, _body(request))
            _audit(request, Action.FOLLOWUP_MESSAGE, sent["ticket"], None, followup=sent["id"],
                   message=sent["message"]["id"])
            return sent

        return await _once(request, agent, work, 201)

    @bp.get("/staffing")
    @require_role(Role.SUPERVISOR)
    async def staffing(request: Request) -> HTTPResponse:
        report = desk_of(request).staffing
        days = parse_days(request.args.get("days"), report.settings.forecast_days)
        return _json(await asyncio.get_running_loop().run_in_executor(None, report.plan, days))

    @bp.get("/reports")
    @require_role(Role.SUPERVISOR)
    async def reports(request: Request) -> HTTPResponse:
        period_reports = desk_of(request).period_reports
        start, end = request.args.get("from"), request.args.get("to")
        if start or end:
            first, last = parse_period(start, end)
        else:  # neither date: the desk's last week (the dashboard's first view)
            first, last = period_reports.default_period()
        group_by = request.args.get("group_by") or None
        report = await asyncio.get_running_loop().run_in_executor(None, period_reports.report, first, last, group_by)
        return _json(report)

    @bp.get("/at-risk")
    @require_role(Role.AGENT)
    async def at_risk(request: Request) -> HTTPResponse:
        """Supervisors: every ticket at risk; an agent: those in its reach (its own, the queues it could take)."""
        desk = desk_of(request)
        items = desk.at_risk.listing()
        reach = roles.reach_of(_agent(request), desk.rules, records.now())
        if reach is not None:
            items = [t for t in items if desk.store.in_reach(parse_ticket_code(t["id"]), reach)]
        return _json(items)

    @bp.get("/qa")
    @require_role(Role.SUPERVISOR)
    async def qa_queue(request: Request) -> HTTPResponse:
        return _json(desk_of(request).qa.queue(request.args))

    @bp.post("/qa/<code>/score")
    @require_role(Role.SUPERVISOR)
    async def qa_score(request: Request, code: str) -> HTTPResponse:
        agent = _agent(request)
        work = _audited(request, Action.QA_SCORE, None, lambda: desk_of(request).qa.score(code, agent, _body(request)),
                        review=code[:32])
        return await _once(request, agent, work)

    @bp.get("/qa/agents")
    @require_role(Role.SUPERVISOR)
    async def qa_agents(request: Request) -> HTTPResponse:
        return _json(desk_of(request).qa.agents(request.args))

    @bp.get("/dashboard")
    @require_role(Role.SUPERVISOR)
    async def dashboard(request: Request) -> HTTPResponse:
        return _json(desk_of(request).reports.dashboard())

    @bp.get("/audit")
    @require_role(Role.SUPERVISOR)
    async def audit_log(request: Request) -> HTTPResponse:
        return _json([entry_json(e) for e in desk_of(request).audit.entries(request.args)])

    @bp.get("/audit/export")
    @require_role(Role.SUPERVISOR)
    async def audit_export(request: Request) -> HTTPResponse:
        entries = desk_of(request).audit.entries(request.args)
        _audit(request, Action.EXPORT, count=len(entries),
               query={k: request.args.get(k) for k in ("ticket", "agent", "from", "to") if request.args.get(k)})
        return text(entries_csv(entries), content_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="desk-audit.csv"'})

    @bp.post("/stream-tickets")
    @require_role(Role.AGENT)
    async def stream_ticket(request: Request) -> HTTPResponse:
        return _json(desk_of(request).accounts.stream_ticket(request.ctx.session), status=201)

    @bp.get("/stream")
    async def stream(request: Request) -> HTTPResponse:
        """Server-Sent Events: `ticket` and `message` events as they happen (see `bot.desk.stream`).

        Opened with `Authorization: Bearer <token>` or with `?ticket=<stream ticket>` (`POST /api/stream-tickets`,
        one use, a minute): a long-lived token is never taken from a URL. Event ids are global across desk
        processes: with `Last-Event-ID: n` (or `?last_event_id=n`) the stream starts with every event after n,
        from whichever desk process. While the stream is open its agent counts as online (the customers' wait
        estimates use it)."""
        desk = desk_of(request)
        if request.args.get("token"):
            raise DeskError(401, "a token is never taken from a URL: open the stream with a stream ticket "
                                 "(POST /api/stream-tickets, then ?ticket=…) or an Authorization header")
        if request.args.get("ticket"):
            session = desk.accounts.stream_session(request.args.get("ticket"))
        else:
            session = desk.accounts.authenticate(auth.bearer_token(request.headers))
        roles.refuse_until_password_changed(session)
        agent = session.agent
        try:
            max_seconds = float(request.args.get("max_seconds", "0"))
        except ValueError as error:
            raise DeskError(400, "'max_seconds' must be a number") from error
        after = _last_event_id(request)
        scope = desk.tickets.stream_scope(agent)
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
            checked = loop.time()
            while True:
                if loop.time() - checked >= STREAM_RECHECK_SECONDS:
                    checked = loop.time()
                    if not desk.accounts.stream_still_valid(session):
                        break  # its token ended (password changed, reset, signed out, disabled) or its role changed
                timeout = min(SSE_PING_SECONDS, STREAM_RECHECK_SECONDS)
                if deadline is not None:
                    timeout = min(timeout, deadline - loop.time())
                    if timeout <= 0:
                        break
                events = scope.filter(await hub.next(subscription, timeout))
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
        refused = _json({**exception.details, "error": exception.message}, status=exception.status)
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
