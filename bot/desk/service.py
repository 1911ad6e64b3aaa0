"""The desk service: its parts wired together over one store, one Rasa client, one push hub, one calendar.

Each part has one responsibility and its own module:

- `intake` (`bot.desk.intake`): tickets from the action server: create, where they stand, the survey answer;
- `tickets` (`bot.desk.tickets`): what agents do with tickets: claim, reply, transfer, topic, resolve, hand back;
- `accounts` (`bot.desk.accounts`): sign-in, sessions, the agents list;
- `reports` (`bot.desk.metrics`): the supervisor dashboard;
- `inbox` (`bot.desk.inbox`): customer messages from Rasa's event broker;
- `delivery` (`bot.desk.delivery`): what reaches the customer through Rasa, queue-position updates included;
- `calls` (`bot.desk.idempotency`): the agents' state-changing calls once per `Idempotency-Key`;
- `sweeper` (`bot.desk.sweeper`): the leader's sweep of stale pending replies and unfinished closes;
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

from bot.desk.accounts import Accounts
from bot.desk.alerts import AtRisk
from bot.desk.assignment import AutoAssigner
from bot.desk.config import DeskSettings
from bot.desk.delivery import Delivery
from bot.desk.idempotency import IdempotentCalls
from bot.desk.inbox import Inbox
from bot.desk.intake import Intake
from bot.desk.metrics import Reports
from bot.desk.presence import Presence
from bot.desk.qa import QualityReviews
from bot.desk.queue import QueueRules
from bot.desk.rasa_client import RasaClient
from bot.desk.sla import BusinessHours
from bot.desk.store import Store
from bot.desk.sweeper import MARGIN_SECONDS, Sweeper
from bot.desk.stream import ConsoleFeed, Hub
from bot.desk.tickets import TicketDesk
from bot.desk.views import TicketViews
from bot.desk.waiting import WaitingLine

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
        self.delivery = Delivery(store, rasa, self.feed, self.line)
        self.intake = Intake(store, settings, calendar, self.line, self.views, self.feed)
        self.tickets = TicketDesk(store, settings, self.rules, self.line, self.views, self.feed, self.delivery)
        self.inbox = Inbox(store, self.feed)
        self.accounts = Accounts(store, settings, self.presence)
        self.reports = Reports(store)
        stale_after = settings.rasa_timeout_seconds + MARGIN_SECONDS
        self.calls = IdempotentCalls(store, abandoned_after=stale_after)
        self.sweeper = Sweeper(store, self.delivery, self.tickets.closer, stale_after)
        self.at_risk = AtRisk(store, settings.oversight, self.views, self.feed)
        self.qa = QualityReviews(store, settings.oversight.qa)
        self.tickets.closer.on_closed = self.qa.closed
        self.intake.on_rated = self.qa.rated
        self.assigner = AutoAssigner(
            store, settings.oversight.auto_assign, self.rules, self.presence, self.feed, self.delivery
        )
