"""What the customer is told around a handoff, in their language (zh, zh_hant, en).

These are the texts of `action_handoff` and `action_survey_answer` (queue-position updates while a customer
waits are the desk's: `bot/desk/service.py`). Traditional Chinese is converted
from the Simplified text. Texts owned by other areas (the apology of `bot.escalation`, the off-hours and
emergency replies of `bot.calendar.messages`) are used when those modules exist; the fallbacks here keep the
handoff working on its own.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from typing import Any, Dict
from zoneinfo import ZoneInfo

from bot import language

logger = logging.getLogger(__name__)

DEFAULT_TIMEZONE = "Asia/Shanghai"


def localise(lang: str | None, zh: str, en: str) -> str:
    """Pick the text for `lang`: English for "en", Traditional for "zh_hant", Simplified otherwise."""
    if lang == language.EN:
        return en
    if lang == language.ZH_HANT:
        return language.to_traditional(zh)
    return zh


def wait_minutes(seconds: float | None) -> int:
    """Whole minutes to announce for an expected wait (rounded up, at least 1)."""
    if seconds is None or seconds <= 0:
        return 1
    return max(1, math.ceil(seconds / 60))


def queue_reply(lang: str | None, position: int, expected_wait_seconds: float | None) -> str:
    """Tell the customer their place in the queue and the expected wait.

    Args:
        lang: the conversation language.
        position: 1-based place in the queue (1: served next).
        expected_wait_seconds: the desk's estimate.

    Returns:
        "您已进入人工客服队列，前面还有 N 位，预计等待约 M 分钟。" (N = customers ahead, position - 1) or
        "You're number N in the queue; expected wait about M minutes." (N = position); at the head of the
        queue "您已进入人工客服队列，您是下一位，…" / "You're next in the queue; …" (not "0 ahead of you").
    """
    position = max(1, int(position or 1))
    minutes = wait_minutes(expected_wait_seconds)
    unit = "minute" if minutes == 1 else "minutes"
    if position == 1:
        return localise(
            lang,
            f"您已进入人工客服队列，您是下一位，预计等待约 {minutes} 分钟。",
            f"You're next in the queue; expected wait about {minutes} {unit}.",
        )
    return localise(
        lang,
        f"您已进入人工客服队列，前面还有 {position - 1} 位，预计等待约 {minutes} 分钟。",
        f"You're number {position} in the queue; expected wait about {minutes} {unit}.",
    )


def nobody_online_reply(lang: str | None, ticket_id: str) -> str:
    """Open hours, but no agent who could serve the ticket has the console open: say so, without a wait time."""
    return localise(
        lang,
        f"您已进入人工客服队列，工单号 {ticket_id}。客服暂时都不在线，上线后会第一时间回复您，您无需重复描述问题。",
        f"You're in the queue for a human agent (ticket {ticket_id}). No agent is online right now; the first one "
        "to come online will reply, and you won't need to repeat yourself.",
    )


def parse_time(value: Any) -> dt.datetime | None:
    """Read an ISO 8601 time from the desk (None when missing or unreadable)."""
    if not value:
        return None
    if isinstance(value, dt.datetime):
        return value
    try:
        return dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        logger.warning("unreadable time from the desk: %r", value)
        return None


def format_time(lang: str | None, value: dt.datetime | None, timezone: str = DEFAULT_TIMEZONE) -> str:
    """Format a time for the customer in the service team's time zone ("10月4日 09:00" / "Sat 4 Oct 09:00")."""
    if value is None:
        return ""
    if value.tzinfo is not None:
        value = value.astimezone(ZoneInfo(timezone))
    if lang == language.EN:
        return f"{value:%a} {value.day} {value:%b %H:%M}"
    return f"{value.month}月{value.day}日 {value:%H:%M}"


def offhours_fallback(
    lang: str | None,
    ticket_id: str,
    next_opening: dt.datetime | None,
    first_response: dt.datetime | None,
    timezone: str = DEFAULT_TIMEZONE,
) -> str:
    """Off-hours reply used when `bot.calendar.messages.offhours_reply` is not available."""
    opening = format_time(lang, next_opening, timezone)
    due = format_time(lang, first_response, timezone)
    zh = f"现在是非工作时间，人工客服暂时不在线。您的工单号是 {ticket_id}"
    en = f"Our team is offline right now. Your ticket number is {ticket_id}"
    if opening:
        zh += f"，我们将于 {opening} 上班后处理"
        en += f"; we open again {opening}"
    if due:
        zh += f"，最晚 {due} 前回复您"
        en += f" and will reply by {due} at the latest"
    return localise(lang, zh + "。", en + ".")


def apology_fallback(lang: str | None, topic: str | None) -> str:
    """A short apology for an angry customer, used when `bot.escalation.apology` is not available."""
    if topic:
        subject = topic.removeprefix("faq_").replace("_", " ")
        return localise(
            lang,
            f"非常抱歉，{subject} 的问题给您带来了困扰，我马上为您转接人工客服。",
            f"I'm sorry about the trouble with {subject}. I'm bringing in a colleague right away.",
        )
    return localise(
        lang,
        "非常抱歉给您带来了不好的体验，我马上为您转接人工客服。",
        "I'm sorry for the trouble. I'm bringing in a colleague right away.",
    )


def emergency_fallback(lang: str | None, emergency: Dict[str, Any]) -> str:
    """Emergency contact from the settings section `emergency`, used without `bot.calendar.messages`."""
    contact_zh = emergency.get("contact_zh") or "24小时紧急热线"
    contact_en = emergency.get("contact_en") or contact_zh
    return localise(
        lang,
        f"如果情况紧急（如银行卡丢失、被盗刷、账户被盗），请立即拨打{contact_zh}。",
        f"If this is urgent (a lost or stolen card, fraud, an account taken over), call {contact_en} now.",
    )


def desk_down_reply(lang: str | None, emergency: Dict[str, Any]) -> str:
    """Apology when the desk cannot take the conversation; gives the contact channels and keeps helping."""
    contact_zh = emergency.get("contact_zh") or "客服热线"
    contact_en = emergency.get("contact_en") or contact_zh
    return localise(
        lang,
        f"非常抱歉，人工客服系统暂时无法接入。您可以稍后再试，或拨打{contact_zh}联系我们；"
        "在此期间我会继续为您解答问题。",
        f"I'm sorry, I can't reach our service team right now. Please try again later or contact "
        f"{contact_en}; meanwhile I'm happy to keep helping.",
    )


def survey_thanks(lang: str | None, rating: int) -> str:
    """Thanks for a survey answer (1-5)."""
    if rating <= 2:
        return localise(
            lang,
            "感谢您的评价，很抱歉这次没能让您满意，我们会认真改进。",
            "Thank you for your rating. We're sorry we fell short and will work on it.",
        )
    return localise(lang, "感谢您的评价！", "Thank you for your rating!")


def survey_comment_invite(lang: str | None) -> str:
    """After a rating: the comment is optional, and questions are still welcome."""
    return localise(
        lang,
        "如果您愿意，可以直接留言告诉我们原因或建议（可选）；也可以继续向我提问。",
        "If you like, type a comment about the service (optional), or just ask me another question.",
    )


def survey_comment_thanks(lang: str | None) -> str:
    """Thanks for a survey comment."""
    return localise(lang, "已收到您的留言，谢谢您帮助我们改进！", "Thank you, we've passed your comment on to the team.")


def survey_invalid(lang: str | None) -> str:
    """Asked again when a survey answer is not a whole number from 1 to 5."""
    return localise(lang, "请选择 1 到 5 分进行评价。", "Please choose a rating from 1 to 5.")
