"""Conversation ids: one namespace per channel (`bot.conversations`), and the outputs that keep to theirs."""

from __future__ import annotations

from typing import Any, List

import pytest

from bot.channels.shared_state import LocalState
from bot.channels.wechat_delivery import ButtonMemory, WeChatOutput
from bot.channels.wecom import WeComOutput
from bot.conversations import ForeignConversation, belongs_to, channel_of, conversation_id, raw_id


@pytest.mark.parametrize(
    "channel, raw",
    [("wechat", "oAbc-123_xyz"), ("wecom", "ZhangSan"), ("socketio", "0f3a.sig"), ("rest", "a:b:c"), ("rest", "张三 1")],
)
def test_ids_round_trip(channel: str, raw: str) -> None:
    conversation = conversation_id(channel, raw)
    assert conversation == f"{channel}:{raw}"
    assert channel_of(conversation) == channel and belongs_to(conversation, channel)
    assert raw_id(conversation, channel) == raw


@pytest.mark.parametrize("value", ["oVictimOpenId", "", ":x", "wechat:", "WeChat:x", "we chat:x", None, 42])
def test_ids_no_channel_made_have_no_channel(value: Any) -> None:
    assert channel_of(value) is None


def test_a_channel_never_gets_another_channels_id() -> None:
    for conversation in ("socketio:oVictim", "oVictim", "rest:wechat:oVictim"):
        with pytest.raises(ForeignConversation):
            raw_id(conversation, "wechat")
    assert channel_of(conversation_id("rest", "wechat:oVictim")) == "rest"  # a REST sender named like one


@pytest.mark.parametrize("channel, raw", [("", "x"), ("Rest", "x"), ("rest", ""), ("a:b", "x")])
def test_bad_parts_are_refused(channel: str, raw: str) -> None:
    with pytest.raises(ValueError):
        conversation_id(channel, raw)


class RecordingClient:
    def __init__(self) -> None:
        self.sent: List[Any] = []

    async def send_text_async(self, recipient: str, text: str) -> None:
        self.sent.append((recipient, text))


@pytest.mark.parametrize("output_class, channel", [(WeChatOutput, "wechat"), (WeComOutput, "wecom")])
async def test_wechat_outputs_send_to_their_own_conversations_only(output_class: Any, channel: str) -> None:
    client = RecordingClient()
    output = output_class(client)
    await output.send_response(f"{channel}:oFollower1", {"text": "您好"})
    assert client.sent == [("oFollower1", "您好")]  # the bare id the platform's API needs
    other = "wecom" if channel == "wechat" else "wechat"
    for foreign in ("socketio:oFollower1", f"{other}:oFollower1", "oFollower1"):
        with pytest.raises(ForeignConversation):
            await output.send_response(foreign, {"text": "x"})
    assert len(client.sent) == 1


def test_wechat_and_wecom_buttons_never_mix_in_one_store() -> None:
    state = LocalState()
    wechat, wecom = ButtonMemory(state, "wechat"), ButtonMemory(state, "wecom")
    wechat.remember("same-id", [{"title": "退款", "payload": "/faq_refund_status"}])
    assert wecom.resolve("same-id", "1") is None
    assert wechat.resolve("same-id", "1") == "/faq_refund_status"
