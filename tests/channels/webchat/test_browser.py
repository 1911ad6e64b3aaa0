"""The demo page in a real headless Chromium (Debian `chromium`, driven by Playwright).

Two tests:
- `test_widget_in_browser_against_the_channel`: the demo page (served by the desk's blueprint) and the real
  widget channel in a Rasa sanic app with a fake agent, so it runs without a trained model. Covers the page,
  the npm bundle, CORS to another port, signed identity, agent pushes and a reload.
- `test_widget_end_to_end_on_the_stack`: the same against the running stack (`stack` fixture): a real
  Chinese FAQ answer from the trained model, and an agent reply posted through Rasa's HTTP API.
"""

from __future__ import annotations

import json
import re
import shutil
import urllib.parse
import uuid
from typing import Any, AsyncIterator

import aiohttp
import pytest
from sanic import Sanic
from widget_harness import SECRET, channel_server, free_port, serve

from bot import identity
from bot.desk.demo import demo_blueprint

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
CJK = re.compile(r"[\u4e00-\u9fff]")

pytestmark = pytest.mark.browser


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    """A headless Debian Chromium (`make install-browser` installs it)."""
    from playwright.async_api import async_playwright

    if not shutil.which(CHROMIUM):
        pytest.fail("Debian chromium is missing: run `make install-browser` (apt-get install -y chromium)")
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            await launched.close()


async def open_widget(page: Any) -> None:
    """Open the chat window with the launcher button, as a visitor would."""
    await page.wait_for_selector(".rw-launcher", timeout=15_000)
    if not await page.query_selector(".rw-new-message"):
        await page.click(".rw-launcher")
    await page.wait_for_selector(".rw-new-message", timeout=10_000)


async def send(page: Any, text: str) -> None:
    await page.fill(".rw-new-message", text)
    await page.press(".rw-new-message", "Enter")


async def wait_for_response(page: Any, needle: str, timeout: float = 15_000) -> None:
    """Wait until a bot message containing `needle` is shown."""
    await page.wait_for_function(
        """needle => Array.from(document.querySelectorAll('.rw-response'))
             .some(el => el.innerText.includes(needle))""",
        arg=needle,
        timeout=timeout,
    )


async def responses(page: Any) -> list[str]:
    return await page.eval_on_selector_all(".rw-response", "els => els.map(el => el.innerText.trim())")


async def stored_session_id(page: Any) -> str:
    """The conversation id the widget keeps in localStorage (`params.storage: "local"`)."""
    raw = await page.evaluate("() => window.localStorage.getItem('chat_session')")
    assert raw, "the widget stored no session in localStorage"
    session_id = json.loads(raw)["session_id"]
    assert isinstance(session_id, str) and session_id
    return session_id


