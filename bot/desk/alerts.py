"""Acting before the breach: tickets whose SLA turns yellow or red, told to the consoles at once, and the
escalation on red (`desk.on_red`).

No request makes a ticket turn yellow: time does. So the leader's round (`bot.desk.app`, one desk process at a
time) calls `AtRisk.scan()`, which reads the open tickets past a warning time, computes their light
(`bot.desk.sla.ticket_sla`) and, for each whose light got worse than the one the consoles were last told of,
records the new light with one conditional UPDATE (`Store.mark_alerted`: a change is told once, even if two
desks scanned at once) and pushes an `at_risk` event through the console feed (`bot.desk.stream`):
`{"light": "yellow" | "red", "ticket": <ticket JSON>}`. The console of the ticket's owner, or of any agent who
could take it while it is queued, shows a browser notification and plays a sound; every console moves it up.

When a ticket turns red, the first `desk.on_red` rule for its grade applies: `move: top` puts it back in its
queue, first (`escalated_at`; taken from its owner, who failed to answer in time), `move: <skill>` in that
team's queue, first; `alert_supervisors` pushes an `escalation` event `{"ticket", "rule", "moved_to"}` that the
supervisors' consoles show.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any, Dict, List, Optional

from bot.desk import records
from bot.desk.oversight_config import MOVE_NONE, MOVE_TOP, Oversight
from bot.desk.records import Ticket, TicketStatus
from bot.desk.sla import GREEN, RED, YELLOW, ticket_sla
from bot.desk.store import Store
from bot.desk.stream import ConsoleFeed
from bot.desk.views import TicketViews
from bot.desk.stream import AT_RISK_EVENT, ESCALATION_EVENT

logger = logging.getLogger(__name__)

_RANK = {None: 0, GREEN: 0, YELLOW: 1, RED: 2}


@dataclasses.dataclass(frozen=True)
class Scanned:
    """What one scan did."""

    alerted: int = 0  # tickets whose worse light was told
    escalated: int = 0  # red tickets an `on_red` rule moved or alerted about


class AtRisk:
    """Finds tickets whose SLA turned yellow or red, tells the consoles, applies the escalation on red.

    Args:
        store: the ticket store.
        oversight: the `desk.on_red` rules (`bot.desk.oversight_config.Oversight`).
        views: the ticket JSON.
        feed: the console push.
    """

    def __init__(self, store: Store, oversight: Oversight, views: TicketViews, feed: ConsoleFeed) -> None:
        self.store = store
        self.oversight = oversight
        self.views = views
        self.feed = feed

    def listing(self, now: Optional[float] = None) -> List[Dict[str, Any]]:
        """The open tickets at risk now (`GET /api/at-risk`): red first, then yellow, each by its nearest due
        time; each is the ticket JSON."""
        now = records.now() if now is None else now
        found = []
        for ticket in self.store.sla_candidates(now):
            light = ticket_sla(ticket, now)["overall"]
            if light != GREEN:
                found.append((-_RANK[light], _next_due(ticket), ticket.id, ticket))
        found.sort(key=lambda item: item[:3])
        queued = self.views.line.queued()
        return [self.views.ticket_json(ticket, now, queued=queued) for *_, ticket in found]

    def scan(self, now: Optional[float] = None) -> Scanned:
        """Tell the consoles of every ticket whose light got worse since they were last told; escalate the red."""
        now = records.now() if now is None else now
        alerted = escalated = 0
        for ticket in self.store.sla_candidates(now):
            light = ticket_sla(ticket, now)["overall"]
            if _RANK[light] <= _RANK[ticket.sla_alerted]:
                continue
            if not self.store.mark_alerted(ticket.id, light, ticket.sla_alerted):
                continue  # another desk told it, or the ticket closed meanwhile
            alerted += 1
            logger.info("ticket %s turned %s", ticket.code, light)
            moved_to = self._escalate(ticket, now) if light == RED else None
            data = self.feed.ticket(ticket.id)
            self.feed.hub.publish(AT_RISK_EVENT, {"light": light, "ticket": data})
            rule = self.oversight.rule_for(ticket.grade) if light == RED else None
            if rule is not None:
                escalated += 1
                if rule.alert_supervisors:
                    self.feed.hub.publish(ESCALATION_EVENT, {
                        "ticket": data, "moved_to": moved_to, "rule": dataclasses.asdict(rule),
                        "previous_assignee": ticket.assignee,
                    })
        return Scanned(alerted, escalated)

    def _escalate(self, ticket: Ticket, now: float) -> Optional[str]:
        """Apply the `on_red` rule of the ticket's grade: return the queue it went to (None: it stayed)."""
        rule = self.oversight.rule_for(ticket.grade)
        if rule is None or rule.move == MOVE_NONE:
            return None
        skill = ticket.skill if rule.move == MOVE_TOP else rule.move
        expect = ticket.assignee if ticket.status is TicketStatus.ASSIGNED else None
        if not self.store.escalate(ticket.id, skill, now, expect):
            logger.info("ticket %s changed before its escalation; left as it is", ticket.code)
            return None
        logger.info("ticket %s escalated on red to the top of the %s queue", ticket.code, skill)
        return skill


def _next_due(ticket: Ticket) -> float:
    """The SLA time the ticket must meet next: its first response while none was given, else its resolution."""
    if ticket.first_response_at is None:
        return min(ticket.due_first_response, ticket.due_resolution)
    return ticket.due_resolution
