"""Finding 8: secrets. `RASA_TOKEN` was printed by `make run`, passed on a command line every local user can read
(`rasa run --auth-token …`), given to processes that do not need it, and a generated one beginning with `-` was
read by `rasa run` as an option (about one start in 64 failed); WeChat's AppSecret and access tokens reached
DEBUG logs inside URLs."""

from __future__ import annotations

import json
import logging
import pathlib
import subprocess
import sys
from typing import Dict, Iterator, List, Set

import pytest
import requests

from bot import run
from bot.devtools import free_port
from bot.run import Stack
from bot.settings import repo_root
from tests.channels.fake_wechat_api import FakeWeChatApi

# the secrets `make run` generates when they are unset
GENERATED = ("RASA_TOKEN", "FRONTLINE_ACTION_TOKEN", "FRONTLINE_DESK_SECRET")
SECRET_NAMES = (
    "RASA_TOKEN", "FRONTLINE_ACTION_TOKEN", "FRONTLINE_DESK_SECRET", "FRONTLINE_IDENTITY_SECRET", "WECHAT_TOKEN",
    "WECHAT_ENCODING_AES_KEY", "WECHAT_APP_SECRET", "WECOM_TOKEN", "WECOM_ENCODING_AES_KEY", "WECOM_CORP_SECRET",
    "WECHAT_KF_TOKEN", "WECHAT_KF_ENCODING_AES_KEY", "WECHAT_KF_SECRET",
)


def descendants(pids: Set[int]) -> Set[int]:
    """The given processes and every process they started."""
    parents: Dict[int, int] = {}
    for stat in pathlib.Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            parents[int(stat.parent.name)] = int(fields[1])
        except (OSError, IndexError, ValueError):
            continue
    found = set(pids)
    while True:
        more = {pid for pid, parent in parents.items() if parent in found} - found
        if not more:
            return found
        found |= more


def environ_of(pid: int) -> Dict[str, str]:
    raw = pathlib.Path(f"/proc/{pid}/environ").read_bytes()
    pairs = (item.decode(errors="replace").split("=", 1) for item in raw.split(b"\0") if b"=" in item)
    return dict(pairs)


@pytest.mark.stack
def test_no_secret_on_any_command_line_of_the_stack(stack: Stack) -> None:
    """What `ps` shows every user of the machine."""
    secrets = {name: stack.env[name] for name in SECRET_NAMES if len(stack.env.get(name) or "") >= 8}
    assert {"RASA_TOKEN", "FRONTLINE_DESK_SECRET"} <= set(secrets)
    pids = descendants({process.pid for process in stack.processes.values()})
    assert len(pids) >= 3
    for pid in pids:
        try:
            cmdline = pathlib.Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        for name, value in secrets.items():
            assert value.encode() not in cmdline, f"{name} on the command line of {cmdline!r}"


@pytest.mark.stack
def test_each_process_holds_only_the_secrets_it_needs(stack: Stack) -> None:
    environ = {name: environ_of(process.pid) for name, process in stack.processes.items()}
    actions, desk, rasa = environ["actions"], environ["desk"], environ["rasa"]
    # the action server could otherwise call Rasa's HTTP API, or read the channels' keys
    for name in ("RASA_TOKEN", "WECHAT_APP_SECRET", "WECHAT_ENCODING_AES_KEY", "WECOM_CORP_SECRET",
                 "FRONTLINE_IDENTITY_SECRET"):
        assert name not in actions, name
    assert actions["FRONTLINE_ACTION_TOKEN"] == stack.env["FRONTLINE_ACTION_TOKEN"]
    assert actions["FRONTLINE_DESK_SECRET"] == stack.env["FRONTLINE_DESK_SECRET"]
    for name in ("FRONTLINE_ACTION_TOKEN", "WECHAT_APP_SECRET", "WECOM_CORP_SECRET"):
        assert name not in desk, name
    assert desk["RASA_TOKEN"] == stack.token
    assert "FRONTLINE_DESK_SECRET" not in rasa
    assert rasa["RASA_TOKEN"] == stack.token and rasa["WECHAT_APP_SECRET"] == stack.env["WECHAT_APP_SECRET"]


@pytest.mark.stack
def test_rasa_api_takes_a_token_that_looks_like_an_option(stack: Stack) -> None:
    token = stack.token
    assert token.startswith("-") and "$" in token and '"' in token and "'" in token
    ok = requests.get(f"{stack.rasa_url}/status", params={"token": token}, timeout=10)
    assert ok.status_code == 200, ok.text
    wrong = requests.get(f"{stack.rasa_url}/status", params={"token": token.strip("-")}, timeout=10)
    assert wrong.status_code == 401


@pytest.fixture()
def restore_logging() -> Iterator[None]:
    """Undo the process-wide log set-up a test makes."""
    factory = logging.getLogRecordFactory()
    access = logging.getLogger("sanic.access")
    filters = list(access.filters)
    yield
    logging.setLogRecordFactory(factory)
    access.filters = filters


class RecordedProcess:
    """Stands in for a started process: records its command line and environment, exits at once."""

    started: List["RecordedProcess"] = []

    def __init__(self, argv: List[str], env: Dict[str, str], **_: object) -> None:
        self.argv, self.env, self.pid, self.returncode = list(argv), dict(env), 0, 0
        RecordedProcess.started.append(self)

    def poll(self) -> int:
        return 0

    def wait(self, timeout: float = 0) -> int:
        return 0

    def send_signal(self, _signal: int) -> None:
        pass


