"""The emergency entry customers can see, on the running system at 02:00 on a Tuesday night (agents off):

- the widget's greeting carries the button "紧急情况请点击此处"; its payload gets the 24/7 line at once, then a
  grade-A desk ticket with reason `emergency` in the `emergency` skill, and no promise to wait for the morning;
- a WeChat Official Account menu click with key EMERGENCY (safe mode, built by wechatpy) does the same: the line
  in the passive reply, the rest through the customer-service API (the fake, on loopback), the same ticket.

Real Rasa with the trained model, real action server and desk (`tests/channels/night_stack.py`).
"""

from __future__ import annotations

import time
import uuid
from typing import Any, Dict, Iterator, List

import pytest
import requests

from bot.run import Stack
from bot.settings import load_settings
from fake_wechat_api import FakeWeChatApi
from tests.channels.night_stack import running_night_stack, ticket_of
from tests.conftest import TEST_CHANNEL_ENV
from wechat_helpers import peer_decrypt_reply, safe_request, text_message_xml

pytestmark = pytest.mark.stack

ACCOUNT = "gh_frontline_test"


@pytest.fixture(scope="module")
def wechat_api() -> Iterator[FakeWeChatApi]:
    with FakeWeChatApi(app_id=TEST_CHANNEL_ENV["WECHAT_APP_ID"], app_secret=TEST_CHANNEL_ENV["WECHAT_APP_SECRET"]) as api:
        yield api


@pytest.fixture(scope="module")
def night_stack(wechat_api: FakeWeChatApi) -> Iterator[Stack]:
    with running_night_stack("frontline-emergency-", WECHAT_API_BASE=wechat_api.base_url) as stack:
        yield stack


def say(stack: Stack, sender: str, text: str) -> List[Dict[str, Any]]:
    response = requests.post(
        f"{stack.rasa_url}/webhooks/rest/webhook", json={"sender": sender, "message": text}, timeout=60
    )
    assert response.status_code == 200, response.text
    return response.json()


def assert_emergency_ticket(ticket: Dict[str, Any]) -> None:
    assert (ticket["grade"], ticket["reason"], ticket["skill"]) == ("A", "emergency", "emergency"), ticket
    assert ticket.get("topic") == "faq_emergency", ticket


def test_greeting_button_leads_to_the_line_then_a_grade_a_ticket(night_stack: Stack) -> None:
    sender = f"sos-{uuid.uuid4().hex[:8]}"
    [greeting] = say(night_stack, sender, "你好")
    assert "人工客服已下班" in greeting["text"], greeting  # off hours: the greeting says so ...
    [button] = greeting["buttons"]  # ... and still shows the way to the 24/7 lane
    assert button == {"title": "紧急情况请点击此处", "payload": "/faq_emergency"}

    replies = [m.get("text") or "" for m in say(night_stack, sender, button["payload"])]
    contact = load_settings()["emergency"]["contact_zh"]
    assert contact in replies[0], replies  # the line first ...
    assert sum(contact in reply for reply in replies) == 1, replies  # ... and once: the handoff does not repeat it
    assert not any("09:00" in reply for reply in replies), "an emergency is never told to wait for the morning"
    assert_emergency_ticket(ticket_of(night_stack, f"rest:{sender}"))


def test_english_keyword_reaches_the_lane(night_stack: Stack) -> None:
    sender = f"sos-{uuid.uuid4().hex[:8]}"
    replies = [m.get("text") or "" for m in say(night_stack, sender, "emergency")]
    assert load_settings()["emergency"]["contact_en"] in replies[0], replies
    assert_emergency_ticket(ticket_of(night_stack, f"rest:{sender}"))


def test_a_plain_greeting_opens_no_ticket(night_stack: Stack) -> None:
    """The button is only a button: greeting alone hands nothing over."""
    sender = f"hi-{uuid.uuid4().hex[:8]}"
    say(night_stack, sender, "hello")
    response = requests.get(
        f"{night_stack.desk_url}/internal/conversations/rest:{sender}/ticket",
        headers={"X-Frontline-Secret": night_stack.env["FRONTLINE_DESK_SECRET"]}, timeout=10,
    )
    assert response.status_code == 404, response.text


def test_wechat_menu_click_leads_to_the_line_then_a_grade_a_ticket(night_stack: Stack, wechat_api: FakeWeChatApi) -> None:
    env = night_stack.env
    token, key, app_id = env["WECHAT_TOKEN"], env["WECHAT_ENCODING_AES_KEY"], env["WECHAT_APP_ID"]
    openid = f"oSOS{uuid.uuid4().hex[:12]}"
    created = int(time.time())
    click = text_message_xml(
        "", msg_id="", msg_type="event", sender=openid, account=ACCOUNT, create_time=created,
        extra="<Event><![CDATA[CLICK]]></Event><EventKey><![CDATA[EMERGENCY]]></EventKey>",
    )
    query, body = safe_request(click, token, key, app_id, timestamp=str(created), openid=openid, account=ACCOUNT)
    say(night_stack, "warmup-wechat-sos", "你好")  # the first inference is slow: keep within WeChat's 5 s
    response = requests.post(f"{night_stack.rasa_url}/webhooks/wechat/webhook", params=query, data=body.encode(), timeout=10)
    assert response.status_code == 200 and response.text != "success", response.text
    reply = peer_decrypt_reply(response.text, token, key, app_id)
    assert reply["ToUserName"] == openid
    assert load_settings()["emergency"]["contact_zh"] in reply["Content"], reply["Content"]
    assert_emergency_ticket(ticket_of(night_stack, f"wechat:{openid}"))
    # the rest of the turn (the apology, where the request stands) follows through the customer-service API
    sent = wechat_api.wait_for_sent(1, 20)
    assert {m["body"]["touser"] for m in sent} == {openid}


def test_wechat_greeting_shows_the_entry_as_a_number(night_stack: Stack, wechat_api: FakeWeChatApi) -> None:
    """On WeChat the greeting's button is a numbered line; replying "1" is the button: the line, then the ticket."""
    env = night_stack.env
    token, key, app_id = env["WECHAT_TOKEN"], env["WECHAT_ENCODING_AES_KEY"], env["WECHAT_APP_ID"]
    openid = f"oHI{uuid.uuid4().hex[:12]}"
    url = f"{night_stack.rasa_url}/webhooks/wechat/webhook"
    say(night_stack, "warmup-wechat-hi", "你好")

    def post_text(content: str, msg_id: str) -> str:
        created = int(time.time())
        xml = text_message_xml(content, msg_id=msg_id, sender=openid, account=ACCOUNT, create_time=created)
        query, body = safe_request(xml, token, key, app_id, timestamp=str(created), openid=openid, account=ACCOUNT)
        response = requests.post(url, params=query, data=body.encode(), timeout=10)
        assert response.status_code == 200 and response.text != "success", response.text
        return peer_decrypt_reply(response.text, token, key, app_id)["Content"]

    greeting = post_text("你好", f"{int(time.time())}001")
    assert "\n1. 紧急情况请点击此处\n请回复数字进行选择。" in greeting, greeting
    answer = post_text("1", f"{int(time.time())}002")
    assert load_settings()["emergency"]["contact_zh"] in answer, answer
    assert_emergency_ticket(ticket_of(night_stack, f"wechat:{openid}"))
