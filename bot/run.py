"""Start the whole of Frontline on one machine: Rasa server, action server and desk.

`make run` calls this after installing and training. One Ctrl-C stops everything cleanly. Used by the tests
(`tests/conftest.py`) and the benchmark too, with other ports and a temporary `var/` folder.

The perimeter (`docs/security/perimeter.md`): every process binds 127.0.0.1 unless `FRONTLINE_LISTEN_HOST`
says otherwise (the action server stays on loopback unless `FRONTLINE_ACTIONS_HOST` does); the secrets of the
run (`RASA_TOKEN`, `FRONTLINE_ACTION_TOKEN`, `FRONTLINE_DESK_SECRET`, `FRONTLINE_IDENTITY_SECRET`) are
generated when unset, travel only in the environment, never on a command line nor in what is printed, and each
process gets only those it needs (`bot.servers.process_secrets`).
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import pathlib
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from typing import Dict, Iterable, List, Optional

from bot.servers import listen, process_secrets
from bot.servers.action_token import ENV as ACTION_TOKEN_ENV
from bot.settings import production_mode, repo_root

logger = logging.getLogger(__name__)

# Variables that credentials.yml expands; Rasa refuses to start when one is unset, so unset ones become "".
CHANNEL_VARIABLES = (
    "WECHAT_TOKEN",
    "WECHAT_ENCODING_AES_KEY",
    "WECHAT_APP_ID",
    "WECHAT_APP_SECRET",
    "WECHAT_API_BASE",
    "WECOM_TOKEN",
    "WECOM_ENCODING_AES_KEY",
    "WECOM_CORP_ID",
    "WECOM_CORP_SECRET",
    "WECOM_AGENT_ID",
    "WECOM_API_BASE",
    "WECHAT_KF_TOKEN",
    "WECHAT_KF_ENCODING_AES_KEY",
    "WECHAT_KF_CORP_ID",
    "WECHAT_KF_SECRET",
    "WECHAT_KF_OPEN_KFID",
    "WECHAT_KF_API_BASE",
    "FRONTLINE_IDENTITY_SECRET",
    "FRONTLINE_REST_TOKEN",
    "FRONTLINE_EMAIL_ADDRESS",
    "FRONTLINE_IMAP_URL",
    "FRONTLINE_EMAIL_SMTP_LISTEN",
    "FRONTLINE_SMTP_URL",
)


@dataclasses.dataclass
class Ports:
    """The ports of the three processes."""

    rasa: int = 5005
    actions: int = 5055
    desk: int = 5006


@dataclasses.dataclass
class Stack:
    """A started Frontline: its processes, addresses and the environment they share."""

    ports: Ports
    env: Dict[str, str]
    var: pathlib.Path
    processes: Dict[str, subprocess.Popen] = dataclasses.field(default_factory=dict)

    @property
    def rasa_url(self) -> str:
        """Base URL of the Rasa server, from this machine."""
        return f"http://{listen.connect_host(listen.listen_host(self.env))}:{self.ports.rasa}"

    @property
    def desk_url(self) -> str:
        """Base URL of the desk, from this machine."""
        return f"http://{listen.connect_host(listen.listen_host(self.env))}:{self.ports.desk}"

    @property
    def actions_url(self) -> str:
        """Base URL of the action server, from this machine."""
        return f"http://{listen.connect_host(listen.actions_host(self.env))}:{self.ports.actions}"

    @property
    def token(self) -> str:
        """The Rasa HTTP API token."""
        return self.env["RASA_TOKEN"]

    def stop(self, timeout: float = 15.0) -> None:
        """Stop every process: SIGTERM, then SIGKILL after `timeout` seconds."""
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for name, process in self.processes.items():
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                logger.warning(f"{name} did not stop in {timeout:.0f} s; killing it")
                process.kill()
                process.wait()


def venv_bin(name: str) -> str:
    """Path of an executable in the interpreter's own environment (the project's .venv)."""
    return str(pathlib.Path(sys.executable).parent / name)


def latest_model(root: pathlib.Path) -> Optional[pathlib.Path]:
    """The newest trained model under `models/`, or None."""
    models = sorted((root / "models").glob("*.tar.gz"), key=lambda p: p.stat().st_mtime)
    return models[-1] if models else None


def write_endpoints(
    root: pathlib.Path,
    var: pathlib.Path,
    ports: Ports,
    source_name: Optional[str] = None,
    environ: Optional[Dict[str, str]] = None,
) -> pathlib.Path:
    """Write the endpoints file for this run, with this run's action address and var folder.

    The source is `endpoints.yml`, or the file named by `FRONTLINE_ENDPOINTS` (e.g. `endpoints.prod.yml`). Its
    secrets stay `${VARIABLE}` placeholders that Rasa expands from its environment (the action token among
    them), so the file written holds none.
    """
    import yaml

    source = root / (source_name or os.environ.get("FRONTLINE_ENDPOINTS") or "endpoints.yml")
    endpoints = yaml.safe_load(source.read_text(encoding="utf-8"))
    actions = listen.connect_host(listen.actions_host(environ))
    endpoints["action_endpoint"]["url"] = f"http://{actions}:{ports.actions}/webhook"
    for key, name in (("tracker_store", "rasa.db"), ("event_broker", "events.db")):
        if (endpoints.get(key) or {}).get("dialect") == "sqlite":
            endpoints[key]["db"] = str(var / name)
    path = var / "endpoints.run.yml"
    path.write_text(yaml.safe_dump(endpoints, sort_keys=False), encoding="utf-8")
    return path


# Secrets `make run` generates for the run when they are unset (any value a user sets is used as it is).
GENERATED_SECRETS = ("RASA_TOKEN", ACTION_TOKEN_ENV, "FRONTLINE_DESK_SECRET")


def generate_secret() -> str:
    """A new random secret for one run (URL-safe base64, 32 characters)."""
    return secrets.token_urlsafe(24)


def build_env(var: pathlib.Path, ports: Ports, extra: Optional[Dict[str, str]] = None) -> Dict[str, str]:
    """The environment of the whole run (each process gets its part, `process_env`): secrets generated for
    this run when not given, the addresses of the three processes."""
    env = dict(os.environ)
    env.update(extra or {})
    for name in GENERATED_SECRETS:
        if not env.get(name):
            env[name] = generate_secret()
    for name in CHANNEL_VARIABLES:
        env.setdefault(name, "")
    if not env["FRONTLINE_IDENTITY_SECRET"]:
        # Signed customer identity works out of the box; a real site sets its own shared secret.
        env["FRONTLINE_IDENTITY_SECRET"] = secrets.token_hex(32)
    public = listen.connect_host(listen.listen_host(env))
    actions = listen.connect_host(listen.actions_host(env))
    env["FRONTLINE_VAR"] = str(var)
    env["FRONTLINE_RASA_URL"] = f"http://{public}:{ports.rasa}"
    env["FRONTLINE_DESK_URL"] = f"http://{public}:{ports.desk}"
    env["FRONTLINE_DESK_PORT"] = str(ports.desk)
    env["FRONTLINE_ACTION_URL"] = f"http://{actions}:{ports.actions}/webhook"
    env.setdefault("FRONTLINE_EVENTS_DB", str(var / "events.db"))
    env.setdefault("PYTHONUNBUFFERED", "1")
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    return env


class PortInUse(RuntimeError):
    """A port Frontline needs is taken (often by a Frontline that is still running)."""


def check_ports_free(ports: Ports, environ: Optional[Dict[str, str]] = None) -> None:
    """Fail before anything starts when one of the three ports is already in use on the interface it binds.

    Raises:
        PortInUse: naming the port and the process that needs it.
    """
    public, actions = listen.listen_host(environ), listen.actions_host(environ)
    for name, host, port in (
        ("Rasa server", public, ports.rasa),
        ("action server", actions, ports.actions),
        ("desk", public, ports.desk),
    ):
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            # as the servers themselves do: a port left in TIME_WAIT by a run just stopped is free
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((host, port))
            except OSError:
                raise PortInUse(
                    f"port {port} (the {name}) is already in use: is Frontline, or another server, still running? "
                    f"Stop it and start again"
                ) from None


def wait_http(url: str, process: subprocess.Popen, name: str, timeout: float) -> None:
    """Wait until `url` answers (any status below 500); fail early when `process` exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with code {process.returncode} during start-up")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status < 500:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{name} did not answer {url} within {timeout:.0f} s")


