"""Fixtures for the store tests: a desk with an open ticket (to see what reaches it)."""

from __future__ import annotations

from typing import Any, Callable, Tuple

import pytest

from bot.desk.config import load
from bot.desk.rasa_client import RasaClient
from bot.desk.service import Desk
from bot.desk.store import Store
from bot.settings import load_settings


@pytest.fixture
def desk_with_ticket(tmp_path: Any) -> Callable[[str], Tuple[Desk, str]]:
    """A desk on SQLite; calling it opens a ticket for the conversation and returns (desk, ticket code)."""
    from tests.desk.conftest import PlainCalendar
    from tests.desk.conftest import build_packet as packet_for

    store = Store(f"sqlite:///{tmp_path / 'desk.db'}")
    store.migrate()
    desk = Desk(store, load(load_settings()), RasaClient("http://127.0.0.1:9"), calendar=PlainCalendar())

    def open_ticket(conversation_id: str) -> Tuple[Desk, str]:
        answer, created = desk.intake.create_ticket(packet_for(conversation_id))
        assert created
        return desk, answer["id"]

    yield open_ticket
    store.close()
