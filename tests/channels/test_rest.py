"""The REST channel's input checks: pure functions, credentials, and the blueprint mounted like Rasa mounts it."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any, List

import pytest
from rasa.core.channels.channel import UserMessage
from sanic import Sanic
from sanic.exceptions import InvalidUsage, PayloadTooLarge

from bot.channels.rest import (
    DEFAULT_MAX_MESSAGE_CHARS,
    MAX_SENDER_CHARS,
    TURN_FAILED,
    RestInput,
    check_message,
    check_sender,
)
from bot.settings import SettingsError


@pytest.mark.parametrize(
    "body, expected",
    [
        ({"sender": "c-1", "message": "hi"}, "c-1"),
        ({"sender": 42, "message": "hi"}, "42"),
        ({"sender": "x" * MAX_SENDER_CHARS, "message": "hi"}, "x" * MAX_SENDER_CHARS),
    ],
)
def test_check_sender_accepts(body: Any, expected: str) -> None:
    assert check_sender(body) == expected


@pytest.mark.parametrize(
    "body, says",
    [
        ([1, 2], "JSON object"),
        ("text", "JSON object"),
        (None, "JSON object"),
        ({"message": "hi"}, '"sender" is missing'),
        ({"sender": None, "message": "hi"}, '"sender" is missing'),
        ({"sender": True, "message": "hi"}, '"sender" is missing'),
        ({"sender": {"id": 1}, "message": "hi"}, '"sender" is missing'),
        ({"sender": "  ", "message": "hi"}, '"sender" is empty'),
        ({"sender": "x" * (MAX_SENDER_CHARS + 1), "message": "hi"}, "longer than 250"),
    ],
)
def test_check_sender_refuses(body: Any, says: str) -> None:
    with pytest.raises(InvalidUsage, match=says):
        check_sender(body)


def test_check_message_accepts_up_to_the_limit() -> None:
    assert check_message({"message": "退款多久到账"}, 10) == "退款多久到账"
    assert check_message({"message": "x" * 10, "metadata": {"a": 1}}, 10) == "x" * 10
    assert check_message({"message": "hi", "metadata": None}, 10) == "hi"
    assert check_message({"message": "hi", "input_channel": "rest"}, 10) == "hi"


@pytest.mark.parametrize(
    "body, says",
    [
        ({}, '"message" is missing'),
        ({"message": None}, '"message" is missing'),
        ({"message": 5}, '"message" is missing'),
        ({"message": ""}, '"message" is empty'),
        ({"message": " \n\t"}, '"message" is empty'),
        ({"message": "hi", "metadata": [1]}, '"metadata" must be a JSON object'),
        ({"message": "hi", "input_channel": "wechat"}, '"input_channel" cannot be chosen'),
    ],
)
def test_check_message_refuses(body: Any, says: str) -> None:
    with pytest.raises(InvalidUsage, match=says):
        check_message(body, 10)


def test_check_message_refuses_an_over_long_message_as_too_large() -> None:
    with pytest.raises(PayloadTooLarge, match="11 characters; at most 10 are accepted"):
        check_message({"message": "x" * 11}, 10)


def test_credentials() -> None:
    assert RestInput.from_credentials(None).max_message_chars == DEFAULT_MAX_MESSAGE_CHARS
    assert RestInput.from_credentials({}).max_message_chars == DEFAULT_MAX_MESSAGE_CHARS
    assert RestInput.from_credentials({"max_message_chars": "500"}).max_message_chars == 500
    assert RestInput.from_credentials({"token": ""}).token is None
    assert RestInput.from_credentials({"token": " s3cret "}).token == "s3cret"
    assert RestInput.from_credentials({"token": "s3cret", "max_message_chars": 9}).token == "s3cret"
    assert RestInput.name() == "rest"
    with pytest.raises(SettingsError, match="must be an integer"):
        RestInput.from_credentials({"max_message_chars": "lots"})
    with pytest.raises(SettingsError, match="at least 1"):
        RestInput.from_credentials({"max_message_chars": 0})


@pytest.fixture
def received() -> List[UserMessage]:
    return []


def mounted(channel: RestInput, received: List[UserMessage]) -> Sanic:
    """A sanic app with the channel's blueprint mounted where Rasa mounts it, echoing each message."""

    async def on_new_message(message: UserMessage) -> None:
        received.append(message)
        await message.output_channel.send_response(message.sender_id, {"text": f"echo: {message.text}"})

    app = Sanic(f"rest_test_{uuid.uuid4().hex[:12]}", configure_logging=False)
    app.blueprint(channel.blueprint(on_new_message), url_prefix="/webhooks/rest")
    return app


@pytest.fixture
def app(received: List[UserMessage]) -> Sanic:
    return mounted(RestInput(max_message_chars=20), received)


