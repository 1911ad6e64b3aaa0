"""A WeChat follower floods the Official Account (security review, finding 3), on the channel's real HTTP
blueprint: each message is a signed callback, as Tencent's servers deliver them. WeCom's channel runs the same
turns (`bot.channels.wechat_turns`), limit included.

Not on the running stack: a flood's accepted messages would outrun WeChat's 5-second passive-reply budget on a
busy test machine, and the channel would then send their answers to WeChat's real API, which no test may reach.
Here the assistant answers nothing, so an accepted message gets `success` and a refused one the polite reply.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from typing import Any, List

import xmltodict
from rasa.core.channels.channel import UserMessage
from sanic import Sanic

from bot.channels.wechat import WeChatInput

TOKEN = "flood-test-token"
OPENID = "oFloodingFollower0001"


def signed_query(timestamp: str, nonce: str) -> dict:
    signature = hashlib.sha1("".join(sorted([TOKEN, timestamp, nonce])).encode()).hexdigest()
    return {"signature": signature, "timestamp": timestamp, "nonce": nonce, "openid": OPENID}


async def test_a_follower_flooding_the_official_account_gets_the_polite_reply_and_no_turn() -> None:
    turns: List[UserMessage] = []

    async def assistant(message: UserMessage) -> None:
        turns.append(message)

    channel = WeChatInput(token=TOKEN, api_base="http://127.0.0.1:9")  # the limits of settings.yml
    app = Sanic(f"wechat_flood_{uuid.uuid4().hex[:8]}", configure_logging=False)
    app.blueprint(channel.blueprint(assistant), url_prefix="/webhooks/wechat")
    replies: List[Any] = []
    created = int(time.time())
    for n in range(25):
        xml = (
            f"<xml><ToUserName><![CDATA[gh_test]]></ToUserName><FromUserName><![CDATA[{OPENID}]]></FromUserName>"
            f"<CreateTime>{created}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
            f"<Content><![CDATA[在吗在吗 {n}]]></Content><MsgId>{created}{n:04d}</MsgId></xml>"
        )
        _, response = await app.asgi_client.post(
            "/webhooks/wechat/webhook", params=signed_query(str(created), f"{n:08d}"), content=xml.encode()
        )
        assert response.status == 200
        replies.append(response.text)
    assert replies[:20] == ["success"] * 20
    assert len(turns) == 20  # the refused messages started no turn
    for reply in replies[20:]:
        message = xmltodict.parse(reply)["xml"]
        assert message["ToUserName"] == OPENID
        assert message["Content"].startswith("您发送消息太频繁了，这条消息没有收到。")
