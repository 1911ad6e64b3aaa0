"""`python -m bot actions`: rasa_sdk's app with the token demanded, the body capped, no CORS (in-process)."""

from __future__ import annotations

import pytest

from bot.servers import action_server, action_token

TOKEN = "-a token with spaces $HOME \"quoted\" 'x'"


@pytest.fixture()
def app():
    return action_server.create_app("actions", TOKEN, 4096)


def call(action: str = "action_service_hours") -> dict:
    tracker = {"sender_id": "unit", "slots": {"language": "en"}, "latest_message": {}, "events": [],
               "paused": False, "followup_action": None, "active_loop": {}, "latest_action_name": None}
    return {"next_action": action, "sender_id": "unit", "tracker": tracker, "domain": {}, "version": "3.6.21"}


async def test_the_token_runs_the_action(app) -> None:
    _, response = await app.asgi_client.post("/webhook", json=call(), headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status == 200, response.text
    assert response.json["responses"]


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN},
                                     {"Authorization": f"Basic {TOKEN}"}])
async def test_without_the_token_nothing_runs(app, headers) -> None:
    _, response = await app.asgi_client.post("/webhook", json=call(), headers=headers)
    assert response.status == 401
    _, listing = await app.asgi_client.get("/actions", headers=headers)
    assert listing.status == 401


async def test_health_needs_no_token(app) -> None:
    _, response = await app.asgi_client.get("/health")
    assert response.status == 200


async def test_no_cors_headers(app) -> None:
    _, response = await app.asgi_client.get("/health", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in {k.lower() for k in response.headers}


def test_the_body_limit_is_set(app) -> None:  # the 413 itself: tests/security/test_request_sizes.py
    assert app.config.REQUEST_MAX_SIZE == 4096


@pytest.mark.parametrize("token, problem", [
    (None, "unset"), ("", "unset"), ("short", "shorter than 16"), (" padded-token-value-1234", "visible ASCII"),
    ("line\nbreak-token-value", "visible ASCII"), ("токен-не-ascii-1234567", "visible ASCII"),
])
def test_unusable_tokens_are_refused_with_the_reason(token, problem) -> None:
    with pytest.raises(action_token.ActionTokenError, match=problem):
        action_token.check_value(token)


@pytest.mark.parametrize("token", ["-starts-with-a-dash-0123", "has spaces $HOME \"q\" 'x' inside", "a" * 200])
def test_any_visible_token_is_usable(token) -> None:
    assert action_token.check_value(token) == token
    assert action_token.carries_token(f"Bearer {token}", token)
    assert action_token.carries_token(f"bearer {token}", token)
    assert not action_token.carries_token(f"Bearer {token}x", token)


def test_the_launcher_refuses_to_start_without_a_token(monkeypatch, capsys) -> None:
    monkeypatch.delenv(action_token.ENV, raising=False)
    from bot.__main__ import main

    assert main(["actions", "--port", "1"]) == 1
    assert "FRONTLINE_ACTION_TOKEN is unset" in capsys.readouterr().err
