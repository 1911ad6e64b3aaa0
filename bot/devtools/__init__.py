"""Developer commands: `python -m bot train` (`make train`) and `python -m bot test-stories` (`make test-stories`).

- `train.py`: trains the assistant into `models/frontline.tar.gz` and records how long it took
  (`var/train_seconds.json`, read by `make bench`).
- `stories.py`: runs Rasa's end-to-end test stories (`tests/test_*.yml`) against a real action server, with
  the clock pinned per file.

`python -m bot.devtools train|test-stories`, the older form, still works.
"""

from __future__ import annotations

import logging
import socket

logger = logging.getLogger(__name__)

MODEL_NAME = "frontline"


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
