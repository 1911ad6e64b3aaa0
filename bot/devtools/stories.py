"""`python -m bot test-stories` (`make test-stories`): Rasa's end-to-end test stories against a real action server.

The stories are `tests/test_*.yml`. The clock is pinned per file: a first line
`# FRONTLINE_NOW: 2025-11-30T20:00:00+08:00` pins that file's moment; files without one run on a weekday
morning, so that results never depend on when the tests run.
"""

from __future__ import annotations

import argparse
import collections
import logging
import os
import pathlib
import subprocess
import sys
import tempfile
from typing import Dict, List, Optional

from bot.devtools import MODEL_NAME, free_port
from bot.run import Ports, actions_command, build_env, process_env, venv_bin, wait_http, write_endpoints
from bot.servers import process_secrets
from bot.settings import repo_root

logger = logging.getLogger(__name__)

DEFAULT_NOW = "2025-12-01T10:00:00+08:00"  # a Monday morning, inside business hours
NOW_HEADER = "# FRONTLINE_NOW:"


def story_files_by_moment(tests: pathlib.Path) -> Dict[str, List[pathlib.Path]]:
    """Group the test story files by the moment their header pins (DEFAULT_NOW when none)."""
    groups: Dict[str, List[pathlib.Path]] = collections.defaultdict(list)
    for path in sorted(tests.glob("test_*.yml")):
        first = path.read_text(encoding="utf-8").splitlines()[:1]
        moment = DEFAULT_NOW
        if first and first[0].startswith(NOW_HEADER):
            moment = first[0][len(NOW_HEADER) :].strip()
        groups[moment].append(path)
    return groups


def test_stories(root: pathlib.Path, model: Optional[pathlib.Path] = None) -> int:
    """Run every test story file against a real action server; any prediction error fails."""
    model = model or root / "models" / f"{MODEL_NAME}.tar.gz"
    groups = story_files_by_moment(root / "tests")
    if not groups:
        print("error: no test stories (tests/test_*.yml)", file=sys.stderr)
        return 1
    failed = 0
    for moment, files in groups.items():
        with tempfile.TemporaryDirectory(prefix="frontline-stories-") as tmp:
            var = pathlib.Path(tmp)
            ports = Ports(rasa=free_port(), actions=free_port(), desk=free_port())
            env = build_env(var, ports, {"FRONTLINE_NOW": moment})
            endpoints = write_endpoints(root, var, ports, environ=env)
            actions = subprocess.Popen(
                actions_command(ports.actions),
                cwd=root,
                env=process_env(env, process_secrets.ACTIONS),
                stdout=open(var / "actions.log", "wb"),
                stderr=subprocess.STDOUT,
            )
            try:
                wait_http(f"http://127.0.0.1:{ports.actions}/health", actions, "action server", 120)
                stories = var / "stories"
                stories.mkdir()
                for path in files:
                    (stories / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
                names = ", ".join(p.name for p in files)
                print(f"Test stories at {moment}: {names}", flush=True)
                result = subprocess.run(
                    [
                        venv_bin("rasa"),
                        "test",
                        "core",
                        "--model",
                        str(model),
                        "--stories",
                        str(stories),
                        "--endpoints",
                        str(endpoints),
                        "--fail-on-prediction-errors",
                        "--out",
                        str(root / "var" / "results" / moment.replace(":", "")),
                    ],
                    cwd=root,
                    env=process_env(env, process_secrets.RASA),  # `rasa test` plays the Rasa server
                )
                if result.returncode != 0:
                    failed += 1
                    print(f"FAILED: test stories at {moment} (see var/results/)", flush=True)
            finally:
                actions.terminate()
                actions.wait(15)
    return 1 if failed else 0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `python -m bot test-stories`."""
    parser.description = "Run the test stories tests/test_*.yml end to end; any prediction error fails."
    parser.add_argument("--model", type=pathlib.Path, help="trained model (default: models/frontline.tar.gz)")


def main(args: argparse.Namespace) -> int:
    """`python -m bot test-stories`; return the exit status."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    return test_stories(repo_root(), args.model)
