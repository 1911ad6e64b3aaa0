"""Desk settings validation and where the desk finds Rasa's event broker."""

from __future__ import annotations

import copy
import pathlib
from typing import Any, Dict

import pytest

from bot.desk import config
from bot.desk.events import drain_queues_of, split_amqp_url
from bot.settings import SettingsError, repo_root


def test_real_settings_validate(settings: Dict[str, Any]) -> None:
    desk = config.validate(settings)
    assert desk.first_response_seconds["wechat"] == 180 and desk.first_response_seconds["socketio"] == 120
    assert desk.grade_hours == {"A": 1.0, "B": 4.0, "C": 24.0} and desk.warn_at == 0.75
    assert desk.skill_for("faq_lost_card") == "emergency" and desk.skill_for("faq_unknown") == "general"
    assert desk.team_for("emergency") == "emergency" and desk.team_for("orders") is None
    assert {c["language"] for c in desk.canned} == {"zh", "en"}
    assert desk.lights["nps"] == {"green": 30.0, "yellow": 0.0, "higher_is_better": True}


def test_the_nps_light_takes_thresholds_below_zero(settings: Dict[str, Any]) -> None:
    """The NPS runs from -100 to 100: a yellow threshold below 0 is a real choice, not a typo (a percent's is)."""
    changed = copy.deepcopy(dict(settings))
    changed["reports"]["lights"]["nps"] = {"green": 0, "yellow": -20}
    assert config.validate(changed).lights["nps"] == {"green": 0.0, "yellow": -20.0, "higher_is_better": True}


def test_every_channel_in_credentials_has_a_first_response_target(settings: Dict[str, Any]) -> None:
    # a channel missing here is judged on the 120 s default (the web's), not its own standard
    import importlib

    import yaml

    credentials = yaml.safe_load((repo_root() / "credentials.yml").read_text(encoding="utf-8"))
    names = set()
    for dotted in credentials:
        module, _, cls = dotted.rpartition(".")
        names.add(getattr(importlib.import_module(module), cls).name())
    desk = config.validate(settings)
    assert names <= set(desk.first_response_seconds), names - set(desk.first_response_seconds)
    assert desk.first_response_seconds["wechat_kf"] == desk.first_response_seconds["wechat"] == 180


@pytest.mark.parametrize(
    "path, value, key",
    [
        (("desk", "first_response_seconds"), {"rest": -1}, "desk.first_response_seconds.rest"),
        (("desk", "skills"), {"faq_x": 3}, "desk.skills"),
        (("desk", "priority", "vip"), "lots", "desk.priority.vip"),
        (("escalation", "warn_at"), 1.5, "escalation.warn_at"),
        (("escalation", "grade_hours"), {"A": 0}, "escalation.grade_hours.A"),
        (("desk", "canned"), [{"title": "no text"}], "desk.canned"),
        (("desk", "overflow_after_seconds"), -5, "desk.overflow_after_seconds"),
        (("desk", "rasa_timeout_seconds"), 0, "desk.rasa_timeout_seconds"),
        (("reports", "lights", "nps"), {"green": 30, "yellow": -101}, "reports.lights.nps.yellow"),  # below -100
        (("reports", "lights", "nps"), {"green": -10, "yellow": 0}, "reports.lights.nps': green must be above"),
        (("reports", "lights", "sla_met_percent"), {"green": 90, "yellow": -1}, "reports.lights.sla_met_percent.yellow"),
    ],
)
def test_bad_settings_name_the_key(settings: Dict[str, Any], path: tuple, value: Any, key: str) -> None:
    broken = copy.deepcopy(dict(settings))
    target = broken
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    with pytest.raises(SettingsError, match=key.replace(".", r"\.")):
        config.validate(broken)


def test_the_rasa_timeout_outlasts_a_wechat_send(settings: Dict[str, Any]) -> None:
    """WeChat's worst case for one send is 3 tries of 5 s plus backoff: the desk waits longer than that, and a
    desk whose settings do not say waits 30 s."""
    from bot.desk.app import create_app

    assert config.validate(settings).rasa_timeout_seconds == 30
    unset = copy.deepcopy(dict(settings))
    del unset["desk"]["rasa_timeout_seconds"]
    assert config.validate(unset).rasa_timeout_seconds == config.DEFAULT_RASA_TIMEOUT_SECONDS == 30
    longer = copy.deepcopy(dict(settings))
    longer["desk"]["rasa_timeout_seconds"] = 45
    app = create_app(longer, database_url="sqlite://", broker=None, notify_positions=False, console=False)
    assert app.ctx.rasa.timeout == 45


def test_missing_desk_section() -> None:
    with pytest.raises(SettingsError, match="'desk'"):
        config.validate({"escalation": {}})


def write(tmp_path: pathlib.Path, text: str) -> str:
    path = tmp_path / "endpoints.test.yml"
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_broker_url_sources(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRONTLINE_VAR", str(tmp_path / "var"))
    monkeypatch.delenv("FRONTLINE_EVENTS_DB", raising=False)
    monkeypatch.setenv("FRONTLINE_BROKER", "amqp://u:p@h:5672/?queue=q")
    assert config.broker_url() == "amqp://u:p@h:5672/?queue=q"
    monkeypatch.setenv("FRONTLINE_BROKER", "none")
    assert config.broker_url() is None
    monkeypatch.delenv("FRONTLINE_BROKER")

    sql = 'event_broker:\n  type: SQL\n  dialect: "sqlite"\n  db: "var/events.db"\n'
    monkeypatch.setenv("FRONTLINE_ENDPOINTS", write(tmp_path, sql))
    assert config.broker_url() == f"sqlite:///{tmp_path / 'var' / 'events.db'}"
    monkeypatch.setenv("FRONTLINE_EVENTS_DB", str(tmp_path / "run" / "events.db"))
    assert config.broker_url() == f"sqlite:///{tmp_path / 'run' / 'events.db'}"

    pika = ('event_broker:\n  type: pika\n  url: "${RMQ_HOST}"\n  username: guest\n  password: "${RMQ_PW}"\n'
            '  queues:\n    - frontline_events\n')
    monkeypatch.setenv("RMQ_HOST", "rabbit.local")
    monkeypatch.setenv("RMQ_PW", "pw")
    monkeypatch.setenv("FRONTLINE_ENDPOINTS", write(tmp_path, pika))
    assert config.broker_url() == "amqp://guest:pw@rabbit.local:5672/?queue=frontline_events"

    # The production file: the single-active-consumer queue, and the earlier version's queue to drain.
    monkeypatch.setenv("FRONTLINE_ENDPOINTS", str(repo_root() / "endpoints.prod.yml"))
    for name, value in (("FRONTLINE_RABBITMQ_HOST", "rabbit.local"), ("FRONTLINE_RABBITMQ_USER", "guest"),
                        ("FRONTLINE_RABBITMQ_PASSWORD", "pw")):
        monkeypatch.setenv(name, value)
    url = config.broker_url()
    assert url == "amqp://guest:pw@rabbit.local:5672/?queue=frontline_events_ordered&drain=frontline_events"
    assert split_amqp_url(url) == ("amqp://guest:pw@rabbit.local:5672/", "frontline_events_ordered")
    assert drain_queues_of(url) == ["frontline_events"]

    monkeypatch.setenv("FRONTLINE_ENDPOINTS", str(tmp_path / "missing.yml"))
    assert config.broker_url() == f"sqlite:///{tmp_path / 'run' / 'events.db'}"
