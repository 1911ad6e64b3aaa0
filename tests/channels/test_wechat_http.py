"""The WeChat and WeCom channels over the real HTTP stack.

A real sanic server on a loopback port mounts the channel's blueprint the way Rasa does, with a fake
`on_new_message` we control; requests are built and replies checked with wechatpy's own crypto (an independent
peer); late answers and agent replies go to the fake API server.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Dict, List, Optional, Tuple

import aiohttp
import pytest
import xmltodict
from wechatpy.enterprise.crypto import WeChatCrypto as PeerWorkCrypto

from bot.channels import wechat as wechat_module
from bot.channels.wechat import WeChatInput, WeChatOutput
from bot.channels.wechat_delivery import ReplyCollector
from bot.channels.wechat_api import ApiUnavailable, OutOfQuota, OutOfResponseWindow
from bot.channels.wecom import WeComInput, WeComOutput
from bot.texts import WECHAT_ASK_QUESTION, WECHAT_BUSY, WECHAT_TEXT_ONLY, WECHAT_WELCOME
from fake_wechat_api import FakeWeChatApi
from wechat_helpers import (
    ACCOUNT,
    AES_KEY,
    AGENT_ID,
    APP_ID,
    APP_SECRET,
    CORP_ID,
    CORP_SECRET,
    OPENID,
    TOKEN,
    WECOM_AES_KEY,
    FakeAssistant,
    load_vectors,
    peer_decrypt_reply,
    safe_request,
    sign,
    text_message_xml,
)

HUGE_WINDOW = 10**10  # for the 2014 timestamps of the official vectors


def plain_query(token: str = TOKEN, timestamp: Optional[str] = None, nonce: str = "12345678") -> Dict[str, str]:
    timestamp = timestamp or str(int(time.time()))
    return {"signature": sign(token, timestamp, nonce), "timestamp": timestamp, "nonce": nonce, "openid": OPENID}


def make_channel(fake_api: FakeWeChatApi, **kwargs: Any) -> WeChatInput:
    options: Dict[str, Any] = {
        "token": TOKEN,
        "app_id": APP_ID,
        "app_secret": APP_SECRET,
        "api_base": fake_api.base_url,
        "reply_budget_seconds": 1.0,
        "reply_max_bytes": 2048,
    }
    options.update(kwargs)
    return WeChatInput(**options)


async def post(http: aiohttp.ClientSession, url: str, query: Dict[str, str], body: Any) -> Tuple[int, str]:
    async with http.post(url, params=query, data=body.encode("utf-8") if isinstance(body, str) else body) as resp:
        return resp.status, await resp.text()


def reply_fields(text: str) -> Dict[str, Any]:
    return xmltodict.parse(text)["xml"]


def error_lines(caplog: Any) -> List[str]:
    """The ERROR lines the channel's modules logged (not the API client's)."""
    channel = {"bot.channels.wechat", "bot.channels.wechat_turns", "bot.channels.wechat_delivery"}
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR and r.name in channel]


async def settled_entry(channel: WeChatInput, assistant: FakeAssistant) -> Any:
    """The one delivery entry of `channel`, once its turn finished and its late answers were tried."""
    await asyncio.wait_for(assistant.finished.wait(), 5)
    entry = next(iter(channel.turns.dedupe._entries.values()))[1]
    await asyncio.wait_for(entry.collector.wait_sent(), 10)
    return entry


# -- URL verification ----------------------------------------------------------------------------------------
async def test_get_verification_plaintext(fake_api: FakeWeChatApi, serve: Any, http: aiohttp.ClientSession) -> None:
    server = await serve(make_channel(fake_api), FakeAssistant())
    query = {**plain_query(), "echostr": "5927782489442352469"}
    async with http.get(server.url, params=query) as resp:
        assert resp.status == 200
        assert await resp.read() == b"5927782489442352469"
    async with http.get(server.url, params={**query, "signature": "0" * 40}) as resp:
        assert resp.status == 403
    stale = str(int(time.time()) - 301)
    async with http.get(server.url, params={**plain_query(timestamp=stale), "echostr": "1"}) as resp:
        assert resp.status == 403
    async with http.get(server.url.rsplit("/", 1)[0] + "/") as resp:
        assert resp.status == 200 and (await resp.json())["configured"] is True


async def test_url_signature_vector_through_the_endpoint(fake_api: FakeWeChatApi, serve: Any, http: aiohttp.ClientSession) -> None:
    vector = load_vectors("url_signature")[0]
    channel = make_channel(fake_api, token=vector["token"], replay_window_seconds=HUGE_WINDOW)
    server = await serve(channel, FakeAssistant())
    query = {"signature": vector["url_signature"], "timestamp": vector["timestamp"], "nonce": vector["nonce"], "echostr": "hello123"}
    async with http.get(server.url, params=query) as resp:
        assert resp.status == 200 and await resp.text() == "hello123"
    async with http.get(server.url, params={**query, "signature": vector["negative_signature"]}) as resp:
        assert resp.status == 403


async def test_unconfigured_channel_answers_503(fake_api: FakeWeChatApi, serve: Any, http: aiohttp.ClientSession, caplog: Any) -> None:
    assistant = FakeAssistant()
    server = await serve(make_channel(fake_api, token=""), assistant)
    for _ in range(2):
        status, body = await post(http, server.url, plain_query(), text_message_xml("hi"))
        assert (status, body) == (503, "wechat channel not configured")
    async with http.get(server.url, params={**plain_query(), "echostr": "1"}) as resp:
        assert resp.status == 503
    warnings = [r for r in caplog.records if "not configured" in r.getMessage() and r.levelname == "WARNING"]
    assert len(warnings) == 1
    assert assistant.calls == []


# -- plaintext and safe mode ---------------------------------------------------------------------------------
async def test_plaintext_message_gets_passive_reply(fake_api: FakeWeChatApi, serve: Any, http: aiohttp.ClientSession) -> None:
    assistant = FakeAssistant()
    server = await serve(make_channel(fake_api), assistant)
    status, body = await post(http, server.url, plain_query(), text_message_xml("退款多久到账", msg_id="1001"))
    assert status == 200
    reply = reply_fields(body)
    assert reply["ToUserName"] == OPENID and reply["FromUserName"] == ACCOUNT
    assert reply["MsgType"] == "text" and reply["Content"] == "答复：退款多久到账"
    assert abs(int(reply["CreateTime"]) - time.time()) < 10
    [message] = assistant.calls
    assert (message.text, message.sender_id, message.message_id, message.input_channel) == ("退款多久到账", f"wechat:{OPENID}", "1001", "wechat")
    assert message.metadata["msg_type"] == "text" and message.metadata["account"] == ACCOUNT
    assert fake_api.sent == []


async def test_safe_mode_with_wechatpy_peer(fake_api: FakeWeChatApi, serve: Any, http: aiohttp.ClientSession) -> None:
    assistant = FakeAssistant()
    server = await serve(make_channel(fake_api, encoding_aes_key=AES_KEY), assistant)
    query, body = safe_request(text_message_xml("营业时间？", msg_id="2002"))
    status, text = await post(http, server.url, query, body)
    assert status == 200
    reply = peer_decrypt_reply(text)
    assert reply["Content"] == "答复：营业时间？" and reply["ToUserName"] == OPENID and reply["FromUserName"] == ACCOUNT
    assert [m.text for m in assistant.calls] == ["营业时间？"]
    # plaintext is refused once safe mode is configured (its signature does not cover the body)
    status, _ = await post(http, server.url, plain_query(), text_message_xml("明文", msg_id="2003"))
    assert status == 403
    # a msg_signature made with another token, a body for another AppID, a 3-value signature: all 403
    forged_query, forged_body = safe_request(text_message_xml("x", msg_id="2004"), token="other-token")
    assert (await post(http, server.url, {**forged_query, "signature": query["signature"]}, forged_body))[0] == 403
    other_app_query, other_app_body = safe_request(text_message_xml("x", msg_id="2005"), app_id="wx9999999999999999")
    assert (await post(http, server.url, other_app_query, other_app_body))[0] == 403
    three_query = {**query, "msg_signature": sign(TOKEN, query["timestamp"], query["nonce"])}
    assert (await post(http, server.url, three_query, body))[0] == 403
    assert len(assistant.calls) == 1


@pytest.mark.parametrize("vector", load_vectors("decrypt_post"), ids=lambda v: v["id"])
async def test_decrypt_post_vectors_through_the_endpoint(
    vector: Dict[str, Any], fake_api: FakeWeChatApi, serve: Any, http: aiohttp.ClientSession
) -> None:
    assistant = FakeAssistant()
    inner = reply_fields(vector.get("expected_plaintext") or vector["plaintext"])
    if vector["platform"] == "mp":
        channel: WeChatInput = make_channel(
            fake_api, token=vector["token"], encoding_aes_key=vector["encoding_aes_key"], app_id=vector["appid"], replay_window_seconds=HUGE_WINDOW
        )
        query = {"timestamp": vector["timestamp"], "nonce": vector["nonce"], "encrypt_type": "aes", "msg_signature": vector["msg_signature"]}
        body = vector["post_body_safe_mode"]
    else:
        channel = WeComInput(
            token=vector["token"], encoding_aes_key=vector["encoding_aes_key"], corp_id=vector["receiveid"], corp_secret=CORP_SECRET,
            agent_id=inner["AgentID"], api_base=fake_api.base_url, replay_window_seconds=HUGE_WINDOW, reply_max_bytes=2048,
        )
        query = {"timestamp": vector["timestamp"], "nonce": vector["nonce"], "msg_signature": vector["msg_signature"]}
        body = vector["post_body"]
    server = await serve(channel, assistant)
    status, text = await post(http, server.url, query, body.replace("{ENCRYPT}", vector["encrypt"]))
    assert status == 200
    [message] = assistant.calls
    assert message.text == inner["Content"] and message.sender_id == f"{channel.name()}:{inner['FromUserName']}"
    assert message.message_id == inner["MsgId"]
    envelope = reply_fields(text)
    assert set(envelope) == {"Encrypt", "MsgSignature", "TimeStamp", "Nonce"}
    peer_reply = peer_decrypt_reply(text, vector["token"], vector["encoding_aes_key"], vector.get("appid") or vector["receiveid"], work=vector["platform"] == "wecom")
    assert peer_reply["Content"] == f"答复：{inner['Content']}"
    # the same request with a nonce that is off by one is forged
    assert (await post(http, server.url, {**query, "nonce": vector["nonce"] + "1"}, body.replace("{ENCRYPT}", vector["encrypt"])))[0] == 403
    assert len(assistant.calls) == 1


# -- retries and the 5-second deadline ----------------------------------------------------------------------------
async def test_three_sequential_deliveries_one_turn_one_answer(fake_api: FakeWeChatApi, serve: Any, http: aiohttp.ClientSession) -> None:
    assistant = FakeAssistant()
    server = await serve(make_channel(fake_api), assistant)
    xml = text_message_xml("重复消息", msg_id="3003")
    query = plain_query()
    results = [await post(http, server.url, query, xml) for _ in range(3)]
    assert [status for status, _ in results] == [200, 200, 200]
    assert reply_fields(results[0][1])["Content"] == "答复：重复消息"
    assert [body for _, body in results[1:]] == ["success", "success"]
    assert len(assistant.calls) == 1
    await asyncio.sleep(0.2)
    assert fake_api.sent == []


async def test_three_concurrent_deliveries_one_turn_one_answer(fake_api: FakeWeChatApi, serve: Any, http: aiohttp.ClientSession) -> None:
    assistant = FakeAssistant(delay=0.4)
    server = await serve(make_channel(fake_api, reply_budget_seconds=2.0), assistant)
    xml = text_message_xml("并发重试", msg_id="4004")
    query = plain_query()
    results = await asyncio.gather(*(post(http, server.url, query, xml) for _ in range(3)))
    bodies = [body for status, body in results if status == 200]
    assert len(bodies) == 3
    answers = [b for b in bodies if b != "success"]
    assert len(answers) == 1 and reply_fields(answers[0])["Content"] == "答复：并发重试"
    assert len(assistant.calls) == 1
    await asyncio.sleep(0.2)
    assert fake_api.sent == []


async def test_events_deduplicated_by_sender_and_create_time(fake_api: FakeWeChatApi, serve: Any, http: aiohttp.ClientSession) -> None:
    assistant = FakeAssistant()
    server = await serve(make_channel(fake_api), assistant)
    created = int(time.time())
    xml = text_message_xml("", msg_id="", msg_type="event", extra="<Event><![CDATA[subscribe]]></Event>", create_time=created)
    first = await post(http, server.url, plain_query(), xml)
    again = await post(http, server.url, plain_query(), xml)
    later = await post(http, server.url, plain_query(), xml.replace(str(created), str(created + 1)))
    assert first[0] == 200 and reply_fields(first[1])["Content"].startswith(WECHAT_WELCOME)
    assert again == (200, "success")
    assert reply_fields(later[1])["Content"].startswith(WECHAT_WELCOME)
    assert assistant.calls == []


async def test_slow_assistant_ack_then_api(fake_api: FakeWeChatApi, serve: Any, http: aiohttp.ClientSession) -> None:
    assistant = FakeAssistant(delay=1.2, answer=lambda m: [{"text": "第一条"}, {"text": "第二条"}])
    server = await serve(make_channel(fake_api, reply_budget_seconds=0.5), assistant)
    xml = text_message_xml("慢问题", msg_id="5005")
    started = time.monotonic()
    status, body = await post(http, server.url, plain_query(), xml)
    elapsed = time.monotonic() - started
    assert (status, body) == (200, "success")
    assert 0.4 < elapsed < 1.1
    # WeChat retries while the turn is still running: no second turn, still `success`
    assert await post(http, server.url, plain_query(), xml) == (200, "success")
    sent = await asyncio.to_thread(fake_api.wait_for_sent, 2, 10.0)
    assert [m["body"] for m in sent] == [
        {"touser": OPENID, "msgtype": "text", "text": {"content": "第一条"}},
        {"touser": OPENID, "msgtype": "text", "text": {"content": "第二条"}},
    ]
    assert await post(http, server.url, plain_query(), xml) == (200, "success")
    await asyncio.sleep(0.2)
    assert len(assistant.calls) == 1 and len(fake_api.sent) == 2


async def test_fast_turn_with_two_messages_first_passive_rest_api(fake_api: FakeWeChatApi, serve: Any, http: aiohttp.ClientSession) -> None:
    assistant = FakeAssistant(answer=lambda m: [{"text": "转人工中，请稍候。"}, {"text": "您前面还有2位。"}])
    server = await serve(make_channel(fake_api), assistant)
    status, body = await post(http, server.url, plain_query(), text_message_xml("人工", msg_id="6006"))
    assert reply_fields(body)["Content"] == "转人工中，请稍候。"
    sent = await asyncio.to_thread(fake_api.wait_for_sent, 1, 10.0)
    assert [m["body"]["text"]["content"] for m in sent] == ["您前面还有2位。"]


async def test_long_answer_split(fake_api: FakeWeChatApi, serve: Any, http: aiohttp.ClientSession) -> None:
    long = "这是一句很长的回答。" * 30  # 900 bytes
    assistant = FakeAssistant(answer=lambda m: [{"text": long}])
    server = await serve(make_channel(fake_api, reply_max_bytes=300), assistant)
    status, body = await post(http, server.url, plain_query(), text_message_xml("长", msg_id="6106"))
    first = reply_fields(body)["Content"]
    assert len(first.encode()) <= 300
    sent = await asyncio.to_thread(fake_api.wait_for_sent, 2, 10.0)
    rest = [m["body"]["text"]["content"] for m in sent]
    assert all(len(t.encode()) <= 300 for t in rest)
    assert first + "".join(rest) == long


async def test_failing_assistant_apologises_never_500(fake_api: FakeWeChatApi, serve: Any, http: aiohttp.ClientSession) -> None:
    assistant = FakeAssistant(fail=True)
    server = await serve(make_channel(fake_api), assistant)
    status, body = await post(http, server.url, plain_query(), text_message_xml("出错", msg_id="7007"))
    assert status == 200 and reply_fields(body)["Content"] == WECHAT_BUSY
    slow_failing = FakeAssistant(fail=True, delay=0.8)
    server2 = await serve(make_channel(fake_api, reply_budget_seconds=0.3), slow_failing)
    assert await post(http, server2.url, plain_query(), text_message_xml("慢出错", msg_id="7008")) == (200, "success")
    sent = await asyncio.to_thread(fake_api.wait_for_sent, 1, 10.0)
    assert sent[0]["body"]["text"]["content"] == WECHAT_BUSY


async def test_late_answer_survives_token_expiry(fake_api: FakeWeChatApi, serve: Any, http: aiohttp.ClientSession) -> None:
    channel = make_channel(fake_api, reply_budget_seconds=0.2)
    server = await serve(channel, FakeAssistant(delay=0.5))
    await channel.get_output_channel().send_text_message(OPENID, "预热")  # caches TOKEN-1
    fake_api.expire_tokens()
    assert await post(http, server.url, plain_query(), text_message_xml("过期", msg_id="7107")) == (200, "success")
    sent = await asyncio.to_thread(fake_api.wait_for_sent, 2, 10.0)
    assert sent[1]["body"]["text"]["content"] == "答复：过期" and sent[1]["token"] == "TOKEN-2"


async def test_late_answer_outside_window_is_logged_not_raised(
    fake_api: FakeWeChatApi, serve: Any, http: aiohttp.ClientSession, caplog: Any
) -> None:
    channel = make_channel(fake_api, reply_budget_seconds=0.2)
    assistant = FakeAssistant(delay=0.4)
    server = await serve(channel, assistant)
    fake_api.fail_next("send", 45015)
    assert await post(http, server.url, plain_query(), text_message_xml("窗口", msg_id="7207")) == (200, "success")
    await asyncio.wait_for(assistant.finished.wait(), 5)
    entry = next(iter(channel.turns.dedupe._entries.values()))[1]
    await asyncio.wait_for(entry.collector.wait_sent(), 5)
    [failure] = entry.collector.failures
    assert isinstance(failure.error, OutOfResponseWindow) and failure.recipient_id == OPENID and failure.msg_id == "7207"
    assert any("45015" in r.getMessage() for r in caplog.records if r.levelname == "ERROR")
    # the channel keeps working
    status, body = await post(http, server.url, plain_query(), text_message_xml("之后", msg_id="7208"))
    assert status == 200


@pytest.mark.parametrize("errcode", [45015, 45047, 40001, 48001])
async def test_lost_late_answer_log_names_the_customer(
    errcode: int, fake_api: FakeWeChatApi, serve: Any, http: aiohttp.ClientSession, caplog: Any
) -> None:
    """The ERROR line of a lost late answer says whose it was (OpenID and MsgId), so an operator can follow up."""
    channel = make_channel(fake_api, reply_budget_seconds=0.1)
    assistant = FakeAssistant(delay=0.3)
    server = await serve(channel, assistant)
    # 40001 twice: the refreshed token is refused again (another server rotated the AppSecret)
    fake_api.fail_next("send", *([errcode, errcode] if errcode == 40001 else [errcode]))
    assert await post(http, server.url, plain_query(), text_message_xml("迟到的问题", msg_id="7301")) == (200, "success")
    entry = await settled_entry(channel, assistant)
    [failure] = entry.collector.failures
    assert (failure.recipient_id, failure.msg_id, failure.errcode, failure.undelivered) == (OPENID, "7301", errcode, 1)
    [line] = error_lines(caplog)
    assert OPENID in line and "MsgId 7301" in line and str(errcode) in line
    assert "迟到" not in line and not [r for r in caplog.records if r.exc_info and r.levelno >= logging.ERROR]
    assert fake_api.sent == []


async def test_failed_late_answer_stops_the_rest_of_the_turn(
    fake_api: FakeWeChatApi, serve: Any, http: aiohttp.ClientSession, caplog: Any
) -> None:
    """With the API down, step 2 must not reach the customer without step 1: the rest is reported instead."""
    channel = make_channel(fake_api, reply_budget_seconds=0.1)
    channel.api_client().backoff_seconds = 0.01
    assistant = FakeAssistant(delay=0.3, answer=lambda m: [{"text": "第一步：打开订单页。"}, {"text": "第二步：点击申请退款。"}])
    server = await serve(channel, assistant)
    fake_api.fail_next("send", "drop", "drop", "drop")
    assert await post(http, server.url, plain_query(), text_message_xml("怎么退款", msg_id="7401")) == (200, "success")
    entry = await settled_entry(channel, assistant)
    await asyncio.sleep(0.2)
    assert fake_api.sent == []
    [failure] = entry.collector.failures
    assert isinstance(failure.error, ApiUnavailable) and (failure.recipient_id, failure.undelivered) == (OPENID, 2)
    [line] = error_lines(caplog)
    assert OPENID in line and "7401" in line and "1 later message(s) of this turn not sent" in line


class _QuotaThenOkClient:
    """An API client whose first send fails with 45047 and later ones would succeed."""

    def __init__(self) -> None:
        self.calls: List[str] = []

    async def send_text_async(self, user_id: str, text: str) -> int:
        self.calls.append(text)
        if len(self.calls) == 1:
            raise OutOfQuota(45047, "out of response count limit")
        return 1


async def test_collector_sends_nothing_more_of_a_turn_after_a_failure(caplog: Any) -> None:
    client = _QuotaThenOkClient()
    collector = ReplyCollector(client, msg_id="7501")
    collector.switch_to_api([(OPENID, "第一步"), (OPENID, "第二步")])
    await collector.wait_sent()
    await collector.send_text_message(OPENID, "第三步")  # the turn goes on after the failure
    await collector.wait_sent()
    assert client.calls == ["第一步"] and collector.sent == 0
    [failure] = collector.failures
    assert (failure.recipient_id, failure.msg_id, failure.errcode, failure.undelivered) == (OPENID, "7501", 45047, 3)
    [later] = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert OPENID in later and "1 more late answer(s)" in later and "第三步" not in later


async def test_agent_reply_failure_log_names_the_customer(fake_api: FakeWeChatApi, caplog: Any) -> None:
    output = make_channel(fake_api).get_output_channel()
    fake_api.fail_next("send", 45047)
    with pytest.raises(OutOfQuota):
        await output.send_response(f"wechat:{OPENID}", {"text": "太多了"})
    [line] = error_lines(caplog)
    assert OPENID in line and "45047" in line and "太多了" not in line


# -- bad input ----------------------------------------------------------------------------------------------------
async def test_forged_signatures_403_never_reach_the_assistant(fake_api: FakeWeChatApi, serve: Any, http: aiohttp.ClientSession) -> None:
    assistant = FakeAssistant()
    server = await serve(make_channel(fake_api), assistant)
    xml = text_message_xml("伪造", msg_id="8008")
    good = plain_query()
    for query in (
        {**good, "signature": "f" * 40},
        {**good, "signature": ""},
        {k: v for k, v in good.items() if k != "signature"},
        plain_query(token="wrong-token"),
        {**good, "nonce": good["nonce"] + "0"},
    ):
        assert (await post(http, server.url, query, xml))[0] == 403
    assert assistant.calls == []


async def test_replayed_or_future_timestamps_403(fake_api: FakeWeChatApi, serve: Any, http: aiohttp.ClientSession) -> None:
    assistant = FakeAssistant()
    server = await serve(make_channel(fake_api, replay_window_seconds=300), assistant)
    now = int(time.time())
    for timestamp in (now - 400, now + 400, 1409735669):
        query = plain_query(timestamp=str(timestamp))
        assert (await post(http, server.url, query, text_message_xml("重放", msg_id=f"9{timestamp}")))[0] == 403
    assert assistant.calls == []


@pytest.mark.parametrize(
    "body",
    [
        "<xml><Content>unclosed</xml>",
        "garbage",
        "",
        '<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY e "x">]><xml><Content>&e;</Content></xml>',
        "<xml><ToUserName>gh</ToUserName></xml>",
        "<notxml/>",
    ],
)
async def test_malformed_xml_400(body: str, fake_api: FakeWeChatApi, serve: Any, http: aiohttp.ClientSession, caplog: Any) -> None:
    assistant = FakeAssistant()
    server = await serve(make_channel(fake_api), assistant)
    status, _ = await post(http, server.url, plain_query(), body)
    assert status == 400
    assert any(r.levelname == "WARNING" and "400" in r.getMessage() for r in caplog.records)
    assert assistant.calls == []


async def test_malformed_safe_mode_bodies_400(fake_api: FakeWeChatApi, serve: Any, http: aiohttp.ClientSession) -> None:
    server = await serve(make_channel(fake_api, encoding_aes_key=AES_KEY), FakeAssistant())
    query, _ = safe_request(text_message_xml("x"))
    assert (await post(http, server.url, query, "<xml><ToUserName>gh</ToUserName></xml>"))[0] == 400
    assert (await post(http, server.url, query, "<xml><Encrypt>"))[0] == 400
    # valid signature over an Encrypt that is not a WeChat ciphertext -> 403 (does not decrypt for our AppID)
    bogus = "QUJDRA=="
    bogus_query = {**query, "msg_signature": sign(TOKEN, query["timestamp"], query["nonce"], bogus)}
    assert (await post(http, server.url, bogus_query, f"<xml><Encrypt><![CDATA[{bogus}]]></Encrypt></xml>"))[0] == 403


async def test_oversized_body_413(fake_api: FakeWeChatApi, serve: Any, http: aiohttp.ClientSession) -> None:
    assistant = FakeAssistant()
    server = await serve(make_channel(fake_api, max_body_bytes=4096), assistant)
    big = text_message_xml("长" * 3000, msg_id="1010")
    assert (await post(http, server.url, plain_query(), big))[0] == 413

    async def chunks() -> Any:  # no Content-Length: chunked transfer, cut off while streaming
        for _ in range(10):
            yield b"<xml>" + b"a" * 1000

    async with http.post(server.url, params=plain_query(), data=chunks()) as resp:
        assert resp.status == 413
    ok = text_message_xml("短", msg_id="1011")
    assert (await post(http, server.url, plain_query(), ok))[0] == 200
    assert [m.text for m in assistant.calls] == ["短"]


# -- message types ------------------------------------------------------------------------------------------------
async def test_image_asks_for_text_and_still_reaches_rasa(fake_api: FakeWeChatApi, serve: Any, http: aiohttp.ClientSession) -> None:
    assistant = FakeAssistant()
    server = await serve(make_channel(fake_api), assistant)
    extra = "<PicUrl><![CDATA[http://mmbiz.qpic.cn/x.jpg]]></PicUrl><MediaId><![CDATA[media-1]]></MediaId>"
    status, body = await post(http, server.url, plain_query(), text_message_xml("", msg_id="1101", msg_type="image", extra=extra))
    assert reply_fields(body)["Content"] == WECHAT_TEXT_ONLY
    await asyncio.wait_for(assistant.finished.wait(), 5)
    [message] = assistant.calls
    assert message.text == "[image]"
    assert message.metadata["msg_type"] == "image" and message.metadata["media_id"] == "media-1"
    assert message.metadata["pic_url"] == "http://mmbiz.qpic.cn/x.jpg"
    await asyncio.sleep(0.2)
    assert fake_api.sent == []  # the assistant's reply to "[image]" is not sent


@pytest.mark.parametrize(
    "msg_type, extra, text",
    [
        ("location", "<Location_X>23.13</Location_X><Location_Y>113.26</Location_Y><Scale>20</Scale><Label><![CDATA[广州]]></Label>", "[location]"),
        ("link", "<Title><![CDATA[t]]></Title><Description><![CDATA[d]]></Description><Url><![CDATA[http://x]]></Url>", "[link]"),
        ("video", "<MediaId><![CDATA[m]]></MediaId><ThumbMediaId><![CDATA[t]]></ThumbMediaId>", "[video]"),
        ("voice", "<MediaId><![CDATA[m]]></MediaId><Format><![CDATA[amr]]></Format>", "[voice]"),
    ],
)
async def test_other_media(msg_type: str, extra: str, text: str, fake_api: FakeWeChatApi, serve: Any, http: aiohttp.ClientSession) -> None:
    assistant = FakeAssistant()
    server = await serve(make_channel(fake_api), assistant)
    status, body = await post(http, server.url, plain_query(), text_message_xml("", msg_id="1201", msg_type=msg_type, extra=extra))
    assert reply_fields(body)["Content"] == WECHAT_TEXT_ONLY
    await asyncio.wait_for(assistant.finished.wait(), 5)
    assert assistant.calls[0].text == text and assistant.calls[0].metadata["msg_type"] == msg_type


async def test_voice_with_recognition_is_text(fake_api: FakeWeChatApi, serve: Any, http: aiohttp.ClientSession) -> None:
    assistant = FakeAssistant()
    server = await serve(make_channel(fake_api), assistant)
    extra = "<MediaId><![CDATA[m]]></MediaId><Format><![CDATA[amr]]></Format><Recognition><![CDATA[我的快递到哪了]]></Recognition>"
    status, body = await post(http, server.url, plain_query(), text_message_xml("", msg_id="1301", msg_type="voice", extra=extra))
    assert reply_fields(body)["Content"] == "答复：我的快递到哪了"
    assert assistant.calls[0].metadata["recognition"] is True


async def test_subscribe_welcome_has_service_hours(fake_api: FakeWeChatApi, serve: Any, http: aiohttp.ClientSession, monkeypatch: Any) -> None:
    monkeypatch.setenv("FRONTLINE_NOW", "2025-12-01T10:00:00+08:00")
    server = await serve(make_channel(fake_api), FakeAssistant())
    xml = text_message_xml("", msg_id="", msg_type="event", extra="<Event><![CDATA[subscribe]]></Event>")
    status, body = await post(http, server.url, plain_query(), xml)
    content = reply_fields(body)["Content"]
    from bot.calendar.messages import hours_answer
    from bot.clock import now

    # the welcome, the hours, and the emergency keyword (the visible emergency entry)
    assert content == f"{WECHAT_WELCOME}\n{hours_answer('zh', now())}\n紧急情况请直接回复“紧急”。"
    unsubscribe = xml.replace("subscribe", "unsubscribe")
    assert await post(http, server.url, plain_query(), unsubscribe.replace("<CreateTime>", "<CreateTime>1")) == (200, "success")


async def test_buttons_folded_and_numbers_resolved(fake_api: FakeWeChatApi, serve: Any, http: aiohttp.ClientSession) -> None:
    buttons = [{"title": "查询订单", "payload": "/faq_order_status"}, {"title": "转人工", "payload": "/ask_human"}]
    assistant = FakeAssistant(answer=lambda m: [{"text": "请选择：", "buttons": buttons}] if m.text == "菜单" else [{"text": f"收到 {m.text}"}])
    server = await serve(make_channel(fake_api), assistant)
    status, body = await post(http, server.url, plain_query(), text_message_xml("菜单", msg_id="1401"))
    assert reply_fields(body)["Content"] == "请选择：\n1. 查询订单\n2. 转人工\n请回复数字进行选择。"
    status, body = await post(http, server.url, plain_query(), text_message_xml("2", msg_id="1402"))
    assert assistant.calls[1].text == "/ask_human" and assistant.calls[1].metadata["button_choice"] == "2"
    status, body = await post(http, server.url, plain_query(), text_message_xml("2", msg_id="1403"))
    assert assistant.calls[2].text == "2"  # a choice is used once


async def test_survey_buttons_are_listed_by_their_own_numbers_and_a_typed_number_reaches_the_assistant(
    fake_api: FakeWeChatApi, serve: Any, http: aiohttp.ClientSession
) -> None:
    """"1. 5 ⭐ 非常满意" made "5" mean the fifth line (a rating of 1): the survey's lines carry their own numbers."""
    from bot import texts

    menu = [{"title": "查询订单", "payload": "/faq_order_status"}, {"title": "转人工", "payload": "/ask_human"}]
    survey = [{"title": t, "payload": '/survey_rating{"rating": %d}' % n} for n, t in texts.survey_buttons("zh")]

    def answer(m: Any) -> List[Dict[str, Any]]:
        if m.text == "菜单":
            return [{"text": "请选择：", "buttons": menu}]
        if m.text == "结束":
            return [{"text": "请为本次服务打分", "buttons": survey}]
        return [{"text": f"收到 {m.text}"}]

    assistant = FakeAssistant(answer=answer)
    server = await serve(make_channel(fake_api), assistant)
    await post(http, server.url, plain_query(), text_message_xml("菜单", msg_id="1411"))
    status, body = await post(http, server.url, plain_query(), text_message_xml("结束", msg_id="1412"))
    assert reply_fields(body)["Content"] == (
        "请为本次服务打分\n5 ⭐ 非常满意\n4 ⭐ 满意\n3 ⭐ 一般\n2 ⭐ 不满意\n1 ⭐ 非常不满意\n请回复数字进行选择。"
    )
    await post(http, server.url, plain_query(), text_message_xml("2", msg_id="1413"))
    assert assistant.calls[2].text == "2"  # not the menu's second button: the survey replaced it
    await post(http, server.url, plain_query(), text_message_xml("5 非常满意", msg_id="1414"))
    assert assistant.calls[3].text == "5 非常满意"


