"""The period figures (`bot.desk.kpis`), each from tickets and turns built by hand, on the real business calendar
of `settings.yml` (Asia/Shanghai, Mon–Fri 09:00–12:00 and 13:30–18:00, China's public holidays, an always-open
`emergency` team). Expected numbers are worked out by hand in the comments."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any, List, Optional
from zoneinfo import ZoneInfo

import pytest

from bot.calendar import BusinessCalendar
from bot.desk.kpis import Figures, PeriodData, Turn, contacts_of, light, percentile
from bot.desk.records import Ticket, TicketStatus

TZ = ZoneInfo("Asia/Shanghai")
_IDS = itertools.count(1)
TARGETS = {"socketio": 120, "rest": 120, "wechat": 180, "wecom": 180}


def at(*parts: int) -> float:
    """Epoch seconds of a local Shanghai time."""
    return dt.datetime(*parts, tzinfo=TZ).timestamp()


def ticket(created: float, *, status: str = "resolved", first: Optional[float] = None, claimed: Optional[float] = None,
           closed: Optional[float] = None, channel: str = "socketio", grade: str = "B", reason: str = "asked_for_human",
           topic: Optional[str] = None, team: Optional[str] = None, customer: Optional[str] = None,
           conversation: Optional[str] = None, assignee: Optional[str] = None, rating: Optional[int] = None,
           abandoned: Optional[float] = None, complaint: bool = False, due_first: Optional[float] = None,
           due_resolution: Optional[float] = None, nps: Optional[int] = None) -> Ticket:
    number = next(_IDS)
    return Ticket(
        id=number, conversation_id=conversation or f"{channel}:c{number}", channel=channel,
        status=TicketStatus(status), grade=grade, reason=reason, topic=topic, skill="general", team=team,
        requires_senior=False, customer_id=customer, customer_name=None, tier=None, language="zh", vip=False,
        anger=0.0, assignee=assignee, context={}, created_at=created, created_real=created, skill_since=created,
        claimed_at=claimed, first_response_at=first, closed_at=closed,
        due_first_response=due_first if due_first is not None else created + 120,
        warn_first_response=created + 90,
        due_resolution=due_resolution if due_resolution is not None else created + 4 * 3600,
        warn_resolution=created + 3 * 3600, rating=rating, abandoned_at=abandoned, complaint=complaint, nps=nps,
    )


@pytest.fixture(scope="module")
def calendar() -> BusinessCalendar:
    return BusinessCalendar.from_settings()


def figures(calendar: BusinessCalendar, tickets: List[Ticket], turns: List[Turn] = (), *, start: float = at(2025, 9, 1),
            end: float = at(2025, 11, 1), now: float = at(2026, 1, 1), repeat_days: float = 30) -> Figures:
    data = PeriodData(start=start, end=end, now=now, tickets=tickets, turns=list(turns),
                      first_response_targets=TARGETS, repeat_complaint_days=repeat_days)
    return Figures(data, calendar)


def test_first_response_is_business_time_across_a_night_and_a_holiday(calendar: BusinessCalendar) -> None:
    tickets = [
        # Thu 17:59 -> Fri 09:01: 60 s before closing + 60 s after opening = 120 s (wall: 15 h 2 min)
        ticket(at(2025, 9, 25, 17, 59), first=at(2025, 9, 26, 9, 1)),
        # Tue 30 Sep 17:58 -> Thu 9 Oct 09:01, National Day (1–8 Oct) in between: 120 + 60 = 180 s; WeChat's
        # target is 180 s: within
        ticket(at(2025, 9, 30, 17, 58), first=at(2025, 10, 9, 9, 1), channel="wechat"),
        # the same wait on the web (target 120 s): not within
        ticket(at(2025, 9, 30, 17, 58), first=at(2025, 10, 9, 9, 1)),
        # lunch break: 11:59 -> 13:31 is 60 + 60 = 120 s
        ticket(at(2025, 9, 26, 11, 59), first=at(2025, 9, 26, 13, 31)),
        # the emergency team is always open: 3 Oct 10:00 -> 11:00 counts the whole hour, holiday or not
        ticket(at(2025, 10, 3, 10, 0), first=at(2025, 10, 3, 11, 0), team="emergency"),
        ticket(at(2025, 9, 26, 10, 0)),  # never answered: not counted
    ]
    first = figures(calendar, tickets).first_response(tickets)
    # waits: 120, 180, 180, 120, 3600 -> sorted 120, 120, 180, 180, 3600; p50 = 3rd = 180, p90 = 5th = 3600
    assert first["count"] == 5
    assert first["p50_seconds"] == 180.0 and first["p90_seconds"] == 3600.0
    assert first["average_seconds"] == 840.0  # 4200 / 5
    assert first["within_target"] == 3 and first["within_target_percent"] == 60.0


def test_speed_of_answer_resolution_and_handle_time(calendar: BusinessCalendar) -> None:
    monday = at(2025, 9, 22, 10, 0)
    tickets = [
        # claimed after 30 s, resolved after 2 business hours; in the agent's hands 7170 s
        ticket(monday, claimed=monday + 30, first=monday + 40, closed=monday + 7200),
        # Fri 17:00 claimed Mon 09:10 (3600 + 600 business s); resolved Mon 10:00 = 3600 + 3600 business s
        ticket(at(2025, 9, 19, 17, 0), claimed=at(2025, 9, 22, 9, 10), first=at(2025, 9, 22, 9, 11),
               closed=at(2025, 9, 22, 10, 0)),
        # handed back: handle time counts, resolution does not
        ticket(monday, status="handed_back", claimed=monday + 100, closed=monday + 400),
    ]
    f = figures(calendar, tickets)
    assert f.speed_of_answer(tickets) == {"count": 3, "average_seconds": round((30 + 4200 + 100) / 3, 1)}
    assert f.resolution(tickets) == {"count": 2, "average_seconds": 7200.0, "p50_seconds": 7200.0,
                                     "p90_seconds": 7200.0}
    wall_second = at(2025, 9, 22, 10, 0) - at(2025, 9, 22, 9, 10)
    assert f.handle_time(tickets) == {"count": 3, "average_seconds": round((7170 + wall_second + 300) / 3, 1)}


def test_abandonment_counts_abandoned_tickets_and_their_business_wait(calendar: BusinessCalendar) -> None:
    tickets = [
        ticket(at(2025, 9, 22, 10, 0), status="abandoned", abandoned=at(2025, 9, 22, 10, 12)),  # 720 s
        # left at 17:55, marked abandoned next morning at 09:05: 300 + 300 business s
        ticket(at(2025, 9, 22, 17, 55), status="abandoned", abandoned=at(2025, 9, 23, 9, 5)),
        ticket(at(2025, 9, 22, 10, 0), first=at(2025, 9, 22, 10, 1)),
        ticket(at(2025, 9, 22, 11, 0), first=at(2025, 9, 22, 11, 1)),
    ]
    assert figures(calendar, tickets).abandonment(tickets) == {
        "count": 2, "rate": 0.5, "percent": 50.0, "average_wait_seconds": 660.0,
    }


def test_containment_resolution_within_24_hours_and_fallback_rate(calendar: BusinessCalendar) -> None:
    t0 = at(2025, 9, 22, 10, 0)
    turns = [
        # a: one contact, no handoff, never back: resolved
        Turn("socketio:a", "socketio", t0, "faq_order_status"), Turn("socketio:a", "socketio", t0 + 60, "thanks"),
        # b: contained but back 5 h later (a second contact): the first is not resolved, the second is
        Turn("wechat:b", "wechat", t0, "faq_refund_status"), Turn("wechat:b", "wechat", t0 + 5 * 3600, "faq_refund_status"),
        # c: two fallbacks then a handoff
        Turn("socketio:c", "socketio", t0, "nlu_fallback"), Turn("socketio:c", "socketio", t0 + 30, "nlu_fallback"),
        Turn("socketio:c", "socketio", t0 + 60, "request_human"),
        # d: back 25 h later: both contacts resolved (the return is outside 24 h)
        Turn("rest:d", "rest", t0, "faq_invoice"), Turn("rest:d", "rest", t0 + 25 * 3600, "faq_coupon"),
    ]
    tickets = [ticket(t0 + 61, conversation="socketio:c", topic="faq_order_status")]
    assistant = figures(calendar, tickets, turns, start=t0 - 10, end=t0 + 86400).assistant()
    # contacts started in the period: a, b1, c, d1 (b2 starts at t0+5h: inside; d2 at t0+25h: outside) = 5
    assert assistant["contacts"] == 5 and assistant["handed_off"] == 1 and assistant["contained"] == 4
    assert assistant["containment_rate"] == 0.8
    # judged: all 5 (now is far later); resolved: a, b2, d1 = 3 (b1 came back, c was handed off)
    assert assistant["resolution"] == {"judged": 5, "resolved": 3, "pending": 0, "rate": 0.6, "percent": 60.0}
    # turns in the period: 8 (d's second is outside); fallbacks 2
    assert assistant["turns"] == 8 and assistant["fallbacks"] == 2 and assistant["fallback_rate"] == 0.25


def test_the_assistants_resolution_waits_24_hours_before_judging(calendar: BusinessCalendar) -> None:
    t0 = at(2025, 9, 22, 10, 0)
    turns = [Turn("socketio:a", "socketio", t0, "faq_coupon")]
    early = figures(calendar, [], turns, start=t0 - 10, end=t0 + 10, now=t0 + 3600).assistant()
    assert early["resolution"] == {"judged": 0, "resolved": 0, "pending": 1, "rate": None, "percent": None}
    late = figures(calendar, [], turns, start=t0 - 10, end=t0 + 10, now=t0 + 86400 + 1).assistant()
    assert late["resolution"]["resolved"] == 1


def test_handoffs_by_reason_and_topics(calendar: BusinessCalendar) -> None:
    t0 = at(2025, 9, 22, 10, 0)
    turns = [
        Turn("socketio:a", "socketio", t0, "faq_refund_status"),
        Turn("socketio:b", "socketio", t0, "faq_refund_status"), Turn("socketio:b", "socketio", t0 + 9, "complain"),
        Turn("socketio:c", "socketio", t0, "faq_coupon"), Turn("socketio:c", "socketio", t0 + 5, "greet"),
    ]
    tickets = [ticket(t0 + 10, conversation="socketio:b", reason="anger", topic="faq_refund_status"),
               ticket(t0 + 20, reason="asked_for_human"), ticket(t0 + 30, reason="anger")]
    f = figures(calendar, tickets, turns, start=t0 - 10, end=t0 + 100)
    report = f.report()
    assert report["handoffs_by_reason"] == {"anger": 2, "asked_for_human": 1}
    topics = report["topics"]
    # greet is not a topic; faq_refund_status 2 turns, complain 1, faq_coupon 1
    assert topics["top"] == [
        {"topic": "faq_refund_status", "turns": 2, "contacts": 2},
        {"topic": "complain", "turns": 1, "contacts": 1},
        {"topic": "faq_coupon", "turns": 1, "contacts": 1},
    ]
    assert topics["ending_in_handoff"] == [
        {"topic": "complain", "contacts": 1, "handed_off": 1, "handoff_rate": 1.0},
        {"topic": "faq_refund_status", "contacts": 2, "handed_off": 1, "handoff_rate": 0.5},
    ]
    assert topics["tickets_by_topic"] == {"none": 2, "faq_refund_status": 1}


def test_one_contact_resolution_looks_seven_days_ahead_by_customer(calendar: BusinessCalendar) -> None:
    t0 = at(2025, 9, 22, 10, 0)
    day = 86400
    tickets = [
        ticket(t0, customer="alice"),  # alice again 3 days later: not one contact
        ticket(t0 + 3 * day, customer="alice"),  # (created in the period, judged, no repeat after it)
        ticket(t0, customer="bob"),  # bob again after 8 days: one contact
        ticket(t0 + 8 * day, customer="bob"),  # outside the period (the period is 5 days)
        ticket(t0, conversation="wechat:openid-1", channel="wechat"),  # WeChat: by conversation (OpenID)
        ticket(t0 + day, conversation="wechat:openid-1", channel="wechat", status="handed_back"),
        ticket(t0 + 4 * day, customer="carol"),  # judged only 7 days after: pending at `now`
    ]
    f = figures(calendar, tickets, start=t0 - 10, end=t0 + 5 * day, now=t0 + 10 * day)
    result = f.one_contact_resolution(f.in_period)
    # resolved in the period: alice1, alice2, bob1, openid1, carol (5); judged 4 (carol's 7 days end at t0+11d)
    # one contact: alice2, bob1 = 2 (alice1 had alice2; openid1 had a ticket the next day)
    assert result == {"judged": 4, "resolved_first_contact": 2, "pending": 1, "rate": 0.5, "percent": 50.0}


def test_complaint_and_second_complaint_rate(calendar: BusinessCalendar) -> None:
    t0 = at(2025, 9, 22, 10, 0)
    day = 86400
    tickets = [
        ticket(t0 - 20 * day, customer="alice", complaint=True),  # before the period, within 30 days
        ticket(t0, customer="alice", complaint=True),  # second complaint
        ticket(t0, customer="bob", complaint=True),  # first
        ticket(t0 + day, customer="bob", complaint=True),  # second
        ticket(t0 - 40 * day, customer="carol", complaint=True),  # 40 days before: outside the window
        ticket(t0, customer="carol", complaint=True),  # first within the window
        ticket(t0, customer="dave"), ticket(t0, customer="erin"),  # not complaints
    ]
    f = figures(calendar, tickets, start=t0 - 10, end=t0 + 5 * day)
    assert f.complaints(f.in_period) == {
        "count": 4, "rate": round(4 / 6, 4), "second": 2, "second_rate": 0.5, "window_days": 30,
    }


def test_csat_share_distribution_and_by_waiting_time(calendar: BusinessCalendar) -> None:
    t0 = at(2025, 9, 22, 10, 0)
    tickets = [
        ticket(t0, first=t0 + 30, rating=5), ticket(t0, first=t0 + 50, rating=4),  # 0-60
        ticket(t0, first=t0 + 100, rating=2),  # 60-180
        # Fri 17:58 -> Mon 09:05: 120 + 300 = 420 business s: 180-600 (wall: 2.6 days)
        ticket(at(2025, 9, 19, 17, 58), first=at(2025, 9, 22, 9, 5), rating=4),
        ticket(t0, first=t0 + 900, rating=1),  # 600+
        ticket(t0, first=t0 + 10),  # not rated
    ]
    csat = figures(calendar, tickets).csat(tickets)
    assert csat["count"] == 5 and csat["share_4_5"] == 0.6 and csat["share_4_5_percent"] == 60.0
    assert csat["average"] == 3.2
    assert csat["distribution"] == {"1": 1, "2": 1, "3": 0, "4": 2, "5": 1}
    assert csat["by_wait"] == {
        "0-60": {"count": 2, "share_4_5": 1.0}, "60-180": {"count": 1, "share_4_5": 0.0},
        "180-600": {"count": 1, "share_4_5": 1.0}, "600+": {"count": 1, "share_4_5": 0.0},
    }


def test_nps_is_promoters_percent_minus_detractors_percent(calendar: BusinessCalendar) -> None:
    t0 = at(2025, 9, 22, 10, 0)
    scores = [10, 9, 9, 8, 7, 6, 0, 3]  # 3 promoters, 2 passives, 3 detractors of 8
    tickets = [ticket(t0, rating=4, nps=n) for n in scores] + [ticket(t0, rating=5), ticket(t0)]  # no answer: left out
    tickets.append(ticket(at(2025, 12, 1, 10, 0), rating=5, nps=10))  # created after the period
    nps = figures(calendar, tickets).report()["nps"]
    assert nps["count"] == 8 and (nps["promoters"], nps["passives"], nps["detractors"]) == (3, 2, 3)
    assert nps["score"] == 0.0
    assert nps["distribution"] == {str(n): scores.count(n) for n in range(11)}
    # 9 and 10 promote, 7 and 8 do not count either way, 6 and below detract: 2 of 3 promoters = 66.7
    three = [ticket(t0, nps=9), ticket(t0, nps=7), ticket(t0, nps=10)]
    assert figures(calendar, three).nps(three)["score"] == 66.7
    low = [ticket(t0, nps=6), ticket(t0, nps=8)]
    assert figures(calendar, low).nps(low)["score"] == -50.0


def test_nps_without_answers_is_none_not_zero(calendar: BusinessCalendar) -> None:
    tickets = [ticket(at(2025, 9, 22, 10, 0), rating=5)]
    report = figures(calendar, tickets).report(group_by="channel")
    assert report["nps"]["score"] is None and report["nps"]["count"] == 0
    assert report["groups"]["socketio"]["nps"] is None


def test_sla_met_by_grade_and_channel(calendar: BusinessCalendar) -> None:
    t0 = at(2025, 9, 22, 10, 0)
    now = t0 + 1000
    tickets = [
        ticket(t0, grade="A", first=t0 + 60, closed=t0 + 600),  # met
        ticket(t0, grade="A", first=t0 + 200, closed=t0 + 600),  # first response late
        ticket(t0, grade="B", channel="wechat", first=t0 + 60, closed=t0 + 5 * 3600),  # resolution late
        ticket(t0, grade="B", channel="wechat", status="queued"),  # open, first response already late
        ticket(now - 10, grade="B", status="queued"),  # open, not late yet: not judged
        ticket(t0, grade="C", status="abandoned", abandoned=t0 + 60),  # left before its due time: not judged
        ticket(t0, grade="C", status="abandoned", abandoned=t0 + 600),  # left after it: missed
    ]
    sla = figures(calendar, tickets, now=now).sla(tickets)
    assert (sla["judged"], sla["met"], sla["met_percent"]) == (5, 1, 20.0)
    assert sla["by_grade"] == {
        "A": {"judged": 2, "met": 1, "met_percent": 50.0},
        "B": {"judged": 2, "met": 0, "met_percent": 0.0},
        "C": {"judged": 1, "met": 0, "met_percent": 0.0},
    }
    assert sla["by_channel"]["wechat"] == {"judged": 2, "met": 0, "met_percent": 0.0}
    assert sla["by_channel"]["socketio"] == {"judged": 3, "met": 1, "met_percent": round(100 / 3, 1)}


def test_volume_by_channel_local_hour_and_weekday(calendar: BusinessCalendar) -> None:
    tickets = [
        ticket(at(2025, 9, 22, 9, 30)), ticket(at(2025, 9, 22, 9, 45), channel="wechat"),  # Monday 09 h
        ticket(at(2025, 9, 27, 23, 59), channel="wechat"),  # Saturday 23 h local (15 h UTC)
    ]
    volume = figures(calendar, tickets).volume(tickets)
    assert volume["tickets_by_channel"] == {"socketio": 1, "wechat": 2}
    assert volume["tickets_by_hour"]["9"] == 2 and volume["tickets_by_hour"]["23"] == 1
    assert sum(volume["tickets_by_hour"].values()) == 3
    assert volume["tickets_by_weekday"] == {"mon": 2, "tue": 0, "wed": 0, "thu": 0, "fri": 0, "sat": 1, "sun": 0}


def test_agents_figures(calendar: BusinessCalendar) -> None:
    t0 = at(2025, 9, 22, 10, 0)
    tickets = [
        ticket(t0, assignee="alice", claimed=t0 + 10, first=t0 + 20, closed=t0 + 310, rating=5),
        ticket(t0, assignee="alice", claimed=t0 + 10, first=t0 + 100, closed=t0 + 110, rating=3),
        ticket(t0, assignee="bob", status="handed_back", claimed=t0, first=t0 + 5, closed=t0 + 60),
        ticket(t0, status="queued"),
    ]
    agents = figures(calendar, tickets).agents(tickets)
    assert agents == [
        {"agent": "alice", "tickets": 2, "resolved": 2, "first_response_p50_seconds": 20.0,
         "handle_average_seconds": 200.0, "csat_count": 2, "csat_share_4_5": 0.5, "qa_score": None},
        {"agent": "bob", "tickets": 1, "resolved": 0, "first_response_p50_seconds": 5.0,
         "handle_average_seconds": 60.0, "csat_count": 0, "csat_share_4_5": None, "qa_score": None},
    ]


def test_groups_by_day_fill_quiet_days_and_count_only_the_period(calendar: BusinessCalendar) -> None:
    tickets = [
        ticket(at(2025, 9, 22, 10, 0), first=at(2025, 9, 22, 10, 1), rating=5),
        ticket(at(2025, 9, 24, 23, 30)),  # local 24 Sep (15:30 UTC)
        ticket(at(2025, 9, 25, 0, 30)),  # outside the period
    ]
    f = figures(calendar, tickets, start=at(2025, 9, 22), end=at(2025, 9, 25))
    days = f.groups("day")
    assert list(days) == ["2025-09-22", "2025-09-23", "2025-09-24"]
    assert [g["tickets"] for g in days.values()] == [1, 0, 1]
    assert days["2025-09-22"]["first_response_p50_seconds"] == 60.0 and days["2025-09-22"]["csat_share_4_5"] == 1.0
    assert f.groups("channel") == {"socketio": f.group_figures(f.in_period)}
    assert len(f.groups("hour")) == 24


def test_contacts_split_at_an_hour_of_silence() -> None:
    turns = [Turn("x", "rest", 0, "a"), Turn("x", "rest", 3599, "b"), Turn("x", "rest", 7199, "c"),
             Turn("y", "rest", 10, None)]
    contacts = contacts_of(turns)
    assert [(c.conversation_id, c.start, c.end, c.intents) for c in contacts] == [
        ("x", 0, 3599, ("a", "b")), ("y", 10, 10, ()), ("x", 7199, 7199, ("c",)),
    ]


@pytest.mark.parametrize(
    "value, threshold, color",
    [
        (95.0, {"green": 90, "yellow": 80}, "green"), (90.0, {"green": 90, "yellow": 80}, "green"),
        (85.0, {"green": 90, "yellow": 80}, "yellow"), (79.9, {"green": 90, "yellow": 80}, "red"),
        (4.0, {"green": 5, "yellow": 10, "higher_is_better": False}, "green"),
        (7.0, {"green": 5, "yellow": 10, "higher_is_better": False}, "yellow"),
        (11.0, {"green": 5, "yellow": 10, "higher_is_better": False}, "red"),
        (None, {"green": 5, "yellow": 10}, None),
        # the NPS (-100..100, settings.yml: green 30, yellow 0): a score of 0 is yellow, below it red
        (30.0, {"green": 30, "yellow": 0}, "green"), (0.0, {"green": 30, "yellow": 0}, "yellow"),
        (-0.1, {"green": 30, "yellow": 0}, "red"), (-100.0, {"green": 30, "yellow": 0}, "red"),
        (None, {"green": 30, "yellow": 0}, None),
    ],
)
def test_lights(value: Any, threshold: Any, color: Any) -> None:
    assert light(value, threshold) == color


def test_nearest_rank_percentiles() -> None:
    values = [float(v) for v in range(10, 101, 10)]
    assert percentile(values, 0.5) == 50.0 and percentile(values, 0.9) == 90.0 and percentile([], 0.5) is None
