"""`python -m bot.bench <tool> …`: the older form of `python -m bot bench <tool> …` (`bot/bench/cli.py`)."""

import sys

from bot.__main__ import main

if __name__ == "__main__":
    sys.exit(main(["bench", *sys.argv[1:]]))