async def test_deeply_nested_xml_is_refused_with_a_warning(
    fake_api: FakeWeChatApi, serve: Any, http: aiohttp.ClientSession, caplog: Any
) -> None:
    """5,000 nested elements (under the body limit) were a RecursionError logged as an ERROR; now a clean 400."""
    caplog.set_level(logging.DEBUG)
    deep = "<xml>" + "<a>" * 5000 + "x" + "</a>" * 5000 + "<FromUserName>o</FromUserName><MsgType>text</MsgType></xml>"
    assistant = FakeAssistant()
    plain = await serve(make_channel(fake_api), assistant)
    assert (await post(http, plain.url, plain_query(), deep))[0] == 400
    safe = await serve(make_channel(fake_api, encoding_aes_key=AES_KEY), assistant)
    query, _ = safe_request(text_message_xml("x"))
    assert (await post(http, safe.url, query, deep))[0] == 400  # as the outer envelope
    query, envelope = safe_request(deep)
    assert (await post(http, safe.url, query, envelope))[0] == 400  # inside a valid encrypted payload
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert sum("with 400: elements nested deeper than 16 levels" in w for w in warnings) == 3, warnings
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
    assert assistant.calls == []


@pytest.mark.parametrize("content", ["", "   "], ids=["empty", "blank"])
async def test_empty_text_asks_for_the_question_without_a_turn(
    content: str, fake_api: FakeWeChatApi, serve: Any, http: aiohttp.ClientSession
) -> None:
    """An empty or blank text is not media: no `[text]` turn, and no "I can only read text"."""
    assistant = FakeAssistant()
    server = await serve(make_channel(fake_api), assistant)
    xml = text_message_xml(content, msg_id="1501")
    status, body = await post(http, server.url, plain_query(), xml)
    assert status == 200 and reply_fields(body)["Content"] == WECHAT_ASK_QUESTION
    assert await post(http, server.url, plain_query(), xml) == (200, "success")  # a retry
    await asyncio.sleep(0.2)
    assert assistant.calls == [] and fake_api.sent == []


