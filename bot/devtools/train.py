"""`python -m bot train` (`make train`): train the assistant and record how long it took."""

from __future__ import annotations

import argparse
import json
import logging
import os
import pathlib
import subprocess
import sys
import time

from bot.devtools import MODEL_NAME
from bot.run import venv_bin
from bot.settings import repo_root

logger = logging.getLogger(__name__)


def train(root: pathlib.Path) -> int:
    """Train the assistant into `models/frontline.tar.gz` and record the time taken in `var/train_seconds.json`."""
    (root / "var").mkdir(exist_ok=True)
    print("Training the assistant (NLU, anger detector, policies)…", flush=True)
    started = time.monotonic()
    result = subprocess.run(
        [venv_bin("rasa"), "train", "--fixed-model-name", MODEL_NAME, "--out", "models"], cwd=root
    )
    seconds = time.monotonic() - started
    if result.returncode != 0:
        print(f"error: training failed (exit code {result.returncode})", file=sys.stderr)
        return result.returncode
    (root / "var" / "train_seconds.json").write_text(json.dumps({"train_seconds": round(seconds, 1)}))
    print(f"Trained models/{MODEL_NAME}.tar.gz in {seconds:.1f} s", flush=True)
    return 0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `python -m bot train` (none)."""
    parser.description = "Train the assistant (NLU, anger detector, policies) into models/frontline.tar.gz."


def main(args: argparse.Namespace) -> int:
    """`python -m bot train`; return the exit status."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    return train(repo_root())
