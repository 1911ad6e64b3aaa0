"""WeChat/WeCom state shared by Rasa replicas through the real Redis on 127.0.0.1:6379.

Two channel instances, each on its own real sanic server, stand for two Rasa replicas behind a load balancer:
buttons shown by one are resolved by the other, and a retry reaching the other runs no second turn. Redis
failing loses no message.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any, Iterator, List

import aiohttp
import pytest
import redis

from bot.channels.shared_state import LocalState, RedisState, from_env
from bot.channels.wechat import ButtonMemory, WeChatInput
from bot.channels.wecom import WeComInput
from bot.settings import SettingsError
from fake_wechat_api import FakeWeChatApi
from test_wechat_http import make_channel, plain_query, post, reply_fields
from wechat_helpers import FakeAssistant, free_port, text_message_xml

pytestmark = pytest.mark.redis

BUTTONS = [{"title": "查询订单", "payload": "/faq_order_status"}, {"title": "转人工", "payload": "/request_human"}]


@pytest.fixture
def client() -> Iterator[redis.Redis]:
    client = redis.Redis(host="127.0.0.1", port=6379, db=1, socket_timeout=2)
    try:
        client.ping()
    except redis.ConnectionError as error:
        pytest.fail(f"these tests need Redis on 127.0.0.1:6379: {error}")
    yield client
    client.close()


@pytest.fixture
def prefix(client: redis.Redis) -> Iterator[str]:
    """A key prefix of this test's own; its keys are deleted afterwards."""
    name = f"frontline-test:{uuid.uuid4().hex[:10]}"
    yield name
    keys = list(client.scan_iter(f"{name}:*"))
    if keys:
        client.delete(*keys)


def replicas(client: redis.Redis, prefix: str, count: int = 2) -> List[RedisState]:
    """`count` replicas' states, each with its own connection pool, as separate processes would have."""
    return [RedisState(redis.Redis(**client.connection_pool.connection_kwargs), prefix=prefix) for _ in range(count)]


def test_a_message_is_claimed_by_one_replica_only(client: redis.Redis, prefix: str) -> None:
    first, second = replicas(client, prefix)
    assert first.claim("wechat:msg:gh:1001", 600) is True
    assert second.claim("wechat:msg:gh:1001", 600) is False
    assert first.claim("wechat:msg:gh:1001", 600) is False
    assert second.claim("wechat:msg:gh:1002", 600) is True
    assert 0 < client.ttl(f"{prefix}:claim:wechat:msg:gh:1001") <= 600


def test_buttons_shown_by_one_replica_are_resolved_by_another(client: redis.Redis, prefix: str) -> None:
    first, second = (ButtonMemory(state) for state in replicas(client, prefix))
    first.remember("oCustomer1", BUTTONS)
    assert 0 < client.ttl(f"{prefix}:buttons:oCustomer1") <= 24 * 3600
    assert second.resolve("oCustomer1", "5") is None  # not a choice: the options stay
    assert second.resolve("oCustomer1", "你好") is None
    assert second.resolve("oCustomer1", "2") == "/request_human"
    assert first.resolve("oCustomer1", "2") is None  # a choice is used once, on every replica
    assert second.resolve("oSomeoneElse", "1") is None
    assert client.exists(f"{prefix}:buttons:oCustomer1") == 0