async def test_subscribe_after_location_in_the_same_second_gets_the_welcome(
    fake_api: FakeWeChatApi, serve: Any, http: aiohttp.ClientSession
) -> None:
    """With location reporting on, WeChat pushes LOCATION and subscribe with the same sender and CreateTime."""
    server = await serve(make_channel(fake_api), FakeAssistant())
    created = int(time.time())
    location = text_message_xml(
        "", msg_id="", msg_type="event", create_time=created,
        extra="<Event><![CDATA[LOCATION]]></Event><Latitude>23.1</Latitude><Longitude>113.2</Longitude><Precision>1</Precision>",
    )
    subscribe = text_message_xml("", msg_id="", msg_type="event", create_time=created, extra="<Event><![CDATA[subscribe]]></Event>")
    assert await post(http, server.url, plain_query(), location) == (200, "success")
    status, body = await post(http, server.url, plain_query(), subscribe)
    assert status == 200 and reply_fields(body)["Content"].startswith(WECHAT_WELCOME)
    assert await post(http, server.url, plain_query(), subscribe) == (200, "success")  # its retry


async def test_xml_illegal_characters_removed_from_replies(fake_api: FakeWeChatApi, serve: Any, http: aiohttp.ClientSession) -> None:
    """\\x0b or \\x08 in an answer (pasted from Word) made the passive reply invalid XML: WeChat showed an error."""
    assistant = FakeAssistant(answer=lambda m: [{"text": "退款说明：\x0b请在订单页\x08申请。"}, {"text": "补充：\x0c联系客服。"}])
    channel = make_channel(fake_api)
    server = await serve(channel, assistant)
    status, body = await post(http, server.url, plain_query(), text_message_xml("退款", msg_id="7601"))
    assert status == 200 and reply_fields(body)["Content"] == "退款说明：请在订单页申请。"
    sent = await asyncio.to_thread(fake_api.wait_for_sent, 1, 10.0)
    assert [m["body"]["text"]["content"] for m in sent] == ["补充：联系客服。"]
    safe = await serve(make_channel(fake_api, encoding_aes_key=AES_KEY), assistant)
    query, envelope = safe_request(text_message_xml("退款", msg_id="7602"))
    status, text = await post(http, safe.url, query, envelope)
    assert status == 200 and peer_decrypt_reply(text)["Content"] == "退款说明：请在订单页申请。"
    await asyncio.to_thread(fake_api.wait_for_sent, 2, 10.0)
    await channel.get_output_channel().send_response(f"wechat:{OPENID}", {"text": "人工\x1b回复"})  # an agent reply
    assert fake_api.texts()[-1] == "人工回复"