def rasa_command(root: pathlib.Path, port: int, model: pathlib.Path, endpoints: pathlib.Path) -> List[str]:
    """The command line of one Rasa server (`python -m bot rasa`: its token comes from `RASA_TOKEN` in its
    environment); several on one tracker, lock and broker are replicas."""
    return [
        sys.executable,
        "-m",
        "bot",
        "rasa",
        "--port",
        str(port),
        "--model",
        str(model),
        "--credentials",
        str(root / "credentials.yml"),
        "--endpoints",
        str(endpoints),
    ]


def actions_command(port: int) -> List[str]:
    """The command line of the action server (`python -m bot actions`: token from `FRONTLINE_ACTION_TOKEN`)."""
    return [sys.executable, "-m", "bot", "actions", "--port", str(port)]


def process_env(env: Dict[str, str], process: str) -> Dict[str, str]:
    """The environment of one process of the run: the run's, minus the secrets it does not need."""
    return process_secrets.environment_for(process, env)


def start(
    root: Optional[pathlib.Path] = None,
    var: Optional[pathlib.Path] = None,
    ports: Optional[Ports] = None,
    model: Optional[pathlib.Path] = None,
    extra_env: Optional[Dict[str, str]] = None,
    log_dir: Optional[pathlib.Path] = None,
    timeout: float = 180.0,
) -> Stack:
    """Start the action server, the desk and the Rasa server; return once all answer.

    Args:
        root: the project folder (data, domain, credentials).
        var: the folder for this run's databases and logs.
        ports: loopback ports to use.
        model: the trained model (default: the newest under models/).
        extra_env: variables added to every process's environment.
        log_dir: where each process's output goes (default: inherit the terminal).
        timeout: seconds each process may take to answer its health check.

    Raises:
        PortInUse: a port is taken (nothing was started).
        RuntimeError: no trained model, or a process failed to start (the others are stopped).
    """
    root = root or repo_root()
    ports = ports or Ports()
    check_ports_free(ports, {**os.environ, **(extra_env or {})})
    var = var or pathlib.Path(os.environ.get("FRONTLINE_VAR") or root / "var")
    var.mkdir(parents=True, exist_ok=True)
    model = model or latest_model(root)
    if model is None:
        raise RuntimeError("no trained model under models/: run `make train` first")
    env = build_env(var, ports, extra_env)
    endpoints = write_endpoints(root, var, ports, env.get("FRONTLINE_ENDPOINTS"), env)
    stack = Stack(ports=ports, env=env, var=var)

    def spawn(name: str, argv: List[str]) -> subprocess.Popen:
        output = open(log_dir / f"{name}.log", "ab") if log_dir else None
        process = subprocess.Popen(
            argv, cwd=root, env=process_env(env, name), stdout=output, stderr=subprocess.STDOUT if output else None
        )
        stack.processes[name] = process
        return process

    if log_dir:
        log_dir.mkdir(parents=True, exist_ok=True)
    try:
        actions = spawn(process_secrets.ACTIONS, actions_command(ports.actions))
        desk = spawn(process_secrets.DESK, [sys.executable, "-m", "bot", "desk", "run"])
        rasa = spawn(process_secrets.RASA, rasa_command(root, ports.rasa, model, endpoints))
        wait_http(f"{stack.actions_url}/health", actions, "action server", timeout)
        wait_http(f"{stack.desk_url}/health", desk, "desk", timeout)
        wait_http(f"{stack.rasa_url}/", rasa, "Rasa server", timeout)
    except BaseException:  # boundary: whatever stops the start-up (Ctrl-C included) stops what was started
        stack.stop()
        raise
    return stack


