"""`action_handoff` and `action_survey_answer` against a real loopback HTTP server playing the desk."""

from __future__ import annotations

import copy
import json
from typing import Any, Awaitable, Callable, Dict, List, Optional

import jsonschema
import pytest
from rasa_sdk import Tracker
from rasa_sdk.events import ConversationPaused, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.handoff import ActionHandoff
from actions.survey import ActionSurveyAnswer, ActionSurveyComment, parse_rating
from bot.handoff.client import DeskClient, DeskError, DeskUnavailable
from bot.settings import repo_root

from .conftest import DESK_SECRET, FakeDesk

OPEN_NOW = "2025-12-01T10:01:05+08:00"  # a Monday morning
CLOSED_NOW = "2025-12-06T20:00:00+08:00"  # a Saturday evening
EMERGENCY_LINE = "24小时紧急热线 400-820-0000"  # settings.yml: emergency.contact_zh


def texts(dispatcher: CollectingDispatcher) -> List[str]:
    assert all(set(m) >= {"text"} and not m.get("buttons") for m in dispatcher.messages)
    return [m["text"] for m in dispatcher.messages]


def ticket_answer(**overrides: Any) -> Dict[str, Any]:
    answer = {
        "id": "T-000123", "position": 3, "expected_wait_seconds": 240, "agents_online": 1, "open_now": True,
        "next_opening": None,
        "due": {"first_response": "2025-12-01T10:03:05+08:00", "resolution": "2025-12-01T11:01:05+08:00"},
    }
    answer.update(overrides)
    return answer


# An off-hours answer: the team opens again on Monday morning, the ticket due soon after.
MONDAY_OPENING: Dict[str, Any] = {
    "open_now": False, "next_opening": "2025-12-08T09:00:00+08:00",
    "due": {"first_response": "2025-12-08T09:02:00+08:00", "resolution": "2025-12-08T10:00:00+08:00"},
}


def with_slots(state: Dict[str, Any], **slots: Any) -> Tracker:
    state = copy.deepcopy(state)
    state["slots"].update(slots)
    return Tracker.from_dict(state)


HandOff = Callable[..., Awaitable[List[Dict[str, Any]]]]


@pytest.fixture
def hand_off(fake_desk: FakeDesk, dispatcher: CollectingDispatcher, monkeypatch: pytest.MonkeyPatch) -> HandOff:
    """Run `action_handoff` on a tracker at `now`, the desk answering the new ticket with (`status`, `answer`).

    Returns what the action returns: its events.
    """

    async def run(
        tracker: Tracker, answer: Optional[Dict[str, Any]] = None, now: str = OPEN_NOW, status: int = 201
    ) -> List[Dict[str, Any]]:
        monkeypatch.setenv("FRONTLINE_NOW", now)
        fake_desk.routes[("POST", "/internal/tickets")] = (status, ticket_answer() if answer is None else answer)
        return await ActionHandoff().run(dispatcher, tracker, {})

    return run


@pytest.fixture
def schema_validator() -> jsonschema.Draft202012Validator:
    schema = json.loads((repo_root() / "docs" / "context-packet.schema.json").read_text(encoding="utf-8"))
    return jsonschema.Draft202012Validator(schema)


async def test_open_hours_queue_message_ticket_and_pause(
    hand_off: HandOff, fake_desk: FakeDesk, angry_state: Dict[str, Any], dispatcher: CollectingDispatcher,
    schema_validator: Any,
) -> None:
    earlier = [{"id": "T-000007", "status": "resolved", "reason": "anger"}]
    fake_desk.routes[("GET", "/internal/customers/u-1001/tickets")] = (200, {"tickets": earlier})

    events = await hand_off(with_slots(angry_state, handoff_reason="asked_for_human", handoff_grade=None))

    assert events == [SlotSet("ticket_id", "T-000123"), ConversationPaused()]
    assert texts(dispatcher) == ["您已进入人工客服队列，前面还有 2 位，预计等待约 4 分钟。"]
    assert [(r["method"], r["path"]) for r in fake_desk.requests] == [
        ("GET", "/internal/customers/u-1001/tickets"), ("POST", "/internal/tickets"),
    ]
    assert all(r["headers"]["X-Frontline-Secret"] == DESK_SECRET for r in fake_desk.requests)
    packet = fake_desk.requests[1]["json"]
    schema_validator.validate(packet)
    assert packet["created_at"] == OPEN_NOW
    assert (packet["reason"], packet["grade"]) == ("asked_for_human", "B")
    assert packet["customer"]["earlier_tickets"] == earlier
    assert packet["conversation_id"] == "socketio:conv-angry-refund-1"
    assert "13812345678" not in json.dumps(packet, ensure_ascii=False)


