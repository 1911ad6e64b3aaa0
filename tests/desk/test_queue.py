"""Queue rules: priority, starvation, overflow, senior routing, capacity, position and wait."""

from __future__ import annotations

from bot.desk import queue as q
from bot.desk.config import DEFAULT_PRIORITY, load

W = DEFAULT_PRIORITY
RULES = q.QueueRules(W, general_skill="general", overflow_after=300, average_handle_seconds=240)


def ticket(tid: int, skill: str = "general", grade: str = "B", vip: bool = False, anger: float = 0.0,
           senior: bool = False, created: float = 0.0, skill_since: float | None = None) -> q.QueuedTicket:
    return q.QueuedTicket(tid, skill, grade, vip, anger, senior, created, created if skill_since is None else skill_since)


def agent(skills: list[str], senior: bool = False, capacity: int = 3, active: int = 0) -> q.AgentProfile:
    return q.AgentProfile("x", skills, senior, capacity, active)


def test_priority_adds_grade_vip_anger_and_waiting() -> None:
    assert RULES.priority("A", False, 0.0, 0) == 300
    assert RULES.priority("A", True, 0.0, 0) == 450
    assert RULES.priority("C", False, 0.5, 0) == 150
    assert RULES.priority("C", False, 0.0, 600) == 150  # 10 minutes x 5
    assert RULES.priority("B", True, 1.0, 120) == 200 + 150 + 100 + 10


def test_anger_is_clamped_and_unknown_grade_weighs_nothing() -> None:
    assert RULES.priority("B", False, 7.0, 0) == 300
    assert RULES.priority("Z", False, -1.0, 0) == 0


def test_waiting_prevents_starvation() -> None:
    old_c = ticket(1, grade="C", created=0)
    now = 10.0
    fresh_a = ticket(2, grade="A", created=now)
    assert [t.id for t in RULES.order([old_c, fresh_a], now)] == [2, 1]
    # (300 - 100) / 5 = 40 minutes later the old C ticket is served first.
    later = 41 * 60.0
    fresh_a = ticket(2, grade="A", created=later)
    assert [t.id for t in RULES.order([old_c, fresh_a], later)] == [1, 2]


def test_equal_priority_serves_oldest_first() -> None:
    a, b = ticket(1, created=5.0), ticket(2, created=5.0)
    assert [t.id for t in RULES.order([b, a], 5.0)] == [1, 2]


def test_routing_by_skill_and_overflow_to_general() -> None:
    orders = ticket(1, skill="orders", created=0.0)
    general_agent = agent(["general"])
    orders_agent = agent(["orders"])
    assert RULES.can_take(orders_agent, orders, 10)
    assert not RULES.can_take(general_agent, orders, 10)
    assert not RULES.is_overflowing(orders, 300)
    assert RULES.can_take(general_agent, orders, 301)
    assert RULES.groups_of(orders, 301) == ["orders", "general"]
    # A transfer restarts the skill clock.
    moved = ticket(2, skill="orders", created=0.0, skill_since=200.0)
    assert not RULES.can_take(general_agent, moved, 400)


def test_repeat_complaints_need_a_senior() -> None:
    assert q.needs_senior("repeat_complaint") and not q.needs_senior("anger")
    complaint = ticket(1, skill="general", senior=True)
    assert not RULES.can_take(agent(["general"]), complaint, 0)
    assert RULES.can_take(agent(["general"], senior=True), complaint, 0)
    # Overflow does not lift the senior requirement.
    late = ticket(2, skill="orders", senior=True)
    assert not RULES.can_take(agent(["general"]), late, 10_000)
    assert RULES.can_take(agent(["general"], senior=True), late, 10_000)


def test_capacity_and_wildcard_skill() -> None:
    t = ticket(1, skill="payments")
    assert RULES.can_take(agent(["*"]), t, 0)
    assert not RULES.can_take(agent(["*"], capacity=2, active=2), t, 0)
    assert RULES.can_take(agent(["*"], capacity=2, active=2), t, 0, check_capacity=False)


