"""The 微信客服 channel over real HTTP: encrypted callbacks built by wechatpy, the fake kf API on loopback.

Each test drives a real sanic server mounting the channel's blueprint and the fake API server
(`fake_wechat_api.FakeKf`): the callback only announces messages, the channel pulls them with `sync_msg` from
its durable cursor, answers with `send_msg`, greets with `send_msg_on_event`, and follows the session states.
"""

from __future__ import annotations

import asyncio
import pathlib
import time
import uuid
from typing import Any, Dict, Optional, Tuple

import aiohttp
import pytest
import redis

from bot.channels.delivery_keys import DeliveryKeys, SqliteKeyStore
from bot.channels.wechat_kf import WeChatKfInput
from bot.channels.wechat_kf_api import SessionStateInvalid
from bot.channels.wechat_kf_cursor import RedisCursorStore, SqliteCursorStore
from bot.conversations import ForeignConversation
from bot.channels.wechat_turns import welcome_text
from bot.i18n import ZH
from fake_wechat_api import FakeWeChatApi
from wechat_helpers import CORP_ID, TOKEN, WECOM_AES_KEY, FakeAssistant, kf_callback as callback

KF_SECRET = "frontline-kf-secret"
CUSTOMER = "wmCUSTOMER0001"


@pytest.fixture
def kf_api() -> Any:
    with FakeWeChatApi(corp_id=CORP_ID, kf_secret=KF_SECRET) as api:
        yield api


def make_kf(api: FakeWeChatApi, folder: pathlib.Path, store: Any = None, **kwargs: Any) -> WeChatKfInput:
    """A channel on the fake, its cursor and delivery keys in files under `folder` (a restart: a new channel on
    the same files)."""
    options: Dict[str, Any] = dict(
        token=TOKEN, encoding_aes_key=WECOM_AES_KEY, corp_id=CORP_ID, secret=KF_SECRET, open_kfid=api.kf.open_kfid,
        api_base=api.base_url, reply_max_bytes=2048,
        cursor_store=store if store is not None else SqliteCursorStore(folder / "wechat-kf.db"),
    )
    options.update(kwargs)
    channel = WeChatKfInput(**options)
    channel.delivery_keys = DeliveryKeys(SqliteKeyStore(folder / "channel-keys.db"))
    return channel


async def announce(http: aiohttp.ClientSession, server: Any, api: FakeWeChatApi, open_kfid: Optional[str] = None) -> Tuple[int, str]:
    query, body = callback(api.kf.callback_token(), open_kfid or api.kf.open_kfid)
    async with http.post(server.url, params=query, data=body.encode()) as resp:
        return resp.status, await resp.text()


async def test_callback_pulls_greets_and_answers(kf_api: FakeWeChatApi, serve: Any, http: aiohttp.ClientSession, tmp_path: pathlib.Path) -> None:
    assistant = FakeAssistant()
    channel = make_kf(kf_api, tmp_path)
    server = await serve(channel, assistant)
    code = kf_api.kf.enter_session(CUSTOMER)
    kf_api.kf.customer_text(CUSTOMER, "退款多久到账")
    kf_api.kf.customer_text(CUSTOMER, "谢谢")

    assert await announce(http, server, kf_api) == (200, "success")
    await channel.idle()

    assert [m.text for m in assistant.calls] == ["退款多久到账", "谢谢"]
    assert {(m.sender_id, m.input_channel) for m in assistant.calls} == {(f"wechat_kf:{CUSTOMER}", "wechat_kf")}
    [greeting] = kf_api.kf.greetings
    assert greeting["code"] == code and greeting["text"]["content"] == welcome_text(ZH).strip()
    answers = [m["body"] for m in kf_api.sent if m["api"] == "wechat_kf"]
    assert answers == [
        {"touser": CUSTOMER, "open_kfid": kf_api.kf.open_kfid, "msgtype": "text", "text": {"content": f"答复：{text}"}}
        for text in ("退款多久到账", "谢谢")
    ]
    assert kf_api.kf.states[CUSTOMER] == 1  # served through the API: with the assistant
    # the callback's Token went with the fetch, and the next callback fetches nothing again
    assert kf_api.kf.sync_calls[0]["token"].startswith("ENCKFTOKEN")
    assert await announce(http, server, kf_api) == (200, "success")
    await channel.idle()
    assert len(assistant.calls) == 2 and len(kf_api.kf.greetings) == 1


