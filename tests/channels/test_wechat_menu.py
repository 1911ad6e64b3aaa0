"""The emergency menu item on WeChat: an Official Account or WeCom custom-menu `click` with `EventKey` EMERGENCY
is a turn with the emergency payload (`settings.yml: emergency.menu_keys`, `bot.emergency_entry`), answered in
the passive reply; other clicks stay events without a turn. Over real HTTP, as `test_wechat_http.py`."""

from __future__ import annotations

import time
from typing import Any

import aiohttp
import pytest

from fake_wechat_api import FakeWeChatApi
from test_wechat_http import make_channel, make_wecom, plain_query, post, reply_fields, wecom_request
from wechat_helpers import ACCOUNT, AGENT_ID, CORP_ID, OPENID, TOKEN, WECOM_AES_KEY, FakeAssistant, peer_decrypt_reply, text_message_xml


def click_xml(
    key: str, sender: str = OPENID, created: int = 0, extra: str = "", event: str = "CLICK", account: str = ACCOUNT
) -> str:
    """A custom-menu click event as WeChat sends it (no MsgId: events are keyed by sender and CreateTime)."""
    return text_message_xml(
        "", msg_id="", msg_type="event", sender=sender, account=account, create_time=created or int(time.time()),
        extra=f"<Event><![CDATA[{event}]]></Event><EventKey><![CDATA[{key}]]></EventKey>{extra}",
    )


async def test_emergency_click_is_a_turn_with_the_emergency_payload(
    fake_api: FakeWeChatApi, serve: Any, http: aiohttp.ClientSession
) -> None:
    assistant = FakeAssistant()
    server = await serve(make_channel(fake_api), assistant)
    created = int(time.time())
    status, body = await post(http, server.url, plain_query(), click_xml("EMERGENCY", created=created))
    assert status == 200 and reply_fields(body)["Content"] == "答复：/faq_emergency"
    [message] = assistant.calls
    assert message.text == "/faq_emergency" and message.sender_id == f"wechat:{OPENID}"
    assert message.metadata["menu_key"] == "EMERGENCY" and message.metadata["msg_type"] == "event"
    # WeChat's retry of the same click (same sender and CreateTime) joins it: no second turn
    assert await post(http, server.url, plain_query(), click_xml("EMERGENCY", created=created)) == (200, "success")
    assert len(assistant.calls) == 1


@pytest.mark.parametrize("key, event", [("HOURS", "CLICK"), ("", "CLICK"), ("EMERGENCY", "VIEW")])
async def test_other_clicks_start_no_turn(
    key: str, event: str, fake_api: FakeWeChatApi, serve: Any, http: aiohttp.ClientSession
) -> None:
    assistant = FakeAssistant()
    server = await serve(make_channel(fake_api), assistant)
    assert await post(http, server.url, plain_query(), click_xml(key, event=event)) == (200, "success")
    assert assistant.calls == []


async def test_wecom_menu_click_reaches_the_lane(fake_api: FakeWeChatApi, serve: Any, http: aiohttp.ClientSession) -> None:
    """WeCom app menus send `click` (lower case) with the same EventKey, encrypted."""
    assistant = FakeAssistant()
    server = await serve(make_wecom(fake_api, reply_budget_seconds=2.0), assistant)
    xml = click_xml("emergency", sender="ZhangSan", event="click", account=CORP_ID, extra=f"<AgentID>{AGENT_ID}</AgentID>")
    query, body = wecom_request(xml)
    status, text = await post(http, server.url, query, body)
    reply = peer_decrypt_reply(text, TOKEN, WECOM_AES_KEY, CORP_ID, work=True)
    assert reply["Content"] == "答复：/faq_emergency"
    [message] = assistant.calls
    assert message.sender_id == "wecom:ZhangSan" and message.metadata["menu_key"] == "emergency"
