"""Mask personal data in text before it leaves the assistant (transcripts, slots, the context packet).

What is masked, in this order (each kind is replaced by a form that keeps the text readable for an agent):

| kind | example in | example out |
|---|---|---|
| e-mail address | `zhang.san@example.com` | `z***@example.com` |
| mainland ID number (18 characters, last may be X) | `11010519491231002X` | `**************002X` |
| bank card number (13-19 digits, plain or in groups of 4) | `6222 0212 3456 7890` | `************7890` |
| mainland mobile number (optionally +86) | `+86 138-1234-5678` | `+86 138****5678` |
| landline with area code | `010-12345678`, `(0755)1234567` | `010-****5678` |

Numbers that are not personal data stay as they are: order numbers shorter than 13 digits (unless they look
exactly like a mobile number: 11 digits starting 13-19), prices, dates, times.
An 18-digit number counts as an ID number when its check digit is right or it holds a plausible birth date;
otherwise it is treated as a bank card number.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections import Counter
from typing import Any, Callable, Tuple

logger = logging.getLogger(__name__)

EMAIL = "email"
ID_NUMBER = "id_number"
BANK_CARD = "bank_card"
MOBILE = "mobile"
LANDLINE = "landline"
KINDS = (EMAIL, ID_NUMBER, BANK_CARD, MOBILE, LANDLINE)

_EMAIL_RE = re.compile(r"(?<![A-Za-z0-9._%+-])([A-Za-z0-9._%+-]+)@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,})")
_ID_RE = re.compile(r"(?<![0-9A-Za-z])(\d{17}[0-9Xx])(?![0-9A-Za-z])")
_CARD_PLAIN_RE = re.compile(r"(?<![0-9A-Za-z*])(\d{13,19})(?![0-9A-Za-z])")
_CARD_GROUPED_RE = re.compile(r"(?<![0-9A-Za-z*])(\d{4}(?:[ -]\d{4}){2,3}(?:[ -]\d{1,4})?)(?![0-9A-Za-z])")
_MOBILE_RE = re.compile(
    r"(?<![0-9A-Za-z*])((?:\+?86[ -]?)?)(1[3-9]\d)[ -]?(\d{4})[ -]?(\d{4})(?![0-9A-Za-z])"
)
_LANDLINE_RE = re.compile(
    r"(?<![0-9A-Za-z*])(\(0\d{2,3}\)|0\d{2,3})([ -]?)(\d{3,4})[ -]?(\d{4})(?![0-9A-Za-z])"
)

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def id_checksum_ok(number: str) -> bool:
    """True when an 18-character mainland ID number has the right check character (GB 11643)."""
    if len(number) != 18 or not number[:17].isdigit():
        return False
    total = sum(int(digit) * weight for digit, weight in zip(number[:17], _ID_WEIGHTS, strict=False))
    return _ID_CHECK[total % 11] == number[17].upper()


def _plausible_birth_date(number: str) -> bool:
    try:
        born = dt.date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return False
    return 1900 <= born.year <= 2100


def _mask_email(match: re.Match[str]) -> str:
    local, domain = match.group(1), match.group(2)
    return f"{local[0]}***@{domain}"


def _mask_id(match: re.Match[str]) -> str | None:
    number = match.group(1)
    if number[-1] in "Xx" or id_checksum_ok(number) or _plausible_birth_date(number):
        return "*" * 14 + number[-4:]
    return None  # an 18-digit number that is no ID number: left for the bank card rule


def _mask_card(match: re.Match[str]) -> str | None:
    digits = re.sub(r"\D", "", match.group(1))
    if not 13 <= len(digits) <= 19:
        return None
    return "*" * (len(digits) - 4) + digits[-4:]


def _mask_mobile(match: re.Match[str]) -> str:
    prefix = match.group(1)
    return f"{prefix}{match.group(2)}****{match.group(4)}"


def _mask_landline(match: re.Match[str]) -> str:
    area = match.group(1)
    separator = match.group(2) or ("" if area.startswith("(") else "-")
    return f"{area}{separator}****{match.group(4)}"


_RULES: Tuple[Tuple[str, re.Pattern[str], Callable[[re.Match[str]], str | None]], ...] = (
    (EMAIL, _EMAIL_RE, _mask_email),
    (ID_NUMBER, _ID_RE, _mask_id),
    (BANK_CARD, _CARD_GROUPED_RE, _mask_card),
    (BANK_CARD, _CARD_PLAIN_RE, _mask_card),
    (MOBILE, _MOBILE_RE, _mask_mobile),
    (LANDLINE, _LANDLINE_RE, _mask_landline),
)


def mask_with_report(text: str) -> Tuple[str, Counter[str]]:
    """Mask personal data in `text` and count what was masked.

    Args:
        text: any text a customer or the assistant wrote.

    Returns:
        The masked text and a Counter of masked kinds (`email`, `id_number`, `bank_card`, `mobile`, `landline`).
    """
    found: Counter[str] = Counter()
    if not text:
        return text, found
    for kind, pattern, masker in _RULES:

        def replace(match: re.Match[str], kind: str = kind, masker: Callable = masker) -> str:
            masked = masker(match)
            if masked is None:
                return match.group(0)
            found[kind] += 1
            return masked

        text = pattern.sub(replace, text)
    return text, found


def mask(text: str) -> str:
    """Return `text` with phone numbers, ID numbers, bank card numbers and e-mail addresses masked."""
    return mask_with_report(text)[0]


def mask_value(value: Any) -> Any:
    """Mask every string inside a JSON-like value (dicts, lists, strings); other values are returned as is."""
    if isinstance(value, str):
        return mask(value)
    if isinstance(value, dict):
        return {key: mask_value(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [mask_value(item) for item in value]
    return value
