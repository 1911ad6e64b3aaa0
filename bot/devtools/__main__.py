"""`python -m bot.devtools train|test-stories`: the older form of `python -m bot train|test-stories`."""

import sys

from bot.__main__ import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
