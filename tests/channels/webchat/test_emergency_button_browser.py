"""The widget's emergency button in a real headless Chromium, on the running system at 02:00 on a Tuesday night:
the greeting shows "紧急情况请点击此处" as a quick reply (rasa-webchat's `.rw-reply`); a click gets the 24/7 line and
a grade-A emergency ticket. Browser as `test_browser.py`, stack as `tests/calendar/test_offhours_stack.py`.
"""

from __future__ import annotations

import pathlib
import tempfile
import time
from typing import Any, Iterator

import pytest
import requests

from bot.devtools import free_port
from bot.run import Ports, Stack, latest_model, start
from bot.settings import load_settings, repo_root
from test_browser import browser, open_widget, send, stored_session_id, wait_for_response  # noqa: F401 (fixture)
from tests.conftest import TEST_CHANNEL_ENV

pytestmark = [pytest.mark.browser, pytest.mark.stack]

TUESDAY_NIGHT = "2025-12-02T02:00:00+08:00"


@pytest.fixture(scope="module")
def night_stack() -> Iterator[Stack]:
    model = latest_model(repo_root())
    if model is None:
        pytest.fail("no trained model under models/: run `python -m bot train` first")
    with tempfile.TemporaryDirectory(prefix="frontline-emergency-browser-") as tmp:
        var = pathlib.Path(tmp)
        stack = start(
            var=var, ports=Ports(rasa=free_port(), actions=free_port(), desk=free_port()), model=model,
            extra_env={**TEST_CHANNEL_ENV, "FRONTLINE_NOW": TUESDAY_NIGHT}, log_dir=var / "logs",
        )
        try:
            yield stack
        finally:
            stack.stop()


def ticket_of(stack: Stack, conversation: str) -> dict:
    deadline = time.monotonic() + 20
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


async def test_clicking_the_greetings_emergency_button(browser: Any, night_stack: Stack) -> None:  # noqa: F811
    context = await browser.new_context()
    page = await context.new_page()
    await page.goto(f"{night_stack.desk_url}/demo")
    await open_widget(page)
    await send(page, "你好")
    button = page.locator(".rw-reply", has_text="紧急情况请点击此处")
    await button.wait_for(state="visible", timeout=30_000)  # the visible mark, under the greeting
    await button.click()

    await wait_for_response(page, load_settings()["emergency"]["contact_zh"], timeout=30_000)
    ticket = ticket_of(night_stack, f"socketio:{await stored_session_id(page)}")
    assert (ticket["grade"], ticket["reason"], ticket["skill"]) == ("A", "emergency", "emergency"), ticket
    await context.close()