# Rasa's serving function, replaced: the replay stops where the token must arrive, whole, and nothing is served.
REPLAY = """
import json, os, sys
import rasa.api
calls = []
rasa.api.run = lambda **kwargs: calls.append(kwargs)
from bot.__main__ import main
results = []
for argv, env in json.load(sys.stdin):
    os.environ.clear()
    os.environ.update(env)
    calls.clear()
    status = main(argv)
    results.append({"status": status, "token": calls[0]["auth_token"] if calls else None,
                    "interface": calls[0]["interface"] if calls else None})
print("RESULTS " + json.dumps(results))
"""


def test_twenty_starts_with_generated_tokens_beginning_with_a_dash(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`make run` generates its secrets; 20 starts where every one begins with `-` (1 in 64 did by chance).

    Each start goes as `make run` does until the processes would be spawned; then the Rasa server's own start-up
    (`python -m bot` with that command line and environment) runs until Rasa's serving function, which must get
    the token whole. (A whole Rasa start per token would take minutes; the stack fixture starts one for real with
    such a token.)
    """
    for name in GENERATED:
        monkeypatch.delenv(name, raising=False)
    model = tmp_path / "model.tar.gz"
    model.write_bytes(b"")
    replays = []
    with monkeypatch.context() as patched:
        real = run.secrets.token_urlsafe
        patched.setattr(run.secrets, "token_urlsafe", lambda n=None: "-" + real(n)[1:])
        patched.setattr(run.subprocess, "Popen", RecordedProcess)
        patched.setattr(run, "wait_http", lambda *args, **kwargs: None)
        for start in range(20):
            RecordedProcess.started.clear()
            ports = run.Ports(rasa=free_port(), actions=free_port(), desk=free_port())
            stack = run.start(root=repo_root(), var=tmp_path / f"var{start}", ports=ports, model=model)
            generated = {name: stack.env[name] for name in GENERATED if name in stack.env}
            assert "RASA_TOKEN" in generated and all(value.startswith("-") for value in generated.values())
            for process in RecordedProcess.started:
                for name, value in generated.items():
                    assert value not in " ".join(process.argv), f"{name} on the command line {process.argv}"
            rasa = next(p for p in RecordedProcess.started if "rasa" in p.argv[:4])
            assert rasa.argv[:4] == [sys.executable, "-m", "bot", "rasa"]
            replays.append([rasa.argv[3:], rasa.env])
    result = subprocess.run([sys.executable, "-c", REPLAY], input=json.dumps(replays), capture_output=True,
                            text=True, cwd=repo_root(), timeout=300)
    lines = [line for line in result.stdout.splitlines() if line.startswith("RESULTS ")]
    assert lines, result.stderr[-3000:]
    results = json.loads(lines[0][len("RESULTS "):])
    assert [r["status"] for r in results] == [0] * 20
    assert [r["token"] for r in results] == [env["RASA_TOKEN"] for _, env in replays]
    assert {r["interface"] for r in results} == {"127.0.0.1"}


def test_make_run_prints_no_secret(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture, restore_logging: None
) -> None:
    """What `make run` shows names the variable that holds the token, never the token."""
    monkeypatch.setattr(run.signal, "signal", lambda *args: None)  # the test process keeps its own Ctrl-C
    for name in ("RASA_TOKEN", "FRONTLINE_ACTION_TOKEN", "FRONTLINE_DESK_SECRET", "FRONTLINE_IDENTITY_SECRET"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("FRONTLINE_VAR", str(tmp_path))
    started: List[Stack] = []

    def fake_start(**kwargs: object) -> Stack:
        ports = run.Ports()
        stack = Stack(ports=ports, env=run.build_env(tmp_path, ports), var=tmp_path)
        stack.processes["rasa"] = RecordedProcess(["rasa"], {})  # exits at once: main() stops
        started.append(stack)
        return stack

    monkeypatch.setattr(run, "start", fake_start)
    from bot.__main__ import main

    assert main(["run"]) == 0
    printed = capsys.readouterr()
    stack = started[0]
    for name in (*GENERATED, "FRONTLINE_IDENTITY_SECRET"):
        if name in stack.env:
            assert stack.env[name] not in printed.out + printed.err, name
    assert "RASA_TOKEN" in printed.out


def test_wechat_token_fetch_logs_no_secret(restore_logging: None, caplog: pytest.LogCaptureFixture) -> None:
    """urllib3 logs every URL at DEBUG, the AppSecret and access tokens in their query strings included."""
    from bot.__main__ import main
    from bot.channels.wechat_api import WeChatApiClient

    with pytest.raises(SystemExit):
        main(["--help"])  # how every process of ours starts
    app_secret = "perimeter-app-secret-0123456789"
    caplog.set_level(logging.DEBUG)
    with FakeWeChatApi(app_id="wxperimeter", app_secret=app_secret) as api:
        client = WeChatApiClient("wxperimeter", app_secret, base_url=api.base_url, backoff_seconds=0)
        api.fail_next("token", "drop")  # a network error: its traceback carries the URL too
        client.send_text("oPerimeterFollower", "您好")
        token = api.sent[0]["token"]
    text = caplog.text
    assert "/cgi-bin/token" in text and "/cgi-bin/message/custom/send" in text  # the fetch was logged
    assert app_secret not in text
    assert f"access_token={token}" not in text and f"={token}&" not in text


def test_access_log_lines_hide_the_rasa_token(restore_logging: None) -> None:
    """sanic's access log puts the URL, `?token=` included, in a field of its own."""
    from bot.__main__ import main

    with pytest.raises(SystemExit):
        main(["--help"])  # how every process of ours starts
    record = logging.getLogger("sanic.access").makeRecord(
        "sanic.access", logging.INFO, __file__, 1, "", (), None,
        extra={"request": "GET http://127.0.0.1:5005/status?token=-the%20token%20%24HOME"},
    )
    for log_filter in logging.getLogger("sanic.access").filters:
        log_filter.filter(record)
    assert "the%20token" not in record.request and record.request.endswith("token=***")
