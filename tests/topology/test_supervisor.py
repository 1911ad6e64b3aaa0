"""The supervisor on real processes: pid files, restarts after `kill -9`, the backoff, giving up, a clean stop.

The programs are small real servers (`python -m http.server`) and a program that exits at once; each test
uses its own folders and free ports.
"""

from __future__ import annotations

import logging
import os
import pathlib
import signal
import subprocess
import sys
import textwrap
import time
from typing import Callable, Iterator, List

import pytest

from bot.devtools import free_port
from bot.topology.supervisor import AlreadyRunning, Program, RestartPolicy, State, Supervisor, alive, read_pid

QUICK = RestartPolicy(first_delay=0.2, max_delay=1.0, max_failures=3, stable_seconds=30.0)


def server(name: str, cwd: pathlib.Path, port: int, prefix: str = "") -> Program:
    argv = [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"]
    if prefix:  # a shell that leaves a process behind in the session, then becomes the server
        argv = ["sh", "-c", f"{prefix} & exec {' '.join(argv)}"]
    return Program(name, argv, dict(os.environ), f"http://127.0.0.1:{port}/", cwd)


def crasher(name: str, cwd: pathlib.Path) -> Program:
    return Program(name, [sys.executable, "-c", "import sys; sys.exit(3)"], dict(os.environ),
                   f"http://127.0.0.1:{free_port()}/", cwd)


@pytest.fixture()
def make(tmp_path: pathlib.Path) -> Iterator[Callable[..., Supervisor]]:
    made: List[Supervisor] = []

    def build(*programs: Program, policy: RestartPolicy = QUICK) -> Supervisor:
        supervisor = Supervisor(programs, tmp_path / "run", tmp_path / "logs", policy)
        made.append(supervisor)
        return supervisor

    yield build
    for supervisor in made:
        supervisor.stop(timeout=5)


def poll_until(supervisor: Supervisor, condition: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        supervisor.poll()
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"not reached in {timeout} s: states {supervisor.states()}")


def session_members(session: int) -> List[int]:
    """Pids whose session id is `session` (field 6 of /proc/<pid>/stat)."""
    found = []
    for stat in pathlib.Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == session and alive(int(stat.parent.name)):
            found.append(int(stat.parent.name))
    return found


def test_pid_files_name_the_live_processes_and_a_clean_stop_removes_them(make, tmp_path: pathlib.Path) -> None:
    supervisor = make(server("web-1", tmp_path, free_port()), server("web-2", tmp_path, free_port()))
    supervisor.start()
    assert supervisor.wait_until_running(20)
    pids = {}
    for name in ("web-1", "web-2"):
        pid = read_pid(tmp_path / "run" / f"{name}.pid")
        assert pid == supervisor.pid(name) and pid is not None and alive(pid)
        assert "http.server" in pathlib.Path(f"/proc/{pid}/cmdline").read_text()
        pids[name] = pid
    supervisor.stop(timeout=5)
    assert list((tmp_path / "run").glob("*.pid")) == []
    assert not any(alive(pid) for pid in pids.values())


def test_a_process_killed_with_sigkill_is_started_again_with_its_new_pid_in_the_file(
    make, tmp_path: pathlib.Path, caplog
) -> None:
    caplog.set_level(logging.INFO, logger="bot.topology.supervisor")
    port = free_port()
    supervisor = make(server("web-1", tmp_path, port), server("web-2", tmp_path, free_port()))
    supervisor.start()
    assert supervisor.wait_until_running(20)
    old, other = supervisor.pid("web-1"), supervisor.pid("web-2")
    assert old is not None
    os.kill(old, signal.SIGKILL)
    poll_until(supervisor, lambda: supervisor.states()["web-1"] is State.RUNNING and supervisor.pid("web-1") != old)
    new = read_pid(tmp_path / "run" / "web-1.pid")
    assert new == supervisor.pid("web-1") and new != old and alive(new) and not alive(old)
    assert supervisor.pid("web-2") == other  # the other one was left alone
    assert "web-1 died (killed by SIGKILL); starting it again in 0.2 s" in caplog.text
    assert (tmp_path / "logs" / "web-1.log").read_text().count("starting web-1") == 2


def test_a_process_that_dies_in_a_loop_is_given_up_with_a_backoff_saying_so(
    make, tmp_path: pathlib.Path, caplog
) -> None:
    started = time.monotonic()
    supervisor = make(crasher("crasher", tmp_path), server("web-1", tmp_path, free_port()))
    supervisor.start()
    poll_until(supervisor, lambda: supervisor.states()["crasher"] is State.FATAL)
    elapsed = time.monotonic() - started
    item = supervisor.supervised["crasher"]
    assert item.starts == QUICK.max_failures
    assert elapsed >= QUICK.delay(1) + QUICK.delay(2)  # 0.2 s, then 0.4 s between the three starts
    assert "giving up on crasher: it died 3 times in a row without staying up 30 s (last: exit code 3)" in caplog.text
    assert not (tmp_path / "run" / "crasher.pid").exists()
    assert supervisor.given_up() == ["crasher"]
    # the others keep running
    poll_until(supervisor, lambda: supervisor.states()["web-1"] is State.RUNNING)
    assert alive(read_pid(tmp_path / "run" / "web-1.pid") or 0)


def test_backoff_doubles_up_to_its_cap() -> None:
    policy = RestartPolicy(first_delay=1.0, max_delay=30.0)
    assert [policy.delay(n) for n in range(1, 8)] == [1, 2, 4, 8, 16, 30, 30]


def test_a_process_that_stayed_up_starts_a_new_row_of_failures(make, tmp_path: pathlib.Path) -> None:
    policy = RestartPolicy(first_delay=0.1, max_delay=0.1, max_failures=2, stable_seconds=0.5)
    supervisor = make(server("web-1", tmp_path, free_port()), policy=policy)
    supervisor.start()
    for _ in range(3):  # more deaths than max_failures, each after the process had recovered
        poll_until(supervisor, lambda: supervisor.states()["web-1"] is State.RUNNING)
        time.sleep(0.6)
        supervisor.poll()
        os.kill(supervisor.pid("web-1") or 0, signal.SIGKILL)
        poll_until(supervisor, lambda: supervisor.states()["web-1"] is not State.RUNNING)
        assert supervisor.states()["web-1"] is State.BACKOFF
    poll_until(supervisor, lambda: supervisor.states()["web-1"] is State.RUNNING)
    assert supervisor.supervised["web-1"].starts == 4


def test_start_refuses_while_a_pid_file_names_a_live_process(make, tmp_path: pathlib.Path) -> None:
    (tmp_path / "run").mkdir()
    earlier = subprocess.Popen(["sleep", "30"])
    try:
        (tmp_path / "run" / "web-1.pid").write_text(f"{earlier.pid}\n")
        (tmp_path / "run" / "web-2.pid").write_text("999999999\n")  # stale: no such process
        supervisor = make(server("web-1", tmp_path, free_port()))
        with pytest.raises(AlreadyRunning, match=rf"web-1 \(pid {earlier.pid}\)"):
            supervisor.start()
        assert supervisor.pid("web-1") is None  # nothing started
        assert not (tmp_path / "run" / "web-2.pid").exists()  # the stale file is gone
    finally:
        earlier.kill()
        earlier.wait()
    supervisor.start()  # the earlier process gone, it starts
    assert supervisor.wait_until_running(20)


def test_stop_ends_what_a_process_left_in_its_session_even_if_it_ignores_sigterm(
    make, tmp_path: pathlib.Path
) -> None:
    supervisor = make(server("web-1", tmp_path, free_port(), prefix="( trap '' TERM; exec sleep 300 )"))
    supervisor.start()
    assert supervisor.wait_until_running(20)
    leader = supervisor.pid("web-1")
    assert leader is not None
    members = session_members(leader)
    assert len(members) == 2 and leader in members  # the server and the sleep it left behind
    supervisor.stop(timeout=5)
    assert session_members(leader) == []


def test_processes_die_with_a_launcher_killed_by_sigkill(tmp_path: pathlib.Path) -> None:
    port = free_port()
    script = textwrap.dedent(f"""
        import os, pathlib, sys, time
        from bot.topology.supervisor import Program, Supervisor
        program = Program("web-1", [sys.executable, "-m", "http.server", "{port}", "--bind", "127.0.0.1"],
                          dict(os.environ), "http://127.0.0.1:{port}/", pathlib.Path({str(tmp_path)!r}))
        supervisor = Supervisor([program], pathlib.Path({str(tmp_path / 'run')!r}), pathlib.Path({str(tmp_path / 'logs')!r}))
        supervisor.start()
        assert supervisor.wait_until_running(20)
        print("up", flush=True)
        time.sleep(300)
    """)
    launcher = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                                cwd=pathlib.Path(__file__).resolve().parents[2])
    try:
        assert launcher.stdout is not None and launcher.stdout.readline().strip() == "up"
        child = read_pid(tmp_path / "run" / "web-1.pid")
        assert child is not None and alive(child)
        launcher.kill()
        launcher.wait()
        deadline = time.monotonic() + 10
        while alive(child) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not alive(child)
    finally:
        launcher.kill()
        launcher.wait()
        child = read_pid(tmp_path / "run" / "web-1.pid")
        if child is not None and alive(child):  # the test failed: do not leave the server behind
            os.kill(child, signal.SIGKILL)