def test_dead_redis_loses_nothing_and_is_retried_later(caplog: Any) -> None:
    now = [1000.0]
    dead = redis.Redis(host="127.0.0.1", port=free_port(), socket_timeout=0.2, socket_connect_timeout=0.2)
    state = RedisState(dead, prefix="frontline-test:dead", retry_after_seconds=30, clock=lambda: now[0])
    memory = ButtonMemory(state)
    with caplog.at_level(logging.WARNING, logger="bot.channels.shared_state"):
        assert state.claim("wechat:msg:gh:1", 600) is True  # fail open: handled here rather than dropped
        memory.remember("oCustomer1", BUTTONS)
        assert memory.resolve("oCustomer1", "1") == "/faq_order_status"  # from this process's memory
    warnings = [r for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1 and "Redis failed on a retry claim" in warnings[0].getMessage()
    assert not state._available()
    now[0] += 31
    assert state._available()  # tried again after retry_after_seconds


class CountingClient:
    """A Redis client that records the commands it was asked to run."""

    def __init__(self, inner: redis.Redis) -> None:
        self.inner, self.calls = inner, []

    def __getattr__(self, name: str) -> Any:
        self.calls.append(name)
        return getattr(self.inner, name)


def test_after_a_failure_redis_is_left_alone_until_the_retry_time() -> None:
    now = [0.0]
    dead = CountingClient(redis.Redis(host="127.0.0.1", port=free_port(), socket_timeout=0.2, socket_connect_timeout=0.2))
    state = RedisState(dead, retry_after_seconds=30, clock=lambda: now[0])
    state.claim("a", 60)
    calls = len(dead.calls)
    for _ in range(5):
        state.claim("b", 60)
        state.put_buttons("oCustomer1", ["/x"])
        assert state.get_buttons("oCustomer1") == ["/x"]
    assert len(dead.calls) == calls  # no wait on a dead Redis for every message
    now[0] = 31
    state.claim("c", 60)
    assert len(dead.calls) == calls + 1


async def test_retry_reaching_another_replica_runs_no_second_turn(
    client: redis.Redis, prefix: str, fake_api: FakeWeChatApi, serve: Any, http: aiohttp.ClientSession
) -> None:
    states = replicas(client, prefix)
    assistants = [FakeAssistant(delay=0.3), FakeAssistant()]
    servers = [
        await serve(make_channel(fake_api, shared_state=state, reply_budget_seconds=2.0), assistant)
        for state, assistant in zip(states, assistants)
    ]
    xml = text_message_xml("重试到了另一台", msg_id="7701")
    first = await post(http, servers[0].url, plain_query(), xml)
    retry = await post(http, servers[1].url, plain_query(), xml)
    assert first[0] == 200 and reply_fields(first[1])["Content"] == "答复：重试到了另一台"
    assert retry == (200, "success")
    assert len(assistants[0].calls) == 1 and assistants[1].calls == []
    # a new message reaching the second replica is answered there
    other = await post(http, servers[1].url, plain_query(), text_message_xml("新消息", msg_id="7702"))
    assert reply_fields(other[1])["Content"] == "答复：新消息" and len(assistants[1].calls) == 1


async def test_number_reaching_another_replica_chooses_the_button(
    client: redis.Redis, prefix: str, fake_api: FakeWeChatApi, serve: Any, http: aiohttp.ClientSession
) -> None:
    def answer(message: Any) -> List[dict]:
        return [{"text": "请选择：", "buttons": BUTTONS}] if message.text == "菜单" else [{"text": f"收到 {message.text}"}]

    assistants = [FakeAssistant(answer=answer), FakeAssistant(answer=answer)]
    servers = [
        await serve(make_channel(fake_api, shared_state=state), assistant)
        for state, assistant in zip(replicas(client, prefix), assistants)
    ]
    status, body = await post(http, servers[0].url, plain_query(), text_message_xml("菜单", msg_id="7801"))
    assert reply_fields(body)["Content"].startswith("请选择：\n1. 查询订单\n2. 转人工")
    status, body = await post(http, servers[1].url, plain_query(), text_message_xml("2", msg_id="7802"))
    assert assistants[1].calls[0].text == "/request_human"
    assert assistants[1].calls[0].metadata["button_choice"] == "2"


def test_from_env_picks_redis_in_production_mode_only() -> None:
    assert isinstance(from_env({}), LocalState)
    shared = from_env({"FRONTLINE_REDIS_HOST": "127.0.0.1", "FRONTLINE_REDIS_PORT": "6379"})
    assert isinstance(shared, RedisState)
    assert shared.client.connection_pool.connection_kwargs["db"] == 1  # the lock store's database
    with pytest.raises(SettingsError, match="FRONTLINE_REDIS_PORT must be a whole number"):
        from_env({"FRONTLINE_REDIS_HOST": "127.0.0.1", "FRONTLINE_REDIS_PORT": "63 79"})


@pytest.mark.parametrize("channel_class", [WeChatInput, WeComInput])
def test_channels_share_state_through_redis_when_configured(channel_class: Any, monkeypatch: Any) -> None:
    credentials = {"token": "t", "encoding_aes_key": "", "app_id": "wx1", "corp_id": "ww1", "agent_id": "1"}
    monkeypatch.delenv("FRONTLINE_REDIS_HOST", raising=False)
    assert isinstance(channel_class.from_credentials(credentials).shared_state, LocalState)
    monkeypatch.setenv("FRONTLINE_REDIS_HOST", "127.0.0.1")
    channel = channel_class.from_credentials(credentials)
    assert isinstance(channel.shared_state, RedisState)
    assert channel.buttons.state is channel.shared_state