def test_position_is_within_the_skill_group_and_counts_overflow_in_general() -> None:
    now = 1000.0
    queued = [
        ticket(1, skill="general", grade="C", created=now),
        ticket(2, skill="general", grade="A", created=now),
        ticket(3, skill="orders", grade="A", created=now),
        ticket(4, skill="orders", grade="B", created=0.0, skill_since=0.0),  # overflowing, waited 1000 s
    ]
    pos = {t.id: RULES.position(t.id, queued, now) for t in queued}
    # orders group: 4 has 200 + 1000/60*5 = 283.3 < 300 -> 3 first, then 4.
    assert pos[3] == 1 and pos[4] == 2
    # general group: 2 (A, 300), 4 (overflow, 283.3), 1 (C, 100).
    assert pos[2] == 1 and pos[1] == 3
    assert RULES.position(99, queued, now) is None


def test_expected_wait_and_next_ticket() -> None:
    assert RULES.expected_wait_seconds(3) == 720
    assert RULES.expected_wait_seconds(2, seconds_until_open=3600) == 4080
    assert RULES.expected_wait_seconds(None) == 0
    queued = [ticket(1, skill="orders", grade="A"), ticket(2, skill="general", grade="C")]
    assert RULES.next_for(agent(["general"]), queued, 10).id == 2
    assert RULES.next_for(agent(["general", "orders"]), queued, 10).id == 1
    assert RULES.next_for(agent(["general"], capacity=1, active=1), queued, 10) is None


def test_expected_wait_from_the_agents_online() -> None:
    busy, free = agent(["orders"], capacity=3, active=3), agent(["orders"], capacity=3, active=1)
    assert RULES.expected_wait_seconds(1, agents=[]) is None  # open, nobody online: no estimate
    assert RULES.expected_wait_seconds(2, agents=[free]) == 0  # two free slots: served at once
    assert RULES.expected_wait_seconds(3, agents=[free]) == 80  # one beyond the free slots: 240 / 3
    assert RULES.expected_wait_seconds(1, agents=[busy]) == 80
    assert RULES.expected_wait_seconds(7, agents=[busy, busy]) == 280  # 7 x 240 / 6 slots
    # closed: the agents online now are not the ones who answer at the opening
    assert RULES.expected_wait_seconds(2, seconds_until_open=3600, agents=[]) == 4080


def test_who_could_serve_a_ticket() -> None:
    orders, senior_orders = ticket(1, skill="orders"), ticket(2, skill="orders", senior=True)
    assert RULES.could_serve(agent(["orders"]), orders)
    assert RULES.could_serve(agent(["general"]), orders)  # once it overflows
    assert RULES.could_serve(agent(["*"]), orders)
    assert not RULES.could_serve(agent(["payments"]), orders)
    assert not RULES.could_serve(agent(["orders"]), senior_orders)
    assert RULES.could_serve(agent(["orders"], senior=True, active=3), senior_orders)  # capacity aside


def test_rules_come_from_the_desk_settings(settings) -> None:
    desk = load(settings)
    rules = q.QueueRules.from_settings(desk)
    assert rules.weights == desk.priority and rules.general_skill == desk.general_skill
    assert rules.overflow_after == desk.overflow_after_seconds == 300
    assert rules.average_handle_seconds == desk.average_handle_seconds
    # Other settings, other answers: a shorter overflow delay, a longer handle time, heavier VIPs.
    custom = load({**settings, "desk": {**settings["desk"], "overflow_after_seconds": 60, "average_handle_seconds": 100,
                                        "priority": {"vip": 1000}}})
    other = q.QueueRules.from_settings(custom)
    orders = ticket(1, skill="orders", created=0.0)
    assert other.can_take(agent(["general"]), orders, 61) and not rules.can_take(agent(["general"]), orders, 61)
    assert other.expected_wait_seconds(3) == 300 and rules.expected_wait_seconds(3) == 720
    assert other.priority("B", True, 0.0, 0) == 1200 and rules.priority("B", True, 0.0, 0) == 350


def test_rules_are_frozen() -> None:
    import dataclasses

    import pytest

    with pytest.raises(dataclasses.FrozenInstanceError):
        RULES.general_skill = "x"  # type: ignore[misc]
