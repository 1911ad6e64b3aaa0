"""The satisfaction survey's pure parts: reading an answer typed as text, and the NPS setting.

Buttons become numbered lines on the text channels (WeChat, WeCom, e-mail), so a customer answers the survey by
typing its number ("5", "5 非常满意", "10 – very likely"). `leading_number` reads that number; the survey actions
(`actions/survey.py`) and `SurveyAnswerPolicy`/`SurveyNpsPolicy` (`bot/policies/survey.py`) use it, so a typed
answer counts on every channel. The NPS question ("how likely are you to recommend us", 0–10) follows the 1–5
rating when `survey.nps` of `settings.yml` is true (off by default).
"""

from __future__ import annotations

import re
from typing import Any, Mapping, Optional

from bot.settings import SettingsError, load_settings

RATING_RANGE = (1, 5)
NPS_RANGE = (0, 10)
# A whole number at the start of the text, then the end, a space, punctuation, a star or 分/星 ("5", "5 非常满意",
# "5⭐", "5分", "10 – very likely", "5, thanks"). "5.5", "5th" and "ten" have none, nor does a question that
# starts with a number glued to a word ("3天前的订单"); "52" is 52, out of any survey's range.
_LEADING = re.compile(r"^\s*(\d{1,3})(?=$|\s|[.,!?;:。，！？、；：~\-–—)）⭐★☆分星](?!\d))")


def leading_number(text: Optional[str]) -> Optional[int]:
    """The whole number a typed survey answer starts with, or None ("11" gives 11: the range is the caller's)."""
    match = _LEADING.match(text or "")
    return int(match.group(1)) if match else None


def in_range(value: Any, bounds: tuple) -> Optional[int]:
    """`value` as an int within `bounds` (both included), or None ("5", 5 and 5.0 are 5; True is not 1)."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(str(value).strip())
    except (TypeError, ValueError):
        return None
    if not number.is_integer() or not bounds[0] <= number <= bounds[1]:
        return None
    return int(number)


def nps_enabled(settings: Optional[Mapping[str, Any]] = None) -> bool:
    """Whether the NPS question follows the rating (`survey.nps` of `settings.yml`; absent: off).

    Raises:
        SettingsError: `survey` is not a mapping or `survey.nps` is not true/false.
    """
    settings = load_settings() if settings is None else settings
    section = settings.get("survey")
    if section is None:
        return False
    if not isinstance(section, Mapping):
        raise SettingsError("survey must be a mapping (survey.nps: true or false)")
    value = section.get("nps", False)
    if not isinstance(value, bool):
        raise SettingsError(f"survey.nps must be true or false, not {value!r}")
    return value


def nps_group(score: int) -> str:
    """`promoter` (9–10), `passive` (7–8) or `detractor` (0–6)."""
    if score >= 9:
        return "promoter"
    return "passive" if score >= 7 else "detractor"
