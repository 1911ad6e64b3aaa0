"""Compliance of what agents write: replies and transfer notes go through the trainer lint's banned-phrase matcher
(`bot.compliance`: case, width, spacing and Traditional forms included) before anything is stored or sent.

`settings.yml: compliance.live_replies`:
- `refuse` (the default): 422 naming the phrase (`{"error": …, "phrase": …, "phrases": […]}`); nothing is
  stored, nothing reaches the channel;
- `warn`: the text goes out; a warning is recorded for QA (`desk_compliance_flags`), shown on the ticket
  (`compliance_flags`) and answered with the message (`compliance_warning`).

Canned replies are checked when the desk reads its settings: one holding a banned phrase stops the desk
(`bot.desk.config`), as `python -m bot lint` reports it.
"""

from __future__ import annotations

import logging
from typing import List

from bot.compliance import BannedPhrases
from bot.desk import records
from bot.desk.config import LIVE_REPLIES_REFUSE, DeskSettings
from bot.desk.errors import DeskError
from bot.desk.records import Agent, Ticket
from bot.desk.store import Store

logger = logging.getLogger(__name__)

REPLY, NOTE = "reply", "note"


class LiveCompliance:
    """Checks agents' texts against the banned phrases.

    Args:
        store: where warnings are recorded.
        settings: the desk settings (`banned_phrases`, `live_replies`).
    """

    def __init__(self, store: Store, settings: DeskSettings) -> None:
        self.store = store
        self.phrases = BannedPhrases(settings.banned_phrases)
        self.refuse = settings.live_replies == LIVE_REPLIES_REFUSE

    def check(self, ticket: Ticket, agent: Agent, text: str, kind: str = REPLY) -> List[str]:
        """The banned phrases in `text` (empty when none): refused (raises) or to be recorded by `record`.

        Raises:
            DeskError: 422 naming the first phrase found, when the setting is `refuse`.
        """
        found = self.phrases.found_in(text)
        if found and self.refuse:
            logger.warning("ticket %s: %s's %s refused: banned phrase", ticket.code, agent.name, kind)
            raise DeskError(
                422, f"the {kind} contains the banned phrase '{found[0]}': nothing was sent; please reword it",
                details={"phrase": found[0], "phrases": found},
            )
        return found

    def record(self, ticket: Ticket, agent: Agent, found: List[str], message_id: int | None, kind: str = REPLY) -> None:
        """Record for QA that a text with banned phrases went out (`warn`)."""
        if found:
            self.store.add_compliance_flag(ticket.id, message_id, agent.name, kind, found, records.now())
            logger.warning("ticket %s: %s's %s sent with a banned phrase (recorded for QA)", ticket.code, agent.name, kind)