# -- agent replies through the output channel ----------------------------------------------------------------------
async def test_agent_reply_via_output_channel(fake_api: FakeWeChatApi) -> None:
    channel = make_channel(fake_api)
    output = channel.get_output_channel()
    assert isinstance(output, WeChatOutput) and output.name() == "wechat"
    # what Rasa's execute_side_effects does with {"event": "bot", "text": ..., "metadata": {"agent": "alice"}}
    await output.send_response(f"wechat:{OPENID}", {"text": "您好，我是客服小王。", "agent": "alice"})
    await output.send_response(f"wechat:{OPENID}", {"text": "请选择", "buttons": [{"title": "是", "payload": "/affirm"}]})
    assert fake_api.texts() == ["您好，我是客服小王。", "请选择\n1. 是\n请回复数字进行选择。"]
    fake_api.fail_next("send", 45015)
    with pytest.raises(OutOfResponseWindow, match="45015"):
        await output.send_response(f"wechat:{OPENID}", {"text": "太晚了"})
    fake_api.fail_next("send", 45047)
    with pytest.raises(OutOfQuota, match="45047"):
        await output.send_response(f"wechat:{OPENID}", {"text": "太多了"})


async def test_rasa_http_api_picks_our_output_channel(fake_api: FakeWeChatApi) -> None:
    """`output_channel=wechat` on Rasa's HTTP API resolves to our API-sending output channel."""
    import types

    from rasa.server import _get_output_channel

    wechat, wecom = make_channel(fake_api), WeComInput(token=TOKEN, encoding_aes_key=WECOM_AES_KEY, corp_id=CORP_ID)
    request = types.SimpleNamespace(args={"output_channel": "wechat"}, app=types.SimpleNamespace(ctx=types.SimpleNamespace(input_channels=[wechat, wecom])))
    assert isinstance(_get_output_channel(request, None), WeChatOutput)  # type: ignore[arg-type]
    request.args = {"output_channel": "wecom"}
    assert isinstance(_get_output_channel(request, None), WeComOutput)  # type: ignore[arg-type]


