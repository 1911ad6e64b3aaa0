"""What the desk does: create tickets from context packets, route and claim them, talk to the customer.

The API (`bot.desk.api`) and the broker consumer (`bot.desk.events`) call this; it reads and writes the
`Store`, asks the business calendar for due times, sends events to Rasa through `RasaClient` and pushes
changes to the consoles through the `Hub`.

Due times: first response = `desk.first_response_seconds[channel]`, resolution = `escalation.grade_hours[grade]`,
both counted in business time from the ticket's creation on the calendar of the ticket's team (the skill's
team when `calendar.teams` lists it, e.g. `emergency`; the main hours otherwise). The yellow light comes at
`escalation.warn_at` of each budget (also business time), red after the due time.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from typing import Any, Dict, List, Optional, Tuple

from bot import clock, texts
from bot.desk import queue as q
from bot.desk.config import MAX_TEXT, DeskSettings
from bot.desk.rasa_client import RasaClient, RasaUnavailable, channel_error
from bot.desk.store import OPEN_STATUSES, Store, parse_ticket_code, ticket_code
from bot.desk.stream import Hub
from bot.handoff.masking import mask
from bot.i18n import LANGUAGES, ZH

logger = logging.getLogger(__name__)

PACKET_VERSIONS = ("1", "1.0")
DEFAULT_FIRST_RESPONSE = 120

# Resume, then `action_listen`: the paused turn ended on `action_handoff` without listening, and rules such as
# "survey_rating -> action_survey_answer" only match a user turn that follows `action_listen`.
RESUME_EVENTS = ({"event": "resume"}, {"event": "action", "name": "action_listen"})


# How long an agent counts as online after an API request without a console connected.
ONLINE_AFTER_REQUEST_SECONDS = 300.0


class DeskError(Exception):
    """A request the desk refuses; `status` is the HTTP status to answer with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def iso(ts: Optional[float]) -> Optional[str]:
    """Format epoch seconds as an ISO 8601 UTC time, or None."""
    if ts is None:
        return None
    return dt.datetime.fromtimestamp(ts, tz=dt.timezone.utc).isoformat()


class Calendar:
    """Adapter over `bot.calendar.get_calendar()`; without a calendar, always open and plain time."""

    def __init__(self, calendar: Any = None, load: bool = True) -> None:
        self._calendar = calendar
        self._tried = calendar is not None or not load

    def _get(self) -> Any:
        if not self._tried:
            self._tried = True
            try:
                from bot.calendar import get_calendar

                self._calendar = get_calendar()
            except Exception:  # noqa: BLE001 - the desk works without a calendar, in plain time
                logger.error("business calendar unavailable; the desk counts SLA time as plain time")
                logger.debug("bot.calendar failed to load", exc_info=True)
        return self._calendar

    def add(self, start: dt.datetime, seconds: float, team: Optional[str]) -> dt.datetime:
        """Return `start` plus `seconds` of business time of `team`."""
        cal = self._get()
        if cal is not None:
            try:
                return cal.add_business_time(start, dt.timedelta(seconds=seconds), team=team)
            except Exception:  # noqa: BLE001
                logger.error("calendar add_business_time failed; using plain time")
                logger.debug("calendar failure", exc_info=True)
        return start + dt.timedelta(seconds=seconds)

    def is_open(self, at: dt.datetime, team: Optional[str]) -> bool:
        """True when `team` is open at `at`."""
        cal = self._get()
        if cal is None:
            return True
        try:
            return bool(cal.is_open(at, team=team))
        except Exception:  # noqa: BLE001
            logger.error("calendar is_open failed; assuming open")
            return True

    def next_opening(self, at: dt.datetime, team: Optional[str]) -> Optional[dt.datetime]:
        """Return the start of the next opening period of `team` after `at`, or None."""
        cal = self._get()
        if cal is None:
            return None
        try:
            start, _end = cal.next_opening(at, team=team)
            return start
        except Exception:  # noqa: BLE001
            logger.error("calendar next_opening failed")
            return None


def sla_light(due: float, warn: float, done_at: Optional[float], now: float) -> str:
    """Return green / yellow / red for one SLA clock (met or breached once `done_at` is set)."""
    if done_at is not None:
        return "green" if done_at <= due else "red"
    if now > due:
        return "red"
    if now >= warn:
        return "yellow"
    return "green"


_ORDER = {"green": 0, "yellow": 1, "red": 2}


