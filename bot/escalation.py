"""When a human takes over: escalation decisions over a conversation, and the apology that goes first.

`decide(events, settings)` looks at Rasa tracker events (as dicts: `tracker.current_state()["events"]`) and
returns a `Decision` (reason code, urgency grade, a short detail for agents) or None. It is pure: no Rasa, no
I/O. `bot.policies.escalation.EscalationPolicy` calls it on every turn; `actions/handoff.py` uses `apology()`,
which names the topic with the names of its data file (`bot.faq`, read on first use and cached).

When `decide` looks:
- at a new user message (the latest event that is a user message or an action is the user message, or the
  latest action is `action_listen` right before it): every reason except `emergency`;
- right after the FAQ answer of an emergency topic (latest action `utter_faq_<topic>` with `faq_<topic>` in
  `emergency.intents`, answering the latest user intent): `emergency`. An emergency question is first answered
  (the emergency line, at any hour), then handed over; so at the user message itself an emergency intent
  defers every other reason to that moment, and they are listed in the detail.
- never while the conversation is handed over: after an `action_handoff` with no `resume`, `restart` or
  `session_started` since.

Reasons (codes; grades come from `settings.yml: escalation.grades`):
- `emergency`: the latest intent is in `emergency.intents` and its FAQ answer was just uttered;
- `anger`: the latest anger score is at least `anger_threshold` (the score is `parse_data.anger.score`; a
  message without one but with the entity `sentiment` = `angry` counts as 1.0);
- `vip_complaint`: slot `customer_tier` is `vip` and the latest intent is `complain`;
- `anger_rising`: over the last `anger_window` user messages the score rose by at least `anger_rise`
  (latest score minus the lowest earlier score in the window), to at least `anger_rise_floor` (a calm
  question after a few very calm ones is not rising anger);
- `repeat_complaint`: the latest intent is `complain` and the conversation already had a `complain` message,
  or slot `previous_complaints` (set by whoever knows the customer's history) is above 0;
- `asked_for_human`: the latest intent is `request_human`;
- `not_understood`: the last `max_failures` user messages (since the last resume) were all `nlu_fallback`.

Precedence: when several reasons hold, the most urgent grade wins (A before B before C); between equal grades
the order above decides (`REASONS`). The detail names every reason that held.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from bot import texts
from bot.faq import FAQ_PREFIX, RESPONSE_PREFIX
from bot.i18n import localise
from bot.settings import SettingsError

logger = logging.getLogger(__name__)

ACTION_LISTEN = "action_listen"
ACTION_HANDOFF = "action_handoff"
FALLBACK_INTENT = "nlu_fallback"
COMPLAIN_INTENT = "complain"
HUMAN_INTENT = "request_human"
UTTER_FAQ_PREFIX = RESPONSE_PREFIX + FAQ_PREFIX

# In order of precedence between reasons of the same grade.
REASONS = (
    "emergency",
    "anger",
    "vip_complaint",
    "anger_rising",
    "repeat_complaint",
    "asked_for_human",
    "not_understood",
)
GRADES = ("A", "B", "C")

DEFAULTS: Dict[str, Any] = {
    "anger_threshold": 0.7,
    "anger_rise": 0.35,
    "anger_rise_floor": 0.5,
    "anger_window": 3,
    "max_failures": 2,
    "grades": {
        "emergency": "A",
        "anger": "A",
        "vip_complaint": "A",
        "anger_rising": "B",
        "repeat_complaint": "B",
        "asked_for_human": "B",
        "not_understood": "C",
    },
}


@dataclasses.dataclass(frozen=True)
class Decision:
    """A decision to hand the conversation to a human.

    Attributes:
        reason: reason code (one of `REASONS`).
        grade: urgency grade A (1 h), B (4 h) or C (24 h), from settings.
        detail: one line for agents: the reasons that held and the figures behind them.
        topic: the latest FAQ intent of the conversation (`faq_<topic>`), if any: what the problem is about.
    """

    reason: str
    grade: str
    detail: str
    topic: Optional[str] = None


def escalation_settings(settings: Mapping[str, Any]) -> Dict[str, Any]:
    """Return the escalation settings with defaults filled in, validated.

    Args:
        settings: the whole settings dict (`bot.settings.load_settings()`), or just its `escalation` section.

    Returns:
        `anger_threshold`, `anger_rise`, `anger_window`, `max_failures`, `grades` and `emergency_intents`.

    Raises:
        SettingsError: a value is out of range; the message names the key.
    """
    section = settings.get("escalation", settings) if isinstance(settings, Mapping) else {}
    if not isinstance(section, Mapping):
        raise SettingsError("escalation: must be a mapping")
    merged: Dict[str, Any] = {**DEFAULTS, **{k: v for k, v in section.items() if k != "grades"}}
    merged["grades"] = {**DEFAULTS["grades"], **(section.get("grades") or {})}
    for key in ("anger_threshold", "anger_rise", "anger_rise_floor"):
        value = merged[key]
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 <= value <= 1:
            raise SettingsError(f"escalation.{key}: must be a number between 0 and 1, not {value!r}")
    for key in ("anger_window", "max_failures"):
        value = merged[key]
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise SettingsError(f"escalation.{key}: must be a whole number of at least 1, not {value!r}")
    for reason, grade in merged["grades"].items():
        if grade not in GRADES:
            raise SettingsError(f"escalation.grades.{reason}: must be one of A, B, C, not {grade!r}")
    emergency = settings.get("emergency") if "escalation" in settings else None
    intents = (emergency or {}).get("intents", []) if isinstance(emergency, Mapping) else []
    if not isinstance(intents, list):
        raise SettingsError("emergency.intents: must be a list of intent names")
    merged["emergency_intents"] = list(merged.get("emergency_intents") or intents)
    return merged


# --- reading events ---------------------------------------------------------------------------------------
def _intent(event: Mapping[str, Any]) -> Optional[str]:
    parse = event.get("parse_data") or {}
    intent = parse.get("intent") or {}
    return intent.get("name")


def _anger_score(event: Mapping[str, Any]) -> Optional[float]:
    """The anger score of a user event: `parse_data.anger.score`; without one (a message sent as an intent
    with entities, or a test story), an entity `sentiment` = `angry` counts as 1.0."""
    parse = event.get("parse_data") or {}
    anger = parse.get("anger")
    if isinstance(anger, Mapping) and isinstance(anger.get("score"), (int, float)):
        return float(anger["score"])
    for entity in parse.get("entities") or []:
        if (
            isinstance(entity, Mapping)
            and entity.get("entity") == "sentiment"
            and entity.get("value") == "angry"
        ):
            return 1.0
    return None


def current_segment(events: Sequence[Mapping[str, Any]]) -> List[Mapping[str, Any]]:
    """The events since the last `resume`, `restart` or `session_started` (the bot's current stretch)."""
    start = 0
    for index, event in enumerate(events):
        if event.get("event") in ("resume", "restart", "session_started"):
            start = index + 1
    return list(events[start:])


def is_handed_off(events: Sequence[Mapping[str, Any]]) -> bool:
    """True when `action_handoff` ran (or the conversation was paused) and nothing resumed it since."""
    for event in current_segment(events):
        if event.get("event") == "pause":
            return True
        if event.get("event") == "action" and event.get("name") == ACTION_HANDOFF:
            return True
    return False


def latest_action(events: Sequence[Mapping[str, Any]]) -> Optional[str]:
    """Name of the latest action event, or None."""
    for event in reversed(events):
        if event.get("event") == "action":
            return event.get("name")
    return None


def latest_user(events: Sequence[Mapping[str, Any]]) -> Optional[Mapping[str, Any]]:
    """The latest `user` event, or None."""
    for event in reversed(events):
        if event.get("event") == "user":
            return event
    return None


def latest_topic(events: Sequence[Mapping[str, Any]]) -> Optional[str]:
    """The latest FAQ intent (`faq_<topic>`) the customer asked about, or None."""
    for event in reversed(events):
        if event.get("event") == "user":
            intent = _intent(event)
            if intent and intent.startswith(FAQ_PREFIX):
                return intent
    return None


def slot_value(events: Sequence[Mapping[str, Any]], name: str) -> Any:
    """The latest value set for slot `name` in `events` (None when never set)."""
    value = None
    for event in events:
        if event.get("event") == "slot" and event.get("name") == name:
            value = event.get("value")
    return value


def _user_after_action(events: Sequence[Mapping[str, Any]], action: Optional[str] = None) -> bool:
    """True when the latest user message is newer than the latest action (the latest `action`, when named).

    Unnamed: the bot has not answered the message yet. `ACTION_LISTEN`: the only actions since the message
    are its answer.
    """
    for event in reversed(events):
        kind = event.get("event")
        if kind == "user":
            return True
        if kind == "action" and action in (None, event.get("name")):
            return False
    return False


# --- the decision -----------------------------------------------------------------------------------------
def reasons_at_user_turn(events: Sequence[Mapping[str, Any]], config: Mapping[str, Any]) -> Dict[str, str]:
    """Every reason (but `emergency`) that holds at the latest user message, with its detail.

    Args:
        events: the conversation's events as dicts.
        config: `escalation_settings(...)`.

    Returns:
        reason code -> detail, possibly empty.
    """
    segment = current_segment(events)
    users = [e for e in segment if e.get("event") == "user"]
    if not users:
        return {}
    latest = users[-1]
    intent = _intent(latest)
    found: Dict[str, str] = {}

    score = _anger_score(latest)
    if score is not None and score >= config["anger_threshold"]:
        found["anger"] = f"anger {score:.2f} ≥ {config['anger_threshold']}"

    tier = slot_value(events, "customer_tier")
    if intent == COMPLAIN_INTENT and isinstance(tier, str) and tier.lower() == "vip":
        found["vip_complaint"] = "VIP customer complains"

    window = [s for s in (_anger_score(e) for e in users[-config["anger_window"] :]) if s is not None]
    if len(window) >= 2:
        rise = window[-1] - min(window[:-1])
        if rise >= config["anger_rise"] and window[-1] >= config["anger_rise_floor"]:
            found["anger_rising"] = f"anger rose by {rise:.2f} over {len(window)} messages"

    if intent == COMPLAIN_INTENT:
        earlier = [e for e in events if e.get("event") == "user" and e is not latest and _intent(e) == intent]
        previous = slot_value(events, "previous_complaints")
        if earlier:
            found["repeat_complaint"] = f"complaint number {len(earlier) + 1} in this conversation"
        elif isinstance(previous, (int, float)) and not isinstance(previous, bool) and previous > 0:
            found["repeat_complaint"] = f"{int(previous)} earlier complaint(s) on record"

    if intent == HUMAN_INTENT:
        found["asked_for_human"] = "customer asked for a human"

    failures = 0
    for event in reversed(users):
        if _intent(event) != FALLBACK_INTENT:
            break
        failures += 1
    if failures >= config["max_failures"]:
        found["not_understood"] = f"{failures} messages in a row not understood"
    return found


def _pick(found: Mapping[str, str], config: Mapping[str, Any], topic: Optional[str]) -> Optional[Decision]:
    if not found:
        return None
    grades = config["grades"]
    order = {reason: index for index, reason in enumerate(REASONS)}
    reason = min(found, key=lambda r: (grades.get(r, "C"), order.get(r, len(REASONS))))
    detail = "; ".join(found[r] for r in sorted(found, key=lambda r: order.get(r, len(REASONS))))
    return Decision(reason=reason, grade=grades.get(reason, "C"), detail=detail, topic=topic)


def decide(events: Sequence[Mapping[str, Any]], settings: Mapping[str, Any]) -> Optional[Decision]:
    """Decide whether a human must take over now, and why.

    Args:
        events: the conversation's tracker events as dicts (`{"event": "user", "text": ..., "parse_data":
            {"intent": {...}, "anger": {...}}}`, `{"event": "action", "name": ...}`, `{"event": "slot", ...}`).
        settings: the whole settings dict (or its `escalation` section; then there are no emergency intents).

    Returns:
        A `Decision`, or None when the assistant carries on. See the module docstring for when each reason
        holds and for precedence.

    Raises:
        SettingsError: the escalation settings are invalid.
    """
    config = escalation_settings(settings)
    events = list(events)
    if not events or is_handed_off(events):
        return None
    latest = latest_user(current_segment(events))
    if latest is None:
        return None
    intent = _intent(latest)
    topic = latest_topic(events)
    emergency_intents = config["emergency_intents"]

    if _user_after_action(events):
        if intent in emergency_intents:
            return None  # answer first (the emergency line), then hand over: see below
        return _pick(reasons_at_user_turn(events, config), config, topic)

    action = latest_action(events)
    if (
        intent in emergency_intents
        and action == UTTER_FAQ_PREFIX + intent[len(FAQ_PREFIX) :]
        and _user_after_action(events, ACTION_LISTEN)
    ):
        found = {"emergency": f"emergency topic {intent}"}
        found.update(reasons_at_user_turn(events, config))
        decision = _pick(found, config, topic)
        if decision is not None and decision.reason != "emergency":
            logger.debug("Emergency topic outranked by %s (grades in settings)", decision.reason)
        return decision
    return None


# --- apologies ---------------------------------------------------------------------------------------------
def _names(topic_intent: Optional[str]) -> Optional[Tuple[str, str]]:
    """The (Chinese, English) short names of an FAQ topic from its data file, or None."""
    if not topic_intent:
        return None
    import yaml

    from bot.faq import load_catalog

    try:
        topic = load_catalog().get(topic_intent)
    except (OSError, yaml.YAMLError) as error:  # an unreadable domain.yml: apologise without naming the topic
        logger.error("apology: cannot read the FAQ catalogue: %s", error)
        logger.debug("catalogue error", exc_info=True)
        return None
    if topic is None or topic.name_zh is None or topic.name_en is None:
        return None
    return topic.name_zh, topic.name_en


def topic_name(topic_intent: Optional[str], lang: str) -> str:
    """Short name of the problem behind an FAQ intent, in `lang` (`zh`, `zh_hant` or `en`).

    The names come from the topic's data file (`metadata: topic_name:` in `data/nlu/faq/<topic>.yml`); a topic
    without names is "这个问题" / "this".
    """
    names = _names(topic_intent)
    if names is None:
        return texts.this_problem(lang)
    return localise(lang, zh=names[0], en=names[1])


def apology(lang: str, topic_intent: Optional[str] = None) -> str:
    """A short, sincere apology that names the problem, in the customer's language.

    Args:
        lang: `zh`, `zh_hant` or `en` (anything else gets Simplified Chinese).
        topic_intent: the FAQ intent the problem is about (`Decision.topic`), or None.

    Returns:
        One or two sentences (`bot.texts.apology`), e.g. "非常抱歉，退款的事给您添了这么多麻烦，我完全理解您的心情。".
    """
    names = _names(topic_intent)
    return texts.apology(lang, *(names or (None, None)))