# -- WeCom -------------------------------------------------------------------------------------------------------
def make_wecom(fake_api: FakeWeChatApi, **kwargs: Any) -> WeComInput:
    options: Dict[str, Any] = dict(
        token=TOKEN, encoding_aes_key=WECOM_AES_KEY, corp_id=CORP_ID, corp_secret=CORP_SECRET, agent_id=AGENT_ID,
        api_base=fake_api.base_url, reply_budget_seconds=0.5, reply_max_bytes=2048,
    )
    options.update(kwargs)
    return WeComInput(**options)


def wecom_request(xml: str, timestamp: Optional[str] = None, nonce: str = "1372623149") -> Tuple[Dict[str, str], str]:
    timestamp = timestamp or str(int(time.time()))
    envelope = xmltodict.parse(PeerWorkCrypto(TOKEN, WECOM_AES_KEY, CORP_ID).encrypt_message(xml, nonce, timestamp))["xml"]
    query = {"msg_signature": envelope["MsgSignature"], "timestamp": timestamp, "nonce": nonce}
    body = f"<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName><Encrypt><![CDATA[{envelope['Encrypt']}]]></Encrypt><AgentID><![CDATA[{AGENT_ID}]]></AgentID></xml>"
    return query, body


def wecom_xml(content: str, msg_id: str) -> str:
    return text_message_xml(content, msg_id=msg_id, sender="ZhangSan", account=CORP_ID, extra=f"<AgentID>{AGENT_ID}</AgentID>")


