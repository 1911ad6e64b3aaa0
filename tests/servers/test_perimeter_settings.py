"""Where the servers listen, how large a request they read, which secrets each process gets, what logs hide."""

from __future__ import annotations

import argparse
import pathlib

import pytest

from bot import log_redaction
from bot.servers import listen, process_secrets, rasa_server, request_limits
from bot.settings import SettingsError, load_settings


@pytest.mark.parametrize("environ, host", [
    ({}, "127.0.0.1"), ({"FRONTLINE_LISTEN_HOST": " "}, "127.0.0.1"), ({"FRONTLINE_LISTEN_HOST": "0.0.0.0"}, "0.0.0.0"),
])
def test_listen_host_defaults_to_loopback(environ, host) -> None:
    assert listen.listen_host(environ) == host
    assert listen.actions_host(environ) == "127.0.0.1"  # the public listener never opens the action server


@pytest.mark.parametrize("host, connect", [
    ("127.0.0.1", "127.0.0.1"), ("0.0.0.0", "127.0.0.1"), ("::", "[::1]"), ("10.1.2.3", "10.1.2.3"),
    ("fd00::5", "[fd00::5]"), ("frontline.internal", "frontline.internal"),
])
def test_connect_host(host, connect) -> None:
    assert listen.connect_host(host) == connect


def test_shipped_limits() -> None:
    limits = request_limits.request_limits(load_settings())
    assert (limits.rasa, limits.actions, limits.desk) == (262_144, 16_777_216, 2_097_152)
    assert request_limits.validate({}) == limits  # the defaults when the section is missing


@pytest.mark.parametrize("section, key", [
    ({"request_max_bytes": {"rasa": 100}}, "servers.request_max_bytes.rasa"),
    ({"request_max_bytes": {"desk": "2MB"}}, "servers.request_max_bytes.desk"),
    ({"request_max_bytes": {"actions": True}}, "servers.request_max_bytes.actions"),
    ({"request_max_bytes": {"webchat": 5000}}, "servers.request_max_bytes.webchat"),
    ({"request_max_bytes": [1]}, "servers.request_max_bytes"),
    ("big", "servers"),
])
def test_a_wrong_limit_names_its_key(section, key) -> None:
    with pytest.raises(SettingsError, match=key.replace(".", r"\.")):
        request_limits.validate({"servers": section})


def test_each_process_gets_only_its_secrets() -> None:
    env = {name: f"value-of-{name}" for name in process_secrets.secret_names()}
    env["PATH"] = "/usr/bin"
    actions = process_secrets.environment_for("actions", env)
    assert set(actions) == {"PATH", "FRONTLINE_ACTION_TOKEN", "FRONTLINE_DESK_SECRET"}
    assert "FRONTLINE_DESK_SECRET" not in process_secrets.environment_for("rasa", env)
    desk = process_secrets.environment_for("desk", env)
    assert "RASA_TOKEN" in desk and "WECHAT_APP_SECRET" not in desk and "FRONTLINE_ACTION_TOKEN" not in desk
    with pytest.raises(ValueError):
        process_secrets.environment_for("worker", env)


def test_rasa_gets_the_token_whole_after_parsing(tmp_path: pathlib.Path) -> None:
    args = argparse.Namespace(port=5999, model=tmp_path / "m.tar.gz", endpoints=pathlib.Path("endpoints.yml"),
                              credentials=pathlib.Path("credentials.yml"), cors="*", debug=False)
    token = "--enable-api -p 1 $HOME \"q\""
    namespace = rasa_server.rasa_arguments(args, "127.0.0.1", token)
    assert namespace.auth_token == token and namespace.enable_api
    assert (namespace.interface, namespace.port, namespace.cors) == ("127.0.0.1", 5999, "*")


@pytest.mark.parametrize("line, hidden", [
    ("GET /cgi-bin/token?grant_type=client_credential&appid=wx1&secret=APPSECRET HTTP/1.1", "APPSECRET"),
    ("/cgi-bin/gettoken?corpid=ww1&corpsecret=CORPSECRET", "CORPSECRET"),
    ("POST /cgi-bin/message/custom/send?access_token=ACCESS-1 HTTP/1.1", "ACCESS-1"),
    ("GET /status?token=-RASA%20TOKEN HTTP/1.1", "RASA%20TOKEN"),
    ("headers={'Authorization': 'Bearer ACTIONTOKEN'}", "ACTIONTOKEN"),
    ("X-Frontline-Secret: DESKSECRET", "DESKSECRET"),
    ('{"access_token": "ACCESS-2", "expires_in": 7200}', "ACCESS-2"),
])
def test_redaction_hides_secrets(line, hidden) -> None:
    masked = log_redaction.redact(line)
    assert hidden not in masked and log_redaction.MASK in masked


def test_redaction_hides_secret_values_of_the_environment() -> None:
    secrets = log_redaction.environment_secrets({"RASA_TOKEN": "-a rasa token", "WECHAT_TOKEN": "short"})
    assert secrets == ["-a rasa token"]
    assert log_redaction.redact("said -a rasa token twice: -a rasa token", secrets) == "said *** twice: ***"


def test_redaction_leaves_ordinary_lines_alone() -> None:
    line = "handoff: conversation abc -> ticket T-000001 (reason anger, grade A, position 2)"
    assert log_redaction.redact(line) == line
