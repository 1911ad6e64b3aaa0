"""The context packet is checked against docs/context-packet.schema.json: 400 answers name each wrong field."""

from __future__ import annotations

import datetime as dt
from typing import Any, Dict

import pytest

from bot.desk.app import create_app
from bot.desk.errors import DeskError
from bot.desk.packet import PacketValidator, field_name, packet_schema
from bot.desk.rasa_client import RasaClient

GRADES = '"A", "B", "C"'
DROP = object()  # a field the packet lacks
CUSTOMER = {"id": "cust-1", "display_name": "王*", "tier": "regular", "vip": False, "language": "zh",
            "earlier_tickets": []}


@pytest.fixture
def validator() -> PacketValidator:
    return PacketValidator(["A", "B", "C"])


def refusal(validator: PacketValidator, packet: Any) -> str:
    with pytest.raises(DeskError) as caught:
        validator.check(packet)
    assert caught.value.status == 400
    return caught.value.message


def packet_with(make_packet: Any, changes: Dict[str, Any]) -> Dict[str, Any]:
    packet = make_packet(**{k: v for k, v in changes.items() if v is not DROP})
    for key in [k for k, v in changes.items() if v is DROP]:
        del packet[key]
    return packet


def test_a_complete_packet_passes(validator: PacketValidator, make_packet: Any) -> None:
    packet = make_packet()
    assert validator.check(packet) is packet


@pytest.mark.parametrize("body", [None, [], "packet", 5, [{"conversation_id": "c"}]])
def test_not_an_object(validator: PacketValidator, body: Any) -> None:
    assert refusal(validator, body) == "the body must be a JSON object (the context packet)"


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"conversation_id": DROP}, "'conversation_id' is missing"),
        ({"customer": DROP}, "'customer' is missing"),
        ({"conversation_id": ""}, "'conversation_id' must not be empty"),
        ({"conversation_id": "   "}, "'conversation_id' must not be blank"),
        ({"conversation_id": "c" * 256}, "'conversation_id' must have at most 255 characters"),
        ({"conversation_id": 42}, "'conversation_id' must be a string"),
        ({"grade": "Z"}, f"'grade' must be one of {GRADES}"),
        ({"grade": None}, f"'grade' must be one of {GRADES}"),
        ({"version": "1.0"}, "'version' must be 1"),
        ({"channel": None}, "'channel' must be a string"),
        ({"reason": ""}, "'reason' must not be empty"),
        ({"topic": "refund"}, "'topic' must be an FAQ intent name (faq_…)"),
        ({"topic": 7}, "'topic' must be a string or null"),
        ({"anger_history": "high"}, "'anger_history' must be a list"),
        ({"anger_history": ["high"]}, "'anger_history[0]' must be a number"),
        ({"anger_history": [0.1, True]}, "'anger_history[1]' must be a number"),
        ({"anger_history": [1.5]}, "'anger_history[0]' must be at most 1"),
        ({"customer": "x"}, "'customer' must be an object"),
        ({"customer": {**CUSTOMER, "language": "fr"}}, "'customer.language' must be one of \"zh\", \"zh_hant\", \"en\""),
        ({"customer": {"id": "c", "display_name": None, "tier": None, "language": "zh"}},
         "'customer.vip' is missing; 'customer.earlier_tickets' is missing"),
        ({"transcript": [{"role": "agent", "text": "x", "at": None}]},
         "'transcript[0].role' must be one of \"customer\", \"bot\""),
    ],
)
def test_each_problem_names_its_field(
    validator: PacketValidator, make_packet: Any, changes: Dict[str, Any], message: str
) -> None:
    assert refusal(validator, packet_with(make_packet, changes)) == message


def test_several_problems_are_listed_by_field(validator: PacketValidator, make_packet: Any) -> None:
    message = refusal(validator, make_packet(grade="Z", channel="", anger_history=["x"]))
    assert message == f"'anger_history[0]' must be a number; 'channel' must not be empty; 'grade' must be one of {GRADES}"
    many = make_packet(grade="Z", channel="", reason="", version=2, topic="x", anger_history=["a", "b"])
    assert refusal(validator, many).endswith("(and 2 more)")


def test_the_grades_come_from_the_settings(make_packet: Any) -> None:
    assert PacketValidator(["A", "B", "C", "D"]).check(make_packet(grade="D"))["grade"] == "D"
    assert refusal(PacketValidator(["A", "B"]), make_packet(grade="C")) == "'grade' must be one of \"A\", \"B\""


def test_field_names_and_the_published_schema() -> None:
    assert field_name(["customer", "language"]) == "customer.language"
    assert field_name(["anger_history", 0]) == "anger_history[0]"
    assert field_name(["transcript", 2, "role"]) == "transcript[2].role"
    schema = packet_schema()
    assert schema["$id"] == "https://frontline.dev/schemas/context-packet/v1.json"
    assert schema["properties"]["grade"]["enum"] == ["A", "B", "C"]  # the desk's copy takes the settings' grades


async def test_the_api_answers_400_with_the_field_and_creates_nothing(app, internal, agents, make_packet) -> None:
    for changes, field in [({"conversation_id": DROP}, "'conversation_id' is missing"),
                           ({"anger_history": "high"}, "'anger_history' must be a list"),
                           ({"grade": "B+"}, "'grade' must be one of")]:
        packet = packet_with(make_packet, changes)
        _, response = await app.asgi_client.post("/internal/tickets", headers=internal, json=packet)
        assert response.status == 400 and response.json["error"].startswith(field)
    _, response = await app.asgi_client.post("/internal/tickets", headers=internal, json=[make_packet()])
    assert response.status == 400 and response.json["error"] == "the body must be a JSON object (the context packet)"
    _, listed = await app.asgi_client.get("/api/tickets?status=all", headers=agents["alice"]["headers"])
    assert listed.status == 200 and listed.json == []


async def test_a_grade_added_in_the_settings_is_accepted_with_its_hours(
    settings, sqlite_store, internal, calendar, make_packet, monkeypatch
) -> None:
    start = dt.datetime(2026, 11, 23, 2, 0, tzinfo=dt.timezone.utc)
    monkeypatch.setenv("FRONTLINE_NOW", start.isoformat())
    custom = {**settings, "escalation": {**settings["escalation"],
                                         "grade_hours": {**settings["escalation"]["grade_hours"], "D": 48}}}
    app = create_app(custom, store=sqlite_store, rasa=RasaClient("http://127.0.0.1:9"), broker=None,
                     secret=internal["X-Frontline-Secret"], calendar=calendar, notify_positions=False, console=False)
    _, response = await app.asgi_client.post("/internal/tickets", headers=internal, json=make_packet("d-1", grade="D"))
    assert response.status == 201, response.json
    assert response.json["due"]["resolution"] == (start + dt.timedelta(hours=48)).isoformat()
