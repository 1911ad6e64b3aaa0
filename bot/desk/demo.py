"""The website widget demo page, served by the desk at `/demo`.

Three routes, mounted by `bot.desk.app` with `app.blueprint(demo_blueprint())`:

- `GET /demo`: `web/demo.html`, a page embedding the `rasa-webchat` widget the way a website owner would;
- `GET /demo/webchat.js`: the widget bundle installed from npm (`web/node_modules/rasa-webchat/lib/index.js`,
  put there by `make install`), minus its Google Fonts `@import`, so nothing comes from a CDN;
- `GET /demo/config.js`: `window.FRONTLINE_WIDGET = {...}`: the socket.io URL of the Rasa server and the
  widget's `customData`. With `?customer=ID&tier=TIER&name=NAME` it also carries an identity token signed with
  `FRONTLINE_IDENTITY_SECRET`, playing the part of the website's own server. Because anyone who can reach this
  route could mint a VIP token, it signs only for a browser on this machine: a loopback client whose request
  came through no proxy (a reverse proxy on the same host makes every caller look local, so a request with a
  `Forwarded`, `X-Forwarded-For` or `X-Real-IP` header is refused), and never when
  `FRONTLINE_DEMO_IDENTITY=off`; a real site signs on its own server (README, docs/channels-web.md).

The page exists only in development: the desk mounts it only outside production mode
(`bot.settings.production_mode`, `bot/desk/app.py`).
"""

from __future__ import annotations

import functools
import ipaddress
import json
import logging
import os
import pathlib
from typing import Any, Dict, Mapping, Optional

from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot import identity
from bot.settings import repo_root

logger = logging.getLogger(__name__)

DEFAULT_RASA_URL = "http://127.0.0.1:5005"
# Lifetime of the tokens the demo signs, in seconds.
DEMO_TOKEN_TTL = 3600
# The one remote resource in rasa-webchat 1.0.1's bundle (an @import in each CSS module).
GOOGLE_FONTS_IMPORT = b"@import url(https://fonts.googleapis.com/css?family=Inter:400,500,700&display=swap);"


def web_dir() -> pathlib.Path:
    """Return the `web/` folder (the demo page and the npm-installed widget)."""
    return repo_root() / "web"


def local_bundle(path: pathlib.Path) -> bytes:
    """Return the installed widget bundle without its Google Fonts `@import`.

    rasa-webchat 1.0.1 pulls the Inter font from fonts.googleapis.com (a CDN, and unreachable from mainland
    China) through an `@import` in its CSS; nothing else in the bundle is fetched from elsewhere with the
    props the demo uses. The page's own font stack applies instead.

    Args:
        path: the installed `lib/index.js`.

    Returns:
        The bundle's bytes with every `@import` of `GOOGLE_FONTS_IMPORT` removed (cached until it changes).
    """
    stat = path.stat()
    return _local_bundle(str(path), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=2)
def _local_bundle(path: str, mtime_ns: int, size: int) -> bytes:
    return pathlib.Path(path).read_bytes().replace(GOOGLE_FONTS_IMPORT, b"")


def socket_url() -> str:
    """Return the Rasa server URL the browser connects to.

    `FRONTLINE_PUBLIC_RASA_URL` when the browser reaches Rasa under another address than the desk does,
    else `FRONTLINE_RASA_URL`, else the default `http://127.0.0.1:5005`.
    """
    return (
        os.environ.get("FRONTLINE_PUBLIC_RASA_URL")
        or os.environ.get("FRONTLINE_RASA_URL")
        or DEFAULT_RASA_URL
    ).rstrip("/")


# Headers a proxy adds: with any of them, the loopback address is the proxy's, not the browser's.
FORWARDING_HEADERS = ("forwarded", "x-forwarded-for", "x-real-ip")


def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address.split("%")[0]).is_loopback
    except ValueError:
        return False


def forwarded(headers: Mapping[str, str]) -> bool:
    """Whether a request came through a proxy (it carries `Forwarded`, `X-Forwarded-For` or `X-Real-IP`)."""
    names = {name.lower() for name in headers.keys()}
    return any(header in names for header in FORWARDING_HEADERS)


