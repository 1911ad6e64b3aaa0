"""`GET /metrics` on the Rasa server and on the desk: Prometheus' text format, behind one token rule.

Who may scrape (`check_scrape`):

- `FRONTLINE_METRICS_TOKEN` set: only a request with `Authorization: Bearer <that token>` (compared in constant
  time); anything else gets 401. Prometheus sends it with `authorization: {credentials_file: …}`.
- unset, in production mode (`bot.settings.production_mode`): 403 with the reason: figures of a deployment are
  not for whoever reaches the port.
- unset, in development: open (the servers listen on 127.0.0.1 by default).

The figures carry no personal data: label values are channels, reason codes, skills and grades (bounded sets from
the settings and the code), never a conversation id, customer, agent name or text. Each process serves its own
registry (no multiprocess mode): Prometheus scrapes every replica on its own port and adds them up.
"""

from __future__ import annotations

import hmac
import logging
import os
import re
from typing import Any, Mapping, Optional, Tuple

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from bot.settings import production_mode

logger = logging.getLogger(__name__)

TOKEN_ENV = "FRONTLINE_METRICS_TOKEN"
PATH = "/metrics"
# A label value that is not one of these shapes is reported as "other" (no free text ever becomes a label).
_LABEL = re.compile(r"^[a-z][a-z0-9_-]{0,47}$")
OTHER = "other"


def label(value: Any) -> str:
    """A safe label value: a short lowercase code as it is, anything else `other`."""
    return value if isinstance(value, str) and _LABEL.match(value) else OTHER


def check_scrape(headers: Mapping[str, str], environ: Optional[Mapping[str, str]] = None) -> Optional[Tuple[int, str]]:
    """Whether a scrape may read the figures (see the module docstring).

    Args:
        headers: the request headers (lower-case keys, as sanic gives them).
        environ: the environment (`os.environ` when None).

    Returns:
        None when it may; otherwise (HTTP status, the reason for the answer).
    """
    env = os.environ if environ is None else environ
    token = env.get(TOKEN_ENV, "")
    if not token:
        if production_mode(env):
            return 403, f"/metrics is off in production mode until {TOKEN_ENV} is set"
        return None
    given = headers.get("authorization", "") or ""
    if not given.lower().startswith("bearer "):
        return 401, "missing 'Authorization: Bearer <FRONTLINE_METRICS_TOKEN>'"
    if not hmac.compare_digest(given[7:].strip().encode(), token.encode()):
        return 401, "wrong metrics token"
    return None


def sanic_response(request: Any, registry: CollectorRegistry) -> Any:
    """The answer to `GET /metrics` for a sanic request: the registry in Prometheus' text format, or the refusal
    (JSON `{"error": reason}`)."""
    from sanic.response import json as json_response
    from sanic.response import raw

    refused = check_scrape(request.headers)
    if refused is not None:
        status, reason = refused
        response = json_response({"error": reason}, status=status)
        if status == 401:
            response.headers["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return raw(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
