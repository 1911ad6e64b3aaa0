"""The agent console and the supervisor dashboard: static pages served by the desk.

`/` redirects to `/console`; `/console`, `/followups` and `/dashboard` are plain HTML pages; `/static/…` serves
`bot/desk/static/` (HTML, CSS, JS; no build step, nothing from a CDN). The pages talk only to the desk's public
API (`/api/…`) with the agent's bearer token, which they keep in `sessionStorage`.
"""

from __future__ import annotations

import itertools
import logging
import pathlib
from sanic import Blueprint
from sanic.request import Request
from sanic.response import HTTPResponse, file, redirect

logger = logging.getLogger(__name__)

STATIC_DIR = pathlib.Path(__file__).resolve().parent / "static"
_COUNTER = itertools.count(1)

# The pages load only their own files: no inline script, no third-party origin.
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


def console_blueprint(name: str | None = None) -> Blueprint:
    """Build the blueprint serving the console, the dashboard and their static files.

    Args:
        name: the blueprint name; unique by default, so several desk apps can live in one process (tests).

    Returns:
        A sanic Blueprint with `/`, `/console`, `/followups`, `/dashboard` and `/static/…`.
    """
    bp = Blueprint(name or f"frontline_console_{next(_COUNTER)}")

    async def page(filename: str) -> HTTPResponse:
        return await file(STATIC_DIR / filename, mime_type="text/html; charset=utf-8", headers=dict(PAGE_HEADERS))

    @bp.get("/")
    async def index(_request: Request) -> HTTPResponse:
        return redirect("/console")

    @bp.get("/console")
    async def console(_request: Request) -> HTTPResponse:
        return await page("console.html")

    @bp.get("/dashboard")
    async def dashboard(_request: Request) -> HTTPResponse:
        return await page("dashboard.html")

    @bp.get("/followups")
    async def followups(_request: Request) -> HTTPResponse:
        return await page("followups.html")

    bp.static("/static", str(STATIC_DIR), name="static")
    return bp

