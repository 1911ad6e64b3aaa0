"""The API clients against the fake WeChat/WeCom API server, and reply splitting."""

from __future__ import annotations

import re
import threading
from typing import List

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.channels.wechat_api import (
    ApiNotConfigured,
    ApiUnavailable,
    OutOfQuota,
    OutOfResponseWindow,
    WeChatApiClient,
    WeChatApiError,
    WeComApiClient,
    max_reply_bytes,
    split_reply,
)
from fake_wechat_api import FakeWeChatApi
from wechat_helpers import AGENT_ID, APP_ID, APP_SECRET, CORP_ID, CORP_SECRET


class Sleeps:
    def __init__(self) -> None:
        self.calls: List[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


def wechat(api: FakeWeChatApi, **kwargs: object) -> WeChatApiClient:
    kwargs.setdefault("sleep", Sleeps())
    return WeChatApiClient(APP_ID, APP_SECRET, base_url=api.base_url, **kwargs)  # type: ignore[arg-type]


def test_token_fetched_once_and_cached(fake_api: FakeWeChatApi) -> None:
    client = wechat(fake_api)
    client.send_text("openid-1", "你好")
    client.send_text("openid-1", "再见")
    assert fake_api.token_requests == 1
    assert [m["body"] for m in fake_api.sent] == [
        {"touser": "openid-1", "msgtype": "text", "text": {"content": "你好"}},
        {"touser": "openid-1", "msgtype": "text", "text": {"content": "再见"}},
    ]
    token_request = next(r for r in fake_api.requests if r["path"] == "/cgi-bin/token")
    assert token_request["query"] == {"grant_type": "client_credential", "appid": APP_ID, "secret": APP_SECRET}


def test_chinese_is_sent_as_utf8_not_escapes(fake_api: FakeWeChatApi) -> None:
    wechat(fake_api).send_text("o1", "退款进度")
    raw = next(r["body"] for r in fake_api.requests if r["path"] == "/cgi-bin/message/custom/send")
    assert "退款进度".encode() in raw and b"\\u" not in raw


def test_token_renewed_shortly_before_expiry(fake_api: FakeWeChatApi) -> None:
    now = [1000.0]
    client = wechat(fake_api, clock=lambda: now[0], refresh_margin_seconds=300)
    client.send_text("o1", "a")
    now[0] += 7200 - 301
    client.send_text("o1", "b")
    assert fake_api.token_requests == 1
    now[0] += 2
    client.send_text("o1", "c")
    assert fake_api.token_requests == 2


@pytest.mark.parametrize("errcode", [40001, 40014, 42001])
def test_refresh_once_on_token_errors(fake_api: FakeWeChatApi, errcode: int) -> None:
    client = wechat(fake_api)
    client.send_text("o1", "first")
    fake_api.fail_next("send", errcode)
    client.send_text("o1", "second")
    assert fake_api.token_requests == 2
    assert fake_api.texts() == ["first", "second"]
    assert fake_api.sent[-1]["token"] == "TOKEN-2"


def test_expired_token_from_the_server_is_refreshed(fake_api: FakeWeChatApi) -> None:
    client = wechat(fake_api)
    client.send_text("o1", "first")
    fake_api.expire_tokens()  # the real server now answers 42001 for TOKEN-1
    client.send_text("o1", "second")
    assert fake_api.texts() == ["first", "second"] and fake_api.token_requests == 2


def test_refresh_only_once_then_error(fake_api: FakeWeChatApi) -> None:
    client = wechat(fake_api)
    fake_api.fail_next("send", 40001, 40001)
    with pytest.raises(WeChatApiError) as info:
        client.send_text("o1", "x")
    assert info.value.errcode == 40001
    assert fake_api.token_requests == 2 and fake_api.sent == []


def test_busy_retried_with_backoff(fake_api: FakeWeChatApi) -> None:
    sleeps = Sleeps()
    client = wechat(fake_api, sleep=sleeps, backoff_seconds=0.5, max_attempts=3)
    fake_api.fail_next("send", -1, "http500")
    client.send_text("o1", "eventually")
    assert fake_api.texts() == ["eventually"]
    assert sleeps.calls == [0.5, 1.0]


def test_busy_forever_gives_api_unavailable(fake_api: FakeWeChatApi) -> None:
    sleeps = Sleeps()
    client = wechat(fake_api, sleep=sleeps, max_attempts=3)
    fake_api.fail_next("send", -1, -1, -1)
    with pytest.raises(ApiUnavailable):
        client.send_text("o1", "never")
    assert len(sleeps.calls) == 2 and fake_api.sent == []


def test_network_error_retried(fake_api: FakeWeChatApi) -> None:
    client = wechat(fake_api)
    fake_api.fail_next("send", "drop")
    client.send_text("o1", "after a dropped connection")
    assert fake_api.texts() == ["after a dropped connection"]


def test_unreachable_host_gives_api_unavailable() -> None:
    sleeps = Sleeps()
    client = WeChatApiClient(APP_ID, APP_SECRET, base_url="http://127.0.0.1:9", sleep=sleeps, timeout=1)
    with pytest.raises(ApiUnavailable):
        client.send_text("o1", "x")
    assert len(sleeps.calls) == 2


def test_45015_and_45047_are_typed(fake_api: FakeWeChatApi) -> None:
    client = wechat(fake_api)
    fake_api.fail_next("send", 45015)
    with pytest.raises(OutOfResponseWindow) as window:
        client.send_text("o1", "late")
    assert window.value.errcode == 45015 and "48-hour" in str(window.value) and "45015" in str(window.value)
    fake_api.fail_next("send", 45047)
    with pytest.raises(OutOfQuota) as quota:
        client.send_text("o1", "too many")
    assert quota.value.errcode == 45047 and "45047" in str(quota.value)
    assert fake_api.sent == []


def test_bad_secret_is_an_error_not_a_loop(fake_api: FakeWeChatApi) -> None:
    client = WeChatApiClient(APP_ID, "wrong", base_url=fake_api.base_url, sleep=Sleeps())
    with pytest.raises(WeChatApiError) as info:
        client.send_text("o1", "x")
    assert info.value.errcode == 40001 and fake_api.token_requests == 0


def test_not_configured() -> None:
    with pytest.raises(ApiNotConfigured):
        WeChatApiClient("", "", base_url="http://127.0.0.1:9").send_text("o1", "x")
    with pytest.raises(ApiNotConfigured):
        WeComApiClient(CORP_ID, CORP_SECRET, "", base_url="http://127.0.0.1:9").send_text("u1", "x")


def test_one_refresher_under_concurrency(fake_api: FakeWeChatApi) -> None:
    client = wechat(fake_api)
    threads = [threading.Thread(target=client.send_text, args=("o1", f"m{i}")) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert fake_api.token_requests == 1 and len(fake_api.sent) == 8


def test_wecom_client(fake_api: FakeWeChatApi) -> None:
    client = WeComApiClient(CORP_ID, CORP_SECRET, AGENT_ID, base_url=fake_api.base_url, sleep=Sleeps())
    client.send_text("ZhangSan", "您好")
    fake_api.fail_next("send", 42001)
    client.send_text("ZhangSan", "再次")
    token_request = next(r for r in fake_api.requests if r["path"] == "/cgi-bin/gettoken")
    assert token_request["query"] == {"corpid": CORP_ID, "corpsecret": CORP_SECRET}
    assert fake_api.sent[0]["api"] == "wecom"
    assert fake_api.sent[0]["body"] == {
        "touser": "ZhangSan",
        "msgtype": "text",
        "agentid": int(AGENT_ID),
        "text": {"content": "您好"},
        "safe": 0,
    }
    assert fake_api.texts() == ["您好", "再次"] and fake_api.token_requests == 2


async def test_async_send_runs_in_executor(fake_api: FakeWeChatApi) -> None:
    client = wechat(fake_api)
    assert await client.send_text_async("o1", "异步") == 1
    assert fake_api.texts() == ["异步"]


def test_long_reply_sent_in_parts(fake_api: FakeWeChatApi) -> None:
    client = wechat(fake_api, max_reply_bytes=64)
    text = "第一句话比较长一点点。第二句话也不短哦！第三句话呢？最后一句。"
    sent = client.send_text("o1", text)
    assert sent == len(fake_api.sent) > 1
    assert "".join(fake_api.texts()) == text
    assert all(len(t.encode()) <= 64 for t in fake_api.texts())


# -- splitting ------------------------------------------------------------------------------------------------
def test_split_at_sentence_boundaries() -> None:
    text = "您好。退款将在3个工作日内到账！如有疑问请联系我们？谢谢。"
    parts = split_reply(text, 45)
    assert len(parts) > 1 and all(len(p.encode()) <= 45 for p in parts)
    assert all(p[-1] in "。！？" for p in parts)
    assert "".join(parts) == text


def test_split_english_and_short() -> None:
    assert split_reply("Short.", 2048) == ["Short."]
    assert split_reply("   ", 2048) == []
    parts = split_reply("One sentence here. Another one there. And a third.", 24)
    assert parts == ["One sentence here.", "Another one there.", "And a third."]
    assert split_reply("version 3.6 is fine.", 2048) == ["version 3.6 is fine."]


def test_split_a_sentence_longer_than_the_limit() -> None:
    text = "这是一个没有句号但是非常非常长的句子，" * 20
    parts = split_reply(text, 100)
    assert len(parts) > 1 and all(len(p.encode()) <= 100 for p in parts)
    assert "".join(parts) == text.strip()


@settings(max_examples=200, deadline=None)
@given(text=st.text(min_size=0, max_size=600), limit=st.integers(min_value=4, max_value=200))
def test_split_properties(text: str, limit: int) -> None:
    parts = split_reply(text, limit)
    assert all(0 < len(p.encode("utf-8")) <= limit for p in parts)
    assert all(p == p.strip() for p in parts)
    assert re.sub(r"\s", "", "".join(parts)) == re.sub(r"\s", "", text)


def test_max_reply_bytes_from_settings() -> None:
    from bot.settings import SettingsError

    assert max_reply_bytes() == 2048  # settings.yml: compliance.wechat_max_reply_bytes
    assert max_reply_bytes({"compliance": {"wechat_max_reply_bytes": 600}}) == 600
    assert max_reply_bytes({}) == 2048
    for bad in ("2048", 10, True, None):
        with pytest.raises(SettingsError, match="wechat_max_reply_bytes"):
            max_reply_bytes({"compliance": {"wechat_max_reply_bytes": bad}})
