"""The human handoff desk: tickets, the queue, agents, the HTTP API, the broker consumer.

`bot.desk.app.create_app()` builds the sanic app; `python -m bot desk` runs it (port 5006 by default).
"""
