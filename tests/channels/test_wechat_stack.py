"""End to end against the running Rasa: a safe-mode WeChat message built by wechatpy gets an FAQ answer.

Needs the `stack` fixture (tests/conftest.py), whose environment sets the WeChat test credentials
(`WECHAT_TOKEN`, `WECHAT_ENCODING_AES_KEY`, `WECHAT_APP_ID`, `WECHAT_APP_SECRET`), and `credentials.yml`
registering `bot.channels.wechat.WeChatInput`.
"""

from __future__ import annotations

import time
from typing import Any, Dict

import pytest
import requests
import xmltodict
import yaml

from bot.settings import repo_root
from wechat_helpers import peer_decrypt_reply, safe_request

pytestmark = pytest.mark.stack

OPENID = "oStackTestOpenId0001"
ACCOUNT = "gh_frontline_test"


def _faq_answers_zh() -> Dict[str, str]:
    domain = yaml.safe_load((repo_root() / "domain.yml").read_text(encoding="utf-8"))
    answers = {}
    for name, variations in (domain.get("responses") or {}).items():
        if name.startswith("utter_faq_"):
            for variation in variations:
                if not variation.get("condition") and variation.get("text"):
                    answers[name] = variation["text"]
    return answers


def test_safe_mode_message_gets_encrypted_faq_answer(stack: Any) -> None:
    env = stack.env
    token, key, app_id = env["WECHAT_TOKEN"], env["WECHAT_ENCODING_AES_KEY"], env["WECHAT_APP_ID"]
    assert token and key and app_id, "the stack must set WECHAT_TOKEN, WECHAT_ENCODING_AES_KEY and WECHAT_APP_ID"
    url = f"{stack.rasa_url}/webhooks/wechat/webhook"

    # warm the model up (first inference is slow) so the answer fits the 4-second passive-reply budget
    requests.post(f"{stack.rasa_url}/webhooks/rest/webhook", json={"sender": "warmup-wechat", "message": "你好"}, timeout=60)

    created = int(time.time())
    inbound = (
        f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName><FromUserName><![CDATA[{OPENID}]]></FromUserName>"
        f"<CreateTime>{created}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
        f"<Content><![CDATA[我的退款多久能到账？]]></Content><MsgId>{created}000123</MsgId></xml>"
    )
    query, body = safe_request(
        inbound, token, key, app_id, timestamp=str(created), nonce="20251201", openid=OPENID, account=ACCOUNT
    )

    started = time.monotonic()
    response = requests.post(url, params=query, data=body.encode("utf-8"), timeout=10)
    elapsed = time.monotonic() - started
    assert response.status_code == 200, response.text
    assert elapsed < 5.0, f"WeChat gives 5 s; the channel took {elapsed:.1f}s"
    assert response.text != "success", "the assistant did not answer within the passive-reply budget"

    assert set(xmltodict.parse(response.text)["xml"]) == {"Encrypt", "MsgSignature", "TimeStamp", "Nonce"}
    reply = peer_decrypt_reply(response.text, token, key, app_id)
    assert reply["ToUserName"] == OPENID and reply["FromUserName"] == ACCOUNT and reply["MsgType"] == "text"
    answers = _faq_answers_zh()
    refund = answers["utter_faq_refund_status"]
    assert refund.startswith(reply["Content"]), f"expected the refund FAQ answer, got {reply['Content']!r}"

    # a retry of the same message is answered `success`, never a second answer
    retry = requests.post(url, params=query, data=body.encode("utf-8"), timeout=10)
    assert (retry.status_code, retry.text) == (200, "success")

    # a forged signature is refused
    forged = requests.post(url, params={**query, "msg_signature": "0" * 40}, data=body.encode("utf-8"), timeout=10)
    assert forged.status_code == 403


def test_wechat_health_reports_configured(stack: Any) -> None:
    health = requests.get(f"{stack.rasa_url}/webhooks/wechat/", timeout=10).json()
    wecom = requests.get(f"{stack.rasa_url}/webhooks/wecom/", timeout=10).json()
    assert health == {"status": "ok", "configured": True, "can_send": True}
    assert wecom == {"status": "ok", "configured": True, "can_send": True}
    kf = requests.get(f"{stack.rasa_url}/webhooks/wechat_kf/", timeout=10).json()
    assert kf == {"status": "ok", "configured": True, "can_send": True}