async def test_restart_between_fetches_neither_loses_nor_repeats(kf_api: FakeWeChatApi, serve: Any, http: aiohttp.ClientSession, tmp_path: pathlib.Path) -> None:
    first_assistant = FakeAssistant()
    first = make_kf(kf_api, tmp_path)
    server = await serve(first, first_assistant)
    kf_api.kf.customer_text(CUSTOMER, "一")
    kf_api.kf.customer_text(CUSTOMER, "二")
    await announce(http, server, kf_api)
    await first.idle()
    assert [m.text for m in first_assistant.calls] == ["一", "二"]
    first.stop()

    # the process restarts: a new channel on the same files; two more messages wait
    kf_api.kf.customer_text(CUSTOMER, "三")
    kf_api.kf.customer_text("wmOTHER0002", "四")
    second_assistant = FakeAssistant()
    second = make_kf(kf_api, tmp_path)
    server = await serve(second, second_assistant)
    await announce(http, server, kf_api)
    await second.idle()
    assert [m.text for m in second_assistant.calls] == ["三", "四"]
    assert kf_api.texts() == [f"答复：{t}" for t in ("一", "二", "三", "四")]
    assert kf_api.kf.sync_calls[-1]["cursor"] == "CUR2"  # started where the first process stopped


async def test_restart_in_the_middle_of_a_page_repeats_nothing(kf_api: FakeWeChatApi, serve: Any, http: aiohttp.ClientSession, tmp_path: pathlib.Path) -> None:
    """The process dies while the second message of a page is being answered: the page's cursor was not saved,
    so the next process reads the page again, skips the first message (done) and answers the second."""
    slow = FakeAssistant(delay=30)
    original = slow.__call__

    async def first_quick(message: Any) -> None:
        slow.delay = 0 if message.text == "一" else 30
        await original(message)

    first = make_kf(kf_api, tmp_path)
    server = await serve(first, first_quick)
    kf_api.kf.customer_text(CUSTOMER, "一")
    kf_api.kf.customer_text(CUSTOMER, "二")
    await announce(http, server, kf_api)
    for _ in range(200):
        if len(slow.calls) == 2:
            break
        await asyncio.sleep(0.02)
    first.stop()  # killed while "二" is in its turn
    with pytest.raises(asyncio.CancelledError):
        await first.sync.task  # type: ignore[misc]
    assert kf_api.texts() == ["答复：一"]

    again = FakeAssistant()
    second = make_kf(kf_api, tmp_path)
    server = await serve(second, again)
    await announce(http, server, kf_api)
    await second.idle()
    assert [m.text for m in again.calls] == ["二"]
    assert kf_api.texts() == ["答复：一", "答复：二"]


async def test_bad_callbacks_are_refused_and_fetch_nothing(kf_api: FakeWeChatApi, serve: Any, http: aiohttp.ClientSession, tmp_path: pathlib.Path) -> None:
    assistant = FakeAssistant()
    channel = make_kf(kf_api, tmp_path)
    server = await serve(channel, assistant)
    kf_api.kf.customer_text(CUSTOMER, "你好")
    query, body = callback(kf_api.kf.callback_token(), kf_api.kf.open_kfid)
    async with http.post(server.url, params={**query, "msg_signature": "0" * 40}, data=body.encode()) as resp:
        assert resp.status == 403
    stale_query, stale_body = callback("x", kf_api.kf.open_kfid, timestamp=str(int(time.time()) - 1000))
    async with http.post(server.url, params=stale_query, data=stale_body.encode()) as resp:
        assert resp.status == 403
    plain = f"<xml><ToUserName>{CORP_ID}</ToUserName><MsgType>event</MsgType><Event>kf_msg_or_event</Event></xml>"
    async with http.post(server.url, params={"timestamp": str(int(time.time())), "nonce": "1"}, data=plain.encode()) as resp:
        assert resp.status == 400
    # another service account's callback: acknowledged, nothing fetched for it
    assert await announce(http, server, kf_api, open_kfid="wkSOMEONEELSE") == (200, "success")
    await channel.idle()
    assert kf_api.kf.sync_calls == [] and assistant.calls == []


async def test_a_refused_fetch_keeps_the_cursor(kf_api: FakeWeChatApi, serve: Any, http: aiohttp.ClientSession, tmp_path: pathlib.Path) -> None:
    assistant = FakeAssistant()
    channel = make_kf(kf_api, tmp_path)
    server = await serve(channel, assistant)
    kf_api.kf.customer_text(CUSTOMER, "在吗")
    query, body = callback("ENCKFTOKEN-FORGED", kf_api.kf.open_kfid)  # a token the API never issued: 95007
    async with http.post(server.url, params=query, data=body.encode()) as resp:
        assert (resp.status, await resp.text()) == (200, "success")
    await channel.idle()
    assert assistant.calls == [] and channel.cursor_store().cursor(kf_api.kf.open_kfid) == ""
    await announce(http, server, kf_api)
    await channel.idle()
    assert [m.text for m in assistant.calls] == ["在吗"]


