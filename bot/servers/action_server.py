"""`python -m bot actions`: the action server, answering only the Rasa server.

`rasa run actions` binds every interface and runs any action for anyone. This launcher builds the same app
with rasa_sdk's public `create_app`, then:

- demands the action token (`FRONTLINE_ACTION_TOKEN`, `bot.servers.action_token`) on every request but
  `GET /health`: 401 otherwise;
- binds `FRONTLINE_ACTIONS_HOST`, 127.0.0.1 by default (only the Rasa server calls it);
- caps request bodies at `servers.request_max_bytes.actions` (the Rasa server sends whole trackers): 413, or 401
  for a caller without the token (sanic runs the token check on the error's way out too);
- guards sanic's request framing (`bot.patches.sanic_framing`);
- no CORS: browsers have no business here.

It refuses to start without a usable token. `make run` (`bot/run.py`) generates one per run and gives it to the
Rasa server too, whose `endpoints.yml` sends it.
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Any

from sanic.exceptions import PayloadTooLarge

from bot.servers import action_token, listen, request_limits

logger = logging.getLogger(__name__)

DEFAULT_PORT = 5055
ACTION_PACKAGE = "actions"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `python -m bot actions` (the token comes from the environment)."""
    parser.description = "Serve the custom actions to the Rasa server (token: FRONTLINE_ACTION_TOKEN)."
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})")
    parser.add_argument("--actions", default=ACTION_PACKAGE, help=f"action package (default {ACTION_PACKAGE})")
    parser.add_argument("--debug", action="store_true", help="debug logging")


def create_app(package: str, token: str, max_bytes: int) -> object:
    """rasa_sdk's action server app with the token check and the body limit.

    Args:
        package: the action package to load.
        token: the checked action token.
        max_bytes: the largest request body.

    Returns:
        The sanic app (not started).
    """
    from rasa_sdk.endpoint import create_app as sdk_create_app

    from bot.patches import sanic_framing

    sanic_framing.install()
    app = sdk_create_app(package, cors_origins=None)
    action_token.require_token(app, token)
    request_limits.apply(app, max_bytes)
    # rasa_sdk answers every exception with a 500; a body over the limit is the caller's error, not ours
    app.error_handler.add(PayloadTooLarge, _too_large)
    return app


def _too_large(request: Any, exception: Exception) -> Any:
    from sanic.response import json as json_response

    return json_response({"error": str(exception)}, status=413)


def main(args: argparse.Namespace) -> int:
    """`python -m bot actions`: serve until stopped; return the exit status."""
    from bot.settings import SettingsError

    try:
        token = action_token.from_environment()
        limits = request_limits.request_limits()
    except (action_token.ActionTokenError, SettingsError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    from rasa_sdk import utils
    from rasa_sdk.plugin import plugin_manager

    level = logging.DEBUG if args.debug else logging.INFO
    utils.configure_colored_logging(level)
    utils.update_sanic_log_level()
    app = create_app(args.actions, token, limits.actions)
    plugin_manager().hook.attach_sanic_app_extensions(app=app)
    host = listen.actions_host()
    logger.info("action server on http://%s:%d", host, args.port)
    app.run(host, args.port, workers=utils.number_of_sanic_workers())
    return 0
