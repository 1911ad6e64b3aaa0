"""`python -m bot rasa`: the Rasa server, with its HTTP API token from the environment, not the command line.

`rasa run --enable-api --auth-token <token>` shows the token to anyone who can list processes
(`/proc/<pid>/cmdline`), and reads a token that begins with `-` as an option (a generated one did, about one
start in 64). This launcher parses the other options with Rasa's own parser (so every option keeps Rasa's
default), adds the token from `RASA_TOKEN`, does the set-up `rasa` does before a command (logging, TensorFlow,
telemetry, plugins) and calls Rasa's public serving function, `rasa.api.run`. It also:

- binds `FRONTLINE_LISTEN_HOST` (127.0.0.1 by default), not every interface;
- caps request bodies, websocket frames and socket.io messages at `servers.request_max_bytes.rasa`
  (`bot.servers.request_limits`), before the server takes its first connection;
- serves `GET /metrics` (Prometheus, `bot.servers.rasa_metrics`; token `FRONTLINE_METRICS_TOKEN`).

`make run` (`bot/run.py`) starts it; in production start one per replica the same way, with the environment
of `docs/security/perimeter.md`.
"""

from __future__ import annotations

import argparse
import logging
import os
import pathlib
import sys
from typing import Any, List

from bot.servers import listen, rasa_metrics, request_limits

logger = logging.getLogger(__name__)

TOKEN_ENV = "RASA_TOKEN"
DEFAULT_PORT = 5005


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `python -m bot rasa` (the secrets come from the environment)."""
    parser.description = "Serve the Rasa server: channels and the HTTP API (token: RASA_TOKEN)."
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})")
    parser.add_argument("--model", type=pathlib.Path, default=None, help="trained model (default: newest under models/)")
    parser.add_argument("--endpoints", type=pathlib.Path, default=pathlib.Path("endpoints.yml"))
    parser.add_argument("--credentials", type=pathlib.Path, default=pathlib.Path("credentials.yml"))
    parser.add_argument("--cors", default="*", help="CORS origins of the HTTP API and the channels (default *)")
    parser.add_argument("--debug", action="store_true", help="Rasa's debug logging")


def rasa_arguments(args: argparse.Namespace, host: str, token: str) -> argparse.Namespace:
    """The arguments `rasa run` would have: ours parsed by Rasa's own parser, then the token added.

    Args:
        args: the parsed arguments of `python -m bot rasa`.
        host: the interface to bind.
        token: the HTTP API token.

    Returns:
        Rasa's argument namespace for `rasa.api.run(**vars(...))`.
    """
    from rasa.__main__ import create_argument_parser

    argv: List[str] = [
        "run",
        "--enable-api",
        "--interface", host,
        "--port", str(args.port),
        "--endpoints", str(args.endpoints),
        "--credentials", str(args.credentials),
    ]
    if args.model is not None:
        argv += ["--model", str(args.model)]
    if args.debug:
        argv.append("--debug")
    namespace = create_argument_parser().parse_args(argv)
    # after parsing, so that no value of the token can be mistaken for an option
    namespace.cors = args.cors
    namespace.auth_token = token
    return namespace


def cap_requests(max_bytes: int) -> Any:
    """A sanic `main_process_start` listener: request bodies, websocket frames and socket.io messages capped.

    It runs before sanic reads its websocket limit and before the first connection. The socket.io server is the
    one Rasa's socket.io blueprint holds (`ctx.sio`, public on Rasa's `SocketBlueprint`).
    """

    def listener(app: Any, _loop: Any) -> None:
        request_limits.apply(app, max_bytes)
        for blueprint in app.blueprints.values():
            sio = getattr(blueprint.ctx, "sio", None)
            if sio is not None:
                sio.eio.max_http_buffer_size = max_bytes
        logger.info("request bodies capped at %d bytes", max_bytes)

    return listener


def _prepare_rasa(namespace: argparse.Namespace) -> None:
    """What `rasa`'s own `main()` does before it runs a command (rasa/__main__.py), minus parsing."""
    import rasa.telemetry
    import rasa.utils.io
    import rasa.utils.tensorflow.environment as tf_env
    from rasa.plugin import plugin_manager
    from rasa.utils.common import configure_logging_and_warnings
    from rasa.utils.log_utils import configure_structlog

    log_level = getattr(namespace, "loglevel", None)
    configure_logging_and_warnings(
        log_level, getattr(namespace, "logging_config_file", None), warn_only_once=True, filter_repeated_logs=True
    )
    tf_env.setup_tf_environment()
    tf_env.check_deterministic_ops()
    sys.path.insert(1, os.getcwd())  # custom components and channels are found from the project folder
    rasa.utils.io.configure_colored_logging(log_level)
    result = plugin_manager().hook.configure_commandline(cmdline_arguments=namespace)
    endpoints_file = result[0] if result else None
    rasa.telemetry.initialize_telemetry()
    rasa.telemetry.initialize_error_reporting()
    plugin_manager().hook.init_telemetry(endpoints_file=endpoints_file)
    plugin_manager().hook.init_managers(endpoints_file=endpoints_file)
    plugin_manager().hook.init_anonymization_pipeline(endpoints_file=endpoints_file)
    configure_structlog(log_level)


def main(args: argparse.Namespace) -> int:
    """`python -m bot rasa`: serve until stopped; return the exit status."""
    from bot.settings import SettingsError

    token = os.environ.get(TOKEN_ENV) or ""
    if not token:
        print(f"error: {TOKEN_ENV} is unset: Rasa's HTTP API would be open to anyone who reaches it", file=sys.stderr)
        return 1
    try:
        limits = request_limits.request_limits()
    except SettingsError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    if args.model is None:
        from bot.run import latest_model
        from bot.settings import repo_root

        args.model = latest_model(repo_root())
    namespace = rasa_arguments(args, listen.listen_host(), token)
    _prepare_rasa(namespace)
    import rasa.api

    listeners = [(cap_requests(limits.rasa), "main_process_start"), (rasa_metrics.metrics_route(), "main_process_start")]
    rasa.api.run(**vars(namespace), server_listeners=listeners)
    return 0
