"""Frontline's custom actions, one module per feature; the action server loads them all.

Serve them with `python -m bot actions` (`bot/servers/action_server.py`; `make run` starts it): rasa_sdk's app
with the action token demanded of every caller, loopback only, request bodies capped and sanic's request framing
guarded, log lines escaped (`bot/logsafe.py`) and redacted (`bot/log_redaction.py`). `rasa run actions
--actions actions` would serve them with none of that.
"""
