"""The one check of delivery keys (`bot.channels.delivery_keys`) over both stores: SQLite (one machine; two
store objects on one file stand for a restarted process) and the real Redis on 127.0.0.1:6379 (two clients stand
for two replicas)."""

from __future__ import annotations

import asyncio
import logging
import pathlib
import uuid
from typing import Any, Iterator, List

import pytest
import redis

from bot.channels.delivery_keys import (
    CLAIM_SECONDS,
    DeliveryInProgress,
    DeliveryKeys,
    RedisKeyStore,
    SqliteKeyStore,
    delivery_key,
    from_env,
)
from bot.channels import webchat_replay
from bot.channels.webchat_replay import WidgetPresence

CONVERSATION = "wechat:oCustomer0001"


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def redis_client() -> Iterator[redis.Redis]:
    client = redis.Redis(host="127.0.0.1", port=6379, db=1, socket_timeout=2)
    try:
        client.ping()
    except redis.ConnectionError as error:
        pytest.fail(f"these tests need Redis on 127.0.0.1:6379: {error}")
    prefix = f"frontline-test:{uuid.uuid4().hex[:10]}"
    client.test_prefix = prefix  # type: ignore[attr-defined]
    yield client
    keys = list(client.scan_iter(f"{prefix}:*"))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture(params=["sqlite", "redis"])
def pair(request: Any, tmp_path: pathlib.Path) -> List[DeliveryKeys]:
    """Two handles on one store: two processes sharing it (or one process before and after a restart)."""
    if request.param == "sqlite":
        return [DeliveryKeys(SqliteKeyStore(tmp_path / "keys.db")) for _ in range(2)]
    client = request.getfixturevalue("redis_client")
    return [
        DeliveryKeys(RedisKeyStore(redis.Redis(**client.connection_pool.connection_kwargs), prefix=client.test_prefix))
        for _ in range(2)
    ]


class Sender:
    def __init__(self, fail: bool = False) -> None:
        self.sent = 0
        self.fail = fail

    async def __call__(self) -> None:
        if self.fail:
            raise RuntimeError("channel down (test)")
        self.sent += 1


async def test_a_key_is_sent_once_per_conversation(pair: List[DeliveryKeys], caplog: pytest.LogCaptureFixture) -> None:
    first, second = pair
    send = Sender()
    message = {"text": "hi", "delivery_key": "desk-T1-1"}
    assert await first.send_once(CONVERSATION, message, send) is True
    with caplog.at_level(logging.INFO, logger="bot.channels.delivery_keys"):
        assert await second.send_once(CONVERSATION, message, send) is False
    assert send.sent == 1
    assert "desk-T1-1" in caplog.text and "not sent again" in caplog.text
    # another key, or the same key in another conversation, is sent
    assert await second.send_once(CONVERSATION, {"delivery_key": "desk-T1-2"}, send) is True
    assert await second.send_once("wechat:oOther", message, send) is True
    assert send.sent == 3


async def test_a_failed_send_records_nothing(pair: List[DeliveryKeys]) -> None:
    first, second = pair
    with pytest.raises(RuntimeError):
        await first.send_once(CONVERSATION, {"delivery_key": "desk-T2-1"}, Sender(fail=True))
    send = Sender()
    assert await second.send_once(CONVERSATION, {"delivery_key": "desk-T2-1"}, send) is True
    assert send.sent == 1


async def test_a_key_being_sent_elsewhere_is_refused_until_it_resolves(pair: List[DeliveryKeys]) -> None:
    first, second = pair
    seen = []

    async def slow_send() -> None:
        with pytest.raises(DeliveryInProgress):
            await second.send_once(CONVERSATION, {"delivery_key": "desk-T3-1"}, Sender())
        seen.append("refused while in flight")

    await first.send_once(CONVERSATION, {"delivery_key": "desk-T3-1"}, slow_send)
    assert seen == ["refused while in flight"]
    assert await second.send_once(CONVERSATION, {"delivery_key": "desk-T3-1"}, Sender()) is False


async def test_messages_without_a_key_are_always_sent(pair: List[DeliveryKeys]) -> None:
    send = Sender()
    for _ in range(3):
        assert await pair[0].send_once(CONVERSATION, {"text": "assistant answer"}, send) is True
    assert send.sent == 3


