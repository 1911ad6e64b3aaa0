"""Frontline's custom actions, one module per feature; `rasa run actions --actions actions` loads them all.

Loading the package also guards the action server's sanic against malformed request framing
(`bot/patches/sanic_framing.py`): the action server is the one server of ours without a set-up hook to call it
from.
"""

from bot.patches import sanic_framing

sanic_framing.install()
