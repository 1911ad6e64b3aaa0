"""Which secrets each process is given: only those it needs.

`make run` starts three processes from one environment; each gets that environment minus the secrets another
process holds. A process that does not hold a secret cannot leak it (its logs, a debugger, `/proc/<pid>/environ`
read by whoever gets code running there), and an action server that does not hold `RASA_TOKEN` cannot be turned
into a client of Rasa's HTTP API.

A secret not listed here reaches every process: add a new one with the processes that need it.
"""

from __future__ import annotations

import logging
from typing import Dict, FrozenSet, Mapping

logger = logging.getLogger(__name__)

RASA = "rasa"
ACTIONS = "actions"
DESK = "desk"
PROCESSES = (RASA, ACTIONS, DESK)

# secret -> the processes that hold it
HOLDERS: Dict[str, FrozenSet[str]] = {
    # Rasa's HTTP API: Rasa checks it, the desk calls the API
    "RASA_TOKEN": frozenset({RASA, DESK}),
    # the action server's token: Rasa sends it, the action server checks it
    "FRONTLINE_ACTION_TOKEN": frozenset({RASA, ACTIONS}),
    # the desk's internal API: the action server opens tickets, the desk checks it
    "FRONTLINE_DESK_SECRET": frozenset({ACTIONS, DESK}),
    # signed widget identity: the channel verifies it, the demo page signs
    "FRONTLINE_IDENTITY_SECRET": frozenset({RASA, DESK}),
    # the channels (credentials.yml), read by the Rasa server only
    "FRONTLINE_REST_TOKEN": frozenset({RASA}),
    "WECHAT_TOKEN": frozenset({RASA}),
    "WECHAT_ENCODING_AES_KEY": frozenset({RASA}),
    "WECHAT_APP_SECRET": frozenset({RASA}),
    "WECOM_TOKEN": frozenset({RASA}),
    "WECOM_ENCODING_AES_KEY": frozenset({RASA}),
    "WECOM_CORP_SECRET": frozenset({RASA}),
    "WECHAT_KF_TOKEN": frozenset({RASA}),
    "WECHAT_KF_ENCODING_AES_KEY": frozenset({RASA}),
    "WECHAT_KF_SECRET": frozenset({RASA}),
    # the e-mail channel's mailbox and relay (their URLs may hold passwords)
    "FRONTLINE_IMAP_URL": frozenset({RASA}),
    "FRONTLINE_SMTP_URL": frozenset({RASA}),
    # the stores: Rasa's tracker store and broker (endpoints.prod.yml), which the desk consumes too; the desk's
    # database (its URL may hold a password)
    "FRONTLINE_PG_PASSWORD": frozenset({RASA, DESK}),
    "FRONTLINE_RABBITMQ_PASSWORD": frozenset({RASA, DESK}),
    "DATABASE_URL": frozenset({DESK}),
    # the keys that encrypt stored conversations: Rasa's tracker store and broker table, the desk's texts
    "FRONTLINE_DATA_KEYS": frozenset({RASA, DESK}),
    # signs the widget's session ids: the socket.io channel only
    "FRONTLINE_SESSION_SECRET": frozenset({RASA}),
    # Redis (its URL may hold the password): Rasa's lock store and channel state, the rate limits' counters in
    # the Rasa server and the desk (login)
    "FRONTLINE_REDIS_URL": frozenset({RASA, DESK}),
    "FRONTLINE_REDIS_PASSWORD": frozenset({RASA, DESK}),
    # GET /metrics on the Rasa server and the desk (bot/metrics_http.py): both check it, Prometheus sends it
    "FRONTLINE_METRICS_TOKEN": frozenset({RASA, DESK}),
}


def environment_for(process: str, env: Mapping[str, str]) -> Dict[str, str]:
    """The environment of one process: `env` without the secrets other processes hold.

    Args:
        process: `rasa`, `actions` or `desk`.
        env: the environment of the whole run.

    Returns:
        A new mapping.

    Raises:
        ValueError: an unknown process.
    """
    if process not in PROCESSES:
        raise ValueError(f"unknown process {process!r}: one of {', '.join(PROCESSES)}")
    return {name: value for name, value in env.items() if process in HOLDERS.get(name, PROCESSES)}


def secret_names() -> FrozenSet[str]:
    """The names of every secret listed here."""
    return frozenset(HOLDERS)