@pytest.mark.parametrize("bad", ["", "   ", 7, "x" * 201, "a\nb"])
async def test_a_malformed_key_is_refused_clearly_and_nothing_is_sent(tmp_path: pathlib.Path, bad: Any) -> None:
    keys = DeliveryKeys(SqliteKeyStore(tmp_path / "keys.db"))
    send = Sender()
    with pytest.raises(ValueError, match="delivery_key must be"):
        await keys.send_once(CONVERSATION, {"delivery_key": bad}, send)
    assert send.sent == 0
    assert delivery_key({"text": "x"}) is None


async def test_missed_replies_are_kept_in_order_until_dropped(pair: List[DeliveryKeys]) -> None:
    first, second = pair
    for key in ("desk-T4-1", "desk-T4-2", "desk-T4-1"):
        first.add_missed("socketio:s1", key)
    assert second.missed("socketio:s1") == ["desk-T4-1", "desk-T4-2"]
    assert second.missed("socketio:s2") == []
    second.drop_missed("socketio:s1", ["desk-T4-1"])
    assert first.missed("socketio:s1") == ["desk-T4-2"]
    assert first.begin_replay("socketio:s1") is True
    assert second.begin_replay("socketio:s1") is False
    first.end_replay("socketio:s1")
    assert second.begin_replay("socketio:s1") is True


def test_presence_is_shared_in_redis_and_expires(redis_client: redis.Redis) -> None:
    clock = Clock()
    replica_a = DeliveryKeys(RedisKeyStore(redis_client, prefix=redis_client.test_prefix, clock=clock))
    replica_b = DeliveryKeys(RedisKeyStore(redis_client, prefix=redis_client.test_prefix, clock=clock))
    assert replica_b.present_elsewhere("socketio:s1") is False
    replica_a.join("socketio:s1", "sid-1")
    assert replica_b.present_elsewhere("socketio:s1") is True
    clock.now += 91  # replica A died: it stopped renewing
    assert replica_b.present_elsewhere("socketio:s1") is False
    replica_a.join("socketio:s1", "sid-1")
    replica_a.leave("socketio:s1", "sid-1")
    assert replica_b.present_elsewhere("socketio:s1") is False


async def test_a_claim_left_by_a_crash_expires(tmp_path: pathlib.Path) -> None:
    clock = Clock()
    crashed = DeliveryKeys(SqliteKeyStore(tmp_path / "keys.db", clock=clock))
    assert crashed.store.claim(CONVERSATION, "desk-T5-1") == "new"  # the process dies while sending
    restarted = DeliveryKeys(SqliteKeyStore(tmp_path / "keys.db", clock=clock))
    with pytest.raises(DeliveryInProgress):
        await restarted.send_once(CONVERSATION, {"delivery_key": "desk-T5-1"}, Sender())
    clock.now += CLAIM_SECONDS + 1
    assert await restarted.send_once(CONVERSATION, {"delivery_key": "desk-T5-1"}, Sender()) is True


async def test_a_store_that_fails_never_blocks_a_reply(caplog: pytest.LogCaptureFixture) -> None:
    down = DeliveryKeys(RedisKeyStore(redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)))
    send = Sender()
    with caplog.at_level(logging.WARNING, logger="bot.channels.delivery_keys"):
        assert await down.send_once(CONVERSATION, {"delivery_key": "desk-T6-1"}, send) is True
    assert send.sent == 1 and "delivery keys: checking a key failed" in caplog.text
    assert down.missed("socketio:s1") == [] and down.present_elsewhere("socketio:s1") is False


