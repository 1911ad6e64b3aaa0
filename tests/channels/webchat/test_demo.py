"""The demo page routes served by the desk (bot/desk/demo.py), in-process with sanic's ASGI client."""

from __future__ import annotations

import json
import pathlib
import re
import uuid

import aiohttp
import pytest
from sanic import Sanic
from widget_harness import SECRET, free_port, serve

from bot import identity
from bot.desk.demo import GOOGLE_FONTS_IMPORT, demo_blueprint, demo_config
from bot.settings import repo_root


def make_app(web: pathlib.Path | None = None) -> Sanic:
    app = Sanic(f"demo_test_{uuid.uuid4().hex[:8]}")
    app.blueprint(demo_blueprint(web))
    return app


def parse_config(body: str) -> dict:
    match = re.fullmatch(r"window\.FRONTLINE_WIDGET = (\{.*\});\n", body, flags=re.S)
    assert match, body
    return json.loads(match.group(1))


async def test_demo_page_embeds_the_local_bundle_and_nothing_from_a_cdn() -> None:
    _, response = await make_app().asgi_client.get("/demo")
    assert response.status == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    assert '"/demo/webchat.js"' in page and "/demo/config.js" in page
    assert 'storage: "local"' in page
    assert "WebChat.default(" in page
    # Every script and stylesheet comes from this server.
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    assert "jsdelivr" not in page and "unpkg" not in page
    assert "退款多久到账" in page and "How long does a refund take" in page


async def test_bundle_is_the_npm_installed_rasa_webchat_without_remote_fonts() -> None:
    installed = repo_root() / "web" / "node_modules" / "rasa-webchat" / "lib" / "index.js"
    assert installed.is_file(), "run `make install` (npm ci --prefix web)"
    _, response = await make_app().asgi_client.get("/demo/webchat.js")
    assert response.status == 200
    assert "javascript" in response.headers["content-type"]
    original = installed.read_bytes()
    assert GOOGLE_FONTS_IMPORT in original
    assert response.body == original.replace(GOOGLE_FONTS_IMPORT, b"")
    assert b"fonts.googleapis" not in response.body
    assert b"session_request" in response.body


async def test_missing_bundle_is_a_clear_503(tmp_path: pathlib.Path) -> None:
    (tmp_path / "demo.html").write_text("<html></html>", encoding="utf-8")
    _, response = await make_app(tmp_path).asgi_client.get("/demo/webchat.js")
    assert response.status == 503
    assert "npm ci --prefix web" in response.text


async def test_anonymous_config_points_at_the_rasa_server(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FRONTLINE_PUBLIC_RASA_URL", raising=False)
    monkeypatch.setenv("FRONTLINE_RASA_URL", "http://127.0.0.1:15005/")
    _, response = await make_app().asgi_client.get("/demo/config.js")
    assert response.status == 200
    assert "javascript" in response.headers["content-type"]
    config = parse_config(response.text)
    assert config["socketUrl"] == "http://127.0.0.1:15005"
    assert config["socketPath"] == "/socket.io/"
    assert config["customer"] is None
    assert "identity" not in config["customData"]

    monkeypatch.setenv("FRONTLINE_PUBLIC_RASA_URL", "https://chat.example.com")
    _, response = await make_app().asgi_client.get("/demo/config.js")
    assert parse_config(response.text)["socketUrl"] == "https://chat.example.com"


async def test_config_signs_the_demo_customer_for_a_local_browser(monkeypatch: pytest.MonkeyPatch) -> None:
    """Over a real loopback socket, so the client address is 127.0.0.1."""
    monkeypatch.setenv(identity.ENV_SECRET, SECRET)
    monkeypatch.delenv("FRONTLINE_DEMO_IDENTITY", raising=False)
    async with serve(make_app(), free_port()) as url, aiohttp.ClientSession() as http:
        query = {"customer": "c-1001", "tier": "VIP", "name": "王小明</script>"}
        async with http.get(f"{url}/demo/config.js", params=query) as response:
            body = await response.text()
    assert "</script>" not in body
    config = parse_config(body)
    assert config["customer"] == {"customer_id": "c-1001", "tier": "vip", "display_name": "王小明</script>"}
    claims = identity.verify_identity(config["customData"]["identity"], SECRET)
    assert claims == {"customer_id": "c-1001", "tier": "vip", "display_name": "王小明</script>"}


def test_config_refuses_to_sign_for_remote_browsers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(identity.ENV_SECRET, SECRET)
    config = demo_config({"customer": "c-1", "tier": "vip"}, "203.0.113.9")
    assert config["customer"] is None and "identity" not in config["customData"]
    assert "this machine" in config["identityError"]
    assert demo_config({"customer": "c-1", "tier": "vip"}, "::1")["customer"] is not None


def test_config_without_secret_or_when_switched_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(identity.ENV_SECRET, raising=False)
    config = demo_config({"customer": "c-1", "tier": "vip"}, "127.0.0.1")
    assert config["customer"] is None and identity.ENV_SECRET in config["identityError"]
    monkeypatch.setenv(identity.ENV_SECRET, SECRET)
    monkeypatch.setenv("FRONTLINE_DEMO_IDENTITY", "off")
    config = demo_config({"customer": "c-1", "tier": "vip"}, "127.0.0.1")
    assert config["customer"] is None and "off" in config["identityError"]


def test_config_rejects_an_unusable_tier(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(identity.ENV_SECRET, SECRET)
    config = demo_config({"customer": "c-1", "tier": "v i p"}, "127.0.0.1")
    assert config["customer"] is None and config["identityError"]
