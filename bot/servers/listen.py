"""Where each server listens: loopback unless told otherwise.

sanic and rasa_sdk bind every interface (`0.0.0.0`) by default; Frontline binds 127.0.0.1:

- `FRONTLINE_LISTEN_HOST`: the one interface of the servers customers and agents reach, the Rasa server
  (channels, webhooks, its HTTP API) and the desk (console, dashboard, API). Set it (`0.0.0.0`, or one
  address) only when they must be reached from another machine, typically a reverse proxy;
- `FRONTLINE_ACTIONS_HOST`: the action server's, loopback whatever `FRONTLINE_LISTEN_HOST` says: only the Rasa
  server calls it. Set it only when the action server runs on another machine than Rasa.
"""

from __future__ import annotations

import ipaddress
import logging
import os
from typing import Mapping, Optional

logger = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
LISTEN_HOST_ENV = "FRONTLINE_LISTEN_HOST"
ACTIONS_HOST_ENV = "FRONTLINE_ACTIONS_HOST"
# Binding these means every interface; a process on the same machine reaches the server on loopback.
_ANY = {"0.0.0.0": "127.0.0.1", "::": "::1", "": LOOPBACK}


def _host(name: str, environ: Optional[Mapping[str, str]]) -> str:
    env = os.environ if environ is None else environ
    return (env.get(name) or "").strip() or LOOPBACK


def listen_host(environ: Optional[Mapping[str, str]] = None) -> str:
    """The interface of the Rasa server and the desk: `FRONTLINE_LISTEN_HOST`, else 127.0.0.1."""
    return _host(LISTEN_HOST_ENV, environ)


def actions_host(environ: Optional[Mapping[str, str]] = None) -> str:
    """The interface of the action server: `FRONTLINE_ACTIONS_HOST`, else 127.0.0.1."""
    return _host(ACTIONS_HOST_ENV, environ)


def connect_host(host: str) -> str:
    """The address a process on this machine uses to reach a server bound to `host`, ready for a URL.

    Args:
        host: the interface the server binds.

    Returns:
        Loopback for the wildcard addresses, the address itself otherwise; IPv6 addresses in brackets.
    """
    address = _ANY.get(host.strip(), host.strip())
    try:
        if ipaddress.ip_address(address).version == 6:
            return f"[{address}]"
    except ValueError:  # a host name
        pass
    return address
