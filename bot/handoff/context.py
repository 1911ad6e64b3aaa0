"""Build the context packet a human agent receives with a handoff (`docs/context-packet.schema.json`).

The packet is built from a rasa_sdk `Tracker` (anything with `sender_id`, `slots`, `events` and
`get_latest_input_channel()`): who the customer is, why the assistant hands over, how angry the customer has
been, what the assistant understood on every turn, the key facts mentioned (order and tracking numbers, amounts,
dates, phones: `key_facts`), the transcript and the slots. Every text and slot value goes
through `bot.handoff.masking` first; the packet records how many items of each kind were masked.

The transcript is capped (`settings.yml: handoff`, `TranscriptLimits`): at most `transcript_max_messages`
messages and `transcript_max_chars` characters, the latest kept (the earliest kept one may be cut, ending in
`…`), and the per-turn `intents` and
`anger_history` at most `transcript_max_messages` turns, the latest kept. The packet says what was left out:
`transcript_omitted` (earlier messages) and `intents_omitted` (earlier turns), 0 when nothing was.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections import Counter
from typing import Any, Dict, Iterable, List, Mapping, Optional, Tuple

from bot.conversations import channel_of
from bot.faq import FAQ_PREFIX
from bot.handoff import masking
from bot.i18n import LANGUAGES, ZH
from bot.settings import SettingsError, load_settings

logger = logging.getLogger(__name__)

SCHEMA_VERSION = 1
SCHEMA_ID = "https://frontline.dev/schemas/context-packet/v1.json"
DEFAULT_REASON = "asked_for_human"
DEFAULT_GRADE = "B"
GRADES = ("A", "B", "C")
# The channel recorded when Rasa knows none (the desk then has no channel to push replies on).
UNKNOWN_CHANNEL = "unknown"


DEFAULT_MAX_MESSAGES = 100
DEFAULT_MAX_CHARS = 20_000
ELLIPSIS = "…"


@dataclasses.dataclass(frozen=True)
class TranscriptLimits:
    """How much of a conversation the packet carries (`settings.yml: handoff`).

    Attributes:
        max_messages: transcript messages (and intent / anger turns) kept, the latest.
        max_chars: characters of the kept transcript texts; the first message that does not fit is cut to the
            room left (its beginning, ending in `…`) and the earlier ones are left out.
    """

    max_messages: int = DEFAULT_MAX_MESSAGES
    max_chars: int = DEFAULT_MAX_CHARS

    @classmethod
    def from_settings(cls, settings: Optional[Mapping[str, Any]] = None) -> "TranscriptLimits":
        """The limits of the `handoff` section (defaults when it or a key is missing).

        Raises:
            SettingsError: a limit is not a whole number of at least 1 (the message names the key).
        """
        section = (settings if settings is not None else load_settings()).get("handoff") or {}
        if not isinstance(section, dict):
            raise SettingsError("settings: 'handoff' must be a mapping")
        values = {}
        for key, field, default in (("transcript_max_messages", "max_messages", DEFAULT_MAX_MESSAGES),
                                    ("transcript_max_chars", "max_chars", DEFAULT_MAX_CHARS)):
            value = section.get(key, default)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise SettingsError(f"settings: 'handoff.{key}' must be a whole number >= 1, got {value!r}")
            values[field] = value
        return cls(**values)


def _iso(timestamp: Any) -> str | None:
    if isinstance(timestamp, (int, float)):
        return dt.datetime.fromtimestamp(timestamp, dt.timezone.utc).isoformat()
    return None


def _intent(event: Dict[str, Any]) -> Dict[str, Any]:
    parse_data = event.get("parse_data") or {}
    return parse_data.get("intent") or {}


def _user_events(events: Iterable[Dict[str, Any]]) -> List[Dict[str, Any]]:
    return [event for event in events if event.get("event") == "user"]


def customer_from_tracker(tracker: Any) -> Dict[str, Any]:
    """Who the customer is: slots `customer_id`, `customer_tier`, `language`, else the verified customer of
    the latest message (`bot.identity.customer_of_latest_message`: only a record the widget channel sealed for
    this conversation counts, on the message being answered, never inherited from an earlier one; raw metadata
    claims are ignored).

    Returns:
        {"id", "display_name", "tier", "vip", "language"} (values may be None).
    """
    from bot import identity

    slots = tracker.slots or {}
    verified: Dict[str, Any] = dict(
        identity.customer_of_latest_message(tracker.events or [], str(tracker.sender_id)) or {}
    )
    customer_id = slots.get("customer_id") or verified.get("customer_id")
    tier = slots.get("customer_tier") or verified.get("tier")
    display_name = verified.get("display_name")
    language = slots.get("language")
    if language not in LANGUAGES:
        language = _language_from_events(tracker.events or [])
    return {
        "id": str(customer_id) if customer_id is not None else None,
        "display_name": masking.mask(str(display_name)) if display_name else None,
        "tier": str(tier) if tier is not None else None,
        "vip": str(tier).lower() == "vip" if tier is not None else False,
        "language": language,
    }


def _language_from_events(events: Iterable[Dict[str, Any]]) -> str:
    from bot.language import detect

    for event in reversed(list(events)):
        if event.get("event") == "user" and event.get("text"):
            return detect(event["text"]) or ZH
    return ZH


def latest_topic(events: Iterable[Dict[str, Any]]) -> str | None:
    """The latest FAQ intent (`faq_*`) of the conversation, or None."""
    for event in reversed(_user_events(events)):
        name = _intent(event).get("name") or ""
        if name.startswith(FAQ_PREFIX):
            return name
    return None


def anger_history(events: Iterable[Dict[str, Any]]) -> List[float]:
    """The anger scores (0..1) of the user turns that carry `parse_data.anger`, oldest first."""
    return [score for score in (_anger_score(event) for event in _user_events(events)) if score is not None]


def _anger_score(event: Dict[str, Any]) -> float | None:
    anger = (event.get("parse_data") or {}).get("anger")
    if isinstance(anger, dict) and isinstance(anger.get("score"), (int, float)) and not isinstance(
        anger.get("score"), bool
    ):
        return float(anger["score"])
    return None


def intent_history(events: Iterable[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """One entry per user turn: {turn, at, name, confidence, anger} (None where NLU gave nothing)."""
    history = []
    for turn, event in enumerate(_user_events(events), start=1):
        intent = _intent(event)
        confidence = intent.get("confidence")
        history.append(
            {"turn": turn, "at": _iso(event.get("timestamp")), "name": intent.get("name"),
             "confidence": float(confidence) if isinstance(confidence, (int, float)) else None,
             "anger": _anger_score(event)}
        )
    return history


def key_facts(events: Iterable[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """The key facts of the whole conversation (the entities `bot.nlu.key_facts` put on each user turn), each
    once, first mentioned first, masked (`bot.key_facts.shown.gather`): {kind, value, at, turn, mentions}."""
    from bot.key_facts.shown import gather

    found = []
    for turn, event in enumerate(_user_events(events), start=1):
        for entity in (event.get("parse_data") or {}).get("entities") or []:
            if isinstance(entity, dict):
                found.append({"kind": entity.get("entity"), "value": entity.get("value"),
                              "at": _iso(event.get("timestamp")), "turn": turn})
    return gather(found)


def said(events: Iterable[Dict[str, Any]]) -> List[Tuple[Dict[str, Any], str]]:
    """The transcript's messages, unmasked: (event, text) of each customer and assistant message, in order
    (an assistant message without text is the titles of its buttons)."""
    found = []
    for event in events:
        kind = event.get("event")
        if kind not in ("user", "bot"):
            continue
        text = event.get("text")
        if not text and kind == "bot":
            data = event.get("data") or {}
            titles = [button.get("title", "") for button in data.get("buttons") or [] if isinstance(button, dict)]
            text = " / ".join(title for title in titles if title) or None
        if text:
            found.append((event, str(text)))
    return found


def kept_mail_id(event: Dict[str, Any]) -> Optional[int]:
    """The id of the kept mail a customer e-mail came as (`metadata.email.mail`, set by
    `bot.channels.email_turns`), or None (another channel, a bot message, or a mail from before the id was
    carried). The transcript line and the desk's message (`bot.desk.inbox`) carry it: the console shows that
    mail's attachments under its own message."""
    metadata = event.get("metadata") if event.get("event") == "user" else None
    found = ((metadata.get("email") or {}) if isinstance(metadata, dict) else {}).get("mail")
    return found if isinstance(found, int) and not isinstance(found, bool) and found > 0 else None


