"""Buttons on channels that show only text (WeChat, WeCom, e-mail): one numbered line per button.

Most buttons get an index ("1. 转人工", "2. 不用"), and the customer's "2" means the second. Buttons whose titles
already start with their own distinct numbers, as the survey's do ("5 ⭐ 非常满意" … "1 ⭐ 非常不满意", the
recommendation question's "10 非常愿意" … "0 完全不会"), are listed as they are: an index in front ("1. 5 ⭐ …")
would make "5" mean two things. Such a reply ("5", "5 非常满意") goes to the assistant as text, and the survey
reads the number (`bot.survey.leading_number`, `SurveyAnswerPolicy`, `SurveyNpsPolicy`).
"""

from __future__ import annotations

from typing import Any, Dict, List

from bot import texts
from bot.language import detect
from bot.survey import leading_number


def title_of(button: Dict[str, Any]) -> str:
    """The text a button shows (its payload when it has no title)."""
    return str(button.get("title") or button.get("payload") or "")


def self_numbered(buttons: List[Dict[str, Any]]) -> bool:
    """True when every title starts with a number and no two with the same one (the survey's buttons)."""
    numbers = [leading_number(title_of(b)) for b in buttons]
    return bool(buttons) and None not in numbers and len(set(numbers)) == len(numbers)


def button_lines(buttons: List[Dict[str, Any]]) -> List[str]:
    """One line per button: the title as it is when the titles number themselves, else `<index>. <title>`."""
    if self_numbered(buttons):
        return [title_of(b).strip() for b in buttons]
    return [f"{index}. {title_of(b)}".rstrip() for index, b in enumerate(buttons, start=1)]


def fold_buttons(text: str, buttons: List[Dict[str, Any]]) -> str:
    """Fold a text and its buttons into one message with numbered lines (each send counts against quota).

    Args:
        text: the message text.
        buttons: Rasa buttons (`title`, `payload`).

    Returns:
        The text, one line per button, and a hint in the text's language.
    """
    lines = [text.strip()] if text and text.strip() else []
    lines.extend(button_lines(buttons))
    if buttons:
        lines.append(texts.choose_by_number(detect(text or "")))
    return "\n".join(lines)
