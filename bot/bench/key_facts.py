"""`python -m bot bench key_facts`: precision and recall per kind of the key-fact extractor, and its time per message.

    python -m bot bench key_facts [--file FILE.txt …] [--rounds N]

By default it scores the labelled sets shipped in `data/eval/key_facts/` (one per language; markup in
`bot.key_facts.evaluation`). Progress goes to stderr; the last stdout line is one JSON object:
`{<set>: {<kind>: {precision, recall, labelled, predicted}, "messages": n, "ms_per_message": t}}`, where the
time is the mean over `--rounds` passes, one message at a time, after the pipelines are built (`build_seconds`);
`component_ms_per_message`: the same through the Rasa component's `process` (what a turn pays), all sets together.
Bad input: one line on stderr, exit code 2.
"""

from __future__ import annotations

import argparse
import json
import logging
import pathlib
import sys
import time
from typing import Any, Dict, List, Optional

from bot.key_facts.evaluation import LabelError, labelled_files, milliseconds_per_message, read_labelled, score

logger = logging.getLogger(__name__)


def parser() -> argparse.ArgumentParser:
    """The tool's options."""
    tool = argparse.ArgumentParser(prog="python -m bot bench key_facts", description=__doc__.split("\n\n")[0])
    tool.add_argument("--file", type=pathlib.Path, action="append",
                      help="a labelled file (default: every data/eval/key_facts/*.txt)")
    tool.add_argument("--rounds", type=int, default=5, help="timing passes over each set (default 5)")
    return tool


def main(argv: Optional[List[str]] = None) -> int:
    """Score each labelled set and print one JSON object; return the exit status."""
    args = parser().parse_args(argv)
    files = {path.stem: path for path in args.file} if args.file else labelled_files()
    started = time.perf_counter()
    from bot.key_facts.extract import extract

    extract("订单 20250101000000")
    extract("order 20250101000000")
    results: Dict[str, Any] = {"build_seconds": round(time.perf_counter() - started, 2)}
    for name, path in files.items():
        try:
            messages = read_labelled(path)
        except (LabelError, OSError) as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        print(f"== {name}: {len(messages)} messages from {path}", file=sys.stderr, flush=True)
        figures: Dict[str, Any] = dict(score(messages).as_dict())
        figures["messages"] = len(messages)
        figures["ms_per_message"] = round(milliseconds_per_message(messages, rounds=max(1, args.rounds)), 3)
        results[name] = figures
    texts = [message.text for path in files.values() for message in read_labelled(path)]
    results["component_ms_per_message"] = round(component_milliseconds(texts, rounds=max(1, args.rounds)), 3)
    print(json.dumps(results, ensure_ascii=False))
    return 0


def component_milliseconds(texts: List[str], rounds: int) -> float:
    """Mean time of the Rasa component's `process` per message (one message at a time), as a turn pays it."""
    import tempfile

    from rasa.engine.graph import ExecutionContext, GraphSchema
    from rasa.engine.storage.local_model_storage import LocalModelStorage
    from rasa.engine.storage.resource import Resource
    from rasa.shared.nlu.training_data.message import Message

    from bot.nlu.key_facts import KeyFactExtractor

    with tempfile.TemporaryDirectory() as folder:
        component = KeyFactExtractor.create(
            {}, LocalModelStorage.create(pathlib.Path(folder)), Resource("key_facts"),
            ExecutionContext(GraphSchema({}), "bench"),
        )
        started = time.perf_counter()
        for _ in range(rounds):
            for text in texts:
                component.process([Message(data={"text": text})])
        return (time.perf_counter() - started) * 1000 / max(1, rounds * len(texts))