async def test_a_valid_message_starts_a_turn(app: Sanic, received: List[UserMessage]) -> None:
    _, response = await app.asgi_client.post(
        "/webhooks/rest/webhook", json={"sender": "c-1", "message": "退款多久到账", "metadata": {"k": "v"}}
    )
    assert response.status == 200
    assert response.json == [{"recipient_id": "c-1", "text": "echo: 退款多久到账"}]
    # the conversation is `rest:c-1`; the caller is answered under its own sender
    assert [(m.sender_id, m.text, m.input_channel, m.metadata) for m in received] == [
        ("rest:c-1", "退款多久到账", "rest", {"k": "v"})
    ]


@pytest.mark.parametrize(
    "body, status, says",
    [
        ({"sender": "c-1", "message": ""}, 400, '"message" is empty'),
        ({"sender": "c-1"}, 400, '"message" is missing'),
        ({"message": "hi"}, 400, '"sender" is missing'),
        ([{"sender": "c-1", "message": "hi"}], 400, "JSON object"),
        ({"sender": "c-1", "message": "hi", "metadata": "x"}, 400, '"metadata" must be a JSON object'),
        ({"sender": "c-1", "message": "x" * 21}, 413, "21 characters; at most 20 are accepted"),
        ({"sender": "c-1", "message": "hi", "input_channel": "wechat"}, 400, '"input_channel" cannot be chosen'),
    ],
)
async def test_bad_input_gets_a_clear_error_and_starts_no_turn(
    app: Sanic, received: List[UserMessage], body: Any, status: int, says: str
) -> None:
    _, response = await app.asgi_client.post("/webhooks/rest/webhook", json=body)
    assert response.status == status
    assert says in response.json["message"]
    assert received == []


async def test_a_body_that_is_not_json_gets_a_clear_error(app: Sanic, received: List[UserMessage]) -> None:
    _, response = await app.asgi_client.post(
        "/webhooks/rest/webhook", content="sender=c-1&message=hi", headers={"content-type": "application/json"}
    )
    assert response.status == 400
    assert "json" in response.json["message"].lower()
    assert received == []


async def test_the_conversation_is_always_on_the_rest_channel(app: Sanic, received: List[UserMessage]) -> None:
    _, response = await app.asgi_client.post(
        "/webhooks/rest/webhook", json={"sender": "c-1", "message": "hi", "input_channel": "rest"}
    )
    assert response.status == 200
    assert [m.input_channel for m in received] == ["rest"]


@pytest.mark.parametrize(
    "headers, query, status",
    [
        ({}, "", 401),
        ({"Authorization": "Bearer wrong"}, "", 401),
        ({"Authorization": "Basic s3cret"}, "", 401),
        ({}, "?token=wrong", 401),
        ({"Authorization": "Bearer s3cret"}, "", 200),
        ({"authorization": "bearer s3cret"}, "", 200),
        ({}, "?token=s3cret", 200),
    ],
)
async def test_with_a_token_only_requests_carrying_it_start_a_turn(headers, query, status) -> None:
    received: List[UserMessage] = []
    app = mounted(RestInput(token="s3cret"), received)
    _, response = await app.asgi_client.post(
        f"/webhooks/rest/webhook{query}", json={"sender": "c-1", "message": "hi"}, headers=headers
    )
    assert response.status == status
    if status == 401:
        assert "needs its token" in response.json["message"]
        assert received == []
    else:
        assert [m.text for m in received] == ["hi"]


async def test_the_health_check_needs_no_token() -> None:
    app = mounted(RestInput(token="s3cret"), [])
    _, response = await app.asgi_client.get("/webhooks/rest/")
    assert (response.status, response.json) == (200, {"status": "ok"})


@pytest.mark.parametrize("failure", [ConnectionError("Redis is unreachable"), asyncio.CancelledError()])
async def test_a_turn_that_failed_is_a_500_the_caller_sends_again(failure: BaseException) -> None:
    # Rasa's own route logs the failure and answers 200: the caller would take an unstored message for sent
    calls: List[str] = []

    async def on_new_message(message: UserMessage) -> None:
        calls.append(message.text)
        if len(calls) == 1:
            raise failure
        await message.output_channel.send_response(message.sender_id, {"text": f"echo: {message.text}"})

    app = Sanic(f"rest_test_{uuid.uuid4().hex[:12]}", configure_logging=False)
    app.blueprint(RestInput().blueprint(on_new_message), url_prefix="/webhooks/rest")
    _, first = await app.asgi_client.post("/webhooks/rest/webhook", json={"sender": "c-1", "message": "m-1"})
    assert first.status == 500
    assert first.json["message"] == TURN_FAILED
    _, again = await app.asgi_client.post("/webhooks/rest/webhook", json={"sender": "c-1", "message": "m-1"})
    assert again.status == 200 and again.json == [{"recipient_id": "c-1", "text": "echo: m-1"}]
    assert calls == ["m-1", "m-1"]