def ticket_sla(ticket: Dict[str, Any], now: float) -> Dict[str, str]:
    """Return the lights of a ticket: `first_response`, `resolution`, and the worst of both as `overall`."""
    first = sla_light(
        ticket["due_first_response"], ticket["warn_first_response"], ticket["first_response_at"], now
    )
    resolution = sla_light(ticket["due_resolution"], ticket["warn_resolution"], ticket["closed_at"], now)
    overall = max(first, resolution, key=lambda c: _ORDER[c])
    return {"first_response": first, "resolution": resolution, "overall": overall}


def public_message(message: Dict[str, Any]) -> Dict[str, Any]:
    """The JSON form of a message."""
    return {
        "id": message["id"],
        "role": message["role"],
        "text": message["text"],
        "at": iso(message["at"]),
        "status": message["status"],
        "author": message.get("author"),
        "anger": message.get("anger"),
    }


class Desk:
    """The desk's behaviour over a store, the settings, a Rasa client, a push hub and the calendar.

    Args:
        store: the ticket store (migrated).
        settings: the validated desk settings.
        rasa: the Rasa HTTP API client.
        hub: where changes are pushed for consoles.
        calendar: the business calendar adapter.
    """

    def __init__(
        self,
        store: Store,
        settings: DeskSettings,
        rasa: RasaClient,
        hub: Optional[Hub] = None,
        calendar: Optional[Calendar] = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.rasa = rasa
        self.hub = hub or Hub()
        self.presence: Dict[str, int] = {}  # agent name -> open console event streams (this desk process)
        self.last_seen: Dict[str, float] = {}  # agent name -> time of the agent's latest API request
        self.calendar = calendar or Calendar()

    # ---- helpers -----------------------------------------------------------------------------------

    @staticmethod
    def now() -> float:
        """The desk's time in epoch seconds (`bot.clock.now()`, so `FRONTLINE_NOW` pins it)."""
        return clock.now().timestamp()

    def _queued(self, rows: Optional[List[Dict[str, Any]]] = None) -> List[q.QueuedTicket]:
        rows = rows if rows is not None else self.store.list_tickets(statuses=["queued"])
        return [
            q.QueuedTicket(
                id=r["id"], skill=r["skill"], grade=r["grade"], vip=bool(r["vip"]), anger=float(r["anger"] or 0),
                requires_senior=bool(r["requires_senior"]), created_at=r["created_at"], skill_since=r["skill_since"],
            )
            for r in rows
            if r["status"] == "queued"
        ]

    def profile(self, agent: Dict[str, Any]) -> q.AgentProfile:
        """The routing view of an agent, with its current load."""
        return q.AgentProfile(
            name=agent["name"], skills=list(agent["skills"]), senior=bool(agent["senior"]),
            capacity=int(agent["capacity"]), active_tickets=self.store.active_count(agent["name"]),
        )

    def known_skills(self) -> set:
        """Every skill name the desk routes to: the settings' skills, the general skill, agents' skills."""
        skills = set(self.settings.skills.values()) | {self.settings.general_skill}
        for agent in self.store.list_agents():
            skills.update(s for s in agent["skills"] if s != q.ANY_SKILL)
        return skills

    def find(self, code: str) -> Dict[str, Any]:
        """Return the ticket with public id `code`.

        Raises:
            DeskError: 404 when there is no such ticket.
        """
        ticket_id = parse_ticket_code(code)
        ticket = self.store.get_ticket(ticket_id) if ticket_id is not None else None
        if ticket is None:
            raise DeskError(404, f"no ticket {code}")
        return ticket

    def position_of(self, ticket: Dict[str, Any], now: float, queued: Optional[List[q.QueuedTicket]] = None) -> Tuple[
        Optional[int], int, bool, Optional[str]
    ]:
        """Return (position, expected wait seconds, open now, next opening ISO) for a ticket."""
        if ticket["status"] != "queued":
            return None, 0, True, None
        queued = queued if queued is not None else self._queued()
        place = q.position(
            ticket["id"], queued, now, self.settings.priority, self.settings.general_skill,
            self.settings.overflow_after_seconds,
        )
        at = dt.datetime.fromtimestamp(now, tz=dt.timezone.utc)
        open_now = self.calendar.is_open(at, ticket["team"])
        opening = None if open_now else self.calendar.next_opening(at, ticket["team"])
        until_open = (opening.timestamp() - now) if opening else 0.0
        wait = q.expected_wait_seconds(
            place, self.settings.average_handle_seconds, until_open, self.online_servers(ticket["id"], queued)
        )
        return place, wait, open_now, opening.isoformat() if opening else None

    def is_online(self, name: str, now: float) -> bool:
        """An agent is online while a console of theirs is connected, or for `ONLINE_AFTER_REQUEST_SECONDS`
        after their latest API request (an agent working through the API, or between two reconnects)."""
        if self.presence.get(name, 0) > 0:
            return True
        return now - self.last_seen.get(name, float("-inf")) <= ONLINE_AFTER_REQUEST_SECONDS

    def seen(self, name: str) -> None:
        """An agent made an authenticated request."""
        self.last_seen[name] = self.now()

    def online_servers(self, ticket_id: int, queued: List[q.QueuedTicket]) -> List[q.AgentProfile]:
        """The agents online now who could serve the queued ticket, with their load."""
        target = next((t for t in queued if t.id == ticket_id), None)
        if target is None:
            return []
        now = self.now()
        return [
            profile
            for profile in (self.profile(a) for a in self.store.list_agents() if self.is_online(a["name"], now))
            if q.could_serve(profile, target, self.settings.general_skill)
        ]

    def connected(self, name: str) -> None:
        """An agent's console opened its event stream: the agent is online."""
        self.presence[name] = self.presence.get(name, 0) + 1

    def disconnected(self, name: str) -> None:
        """An agent's console closed its event stream (online while any other stays open)."""
        left = self.presence.get(name, 0) - 1
        if left > 0:
            self.presence[name] = left
        else:
            self.presence.pop(name, None)

    def to_json(
        self,
        ticket: Dict[str, Any],
        now: float,
        agent: Optional[Dict[str, Any]] = None,
        queued: Optional[List[q.QueuedTicket]] = None,
        profile: Optional[q.AgentProfile] = None,
    ) -> Dict[str, Any]:
        """The JSON form of a ticket (without context and messages)."""
        sla = ticket_sla(ticket, now)
        waiting = max(0.0, (ticket["claimed_at"] or now) - ticket["created_at"]) if ticket["status"] in OPEN_STATUSES else None
        data: Dict[str, Any] = {
            "id": ticket_code(ticket["id"]),
            "conversation_id": ticket["conversation_id"],
            "channel": ticket["channel"],
            "status": ticket["status"],
            "grade": ticket["grade"],
            "reason": ticket["reason"],
            "topic": ticket["topic"],
            "skill": ticket["skill"],
            "requires_senior": bool(ticket["requires_senior"]),
            "priority": q.priority(
                ticket["grade"], bool(ticket["vip"]), float(ticket["anger"] or 0), now - ticket["created_at"],
                self.settings.priority,
            ),
            "assignee": ticket["assignee"],
            "customer": {
                "id": ticket["customer_id"],
                "display_name": ticket["customer_name"],
                "tier": ticket["tier"],
                "language": ticket["language"],
            },
            "anger": ticket["anger"],
            "due": {"first_response": iso(ticket["due_first_response"]), "resolution": iso(ticket["due_resolution"])},
            "sla": sla["overall"],
            "sla_detail": {"first_response": sla["first_response"], "resolution": sla["resolution"]},
            "created_at": iso(ticket["created_at"]),
            "claimed_at": iso(ticket["claimed_at"]),
            "first_response_at": iso(ticket["first_response_at"]),
            "closed_at": iso(ticket["closed_at"]),
            "waiting_seconds": int(waiting) if waiting is not None else None,
            "rating": ticket["rating"],
            "rating_comment": ticket["rating_comment"],
        }
        if ticket["status"] == "queued":
            queued = queued if queued is not None else self._queued()
            data["position"] = q.position(
                ticket["id"], queued, now, self.settings.priority, self.settings.general_skill,
                self.settings.overflow_after_seconds,
            )
            target = next((t for t in queued if t.id == ticket["id"]), None)
            data["overflow"] = bool(
                target
                and q.is_overflowing(target, now, self.settings.general_skill, self.settings.overflow_after_seconds)
            )
        else:
            data["position"] = None
            data["overflow"] = False
        if agent is not None:
            profile = profile or self.profile(agent)
            target_q = self._queued([ticket])
            data["can_claim"] = bool(
                target_q
                and q.can_take(
                    profile, target_q[0], now, self.settings.general_skill, self.settings.overflow_after_seconds
                )
            )
        return data

    def _push_ticket(self, ticket_id: int) -> Dict[str, Any]:
        ticket = self.store.get_ticket(ticket_id)
        assert ticket is not None
        data = self.to_json(ticket, self.now())
        self.hub.publish("ticket", data)
        return data

    def _push_message(self, ticket_id: int, message: Dict[str, Any]) -> None:
        self.hub.publish("message", {"ticket_id": ticket_code(ticket_id), "message": public_message(message)})

    # ---- the internal API: tickets from the action server ------------------------------------------

    def create_ticket(self, packet: Any) -> Tuple[Dict[str, Any], bool]:
        """Create a ticket from a context packet (or return the conversation's open ticket).

        Args:
            packet: the context packet (see `docs/context-packet.schema.json`).

        Returns:
            (the creation answer: id, position, expected_wait_seconds, open_now, next_opening, due, …; created?)

        Raises:
            DeskError: 400 when the packet lacks what the desk needs.
        """
        values = self._ticket_values(packet)
        ticket, created = self.store.create_ticket(values)
        now = self.now()
        if created:
            logger.info(
                "ticket %s created: grade %s, reason %s, skill %s", ticket_code(ticket["id"]), ticket["grade"],
                ticket["reason"], ticket["skill"],
            )
            self._push_ticket(ticket["id"])
        return self.creation_answer(ticket, now), created

    def creation_answer(self, ticket: Dict[str, Any], now: float) -> Dict[str, Any]:
        """The answer the action server gets for a ticket: id, queue position, wait, opening, due times."""
        place, wait, open_now, opening = self.position_of(ticket, now)
        if ticket["status"] == "queued" and place is not None and ticket["notified_position"] is None:
            self.store.set_notified_position(ticket["id"], place)
        return {
            "id": ticket_code(ticket["id"]),
            "status": ticket["status"],
            "skill": ticket["skill"],
            "position": place,
            "expected_wait_seconds": wait,
            # agents with a console open who could serve it (0 while open: the customer is told nobody is online)
            "agents_online": len(self.online_servers(ticket["id"], self._queued())) if place is not None else 0,
            "open_now": open_now,
            "next_opening": opening,
            "due": {"first_response": iso(ticket["due_first_response"]), "resolution": iso(ticket["due_resolution"])},
        }

    def _ticket_values(self, packet: Any) -> Dict[str, Any]:
        if not isinstance(packet, dict):
            raise DeskError(400, "the body must be a JSON object (the context packet)")
        conversation_id = packet.get("conversation_id")
        if not isinstance(conversation_id, str) or not conversation_id.strip() or len(conversation_id) > 255:
            raise DeskError(400, "'conversation_id' must be a non-empty string")
        channel = packet.get("channel")
        if not isinstance(channel, str) or not channel:
            raise DeskError(400, "'channel' must be a channel name such as socketio, rest, wechat")
        grade = packet.get("grade")
        if grade not in self.settings.grade_hours:
            raise DeskError(400, f"'grade' must be one of {sorted(self.settings.grade_hours)}")
        reason = packet.get("reason")
        if not isinstance(reason, str) or not reason:
            raise DeskError(400, "'reason' must be a reason code such as anger or asked_for_human")
        customer = packet.get("customer") or {}
        if not isinstance(customer, dict):
            raise DeskError(400, "'customer' must be an object")
        history = packet.get("anger_history") or []
        if not isinstance(history, list) or not all(
            isinstance(a, (int, float)) and not isinstance(a, bool) for a in history
        ):
            raise DeskError(400, "'anger_history' must be a list of numbers")
        topic = packet.get("topic") if isinstance(packet.get("topic"), str) else None
        skill = self.settings.skill_for(topic)
        if skill == self.settings.general_skill and reason == "emergency" and "emergency" in self.settings.skills.values():
            skill = "emergency"
        team = self.settings.team_for(skill)
        now_dt = clock.now()
        now = now_dt.timestamp()
        first_budget = self.settings.first_response_seconds.get(channel, DEFAULT_FIRST_RESPONSE)
        resolution_budget = self.settings.grade_hours[grade] * 3600
        warn = self.settings.warn_at
        tier = str(customer.get("tier") or "") or None
        language = customer.get("language") if customer.get("language") in LANGUAGES else ZH
        return {
            "conversation_id": conversation_id,
            "channel": channel,
            "status": "queued",
            "grade": grade,
            "reason": reason,
            "topic": topic,
            "skill": skill,
            "team": team,
            "requires_senior": q.needs_senior(reason),
            "customer_id": str(customer["id"]) if customer.get("id") is not None else None,
            "customer_name": str(customer.get("display_name") or "") or None,
            "tier": tier,
            "language": language,
            "vip": (tier or "").lower() == "vip",
            "anger": float(max(history)) if history else 0.0,
            "assignee": None,
            "context": packet,
            "created_at": now,
            "created_real": time.time(),
            "skill_since": now,
            "due_first_response": self.calendar.add(now_dt, first_budget, team).timestamp(),
            "warn_first_response": self.calendar.add(now_dt, first_budget * warn, team).timestamp(),
            "due_resolution": self.calendar.add(now_dt, resolution_budget, team).timestamp(),
            "warn_resolution": self.calendar.add(now_dt, resolution_budget * warn, team).timestamp(),
        }

    def customer_tickets(self, customer_id: str) -> List[Dict[str, Any]]:
        """A customer's earlier tickets, newest first (summaries)."""
        now = self.now()
        return [
            {
                "id": ticket_code(t["id"]),
                "conversation_id": t["conversation_id"],
                "status": t["status"],
                "reason": t["reason"],
                "grade": t["grade"],
                "topic": t["topic"],
                "created_at": iso(t["created_at"]),
                "closed_at": iso(t["closed_at"]),
                "rating": t["rating"],
                "sla": ticket_sla(t, now)["overall"],
            }
            for t in self.store.tickets_for_customer(customer_id)
        ]

    def conversation_ticket(self, conversation_id: str) -> Dict[str, Any]:
        """The open ticket of a conversation with its queue position.

        Raises:
            DeskError: 404 when the conversation has no open ticket.
        """
        ticket = self.store.open_ticket_for(conversation_id)
        if ticket is None:
            raise DeskError(404, "this conversation has no open ticket")
        now = self.now()
        data = self.to_json(ticket, now)
        data.update(self.creation_answer(ticket, now))
        return data

    def rate(self, code: str, body: Any) -> Dict[str, Any]:
        """Record the survey answer (1–5 and an optional comment) on a ticket.

        Raises:
            DeskError: 404 unknown ticket; 400 bad rating or comment.
        """
        ticket = self.find(code)
        if not isinstance(body, dict):
            raise DeskError(400, "the body must be a JSON object {rating, comment}")
        rating = body.get("rating")
        if isinstance(rating, str) and rating.strip().isdigit():
            rating = int(rating.strip())
        if isinstance(rating, bool) or not isinstance(rating, int) or not 1 <= rating <= 5:
            raise DeskError(400, "'rating' must be an integer from 1 to 5")
        comment = body.get("comment")
        if comment is not None and (not isinstance(comment, str) or len(comment) > MAX_TEXT):
            raise DeskError(400, f"'comment' must be a string of at most {MAX_TEXT} characters")
        self.store.record_rating(ticket["id"], rating, (comment or "").strip() or None, self.now())
        return self._push_ticket(ticket["id"])

    # ---- the public API: agents -------------------------------------------------------------------

    def list_for(
        self, agent: Dict[str, Any], statuses: List[str], mine: bool = False, skill: Optional[str] = None
    ) -> List[Dict[str, Any]]:
        """Tickets for the console: queued first by priority, then the rest by age, each with `can_claim`."""
        now = self.now()
        rows = self.store.list_tickets(statuses=statuses, assignee=agent["name"] if mine else None, skill=skill)
        queued = self._queued(self.store.list_tickets(statuses=["queued"]))
        profile = self.profile(agent)
        items = [self.to_json(r, now, agent=agent, queued=queued, profile=profile) for r in rows]
        items.sort(key=lambda t: (t["status"] != "queued", -t["priority"] if t["status"] == "queued" else 0, t["created_at"]))
        return items

    def detail(self, code: str, agent: Dict[str, Any]) -> Dict[str, Any]:
        """A ticket with its context packet and messages."""
        ticket = self.find(code)
        data = self.to_json(ticket, self.now(), agent=agent)
        data["context"] = ticket["context"]
        data["messages"] = [public_message(m) for m in self.store.messages(ticket["id"])]
        return data

    def _owned(self, ticket: Dict[str, Any], agent: Dict[str, Any], require_claim: bool) -> None:
        if ticket["status"] not in OPEN_STATUSES:
            raise DeskError(409, f"ticket {ticket_code(ticket['id'])} is {ticket['status']}")
        if ticket["assignee"] is not None and ticket["assignee"] != agent["name"]:
            raise DeskError(403, f"ticket {ticket_code(ticket['id'])} belongs to {ticket['assignee']}")
        if require_claim and ticket["assignee"] is None:
            raise DeskError(409, f"claim ticket {ticket_code(ticket['id'])} before replying")

    def claim(self, code: str, agent: Dict[str, Any]) -> Dict[str, Any]:
        """Claim a queued ticket for `agent` (atomic).

        Raises:
            DeskError: 404 unknown; 409 already claimed, closed, or the agent is at capacity; 403 skill or
                seniority missing.
        """
        ticket = self.find(code)
        if ticket["assignee"] == agent["name"] and ticket["status"] == "assigned":
            return self.to_json(ticket, self.now(), agent=agent)
        if ticket["status"] != "queued" or ticket["assignee"] is not None:
            who = f" by {ticket['assignee']}" if ticket["assignee"] else ""
            raise DeskError(409, f"ticket {code} is already {ticket['status']}{who}")
        now = self.now()
        profile = self.profile(agent)
        target = self._queued([ticket])[0]
        if not q.can_take(profile, target, now, self.settings.general_skill, self.settings.overflow_after_seconds, check_capacity=False):
            need = "a senior agent" if target.requires_senior and not profile.senior else f"skill {target.skill}"
            raise DeskError(403, f"ticket {code} needs {need}")
        if profile.active_tickets >= profile.capacity:
            raise DeskError(409, f"{agent['name']} is at capacity ({profile.capacity} tickets)")
        if not self.store.claim(ticket["id"], agent["name"], profile.capacity, now):
            fresh = self.store.get_ticket(ticket["id"]) or ticket
            who = f" by {fresh['assignee']}" if fresh["assignee"] else ""
            raise DeskError(409, f"ticket {code} was claimed{who}")
        logger.info("ticket %s claimed by %s", code, agent["name"])
        return self._push_ticket(ticket["id"])

    async def hold_conversation(self, ticket: Dict[str, Any]) -> None:
        """Pause the assistant for a claimed ticket's conversation: from now on only the agent answers.

        Off hours the handoff leaves the assistant answering common questions; the claim stops it. Pausing a
        paused conversation changes nothing. When Rasa is unreachable the claim still stands (logged).
        """
        try:
            await self.rasa.append_events(ticket["conversation_id"], [{"event": "pause"}], ticket["channel"])
        except RasaUnavailable:
            logger.warning("ticket %s claimed, but the assistant could not be paused (Rasa unreachable)", ticket["id"])

    def validate_text(self, body: Any, key: str = "text", required: bool = True) -> Optional[str]:
        """Return the text of a JSON body, or raise a 400 DeskError saying what is wrong."""
        if not isinstance(body, dict):
            raise DeskError(400, "the body must be a JSON object")
        text = body.get(key)
        if text is None and not required:
            return None
        if not isinstance(text, str) or not text.strip():
            raise DeskError(400, f"'{key}' must be a non-empty string")
        if len(text) > MAX_TEXT:
            raise DeskError(400, f"'{key}' is longer than {MAX_TEXT} characters")
        return text.strip()

    async def reply(self, code: str, agent: Dict[str, Any], body: Any) -> Dict[str, Any]:
        """Store an agent's reply, then deliver it on the customer's channel through Rasa.

        Raises:
            DeskError: 400 bad body; 403 not the owner; 404; 409 not claimed or closed; 502 Rasa down (the
                message is kept with status `failed`).
        """
        ticket = self.find(code)
        text = self.validate_text(body)
        self._owned(ticket, agent, require_claim=True)
        message = self.store.add_message(ticket["id"], "agent", text, self.now(), "pending", author=agent["name"])
        assert message is not None
        return await self._deliver(ticket, agent, message)

    async def retry(self, code: str, agent: Dict[str, Any], message_id: int) -> Dict[str, Any]:
        """Send a failed agent message again.

        Raises:
            DeskError: 404 unknown ticket or message; 409 the message is not failed; 403/409 as `reply`; 502.
        """
        ticket = self.find(code)
        self._owned(ticket, agent, require_claim=True)
        message = self.store.get_message(message_id)
        if message is None or message["ticket_id"] != ticket["id"] or message["role"] != "agent":
            raise DeskError(404, f"no agent message {message_id} on ticket {code}")
        if message["status"] != "failed":
            raise DeskError(409, f"message {message_id} is {message['status']}, not failed")
        self.store.set_message_status(message_id, "pending")
        message["status"] = "pending"
        return await self._deliver(ticket, agent, message)

    async def _deliver(self, ticket: Dict[str, Any], agent: Dict[str, Any], message: Dict[str, Any]) -> Dict[str, Any]:
        event = {"event": "bot", "text": message["text"], "metadata": {"agent": agent["name"]}}
        try:
            await self.rasa.append_events(ticket["conversation_id"], [event], ticket["channel"])
        except RasaUnavailable as error:
            self.store.set_message_status(message["id"], "failed")
            message["status"] = "failed"
            self._push_message(ticket["id"], message)
            known = channel_error(getattr(error, "detail", ""))
            if known:
                self.store.add_message(ticket["id"], "system", f"not delivered: {known}", self.now(), "internal")
                raise DeskError(409, f"the message was not delivered: {known}; it is kept as failed") from error
            raise DeskError(
                502, f"the message was not delivered ({error}); it is kept as failed: retry it"
            ) from error
        self.store.set_message_status(message["id"], "sent")
        message["status"] = "sent"
        if self.store.stamp_first_response(ticket["id"], self.now()):
            self._push_ticket(ticket["id"])
        self._push_message(ticket["id"], message)
        return public_message(message)

    def transfer(self, code: str, agent: Dict[str, Any], body: Any) -> Dict[str, Any]:
        """Transfer a ticket to a skill queue or to an agent, with an optional note (kept as a `note` message).

        Raises:
            DeskError: 400 neither or both of skill/agent, unknown agent; 403 not the owner; 404; 409 closed or
                the target agent is at capacity.
        """
        ticket = self.find(code)
        if not isinstance(body, dict):
            raise DeskError(400, "the body must be a JSON object {skill | agent, note}")
        skill, target = body.get("skill"), body.get("agent")
        if bool(skill) == bool(target):
            raise DeskError(400, "give exactly one of 'skill' or 'agent'")
        note = self.validate_text(body, "note", required=False)
        self._owned(ticket, agent, require_claim=False)
        now = self.now()
        if skill:
            if not isinstance(skill, str) or skill not in self.known_skills():
                raise DeskError(400, f"'skill' must be one of {sorted(self.known_skills())}")
            ok = self.store.requeue(ticket["id"], skill, bool(ticket["requires_senior"]), now, ticket["assignee"])
            where = f"skill {skill}"
        else:
            if not isinstance(target, str):
                raise DeskError(400, "'agent' must be an agent name")
            other = self.store.get_agent(target)
            if other is None:
                raise DeskError(400, f"no agent named {target}")
            if self.store.active_count(target) >= int(other["capacity"]) and target != ticket["assignee"]:
                raise DeskError(409, f"{target} is at capacity")
            ok = self.store.assign(ticket["id"], target, now, ticket["assignee"])
            where = f"agent {target}"
        if not ok:
            raise DeskError(409, f"ticket {code} changed meanwhile; reload it")
        text = f"Transferred by {agent['name']} to {where}" + (f": {note}" if note else "")
        message = self.store.add_message(ticket["id"], "note", text, now, "internal", author=agent["name"])
        if message:
            self._push_message(ticket["id"], message)
        logger.info("ticket %s transferred to %s", code, where)
        return self._push_ticket(ticket["id"])

    def survey_events(self, ticket: Dict[str, Any]) -> List[Dict[str, Any]]:
        """The events that close a ticket by resolving it: the survey, its slots, resume and action_listen."""
        language = ticket["language"]
        buttons = [
            {"title": title, "payload": '/survey_rating{"rating": %d}' % n} for n, title in texts.survey_buttons(language)
        ]
        return [
            {"event": "bot", "text": texts.survey_prompt(language), "data": {"buttons": buttons},
             "metadata": {"survey": True}},
            {"event": "slot", "name": "survey_pending", "value": True},
            {"event": "slot", "name": "ticket_id", "value": ticket_code(ticket["id"])},
            *RESUME_EVENTS,
        ]

    async def resolve(self, code: str, agent: Dict[str, Any]) -> Dict[str, Any]:
        """Send the survey, give the conversation back to the assistant, mark the ticket resolved."""
        ticket = self.find(code)
        self._owned(ticket, agent, require_claim=False)
        return await self._close(ticket, agent, "resolved", self.survey_events(ticket))

    async def handback(self, code: str, agent: Dict[str, Any]) -> Dict[str, Any]:
        """Give the conversation back to the assistant without resolving (a short message, then resume)."""
        ticket = self.find(code)
        self._owned(ticket, agent, require_claim=False)
        events = [
            {"event": "bot", "text": texts.handback(ticket["language"]), "metadata": {"agent": agent["name"]}},
            *RESUME_EVENTS,
        ]
        return await self._close(ticket, agent, "handed_back", events)

    async def _close(
        self, ticket: Dict[str, Any], agent: Dict[str, Any], status: str, events: List[Dict[str, Any]]
    ) -> Dict[str, Any]:
        code = ticket_code(ticket["id"])
        try:
            await self.rasa.append_events(ticket["conversation_id"], events, ticket["channel"])
        except RasaUnavailable as error:
            raise DeskError(502, f"Rasa did not take the conversation back ({error}); the ticket stays open") from error
        now = self.now()
        if not self.store.close_ticket(ticket["id"], status, now, ticket["assignee"]):
            raise DeskError(409, f"ticket {code} changed meanwhile; reload it")
        word = "Resolved" if status == "resolved" else "Handed back to the assistant"
        message = self.store.add_message(ticket["id"], "system", f"{word} by {agent['name']}", now, "internal", author=agent["name"])
        if message:
            self._push_message(ticket["id"], message)
        logger.info("ticket %s %s by %s", code, status, agent["name"])
        return self._push_ticket(ticket["id"])

    # ---- the broker consumer ---------------------------------------------------------------------

    def ingest(self, event: Dict[str, Any]) -> Optional[Dict[str, Any]]:
        """Take one event from Rasa's event broker.

        Counts the conversation (for the containment rate) and, for a `user` event of a conversation with an
        open ticket, appends the customer's message to the ticket (de-duplicated by Rasa's `message_id`) and
        pushes it to the consoles. Events older than the ticket (the turn that escalated) are not appended.

        Returns:
            The stored message, or None when nothing was appended.
        """
        if not isinstance(event, dict) or event.get("event") != "user":
            return None
        sender = event.get("sender_id")
        if not isinstance(sender, str) or not sender:
            return None
        timestamp = float(event.get("timestamp") or time.time())
        self.store.seen_conversation(sender, event.get("input_channel"), timestamp)
        ticket = self.store.open_ticket_for(sender)
        if ticket is None or timestamp < ticket["created_real"]:
            return None
        text = event.get("text")
        if not isinstance(text, str) or not text:
            return None
        text = mask(text)  # the desk stores customer data masked, like the context packet's transcript
        external = event.get("message_id") or f"{sender}:{timestamp}"
        anger = ((event.get("parse_data") or {}).get("anger") or {}).get("score")
        message = self.store.add_message(
            ticket["id"], "customer", text, self.now(), "received", external_id=str(external)[:128],
            anger=float(anger) if isinstance(anger, (int, float)) else None,
        )
        if message is not None:
            self._push_message(ticket["id"], message)
        return message

    async def notify_positions(self, min_gain: int = 3) -> int:
        """Tell waiting customers their new place when it improved a lot (by `min_gain`, or halved).

        Returns:
            How many customers were told.
        """
        now = self.now()
        rows = self.store.list_tickets(statuses=["queued"])
        queued = self._queued(rows)
        told = 0
        for ticket in rows:
            place, wait, open_now, _ = self.position_of(ticket, now, queued)
            last = ticket["notified_position"]
            if place is None or last is None or not open_now or wait is None:
                continue
            if last - place >= min_gain or (place <= last // 2 and last - place >= 1):
                text = texts.queue_position(ticket["language"], place, wait)
                try:
                    await self.rasa.append_events(
                        ticket["conversation_id"], [{"event": "bot", "text": text, "metadata": {"queue": place}}],
                        ticket["channel"],
                    )
                except RasaUnavailable:
                    continue
                self.store.set_notified_position(ticket["id"], place)
                told += 1
        return told
