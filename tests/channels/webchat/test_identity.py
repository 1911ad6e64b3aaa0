"""Signed customer identity for the widget: sign, verify, seal, clean metadata (bot/identity.py)."""

from __future__ import annotations

import base64
import datetime as dt
import json

import jwt
import pytest

from bot import identity

SECRET = "s" * 16 + "0123456789abcdef0123"
OTHER_SECRET = "o" * 40
NOW = dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.timezone.utc)
CLAIMS = {"customer_id": "c-1001", "tier": "VIP", "display_name": "王小明"}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _parts(token: str) -> list[str]:
    return token.split(".")


def test_valid_token_round_trips_normalised_claims() -> None:
    token = identity.sign_identity(CLAIMS, SECRET, ttl=600, now=NOW)
    claims = identity.verify_identity(token, SECRET, now=NOW + dt.timedelta(seconds=599))
    assert claims == {"customer_id": "c-1001", "tier": "vip", "display_name": "王小明"}


def test_token_is_a_standard_hs256_jwt_any_library_can_make() -> None:
    """A site signing with its own JWT library (here PyJWT directly) is accepted."""
    exp = int(NOW.timestamp()) + 300
    token = jwt.encode({"customer_id": 42, "tier": "gold", "aud": "frontline", "exp": exp}, SECRET, "HS256")
    assert identity.verify_identity(token, SECRET, now=NOW) == {
        "customer_id": "42",
        "tier": "gold",
        "display_name": None,
    }
    header = json.loads(base64.urlsafe_b64decode(_parts(token)[0] + "=="))
    assert header["alg"] == "HS256"


def test_expired_token_is_refused_after_leeway() -> None:
    token = identity.sign_identity(CLAIMS, SECRET, ttl=60, now=NOW)
    assert identity.verify_identity(token, SECRET, now=NOW + dt.timedelta(seconds=60 + 29)) is not None
    assert identity.verify_identity(token, SECRET, now=NOW + dt.timedelta(seconds=60 + 31)) is None


def test_wrong_secret_is_refused() -> None:
    token = identity.sign_identity(CLAIMS, SECRET, now=NOW)
    assert identity.verify_identity(token, OTHER_SECRET, now=NOW) is None


def test_forged_signature_is_refused() -> None:
    header, payload, signature = _parts(identity.sign_identity(CLAIMS, SECRET, now=NOW))
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    assert identity.verify_identity(f"{header}.{payload}.{flipped}", SECRET, now=NOW) is None
    assert identity.verify_identity(f"{header}.{payload}.", SECRET, now=NOW) is None


def test_tampered_payload_is_refused() -> None:
    """Raising the tier in the payload while keeping the original signature fails."""
    header, payload, signature = _parts(
        identity.sign_identity({"customer_id": "c-1", "tier": "basic"}, SECRET, now=NOW)
    )
    body = json.loads(base64.urlsafe_b64decode(payload + "=="))
    body["tier"] = "vip"
    forged = _b64(json.dumps(body, separators=(",", ":")).encode())
    assert identity.verify_identity(f"{header}.{forged}.{signature}", SECRET, now=NOW) is None


def test_unsigned_alg_none_token_is_refused() -> None:
    exp = int(NOW.timestamp()) + 300
    payload = {"customer_id": "c-1", "tier": "vip", "aud": "frontline", "exp": exp}
    token = jwt.encode(payload, None, algorithm="none")
    assert identity.verify_identity(token, SECRET, now=NOW) is None


def test_other_algorithm_with_same_secret_is_refused() -> None:
    exp = int(NOW.timestamp()) + 300
    long_secret = SECRET * 2  # 64+ bytes, so HS512 is signed properly
    token = jwt.encode({"customer_id": "c-1", "aud": "frontline", "exp": exp}, long_secret, algorithm="HS512")
    assert identity.verify_identity(token, long_secret, now=NOW) is None


@pytest.mark.parametrize(
    "payload",
    [
        {"customer_id": "c-1", "exp": 2_000_000_000},  # no audience
        {"customer_id": "c-1", "aud": "other-app", "exp": 2_000_000_000},  # another audience
        {"customer_id": "c-1", "aud": "frontline"},  # no expiry
        {"tier": "vip", "aud": "frontline", "exp": 2_000_000_000},  # no customer
        {"customer_id": "c-1", "tier": "VIP!<script>", "aud": "frontline", "exp": 2_000_000_000},
    ],
)
def test_tokens_missing_or_bad_claims_are_refused(payload: dict) -> None:
    token = jwt.encode(payload, SECRET, algorithm="HS256")
    assert identity.verify_identity(token, SECRET, now=NOW) is None


