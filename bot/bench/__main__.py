"""`python -m bot.bench <tool> …`: each tool prints progress on stderr and one JSON object as its last line."""

from __future__ import annotations

import importlib
import sys
from typing import List, Optional

TOOLS = {
    "assistant": "bot.bench.assistant",
    "nlu": "bot.bench.nlu",
    "anger": "bot.bench.anger",
    "all": "bot.bench.suite",
}

USAGE = """usage: python -m bot.bench {assistant,nlu,anger,all} [options]

  assistant  latency and throughput of the running assistant through the REST channel
  nlu        train the NLU pipeline on a TSV file and evaluate it on another
  anger      evaluate the anger detector on a labelled TSV file
  all        what `make bench` prints: all of the above on the data at hand

Run `python -m bot.bench TOOL --help` for a tool's options."""


def main(argv: Optional[List[str]] = None) -> int:
    """Dispatch to the tool named by the first argument."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in TOOLS:
        print(USAGE, file=sys.stderr if argv and argv[0] not in ("-h", "--help") else sys.stdout)
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    module = importlib.import_module(TOOLS[argv[0]])
    return int(module.main(argv[1:]) or 0)


if __name__ == "__main__":
    sys.exit(main())