@pytest.mark.parametrize("vector", load_vectors("verify_url_echostr"), ids=lambda v: v["id"])
async def test_wecom_echostr_vectors_through_the_endpoint(vector: Dict[str, Any], fake_api: FakeWeChatApi, serve: Any, http: aiohttp.ClientSession) -> None:
    channel = make_wecom(fake_api, token=vector["token"], encoding_aes_key=vector["encoding_aes_key"], corp_id=vector["receiveid"], replay_window_seconds=HUGE_WINDOW)
    server = await serve(channel, FakeAssistant())
    query = {"msg_signature": vector["msg_signature"], "timestamp": vector["timestamp"], "nonce": vector["nonce"], "echostr": vector["echostr"]}
    async with http.get(server.url, params=query) as resp:  # aiohttp URL-encodes + / =
        assert resp.status == 200
        assert await resp.read() == vector["expected_echostr_plaintext"].encode()
    if "echostr_urlencoded" in vector:
        raw = (
            f"{server.url}?msg_signature={vector['msg_signature']}&timestamp={vector['timestamp']}"
            f"&nonce={vector['nonce']}&echostr={vector['echostr_urlencoded']}"
        )
        async with http.get(aiohttp.client.URL(raw, encoded=True)) as resp:
            assert resp.status == 200 and await resp.text() == vector["expected_echostr_plaintext"]
    if "negative_nonce" in vector:
        async with http.get(server.url, params={**query, "nonce": vector["negative_nonce"]}) as resp:
            assert resp.status == 403


