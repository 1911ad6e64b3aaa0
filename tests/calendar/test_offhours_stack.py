"""Off hours on the running system (clock pinned to Sunday 30 Nov 2025, 20:00 Beijing time).

Asking for a human gets the exact next-opening reply in the customer's language with the ticket number; the
assistant keeps answering common questions; an emergency gets the 24/7 contact at once.
"""

from __future__ import annotations

import datetime as dt
import pathlib
import tempfile
import uuid
from typing import Iterator, List

import pytest
import requests

from bot.calendar.messages import offhours_reply
from bot.devtools import free_port
from bot.run import Ports, Stack, latest_model, start
from bot.settings import load_settings, repo_root
from tests.conftest import TEST_CHANNEL_ENV

pytestmark = pytest.mark.stack

SUNDAY_EVENING = "2025-11-30T20:00:00+08:00"


@pytest.fixture(scope="module")
def offhours_stack() -> Iterator[Stack]:
    model = latest_model(repo_root())
    if model is None:
        pytest.fail("no trained model under models/: run `make train` first")
    with tempfile.TemporaryDirectory(prefix="frontline-offhours-") as tmp:
        var = pathlib.Path(tmp)
        stack = start(
            var=var, ports=Ports(rasa=free_port(), actions=free_port(), desk=free_port()), model=model,
            extra_env={**TEST_CHANNEL_ENV, "FRONTLINE_NOW": SUNDAY_EVENING}, log_dir=var / "logs",
        )
        try:
            yield stack
        finally:
            stack.stop()


def say(stack: Stack, sender: str, text: str) -> List[str]:
    response = requests.post(
        f"{stack.rasa_url}/webhooks/rest/webhook", json={"sender": sender, "message": text}, timeout=30
    )
    assert response.status_code == 200, response.text
    return [m.get("text") or "" for m in response.json()]


def ticket_of(stack: Stack, sender: str) -> dict:
    response = requests.get(
        f"{stack.desk_url}/internal/conversations/rest:{sender}/ticket",
        headers={"X-Frontline-Secret": stack.env["FRONTLINE_DESK_SECRET"]}, timeout=10,
    )
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.parametrize(
    "text, language, opening",
    [("转人工", "zh", "12月1日（周一）09:00"), ("I want to talk to a human agent", "en", "Mon 1 Dec, 09:00")],
)
def test_asking_for_a_human_off_hours_names_the_next_opening(offhours_stack, text, language, opening) -> None:
    sender = f"off-{uuid.uuid4().hex[:8]}"
    replies = say(offhours_stack, sender, text)
    ticket = ticket_of(offhours_stack, sender)
    first_response = dt.datetime.fromisoformat(ticket["due"]["first_response"])
    expected = offhours_reply(
        language, dt.datetime.fromisoformat(SUNDAY_EVENING), ticket_id=ticket["id"], first_response=first_response
    )
    assert replies == [expected]
    assert opening in expected and ticket["id"] in expected
    # Still answered by the assistant overnight (the conversation is not paused until an agent claims it).
    assert say(offhours_stack, sender, "退款多久到账" if language == "zh" else "how long does a refund take")


def test_emergency_off_hours_gets_the_round_the_clock_contact(offhours_stack) -> None:
    sender = f"sos-{uuid.uuid4().hex[:8]}"
    replies = say(offhours_stack, sender, "我的银行卡被偷了，怎么办")
    contact = load_settings()["emergency"]["contact_zh"]
    assert any(contact in reply for reply in replies), replies
    assert not any("12月1日" in reply for reply in replies), "an emergency is never told to wait for Monday"
    assert ticket_of(offhours_stack, sender)["grade"] == "A"
