"""`make run` refuses to start on a wrong setting, naming the key, before starting any process."""

from __future__ import annotations

import pathlib
import socket

import pytest

from bot import run
from bot.__main__ import main as cli
from bot.devtools import free_port
from bot.settings import repo_root


def test_wrong_setting_stops_start_up_with_the_key_named(tmp_path: pathlib.Path, monkeypatch, capsys) -> None:
    text = (repo_root() / "settings.yml").read_text(encoding="utf-8")
    broken = tmp_path / "settings.yml"
    broken.write_text(text.replace('mon: ["09:00-12:00", "13:30-18:00"]', 'mon: ["09:00-12:00", "13:30-12:00"]'))
    monkeypatch.setenv("FRONTLINE_SETTINGS", str(broken))
    monkeypatch.setattr(run, "start", lambda **kwargs: pytest.fail("nothing may start on a wrong setting"))
    from bot.calendar import reset_calendar

    reset_calendar()
    try:
        assert cli(["run"]) == 1
    finally:
        monkeypatch.delenv("FRONTLINE_SETTINGS")
        reset_calendar()
    assert "calendar.hours.mon[1]" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("find", "replace", "key"),
    [
        ("  traditional: taiwan\n", "  traditional: mainland\n", "i18n.traditional"),
        ('  contact_en: "our 24/7 emergency line +86 400-820-0000"\n', "", "emergency.contact_en"),
        ("  nps: false\n", "  nps: maybe\n", "survey.nps"),
    ],
)
def test_a_wrong_text_setting_stops_start_up(tmp_path: pathlib.Path, monkeypatch, capsys, find, replace, key) -> None:
    text = (repo_root() / "settings.yml").read_text(encoding="utf-8")
    assert find in text
    broken = tmp_path / "settings.yml"
    broken.write_text(text.replace(find, replace), encoding="utf-8")
    monkeypatch.setenv("FRONTLINE_SETTINGS", str(broken))
    monkeypatch.setattr(run, "start", lambda **kwargs: pytest.fail("nothing may start on a wrong setting"))
    assert run.main([]) == 1
    assert key in capsys.readouterr().err


def test_shipped_settings_pass() -> None:
    run.check_settings()


def test_a_port_in_use_stops_start_up_with_the_port_named(tmp_path: pathlib.Path, monkeypatch) -> None:
    monkeypatch.setattr(run.subprocess, "Popen", lambda *a, **k: pytest.fail("nothing may start on a busy port"))
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        ports = run.Ports(rasa=free_port(), actions=free_port(), desk=port)
        with pytest.raises(run.PortInUse, match=rf"port {port} \(the desk\) is already in use"):
            run.start(var=tmp_path, ports=ports)
    run.check_ports_free(ports)  # free again once the listener is gone


def test_main_says_which_port_is_busy(monkeypatch, capsys) -> None:
    def busy(**kwargs):
        raise run.PortInUse("port 5005 (the Rasa server) is already in use: is Frontline, or another server, still running?")

    monkeypatch.setattr(run, "check_settings", lambda: None)
    monkeypatch.setattr(run, "start", busy)
    assert cli(["run"]) == 1
    err = capsys.readouterr().err
    assert "error: port 5005 (the Rasa server) is already in use" in err
    assert "see " not in err  # no pointer to logs that say nothing about it
