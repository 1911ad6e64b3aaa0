"""A desk process with shortened background timings, for the scale-out tests.

    python tests/desk/cluster_node.py PORT '{"leader_round": 0.3, "lease": 3}'

Serves the same app as `python -m bot desk` (its database, Rasa and secret from the environment), with the given
`bot.desk.app.Cadence` fields, without the broker consumer and the console pages.
"""

from __future__ import annotations

import json
import logging
import os
import sys

from bot.desk.app import Cadence, create_app


def main() -> None:
    """Serve the desk on the port in argv[1] with the cadence in argv[2]."""
    logging.basicConfig(level=os.environ.get("FRONTLINE_LOG_LEVEL", "INFO"))
    port = int(sys.argv[1])
    cadence = Cadence(**json.loads(sys.argv[2]))
    app = create_app(name="frontline_desk_node", broker=None, console=False, cadence=cadence)
    app.run(host="127.0.0.1", port=port, access_log=False, motd=False)


if __name__ == "__main__":
    main()