def transcript(
    events: Iterable[Dict[str, Any]], found: Counter | None = None, limits: Optional[TranscriptLimits] = None
) -> List[Dict[str, Any]]:
    """The customer's and the assistant's messages in order, masked: {role, text, at[, intent]}.

    Args:
        events: the tracker events.
        found: a Counter that receives the masked kinds.
        limits: keep only the latest messages within these limits (all of them when None).
    """
    messages = said(events)
    if limits is not None:
        messages = messages[-limits.max_messages:]
    room = limits.max_chars if limits is not None else None
    lines: List[Dict[str, Any]] = []
    for event, text in reversed(messages):  # newest first, while the characters last
        cut = room is not None and len(text) > room
        if cut:
            if room <= len(ELLIPSIS):
                break
            text = text[:room - len(ELLIPSIS)] + ELLIPSIS  # the first message that does not fit: its beginning
        masked, counts = masking.mask_with_report(text)
        if found is not None:
            found.update(counts)
        line: Dict[str, Any] = {"role": "customer" if event.get("event") == "user" else "bot", "text": masked,
                                "at": _iso(event.get("timestamp"))}
        if event.get("event") == "user" and _intent(event).get("name"):
            line["intent"] = _intent(event)["name"]
        mail = kept_mail_id(event)
        if mail is not None:  # an e-mail: the desk shows its kept mail's attachments under this line
            line["mail"] = mail
        lines.append(line)
        if cut:
            break
        if room is not None:
            room -= len(text)
    lines.reverse()
    return lines


