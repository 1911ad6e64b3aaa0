"""The action server's shared token: only the Rasa server may run actions.

The action server runs whatever action a request names, on whatever tracker the request carries: a caller who
reached it could open a ticket for any conversation with any customer id, VIP tier or emergency grade
(`action_handoff`), or rewrite any ticket's rating (`action_survey_answer`). So it demands a token shared with
the Rasa server, `FRONTLINE_ACTION_TOKEN` (`make run` generates one per run when it is unset):

- the Rasa server sends it on every call as `Authorization: Bearer <token>`: the `headers` of
  `action_endpoint` in `endpoints.yml` / `endpoints.prod.yml` (Rasa expands `${FRONTLINE_ACTION_TOKEN}`);
  a header, not a query argument, so it never lands in an access log;
- the action server (`python -m bot actions`) answers 401 to any request without it, except `GET /health`.
"""

from __future__ import annotations

import hmac
import logging
import os
from typing import Any, Mapping, Optional

logger = logging.getLogger(__name__)

ENV = "FRONTLINE_ACTION_TOKEN"
HEADER = "Authorization"
SCHEME = "Bearer"
# Paths answered without the token: the health check `make run` and load balancers poll.
OPEN_PATHS = frozenset({"/health"})
MIN_LENGTH = 16


class ActionTokenError(ValueError):
    """`FRONTLINE_ACTION_TOKEN` is missing or cannot travel in an HTTP header."""


def check_value(token: Optional[str]) -> str:
    """Return `token` when it can serve as the action token.

    Any visible ASCII character is allowed, spaces inside too (`$`, quotes, a leading `-`); it must travel in
    an HTTP header, so no line breaks, no other control characters, and no spaces at either end (HTTP strips
    them).

    Raises:
        ActionTokenError: it is missing, shorter than 16 characters or cannot travel in a header.
    """
    if not token:
        raise ActionTokenError(
            f"{ENV} is unset: the action server needs the token the Rasa server sends "
            "(`make run` generates one; set the same value for both when you start them yourself)"
        )
    if len(token) < MIN_LENGTH:
        raise ActionTokenError(f"{ENV} is shorter than {MIN_LENGTH} characters")
    if token != token.strip() or not all(" " <= char <= "~" for char in token):
        raise ActionTokenError(
            f"{ENV} must be visible ASCII characters (spaces only inside): it travels in an HTTP header"
        )
    return token


def from_environment(environ: Optional[Mapping[str, str]] = None) -> str:
    """The checked action token of the environment (see `check_value`)."""
    env = os.environ if environ is None else environ
    return check_value(env.get(ENV))


def carries_token(authorization: Optional[str], token: str) -> bool:
    """Whether an `Authorization` header value is `Bearer <token>` (compared in constant time)."""
    if not authorization:
        return False
    scheme, _, given = authorization.partition(" ")
    if scheme.lower() != SCHEME.lower():
        return False
    return hmac.compare_digest(given.strip().encode("utf-8"), token.encode("utf-8"))


def require_token(app: Any, token: str) -> None:
    """Make a sanic app answer 401 to every request without the token, except `OPEN_PATHS`.

    Args:
        app: the action server's sanic app.
        token: the checked action token.
    """
    from sanic.response import json as json_response

    async def check(request: Any) -> Any:
        if request.path in OPEN_PATHS or carries_token(request.headers.get(HEADER), token):
            return None
        logger.warning("action server: a request to %s without the action token refused", request.path)
        return json_response({"error": f"this action server answers only the Rasa server: {HEADER}: Bearer <{ENV}>"},
                             status=401)

    app.register_middleware(check, "request")
