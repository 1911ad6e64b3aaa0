"""The desk service: its parts wired together over one store, one Rasa client, one push hub, one calendar.

Each part has one responsibility and its own module:

- `intake` (`bot.desk.intake`): tickets from the action server: create, where they stand, the survey answer;
- `tickets` (`bot.desk.tickets`): what agents do with tickets: claim, reply, transfer, topic, resolve, hand back;
- `compliance` (`bot.desk.compliance`): the banned-phrase check of agents' replies and notes;
- `customers` (`bot.desk.customers`): notes and tags that follow a customer across tickets;
- `answers` (`bot.desk.suggestions`): suggested FAQ answers for a ticket, FAQ search;
- `accounts` (`bot.desk.accounts`): sign-in, sessions, the agents list;
- `reports` (`bot.desk.metrics`): the supervisor dashboard;
- `staffing` (`bot.desk.staffing`): the forecast and the agents needed (`GET /api/staffing`);
- `reports` (`bot.desk.metrics`): the supervisor dashboard; `period_reports` (`bot.desk.reports`): the figures
  of a range of dates (`GET /api/reports`, `python -m bot report`);
- `followups` (`bot.desk.followups`): follow-ups (回访), automatic (low ratings, complaints, VIPs) and by hand;
  `followup_messages` (`bot.desk.followup_messages`): a follow-up's message on the customer's channel;
- `meters` (`bot.desk.prometheus`): this process's counters for `GET /metrics`;
- `supervision` (`bot.desk.supervision`): what supervisors do: reassign, grades, disable and enable agents, reset
  passwords, roles (who may: `bot.desk.roles`);
- `audit` (`bot.desk.audit`): the append-only audit log;
- `inbox` (`bot.desk.inbox`): customer messages from Rasa's event broker;
- `delivery` (`bot.desk.delivery`): what reaches the customer through Rasa, queue-position updates included;
- `calls` (`bot.desk.idempotency`): the agents' state-changing calls once per `Idempotency-Key`;
- `sweeper` (`bot.desk.sweeper`): the leader's sweep of stale pending replies and unfinished closes;
- `abandonment` (`bot.desk.abandonment`): the leader's marking of queued customers who stopped waiting;
- `at_risk` (`bot.desk.alerts`): the leader's scan for tickets turning yellow or red, the escalation on red;
- `assigner` (`bot.desk.assignment`): the agents' status, offers of the auto-assigned teams' tickets;
- `qa` (`bot.desk.qa`): the QA queue (sampled closed tickets, low ratings), scores, the per-agent report;
- `line` (`bot.desk.waiting`), `rules` (`bot.desk.queue`), `presence` (`bot.desk.presence`), `views`
  (`bot.desk.views`), `feed` (`bot.desk.stream`): the queue, who is online, the JSON forms, the console push.

The API (`bot.desk.api`) calls these parts and never the store; the broker consumers (`bot.desk.events`) hand
events to `inbox` and keep their own broker position in the store's state table.
"""

from __future__ import annotations

import logging
from typing import Optional

from bot.desk.abandonment import Abandonment
from bot.desk.accounts import Accounts
from bot.desk.compliance import LiveCompliance
from bot.desk.audit import AuditLog
from bot.desk.alerts import AtRisk
from bot.desk.assignment import AutoAssigner
from bot.desk.config import DeskSettings
from bot.desk.customers import CustomerNotes
from bot.desk.delivery import Delivery
from bot.desk.followup_messages import FollowUpMessages
from bot.desk.followups import FollowUps, FollowUpSettings
from bot.desk.idempotency import IdempotentCalls
from bot.desk.inbox import Inbox
from bot.desk.intake import Intake
from bot.desk.metrics import Reports
from bot.desk.presence import Presence
from bot.desk.prometheus import DeskMeters
from bot.desk.qa import QualityReviews
from bot.desk.queue import QueueRules
from bot.desk.rasa_client import RasaClient
from bot.desk.records import Ticket
from bot.desk.reports import PeriodReports
from bot.desk.sla import BusinessHours
from bot.desk.staffing import StaffingReport
from bot.desk.store import Store
from bot.desk.suggestions import AnswerHelp
from bot.desk.supervision import Supervision
from bot.desk.sweeper import MARGIN_SECONDS, Sweeper
from bot.desk.stream import ConsoleFeed, Hub
from bot.desk.tickets import TicketDesk
from bot.desk.views import TicketViews
from bot.desk.waiting import WaitingLine
from bot.reply_window import WindowRule