@pytest.mark.parametrize(
    "token",
    [None, "", 42, {"customer_id": "c-1", "tier": "vip"}, "not-a-token", "a.b.c", "x" * 5000],
)
def test_unsigned_plain_claims_and_garbage_are_refused(token: object) -> None:
    assert identity.verify_identity(token, SECRET, now=NOW) is None


def test_no_or_short_secret_verifies_nothing() -> None:
    token = identity.sign_identity(CLAIMS, SECRET, now=NOW)
    assert identity.verify_identity(token, None, now=NOW) is None
    assert identity.verify_identity(token, "short", now=NOW) is None
    with pytest.raises(ValueError):
        identity.sign_identity(CLAIMS, "short", now=NOW)


def test_identity_secret_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(identity.ENV_SECRET, raising=False)
    assert identity.identity_secret() is None
    monkeypatch.setenv(identity.ENV_SECRET, "too-short")
    assert identity.identity_secret() is None
    monkeypatch.setenv(identity.ENV_SECRET, SECRET)
    assert identity.identity_secret() == SECRET


def test_verified_metadata_strips_unsigned_identity_keys() -> None:
    browser = {
        "language": "zh",
        "customer": {"customer_id": "c-9", "tier": "vip", "seal": "0" * 64},
        "customer_id": "c-9",
        "customer_tier": "vip",
        "tier": "vip",
        "vip": True,
        "identity": "forged.token.value",
    }
    assert identity.verified_metadata(browser, "session-0001", SECRET, now=NOW) == {"language": "zh"}


def test_verified_metadata_seals_a_valid_token_to_the_conversation() -> None:
    token = identity.sign_identity(CLAIMS, SECRET, now=NOW)
    metadata = identity.verified_metadata(
        {"identity": token, "tier": "platinum", "page": "/shop"}, "session-0001", SECRET, now=NOW
    )
    assert set(metadata) == {"page", "customer"}
    assert "identity" not in metadata
    expected = {"customer_id": "c-1001", "tier": "vip", "display_name": "王小明"}
    assert identity.customer_from_metadata(metadata, "session-0001", SECRET) == expected
    # The seal binds the record to this conversation and this secret.
    assert identity.customer_from_metadata(metadata, "session-0002", SECRET) is None
    assert identity.customer_from_metadata(metadata, "session-0001", OTHER_SECRET) is None
    assert identity.customer_slots(expected) == {"customer_id": "c-1001", "customer_tier": "vip"}


def test_hand_made_customer_record_is_not_trusted() -> None:
    """What a REST caller could put in metadata: right shape, no valid seal."""
    forged = {"customer": {"customer_id": "c-1", "tier": "vip", "display_name": None, "seal": "ab" * 32}}
    assert identity.customer_from_metadata(forged, "s-1", SECRET) is None
    unsealed = {"customer": {"customer_id": "c-1", "tier": "vip"}}
    assert identity.customer_from_metadata(unsealed, "s-1", SECRET) is None
    assert identity.customer_slots(None) == {}


def test_tampered_sealed_record_is_not_trusted() -> None:
    token = identity.sign_identity({"customer_id": "c-1", "tier": "basic"}, SECRET, now=NOW)
    metadata = identity.verified_metadata({"identity": token}, "s-12345678", SECRET, now=NOW)
    metadata["customer"]["tier"] = "vip"
    assert identity.customer_from_metadata(metadata, "s-12345678", SECRET) is None


@pytest.mark.parametrize("metadata", [None, "text", ["identity"], 7])
def test_verified_metadata_of_non_mapping_is_empty(metadata: object) -> None:
    assert identity.verified_metadata(metadata, "s-1", SECRET, now=NOW) == {}


def test_oversized_metadata_is_dropped_but_identity_kept() -> None:
    token = identity.sign_identity(CLAIMS, SECRET, now=NOW)
    metadata = identity.verified_metadata(
        {"identity": token, "blob": "x" * (identity.MAX_METADATA_BYTES + 1)}, "s-1", SECRET, now=NOW
    )
    assert set(metadata) == {"customer"}