def banner(stack: Stack, generated: Iterable[str] = ()) -> str:
    """What `make run` prints once everything answers: addresses and the names of variables, never a secret.

    Args:
        stack: the running stack.
        generated: the secrets this run generated because they were unset.
    """
    # with a REST token, the example request carries it (the variable, not the secret, is printed)
    auth = "\n      -H \"Authorization: Bearer $FRONTLINE_REST_TOKEN\" \\" if stack.env.get("FRONTLINE_REST_TOKEN") else ""
    demo = "" if production_mode(stack.env) else f"\n  Demo page (website widget):  {stack.desk_url}/demo"
    unset = ""
    if "RASA_TOKEN" in generated:
        unset = "\n    (RASA_TOKEN was unset: this run generated one for the desk; set RASA_TOKEN to call the API yourself)"
    return f"""
Frontline is running.{demo}
  Agent console:               {stack.desk_url}/console   (create an agent: .venv/bin/python -m bot desk add-agent NAME --skills general)
  Supervisor dashboard:        {stack.desk_url}/dashboard   (a supervisor: add-agent NAME --skills general --role supervisor)
  Rasa server (REST, socket.io, HTTP API with the token in RASA_TOKEN): {stack.rasa_url}{unset}
  Talk to the assistant:
    curl -s {stack.rasa_url}/webhooks/rest/webhook -H 'Content-Type: application/json' \\{auth}
      -d '{{"sender": "demo", "message": "退款多久到账？"}}'
Logs: {stack.var}/logs/. Press Ctrl-C once to stop everything.
"""


