"""Complaints: which tickets are complaints, and whose complaint is a second one (it goes to a senior agent).

- A complaint is a ticket whose reason is a complaint reason (`vip_complaint`, `repeat_complaint`) or whose
  context packet shows the customer's `complain` intent on any turn.
- The customer is the signed customer id (widget) or, without one, the conversation id (`wechat:<OpenID>`,
  which is per customer on WeChat).
- A second complaint is a complaint from a customer who already had a complaint ticket in the last
  `desk.repeat_complaint_days` days (30): it is routed only to senior agents (`requires_senior`), whatever the
  reason of this ticket (inside one conversation the assistant already says `repeat_complaint`).
"""

from __future__ import annotations

import logging
from typing import Any, Mapping, Optional

logger = logging.getLogger(__name__)

COMPLAINT_REASONS = frozenset({"vip_complaint", "repeat_complaint"})
COMPLAIN_INTENT = "complain"
DAY_SECONDS = 86400.0


def is_complaint(reason: Optional[str], packet: Mapping[str, Any]) -> bool:
    """True when a ticket with this reason and context packet is a complaint (see the module docstring)."""
    if reason in COMPLAINT_REASONS:
        return True
    intents = packet.get("intents") or []
    return any(isinstance(turn, Mapping) and turn.get("name") == COMPLAIN_INTENT for turn in intents)


def customer_key(customer_id: Optional[str], conversation_id: str) -> str:
    """Who the customer is for repeat counts: the customer id when known, else the conversation id."""
    return customer_id or conversation_id
