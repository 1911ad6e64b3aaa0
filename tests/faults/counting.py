"""Counting a fault run: Rasa's tracker (what was stored) against the desk (what agents see and sent).

Customer messages: the `user` events after the conversation's `action_handoff` in Rasa's tracker, compared with
the ticket's customer messages: lost (in the tracker, not in the ticket), doubled (more often in the ticket than
in the tracker), reordered (both hold the same messages, in another order: messages out of place, the length
minus the longest common subsequence). A message REST stored twice because its caller sent it again is two
events in the tracker: counted as `rest_doubled`, the caller's at-least-once, and expected twice in the ticket.

Agent replies: each reply the desk accepted must be one `sent` agent message in the ticket and its delivery key
(`desk-<code>-<id>`) a `bot` event in the tracker; keys reach the tracker in the order the replies were accepted.
"""

from __future__ import annotations

import collections
import dataclasses
from typing import Any, Dict, List, Optional, Sequence

from tests.faults.live_handoffs import AgentWork, Customer


@dataclasses.dataclass
class Tally:
    """One phase's figures (the docs' table row)."""

    fault: str
    conversations: int = 0
    messages: int = 0  # customer messages Rasa stored after the handoffs
    replies: int = 0  # agent replies the desk accepted
    lost: int = 0
    doubled: int = 0
    reordered: int = 0
    replies_lost: int = 0
    replies_doubled: int = 0
    replies_reordered: int = 0
    replies_pending: int = 0
    handed_off_again: int = 0  # conversations handed off twice: the assistant answered while an agent held it
    claims_broken: int = 0  # tickets with two claims answered 200, or replies accepted from another agent
    rest_resent: int = 0  # REST attempts sent again after an unknown outcome
    rest_doubled: int = 0  # of those, messages Rasa stored twice (the REST caller's at-least-once)
    rest_missing: int = 0  # messages REST answered 200 and the tracker does not hold (Rasa's loss)
    problems: List[str] = dataclasses.field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not (self.lost or self.doubled or self.reordered or self.replies_lost or self.replies_doubled
                    or self.replies_reordered or self.replies_pending or self.claims_broken or self.rest_missing or self.handed_off_again)

    def row(self) -> str:
        return (f"{self.fault}: {self.conversations} conversations / {self.messages} messages / {self.replies} "
                f"replies; lost {self.lost}, doubled {self.doubled}, reordered {self.reordered}; replies lost "
                f"{self.replies_lost}, doubled {self.replies_doubled}, reordered {self.replies_reordered}, pending "
                f"{self.replies_pending}; claims broken {self.claims_broken}; handed off again {self.handed_off_again}; REST resent {self.rest_resent}, "
                f"stored twice {self.rest_doubled}, answered but not stored {self.rest_missing}")


def handoffs(events: Sequence[Dict[str, Any]]) -> List[int]:
    """Indexes of the tracker's `action_handoff` events."""
    return [i for i, e in enumerate(events) if e.get("event") == "action" and e.get("name") == "action_handoff"]


def after_handoff(events: Sequence[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """The tracker's events after its first `action_handoff` (the ticket's start)."""
    found = handoffs(events)
    assert found, "the conversation was never handed off"
    return list(events[found[0] + 1:])


def user_texts(events: Sequence[Dict[str, Any]]) -> List[str]:
    return [str(e.get("text")) for e in events if e.get("event") == "user"]


def bot_keys(events: Sequence[Dict[str, Any]]) -> List[str]:
    """Delivery keys of the `bot` events, in tracker order, each once (a resend is another event, same key)."""
    keys: List[str] = []
    for event in events:
        key = (event.get("metadata") or {}).get("delivery_key") if event.get("event") == "bot" else None
        if key and key not in keys:
            keys.append(key)
    return keys


def out_of_place(expected: Sequence[str], got: Sequence[str]) -> int:
    """Items not in the longest common subsequence of two sequences holding the same items."""
    previous = [0] * (len(got) + 1)
    for a in expected:
        current = [0]
        for j, b in enumerate(got):
            current.append(previous[j] + 1 if a == b else max(previous[j + 1], current[j]))
        previous = current
    return len(expected) - previous[-1]


def count_customer(tally: Tally, customer: Customer, events: Sequence[Dict[str, Any]],
                   ticket: Dict[str, Any]) -> None:
    """Add one conversation's customer messages to the tally."""
    stored = user_texts(after_handoff(events))
    shown = [m["text"] for m in ticket["messages"] if m["role"] == "customer"]
    tally.conversations += 1
    if len(handoffs(events)) > 1:
        tally.handed_off_again += 1
        tally.problems.append(f"{customer.conversation}: {len(handoffs(events))} handoffs (the pause was lost)")
    tally.messages += len(stored)
    tally.rest_resent += customer.resent
    everything = collections.Counter(user_texts(events))
    tally.rest_doubled += sum(n - 1 for n in everything.values() if n > 1)
    missing = collections.Counter(customer.accepted) - everything
    tally.rest_missing += sum(missing.values())
    if missing:
        tally.problems.append(f"{customer.conversation}: REST answered 200, not in the tracker: {sorted(missing)}")
    lost = collections.Counter(stored) - collections.Counter(shown)
    doubled = collections.Counter(shown) - collections.Counter(stored)
    tally.lost += sum(lost.values())
    tally.doubled += sum(doubled.values())
    if not lost and not doubled and shown != stored:
        tally.reordered += out_of_place(stored, shown)
    if lost or doubled or shown != stored:
        tally.problems.append(f"{customer.conversation} {ticket['id']}: tracker {stored}, ticket {shown}")


def count_replies(tally: Tally, work: AgentWork, code: str, events: Sequence[Dict[str, Any]],
                  ticket: Dict[str, Any]) -> None:
    """Add one ticket's agent replies and claims to the tally."""
    agent_messages = [m for m in ticket["messages"] if m["role"] == "agent"]
    accepted = sorted((r for r in work.replies if r.code == code and r.message_id is not None),
                      key=lambda r: r.message_id or 0)
    tally.replies += len(accepted)
    tally.replies_pending += sum(1 for m in agent_messages if m["status"] == "pending")
    texts = collections.Counter(m["text"] for m in agent_messages)
    tally.replies_doubled += sum(n - 1 for n in texts.values() if n > 1)
    keys = bot_keys(events)
    by_id = {m["id"]: m for m in agent_messages}
    expected_keys = [f"desk-{code}-{r.message_id}" for r in accepted]
    for reply, key in zip(accepted, expected_keys):
        message: Optional[Dict[str, Any]] = by_id.get(reply.message_id)
        if message is None or message["status"] != "sent" or key not in keys:
            tally.replies_lost += 1
            tally.problems.append(f"{code}: reply {reply.text} (message {reply.message_id}) desk {message}, "
                                  f"key in tracker: {key in keys}")
    present = [k for k in expected_keys if k in keys]
    tally.replies_reordered += out_of_place(present, [k for k in keys if k in expected_keys])
    claimers = work.claims.get(code, set())
    authors = {r.agent for r in accepted} | {m["author"] for m in agent_messages}
    if len(claimers) > 1 or (claimers and not authors <= claimers) or len(authors) > 1:
        tally.claims_broken += 1
        tally.problems.append(f"{code}: claims answered 200 to {sorted(claimers)}, replies by {sorted(authors)}")
