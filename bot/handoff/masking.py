"""Mask personal data in text before it leaves the assistant (transcripts, slots, the context packet).

What is masked (each kind is replaced by a form that keeps the text readable for an agent):

| kind | example in | example out |
|---|---|---|
| `email` | `zhang.san@example.com` | `z***@example.com` |
| `id_number`: mainland ID (18 characters, last may be X; 6-8-4 groups too) | `110105 19491231 002X` | `**************002X` |
| `bank_card`: 13-19 digits: Luhn-valid, in card groups (4-4-4-4, 4-6-5) or after a card word | `3782 822463 10005`, `卡号 6222.0212.3456.7890` | `***********0005`, `卡号 ************7890` |
| `mobile`: mainland mobile (11 digits from 13-19, optionally +86/86/0086) | `+86 138-1234-5678`, `tel13812345678` | `+86 138****5678`, `tel138****5678` |
| `landline`: mainland number with area code | `010-62345678`, `(0755)23456789` | `010-****5678`, `(0755)****6789` |
| `phone`: other phone numbers: with a + country code, or after a phone word | `+852 9123 4567`, `+1 (415) 555-0132`, `电话 9123 4567` | `+852 ****4567`, `+1 ******0132`, `电话 ****4567` |
| `hk_id`: Hong Kong identity card | `A123456(7)`, `A1234563` (bare: check digit must be right) | `A******(7)`, `A******3` |
| `passport`: passports and travel permits (E/G, EA…, K/H, H/M, C/CA…, L, MA…; any after a passport word) | `E12345678`, `EA1234567`, `护照 123456789` | `E****5678`, `EA***4567`, `护照 *****6789` |

How numbers are found:
- Every character is folded with NFKC on its own (full-width `１３８１２３４５６７８`, `＋８６`, `（７）`, the
  ideographic space; dashes such as `—`, `‐`, `−` count as `-`, middle dots `·` `・` as `.`; decimal digits
  of any script as 0-9). Only one-to-one foldings are used, so positions stay put: the masked text keeps the
  customer's own characters everywhere except inside a masked item, which is written in plain ASCII
  (`我的手机１３８１２３４５６７８` → `我的手机138****5678`).
- A number is a chain of digit groups joined by one separator (space, `-`, `.`, parentheses), so
  `138.1234.5678`, `1381 2345 678` and `110105-19491231-002X` are one number. In a chain of several groups
  each group has at least 3 digits (a leading `86` or country code excepted), so lists such as
  `15 16 17 18 19 20` are not joined. A number glued to a letter is left alone (`SF1234567890`, `RTX4090`),
  except after `tel`, `phone`, `mobile`, `mob`, `cell`, `fax`, `id` or `card` (`tel13812345678`).
- A word a few characters before a number says what it is; the nearest word wins (`订单联系人电话 …` is a
  phone):
  - order words (订单号/订单/单号/运单号/快递单号/物流单号/工单号/流水号/交易号, 訂單號/單號/運單號/…, order,
    order no./order number/order id, tracking, tracking number, ticket, waybill): the number is no bank card,
    landline, passport or bare HK ID, so an agent sees `订单号是 20251103123456` whole. A mobile-shaped
    number (11 digits from 13-19) is still masked after an order word (a phone given to look up orders is
    common, an order number shaped like a mobile is rare, and the agent still sees 7 of its 11 digits), and
    so is an 18-digit number that is a full ID number (right check digit and a real birth date);
  - card words (卡号/银行卡/信用卡/卡, card, credit card, visa…): any 13-19 digits are a card (a typo in the
    Luhn digit does not unmask it);
  - ID words (身份证/证件号, ID, ID card): any 18-character or 15-digit number is an ID number;
  - phone words (电话/手机/座机/联系, tel, phone, mobile, call…): 7-15 digits are a `phone` if nothing else;
  - passport words (护照/通行证/回乡证/台胞证, passport, permit): 8-10 digits, or 1-2 letters and 6-10
    digits, are a `passport`.
- Without a word: 13-19 digits are a card when the Luhn check passes or they are written in card groups
  (4-4-4-4, 4-4-4-4-n, 4-6-5, 4-6-4: a typo in a card copied from the plastic stays masked); an 18-character
  number is an ID number when it ends in X, its check digit is right or it holds a plausible birth date.

Numbers that are not personal data stay as they are: order and tracking numbers after an order word,
numbers that fail the Luhn check, short numbers (`第 12345678 号`), prices, dates, times.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import unicodedata
from collections import Counter
from typing import Any, Callable, List, NamedTuple, Optional, Tuple

logger = logging.getLogger(__name__)

EMAIL = "email"
ID_NUMBER = "id_number"
BANK_CARD = "bank_card"
MOBILE = "mobile"
LANDLINE = "landline"
PHONE = "phone"
HK_ID = "hk_id"
PASSPORT = "passport"
KINDS = (EMAIL, ID_NUMBER, BANK_CARD, MOBILE, LANDLINE, PHONE, HK_ID, PASSPORT)

# --- folding -----------------------------------------------------------------------------------------------

_EXTRA_FOLDS = {
    **dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63", "-"),
    "·": ".",
    "・": ".",
}
_FOLD_CACHE_LIMIT = 8192


class _Folding(dict):
    """`str.translate` table that folds each character on its own, one character to one, cached."""

    def __missing__(self, code: int) -> str:
        char = chr(code)
        folded = unicodedata.normalize("NFKC", char)
        if len(folded) != 1:  # `…` → `...`, `⑩` → `10`: keep positions, keep the character
            folded = char
        folded = _EXTRA_FOLDS.get(folded, folded)
        digit = unicodedata.decimal(folded, None)
        if digit is not None:
            folded = str(digit)
        if len(self) < _FOLD_CACHE_LIMIT:
            self[code] = folded
        return folded


_FOLDING = _Folding()


# Characters that need no folding for matching: ASCII, CJK ideographs, common CJK punctuation (`，` folds to
# `,`, which no pattern looks at).
_PLAIN_RE = re.compile(
    "[\x00-\x7f\u3400-\u4dbf\u4e00-\u9fff\u3001\u3002\u300a-\u300f\uff01\uff0c\uff1a\uff1b"
    "\uff1f\u2018\u2019\u201c\u201d\u2026]*"
)


def fold(text: str) -> str:
    """`text` with each character folded by NFKC (one character to one), so positions match the original."""
    if text.isascii() or _PLAIN_RE.fullmatch(text):
        return text
    return text.translate(_FOLDING)


# --- check digits ------------------------------------------------------------------------------------------

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def id_checksum_ok(number: str) -> bool:
    """True when an 18-character mainland ID number has the right check character (GB 11643)."""
    if len(number) != 18 or not number[:17].isdigit():
        return False
    total = sum(int(digit) * weight for digit, weight in zip(number[:17], _ID_WEIGHTS, strict=False))
    return _ID_CHECK[total % 11] == number[17].upper()


def luhn_ok(number: str) -> bool:
    """True when a string of digits passes the Luhn check that every payment card number passes."""
    if not number.isdigit():
        return False
    total = 0
    for position, char in enumerate(reversed(number)):
        digit = int(char)
        if position % 2:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


def hk_id_checksum_ok(number: str) -> bool:
    """True when a Hong Kong identity card number (`A1234563`, `AB9876543`, no parentheses) checks out."""
    number = number.upper()
    letters = number[:-7]
    if len(letters) not in (1, 2) or not letters.isalpha() or not number[-7:-1].isdigit():
        return False
    values = ([] if len(letters) == 2 else [36]) + [ord(letter) - 55 for letter in letters]
    values += [int(digit) for digit in number[-7:-1]]
    total = sum(value * weight for value, weight in zip(values, range(9, 1, -1), strict=False))
    check = (11 - total % 11) % 11
    return number[-1] == ("A" if check == 10 else str(check))


def _plausible_birth_date(number: str) -> bool:
    try:
        born = dt.date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return False
    return 1900 <= born.year <= 2100


# --- cue words ---------------------------------------------------------------------------------------------

_ORDER, _CARD, _ID, _PHONE, _PASSPORT = "order", "card", "id", "phone", "passport"
# Words separated by "|"; English words match in any case and only as whole words.
_CUE_WORDS = {
    _ORDER: "订单号|订单编号|订单号码|订单|单号|运单号|快递单号|物流单号|工单号|工单|流水号|交易号"
    "|訂單號|訂單編號|訂單號碼|訂單|單號|運單號|快遞單號|物流單號|工單號|工單|流水號|交易號"
    "|order|order no|order no.|order number|order #|order id"
    "|tracking|tracking no|tracking no.|tracking number|tracking #|tracking id"
    "|ticket|ticket no|ticket no.|ticket number|ticket #|ticket id|waybill",
    _CARD: "卡号|卡號|银行卡|銀行卡|信用卡|储蓄卡|儲蓄卡|借记卡|借記卡|银联|銀聯|卡"
    "|card|card no|card no.|card number|credit card|debit card|visa|mastercard|amex|unionpay",
    _ID: "身份证|身份證|身份证号|身份證號|证件号|證件號|证件|證件|id|id no|id no.|id number|id card|identity card",
    _PHONE: "电话|電話|手机|手機|手机号|手機號|座机|座機|联系|聯系|聯繫|联络|聯絡"
    "|tel|phone|mobile|mob|cell|call|fax|whatsapp",
    _PASSPORT: "护照|護照|通行证|通行證|回乡证|回鄉證|台胞证|台胞證|passport|permit",
}
_CUE_KIND = {word: kind for kind, words in _CUE_WORDS.items() for word in words.split("|")}
_CUE_LONGEST = max(len(word) for word in _CUE_KIND)
_CUE_GAP = 6  # at most this many characters (no digit, no end of sentence) between the word and the number
# Matched on the reversed text before a number: the lazy gap finds the nearest word; longest words first.
_CUE_RE = re.compile(
    rf"[^0-9。！？!?；;\n]{{0,{_CUE_GAP}}}?"
    + "(?=["
    + re.escape("".join(sorted({word[-1] for word in _CUE_KIND})))
    + "])("  # a quick first test
    + "|".join(re.escape(word[::-1]) for word in sorted(_CUE_KIND, key=len, reverse=True))
    + ")(?![a-z])",
    re.IGNORECASE,
)


def _cue_before(text: str, start: int) -> Optional[str]:
    """The kind of the nearest cue word ending a few characters before `start`, or None."""
    window = text[max(0, start - _CUE_LONGEST - _CUE_GAP) : start]
    match = _CUE_RE.match(window[::-1])
    return _CUE_KIND[match.group(1)[::-1].lower()] if match else None


# --- patterns ----------------------------------------------------------------------------------------------

_EMAIL_RE = re.compile(
    r"(?<![A-Za-z0-9._%+*@-])([A-Za-z0-9._%+-]+)@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,})"
)
_HK_ID_RE = re.compile(r"(?<![0-9A-Za-z])([A-Za-z]{1,2})([0-9]{6})( ?\([0-9Aa]\)|[0-9Aa])(?![0-9A-Za-z])")
# One or two letters and 6-10 digits: a passport after a passport word, or in one of these shapes anywhere:
# mainland passport E/G + 8 digits or E + letter + 7; HK SAR passport K/H + 8; home-return permit H/M + 8
# or 10; exit-entry permits C + 8 or C + letter + 7 (Hong Kong, Macao), L + 8 (Taiwan); Macao passport MA + 7.
_LETTERED_RE = re.compile(r"(?<![0-9A-Za-z])([A-Za-z]{1,2})([0-9]{6,10})(?![0-9A-Za-z])")
_PASSPORT_RE = re.compile(r"[EGKHMCL][0-9]{8}|(?:[EC][A-HJ-NP-Z]|MA)[0-9]{7}|[HM][0-9]{10}", re.IGNORECASE)
_GLUED_WORDS = ("tel", "phone", "mobile", "mob", "cell", "fax", "id", "card")
_SEPARATOR = r"(?:\) ?[-.]? ?| ?\(| ?[-.] ?| {1,2})"
# Not glued to a letter or to a masked item, nor joined to one by a separator (`0755-****5678` is one masked
# number: its `0755` must not start another, or masking a masked text would change it).
_GROUP = rf"[0-9]+[Xx]?(?![0-9A-Za-z*])(?!{_SEPARATOR}\*)"
# The first lookahead rejects most positions quickly; the second skips numbers of fewer than 7 digits (every kind
# has at least 7), allowing for the separators between them.
_CHAIN_RE = re.compile(
    "(?=[+(0-9])(?=(?:[^0-9]{0,4}[0-9]){7})(?:(?<![0-9A-Za-z*])|"
    + "|".join(f"(?<={''.join(f'[{c}{c.upper()}]' for c in word)})" for word in _GLUED_WORDS)
    + rf")(?P<lead>[+(])?{_GROUP}(?:{_SEPARATOR}{_GROUP})*"
)
_GROUP_RE = re.compile(r"[0-9]+[Xx]?")
_DIGIT_RE = re.compile(r"[0-9]")
_MOBILE_RE = re.compile(r"1[3-9][0-9]{9}")
_MOBILE_PREFIXES = {11: "", 13: "86", 15: "0086"}
_LETTER_DIGIT_RE = re.compile(r"(?<=[A-Za-z])[0-9]")


class _Span(NamedTuple):
    start: int
    end: int
    replacement: str
    kind: str


def _stars(digits: str) -> str:
    return "*" * (len(digits) - 4) + digits[-4:]


def _blank(text: str, spans: List[_Span]) -> str:
    for span in spans:
        text = text[: span.start] + "*" * (span.end - span.start) + text[span.end :]
    return text


# --- e-mail, HK ID, passports ------------------------------------------------------------------------------


def _emails(work: str) -> List[_Span]:
    return [
        _Span(m.start(), m.end(), f"{m.group(1)[0]}***@{m.group(2)}", EMAIL) for m in _EMAIL_RE.finditer(work)
    ]


def _hk_ids(work: str) -> List[_Span]:
    spans = []
    for m in _HK_ID_RE.finditer(work):
        letters, digits, check = m.groups()
        bare = "(" not in check
        if bare and (
            not letters.isupper()
            or not hk_id_checksum_ok(letters + digits + check)
            or _cue_before(work, m.start()) == _ORDER
        ):
            continue
        spans.append(_Span(m.start(), m.end(), f"{letters}******{check}", HK_ID))
    return spans


def _passports(work: str) -> List[_Span]:
    spans = []
    for m in _LETTERED_RE.finditer(work):
        cue = _cue_before(work, m.start())
        if cue == _ORDER or (cue != _PASSPORT and not _PASSPORT_RE.fullmatch(m.group())):
            continue
        letters, digits = m.groups()
        spans.append(_Span(m.start(), m.end(), letters + _stars(digits), PASSPORT))
    return spans


# --- numbers made of digit groups --------------------------------------------------------------------------


_UNKNOWN = "?"


class _Candidate(NamedTuple):
    """Groups i..j-1 of a chain read as one number."""

    j: int
    text: str  # the digits (and a final X) without separators
    tidy: bool  # one group, or every group has at least 3 digits
    tidy_after_first: bool  # every group but the first has at least 3 digits


class _Chain:
    """One number as written: digit groups joined by separators, with what comes before it."""

    def __init__(self, work: str, match: re.Match[str]) -> None:
        self.work = work
        self.start = match.start()
        self.plus = match.group("lead") == "+"
        text = match.group()
        if text.isdigit():  # the common case: one group of digits
            self.groups, self.texts = [(self.start, match.end())], [text]
        else:
            self.groups = [(self.start + g.start(), self.start + g.end()) for g in _GROUP_RE.finditer(text)]
            self.texts = [work[start:end] for start, end in self.groups]
        self._cue: Optional[str] = _UNKNOWN

    @property
    def cue(self) -> Optional[str]:
        """The kind of the cue word before the number (looked up once, when a finder needs it)."""
        if self._cue is _UNKNOWN:
            self._cue = _cue_before(self.work, self.start)
        return self._cue

    def candidates(self, i: int) -> List[_Candidate]:
        """The numbers starting at group i, longest first (an X may only end one)."""
        texts = self.texts
        if len(texts) == 1:
            return [_Candidate(1, texts[0], True, True)]
        found = []
        short_after = len(texts)  # the first group after i with fewer than 3 digits
        for k in range(len(texts) - 1, i, -1):
            if len(texts[k]) < 3:
                short_after = k
        for j in range(len(texts), i, -1):
            text = "".join(texts[i:j])
            if "X" in text[:-1] or "x" in text[:-1]:
                continue
            tidy_after_first = j <= short_after
            tidy = tidy_after_first and (j - i == 1 or len(texts[i]) >= 3)
            found.append(_Candidate(j, text, tidy, tidy_after_first))
        return found

    def span_start(self, i: int) -> int:
        return self.start if i == 0 and self.plus else self.groups[i][0]

    def span(self, i: int, j: int, replacement: str, kind: str) -> _Span:
        return _Span(self.span_start(i), self.groups[j - 1][1], replacement, kind)

    def card_grouping(self, i: int, j: int) -> bool:
        """True when groups i..j-1 are written the way cards print them: 4-4-4-4(-n), 4-6-5, 4-6-4."""
        sizes = [len(text) for text in self.texts[i:j]]
        return (sizes[:4] == [4, 4, 4, 4] and len(sizes) <= 5) or sizes in ([4, 6, 5], [4, 6, 4])

    # Each finder returns the span of the longest number of its kind among the candidates, or None.

    def id_number(self, i: int, candidates: List[_Candidate]) -> Optional[_Span]:
        for j, chars, tidy, _ in candidates:
            if not tidy or len(chars) not in (15, 18) or (len(chars) == 15 and not chars.isdigit()):
                continue
            if self.cue == _ID:
                ok = True
            elif len(chars) == 15:
                ok = False
            elif self.cue in (_ORDER, _CARD):
                ok = id_checksum_ok(chars) and _plausible_birth_date(chars)
            else:
                ok = chars[-1] in "Xx" or id_checksum_ok(chars) or _plausible_birth_date(chars)
            if ok:
                return self.span(i, j, "*" * (len(chars) - 4) + chars[-4:], ID_NUMBER)
        return None

    def mobile(self, i: int, candidates: List[_Candidate]) -> Optional[_Span]:
        for j, digits, tidy, tidy_after_first in candidates:
            prefix = _MOBILE_PREFIXES.get(len(digits))
            if prefix is None or (self.plus and i == 0 and not prefix) or not digits.startswith(prefix):
                continue
            if not _MOBILE_RE.fullmatch(digits, len(prefix)):
                continue
            if not (tidy or (tidy_after_first and self.texts[i] == prefix)):
                continue
            first = self.groups[i][0]
            number_start = (
                self.groups[i + 1][0] if prefix and self.texts[i] == prefix else first + len(prefix)
            )
            shown = self.work[self.span_start(i) : number_start]
            if prefix and not shown.endswith((" ", "-", ".", "(", ")")):
                shown += " "  # `+8613812345678` → `+86 138****5678`
            number = digits[len(prefix) :]
            return self.span(i, j, f"{shown}{number[:3]}****{number[-4:]}", MOBILE)
        return None

    def international(self, i: int, candidates: List[_Candidate]) -> Optional[_Span]:
        if not (i == 0 and self.plus):
            return None
        for j, digits, _, _ in candidates:
            if not (7 <= len(digits) <= 15 and digits.isdigit()):
                continue
            code = self.texts[i]
            if j - i > 1 and len(code) <= 3 and len(digits) - len(code) >= 6:
                return self.span(i, j, f"+{code} {_stars(digits[len(code) :])}", PHONE)
            return self.span(i, j, f"+{_stars(digits)}", PHONE)
        return None

    def bank_card(self, i: int, candidates: List[_Candidate]) -> Optional[_Span]:
        for j, digits, tidy, _ in candidates:
            if not (13 <= len(digits) <= 19 and digits.isdigit()) or self.cue == _ORDER:
                continue
            grouped = self.card_grouping(i, j)
            if (tidy or grouped) and (self.cue == _CARD or grouped or luhn_ok(digits)):
                return self.span(i, j, _stars(digits), BANK_CARD)
        return None

    def landline(self, i: int, candidates: List[_Candidate]) -> Optional[_Span]:
        for j, digits, tidy, _ in candidates:
            if not (
                10 <= len(digits) <= 12
                and tidy
                and digits[0] == "0"
                and digits[1] != "0"
                and digits.isdigit()
            ):
                continue
            area = 3 if digits[1] in "12" else 4
            if (
                len(digits) - area not in (7, 8)
                or (len(self.texts[i]) < area and j - i > 1)
                or self.cue == _ORDER
            ):
                continue
            start, area_end = self.groups[i][0], self.groups[i][0] + area
            if i == 0 and self.work[self.start] == "(":
                start = self.start
            if len(self.texts[i]) == area and j - i > 1:
                separator = self.work[area_end : self.groups[i + 1][0]]
            else:
                separator = "" if self.work[start] == "(" else "-"
            shown = f"{self.work[start:area_end]}{separator}****{digits[-4:]}"
            return _Span(start, self.groups[j - 1][1], shown, LANDLINE)
        return None

    def by_cue(self, i: int, candidates: List[_Candidate]) -> Optional[_Span]:
        for j, digits, tidy, _ in candidates:
            if not (7 <= len(digits) <= 15 and tidy and digits.isdigit()):
                continue
            if self.cue == _PHONE or (self.cue == _PASSPORT and 8 <= len(digits) <= 10):
                return self.span(i, j, _stars(digits), PHONE if self.cue == _PHONE else PASSPORT)
        return None

    def spans(self) -> List[_Span]:
        """The personal data in this chain, left to right."""
        found: List[_Span] = []
        i = 0
        while i < len(self.groups):
            candidates = self.candidates(i)
            if i == 0 and self.plus:  # a number written with + is a phone number
                finders: Tuple[Callable[[int, List[_Candidate]], Optional[_Span]], ...] = (
                    self.mobile,
                    self.international,
                )
            else:
                finders = (self.id_number, self.mobile, self.bank_card, self.landline, self.by_cue)
            span = None
            for finder in finders:
                span = finder(i, candidates)
                if span:
                    break
            if span is None:
                i += 1
                continue
            found.append(span)
            i = next(k for k, (_, end) in enumerate(self.groups) if end == span.end) + 1
        return found


def _numbers(work: str) -> List[_Span]:
    spans: List[_Span] = []
    for match in _CHAIN_RE.finditer(work):
        chain = _Chain(work, match)
        if sum(map(len, chain.texts)) >= 7:
            spans.extend(chain.spans())
    return spans


# --- the public functions ----------------------------------------------------------------------------------


def mask_with_report(text: str) -> Tuple[str, Counter[str]]:
    """Mask personal data in `text` and count what was masked.

    Args:
        text: any text a customer or the assistant wrote.

    Returns:
        The masked text and a Counter of masked kinds (see `KINDS`). Outside masked items the text keeps the
        customer's own characters; a masked item is written with folded (ASCII) digits.
    """
    found: Counter[str] = Counter()
    if not text:
        return text, found
    work = fold(text)
    stages: List[Callable[[str], List[_Span]]] = []
    if "@" in work:
        stages.append(_emails)
    if _DIGIT_RE.search(work):
        if _LETTER_DIGIT_RE.search(work):  # HK ID and passport numbers start with a letter and a digit
            stages += [_hk_ids, _passports]
        stages.append(_numbers)
    spans: List[_Span] = []
    for stage in stages:
        new = stage(work)
        if new:
            spans.extend(new)
            work = _blank(work, new)
    if not spans:
        return text, found
    pieces, position = [], 0
    for span in sorted(spans):
        pieces += [text[position : span.start], span.replacement]
        position = span.end
        found[span.kind] += 1
    pieces.append(text[position:])
    return "".join(pieces), found


def mask(text: str) -> str:
    """Return `text` with phone, ID, passport and bank card numbers and e-mail addresses masked."""
    return mask_with_report(text)[0]


def mask_after(word: str, text: str) -> str:
    """`text` masked as it would be right after `word` in a message: after an order word (`订单号`) an order
    number stays whole, after a phone word (`电话`) any 7-15 digits are masked as a phone (`电话 9123 4567` ->
    `****4567`). For a number shown apart from its message, such as a key fact on the context card."""
    prefix = word + " "
    return mask(prefix + text)[len(prefix):]  # the word has no digit, so it is never masked itself


def mask_value(value: Any) -> Any:
    """Mask every string inside a JSON-like value (dicts, lists, strings); other values are returned as is."""
    if isinstance(value, str):
        return mask(value)
    if isinstance(value, dict):
        return {key: mask_value(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [mask_value(item) for item in value]
    return value
