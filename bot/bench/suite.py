"""`make bench`: every benchmark on the data at hand, printed as one JSON object.

- `assistant`: REST latency and throughput, parse latency, training time (always).
- `forecast`: the forecast's backtest error (WAPE per hour) on simulated history (always; `bot.bench.forecast`).
- `key_facts`: precision and recall per kind of the key-fact extractor on the labelled sets in
  `data/eval/key_facts/`, and its time per message (always).
- `nlu` and `anger`: on the development data in `../shared/datasets/` when that folder is present; otherwise
  they are skipped with a clear message (the data is evaluation data and is never copied into the repo).
"""

from __future__ import annotations

import json
import logging
import os
import pathlib
import subprocess
import sys
from typing import Any, Dict, List, Optional

from bot.settings import repo_root

logger = logging.getLogger(__name__)


def datasets_dir() -> pathlib.Path:
    """Where the public evaluation data lives: `FRONTLINE_DATASETS` or `../shared/datasets`."""
    return pathlib.Path(os.environ.get("FRONTLINE_DATASETS") or repo_root().parent / "shared" / "datasets")


def runs(data: pathlib.Path) -> Dict[str, List[str]]:
    """The benchmark runs: name -> arguments of `python -m bot bench`."""
    plan: Dict[str, List[str]] = {"assistant": ["assistant"], "forecast": ["forecast"], "key_facts": ["key_facts"]}
    if not data.is_dir():
        return plan
    plan.update(
        {
            "nlu_dialogflow_zh": ["nlu", "--train", str(data / "dialogflow_support_zh/train.tsv"), "--folds", "5"],
            "nlu_dialogflow_en": ["nlu", "--train", str(data / "dialogflow_support_en/train.tsv"), "--folds", "5"],
            # BANKING77 has only its train split here: hold out the 20% whose md5 bucket is lowest.
            "nlu_banking77": ["nlu", "--train", str(data / "banking77/train.tsv"), "--holdout", "0.2"],
            # CLINC150 "full" with out-of-scope examples in training; a fallback also counts as out of scope.
            "nlu_clinc150": [
                "nlu",
                "--train", f"{data / 'clinc150/train.tsv'},{data / 'clinc150/oos_train.tsv'}",
                "--test", f"{data / 'clinc150/dev.tsv'},{data / 'clinc150/oos_dev.tsv'}",
                "--oos-label", "oos",
            ],
            "anger_shipped_emotion_en": ["anger", "--test", str(data / "emotion_en/dev.tsv"), "--positive", "anger"],
            "anger_shipped_ewect_zh": ["anger", "--test", str(data / "ewect_virus_zh/dev.tsv"), "--positive", "angry"],
            # Calm questions to a support bot (none is angry): every one flagged would be handed to a human.
            "anger_shipped_calm_chat_zh_false_alarms": [
                "anger", "--test", str(data / "dialogflow_support_zh/train.tsv"), "--positive", "angry"
            ],
            "anger_shipped_calm_chat_en_false_alarms": [
                "anger", "--test", str(data / "dialogflow_support_en/train.tsv"), "--positive", "anger"
            ],
            "anger_shipped_waimai_false_alarms": [
                "anger", "--test", str(data / "waimai10k_zh/train.tsv"), "--only", "negative", "--positive", "angry"
            ],
        }
    )
    return plan


def last_json(output: str) -> Optional[Dict[str, Any]]:
    """The JSON object on the last non-empty line of a tool's output."""
    lines = [line for line in output.splitlines() if line.strip()]
    try:
        value = json.loads(lines[-1]) if lines else None
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


def main(argv: Optional[List[str]] = None) -> int:
    """Run every benchmark and print one JSON object."""
    data = datasets_dir()
    if not data.is_dir():
        print(f"note: {data} is absent: skipping the NLU and anger benchmarks on public data", file=sys.stderr)
    results: Dict[str, Any] = {}
    failed = False
    for name, args in runs(data).items():
        print(f"== {name}: python -m bot bench {' '.join(args)}", file=sys.stderr, flush=True)
        process = subprocess.run(
            [sys.executable, "-m", "bot", "bench", *args], stdout=subprocess.PIPE, text=True, cwd=repo_root()
        )
        figures = last_json(process.stdout)
        if process.returncode != 0 or figures is None:
            failed = True
            results[name] = {"error": f"exit code {process.returncode}"}
        else:
            results[name] = figures
    print(json.dumps(results, ensure_ascii=False))
    return 1 if failed else 0