logger = logging.getLogger(__name__)


class Desk:
    """The desk's parts over a store, the settings, a Rasa client, a push hub and the business calendar.

    Args:
        store: the ticket store (migrated).
        settings: the validated desk settings.
        rasa: the Rasa HTTP API client.
        hub: where changes are pushed for consoles (a new one when None).
        calendar: the business calendar; `bot.calendar.get_calendar()` when None.
    """

    def __init__(
        self,
        store: Store,
        settings: DeskSettings,
        rasa: RasaClient,
        hub: Optional[Hub] = None,
        calendar: Optional[BusinessHours] = None,
    ) -> None:
        if calendar is None:
            from bot.calendar import get_calendar

            calendar = get_calendar()
        self.store = store
        self.settings = settings
        self.rasa = rasa
        self.hub = hub or Hub(store)
        self.calendar = calendar
        self.rules = QueueRules.from_settings(settings)
        self.presence = Presence(store)
        self.line = WaitingLine(store, self.rules, self.presence, calendar)
        self.views = TicketViews(self.rules, self.line)
        self.feed = ConsoleFeed(self.hub, store, self.views)
        self.meters = DeskMeters()
        self.delivery = Delivery(store, rasa, self.feed, self.line, self.meters)
        self.intake = Intake(store, settings, calendar, self.line, self.views, self.feed)
        self.compliance = LiveCompliance(store, settings)
        self.tickets = TicketDesk(
            store, settings, self.rules, self.line, self.views, self.feed, self.delivery, self.compliance
        )
        self.customers = CustomerNotes(store)
        self.answers = AnswerHelp(store, rasa)
        self.inbox = Inbox(store, self.feed, self.meters)
        self.accounts = Accounts(store, settings, self.presence)
        self.reports = Reports(store)
        self.staffing = StaffingReport(store, settings.raw, self.presence)
        self.period_reports = PeriodReports(store, settings, calendar)
        self.followups = FollowUps(
            store, FollowUpSettings.from_settings(settings.raw), calendar, WindowRule.from_settings(settings.raw)
        )
        self.followup_messages = FollowUpMessages(
            self.followups, self.delivery, self.compliance, settings.rasa_timeout_seconds + MARGIN_SECONDS
        )
        self.supervision = Supervision(store, settings, calendar, self.feed, self.delivery)
        self.audit = AuditLog(store)
        stale_after = settings.rasa_timeout_seconds + MARGIN_SECONDS
        self.calls = IdempotentCalls(store, abandoned_after=stale_after)
        self.sweeper = Sweeper(store, self.delivery, self.tickets.closer, stale_after)
        self.abandonment = Abandonment(store, calendar, settings.abandon_after_minutes, self.feed)
        self.at_risk = AtRisk(store, settings.oversight, self.views, self.feed)
        self.qa = QualityReviews(store, settings.oversight.qa)
        self.tickets.closer.on_closed = self._ticket_closed
        self.intake.on_rated = self._ticket_rated
        self.assigner = AutoAssigner(
            store, settings.oversight.auto_assign, self.rules, self.presence, self.feed, self.delivery
        )

    def _ticket_closed(self, ticket: Ticket, agent: str) -> None:
        """A ticket was resolved or handed back: its automatic follow-up and its QA sampling (a failure of either
        is logged: the close itself has happened)."""
        for name, step in (("follow-up", lambda: self.followups.ticket_closed(ticket)),
                           ("QA sampling", lambda: self.qa.closed(ticket, agent))):
            try:
                step()
            except Exception:
                logger.exception("ticket %s is closed, but its %s failed", ticket.code, name)

    def _ticket_rated(self, ticket: Ticket, rating: int) -> None:
        """A survey answer was recorded: a low rating's follow-up and QA review (failures logged, as above)."""
        for name, step in (("follow-up", lambda: self.followups.rated(ticket, rating)),
                           ("QA review", lambda: self.qa.rated(ticket, rating))):
            try:
                step()
            except Exception:
                logger.exception("ticket %s: rating stored, but its %s failed", ticket.code, name)
