"""Exact texts of the off-hours reply, the hours answer, the greeting and the emergency reply."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.calendar import BusinessCalendar
from bot.calendar import messages
from bot.i18n import to_traditional
from bot.settings import SettingsError

from calendar_helpers import BASE_SETTINGS, at, settings_with

OFFHOURS_ZH = (
    "我们的人工客服已下班。您的留言已记录（工单号 T-000123），人工客服将于 10月9日（周四）09:00 起回复，预计 10:00 前。"
    "您现在仍可以向我咨询常见问题。"
)
OFFHOURS_EN = (
    "Our agents are offline. Your message is saved (ticket T-000123) and an agent will reply from Thu 9 Oct, 09:00, "
    "expected by 10:00. You can still ask me common questions now."
)
WEEKLY_ZH = "人工客服服务时间（北京时间）：周一至周五 09:00–12:00、13:30–18:00；周六、周日休息；法定节假日休息，调休上班日照常服务。"
WEEKLY_EN = (
    "Our agents are available Mon–Fri 09:00–12:00 and 13:30–18:00 (Beijing time); closed Sat and Sun and on public "
    "holidays, open on official make-up working days."
)


def test_offhours_reply_during_national_day(calendar: BusinessCalendar) -> None:
    moment = at("2025-10-03 20:15")
    assert messages.offhours_reply("zh", moment, "T-000123", calendar=calendar) == OFFHOURS_ZH
    assert messages.offhours_reply("en", moment, "T-000123", calendar=calendar) == OFFHOURS_EN
    traditional = messages.offhours_reply("zh_hant", moment, "T-000123", calendar=calendar)
    assert traditional == to_traditional(OFFHOURS_ZH)
    assert "（週四）09:00" in traditional and "工單號 T-000123" in traditional


def test_offhours_reply_without_ticket_and_with_a_longer_budget(calendar: BusinessCalendar) -> None:
    moment = at("2025-10-09 18:30")
    assert messages.offhours_reply("zh", moment, calendar=calendar, first_response=dt.timedelta(hours=8)) == (
        "我们的人工客服已下班。您的留言已记录，人工客服将于 10月10日（周五）09:00 起回复，预计 10月11日（周六）09:30 前。"
        "您现在仍可以向我咨询常见问题。"
    )
    assert messages.offhours_reply("en", moment, calendar=calendar, first_response=dt.timedelta(hours=4)) == (
        "Our agents are offline. Your message is saved and an agent will reply from Fri 10 Oct, 09:00, "
        "expected by 14:30. You can still ask me common questions now."
    )


def test_offhours_reply_names_the_year_when_it_changes(calendar: BusinessCalendar) -> None:
    moment = at("2025-12-31 20:00")  # New Year 2026: Jan 1-3 off, Sunday Jan 4 is a make-up working day
    assert messages.offhours_reply("en", moment, "T-9", calendar=calendar) == (
        "Our agents are offline. Your message is saved (ticket T-9) and an agent will reply from Sun 4 Jan 2026, "
        "09:00, expected by 10:00. You can still ask me common questions now."
    )
    assert "2026年1月4日（周日）09:00 起回复" in messages.offhours_reply("zh", moment, calendar=calendar)


def test_offhours_reply_for_a_team_and_in_another_zone(calendar: BusinessCalendar) -> None:
    # Given in UTC, named in Shanghai time: Sunday 2025-11-30 12:00 UTC = 20:00 Shanghai.
    moment = dt.datetime(2025, 11, 30, 12, 0, tzinfo=dt.timezone.utc)
    assert "12月1日（周一）09:00 起回复，预计 10:00 前" in messages.offhours_reply(
        "zh", moment, calendar=calendar
    )
    # The night team opens at 22:00 the same evening.
    assert "will reply from Sun 30 Nov, 22:00, expected by 23:00" in messages.offhours_reply(
        "en", moment, team="night", calendar=calendar
    )


def test_hours_answer_announces_a_holiday_within_14_days(calendar: BusinessCalendar) -> None:
    moment = at("2025-09-25 10:15")  # Thursday, open; National Day starts in 6 days
    assert messages.hours_answer("zh", moment, calendar=calendar) == (
        WEEKLY_ZH + "国庆假期 10月1日–8日休息，10月9日恢复。现在是服务时间，人工客服在线。"
    )
    assert messages.hours_answer("en", moment, calendar=calendar) == (
        WEEKLY_EN + " Closed for National Day 1–8 Oct, back on Thu 9 Oct. We are open now."
    )
    assert messages.hours_answer("zh_hant", moment, calendar=calendar) == to_traditional(
        messages.hours_answer("zh", moment, calendar=calendar)
    )


def test_hours_answer_during_the_holiday(calendar: BusinessCalendar) -> None:
    assert messages.hours_answer("zh", at("2025-10-03 20:15"), calendar=calendar) == (
        WEEKLY_ZH + "国庆假期 10月1日–8日休息，10月9日恢复。"
        "现在人工客服已下班，将于 10月9日（周四）09:00 起回复；常见问题我现在就可以为您解答。"
    )


def test_hours_answer_without_holiday_and_further_than_14_days(calendar: BusinessCalendar) -> None:
    assert messages.hours_answer("en", at("2025-11-30 20:00"), calendar=calendar) == (
        WEEKLY_EN
        + " We are closed now; agents will reply from Mon 1 Dec, 09:00. I can still answer common questions now."
    )
    # Spring Festival 2026 starts Feb 15: 15 days after Jan 31 is too far, 14 days after Feb 1 is not.
    assert "春节" not in messages.hours_answer("zh", at("2026-01-31 10:00"), calendar=calendar)
    assert "春节假期 2月15日–23日休息，2月24日恢复。" in messages.hours_answer(
        "zh", at("2026-02-01 10:00"), calendar=calendar
    )


def test_hours_answer_lists_extra_closures(make_calendar) -> None:  # type: ignore[no-untyped-def]
    calendar = make_calendar(extra_closed=["2025-12-24", "2025-12-26", "2026-03-02"])
    text = messages.hours_answer("en", at("2025-12-22 10:00"), calendar=calendar)
    assert (
        "Closed for New Year's Day 1–3 Jan, back on Sun 4 Jan. Also closed on Wed 24 Dec and Fri 26 Dec."
        in text
    )
    assert "另外 12月24日（周三）、12月26日（周五）休息。" in messages.hours_answer(
        "zh", at("2025-12-22 10:00"), calendar=calendar
    )


def test_weekly_hours_of_other_schedules(make_calendar) -> None:  # type: ignore[no-untyped-def]
    calendar = make_calendar(
        timezone="+05:30",
        use_china_holidays=False,
        hours={
            "mon": ["09:00-17:00"],
            "tue": ["09:00-17:00"],
            "wed": ["10:00-16:00"],
            "sat": ["10:00-12:00"],
        },
    )
    assert messages.weekly_hours_text("en", calendar) == (
        "Our agents are available Mon and Tue 09:00–17:00; Wed 10:00–16:00; Sat 10:00–12:00 (UTC+05:30 time); "
        "closed Thu, Fri and Sun."
    )
    assert messages.weekly_hours_text("zh", calendar) == (
        "人工客服服务时间（UTC+05:30 时间）：周一、周二 09:00–17:00；周三 10:00–16:00；周六 10:00–12:00；周四、周五、周日休息。"
    )
    assert messages.weekly_hours_text("en", calendar, team="emergency") == "Our agents are available 24/7."


def test_greeting_open_and_closed(calendar: BusinessCalendar) -> None:
    assert messages.greeting("zh", at("2025-12-01 10:00"), calendar) == "您好！我是智能客服，有什么可以帮您？"
    assert (
        messages.greeting("en", at("2025-12-01 10:00"), calendar)
        == "Hi! I'm the virtual assistant. How can I help you?"
    )
    assert messages.greeting("zh", at("2025-11-30 20:00"), calendar) == (
        "您好！我是智能客服，有什么可以帮您？现在人工客服已下班，将于 12月1日（周一）09:00 起回复；常见问题我现在就可以为您解答。"
    )
    assert messages.greeting("en", at("2025-11-30 20:00"), calendar) == (
        "Hi! I'm the virtual assistant. How can I help you? Our agents are offline now and will be back from "
        "Mon 1 Dec, 09:00; I can still answer common questions now."
    )
    assert messages.greeting("zh_hant", at("2025-11-30 20:00"), calendar).startswith(
        "您好！我是智慧客服，有什麼可以幫您？"  # the Taiwan standard's word for "smart"
    )


def test_emergency_reply_never_says_wait() -> None:
    zh = messages.emergency_reply("zh", BASE_SETTINGS)
    en = messages.emergency_reply("en", BASE_SETTINGS)
    assert zh == "您的情况很紧急，请立即拨打24小时紧急热线 400-820-0000，我们会马上为您处理。"
    assert (
        en
        == "This is urgent: please call our 24/7 emergency line +86 400-820-0000 right now and we will help you straight away."
    )
    assert messages.emergency_reply("zh_hant", BASE_SETTINGS) == to_traditional(zh)
    for text in (zh, en):
        assert not any(word in text.lower() for word in ("等", "稍后", "wait", "monday", "later", "周一"))


def test_emergency_contact_must_be_configured() -> None:
    settings = settings_with()
    del settings["emergency"]["contact_en"]
    with pytest.raises(SettingsError, match=r"^emergency.contact_en: missing"):
        messages.emergency_reply("en", settings)
    assert messages.emergency_reply("zh", settings)  # the Chinese contact is still there
    with pytest.raises(SettingsError, match=r"^emergency: the section is missing"):
        messages.emergency_reply("zh", {"version": 1})


def test_unknown_language_falls_back_to_simplified_chinese(calendar: BusinessCalendar) -> None:
    assert messages.offhours_reply("fr", at("2025-10-03 20:15"), "T-000123", calendar=calendar) == OFFHOURS_ZH


def test_offhours_reply_accepts_the_desk_due_time(calendar: BusinessCalendar) -> None:
    moment = at("2025-10-03 20:15")
    # The desk computed the first-response due time itself (Oct 9 09:02): it is shown as is.
    text = messages.offhours_reply(
        "en", moment, "T-7", first_response=at("2025-10-09 09:02"), calendar=calendar
    )
    assert "will reply from Thu 9 Oct, 09:00, expected by 09:02." in text
    # A due time that is not after the opening (here: during the holiday) falls back to the 1-hour budget.
    text = messages.offhours_reply("zh", moment, first_response=at("2025-10-08 10:00"), calendar=calendar)
    assert "10月9日（周四）09:00 起回复，预计 10:00 前" in text
    text = messages.offhours_reply("zh", moment, first_response=None, calendar=calendar)
    assert "10月9日（周四）09:00 起回复，预计 10:00 前" in text
