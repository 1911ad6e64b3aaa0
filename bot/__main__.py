"""`python -m bot <command>`: Frontline's command line.

Each command lives in its own module, which adds its arguments (`add_arguments(parser)`) and runs them
(`main(args) -> int`). Add a command by adding one entry to `COMMANDS`.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from typing import List, Optional

logger = logging.getLogger(__name__)

# command -> (module with add_arguments(parser) and main(args), help)
COMMANDS = {
    "desk": ("bot.desk.cli", "the human handoff desk: run it, add agents"),
    # trainer tools (bot/trainer/, docs/training.md)
    "lint": ("bot.trainer.lint", "check training data and replies: file:line: problem"),
    "faq": ("bot.trainer.faq_sheet", "FAQ spreadsheet: export FILE.xlsx / import FILE.xlsx"),
    "review": ("bot.trainer.review", "conversations to review: export FILE.xlsx --since DATE / import FILE.xlsx"),
    "evaluate": ("bot.trainer.evaluate", "train on 80%% of the NLU data, test on the rest, write an HTML report"),
}


def main(argv: Optional[List[str]] = None) -> int:
    """Dispatch `python -m bot <command> …`; return the exit status."""
    parser = argparse.ArgumentParser(prog="python -m bot", description="Frontline command line")
    commands = parser.add_subparsers(dest="command", required=True)
    modules = {}
    for name, (module_path, help_text) in COMMANDS.items():
        sub = commands.add_parser(name, help=help_text)
        module = importlib.import_module(module_path)
        module.add_arguments(sub)
        modules[name] = module
    args = parser.parse_args(argv)
    return int(modules[args.command].main(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
