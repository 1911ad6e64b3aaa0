"""A real desk process (`python -m bot desk`) and a headless Chromium to drive its pages, for the tests that need
them in `tests/desk`, `tests/handoff` and `tests/security` (importable as `desk_harness`: the suite's root
conftest puts `tests/` on the import path).

- `desk_env`: the environment of a desk on its own SQLite database in a folder, on a free port.
- `desk_cli`: `python -m bot desk <command>` (add-agent, simulate, …) with that environment.
- `desk_process`: the desk served with that environment until the block ends; yields its URL once `/health`
  answers.
- `require_chromium`, `chromium`, `sign_in`, `open_console`: the Debian Chromium, launched headless, and the sign-in form.
"""

from __future__ import annotations

import contextlib
import os
import pathlib
import subprocess
import sys
import time
from typing import Any, Dict, Iterator

import pytest
import requests

from bot.devtools import free_port
from bot.settings import repo_root

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ("--headless", "--no-sandbox", "--disable-gpu")


def desk_env(folder: pathlib.Path, **changes: str) -> Dict[str, str]:
    """This process's environment for a desk on `folder/desk.db` (its `var` in `folder/var`) on a free port, with
    no event broker, a Rasa URL where nothing answers and the real clock; `changes` add or replace variables."""
    env = {**os.environ, "FRONTLINE_DESK_PORT": str(free_port()), "DATABASE_URL": f"sqlite:///{folder / 'desk.db'}",
           "FRONTLINE_BROKER": "none", "FRONTLINE_VAR": str(folder / "var"),
           "FRONTLINE_RASA_URL": f"http://127.0.0.1:{free_port()}", "FRONTLINE_LOG_LEVEL": "WARNING"}
    env.pop("FRONTLINE_NOW", None)
    env.update(changes)
    return env


def desk_cli(env: Dict[str, str], *argv: str, timeout: float = 60) -> str:
    """Run `python -m bot desk <argv>` with `env`; fail the test unless it succeeds; return what it printed."""
    done = subprocess.run([sys.executable, "-m", "bot", "desk", *argv], env=env, cwd=repo_root(),
                          capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stderr
    return done.stdout


@contextlib.contextmanager
def desk_process(env: Dict[str, str], log: pathlib.Path, seconds: float = 60) -> Iterator[str]:
    """Serve `python -m bot desk` with `env` (its port is `FRONTLINE_DESK_PORT`), its output in `log`; yield its
    URL once `/health` answers 200 (fail the test with the log's end if it exits or `seconds` pass first); stop
    it when the block ends (SIGTERM, SIGKILL after 10 s)."""
    with open(log, "wb") as out:  # the process keeps its own copy of the file
        process = subprocess.Popen([sys.executable, "-m", "bot", "desk"], env=env, cwd=repo_root(), stdout=out,
                                   stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{env['FRONTLINE_DESK_PORT']}"
    try:
        deadline = time.monotonic() + seconds
        while True:
            try:
                if requests.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail("the desk did not start:\n" + log.read_text(errors="replace")[-3000:])
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def require_chromium() -> None:
    """Skip the test where the Debian Chromium is not installed (call it before starting anything costly)."""
    if not os.path.exists(CHROMIUM):
        pytest.skip("Debian chromium is not installed (apt-get install -y chromium)")


@contextlib.contextmanager
def chromium(*extra_args: str) -> Iterator[Any]:
    """The Debian Chromium, headless, as a playwright `Browser` (skips the test where it is not installed)."""
    require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=[*CHROMIUM_ARGS, *extra_args])
        try:
            yield browser
        finally:
            browser.close()


def sign_in(page: Any, name: str, password: str) -> None:
    """Fill in and submit the sign-in form of the desk page open (the console, the dashboard, the follow-ups)."""
    page.fill("#login-name", name)
    page.fill("#login-password", password)
    page.click("[data-testid=login-submit]")


def open_console(page: Any, url: str, name: str, password: str, timeout: float) -> None:
    """Open the console of the desk at `url`, sign in, and wait (`timeout` ms) until its event stream is live."""
    page.goto(f"{url}/console")
    sign_in(page, name, password)
    page.wait_for_selector("[data-testid=live][data-state=live]", timeout=timeout)


def agent_token(url: str, name: str, password: str) -> str:
    """An API token of an agent `add-agent` just created (it prints a one-time password, never a token): sign in,
    change the one-time password (to the same words), then ask for a token as the agent's scripts do
    (`POST /api/me/api-tokens`)."""
    session = requests.post(f"{url}/api/login", json={"name": name, "password": password}, timeout=30)
    assert session.status_code == 200, session.text
    headers = {"Authorization": f"Bearer {session.json()['token']}"}
    changed = requests.post(f"{url}/api/me/password", json={"old_password": password, "password": password},
                            headers=headers, timeout=30)
    assert changed.status_code == 204, changed.text
    issued = requests.post(f"{url}/api/me/api-tokens", headers=headers, timeout=30)
    assert issued.status_code == 201, issued.text
    return issued.json()["token"]


def stack_agent(stack: Any, name: str, skills: str) -> Dict[str, str]:
    """An agent added to a running stack's desk with `python -m bot desk add-agent`, with an API token of its
    own (`agent_token`): `name`, `password`, `token`."""
    result = subprocess.run(
        [sys.executable, "-m", "bot", "desk", "add-agent", name, "--skills", skills], env=stack.env,
        cwd=repo_root(), capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    agent = dict(line.split(": ", 1) for line in result.stdout.splitlines())
    agent["token"] = agent_token(stack.desk_url, name, agent["password"])  # add-agent prints no token
    return agent
