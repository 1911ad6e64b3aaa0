"""The widget's emergency button in a real headless Chromium, on the running system at 02:00 on a Tuesday night:
the greeting shows "紧急情况请点击此处" as a quick reply (rasa-webchat's `.rw-reply`); a click gets the 24/7 line and
a grade-A emergency ticket. Browser as `test_browser.py`, stack from `tests/channels/night_stack.py`.
"""

from __future__ import annotations

from typing import Any, Iterator

import pytest

from bot.run import Stack
from bot.settings import load_settings
from test_browser import browser, open_widget, send, stored_session_id, wait_for_response  # noqa: F401 (fixture)
from tests.channels.night_stack import running_night_stack, ticket_of

pytestmark = [pytest.mark.browser, pytest.mark.stack]


@pytest.fixture(scope="module")
def night_stack() -> Iterator[Stack]:
    with running_night_stack("frontline-emergency-browser-") as stack:
        yield stack


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