async def test_open_hours_with_nobody_online_says_so_instead_of_a_wait(
    hand_off: HandOff, angry_state: Dict[str, Any], dispatcher: CollectingDispatcher
) -> None:
    await hand_off(
        with_slots(angry_state, handoff_reason="asked_for_human", handoff_grade=None),
        ticket_answer(position=1, expected_wait_seconds=None, agents_online=0),
    )

    assert texts(dispatcher) == [
        "您已进入人工客服队列，工单号 T-000123。客服暂时都不在线，上线后会第一时间回复您，您无需重复描述问题。"
    ]


async def test_anger_apologises_first(
    hand_off: HandOff, fake_desk: FakeDesk, angry_state: Dict[str, Any], dispatcher: CollectingDispatcher
) -> None:
    events = await hand_off(Tracker.from_dict(angry_state), ticket_answer(position=1, expected_wait_seconds=50))

    assert events == [SlotSet("ticket_id", "T-000123"), ConversationPaused()]
    assert texts(dispatcher) == [
        "非常抱歉，退款的事给您添了这么多麻烦，我完全理解您的心情。",  # bot.escalation.apology, the topic's name
        "您已进入人工客服队列，您是下一位，预计等待约 1 分钟。",
    ]
    packet = fake_desk.requests[-1]["json"]
    assert (packet["reason"], packet["grade"], packet["topic"]) == ("anger", "A", "faq_refund_status")


async def test_anger_apologises_in_english_naming_the_topic(
    hand_off: HandOff, angry_state: Dict[str, Any], dispatcher: CollectingDispatcher
) -> None:
    await hand_off(with_slots(angry_state, language="en"), ticket_answer(position=2, expected_wait_seconds=61))

    assert texts(dispatcher) == [
        "I'm really sorry about the trouble with your refund. I understand how frustrating this is.",
        "You're number 2 in the queue; expected wait about 2 minutes.",
    ]


async def test_traditional_chinese(
    hand_off: HandOff, angry_state: Dict[str, Any], dispatcher: CollectingDispatcher
) -> None:
    events = await hand_off(
        with_slots(angry_state, language="zh_hant", handoff_reason="asked_for_human"),
        ticket_answer(position=4, expected_wait_seconds=600),
        status=200,  # the conversation's open ticket
    )

    assert events == [SlotSet("ticket_id", "T-000123"), ConversationPaused()]
    assert texts(dispatcher) == ["您已進入人工客服隊列，前面還有 3 位，預計等待約 10 分鐘。"]


async def test_off_hours_gives_ticket_and_next_opening(
    hand_off: HandOff, fake_desk: FakeDesk, angry_state: Dict[str, Any], dispatcher: CollectingDispatcher
) -> None:
    events = await hand_off(
        with_slots(angry_state, handoff_reason="asked_for_human"),
        ticket_answer(id="T-000124", position=1, **MONDAY_OPENING),
        now=CLOSED_NOW,
    )

    assert events == [SlotSet("ticket_id", "T-000124")]  # off hours: no pause until an agent claims
    assert texts(dispatcher) == [  # bot.calendar.messages.offhours_reply, expected by the desk's due time
        "我们的人工客服已下班。您的留言已记录（工单号 T-000124），人工客服将于 12月8日（周一）09:00 起回复，预计 09:02 前。"
        "您现在仍可以向我咨询常见问题。"
    ]
    assert fake_desk.requests[-1]["json"]["created_at"] == CLOSED_NOW


async def test_off_hours_in_english(
    hand_off: HandOff, angry_state: Dict[str, Any], dispatcher: CollectingDispatcher
) -> None:
    await hand_off(
        with_slots(angry_state, language="en", handoff_reason="asked_for_human"),
        ticket_answer(id="T-000125", **MONDAY_OPENING),
        now=CLOSED_NOW,
    )

    assert texts(dispatcher) == [
        "Our agents are offline. Your message is saved (ticket T-000125) and an agent will reply from Mon 8 Dec, "
        "09:00, expected by 09:02. You can still ask me common questions now."
    ]


