"""Signed customer identity for the website widget.

A website that embeds the chat widget may tell Frontline who the customer is (their id, tier and display
name), but only inside a token signed on the site's *server* with the shared secret
`FRONTLINE_IDENTITY_SECRET`. The token is a standard JWT (HS256: HMAC-SHA256 over base64url JSON), so any
JWT library can produce it. It must carry `aud: "frontline"`, an expiry `exp` and a `customer_id`.

The widget passes the token in `customData.identity`; the socket.io channel (`bot/channels/webchat.py`)
verifies it and replaces whatever the browser sent with `metadata["customer"]`, a *sealed* record bound to the
conversation id (`socketio:<session id>`, `bot.conversations`: a record sealed for a widget conversation never
verifies in a REST or WeChat one). Unsigned, forged, expired or tampered claims are dropped, so nobody makes
themselves VIP from the browser console.

Consumers (actions, the escalation policy, the desk) must read the customer with
`customer_from_metadata(metadata, sender_id)`, never `metadata["customer"]` raw: the REST channel passes
metadata through verbatim, so only the seal tells a claim the widget channel verified from one a caller typed
in. A sealed record describes the sender of the message that carried it, and no other: who a conversation's
customer is now is read from its latest message only (`customer_of_latest_message`), never inherited from an
earlier message's identity, so a message sent without one (a token expired, or someone else writing into the
conversation) is anonymous and sees nothing of the earlier customer's (their earlier tickets, their tier).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
import os
import re
from typing import Any, Dict, Iterable, Mapping, Optional

import jwt

from bot import clock

logger = logging.getLogger(__name__)

ENV_SECRET = "FRONTLINE_IDENTITY_SECRET"
AUDIENCE = "frontline"
ALGORITHM = "HS256"
# Secrets shorter than this are refused: HS256 needs at least 256 bits of key to mean anything.
MIN_SECRET_LENGTH = 32
# Tolerated clock difference between the site's server and Frontline, in seconds.
LEEWAY_SECONDS = 30
# Tokens longer than this are not even parsed.
MAX_TOKEN_LENGTH = 4096
DEFAULT_TTL_SECONDS = 3600

# The key of the widget's `customData` that carries the signed token.
TOKEN_KEY = "identity"
# The metadata key the channel fills with the verified (sealed) customer.
CUSTOMER_KEY = "customer"
# Keys a browser might use to claim an identity; the channel never passes them on unsigned.
RESERVED_KEYS = frozenset(
    {TOKEN_KEY, CUSTOMER_KEY, "customer_id", "customer_tier", "tier", "display_name", "vip", "seal"}
)
# Browser-sent metadata larger than this (JSON, bytes) is dropped whole.
MAX_METADATA_BYTES = 4096

_TIER_RE = re.compile(r"^[a-z0-9_-]{1,32}$")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
_SEAL_CONTEXT = b"frontline-customer-seal-v1"


def identity_secret() -> Optional[str]:
    """Return the shared identity secret from `FRONTLINE_IDENTITY_SECRET`, or None when unusable.

    Returns:
        The secret, or None when it is unset or shorter than `MIN_SECRET_LENGTH` (then no identity is
        ever verified, and a warning is logged).
    """
    secret = os.environ.get(ENV_SECRET, "")
    if not secret:
        return None
    if len(secret) < MIN_SECRET_LENGTH:
        logger.warning(
            "%s is shorter than %d characters: customer identity is disabled", ENV_SECRET, MIN_SECRET_LENGTH
        )
        return None
    return secret


def _usable(secret: Optional[str]) -> bool:
    return isinstance(secret, str) and len(secret) >= MIN_SECRET_LENGTH


def _clean_claims(payload: Mapping[str, Any]) -> Optional[Dict[str, Optional[str]]]:
    """Normalise `customer_id`, `tier` and `display_name`; None when they are unusable."""
    customer_id = payload.get("customer_id")
    if isinstance(customer_id, bool) or not isinstance(customer_id, (str, int)):
        return None
    customer_id = str(customer_id).strip()
    if not customer_id or len(customer_id) > 128 or _CONTROL_RE.search(customer_id):
        return None

    tier = payload.get("tier")
    if tier is not None:
        if not isinstance(tier, str) or not _TIER_RE.match(tier.strip().lower()):
            return None
        tier = tier.strip().lower()

    display_name = payload.get("display_name")
    if display_name is not None:
        if not isinstance(display_name, str):
            return None
        display_name = _CONTROL_RE.sub("", display_name).strip()[:100] or None

    return {"customer_id": customer_id, "tier": tier, "display_name": display_name}


def sign_identity(
    claims: Mapping[str, Any],
    secret: str,
    ttl: int = DEFAULT_TTL_SECONDS,
    now: Optional[dt.datetime] = None,
) -> str:
    """Sign customer claims into a token for the widget (what the website's server does).

    Args:
        claims: `customer_id` (required), `tier` (e.g. `vip`) and `display_name` (both optional).
        secret: the shared secret, at least `MIN_SECRET_LENGTH` characters.
        ttl: seconds until the token expires.
        now: the signing time; `bot.clock.now()` when omitted.

    Returns:
        A compact JWT (HS256) with `aud`, `iat`, `exp` and the claims.

    Raises:
        ValueError: the secret is too short, the ttl is not positive or the claims are unusable.
    """
    if not _usable(secret):
        raise ValueError(f"the identity secret must be at least {MIN_SECRET_LENGTH} characters")
    if ttl <= 0:
        raise ValueError("ttl must be a positive number of seconds")
    cleaned = _clean_claims(claims)
    if cleaned is None:
        raise ValueError("claims need a customer_id (<= 128 chars), an optional tier matching [a-z0-9_-]")
    issued = int((now or clock.now()).timestamp())
    payload: Dict[str, Any] = {k: v for k, v in cleaned.items() if v is not None}
    payload.update({"aud": AUDIENCE, "iat": issued, "exp": issued + int(ttl)})
    return jwt.encode(payload, secret, algorithm=ALGORITHM)


def verify_identity(
    token: Any, secret: Optional[str], now: Optional[dt.datetime] = None
) -> Optional[Dict[str, Optional[str]]]:
    """Verify a widget identity token.

    Args:
        token: what the browser sent (anything; only a well-formed, correctly signed JWT counts).
        secret: the shared secret; None or a short secret verifies nothing.
        now: the verification time; `bot.clock.now()` when omitted.

    Returns:
        `{"customer_id", "tier", "display_name"}` (tier and display_name may be None), or None when the
        token is missing, malformed, unsigned (`alg: none`), signed with another key or algorithm,
        tampered with, for another audience, or expired.
    """
    if not _usable(secret) or not isinstance(token, str) or not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    try:
        # PyJWT checks the HMAC with hmac.compare_digest; the allow-list of one algorithm refuses `none`.
        payload = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            audience=AUDIENCE,
            options={
                "require": ["exp", "aud"],
                "verify_exp": False,
                "verify_iat": False,
                "verify_nbf": False,
            },
        )
    except jwt.PyJWTError as error:
        logger.info("identity token refused: %s", type(error).__name__)
        return None
    exp = payload.get("exp")
    if isinstance(exp, bool) or not isinstance(exp, (int, float)):
        return None
    if (now or clock.now()).timestamp() > exp + LEEWAY_SECONDS:
        logger.info("identity token refused: expired")
        return None
    return _clean_claims(payload)


def _seal(claims: Mapping[str, Any], sender_id: str, secret: str) -> str:
    canonical = json.dumps(
        [sender_id, claims.get("customer_id"), claims.get("tier"), claims.get("display_name")],
        ensure_ascii=False,
        separators=(",", ":"),
    )
    key = hmac.new(secret.encode("utf-8"), _SEAL_CONTEXT, hashlib.sha256).digest()
    return hmac.new(key, canonical.encode("utf-8"), hashlib.sha256).hexdigest()


def seal_customer(claims: Mapping[str, Any], sender_id: str, secret: str) -> Dict[str, Optional[str]]:
    """Return the `metadata["customer"]` record for verified claims, sealed to one conversation.

    Args:
        claims: the output of `verify_identity`.
        sender_id: the conversation id the message belongs to.
        secret: the shared identity secret.

    Returns:
        `{"customer_id", "tier", "display_name", "seal"}`.
    """
    record = {
        "customer_id": claims.get("customer_id"),
        "tier": claims.get("tier"),
        "display_name": claims.get("display_name"),
    }
    record["seal"] = _seal(record, sender_id, secret)
    return record


def customer_from_metadata(
    metadata: Any, sender_id: str, secret: Optional[str] = None
) -> Optional[Dict[str, Optional[str]]]:
    """Return the verified customer of a message, or None (the one way to read `metadata["customer"]`).

    Args:
        metadata: a user message's metadata (e.g. `tracker.latest_message["metadata"]`).
        sender_id: the conversation id (`tracker.sender_id`).
        secret: the identity secret; read from `FRONTLINE_IDENTITY_SECRET` when omitted.

    Returns:
        `{"customer_id", "tier", "display_name"}` when the record was sealed by the widget channel for this
        conversation, else None.
    """
    secret = secret if secret is not None else identity_secret()
    if not _usable(secret) or not isinstance(metadata, Mapping):
        return None
    record = metadata.get(CUSTOMER_KEY)
    if not isinstance(record, Mapping) or not isinstance(record.get("seal"), str):
        return None
    claims = _clean_claims(record)
    if claims is None:
        return None
    if not hmac.compare_digest(record["seal"], _seal(claims, str(sender_id), secret)):
        return None
    return claims


def customer_of_latest_message(
    events: Iterable[Mapping[str, Any]], sender_id: str, secret: Optional[str] = None
) -> Optional[Dict[str, Optional[str]]]:
    """The verified customer of a conversation's latest user message, or None (never an earlier message's).

    Args:
        events: the conversation's events as dicts, oldest first (`tracker.events`).
        sender_id: the conversation id.
        secret: the identity secret; read from `FRONTLINE_IDENTITY_SECRET` when omitted.

    Returns:
        `{"customer_id", "tier", "display_name"}` when the latest `user` event carries a record the widget channel
        sealed for this conversation, else None (no user message yet, or the latest carries no valid record).
    """
    latest = next((e for e in reversed(list(events)) if isinstance(e, Mapping) and e.get("event") == "user"), None)
    if latest is None:
        return None
    return customer_from_metadata(latest.get("metadata"), sender_id, secret)


def customer_slots(customer: Optional[Mapping[str, Any]]) -> Dict[str, Optional[str]]:
    """Map a verified customer to the Rasa slots `customer_id` and `customer_tier`.

    Args:
        customer: the output of `customer_from_metadata` (None gives no slots).

    Returns:
        A dict of slot name to value, empty when there is no verified customer.
    """
    if not customer:
        return {}
    slots = {"customer_id": customer.get("customer_id")}
    if customer.get("tier"):
        slots["customer_tier"] = customer.get("tier")
    return slots


def verified_metadata(
    metadata: Any, sender_id: str, secret: Optional[str], now: Optional[dt.datetime] = None
) -> Dict[str, Any]:
    """Clean the metadata a browser sent with a message (what the widget channel calls).

    Every identity-like key (`RESERVED_KEYS`) is removed; when `metadata["identity"]` holds a valid token,
    `metadata["customer"]` is set to the sealed, verified customer. Metadata that is not a mapping, or whose
    other keys exceed `MAX_METADATA_BYTES` as JSON, is replaced by an empty dict.

    Args:
        metadata: what arrived in the widget's `customData` (already JSON-decoded).
        sender_id: the conversation id.
        secret: the shared identity secret (None: no identity is ever accepted).
        now: the verification time; `bot.clock.now()` when omitted.

    Returns:
        Metadata safe to store on the message.
    """
    if not isinstance(metadata, Mapping):
        return {}
    clean: Dict[str, Any] = {
        str(key): value for key, value in metadata.items() if str(key) not in RESERVED_KEYS
    }
    try:
        size = len(json.dumps(clean, ensure_ascii=False, default=str).encode("utf-8"))
    except (TypeError, ValueError):
        size = MAX_METADATA_BYTES + 1
    if size > MAX_METADATA_BYTES:
        logger.warning("widget metadata of %d bytes dropped (limit %d)", size, MAX_METADATA_BYTES)
        clean = {}
    claims = verify_identity(metadata.get(TOKEN_KEY), secret, now=now)
    if claims is not None and secret:
        clean[CUSTOMER_KEY] = seal_customer(claims, sender_id, secret)
    return clean
