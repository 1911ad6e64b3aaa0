"""The running system at 02:00 on a Tuesday night (agents off), for the emergency-entry tests on the REST and
WeChat channels (`test_emergency_entry_stack.py`) and in the widget (`webchat/test_emergency_button_browser.py`):
real Rasa with the trained model, real action server and desk (`bot.run.start`). A module that needs its own
stack at another moment (the 微信客服 stack test, in business hours) passes `now`."""

from __future__ import annotations

import contextlib
import pathlib
import tempfile
import time
from typing import Any, Dict, Iterator

import pytest
import requests

from bot.devtools import free_port
from bot.run import Ports, Stack, latest_model, start
from bot.settings import repo_root
from tests.conftest import TEST_CHANNEL_ENV

TUESDAY_NIGHT = "2025-12-02T02:00:00+08:00"


@contextlib.contextmanager
def running_night_stack(prefix: str, now: str = TUESDAY_NIGHT, **extra_env: str) -> Iterator[Stack]:
    """The system with its clock pinned to `now` (`TUESDAY_NIGHT` unless given) and the test channel credentials
    (and `extra_env`), in a temporary `var` folder named from `prefix`; stopped when the block ends."""
    model = latest_model(repo_root())
    if model is None:
        pytest.fail("no trained model under models/: run `python -m bot train` first")
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        var = pathlib.Path(tmp)
        stack = start(
            var=var, ports=Ports(rasa=free_port(), actions=free_port(), desk=free_port()), model=model,
            extra_env={**TEST_CHANNEL_ENV, "FRONTLINE_NOW": now, **extra_env}, log_dir=var / "logs",
        )
        try:
            yield stack
        finally:
            stack.stop()


def ticket_of(stack: Stack, conversation: str, seconds: float = 20) -> Dict[str, Any]:
    """The desk's ticket of `conversation`, waiting up to `seconds` for the handoff to open it."""
    deadline = time.monotonic() + seconds
    while True:
        response = requests.get(
            f"{stack.desk_url}/internal/conversations/{conversation}/ticket",
            headers={"X-Frontline-Secret": stack.env["FRONTLINE_DESK_SECRET"]}, timeout=10,
        )
        if response.status_code == 200 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert response.status_code == 200, response.text
    return response.json()
