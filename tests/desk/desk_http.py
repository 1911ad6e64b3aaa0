"""A desk app served over real HTTP inside the test's event loop (its listeners run: the store, the background
work, the leader's rounds): `bot.desk.inprocess.serve`, which `python -m bot desk simulate` uses too."""

from __future__ import annotations

from sanic import Sanic

from bot.desk.inprocess import serve

Sanic.test_mode = True  # sanic rewrites its HTTP class once per start; test mode lets it start again

__all__ = ["serve"]