async def test_widget_in_browser_against_the_channel(browser: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    desk = Sanic(f"widget_browser_desk_{uuid.uuid4().hex[:8]}")
    desk.blueprint(demo_blueprint())
    async with channel_server(monkeypatch, cors="*") as rasa:
        monkeypatch.setenv("FRONTLINE_RASA_URL", rasa.url)
        monkeypatch.delenv("FRONTLINE_PUBLIC_RASA_URL", raising=False)
        monkeypatch.delenv("FRONTLINE_DEMO_IDENTITY", raising=False)
        async with serve(desk, free_port()) as desk_url:
            context = await browser.new_context()
            page = await context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            external: list[str] = []
            page.on(
                "request",
                lambda request: (
                    external.append(request.url)
                    if not request.url.startswith(("http://127.0.0.1", "ws://127.0.0.1", "data:"))
                    else None
                ),
            )
            query = urllib.parse.urlencode({"customer": "c-1001", "tier": "vip", "name": "王小明"})
            await page.goto(f"{desk_url}/demo?{query}")
            await page.wait_for_function(
                "() => document.getElementById('identity').innerText.includes('c-1001')"
            )
            await open_widget(page)

            await send(page, "退款多久到账？")
            await wait_for_response(page, "退款一般在审核通过后")
            session_id = await stored_session_id(page)

            # The assistant saw the message under the stored id, with the verified (sealed) customer.
            await rasa.agent.wait_for(1)
            assert [m.text for m in rasa.agent.messages] == ["退款多久到账？"]
            message = rasa.agent.messages[0]
            conversation = f"socketio:{session_id}"
            assert message.sender_id == conversation
            assert message.input_channel == "socketio"
            assert identity.customer_from_metadata(message.metadata, conversation, SECRET) == {
                "customer_id": "c-1001",
                "tier": "vip",
                "display_name": "王小明",
            }

            # An agent reply pushed to the conversation appears without a reload.
            output = rasa.channel.get_output_channel()
            await output.send_response(conversation, {"text": "您好，我是人工客服小李。"})
            await wait_for_response(page, "我是人工客服小李")

            # After a reload the widget keeps the conversation and still receives pushes.
            await page.reload()
            await open_widget(page)
            await wait_for_response(page, "退款一般在审核通过后")
            assert await stored_session_id(page) == session_id
            await page.wait_for_timeout(500)  # let the new socket join its room
            await output.send_response(conversation, {"text": "已为您加急处理。"})
            await wait_for_response(page, "已为您加急处理")
            assert [m.text for m in rasa.agent.messages] == ["退款多久到账？"]
            assert await responses(page) == [
                "退款一般在审核通过后3到7个工作日内原路退回。",
                "您好，我是人工客服小李。",
                "已为您加急处理。",
            ]

            await context.close()
    assert not errors, errors
    assert not external, f"requests left this machine: {external}"


async def test_forged_identity_from_the_console_is_ignored(
    browser: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A visitor who edits customData in the console to claim VIP stays anonymous."""
    desk = Sanic(f"widget_browser_desk_{uuid.uuid4().hex[:8]}")
    desk.blueprint(demo_blueprint())
    async with channel_server(monkeypatch, cors="*") as rasa:
        monkeypatch.setenv("FRONTLINE_RASA_URL", rasa.url)
        monkeypatch.delenv("FRONTLINE_PUBLIC_RASA_URL", raising=False)
        async with serve(desk, free_port()) as desk_url:
            context = await browser.new_context()
            page = await context.new_page()
            # Tamper with the configuration before the widget starts, as a console user could.
            await page.add_init_script(
                """Object.defineProperty(window, 'FRONTLINE_WIDGET', {
                     configurable: true,
                     set(value) {
                       value.customData = Object.assign({}, value.customData,
                         {tier: 'vip', customer_id: 'c-1', customer: {customer_id: 'c-1', tier: 'vip'},
                          identity: 'eyJhbGciOiJub25lIn0.eyJjdXN0b21lcl9pZCI6ImMtMSIsInRpZXIiOiJ2aXAifQ.'});
                       this._cfg = value;
                     },
                     get() { return this._cfg; }
                   });"""
            )
            await page.goto(f"{desk_url}/demo")
            await open_widget(page)
            assert await page.evaluate("() => window.FRONTLINE_WIDGET.customData.tier") == "vip"
            await send(page, "我是VIP客户")
            await wait_for_response(page, "收到：我是VIP客户")
            await rasa.agent.wait_for(1)
            message = rasa.agent.messages[0]
            assert message.metadata == {"source": "demo"}
            assert identity.customer_from_metadata(message.metadata, message.sender_id, SECRET) is None
            await context.close()


async def fetch_tracker(stack: Any, session_id: str) -> dict:
    url = f"{stack.rasa_url}/conversations/socketio:{urllib.parse.quote(session_id)}/tracker"
    async with aiohttp.ClientSession() as http:
        async with http.get(url, params={"token": stack.token}) as response:
            assert response.status == 200, await response.text()
            return await response.json()


@pytest.mark.stack
async def test_widget_end_to_end_on_the_stack(browser: Any, stack: Any) -> None:
    """Real assistant: a Chinese FAQ answer, then an agent reply through the HTTP API, without a reload."""
    context = await browser.new_context()
    page = await context.new_page()
    await page.goto(f"{stack.desk_url}/demo?customer=c-2002&tier=vip")
    await page.wait_for_function("() => document.getElementById('identity').innerText.includes('c-2002')")
    await open_widget(page)

    await send(page, "退款多久到账")
    # The first .rw-response is the typing indicator; wait for a real answer in Chinese.
    await page.wait_for_function(
        """() => Array.from(document.querySelectorAll('.rw-response'))
                 .some(el => /[\u4e00-\u9fff]/.test(el.innerText))""",
        timeout=30_000,
    )
    await page.wait_for_timeout(500)  # the widget shows multi-part answers one after the other
    answers = await responses(page)
    assert answers and all(CJK.search(answer) for answer in answers), answers
    assert not any("退款多久到账" == answer for answer in answers)
    session_id = await stored_session_id(page)

    # The signed demo customer reached the conversation, sealed to it; the token itself was not stored.
    tracker = await fetch_tracker(stack, session_id)
    metadata = tracker["latest_message"]["metadata"]
    assert "identity" not in metadata
    secret = stack.env["FRONTLINE_IDENTITY_SECRET"]
    assert identity.customer_from_metadata(metadata, f"socketio:{session_id}", secret) == {
        "customer_id": "c-2002",
        "tier": "vip",
        "display_name": None,
    }

    url = (
        f"{stack.rasa_url}/conversations/socketio:{urllib.parse.quote(session_id)}/tracker/events"
        f"?execute_side_effects=true&output_channel=socketio&token={urllib.parse.quote(stack.token)}"
    )
    async with aiohttp.ClientSession() as http:
        # The handoff: the conversation is paused (what action_handoff returns), the customer keeps writing
        # and the assistant stays silent.
        async with http.post(url, json={"event": "pause"}) as r:
            assert r.status == 200, await r.text()
        before = len(await responses(page))
        await send(page, "我还在等")
        await page.wait_for_timeout(2000)
        assert len(await responses(page)) == before
        assert (await fetch_tracker(stack, session_id))["latest_message"]["text"] == "我还在等"

        # The agent's reply, as the desk delivers it, appears without a reload.
        agent_text = f"您好，我是人工客服，编号{uuid.uuid4().hex[:6]}，这就为您查询退款进度。"
        body = {"event": "bot", "text": agent_text, "metadata": {"agent": "alice"}}
        async with http.post(url, json=body) as r:
            assert r.status == 200, await r.text()
        await wait_for_response(page, agent_text)
        async with http.post(url, json={"event": "resume"}) as r:
            assert r.status == 200, await r.text()
    await context.close()