def resolve_reason_and_grade(
    reason: str | None, grade: str | None, grades: Dict[str, str] | None = None
) -> tuple[str, str]:
    """Fill in the reason code and grade: reason `asked_for_human` when unset; grade from the slot, else from
    the settings map `escalation.grades` for the reason, else B."""
    reason = reason or DEFAULT_REASON
    if grade not in GRADES:
        mapped = (grades or {}).get(reason)
        grade = mapped if mapped in GRADES else DEFAULT_GRADE
    return reason, grade


def build_packet(
    tracker: Any,
    *,
    reason: str | None,
    grade: str | None,
    created_at: dt.datetime,
    earlier_tickets: List[Dict[str, Any]] | None = None,
    grades: Dict[str, str] | None = None,
    limits: Optional[TranscriptLimits] = None,
) -> Dict[str, Any]:
    """Build the versioned context packet for a handoff.

    Args:
        tracker: the conversation (rasa_sdk `Tracker`).
        reason: the reason code (slot `handoff_reason`); `asked_for_human` when None.
        grade: the urgency grade A/B/C (slot `handoff_grade`); from `grades` or B when None.
        created_at: the time of the handoff (`bot.clock.now()`), tz-aware.
        earlier_tickets: the customer's earlier tickets as the desk lists them.
        grades: reason code -> grade, from `settings.yml: escalation.grades`.
        limits: how much of the conversation to carry (`settings.yml: handoff` when None).

    Returns:
        A dict that validates against `docs/context-packet.schema.json`.

    Raises:
        SettingsError: the `handoff` settings are wrong (only when `limits` is None).
    """
    events = list(tracker.events or [])
    limits = limits or TranscriptLimits.from_settings()
    reason, grade = resolve_reason_and_grade(reason, grade, grades)
    found: Counter = Counter()
    lines = transcript(events, found, limits)
    intents = intent_history(events)
    kept_intents = intents[-limits.max_messages:]
    customer = customer_from_tracker(tracker)
    customer["earlier_tickets"] = list(earlier_tickets or [])
    slots = {}
    for name, value in (tracker.slots or {}).items():
        if isinstance(value, str):
            value, counts = masking.mask_with_report(value)
            found.update(counts)
        else:
            value = masking.mask_value(value)
        slots[name] = value
    return {
        "$schema": SCHEMA_ID,
        "version": SCHEMA_VERSION,
        "conversation_id": str(tracker.sender_id),
        # where the conversation lives (the namespace of its id), which the desk checks the channel against
        "channel": channel_of(str(tracker.sender_id)) or tracker.get_latest_input_channel() or UNKNOWN_CHANNEL,
        "created_at": created_at.isoformat(),
        "customer": customer,
        "reason": reason,
        "grade": grade,
        "topic": latest_topic(events),
        "anger_history": anger_history(events)[-limits.max_messages:],
        "intents": kept_intents,
        "transcript": lines,
        "slots": slots,
        "masked": {kind: found.get(kind, 0) for kind in masking.KINDS},
        "key_facts": key_facts(events),
        "transcript_omitted": len(said(events)) - len(lines),
        "intents_omitted": len(intents) - len(kept_intents),
    }