async def test_wecom_with_wechatpy_peer(fake_api: FakeWeChatApi, serve: Any, http: aiohttp.ClientSession) -> None:
    assistant = FakeAssistant()
    channel = make_wecom(fake_api)
    server = await serve(channel, assistant)
    # URL verification with an echostr encrypted by wechatpy
    timestamp, nonce = str(int(time.time())), "99"
    echostr = xmltodict.parse(PeerWorkCrypto(TOKEN, WECOM_AES_KEY, CORP_ID).encrypt_message("1616140317555161061", nonce, timestamp))["xml"]
    query = {"msg_signature": echostr["MsgSignature"], "timestamp": timestamp, "nonce": nonce, "echostr": echostr["Encrypt"]}
    async with http.get(server.url, params=query) as resp:
        assert resp.status == 200 and await resp.read() == b"1616140317555161061"
    # a message: encrypted passive reply that wechatpy verifies and decrypts
    query, body = wecom_request(wecom_xml("报销流程", "2101"))
    status, text = await post(http, server.url, query, body)
    reply = peer_decrypt_reply(text, TOKEN, WECOM_AES_KEY, CORP_ID, work=True)
    assert reply["Content"] == "答复：报销流程" and reply["ToUserName"] == "ZhangSan" and reply["FromUserName"] == CORP_ID
    [message] = assistant.calls
    assert message.input_channel == "wecom" and message.sender_id == "wecom:ZhangSan" and message.metadata["agent_id"] == AGENT_ID
    # retry -> success, no second turn
    assert await post(http, server.url, query, body) == (200, "success")
    # WeCom is always encrypted: plaintext and forged requests are refused
    assert (await post(http, server.url, plain_query(), wecom_xml("明文", "2102")))[0] == 400
    assert (await post(http, server.url, {**query, "msg_signature": "0" * 40}, body))[0] == 403
    stale_query, stale_body = wecom_request(wecom_xml("旧", "2103"), timestamp=str(int(time.time()) - 1000))
    assert (await post(http, server.url, stale_query, stale_body))[0] == 403
    assert len(assistant.calls) == 1


async def test_wecom_slow_answer_through_message_send(fake_api: FakeWeChatApi, serve: Any, http: aiohttp.ClientSession) -> None:
    server = await serve(make_wecom(fake_api, reply_budget_seconds=0.2), FakeAssistant(delay=0.6))
    query, body = wecom_request(wecom_xml("慢", "2201"))
    assert await post(http, server.url, query, body) == (200, "success")
    [sent] = await asyncio.to_thread(fake_api.wait_for_sent, 1, 10.0)
    assert sent["api"] == "wecom"
    assert sent["body"] == {"touser": "ZhangSan", "msgtype": "text", "agentid": int(AGENT_ID), "text": {"content": "答复：慢"}, "safe": 0}


async def test_wecom_unconfigured_503(fake_api: FakeWeChatApi, serve: Any, http: aiohttp.ClientSession) -> None:
    server = await serve(make_wecom(fake_api, encoding_aes_key=""), FakeAssistant())
    query, body = wecom_request(wecom_xml("x", "2301"))
    assert await post(http, server.url, query, body) == (503, "wecom channel not configured")