def demo_config(args: Dict[str, str], client_ip: str, through_proxy: bool = False) -> Dict[str, Any]:
    """Build the widget configuration the demo page reads from `/demo/config.js`.

    Args:
        args: the query parameters (`customer`, `tier`, `name`).
        client_ip: the address of the browser asking.
        through_proxy: the request carried a proxy's forwarding header (`forwarded`).

    Returns:
        `{"socketUrl", "socketPath", "customData", "customer", "identityError"}`; `customer` is the signed
        identity shown on the page (None when anonymous), `identityError` says why a requested identity was not
        signed.
    """
    config: Dict[str, Any] = {
        "socketUrl": socket_url(),
        "socketPath": "/socket.io/",
        "customData": {"source": "demo"},
        "customer": None,
        "identityError": None,
    }
    customer_id = (args.get("customer") or "").strip()
    if not customer_id:
        return config
    claims = {
        "customer_id": customer_id,
        "tier": (args.get("tier") or "").strip().lower() or None,
        "display_name": (args.get("name") or "").strip() or None,
    }
    secret = identity.identity_secret()
    if os.environ.get("FRONTLINE_DEMO_IDENTITY", "").lower() in {"off", "0", "false", "no"}:
        config["identityError"] = "demo identity signing is off (FRONTLINE_DEMO_IDENTITY=off)"
    elif through_proxy or not _is_loopback(client_ip):
        config["identityError"] = "the demo signs identities only for browsers on this machine, not through a proxy"
    elif secret is None:
        config["identityError"] = (
            f"{identity.ENV_SECRET} is unset or shorter than {identity.MIN_SECRET_LENGTH} characters"
        )
    else:
        try:
            token = identity.sign_identity(claims, secret, ttl=DEMO_TOKEN_TTL)
        except ValueError as error:
            config["identityError"] = str(error)
        else:
            config["customData"]["identity"] = token
            config["customer"] = {k: v for k, v in claims.items() if v is not None}
    return config


def _config_script(config: Dict[str, Any]) -> str:
    payload = json.dumps(config, ensure_ascii=True).replace("</", "<\\/")
    return f"window.FRONTLINE_WIDGET = {payload};\n"


def demo_blueprint(web: Optional[pathlib.Path] = None) -> Blueprint:
    """Return the blueprint serving `/demo`, `/demo/webchat.js` and `/demo/config.js`.

    Args:
        web: the folder holding `demo.html` and `node_modules/` (default: the repo's `web/`).

    Returns:
        A sanic `Blueprint` named `frontline_demo`.
    """
    blueprint = Blueprint("frontline_demo")

    def folder() -> pathlib.Path:
        return web or web_dir()

    @blueprint.get("/demo")
    async def page(request: Request) -> HTTPResponse:
        path = folder() / "demo.html"
        if not path.is_file():
            return response.text("demo page missing: web/demo.html", status=404)
        return response.html(path.read_text(encoding="utf-8"), headers={"Cache-Control": "no-store"})

    @blueprint.get("/demo/webchat.js")
    async def bundle(request: Request) -> HTTPResponse:
        path = folder() / "node_modules" / "rasa-webchat" / "lib" / "index.js"
        if not path.is_file():
            logger.error("widget bundle missing at %s: run `make install` (npm ci --prefix web)", path)
            return response.text(
                "the widget is not installed: run `make install` (npm ci --prefix web)", status=503
            )
        return response.raw(
            local_bundle(path),
            content_type="application/javascript; charset=utf-8",
            headers={"Cache-Control": "public, max-age=3600"},
        )

    @blueprint.get("/demo/config.js")
    async def config(request: Request) -> HTTPResponse:
        args = {key: request.args.get(key) or "" for key in ("customer", "tier", "name")}
        return response.text(
            _config_script(demo_config(args, request.ip or "", forwarded(request.headers))),
            content_type="application/javascript; charset=utf-8",
            headers={"Cache-Control": "no-store"},
        )

    return blueprint
