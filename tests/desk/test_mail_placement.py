"""Each e-mail's attachments under its own message (issue 21): the kept mail's id travels with the message it
came as (`metadata.email.mail`, set by the e-mail channel), into the context packet's transcript line and the
desk's customer message, so the console places the files by id, not by the nearest time (two mails in the same
second went under one message). The console itself: `test_mail_files_browser.py`."""

from __future__ import annotations

from typing import Any, Dict

import pytest

from bot.desk.config import load
from bot.desk.rasa_client import RasaClient
from bot.desk.service import Desk
from bot.desk.store import Store
from bot.desk.views import public_message
from bot.handoff.context import kept_mail_id, transcript
from tests.desk.conftest import PlainCalendar
from tests.desk.test_events import handoff_event, user_event

SAME_SECOND = 1_790_000_000.0


@pytest.fixture
def desk(settings: Dict[str, Any], sqlite_store: Store) -> Desk:
    return Desk(sqlite_store, load(settings), RasaClient("http://127.0.0.1:9"), calendar=PlainCalendar())


def mail_event(conversation: str, text: str, mail: Any, seq: int) -> Dict[str, Any]:
    """A customer e-mail's `user` event as the channel sends it: its kept mail's id in the metadata."""
    event = user_event(conversation, text, f"m{seq}", ts=SAME_SECOND, seq=seq)
    event.update(input_channel="email", metadata={"email": {"message_id": f"<{seq}@x>", "attachments": [],
                                                            "mail": mail}})
    return event


def test_transcript_lines_carry_the_mail_they_came_as() -> None:
    events = [
        mail_event("email:t1", "第一封", 7, 1),
        {"event": "bot", "text": "收到", "timestamp": SAME_SECOND, "data": {}, "metadata": {}},
        mail_event("email:t1", "第二封", 8, 2),  # the same second as the first
        user_event("socketio:x", "widget", "w1", ts=SAME_SECOND, seq=3),  # another channel: no mail
    ]
    lines = transcript(events)
    assert [(line["text"], line.get("mail")) for line in lines] == [
        ("第一封", 7), ("收到", None), ("第二封", 8), ("widget", None)]


@pytest.mark.parametrize("value", ["7", True, 0, -3, None, 1.5])
def test_a_mail_id_that_is_not_one_is_ignored(value: Any) -> None:
    assert kept_mail_id(mail_event("email:t1", "x", value, 1)) is None
    assert kept_mail_id({"event": "user", "metadata": "not a mapping"}) is None


async def test_desk_messages_carry_the_mail_they_came_as(desk: Desk, make_packet: Any) -> None:
    conversation = "email:placement"
    answer, created = desk.intake.create_ticket(make_packet(conversation, channel="email"))
    assert created
    desk.inbox.ingest(handoff_event(conversation, seq=600))
    desk.inbox.ingest(mail_event(conversation, "第三封", 11, 601))
    desk.inbox.ingest(mail_event(conversation, "第四封", 12, 602))  # the same second
    desk.inbox.ingest(user_event(conversation, "no id", "m603", ts=SAME_SECOND, seq=603))  # a mail from before
    ticket = desk.tickets.find(answer["id"])
    stored = desk.store.messages(ticket.id)
    assert [(m.text, m.mail_id) for m in stored] == [("第三封", 11), ("第四封", 12), ("no id", None)]
    shown = [public_message(m) for m in stored]
    assert [m.get("mail") for m in shown] == [11, 12, None] and "mail" not in shown[2]
