"""Widget session ids the server issues (`bot.channels.webchat_sessions`): the secret and where it comes from."""

from __future__ import annotations

import logging
import os
import pathlib
import stat
import threading

import pytest

from bot.channels.webchat_sessions import ENV_SECRET, SECRET_FILE, SessionIds, session_secret
from bot.settings import SettingsError


def test_the_secret_from_the_environment(tmp_path: pathlib.Path) -> None:
    secret = "s" * 32
    assert session_secret({ENV_SECRET: secret}, tmp_path) == secret
    assert not (tmp_path / SECRET_FILE).exists()
    with pytest.raises(SettingsError, match="at least 32 characters"):
        session_secret({ENV_SECRET: "short"}, tmp_path)
    with pytest.raises(SettingsError, match="at least 32 characters"):
        SessionIds("short")


def test_without_a_setting_one_secret_is_kept_for_the_machine(tmp_path: pathlib.Path) -> None:
    first = session_secret({}, tmp_path)
    assert len(first) >= 32 and session_secret({}, tmp_path) == first  # a restart keeps the widget sessions
    assert stat.S_IMODE(os.stat(tmp_path / SECRET_FILE).st_mode) == 0o600
    assert SessionIds(session_secret({}, tmp_path)).valid(SessionIds(first).issue())
    assert [p.name for p in tmp_path.iterdir()] == [SECRET_FILE]  # no temporary file left behind


def test_processes_starting_together_agree_on_the_secret(tmp_path: pathlib.Path) -> None:
    found = []
    threads = [threading.Thread(target=lambda: found.append(session_secret({}, tmp_path))) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(found)) == 1 and len(found) == 8


def test_a_folder_that_cannot_be_written_gives_a_process_secret_and_says_so(
    tmp_path: pathlib.Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "not-a-folder"
    folder.write_text("a file where the folder should be", encoding="utf-8")
    with caplog.at_level(logging.WARNING):
        first, second = session_secret({}, folder), session_secret({}, folder)
    assert len(first) >= 32 and first != second
    assert "widget sessions last until this process stops" in caplog.text
