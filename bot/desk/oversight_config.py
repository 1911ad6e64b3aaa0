"""The settings of the desk's oversight: the escalation on red (`desk.on_red`), auto-assignment
(`desk.auto_assign`) and quality assurance (`desk.qa`), validated (`bot.desk.config.validate` calls `parse`).

```yaml
desk:
  on_red:                 # the first rule whose grades match a ticket that turns red is applied
    - {grades: [A], alert_supervisors: true, move: top}   # move: top | none | <a skill: that team's queue>
  auto_assign: {teams: [orders], offer_seconds: 30}       # teams (skills) not listed: agents pull (claim)
  qa: {share: 0.1, low_ratings: [1, 2], criteria: [greeting, accuracy, compliance, empathy, closing], scale: 5}
```
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any, Mapping, Optional, Tuple

from bot.settings import SettingsError

logger = logging.getLogger(__name__)

MOVE_TOP = "top"
MOVE_NONE = "none"
DEFAULT_OFFER_SECONDS = 30.0
DEFAULT_CRITERIA = ("greeting", "accuracy", "compliance", "empathy", "closing")


@dataclasses.dataclass(frozen=True)
class OnRedRule:
    """What happens to a ticket of one of `grades` when its SLA turns red.

    Attributes:
        grades: the grades the rule applies to.
        alert_supervisors: push an `escalation` event that the supervisors' consoles show.
        move: `top` (back to its queue, first), `none`, or a skill (that team's queue, first).
    """

    grades: Tuple[str, ...]
    alert_supervisors: bool = True
    move: str = MOVE_NONE


@dataclasses.dataclass(frozen=True)
class AutoAssign:
    """Auto-assignment: the teams (skills) whose queued tickets are offered to agents, and how long an offer
    waits for an answer before it goes to the next agent."""

    teams: Tuple[str, ...] = ()
    offer_seconds: float = DEFAULT_OFFER_SECONDS


@dataclasses.dataclass(frozen=True)
class QaSettings:
    """Quality assurance: the share of closed tickets sampled, the ratings that always enter the queue, the
    criteria supervisors score and the top of the scale (scores are 1..scale)."""

    share: float = 0.1
    low_ratings: Tuple[int, ...] = (1, 2)
    criteria: Tuple[str, ...] = DEFAULT_CRITERIA
    scale: int = 5


@dataclasses.dataclass(frozen=True)
class Oversight:
    """The three sections together."""

    on_red: Tuple[OnRedRule, ...] = ()
    auto_assign: AutoAssign = AutoAssign()
    qa: QaSettings = QaSettings()

    def rule_for(self, grade: str) -> Optional[OnRedRule]:
        """The first escalation rule for a red ticket of `grade`, or None."""
        return next((rule for rule in self.on_red if grade in rule.grades), None)


def _names(value: Any, key: str) -> Tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise SettingsError(f"settings: '{key}' must be a list of names")
    return tuple(value)


def _number(value: Any, key: str, low: float, high: Optional[float] = None) -> float:
    ok = not isinstance(value, bool) and isinstance(value, (int, float)) and value >= low
    if not ok or (high is not None and value > high):
        limit = f"between {low} and {high}" if high is not None else f">= {low}"
        raise SettingsError(f"settings: '{key}' must be a number {limit}, got {value!r}")
    return float(value)


def parse(desk: Mapping[str, Any], skills: Tuple[str, ...], grades: Tuple[str, ...]) -> Oversight:
    """Validate `desk.on_red`, `desk.auto_assign` and `desk.qa` (all optional).

    Args:
        desk: the `desk` settings section.
        skills: the known skills (a rule may move a ticket to one of them).
        grades: the known grades.

    Raises:
        SettingsError: a wrong value; the message names the key.
    """
    rules = []
    raw_rules = desk.get("on_red") or []
    if not isinstance(raw_rules, list):
        raise SettingsError("settings: 'desk.on_red' must be a list of {grades, alert_supervisors, move}")
    for i, raw in enumerate(raw_rules):
        key = f"desk.on_red[{i}]"
        if not isinstance(raw, Mapping):
            raise SettingsError(f"settings: '{key}' must be a mapping {{grades, alert_supervisors, move}}")
        rule_grades = _names(raw.get("grades"), f"{key}.grades")
        unknown = [g for g in rule_grades if g not in grades]
        if unknown:
            raise SettingsError(f"settings: '{key}.grades' has unknown grades {unknown}: use {list(grades)}")
        move = raw.get("move", MOVE_NONE)
        if move not in (MOVE_TOP, MOVE_NONE) and move not in skills:
            raise SettingsError(f"settings: '{key}.move' must be top, none or a skill of {sorted(skills)}")
        alert = raw.get("alert_supervisors", True)
        if not isinstance(alert, bool):
            raise SettingsError(f"settings: '{key}.alert_supervisors' must be true or false")
        rules.append(OnRedRule(rule_grades, alert, str(move)))

    raw_assign = desk.get("auto_assign") or {}
    if not isinstance(raw_assign, Mapping):
        raise SettingsError("settings: 'desk.auto_assign' must be a mapping {teams, offer_seconds}")
    teams = _names(raw_assign.get("teams") or [], "desk.auto_assign.teams")
    unknown = [t for t in teams if t not in skills]
    if unknown:
        raise SettingsError(f"settings: 'desk.auto_assign.teams' has unknown skills {unknown}")
    assign = AutoAssign(
        teams, _number(raw_assign.get("offer_seconds", DEFAULT_OFFER_SECONDS), "desk.auto_assign.offer_seconds", 1)
    )

    raw_qa = desk.get("qa") or {}
    if not isinstance(raw_qa, Mapping):
        raise SettingsError("settings: 'desk.qa' must be a mapping {share, low_ratings, criteria, scale}")
    low = raw_qa.get("low_ratings", [1, 2])
    if not isinstance(low, list) or not all(isinstance(r, int) and not isinstance(r, bool) and 1 <= r <= 5 for r in low):
        raise SettingsError("settings: 'desk.qa.low_ratings' must be a list of ratings 1..5")
    criteria = _names(raw_qa.get("criteria", list(DEFAULT_CRITERIA)), "desk.qa.criteria")
    if not criteria:
        raise SettingsError("settings: 'desk.qa.criteria' must name at least one criterion")
    qa = QaSettings(
        share=_number(raw_qa.get("share", 0.1), "desk.qa.share", 0, 1),
        low_ratings=tuple(low),
        criteria=criteria,
        scale=int(_number(raw_qa.get("scale", 5), "desk.qa.scale", 2, 10)),
    )
    return Oversight(tuple(rules), assign, qa)
