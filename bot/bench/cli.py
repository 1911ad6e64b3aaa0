"""`python -m bot bench <tool> …`: each tool prints progress on stderr and one JSON object as its last line.

Each tool parses its own options (`python -m bot bench nlu --help`); `python -m bot.bench <tool> …`, the older
form, still works.
"""

from __future__ import annotations

import argparse
import importlib
import logging

logger = logging.getLogger(__name__)

# tool -> (module with main(argv) -> int, help)
TOOLS = {
    "assistant": ("bot.bench.assistant", "REST latency and throughput of the assistant"),
    "nlu": ("bot.bench.nlu", "the NLU pipeline trained and tested on TSV files"),
    "anger": ("bot.bench.anger", "the anger detector on a labelled TSV file"),
    "key_facts": ("bot.bench.key_facts", "precision, recall and time per message of the key-fact extractor"),
    "desk": ("bot.bench.desk_load", "the desk at scale: handoffs, replies, consoles on SSE, 1 and 2 desks (production)"),
    "intake": ("bot.bench.intake", "the desk's CPU per handoff with many tickets queued (POST /internal/tickets' work)"),
    "forecast": ("bot.bench.forecast", "the forecast's backtest error (WAPE per hour) on simulated history"),
    "replicas": ("bot.bench.replicas", "FAQ turns/s through HAProxy with 1 and 2 Rasa replicas (production)"),
    "all": ("bot.bench.suite", "assistant, forecast, key_facts, nlu and anger on the data at hand (make bench)"),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `python -m bot bench`: the tool, then the tool's own options."""
    parser.description = "Benchmarks; each prints one JSON object as its last line. Options: TOOL --help."
    tools = parser.add_subparsers(dest="tool", required=True, metavar="TOOL")
    for name, (_, help_text) in TOOLS.items():
        # The tool reads its own options, --help included: this parser takes every argument as they come.
        tool = tools.add_parser(name, help=help_text, add_help=False, prefix_chars="\0")
        tool.add_argument("tool_args", nargs=argparse.REMAINDER)


def main(args: argparse.Namespace) -> int:
    """Run the chosen tool with its own arguments; return its exit status."""
    module = importlib.import_module(TOOLS[args.tool][0])
    return int(module.main(args.tool_args) or 0)
