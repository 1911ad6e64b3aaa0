"""Start processes, restart one that dies, give up on one that dies in a loop, and keep pid files true.

What systemd (`Restart=on-failure`, `StartLimitBurst`) or Kubernetes (a Deployment's restart back-off) would do,
for the one-machine production layout:

- each process runs in its own session (a Ctrl-C in the terminal reaches the launcher, which stops them in
  order), dies with the launcher on Linux (`PR_SET_PDEATHSIG`), and writes to `<log_dir>/<name>.log`;
- `<run_dir>/<name>.pid` holds the pid of the process running now; it is written at each start and removed
  when the process stops, dies or is given up;
- a process that dies is started again after a backoff (1 s, then doubled, at most 30 s); one that dies
  `max_failures` times in a row without having answered its health check for `stable_seconds` is given up on,
  with an error saying so; the others keep running.

Hand-written because the processes' health checks, pid-file names and environment are this project's; a
process manager (supervisord, circus) would be one more daemon to configure and install for the same 200 lines.
"""

from __future__ import annotations

import ctypes
import dataclasses
import enum
import logging
import os
import pathlib
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from typing import Callable, Dict, Iterable, List, Mapping, Optional

logger = logging.getLogger(__name__)

PR_SET_PDEATHSIG = 1
GROUP_GONE_SECONDS = 5.0  # how long stop() waits for what SIGKILL hit to be gone


class State(enum.Enum):
    """Where a supervised process is in its life."""

    STARTING = "starting"  # started, not yet answering its health check
    RUNNING = "running"  # answered its health check
    BACKOFF = "backoff"  # died; started again at `restart_at`
    FATAL = "fatal"  # died in a loop; given up
    STOPPED = "stopped"


@dataclasses.dataclass(frozen=True)
class Program:
    """One process to keep running.

    Args:
        name: its name (`rasa-1`): pid file, log file.
        argv: its command line.
        env: its whole environment.
        health_url: answers (any status below 500, or 503) while it is alive.
        cwd: its working folder.
    """

    name: str
    argv: List[str]
    env: Mapping[str, str]
    health_url: str
    cwd: pathlib.Path


@dataclasses.dataclass(frozen=True)
class RestartPolicy:
    """How soon a dead process is started again, and when to give up on it.

    Args:
        first_delay: seconds before the first restart; doubled for each death in a row.
        max_delay: the longest wait between restarts.
        max_failures: deaths in a row after which the process is given up on.
        stable_seconds: a process that answered its health check and ran this long has recovered: its next
            death is the first of a new row.
    """

    first_delay: float = 1.0
    max_delay: float = 30.0
    max_failures: int = 5
    stable_seconds: float = 30.0

    def delay(self, failures: int) -> float:
        """Seconds to wait before starting again after `failures` deaths in a row."""
        return min(self.first_delay * 2 ** max(0, failures - 1), self.max_delay)


@dataclasses.dataclass
class Supervised:
    """A program and the state of its current process."""

    program: Program
    state: State = State.STOPPED
    process: Optional[subprocess.Popen] = None
    failures: int = 0
    starts: int = 0
    started_at: float = 0.0
    healthy_at: Optional[float] = None
    restart_at: float = 0.0


class AlreadyRunning(RuntimeError):
    """A pid file names a live process: an earlier launcher's processes still run."""