def test_from_env_picks_redis_in_production_mode_else_a_file(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRONTLINE_VAR", str(tmp_path))
    local = from_env({})
    assert isinstance(local.store, SqliteKeyStore) and local.store.path == tmp_path / "channel-keys.db"
    assert from_env({}) is local  # one per process, shared by every channel
    shared = from_env({"FRONTLINE_REDIS_URL": "redis://127.0.0.1:6379/1"})
    assert isinstance(shared.store, RedisKeyStore)


def test_widget_presence_counts_this_process_sockets(tmp_path: pathlib.Path) -> None:
    presence = WidgetPresence(DeliveryKeys(SqliteKeyStore(tmp_path / "keys.db")))
    presence.join("sid-1", "socketio:s1")
    presence.join("sid-2", "socketio:s1")
    assert presence.present("socketio:s1") and not presence.present("socketio:s2")
    presence.leave("sid-1")
    assert presence.present("socketio:s1")
    presence.leave("sid-2")
    presence.leave("sid-unknown")
    assert not presence.present("socketio:s1")


async def test_a_live_replica_renews_its_sockets_presence(
    redis_client: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock()
    monkeypatch.setattr(webchat_replay, "RENEW_SECONDS", 0.05)
    replica_a = WidgetPresence(DeliveryKeys(RedisKeyStore(redis_client, prefix=redis_client.test_prefix, clock=clock)))
    replica_b = DeliveryKeys(RedisKeyStore(redis_client, prefix=redis_client.test_prefix, clock=clock))
    replica_a.join("sid-1", "socketio:s1")
    clock.now += 91
    assert not replica_b.present_elsewhere("socketio:s1")
    renewal = asyncio.get_running_loop().create_task(replica_a.renew_forever())
    await asyncio.sleep(0.3)
    renewal.cancel()
    assert replica_b.present_elsewhere("socketio:s1")


async def test_the_file_forgets_keys_and_missed_replies_after_seven_days(tmp_path: pathlib.Path) -> None:
    clock = Clock()
    store = SqliteKeyStore(tmp_path / "keys.db", clock=clock)
    keys = DeliveryKeys(store)
    await keys.send_once(CONVERSATION, {"delivery_key": "desk-T7-1"}, Sender())
    keys.add_missed("socketio:s1", "desk-T7-1")
    clock.now += 7 * 24 * 3600 + 1
    await keys.send_once(CONVERSATION, {"delivery_key": "desk-T7-2"}, Sender())  # a write cleans up
    rows = store._conn().execute("SELECT count(*) FROM delivery_keys").fetchone()[0]
    missed = store._conn().execute("SELECT count(*) FROM missed_replies").fetchone()[0]
    assert (rows, missed) == (1, 0)


@pytest.mark.parametrize("channel", ["wechat", "wecom"])
async def test_a_long_reply_whose_later_part_was_refused_sends_only_the_missing_parts_on_retry(
    pair: List[DeliveryKeys], fake_api: Any, channel: str
) -> None:
    """The real API client against the fake WeChat / WeCom API: a reply in three parts, the second refused
    (45015) once; the desk's retry with the same key sends parts two and three, and a third post nothing."""
    from wechat_helpers import AGENT_ID, APP_ID, APP_SECRET, CORP_ID, CORP_SECRET

    from bot.channels.wechat_api import OutOfResponseWindow, WeChatApiClient, WeComApiClient
    from bot.channels.wechat_delivery import WeChatOutput
    from bot.channels.wecom import WeComOutput

    def no_sleep(seconds: float) -> None:
        pass

    if channel == "wechat":
        client = WeChatApiClient(APP_ID, APP_SECRET, base_url=fake_api.base_url, max_reply_bytes=60, sleep=no_sleep)
        output: WeChatOutput = WeChatOutput(client, keys=pair[0])
    else:
        client = WeComApiClient(CORP_ID, CORP_SECRET, AGENT_ID, base_url=fake_api.base_url, max_reply_bytes=60,
                                sleep=no_sleep)
        output = WeComOutput(client, keys=pair[0])
    retrying = type(output)(client, keys=pair[1])  # the retry may reach another replica (or a restarted one)
    text = "您好，退款已经为您加急处理。预计三个工作日内到账，请留意。如有疑问请随时联系我们，谢谢您！"
    parts = client.reply_parts(text)
    assert len(parts) == 3
    conversation = f"{channel}:oLongReply{uuid.uuid4().hex[:8]}"
    key = f"desk-T-{uuid.uuid4().hex[:6]}-7"

    fake_api.fail_next("send", "ok", 45015)
    with pytest.raises(OutOfResponseWindow):
        await output.send_response(conversation, {"text": text, "delivery_key": key})
    assert fake_api.texts() == parts[:1]
    await retrying.send_response(conversation, {"text": text, "delivery_key": key})
    await output.send_response(conversation, {"text": text, "delivery_key": key})
    assert fake_api.texts() == parts  # each part once, in order