@pytest.mark.parametrize(("now", "open_now", "last"), [
    (OPEN_NOW, True, "您已进入人工客服队列，您是下一位，预计等待约 1 分钟。"),
    # A due time before the next opening says nothing: the calendar's default budget (1 hour) applies.
    (CLOSED_NOW, False, "我们的人工客服已下班。您的留言已记录（工单号 T-000123），人工客服将于 12月8日（周一）09:00 起回复，"
     "预计 10:00 前。您现在仍可以向我咨询常见问题。"),
])
async def test_emergency_contact_at_any_hour(
    now: str, open_now: bool, last: str, hand_off: HandOff, fake_desk: FakeDesk, angry_state: Dict[str, Any],
    dispatcher: CollectingDispatcher,
) -> None:
    events = await hand_off(
        with_slots(angry_state, handoff_reason="emergency", handoff_grade=None),
        ticket_answer(
            position=1, expected_wait_seconds=30, open_now=open_now,
            due={"first_response": "2025-12-06T20:01:00+08:00", "resolution": "2025-12-06T21:00:00+08:00"},
        ),
        now=now,
    )

    assert events == [SlotSet("ticket_id", "T-000123"), ConversationPaused()]
    assert texts(dispatcher) == [f"您的情况很紧急，请立即拨打{EMERGENCY_LINE}，我们会马上为您处理。", last]
    assert fake_desk.requests[-1]["json"]["grade"] == "A"  # settings: escalation.grades.emergency


def after_emergency_answer(state: Dict[str, Any], answer: str, language: str = "zh") -> Tracker:
    """The emergency entry's turn: the customer pressed the button, `utter_faq_emergency` answered, the policy
    set the reason; `answer` is what that bot message said."""
    state = copy.deepcopy(state)
    state["slots"].update(language=language, handoff_reason="emergency", handoff_grade="A")
    state["events"] = [
        *state["events"][:-4],
        {"event": "user", "text": "/faq_emergency", "parse_data": {"intent": {"name": "faq_emergency", "confidence": 1.0}}},
        {"event": "action", "name": "utter_faq_emergency"},
        {"event": "bot", "text": answer},
        {"event": "action", "name": "action_handoff"},
    ]
    return Tracker.from_dict(state)


@pytest.mark.parametrize(("language", "answer", "queue"), [
    ("zh", f"您的情况很紧急，请立即拨打{EMERGENCY_LINE}。", "您已进入人工客服队列，您是下一位，预计等待约 1 分钟。"),
    ("zh_hant", "請立即撥打24小時緊急熱線 400-820-0000。", "您已進入人工客服隊列，您是下一位，預計等待約 1 分鐘。"),
    ("en", "Please call our 24/7 emergency line +86 400-820-0000 right now.", None),
])
async def test_the_line_is_not_said_twice_after_the_emergency_answer(
    language: str, answer: str, queue: Any, hand_off: HandOff, fake_desk: FakeDesk, angry_state: Dict[str, Any],
    dispatcher: CollectingDispatcher,
) -> None:
    """The emergency entry's answer names the line: the handoff then says only where the customer stands."""
    events = await hand_off(after_emergency_answer(angry_state, answer, language), ticket_answer(position=1, expected_wait_seconds=30))
    assert events == [SlotSet("ticket_id", "T-000123"), ConversationPaused()]
    said = texts(dispatcher)
    assert len(said) == 1 and "400-820-0000" not in said[0], said
    if queue:
        assert said == [queue]


async def test_a_line_said_before_the_latest_message_is_said_again(
    hand_off: HandOff, fake_desk: FakeDesk, angry_state: Dict[str, Any], dispatcher: CollectingDispatcher,
) -> None:
    tracker = after_emergency_answer(angry_state, "好的")
    tracker.events[-4:-4] = [{"event": "bot", "text": f"请拨打{EMERGENCY_LINE}"}]  # an earlier turn named it
    await hand_off(tracker, ticket_answer(position=1, expected_wait_seconds=30))
    assert texts(dispatcher)[0] == f"您的情况很紧急，请立即拨打{EMERGENCY_LINE}，我们会马上为您处理。"


