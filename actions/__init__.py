"""Frontline's custom actions, one module per feature; `rasa run actions --actions actions` loads them all.

Loading the package also guards the action server's sanic against malformed request framing
(`bot/patches/sanic_framing.py`) and escapes control characters in our log lines (`bot/logsafe.py`): the action
server is the one server of ours without a set-up hook to call them from.
"""

from bot import logsafe
from bot.patches import sanic_framing

sanic_framing.install()
logsafe.install()  # one log record, one line: customer data cannot forge log lines (bot/logsafe.py)
