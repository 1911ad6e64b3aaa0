"""微信客服 end to end through the running system (issue 21): real Rasa with the trained model, the real action
server and desk (`night_stack.running_night_stack`, its clock pinned to a Monday morning in business hours), and
the fake 微信客服 API (`fake_wechat_api.FakeKf`) on loopback, which the channel pulls messages from and sends to.

One test in phases, as starting Rasa is the cost: a customer's question announced by a signed, encrypted
`kf_msg_or_event` callback is answered with `send_msg`; asking for a person opens a desk ticket on channel
`wechat_kf` with its transcript and the reply window's closing time; an agent claims and replies over the desk's
HTTP API and the reply reaches the customer exactly once; the agent resolves, the survey goes out and the session
ends (`service_state` 4); the customer's rating, written in a new session, lands on the ticket.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from typing import Any, Callable, Dict, Iterator, List

import pytest
import requests

from bot.run import Stack
from fake_wechat_api import FakeWeChatApi
from tests.channels.night_stack import running_night_stack, ticket_of
from tests.channels.test_wechat_stack import _faq_answers_zh
from tests.conftest import STACK_NOW, TEST_CHANNEL_ENV
from tests.desk_harness import stack_agent as add_agent
from wechat_helpers import kf_callback

pytestmark = pytest.mark.stack

SECONDS = 60  # a turn of the real assistant on a busy machine


@pytest.fixture(scope="module")
def kf_api() -> Iterator[FakeWeChatApi]:
    env = TEST_CHANNEL_ENV
    with FakeWeChatApi(corp_id=env["WECHAT_KF_CORP_ID"], kf_secret=env["WECHAT_KF_SECRET"]) as api:
        assert api.kf.open_kfid == env["WECHAT_KF_OPEN_KFID"]
        yield api


@pytest.fixture(scope="module")
def kf_stack(kf_api: FakeWeChatApi) -> Iterator[Stack]:
    with running_night_stack("frontline-kf-", now=STACK_NOW, WECHAT_KF_API_BASE=kf_api.base_url) as stack:
        yield stack


def announce(stack: Stack, api: FakeWeChatApi) -> None:
    """WeChat's callback that messages wait: signed and encrypted with the channel's credentials."""
    env = stack.env
    query, body = kf_callback(
        api.kf.callback_token(), api.kf.open_kfid,
        token=env["WECHAT_KF_TOKEN"], key=env["WECHAT_KF_ENCODING_AES_KEY"], corp_id=env["WECHAT_KF_CORP_ID"],
    )
    response = requests.post(f"{stack.rasa_url}/webhooks/wechat_kf/webhook", params=query, data=body.encode(), timeout=10)
    assert (response.status_code, response.text) == (200, "success")


def sent_to(api: FakeWeChatApi, user: str) -> List[str]:
    """The texts `send_msg` accepted for `user`, in order."""
    return [m["body"]["text"]["content"] for m in list(api.sent) if m["api"] == "wechat_kf" and m["body"]["touser"] == user]


def wait_for(check: Callable[[], Any], what: str, seconds: float = SECONDS) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, what
        time.sleep(0.2)


def test_a_kf_customer_is_answered_handed_over_served_once_surveyed_and_rated(kf_stack: Stack, kf_api: FakeWeChatApi) -> None:
    stack, kf = kf_stack, kf_api.kf
    user = f"wmSTACK{uuid.uuid4().hex[:10]}"
    conversation = f"wechat_kf:{user}"

    # 1. a question: pulled with sync_msg after the callback, answered with send_msg
    kf.customer_text(user, "我的退款多久能到账？")
    announce(stack, kf_api)
    [answer] = wait_for(lambda: sent_to(kf_api, user), "the assistant did not answer through send_msg")
    refund = _faq_answers_zh()["utter_faq_refund_status"]
    assert answer.startswith(refund[:20]), f"expected the refund FAQ answer, got {answer!r}"
    assert kf.states[user] == 1  # with the assistant
    assert kf.sync_calls[-1]["token"].startswith("ENCKFTOKEN")  # the callback's Token went with the fetch

    # 2. the customer asks for a person: a ticket with its context on the desk
    kf.customer_text(user, "我要人工客服")
    announce(stack, kf_api)
    ticket = ticket_of(stack, conversation, seconds=SECONDS)
    code = ticket["id"]
    assert ticket["channel"] == "wechat_kf" and ticket["status"] == "queued", ticket
    agent = add_agent(stack, f"kf-{user[-8:]}", "general,orders,after_sales,payments")
    headers = {"Authorization": f"Bearer {agent['token']}"}

    def detail() -> Dict[str, Any]:
        return requests.get(f"{stack.desk_url}/api/tickets/{code}", headers=headers, timeout=10).json()

    shown = detail()
    customer = [line for line in shown["context"]["transcript"] if line["role"] == "customer"]
    assert [line["text"] for line in customer][:2] == ["我的退款多久能到账？", "我要人工客服"], shown["context"]["transcript"]
    # WeChat lets the business write for 48 hours after the customer's last message: the desk shows when it closes
    last = max(dt.datetime.fromisoformat(shown["created_at"]), *(dt.datetime.fromisoformat(line["at"]) for line in customer))
    window = shown["reply_window"]
    assert window == {"closes_at": (last + dt.timedelta(hours=48)).isoformat(), "state": "open"}, (window, customer)

    # 3. an agent claims and replies over the desk's API: the customer gets it once
    claimed = requests.post(f"{stack.desk_url}/api/tickets/{code}/claim", headers=headers, timeout=30)
    assert claimed.status_code == 200, claimed.text
    reply = "您好，我是客服小李，您的退款已经在处理中。"
    posted = requests.post(f"{stack.desk_url}/api/tickets/{code}/messages", headers=headers, json={"text": reply}, timeout=SECONDS)
    assert posted.status_code == 201, posted.text
    wait_for(lambda: reply in sent_to(kf_api, user), "the agent's reply did not reach send_msg")
    time.sleep(3)  # a second delivery (a retry of the desk's post) would come within this
    assert sent_to(kf_api, user).count(reply) == 1, sent_to(kf_api, user)

    # 4. the agent resolves: the survey goes out, then the session is ended on WeChat (service_state 4)
    resolved = requests.post(f"{stack.desk_url}/api/tickets/{code}/resolve", headers=headers, timeout=SECONDS)
    assert resolved.status_code == 200, resolved.text
    wait_for(lambda: kf.states.get(user) == 4, "the session was not ended after the survey")
    survey = sent_to(kf_api, user)[-1]
    assert "5 ⭐ 非常满意" in survey and "1 ⭐ 非常不满意" in survey, survey
    assert kf.transitions[-1]["external_userid"] == user and kf.transitions[-1]["service_state"] == 4

    # 5. the customer's rating opens a new session; it lands on the ticket and is thanked
    before = len(sent_to(kf_api, user))
    kf.customer_text(user, "5")
    announce(stack, kf_api)
    internal = {"X-Frontline-Secret": stack.env["FRONTLINE_DESK_SECRET"]}

    def rating() -> Any:
        return requests.get(f"{stack.desk_url}/internal/tickets/{code}", headers=internal, timeout=10).json()["rating"]

    assert wait_for(rating, "the rating did not land on the ticket") == 5
    wait_for(lambda: len(sent_to(kf_api, user)) > before, "the rating was not acknowledged")
    assert kf.states[user] == 1
    rated = detail()
    assert (rated["status"], rated["rating"], rated["reply_window"]) == ("resolved", 5, None)
