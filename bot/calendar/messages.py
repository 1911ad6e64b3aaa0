"""Opening hours told to the customer: the calendar's facts, formatted, in the sentences of `bot.texts`.

Pure functions of (language, moment, calendar): they read the settings only through `get_calendar()` and
`load_settings()` when no calendar or settings are passed in. The sentences are `bot.texts`'s; this module
formats what goes into them (dates, weekdays, hours, time-zone labels, lists), in Simplified Chinese for `zh` and
`zh_hant` (the sentence is converted to Traditional as a whole) and in English for `en`.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any, List, Mapping, Optional, Sequence, Tuple, Union

from bot import texts
from bot.calendar.calendar import BusinessCalendar, HolidayPeriod, get_calendar
from bot.calendar.schedule import DayHours
from bot.i18n import EN
from bot.reply_window import WindowRule
from bot.settings import SettingsError

logger = logging.getLogger(__name__)

ZH_WEEKDAYS = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")
EN_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
EN_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
# The first-response budget `offhours_reply` assumes when it is given none.
DEFAULT_FIRST_RESPONSE = dt.timedelta(hours=1)
# How far ahead `hours_answer` announces holiday closures.
HOLIDAY_NOTICE_DAYS = 14
BEIJING_ZONES = ("Asia/Shanghai", "Asia/Chongqing", "Asia/Harbin", "PRC", "+08:00", "UTC+8", "UTC+08:00")


def _english(lang: Optional[str]) -> bool:
    return lang == EN


# --- formatting ------------------------------------------------------------------------------------------------


def format_date(lang: str, day: dt.date, with_weekday: bool = True, with_year: bool = False) -> str:
    """A date as "10月9日（周四）" or "Thu 9 Oct" (optionally with the year: "2026年1月4日（周日）", "Sun 4 Jan 2026").

    For `zh_hant` the Simplified form is returned; the sentence it goes into is converted as a whole.
    """
    if _english(lang):
        text = f"{day.day} {EN_MONTHS[day.month - 1]}"
        if with_weekday:
            text = f"{EN_WEEKDAYS[day.weekday()]} {text}"
        return f"{text} {day.year}" if with_year else text
    text = f"{day.month}月{day.day}日"
    if with_year:
        text = f"{day.year}年{text}"
    return f"{text}（{ZH_WEEKDAYS[day.weekday()]}）" if with_weekday else text


def format_moment(lang: str, moment: dt.datetime, reference: Optional[dt.datetime] = None) -> str:
    """A moment as "10月9日（周四）09:00" or "Thu 9 Oct, 09:00", in the moment's own time zone.

    The year is added when it differs from `reference`'s year.
    """
    with_year = reference is not None and reference.astimezone(moment.tzinfo).year != moment.year
    day = format_date(lang, moment.date(), with_weekday=True, with_year=with_year)
    clock_time = moment.strftime("%H:%M")
    return f"{day}, {clock_time}" if _english(lang) else f"{day}{clock_time}"


def _due_text(lang: str, due: dt.datetime, start: dt.datetime) -> str:
    if due.date() == start.date():
        return due.strftime("%H:%M")
    return format_moment(lang, due, start)


def _minutes(value: int) -> str:
    return f"{value // 60:02d}:{value % 60:02d}"


def format_day_hours(lang: str, hours: DayHours) -> str:
    """Opening periods as "09:00–12:00、13:30–18:00" or "09:00–12:00 and 13:30–18:00"."""
    parts = [f"{_minutes(start)}–{_minutes(end)}" for start, end in hours]
    if _english(lang):
        return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
    return "、".join(parts)


def _day_range(lang: str, first: int, last: int) -> str:
    names = EN_WEEKDAYS if _english(lang) else ZH_WEEKDAYS
    if first == last:
        return names[first]
    if last == first + 1:
        return (
            f"{names[first]} and {names[last]}" if _english(lang) else f"{names[first]}、{names[last]}"
        )
    return f"{names[first]}–{names[last]}" if _english(lang) else f"{names[first]}至{names[last]}"


def _week_groups(weekly: Sequence[DayHours]) -> List[Tuple[int, int, DayHours]]:
    groups: List[Tuple[int, int, DayHours]] = []
    for index, hours in enumerate(weekly):
        if groups and groups[-1][2] == hours and groups[-1][1] == index - 1:
            groups[-1] = (groups[-1][0], index, hours)
        else:
            groups.append((index, index, hours))
    return groups


def _list(lang: str, items: List[str]) -> str:
    if not _english(lang):
        return "、".join(items)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _zone_label(lang: str, name: str) -> str:
    if name in BEIJING_ZONES:
        return "Beijing time" if _english(lang) else "北京时间"
    label = name if "/" in name or name[:1].isalpha() else f"UTC{name}"
    return f"{label} time" if _english(lang) else f"{label} 时间"


def format_date_range(lang: str, first: dt.date, last: dt.date) -> str:
    """A range of dates: "10月1日–8日" / "1–8 Oct", "9月30日–10月2日" / "30 Sep–2 Oct", or one date."""
    if _english(lang):
        if first == last:
            return f"{first.day} {EN_MONTHS[first.month - 1]}"
        if first.month == last.month:
            return f"{first.day}–{last.day} {EN_MONTHS[last.month - 1]}"
        return f"{first.day} {EN_MONTHS[first.month - 1]}–{last.day} {EN_MONTHS[last.month - 1]}"
    if first == last:
        return f"{first.month}月{first.day}日"
    if first.month == last.month:
        return f"{first.month}月{first.day}日–{last.day}日"
    return f"{first.month}月{first.day}日–{last.month}月{last.day}日"


def holiday_notice(lang: str, period: HolidayPeriod) -> str:
    """ "国庆假期 10月1日–8日休息，10月9日恢复" / "Closed for National Day 1–8 Oct, back on Thu 9 Oct"."""
    dates = format_date_range(lang, period.first, period.last)
    resume = None
    if period.resume is not None:
        resume = format_date(lang, period.resume, with_weekday=_english(lang))
    return texts.holiday_closed(lang, period.names.zh_break, period.names.en, dates, resume)


# --- replies ---------------------------------------------------------------------------------------------------


def offhours_reply(
    lang: str,
    at: dt.datetime,
    ticket_id: Optional[str] = None,
    first_response: Union[dt.timedelta, dt.datetime, None] = DEFAULT_FIRST_RESPONSE,
    team: Optional[str] = None,
    calendar: Optional[BusinessCalendar] = None,
    reply_window: Optional[WindowRule] = None,
) -> str:
    """The off-hours reply naming the next opening and the expected reply time.

    "我们的人工客服已下班。您的留言已记录（工单号 T-000123），人工客服将于 10月9日（周四）09:00 起回复，预计 10:00 前。
    您现在仍可以向我咨询常见问题。" / "Our agents are offline. Your message is saved (ticket T-000123) and an agent
    will reply from Thu 9 Oct, 09:00, expected by 10:00. You can still ask me common questions now."

    Args:
        lang: `zh`, `zh_hant` or `en` (anything else gives `zh`).
        at: the (timezone-aware) moment of the message.
        ticket_id: the ticket of the left message, when the desk made one.
        first_response: the first-response budget in business time, counted from the next opening; or the
            expected-by moment itself (a timezone-aware datetime, e.g. the desk's due time); None: 1 hour.
        team: the team that will answer (its hours count).
        calendar: the calendar to use (default `get_calendar()`).
        reply_window: the channel's reply window (WeChat: 48 h after the customer's message at `at`), or None
            (no window): when the expected reply time is after it closes, the reply says so and what works.

    Returns:
        The reply text. Meant for closed moments; when the team is open at `at`, it names `at` itself.
    """
    calendar = calendar or get_calendar()
    tz = calendar.schedule(team).timezone
    start = calendar.reply_from(at, team)
    if isinstance(first_response, dt.datetime):
        due = calendar.add_business_time(first_response, dt.timedelta(0), team)
        if due <= start:  # a due time that is not after the opening says nothing: use the default budget
            due = calendar.add_business_time(start, DEFAULT_FIRST_RESPONSE, team)
    else:
        budget = DEFAULT_FIRST_RESPONSE if first_response is None else first_response
        due = calendar.add_business_time(start, budget, team)
    when = format_moment(lang, start, at.astimezone(tz))
    reply = texts.offhours(lang, when, _due_text(lang, due, start), ticket_id)
    if reply_window is None or due <= reply_window.closes_at(at):
        return reply
    closes = format_moment(lang, reply_window.closes_at(at).astimezone(tz), at.astimezone(tz))
    notice = texts.reply_window_closes(lang, round(reply_window.hours), closes, when)
    return f"{reply} {notice}" if _english(lang) else reply + notice


def weekly_hours_text(
    lang: str, calendar: Optional[BusinessCalendar] = None, team: Optional[str] = None
) -> str:
    """The weekly hours as one sentence, from the settings.

    "人工客服服务时间（北京时间）：周一至周五 09:00–12:00、13:30–18:00；周六、周日休息；法定节假日休息，调休上班日照常服务。"
    """
    calendar = calendar or get_calendar()
    schedule = calendar.schedule(team)
    zone = _zone_label(lang, schedule.timezone_name)
    if schedule.always_open:
        return texts.hours_always_open(lang)
    groups = _week_groups(schedule.weekly)
    open_parts = [
        f"{_day_range(lang, first, last)} {format_day_hours(lang, hours)}"
        for first, last, hours in groups
        if hours
    ]
    closed_days = [index for index, hours in enumerate(schedule.weekly) if not hours]
    names = EN_WEEKDAYS if _english(lang) else ZH_WEEKDAYS
    closed = _list(lang, [names[index] for index in closed_days]) if closed_days else ""
    return texts.weekly_hours(lang, zone, open_parts, closed, schedule.use_china_holidays)


def hours_answer(lang: str, at: dt.datetime, calendar: Optional[BusinessCalendar] = None) -> str:
    """The answer to "what are your hours": weekly hours, holidays now or in the next 14 days, open right now?

    Args:
        lang: `zh`, `zh_hant` or `en`.
        at: the (timezone-aware) moment of the question.
        calendar: the calendar to use (default `get_calendar()`).
    """
    calendar = calendar or get_calendar()
    tz = calendar.timezone
    today = at.astimezone(tz).date()
    horizon = today + dt.timedelta(days=HOLIDAY_NOTICE_DAYS)
    sentences = [weekly_hours_text(lang, calendar)]
    periods = calendar.holiday_periods_between(today, horizon)
    for period in periods:
        sentences.append(holiday_notice(lang, period) + ("." if _english(lang) else "。"))
    extra = sorted(
        day
        for day in calendar.settings.main.extra_closed
        if today <= day <= horizon and not any(p.contains(day) for p in periods)
    )
    if extra:
        sentences.append(texts.also_closed(lang, _list(lang, [format_date(lang, day) for day in extra])))
    if calendar.is_open(at):
        sentences.append(texts.open_now(lang))
    else:
        sentences.append(texts.closed_now(lang, format_moment(lang, calendar.reply_from(at), at.astimezone(tz))))
    return " ".join(sentences) if _english(lang) else "".join(sentences)


def greeting(lang: str, at: dt.datetime, calendar: Optional[BusinessCalendar] = None) -> str:
    """The greeting; when the agents are off now it adds when they are back and that FAQ still work.

    "您好！我是智能客服，有什么可以帮您？" / "Hi! I'm the virtual assistant. How can I help you?"
    """
    calendar = calendar or get_calendar()
    if calendar.is_open(at):
        return texts.greeting(lang)
    return texts.greeting(lang, format_moment(lang, calendar.reply_from(at), at.astimezone(calendar.timezone)))


def emergency_contact(lang: str, settings: Optional[Mapping[str, Any]] = None) -> str:
    """The 24/7 emergency contact from `emergency.contact_zh` / `emergency.contact_en`.

    Raises:
        SettingsError: the `emergency:` section or the contact is missing.
    """
    if settings is None:
        from bot.settings import load_settings

        settings = load_settings()
    section = settings.get("emergency")
    if not isinstance(section, dict):
        raise SettingsError("emergency: the section is missing (contact_zh, contact_en)")
    key = "contact_en" if _english(lang) else "contact_zh"
    value = section.get(key)
    if not isinstance(value, str) or not value.strip():
        raise SettingsError(f"emergency.{key}: missing; give the 24/7 emergency contact shown to customers")
    return value.strip()


def emergency_reply(lang: str, settings: Optional[Mapping[str, Any]] = None) -> str:
    """The reply to an urgent matter (lost card, fraud, account taken over): call the 24/7 line now.

    It never tells the customer to wait. "您的情况很紧急，请立即拨打24小时紧急热线 400-820-0000，我们会马上为您处理。"
    / "This is urgent: please call our 24/7 emergency line +86 400-820-0000 right now and we will help you
    straight away."
    """
    return texts.emergency(lang, emergency_contact(lang, settings))
