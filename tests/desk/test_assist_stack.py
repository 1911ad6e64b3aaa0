"""Helping agents answer, in the running system (real Rasa with the trained model, real desk, headless Chromium):
the console suggests the model's FAQ answers for the customer's last message and one click puts one in the reply
box; a reply with a banned phrase is refused and the agent sees why; resolving sends the closing line first."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from typing import Any, Dict, List

import aiohttp
import pytest

from bot import faq
from bot.responses import response_text
from bot.settings import repo_root
from test_console_reconnect import settle_password
from test_stack import say, tracker

pytestmark = [pytest.mark.stack, pytest.mark.browser]

CHROMIUM = "/usr/bin/chromium"
PASSWORD = "Assist-stack-pass-1"
TIMEOUT = 15_000  # ms


def add_agent(stack: Any, name: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot", "desk", "add-agent", name, "--skills", "general,orders,after_sales,payments",
         "--password", PASSWORD], env=stack.env, cwd=repo_root(), capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    settle_password(stack.desk_url, name, PASSWORD)  # a session on a one-time password can do nothing else


async def wait_for_customer_message(http: aiohttp.ClientSession, stack: Any, code: str, headers: Dict[str, str],
                                    text: str) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        async with http.get(f"{stack.desk_url}/api/tickets/{code}", headers=headers) as r:
            detail = await r.json()
        if any(m["role"] == "customer" and m["text"] == text for m in detail["messages"]):
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"the customer's message never reached ticket {code}")


def test_suggestions_click_to_insert_compliance_refusal_and_closing_line(stack: Any) -> None:
    if not os.path.exists(CHROMIUM):
        pytest.skip("Debian chromium is not installed (apt-get install -y chromium)")
    from playwright.sync_api import expect, sync_playwright

    sender = f"assist-{uuid.uuid4().hex[:8]}"
    agent = f"helper-{sender[-4:]}"
    add_agent(stack, agent)
    question = "退款什么时候到账？"

    async def prepare() -> tuple:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as http:
            async with http.post(f"{stack.desk_url}/api/login", json={"name": agent, "password": PASSWORD}) as r:
                token = (await r.json())["token"]
            headers = {"Authorization": f"Bearer {token}"}
            await say(http, stack, sender, "我要转人工")
            internal = {"X-Frontline-Secret": stack.env["FRONTLINE_DESK_SECRET"]}
            async with http.get(f"{stack.desk_url}/internal/conversations/rest:{sender}/ticket", headers=internal) as r:
                code = (await r.json())["id"]
            assert await say(http, stack, sender, question) == []  # paused: the desk gets it
            await wait_for_customer_message(http, stack, code, headers, question)
            async with http.get(f"{stack.desk_url}/api/tickets/{code}/suggestions", headers=headers) as r:
                assert r.status == 200
                return code, headers, await r.json(), (await (await http.get(
                    f"{stack.desk_url}/api/tickets/{code}", headers=headers)).json())

    code, headers, suggestions, detail = asyncio.run(prepare())
    # The real model's best FAQ answer for the question, as the assistant would answer it.
    assert suggestions and suggestions[0]["topic"] == "faq_refund_status", suggestions
    confidences = [s["confidence"] for s in suggestions]
    assert 1 <= len(suggestions) <= 3 and all(0 < c <= 1 for c in confidences) and confidences == sorted(confidences, reverse=True)
    language = detail["customer"]["language"]
    assert suggestions[0]["text"] == faq.load_catalog()["faq_refund_status"].answer(language)

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=["--headless", "--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page()
            page.goto(f"{stack.desk_url}/console")
            page.fill("#login-name", agent)
            page.fill("#login-password", PASSWORD)
            page.click("[data-testid=login-submit]")
            page.click(f"[data-testid=queue-item][data-ticket-id='{code}']", timeout=TIMEOUT)
            page.click("[data-action=claim]", timeout=TIMEOUT)
            expect(page.locator("[data-testid=ticket-status]")).to_have_text("assigned", timeout=TIMEOUT)
            first = page.locator("[data-testid=suggestion][data-topic=faq_refund_status]")
            first.click(timeout=TIMEOUT)
            expect(page.locator("[data-testid=reply-text]")).to_have_value(suggestions[0]["text"])
            # The agent edits it into a promise the service may not make: refused, and the agent sees why.
            banned = "我们绝对 保证今天到账"
            page.fill("[data-testid=reply-text]", banned)
            page.click("[data-testid=reply-send]")
            expect(page.locator("[data-testid=ticket-error]")).to_contain_text("绝对保证", timeout=TIMEOUT)
            expect(page.locator("[data-testid=reply-text]")).to_have_value(banned)  # kept for rewording
            # The FAQ search: a Traditional query finds the answer; a click puts it in the reply box.
            page.fill("[data-testid=reply-text]", "")
            page.fill("[data-testid=faq-search]", "退款什麼時候")
            page.click("[data-testid=faq-result][data-topic=faq_refund_status]", timeout=TIMEOUT)
            expect(page.locator("[data-testid=reply-text]")).to_have_value(suggestions[0]["text"])
        finally:
            browser.close()

    async def finish() -> List[Dict[str, Any]]:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as http:
            async with http.get(f"{stack.desk_url}/api/tickets/{code}", headers=headers) as r:
                messages = (await r.json())["messages"]
            assert [m for m in messages if m["role"] == "agent"] == []  # the refused reply went nowhere
            async with http.post(f"{stack.desk_url}/api/tickets/{code}/resolve", headers=headers) as r:
                assert r.status == 200, await r.text()
            return (await tracker(http, stack, sender))["events"]

    events = asyncio.run(finish())
    bots = [e.get("text") for e in events if e.get("event") == "bot"]
    closing = response_text("utter_closing_line", language)
    assert closing in bots and bots.index(closing) == len(bots) - 2, bots[-3:]  # the closing line, then the survey
    assert not any("绝对" in (text or "") for text in bots)
