"""`python -m bot <command>`: Frontline's command line.

Each command lives in its own module, which adds its arguments (`add_arguments(parser)`) and runs them
(`main(args) -> int`). Add a command by adding one entry to `COMMANDS`; `python -m bot --help` lists them.
The older forms `python -m bot.run`, `python -m bot.devtools train|test-stories` and `python -m bot.bench …`
still work: they call this.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from typing import List, Optional

from bot import log_redaction, logsafe

logger = logging.getLogger(__name__)

# command -> (module with add_arguments(parser) and main(args), help)
COMMANDS = {
    # running and developing (the Makefile calls these)
    "run": ("bot.run", "start Rasa, the actions and the desk here (make run)"),
    "train": ("bot.devtools.train", "train models/frontline.tar.gz (make train)"),
    "test-stories": ("bot.devtools.stories", "run tests/test_*.yml end to end (make test-stories)"),
    "bench": ("bot.bench.cli", "benchmarks: assistant | nlu | anger | all (make bench)"),
    "desk": ("bot.desk.cli", "the human handoff desk: run it, add agents"),
    "report": ("bot.desk.report_sheet", "the service figures of a period as a spreadsheet: --from D --to D --out F.xlsx"),
    "backup": ("bot.backup.backup_cli", "back up the desk and the tracker store: --out DIR"),
    "restore": ("bot.backup.restore_cli", "restore a backup into fresh databases: --from DIR"),
    # planning (docs/kpis.md, "Forecast and staffing")
    "staffing": ("bot.staffing.cli", "agents needed by Erlang C: --volume --interval --aht --target-seconds …"),
    # data kept at rest (docs/security/data.md)
    "purge": ("bot.retention", "apply the retention policy (settings.yml: retention), e.g. daily from cron"),
    "rekey": ("bot.rekey", "re-encrypt stored conversations under the first key of FRONTLINE_DATA_KEYS"),
    "rasa": ("bot.servers.rasa_server", "serve the Rasa server alone (make run starts it; token: RASA_TOKEN)"),
    "actions": ("bot.servers.action_server", "serve the actions alone (make run starts it; FRONTLINE_ACTION_TOKEN)"),
    # trainer tools (bot/trainer/, docs/training.md)
    "lint": ("bot.trainer.lint", "check training data and replies: file:line: problem"),
    "faq": ("bot.trainer.faq_sheet", "FAQ spreadsheet: export | import FILE.xlsx"),
    "review": ("bot.trainer.review", "conversations to label: export | import FILE.xlsx"),
    "evaluate": ("bot.trainer.evaluate", "the NLU on the project's own data: HTML report (make evaluate)"),
}


def main(argv: Optional[List[str]] = None) -> int:
    """Dispatch `python -m bot <command> …`; return the exit status."""
    log_redaction.install()  # every process of ours starts here: no secret in any of its log lines
    logsafe.install()  # and one log record is one line: customer data cannot forge log lines
    width = max(len(name) for name in COMMANDS) + 2
    listing = "\n".join(f"  {name:<{width}}{help_text}" for name, (_, help_text) in COMMANDS.items())
    parser = argparse.ArgumentParser(
        prog="python -m bot",
        description="Frontline command line. `python -m bot COMMAND --help` gives a command's options.",
        epilog=f"commands:\n{listing}",  # one line each (argparse's own list wraps the longer names)
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", help="one of the commands below")
    modules = {}
    for name, (module_path, help_text) in COMMANDS.items():
        sub = commands.add_parser(name, description=help_text)
        module = importlib.import_module(module_path)
        module.add_arguments(sub)
        modules[name] = module
    args = parser.parse_args(argv)
    return int(modules[args.command].main(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