def alive(pid: int) -> bool:
    """Whether a process with this pid exists and is not a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        status = pathlib.Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return True  # no /proc (not Linux): os.kill said it exists
    return "\nState:\tZ" not in status


def read_pid(path: pathlib.Path) -> Optional[int]:
    """The pid in a pid file, or None when the file is missing or unreadable."""
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def live_pid_files(run_dir: pathlib.Path) -> Dict[str, int]:
    """Pid files in `run_dir` that name a live process (name → pid); stale ones are removed."""
    found: Dict[str, int] = {}
    for path in sorted(run_dir.glob("*.pid")):
        pid = read_pid(path)
        if pid is not None and alive(pid):
            found[path.stem] = pid
        else:
            path.unlink(missing_ok=True)
    return found


def _describe_exit(code: int) -> str:
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


def _die_with_parent() -> None:  # runs in the child between fork and exec
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return response.status < 500
    except urllib.error.HTTPError as error:
        return error.code == 503  # alive, saying a service it needs is unreachable
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
        return False


class Supervisor:
    """Keeps a set of programs running; call `poll()` regularly (the launcher does, twice a second).

    Args:
        programs: what to run, started in this order.
        run_dir: where the pid files go (`$FRONTLINE_VAR/run`).
        log_dir: where each process's output goes (`<name>.log`, appended).
        policy: restart backoff and when to give up.
        clock: monotonic seconds (tests may pass their own).
    """

    def __init__(
        self,
        programs: Iterable[Program],
        run_dir: pathlib.Path,
        log_dir: pathlib.Path,
        policy: RestartPolicy = RestartPolicy(),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.supervised: Dict[str, Supervised] = {p.name: Supervised(p) for p in programs}
        self.run_dir = run_dir
        self.log_dir = log_dir
        self.policy = policy
        self.clock = clock

    def start(self) -> None:
        """Start every program.

        Raises:
            AlreadyRunning: a pid file in `run_dir` names a live process (nothing was started).
        """
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        running = live_pid_files(self.run_dir)
        if running:
            listed = ", ".join(f"{name} (pid {pid})" for name, pid in running.items())
            raise AlreadyRunning(
                f"still running from an earlier start: {listed}; stop it first (pid files in {self.run_dir})"
            )
        for item in self.supervised.values():
            self._spawn(item)

    def pid_file(self, name: str) -> pathlib.Path:
        """The pid file of a program."""
        return self.run_dir / f"{name}.pid"

    def _spawn(self, item: Supervised) -> None:
        program = item.program
        with open(self.log_dir / f"{program.name}.log", "ab") as log:
            log.write(f"--- {time.strftime('%Y-%m-%d %H:%M:%S')} starting {program.name}\n".encode())
            log.flush()
            item.process = subprocess.Popen(
                program.argv,
                cwd=program.cwd,
                env=dict(program.env),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        item.state = State.STARTING
        item.starts += 1
        item.started_at = self.clock()
        item.healthy_at = None
        path = self.pid_file(program.name)
        temporary = path.with_suffix(".pid.tmp")
        temporary.write_text(f"{item.process.pid}\n")
        os.replace(temporary, path)
        if item.starts > 1:
            logger.info(f"{program.name} started again (pid {item.process.pid})")

    def poll(self) -> None:
        """One round: notice deaths, start again what is due, and check the health of starting processes."""
        now = self.clock()
        for item in self.supervised.values():
            if item.state in (State.STARTING, State.RUNNING) and item.process is not None:
                code = item.process.poll()
                if code is not None:
                    self._died(item, code, now)
                    continue
            if item.state is State.BACKOFF and now >= item.restart_at:
                self._spawn(item)
            elif item.state is State.STARTING and _answers(item.program.health_url):
                item.state = State.RUNNING
                item.healthy_at = self.clock()
                if item.starts > 1:
                    logger.info(f"{item.program.name} is back (pid {self.pid(item.program.name)})")

    def _died(self, item: Supervised, code: int, now: float) -> None:
        name = item.program.name
        assert item.process is not None
        self._kill_group(item.process.pid)  # anything it left behind in its session
        self.pid_file(name).unlink(missing_ok=True)
        recovered = item.healthy_at is not None and now - item.healthy_at >= self.policy.stable_seconds
        item.failures = 1 if recovered else item.failures + 1
        how = _describe_exit(code)
        log_file = self.log_dir / f"{name}.log"
        if item.failures >= self.policy.max_failures:
            item.state = State.FATAL
            logger.error(
                f"giving up on {name}: it died {item.failures} times in a row without staying up "
                f"{self.policy.stable_seconds:.0f} s (last: {how}); see {log_file}"
            )
            return
        delay = self.policy.delay(item.failures)
        item.state = State.BACKOFF
        item.restart_at = now + delay
        logger.warning(f"{name} died ({how}); starting it again in {delay:g} s (see {log_file})")

    def pid(self, name: str) -> Optional[int]:
        """The pid of a program's current process, or None when it is not running."""
        item = self.supervised[name]
        if item.process is None or item.state not in (State.STARTING, State.RUNNING):
            return None
        return item.process.pid

    def states(self) -> Dict[str, State]:
        """Each program's state."""
        return {name: item.state for name, item in self.supervised.items()}

    def given_up(self) -> List[str]:
        """The programs given up on."""
        return [name for name, item in self.supervised.items() if item.state is State.FATAL]

    def wait_until_running(self, timeout: float, interrupted: Callable[[], bool] = lambda: False) -> bool:
        """Poll until every program answers its health check; False on timeout, interruption or a give-up."""
        deadline = self.clock() + timeout
        while self.clock() < deadline and not interrupted():
            self.poll()
            states = self.states()
            if all(state is State.RUNNING for state in states.values()):
                return True
            if State.FATAL in states.values():
                return False
            time.sleep(0.3)
        return False

    @staticmethod
    def _kill_group(pgid: int, sig: int = signal.SIGKILL) -> None:
        try:
            os.killpg(pgid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    @staticmethod
    def _wait_group_gone(pgid: int, seconds: float) -> None:
        """Wait until no process of the group is left (at most `seconds`; a zombie its new parent has not reaped
        yet still counts, and is harmless)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                os.killpg(pgid, 0)
            except (ProcessLookupError, PermissionError):
                return
            time.sleep(0.02)

    def stop(self, timeout: float = 15.0) -> None:
        """Stop every process (SIGTERM to its session, SIGKILL after `timeout` s) and remove the pid files."""
        running = [item for item in self.supervised.values() if item.process is not None and item.process.poll() is None]
        for item in running:
            assert item.process is not None
            self._kill_group(item.process.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for item in running:
            assert item.process is not None
            try:
                item.process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                logger.warning(f"{item.program.name} did not stop in {timeout:.0f} s; killing it")
        for item in running:  # only these: a session of a process reaped earlier was killed when it died
            assert item.process is not None
            self._kill_group(item.process.pid)  # stragglers, and whatever the process left in its session
            item.process.wait()
        for item in running:  # SIGKILL is delivered, not yet acted on: a port or a file may still be held
            assert item.process is not None
            self._wait_group_gone(item.process.pid, GROUP_GONE_SECONDS)
        for item in self.supervised.values():
            item.state = State.STOPPED
            self.pid_file(item.program.name).unlink(missing_ok=True)
