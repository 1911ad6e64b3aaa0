"""Forged log lines (security review, finding 12): customer data cannot break a log line in two.

Before the fix a REST sender such as `"x\\nINFO bot.desk.tickets: ticket T-000001 resolved by admin"` was taken as
a conversation id, and every log line of ours naming it (`handoff: no ticket for conversation %s`) wrote the
attacker's line into the log. Now the REST channel refuses control characters in the sender (400), and our log
records escape them whatever their source (`bot/logsafe.py`).
"""

from __future__ import annotations

import io
import logging
import uuid
from typing import Any

import sqlite3

import aiohttp
import pytest

from bot import logsafe

FORGED_LINE = "INFO bot.desk.tickets: ticket T-000001 resolved by admin"


@pytest.mark.stack
@pytest.mark.parametrize("breaker", ["\n", "\r\n", "\r", "\x1b[2K", "\u2028", "\x85", "\t"])
async def test_rest_sender_with_a_line_break_is_refused(stack: Any, breaker: str) -> None:
    sender = f"victim-{uuid.uuid4().hex[:6]}{breaker}{FORGED_LINE}"
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:
        async with http.post(f"{stack.rasa_url}/webhooks/rest/webhook",
                             json={"sender": sender, "message": "转人工"}) as r:
            assert r.status == 400, await r.text()
            assert "control character" in (await r.json())["message"]
    # No turn was started for it: the tracker store holds no event of any conversation of that sender.
    prefix = sender.split(breaker)[0]
    with sqlite3.connect(stack.var / "rasa.db") as db:
        stored = db.execute("SELECT count(*) FROM events WHERE sender_id LIKE ?", (f"%{prefix}%",)).fetchone()[0]
    assert stored == 0


def test_our_log_records_stay_on_one_line() -> None:
    logsafe.install()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    ours, theirs = logging.getLogger("bot.handoff.test_logsafe"), logging.getLogger("somelib.test_logsafe")
    for logger in (ours, theirs):
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False
    try:
        ours.error("handoff: no ticket for conversation %s: %s", f"x\n{FORGED_LINE}", ValueError(f"bad\r\n{FORGED_LINE}"))
        ours.info(f"an f-string line with a customer's text: a\u2028{FORGED_LINE}")
        ours.info("%d tickets, %.1f s", 3, 1.25)  # numbers keep their formats
        theirs.info("another library's own lines are its business:\nsecond line")
    finally:
        for logger in (ours, theirs):
            logger.removeHandler(handler)
    lines = stream.getvalue().splitlines()
    assert lines[:4] == [
        f"ERROR bot.handoff.test_logsafe: handoff: no ticket for conversation x\\n{FORGED_LINE}: bad\\r\\n{FORGED_LINE}",
        f"INFO bot.handoff.test_logsafe: an f-string line with a customer's text: a\\u2028{FORGED_LINE}",
        "INFO bot.handoff.test_logsafe: 3 tickets, 1.2 s",
        "INFO somelib.test_logsafe: another library's own lines are its business:",
    ]
    assert not any(line.startswith("INFO bot.desk.tickets") for line in lines)