async def test_desk_reply_reaches_the_customer_once_and_resolve_ends_the_session(kf_api: FakeWeChatApi, serve: Any, http: aiohttp.ClientSession, tmp_path: pathlib.Path) -> None:
    assistant = FakeAssistant()
    channel = make_kf(kf_api, tmp_path)
    server = await serve(channel, assistant)
    kf_api.kf.customer_text(CUSTOMER, "转人工")
    await announce(http, server, kf_api)
    await channel.idle()

    output = channel.get_output_channel()
    reply = {"text": "您好，我是客服小李。", "agent": "li", "delivery_key": "desk-T-000001-7"}
    await output.send_response(f"wechat_kf:{CUSTOMER}", dict(reply))
    await output.send_response(f"wechat_kf:{CUSTOMER}", dict(reply))  # the desk posts it again after a timeout
    assert kf_api.texts().count("您好，我是客服小李。") == 1
    with pytest.raises(ForeignConversation):
        await output.send_response(f"wechat:{CUSTOMER}", {"text": "x"})

    # the desk resolves: the survey goes out, then the session ends on WeChat too
    await output.send_response(f"wechat_kf:{CUSTOMER}", {"text": "请为本次服务打分", "delivery_key": "desk-T-000001-resolve"})
    assert kf_api.kf.states[CUSTOMER] == 4
    assert kf_api.kf.transitions[-1]["service_state"] == 4
    # the customer's next message opens a new session, which the assistant answers
    kf_api.kf.customer_text(CUSTOMER, "5")
    await announce(http, server, kf_api)
    await channel.idle()
    assert kf_api.texts()[-1] == "答复：5" and kf_api.kf.states[CUSTOMER] == 1


async def test_a_session_taken_by_a_wecom_servicer_silences_the_assistant(kf_api: FakeWeChatApi, serve: Any, http: aiohttp.ClientSession, tmp_path: pathlib.Path) -> None:
    assistant = FakeAssistant()
    channel = make_kf(kf_api, tmp_path)
    server = await serve(channel, assistant)
    kf_api.kf.states[CUSTOMER] = 3
    kf_api.kf.push({"external_userid": CUSTOMER, "origin": 4, "msgtype": "event", "event": {
        "event_type": "session_status_change", "external_userid": CUSTOMER, "change_type": 1, "new_servicer_userid": "zhangsan",
    }})
    kf_api.kf.customer_text(CUSTOMER, "人工客服你好")
    kf_api.kf.customer_text("wmOTHER0002", "你好")
    await announce(http, server, kf_api)
    await channel.idle()
    assert [(m.sender_id, m.text) for m in assistant.calls] == [("wechat_kf:wmOTHER0002", "你好")]
    # a desk reply to a session WeCom's servicer holds is refused by the API with 95018, and said so
    with pytest.raises(SessionStateInvalid):
        await channel.get_output_channel().send_response(f"wechat_kf:{CUSTOMER}", {"text": "x", "delivery_key": "desk-T-2-1"})


async def test_a_held_session_is_remembered_by_the_next_replica_and_released_when_it_ends(kf_api: FakeWeChatApi, serve: Any, http: aiohttp.ClientSession, tmp_path: pathlib.Path) -> None:
    # replica A sees WeCom's servicer take the session; replica B (a new channel on the same store, as after a
    # restart or behind the load balancer) fetches the customer's next message and must stay silent too
    assistant = FakeAssistant()
    first = make_kf(kf_api, tmp_path)
    server = await serve(first, assistant)
    kf_api.kf.states[CUSTOMER] = 3
    kf_api.kf.push({"external_userid": CUSTOMER, "origin": 4, "msgtype": "event", "event": {
        "event_type": "session_status_change", "external_userid": CUSTOMER, "change_type": 1, "new_servicer_userid": "zhangsan",
    }})
    await announce(http, server, kf_api)
    await first.idle()

    second = make_kf(kf_api, tmp_path)
    other = await serve(second, assistant)
    kf_api.kf.customer_text(CUSTOMER, "人工客服你好")
    await announce(http, other, kf_api)
    await second.idle()
    assert assistant.calls == []
    # the servicer ends the session: the customer's next message is the assistant's again
    kf_api.kf.states[CUSTOMER] = 4
    kf_api.kf.push({"external_userid": CUSTOMER, "origin": 4, "msgtype": "event", "event": {
        "event_type": "session_status_change", "external_userid": CUSTOMER, "change_type": 3,
    }})
    kf_api.kf.customer_text(CUSTOMER, "还在吗")
    await announce(http, other, kf_api)
    await second.idle()
    assert [m.text for m in assistant.calls] == ["还在吗"]