def check_settings() -> None:
    """Validate every section of settings.yml before anything starts (each error names its key).

    Building the calendar also logs the warning for a year the holiday data does not cover yet.

    Raises:
        SettingsError: a setting is wrong.
    """
    from bot import emergency_entry, ratelimit
    from bot.calendar import get_calendar
    from bot.calendar.messages import emergency_contact
    from bot.channels import email_settings
    from bot.desk import config as desk_config
    from bot.escalation import escalation_settings
    from bot.handoff.context import TranscriptLimits
    from bot.i18n import EN, ZH, traditional_standard
    from bot.reply_window import WindowRule
    from bot.retention import RetentionPolicy
    from bot.servers import request_limits
    from bot.settings import load_settings
    from bot.survey import nps_enabled

    settings = load_settings()
    request_limits.validate(settings)
    get_calendar()
    escalation_settings(settings)
    desk_config.validate(settings)
    ratelimit.validate(settings)
    traditional_standard(settings)
    TranscriptLimits.from_settings(settings)
    RetentionPolicy.from_settings(settings)
    WindowRule.from_settings(settings)
    email_settings.load(settings=settings)  # the e-mail channel's variables and `email` section
    nps_enabled(settings)  # survey.nps: true or false
    for language in (ZH, EN):
        emergency_contact(language, settings)
    emergency_entry.validate(settings)  # the greeting's emergency button and the WeChat menu keys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `python -m bot run`."""
    parser.description = __doc__
    parser.add_argument("--model", type=pathlib.Path, help="trained model (default: newest under models/)")
    from bot.topology import launcher  # --production, --replicas: the production layout (bot/topology/)

    launcher.add_arguments(parser)


def main(args: argparse.Namespace) -> int:
    """`python -m bot run` (`make run`): start everything, stop it all on Ctrl-C; return the exit status."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    from bot.topology import launcher

    production = launcher.dispatch(args)
    if production is not None:
        return production
    root = repo_root()
    var = pathlib.Path(os.environ.get("FRONTLINE_VAR") or root / "var")
    from bot.settings import SettingsError

    try:
        check_settings()
    except SettingsError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print("Starting the action server, the desk and the Rasa server (about 30 s)…", flush=True)
    try:
        stack = start(root=root, var=var, model=args.model, log_dir=var / "logs")
    except PortInUse as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except RuntimeError as error:
        print(f"error: {error} (see {var / 'logs'})", file=sys.stderr)
        return 1
    generated = [name for name in GENERATED_SECRETS if not os.environ.get(name)]
    print(banner(stack, generated), flush=True)
    stopping = False

    def on_signal(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        while not stopping:
            for name, process in stack.processes.items():
                if process.poll() is not None:
                    print(f"error: {name} stopped (exit code {process.returncode}); stopping the rest", flush=True)
                    stopping = True
            time.sleep(0.5)
    finally:
        print("Stopping…", flush=True)
        stack.stop()
    print("Stopped.")
    return 0


if __name__ == "__main__":  # the older form, `python -m bot.run`, kept for scripts
    from bot.__main__ import main as bot_main

    sys.exit(bot_main(["run", *sys.argv[1:]]))