async def test_wecom_callback_for_another_agent_id_is_acknowledged_without_a_turn(
    fake_api: FakeWeChatApi, serve: Any, http: aiohttp.ClientSession, caplog: Any
) -> None:
    """Another application of the same corp (AgentID 1000099) must never be answered as ours (1000002)."""
    assistant = FakeAssistant()
    server = await serve(make_wecom(fake_api, reply_budget_seconds=0.1), assistant)
    xml = text_message_xml("别的应用的消息", msg_id="2401", sender="ZhangSan", account=CORP_ID, extra="<AgentID>1000099</AgentID>")
    query, body = wecom_request(xml)
    body = body.replace(f"<![CDATA[{AGENT_ID}]]>", "<![CDATA[1000099]]>")
    assert await post(http, server.url, query, body) == (200, "success")
    await asyncio.sleep(0.3)
    assert assistant.calls == [] and fake_api.sent == []
    [warning] = [r.getMessage() for r in caplog.records if r.levelname == "WARNING" and "1000099" in r.getMessage()]
    assert "AgentID 1000099" in warning and "别的应用" not in warning
    # our own AgentID is answered as before
    query, body = wecom_request(wecom_xml("报销", "2402"))
    status, text = await post(http, server.url, query, body)
    assert peer_decrypt_reply(text, TOKEN, WECOM_AES_KEY, CORP_ID, work=True)["Content"] == "答复：报销"
    assert [m.text for m in assistant.calls] == ["报销"]


# -- configuration ----------------------------------------------------------------------------------------------
def test_from_credentials() -> None:
    from rasa.shared.exceptions import RasaException

    from bot.settings import SettingsError

    with pytest.raises(RasaException):
        WeChatInput.from_credentials(None)
    channel = WeChatInput.from_credentials(
        {"token": "t", "encoding_aes_key": "", "app_id": "", "app_secret": "", "api_base": "", "replay_window_seconds": "120"}
    )
    assert isinstance(channel, WeChatInput) and channel.settings.replay_window_seconds == 120
    assert channel.settings.api_base == "https://api.weixin.qq.com" and channel.settings.reply_budget_seconds == 4.0
    with pytest.raises(SettingsError, match="ENCODING_AES_KEY"):
        WeChatInput.from_credentials({"token": "t", "encoding_aes_key": "abcde"})
    with pytest.raises(SettingsError, match="reply_budget_seconds"):
        WeChatInput.from_credentials({"token": "t", "reply_budget_seconds": "6"})
    with pytest.raises(SettingsError, match="replay_window_seconds"):
        WeChatInput.from_credentials({"token": "t", "replay_window_seconds": "soon"})
    wecom = WeComInput.from_credentials({"token": "", "encoding_aes_key": "", "corp_id": "", "agent_id": "", "api_base": ""})
    assert isinstance(wecom, WeComInput) and not wecom.configured() and wecom.settings.api_base == "https://qyapi.weixin.qq.com"
    assert WeChatInput.name() == "wechat" and WeComInput.name() == "wecom"


async def test_missing_secret_is_warned_at_start_and_reported_by_health(
    fake_api: FakeWeChatApi, serve: Any, http: aiohttp.ClientSession, caplog: Any
) -> None:
    """Token set, AppSecret (or CorpSecret) empty: passive replies work, late answers cannot be sent. Say so."""
    wechat = await serve(make_channel(fake_api, app_secret=""), FakeAssistant())
    wecom = await serve(make_wecom(fake_api, corp_secret="", agent_id=""), FakeAssistant())
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any(w.startswith("wechat: WECHAT_APP_SECRET not set") and "late" in w for w in warnings), warnings
    assert any(w.startswith("wecom: WECOM_CORP_SECRET and WECOM_AGENT_ID not set") for w in warnings), warnings
    assert not any(APP_SECRET in w or CORP_SECRET in w for w in warnings)
    for server in (wechat, wecom):
        async with http.get(server.url.rsplit("/", 1)[0] + "/") as resp:
            assert await resp.json() == {"status": "ok", "configured": True, "can_send": False}
    caplog.clear()
    complete = await serve(make_channel(fake_api), FakeAssistant())
    switched_off = await serve(make_channel(fake_api, token="", app_secret=""), FakeAssistant())
    assert [r for r in caplog.records if r.levelname == "WARNING"] == []
    async with http.get(complete.url.rsplit("/", 1)[0] + "/") as resp:
        assert await resp.json() == {"status": "ok", "configured": True, "can_send": True}
    async with http.get(switched_off.url.rsplit("/", 1)[0] + "/") as resp:
        assert await resp.json() == {"status": "ok", "configured": False, "can_send": False}


def test_module_does_no_work_at_import() -> None:
    assert wechat_module.WeChatInput.__init__ is not None  # importing created no client, read no settings
    channel = WeChatInput(token="t")
    assert channel._client is None and channel._reply_max_bytes is None




async def test_default_budget_answers_within_five_seconds(fake_api: FakeWeChatApi, serve: Any, http: aiohttp.ClientSession) -> None:
    channel = make_channel(fake_api)
    channel.settings.reply_budget_seconds = WeChatInput().settings.reply_budget_seconds  # the default, 4.0
    assistant = FakeAssistant(delay=30)
    server = await serve(channel, assistant)
    started = time.monotonic()
    assert await post(http, server.url, plain_query(), text_message_xml("永远", msg_id="9901")) == (200, "success")
    assert 3.9 < time.monotonic() - started < 4.9
    for entry in [e for _, e in channel.turns.dedupe._entries.values()]:
        assert entry.task is not None
        entry.task.cancel()


async def test_random_bodies_never_500(fake_api: FakeWeChatApi, serve: Any, http: aiohttp.ClientSession) -> None:
    import random

    rng = random.Random(20251201)
    assistant = FakeAssistant()
    plain_server = await serve(make_channel(fake_api, max_body_bytes=2048), assistant)
    safe_server = await serve(make_channel(fake_api, encoding_aes_key=AES_KEY, max_body_bytes=2048), assistant)
    valid = text_message_xml("正常", msg_id="9800").encode()
    bodies: List[bytes] = [bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 300))) for _ in range(15)]
    for _ in range(15):  # mutations of a valid message: truncations and flipped bytes
        mutated = bytearray(valid[: rng.randint(0, len(valid))])
        for _ in range(rng.randint(0, 3)):
            if mutated:
                mutated[rng.randrange(len(mutated))] = rng.getrandbits(8)
        bodies.append(bytes(mutated))
    bodies += [b"<xml>" + b"<a>" * 500 + b"</xml>", b"<xml><MsgType>text</MsgType><FromUserName>o</FromUserName></xml>"]
    for body in bodies:
        status, _ = await post(http, plain_server.url, plain_query(), body)
        assert status in (200, 400), body
        query, _ = safe_request(text_message_xml("x"))
        status, _ = await post(http, safe_server.url, query, body)
        assert status in (400, 403), body
