"""The retry de-duplication registry."""

from __future__ import annotations

from typing import List

from bot.channels.dedupe import Deduplicator, message_key


def test_message_key_prefers_msg_id() -> None:
    assert message_key({"ToUserName": "gh_1", "MsgId": "123", "FromUserName": "o", "CreateTime": "1"}) == "msg:gh_1:123"
    assert message_key({"ToUserName": "gh_1", "FromUserName": "o", "CreateTime": "17", "MsgType": "event"}) == "evt:gh_1:o:17"
    assert message_key({"ToUserName": "gh_1", "MsgId": "0", "FromUserName": "o", "CreateTime": "17"}) == "evt:gh_1:o:17"
    assert message_key({"ToUserName": "gh_1"}) is None
    # the same MsgId on two accounts is two messages
    assert message_key({"ToUserName": "gh_1", "MsgId": "5"}) != message_key({"ToUserName": "gh_2", "MsgId": "5"})


def test_event_key_names_the_event() -> None:
    """LOCATION then subscribe in the same second from one user are two events: the welcome must not be lost."""
    base = {"ToUserName": "gh_1", "FromUserName": "o", "CreateTime": "17", "MsgType": "event"}
    location = {**base, "Event": "LOCATION", "Latitude": "23.1", "Longitude": "113.2"}
    subscribe = {**base, "Event": "subscribe"}
    assert message_key(location) == "evt:gh_1:o:17:LOCATION:"
    assert message_key(subscribe) == "evt:gh_1:o:17:subscribe:"
    # two menu clicks in one second differ by EventKey; a retry of either keeps its key
    click = {**base, "Event": "CLICK", "EventKey": "V1001"}
    assert message_key(click) == "evt:gh_1:o:17:CLICK:V1001"
    assert message_key({**click, "EventKey": "V1002"}) != message_key(click)
    assert message_key(dict(click)) == message_key(click)


def test_first_delivery_creates_retries_join() -> None:
    made: List[object] = []

    def factory() -> object:
        made.append(object())
        return made[-1]

    dedupe: Deduplicator[object] = Deduplicator()
    first, created = dedupe.get_or_create("k", factory)
    again, created_again = dedupe.get_or_create("k", factory)
    assert created and not created_again and first is again and len(made) == 1
    other, created_other = dedupe.get_or_create("k2", factory)
    assert created_other and other is not first


def test_expiry_keeps_active_entries() -> None:
    now = [0.0]
    active = {"busy"}
    dedupe: Deduplicator[str] = Deduplicator(ttl_seconds=10, is_active=lambda e: e in active, clock=lambda: now[0])
    dedupe.get_or_create("a", lambda: "done")
    dedupe.get_or_create("b", lambda: "busy")
    now[0] = 11
    assert dedupe.get("a") is None  # expired
    assert dedupe.get("b") == "busy"  # still in progress: never forgotten
    active.clear()
    assert dedupe.get("b") is None
    assert dedupe.get_or_create("a", lambda: "new") == ("new", True)


def test_max_entries_evicts_oldest_finished() -> None:
    dedupe: Deduplicator[int] = Deduplicator(max_entries=3, is_active=lambda e: e == 0)
    for index in range(5):
        dedupe.get_or_create(f"k{index}", lambda index=index: index)
    assert len(dedupe) == 3
    assert dedupe.get("k0") == 0  # active, kept
    assert dedupe.get("k1") is None and dedupe.get("k4") == 4