async def test_desk_down_apologises_and_does_not_pause(
    dead_desk_url: str, angry_state: Dict[str, Any], dispatcher: CollectingDispatcher,
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("FRONTLINE_NOW", OPEN_NOW)
    with caplog.at_level("ERROR"):
        events = await ActionHandoff().run(dispatcher, Tracker.from_dict(angry_state), {})

    assert events == []
    assert texts(dispatcher) == [
        f"非常抱歉，人工客服系统暂时无法接入。您可以稍后再试，或拨打{EMERGENCY_LINE}联系我们；"
        "在此期间我会继续为您解答问题。"
    ]
    assert any("no ticket for conversation socketio:conv-angry-refund-1" in r.getMessage() for r in caplog.records)
    assert DESK_SECRET not in caplog.text


async def test_desk_error_in_english_does_not_pause(
    hand_off: HandOff, angry_state: Dict[str, Any], dispatcher: CollectingDispatcher
) -> None:
    events = await hand_off(
        with_slots(angry_state, language="en", handoff_reason="asked_for_human"), {"error": "overloaded"}, status=503
    )

    assert events == []
    assert texts(dispatcher) == [
        "I'm sorry, I can't reach our service team right now. Please try again later or contact "
        "our 24/7 emergency line +86 400-820-0000; meanwhile I'm happy to keep helping."
    ]


def test_client_errors(fake_desk: FakeDesk) -> None:
    client = DeskClient(timeout=(1, 1))
    assert client.base_url == fake_desk.url
    fake_desk.routes[("POST", "/internal/tickets")] = (401, {"error": "bad secret"})
    with pytest.raises(DeskError, match="FRONTLINE_DESK_SECRET") as refused:
        client.create_ticket({})
    assert not isinstance(refused.value, DeskUnavailable)
    assert refused.value.status == 401
    fake_desk.routes[("POST", "/internal/tickets")] = (500, {})
    with pytest.raises(DeskUnavailable):
        client.create_ticket({})
    fake_desk.routes[("POST", "/internal/tickets")] = (201, {"position": 1})
    with pytest.raises(DeskError, match="no ticket id"):
        client.create_ticket({})
    fake_desk.routes[("POST", "/internal/tickets")] = (200, ticket_answer())
    assert client.create_ticket({})["created"] is False
    fake_desk.routes[("GET", "/internal/customers/a%2Fb/tickets")] = (200, [{"id": "T-1"}])
    assert client.earlier_tickets("a/b") == [{"id": "T-1"}]


def survey_tracker(
    rating: Any, ticket_id: str | None = "T-000123", language: str = "zh", pending: bool | None = True
) -> Tracker:
    text = f'/survey_rating{{"rating": {json.dumps(rating)}}}'
    latest = {"text": text, "intent": {"name": "survey_rating", "confidence": 1.0},
              "entities": [{"entity": "rating", "value": rating, "start": 14, "end": 25}]}
    return Tracker.from_dict({
        "sender_id": "conv-survey", "slots": {"ticket_id": ticket_id, "survey_pending": pending, "language": language},
        "latest_message": latest,
        "events": [{"event": "user", "timestamp": 1764554400.0, "text": text, "parse_data": latest,
                    "input_channel": "rest"}],
    })


async def test_survey_answer_is_recorded(fake_desk: FakeDesk, dispatcher: CollectingDispatcher) -> None:
    fake_desk.routes[("POST", "/internal/tickets/T-000123/survey")] = (200, {"ok": True})

    events = await ActionSurveyAnswer().run(dispatcher, survey_tracker(4), {})

    assert events == [SlotSet("survey_pending", False), SlotSet("survey_rating", "4")]
    assert texts(dispatcher) == ["感谢您的评价！", "如果您愿意，可以直接留言告诉我们原因或建议（可选）；也可以继续向我提问。"]
    assert [(r["method"], r["path"], r["json"]) for r in fake_desk.requests] == [
        ("POST", "/internal/tickets/T-000123/survey", {"rating": 4, "comment": None}),
    ]
    assert fake_desk.requests[0]["headers"]["X-Frontline-Secret"] == DESK_SECRET


async def test_low_survey_answer_in_english(fake_desk: FakeDesk, dispatcher: CollectingDispatcher) -> None:
    fake_desk.routes[("POST", "/internal/tickets/T-000123/survey")] = (200, {"ok": True})

    events = await ActionSurveyAnswer().run(dispatcher, survey_tracker("1", language="en"), {})

    assert events == [SlotSet("survey_pending", False), SlotSet("survey_rating", "1")]
    assert texts(dispatcher) == [
        "Thank you for your rating. We're sorry we fell short and will work on it.",
        "If you like, type a comment about the service (optional), or just ask me another question.",
    ]
    assert fake_desk.requests[0]["json"] == {"rating": 1, "comment": None}


async def test_invalid_survey_answer_asks_again(fake_desk: FakeDesk, dispatcher: CollectingDispatcher) -> None:
    events = await ActionSurveyAnswer().run(dispatcher, survey_tracker(9, language="zh_hant"), {})

    assert events == []
    assert texts(dispatcher) == ["請選擇 1 到 5 分進行評價。"]
    assert fake_desk.requests == []


@pytest.mark.parametrize("pending", [False, None])
async def test_rating_without_a_pending_survey_is_ignored(
    fake_desk: FakeDesk, dispatcher: CollectingDispatcher, pending: bool | None
) -> None:
    fake_desk.routes[("POST", "/internal/tickets/T-000123/survey")] = (200, {"ok": True})

    events = await ActionSurveyAnswer().run(dispatcher, survey_tracker(1, pending=pending), {})

    assert events == [SlotSet("survey_rating", None)]
    assert texts(dispatcher) == []
    assert fake_desk.requests == []


async def test_survey_with_desk_down_still_thanks(dead_desk_url: str, dispatcher: CollectingDispatcher) -> None:
    events = await ActionSurveyAnswer().run(dispatcher, survey_tracker(5), {})

    assert events == [SlotSet("survey_pending", False), SlotSet("survey_rating", "5")]
    assert texts(dispatcher)[0] == "感谢您的评价！"


async def test_survey_comment_is_recorded_masked(fake_desk: FakeDesk, dispatcher: CollectingDispatcher) -> None:
    fake_desk.routes[("POST", "/internal/tickets/T-000123/survey")] = (200, {"ok": True})
    text = "客服很耐心，回电请打13812345678"
    tracker = Tracker.from_dict({
        "sender_id": "conv-survey",
        "slots": {"ticket_id": "T-000123", "survey_rating": "4", "language": "zh"},
        "latest_message": {"text": text, "intent": {"name": "nlu_fallback", "confidence": 0.3}},
        "events": [],
    })

    events = await ActionSurveyComment().run(dispatcher, tracker, {})

    assert events == [SlotSet("survey_rating", None)]
    assert texts(dispatcher) == ["已收到您的留言，谢谢您帮助我们改进！"]
    [request] = fake_desk.requests
    assert request["json"]["rating"] == 4
    assert "13812345678" not in request["json"]["comment"] and request["json"]["comment"].startswith("客服很耐心")


@pytest.mark.parametrize(("value", "expected"), [
    (5, 5), ("3", 3), (2.0, 2), ("0", None), (6, None), ("4.5", None), ("five", None), (None, None), (True, None),
])
def test_parse_rating(value: Any, expected: int | None) -> None:
    assert parse_rating(value) == expected


@pytest.mark.parametrize(
    "lang, position, wait, expected",
    [
        ("zh", 1, 60, "您已进入人工客服队列，您是下一位，预计等待约 1 分钟。"),
        ("zh_hant", 1, 60, "您已進入人工客服隊列，您是下一位，預計等待約 1 分鐘。"),
        ("en", 1, 240, "You're next in the queue; expected wait about 4 minutes."),
        ("zh", 3, 720, "您已进入人工客服队列，前面还有 2 位，预计等待约 12 分钟。"),
        ("en", 3, 61, "You're number 3 in the queue; expected wait about 2 minutes."),
    ],
)
def test_queue_reply_names_the_place_in_the_customers_words(lang: str, position: int, wait: int, expected: str) -> None:
    from bot.texts import queue_joined

    assert queue_joined(lang, position, wait) == expected


async def test_broken_settings_still_tell_the_customer(
    hand_off: HandOff, angry_state: Dict[str, Any], dispatcher: CollectingDispatcher, fake_desk: FakeDesk,
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An emergency with no emergency contact configured: no ticket half made, and never silence."""
    import yaml

    from bot.settings import load_settings

    broken = {key: value for key, value in load_settings().items() if key != "emergency"}
    path = tmp_path / "settings.yml"
    path.write_text(yaml.safe_dump(broken, allow_unicode=True), encoding="utf-8")
    monkeypatch.setenv("FRONTLINE_SETTINGS", str(path))

    events = await hand_off(with_slots(angry_state, handoff_reason="emergency", handoff_grade="A"))

    assert events == []
    assert texts(dispatcher) == [
        "非常抱歉，人工客服系统暂时无法接入。您可以稍后再试，或拨打客服热线联系我们；在此期间我会继续为您解答问题。"
    ]
    assert not any(r["path"] == "/internal/tickets" for r in fake_desk.requests)


# The eve of National Day 2025: closed from 1 to 8 October, back on Thursday 9 October; WeChat's 48-hour window
# after this message closes on Thursday 2 October at 20:00, a week before the agents are back.
NATIONAL_DAY_EVE = "2025-09-30T20:00:00+08:00"
AFTER_NATIONAL_DAY: Dict[str, Any] = {
    "open_now": False, "next_opening": "2025-10-09T09:00:00+08:00",
    "due": {"first_response": "2025-10-09T09:30:00+08:00", "resolution": "2025-10-09T11:00:00+08:00"},
}


def on_channel(state: Dict[str, Any], conversation: str, **slots: Any) -> Tracker:
    state = copy.deepcopy(state)
    state["sender_id"] = conversation
    return with_slots(state, **slots)


@pytest.mark.parametrize("channel", ["wechat", "wecom", "wechat_kf"])
async def test_on_wechat_a_reply_promised_after_the_window_closes_says_so_in_the_same_message(
    channel: str, hand_off: HandOff, angry_state: Dict[str, Any], dispatcher: CollectingDispatcher
) -> None:
    tracker = on_channel(angry_state, f"{channel}:oCustomer1", handoff_reason="asked_for_human")
    await hand_off(tracker, ticket_answer(id="T-000130", **AFTER_NATIONAL_DAY), now=NATIONAL_DAY_EVE)

    assert texts(dispatcher) == [
        "我们的人工客服已下班。您的留言已记录（工单号 T-000130），人工客服将于 10月9日（周四）09:00 起回复，预计 09:30 前。"
        "您现在仍可以向我咨询常见问题。"
        "请注意：微信只允许我们在您最后一条消息后的 48 小时内回复您（至 10月2日（周四）20:00），届时人工客服尚未上班。"
        "请在 10月9日（周四）09:00 后再给我们发一条消息，或现在留下您的手机号或邮箱，我们会打电话或发邮件联系您。"
    ]


@pytest.mark.parametrize(("language", "notice"), [
    ("en", "Please note: WeChat lets us reply only within 48 hours of your last message (until Thu 2 Oct, 20:00), "
     "before our agents are back. Please write to us again after Thu 9 Oct, 09:00, or leave your phone number or "
     "e-mail now and we will call or e-mail you."),
    ("zh_hant", "請注意：微信只允許我們在您最後一條訊息後的 48 小時內回覆您（至 10月2日（週四）20:00），屆時人工客服尚未上班。"),
])
async def test_the_window_notice_in_every_language(
    language: str, notice: str, hand_off: HandOff, angry_state: Dict[str, Any], dispatcher: CollectingDispatcher
) -> None:
    tracker = on_channel(angry_state, "wechat:oCustomer1", handoff_reason="asked_for_human", language=language)
    await hand_off(tracker, ticket_answer(id="T-000131", **AFTER_NATIONAL_DAY), now=NATIONAL_DAY_EVE)

    [reply] = texts(dispatcher)
    assert notice in reply and reply.index(notice) > 0


@pytest.mark.parametrize(("conversation", "now", "answer"), [
    ("socketio:conv-1", NATIONAL_DAY_EVE, AFTER_NATIONAL_DAY),  # the widget has no window
    ("rest:alice", NATIONAL_DAY_EVE, AFTER_NATIONAL_DAY),
    ("wechat:oCustomer1", CLOSED_NOW, MONDAY_OPENING),  # Saturday 20:00: the window lasts until Monday 20:00
])
async def test_no_window_notice_when_the_promise_can_be_kept(
    conversation: str, now: str, answer: Dict[str, Any], hand_off: HandOff, angry_state: Dict[str, Any],
    dispatcher: CollectingDispatcher,
) -> None:
    await hand_off(on_channel(angry_state, conversation, handoff_reason="asked_for_human"), ticket_answer(**answer), now=now)

    [reply] = texts(dispatcher)
    assert reply.startswith("我们的人工客服已下班。") and "微信" not in reply