async def test_a_callback_that_finds_another_replica_fetching_fetches_after_it(kf_api: FakeWeChatApi, serve: Any, http: aiohttp.ClientSession, tmp_path: pathlib.Path) -> None:
    # replica A holds the fetch lease (it may have read its last page before this message came); the callback
    # reaches replica B, which must fetch once A is done, not leave the message for a later callback
    prefix = f"frontline:test:kf:{uuid.uuid4().hex}"
    client = redis.Redis(host="127.0.0.1", port=6379)
    try:
        assistant = FakeAssistant()
        channel = make_kf(kf_api, tmp_path, store=RedisCursorStore(client, prefix=prefix))
        server = await serve(channel, assistant)
        holder = RedisCursorStore(client, prefix=prefix)
        assert holder.acquire(kf_api.kf.open_kfid, "replica-a")
        kf_api.kf.customer_text(CUSTOMER, "在吗")
        assert await announce(http, server, kf_api) == (200, "success")
        await asyncio.sleep(0.6)
        assert assistant.calls == []  # A still holds the lease
        holder.release(kf_api.kf.open_kfid, "replica-a")
        await asyncio.wait_for(channel.idle(), 5)
        assert [m.text for m in assistant.calls] == ["在吗"]
    finally:
        for key in client.scan_iter(f"{prefix}:*"):
            client.delete(key)


async def test_non_text_and_menu_messages(kf_api: FakeWeChatApi, serve: Any, http: aiohttp.ClientSession, tmp_path: pathlib.Path) -> None:
    assistant = FakeAssistant()
    channel = make_kf(kf_api, tmp_path)
    server = await serve(channel, assistant)
    kf_api.kf.push({"external_userid": CUSTOMER, "origin": 3, "msgtype": "image", "image": {"media_id": "M1"}})
    # the emergency item (settings.yml: emergency.menu_keys) is the emergency payload, whatever its text
    kf_api.kf.customer_text(CUSTOMER, "紧急情况请点击此处", menu_id="emergency")
    kf_api.kf.customer_text(CUSTOMER, "查询订单", menu_id="orders")  # any other item: its text
    await announce(http, server, kf_api)
    await channel.idle()
    assert [m.text for m in assistant.calls] == ["[image]", "/faq_emergency", "查询订单"]
    assert [m.metadata.get("menu_id") for m in assistant.calls[1:]] == ["emergency", "orders"]
    texts = kf_api.texts()
    assert texts[0].startswith("抱歉，我目前只能看懂文字消息") and texts[1:] == ["答复：/faq_emergency", "答复：查询订单"]


def test_redis_cursor_store_survives_a_new_client() -> None:
    prefix = f"frontline:test:kf:{uuid.uuid4().hex}"
    client = redis.Redis(host="127.0.0.1", port=6379)
    try:
        store = RedisCursorStore(client, prefix=prefix)
        assert store.cursor("wk1") == "" and not store.is_done("wk1", "m1")
        store.save_cursor("wk1", "CUR7")
        store.mark_done("wk1", "m1")
        assert store.acquire("wk1", "a") and not store.acquire("wk1", "b")
        store.release("wk1", "b")  # not b's lease: kept
        assert not store.acquire("wk1", "c")
        store.release("wk1", "a")
        store.set_held_state("wk1", "wmA", 3)
        again = RedisCursorStore(redis.Redis(host="127.0.0.1", port=6379), prefix=prefix)
        assert again.cursor("wk1") == "CUR7" and again.is_done("wk1", "m1") and again.acquire("wk1", "c")
        assert again.held_state("wk1", "wmA") == 3 and again.held_state("wk1", "wmB") is None
        assert 0 < client.ttl(f"{prefix}:held:wk1:wmA") <= 48 * 3600
        again.set_held_state("wk1", "wmA", None)
        assert store.held_state("wk1", "wmA") is None
    finally:
        for key in client.scan_iter(f"{prefix}:*"):
            client.delete(key)


def test_built_from_its_credentials_yml_section(monkeypatch: pytest.MonkeyPatch) -> None:
    import yaml

    from bot.settings import SettingsError, repo_root

    section = yaml.safe_load((repo_root() / "credentials.yml").read_text(encoding="utf-8"))["bot.channels.wechat_kf.WeChatKfInput"]
    values = {"token": TOKEN, "encoding_aes_key": WECOM_AES_KEY, "corp_id": CORP_ID, "secret": KF_SECRET, "open_kfid": "wk1", "api_base": ""}
    assert set(values) <= set(section)
    channel = WeChatKfInput.from_credentials({**section, **values})
    assert channel.name() == "wechat_kf" and channel.configured() and channel.missing_send_settings() == []
    assert WeChatKfInput.from_credentials({**section, **values, "open_kfid": ""}).missing_send_settings() == ["WECHAT_KF_OPEN_KFID"]
    with pytest.raises(SettingsError, match="WECHAT_KF_ENCODING_AES_KEY"):
        WeChatKfInput.from_credentials({**section, **values, "encoding_aes_key": "short"})
