"""Find key facts in one message with spaCy's rule-based `Matcher` on blank `zh` and `en` pipelines.

How a message is read:
- Each character is folded first (`bot.handoff.masking.fold`: full-width digits, dashes; positions stay put).
- A message with Han characters goes through a blank `zh` pipeline that segments by character (no jieba or
  pkuseg download), with Latin words merged back into one token each; the others through a blank `en` one with
  its own tokenizer (`WordTokenizer`, linear in the text: words, digit runs, single characters).
- One more pipeline step, in both, merges every number as written into one token: digit groups joined by one
  `-`, `.`, `/`, `:` or a space (after 2+ digits, before 3+), with a leading `+86` or `(0755)`, letters glued
  in front (`SF1234…`) and masked digits (`138****5678`); `1,299.00` is one number too.

What a number is (the `Matcher`'s patterns; when several fit, the strongest wins, then the longest):
1. an amount written with its currency: `¥128.50`, `HK$300`, `50块`, `99.9 元`, `100美元`, `20 dollars`;
2. a date by its shape: `2025-11-03`, `11/3`, `2025年11月3日`, `11月3号`, `Nov 3rd`, `3 November 2025`,
   `昨天`, `上周五`, `last Friday`;
3. a number by a shape that is sure: a mainland mobile (`138-1234-5678`, `+86 …`), a landline with its area
   code, a number with a `+` country code (all `phone`); a carrier's tracking number (`SF…`, `JD…`, `YT…`,
   `1Z…`, the postal `EA123456789CN`);
4. a number after a word that says what it is (`bot.key_facts.words.CUES`; up to `MAX_GAP` tokens between,
   none of them a number or the end of a sentence; the nearest word wins): an order or tracking number (5 or
   more digits), a phone (7 to 15 digits), an amount (not when a unit follows: `付了3次`, `paid 2 times`);
5. an order number that starts with a date (`20251103…`, 14 to 22 digits), when no word says otherwise.
Anything else (times such as `3:30` or `下午3点`, counts, a bare long number) is left alone. Only the dates in
words are sought over the whole message; the other patterns over the tokens around a number (`Pipeline`).
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import re
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

import spacy
from spacy.language import Language
from spacy.matcher import Matcher
from spacy.tokens import Doc
from spacy.util import filter_spans

from bot.handoff.masking import fold
from bot.key_facts import AMOUNT, DATE, ORDER_NUMBER, PHONE, TRACKING_NUMBER
from bot.key_facts import words

logger = logging.getLogger(__name__)

# At most this many tokens (characters, in Chinese) between a cue word and its number.
MAX_GAP = 4

# --- tokens ----------------------------------------------------------------------------------------------------

_GROUP = r"[A-Za-z]{0,5}[0-9*][0-9A-Za-z*]*"
_JOIN = r"(?:[-./:]|(?<=[0-9*]{2}) (?=[0-9*]{3}))"
_NUMBER_RE = re.compile(
    r"(?<![0-9A-Za-z])(?:\+[0-9]{1,3}[ -]?)?(?:\([0-9]{2,4}\)[ -]?)?"
    rf"(?:[0-9]{{1,3}}(?:,[0-9]{{3}})+(?:\.[0-9]+)?(?![0-9])|{_GROUP}(?:{_JOIN}[0-9*][0-9A-Za-z*]*)*)"
)
_LATIN_RE = re.compile(r"[A-Za-z]+")
# The English pipeline's tokens: words, digit runs, runs of other whitespace, any other single character.
_WORD_RE = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)?|[0-9]+|\s+|\S")
_HAN_RE = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


def _merge(doc: Doc, pattern: re.Pattern) -> Doc:
    spans = []
    for match in pattern.finditer(doc.text):
        span = doc.char_span(match.start(), match.end(), alignment_mode="expand")
        if span is not None and len(span) > 1:
            spans.append(span)
    if spans:
        with doc.retokenize() as retokenizer:
            for span in filter_spans(spans):
                retokenizer.merge(span)
    return doc


class WordTokenizer:
    """The English pipeline's tokenizer: a word, a run of digits or any other character is a token; a single space
    after a token is its trailing space, other whitespace a token of its own (so `doc.text` is the text).

    spaCy's own English tokenizer takes time quadratic in the length of a run of punctuation (800 ms for 2,000
    `*`); this one is linear, and the numbers are merged back by `frontline_number_tokens` anyway.
    """

    def __init__(self, vocab: Any) -> None:
        self.vocab = vocab

    def __call__(self, text: str) -> Doc:
        words: List[str] = []
        spaces: List[bool] = []
        for match in _WORD_RE.finditer(text):
            piece = match.group()
            if piece == " " and words and not spaces[-1] and not words[-1].isspace():
                spaces[-1] = True
                continue
            words.append(piece)
            spaces.append(False)
        return Doc(self.vocab, words=words, spaces=spaces)


@Language.component("frontline_number_tokens")
def number_tokens(doc: Doc) -> Doc:
    """Merges each number as written (see the module docstring) into one token."""
    return _merge(doc, _NUMBER_RE)


@Language.component("frontline_latin_words")
def latin_words(doc: Doc) -> Doc:
    """Merges the letters of each Latin word back into one token (the Chinese pipeline splits every character)."""
    return _merge(doc, _LATIN_RE)


# --- token shapes (regular expressions over a token's lower-case text) ------------------------------------------

_DIGIT_OR_MASK = re.compile(r"[0-9*]")
_NUM = r"(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]{1,9})(?:\.[0-9]{1,2})?"
NUMBER = rf"^{_NUM}$"
_GLUED_BEFORE = "|".join(re.escape(c) for c in words.CURRENCY_BEFORE)
_GLUED_AFTER = "|".join(re.escape(c) for c in words.CURRENCY_AFTER if c.isascii())
AMOUNT_GLUED = rf"^(?:(?:{_GLUED_BEFORE}){_NUM}|{_NUM}(?:{_GLUED_AFTER}))$"
IDENTIFIER = r"^(?=(?:[^0-9]*[0-9]){5})[a-z]{0,5}[0-9][0-9a-z-]*$"
PHONE_LIKE = r"^\+?[0-9(*][0-9 ()*-]{5,20}[0-9]$"
MOBILE = r"^(?:\+?86[ -]?|0086[ -]?)?1[3-9][0-9](?:[ -]?[0-9*]{4}){2}$"
LANDLINE = r"^(?:\(0[0-9]{2,3}\)|0[0-9]{2,3})[ -]?[0-9*]{3,4}[ -]?[0-9]{4}$"
INTERNATIONAL = r"^\+[1-9][0-9]{0,2}[ -]?(?:\([0-9]{1,4}\)[ -]?)?[0-9*][0-9* -]{5,14}[0-9]$"
TRACKING = (
    r"^(?:sf[0-9]{12,13}|jd[a-z]?[0-9]{11,15}|yt[0-9]{13,15}|zto[0-9]{10,14}|jt[0-9]{13}|yd[0-9]{13}"
    r"|ems[0-9]{9,13}|1z[0-9a-z]{16}|[a-z]{2}[0-9]{9}[a-z]{2})$"
)
ORDER_BY_DATE = r"^20[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])[0-9]{6,14}$"
DATE_TOKEN = (
    r"^(?:(?:19|20)[0-9]{2}[-/.](?:0?[1-9]|1[0-2])[-/.](?:0?[1-9]|[12][0-9]|3[01])"
    r"|(?:0?[1-9]|1[0-2])/(?:0?[1-9]|[12][0-9]|3[01])(?:/(?:19|20)?[0-9]{2})?"
    r"|(?:1[3-9]|2[0-9]|3[01])/(?:0?[1-9]|1[0-2])/(?:19|20)[0-9]{2})$"
)
YEAR = r"^(?:19|20)[0-9]{2}$"
MONTH = r"^(?:0?[1-9]|1[0-2])$"
DAY = r"^(?:0?[1-9]|[12][0-9]|3[01])$"
DAY_ORDINAL = r"^(?:0?[1-9]|[12][0-9]|3[01])(?:st|nd|rd|th)?$"
CHINESE_NUMERAL = r"^[零〇一二两兩三四五六七八九十百千万萬壹贰貳叁參肆伍陆陸柒捌玖拾佰仟]$"
_FILLER = r"^[^0-9。！？!?；;\n]+$"


def _regex(expression: str, op: Optional[str] = None) -> Dict[str, Any]:
    token: Dict[str, Any] = {"LOWER": {"REGEX": expression}}
    if op:
        token["OP"] = op
    return token


# --- what the matches mean -------------------------------------------------------------------------------------

# Strength of a match kind: lower wins a token several matches want. A phone's or a carrier's shape is surer than
# an order or parcel word before it ("快递员 13698765432" is a phone, "单号 SF…" a tracking number); a number
# whose only sign is its shape (an order number starting with a date) yields to any word.
_CURRENCY, _DATE_SHAPE, _SURE_SHAPE, _CUE, _SHAPE = 0, 1, 2, 3, 4


@dataclasses.dataclass(frozen=True)
class KeyFact:
    """One key fact: its kind (`bot.key_facts.KINDS`), where it is in the message, and its text as written."""

    kind: str
    start: int
    end: int
    text: str


@dataclasses.dataclass(frozen=True)
class _Rule:
    kind: str
    strength: int
    cue_length: int = 0  # tokens of the cue word; the fact is then the match's last token


@dataclasses.dataclass(frozen=True)
class _Candidate:
    start: int  # tokens
    end: int
    kind: str
    strength: int
    distance: int  # tokens between the cue word and the number (0 without one)
    cue_length: int

    def order(self) -> Tuple[int, int, int, int]:
        return (self.strength, self.distance, -(self.end - self.start), -self.cue_length)


@dataclasses.dataclass(frozen=True)
class Pipeline:
    """One language's spaCy pipeline and matchers.

    spaCy's `Matcher` tries every pattern at every token, so a long message without a single number took 130 ms
    through all of them at once. Only the dates in words are sought over the whole message; the other patterns
    are run over the tokens around a number (digits, masked digits, number words), cue words only before one.

    Attributes:
        nlp: the blank pipeline with the merging steps.
        word_matcher: dates in words (昨天, 上周五, last Friday), over the whole message.
        number_matcher: amounts, dates and numbers by their shape, around each number (`AROUND` tokens).
        cue_matcher: a cue word and its number, over the `reach` tokens before each number.
        reach: how many tokens before a number a cue pattern may start.
        rules: what each match key means.
    """

    nlp: Language
    word_matcher: Matcher
    number_matcher: Matcher
    cue_matcher: Matcher
    reach: int
    rules: Dict[str, _Rule]


class KeyFactMatcher:
    """spaCy pipelines and `Matcher`s of one language each (`zh`, `en`), built once.

    Args:
        max_gap: tokens allowed between a cue word and its number.
    """

    def __init__(self, max_gap: int = MAX_GAP) -> None:
        self.max_gap = max_gap
        self._pipelines: Dict[str, Pipeline] = {}

    def pipeline(self, language: str) -> Pipeline:
        """The pipeline and its matchers for `zh` or `en` (built on first use)."""
        if language not in self._pipelines:
            self._pipelines[language] = self._build(language)
        return self._pipelines[language]

    def _build(self, language: str) -> Pipeline:
        if language == "zh":
            nlp = spacy.blank("zh", config={"nlp": {"tokenizer": {"segmenter": "char"}}})
            nlp.add_pipe("frontline_latin_words")
        else:
            nlp = spacy.blank("en")
            nlp.tokenizer = WordTokenizer(nlp.vocab)
        nlp.add_pipe("frontline_number_tokens")
        word_matcher, number_matcher, cue_matcher = Matcher(nlp.vocab), Matcher(nlp.vocab), Matcher(nlp.vocab)
        rules: Dict[str, _Rule] = {}

        def add(key: str, rule: _Rule, patterns: List[List[Dict[str, Any]]], in_words: bool = False) -> None:
            rules[key] = rule
            (word_matcher if in_words else cue_matcher if rule.cue_length else number_matcher).add(key, patterns)

        def phrase(text: str) -> List[Dict[str, Any]]:
            return [{"LOWER": token.lower_} for token in nlp(text) if not token.is_space]

        currency_before = [phrase(word) for word in words.CURRENCY_BEFORE]
        currency_after = [phrase(word) for word in words.CURRENCY_AFTER]
        add("amount:currency", _Rule(AMOUNT, _CURRENCY),
            [before + [_regex(NUMBER)] for before in currency_before]
            + [[_regex(NUMBER)] + after for after in currency_after]
            + [before + [_regex(NUMBER)] + after for before in currency_before for after in currency_after[:6]]
            + [[_regex(AMOUNT_GLUED)]])
        # Amounts in words ("两百元", "fifty bucks"): only with a currency after them.
        number_words = [{"LIKE_NUM": True, "IS_ALPHA": True, "IS_ASCII": True, "OP": "+"}, _regex(CHINESE_NUMERAL, "+")]
        add("amount:words", _Rule(AMOUNT, _CURRENCY),
            [[numeral] + after for numeral in number_words for after in currency_after])
        self._add_dates(nlp, add, phrase)
        gap = [{"LOWER": {"REGEX": _FILLER}, "OP": "?"} for _ in range(self.max_gap)]
        targets = {ORDER_NUMBER: IDENTIFIER, TRACKING_NUMBER: IDENTIFIER, PHONE: PHONE_LIKE, AMOUNT: NUMBER}
        longest_cue = 0
        for kind, cues in words.CUES.items():
            by_length: Dict[int, List[List[Dict[str, Any]]]] = {}
            for cue in dict.fromkeys(cues):
                tokens = phrase(cue)
                longest_cue = max(longest_cue, len(tokens))
                by_length.setdefault(len(tokens), []).append(tokens + gap + [_regex(targets[kind])])
            for length, patterns in by_length.items():
                add(f"cue:{kind}:{length}", _Rule(kind, _CUE, length), patterns)
        add("shape:phone", _Rule(PHONE, _SURE_SHAPE), [[_regex(MOBILE)], [_regex(LANDLINE)], [_regex(INTERNATIONAL)]])
        add("shape:tracking", _Rule(TRACKING_NUMBER, _SURE_SHAPE), [[_regex(TRACKING)]])
        add("shape:order", _Rule(ORDER_NUMBER, _SHAPE), [[_regex(ORDER_BY_DATE)]])
        return Pipeline(nlp, word_matcher, number_matcher, cue_matcher, longest_cue + self.max_gap, rules)

    @staticmethod
    def _add_dates(nlp: Language, add: Any, phrase: Any) -> None:
        day_word = [{"LOWER": {"IN": ["日", "号", "號"]}}]
        zh_date = [_regex(MONTH), {"LOWER": "月"}, _regex(DAY)] + day_word
        months = {"LOWER": {"IN": [month for month in words.MONTHS if not month.endswith(".")]}}
        dot = {"LOWER": ".", "OP": "?"}  # "Nov. 3"
        year = [{"LOWER": ",", "OP": "?"}, _regex(YEAR)]
        patterns = [
            [_regex(DATE_TOKEN)],
            zh_date,
            [_regex(YEAR), {"LOWER": {"IN": ["年"]}}] + zh_date,
            [months, dot, _regex(DAY_ORDINAL)],
            [months, dot, _regex(DAY_ORDINAL)] + year,
            [_regex(DAY_ORDINAL), {"LOWER": "of", "OP": "?"}, months],
            [_regex(DAY_ORDINAL), {"LOWER": "of", "OP": "?"}, months, dot] + year,
        ]
        add("date", _Rule(DATE, _DATE_SHAPE), patterns)
        in_words = [[{"LOWER": {"IN": list(words.WEEK_WORDS_EN)}, "OP": "?"}, {"LOWER": {"IN": list(words.WEEKDAYS_EN)}}]]
        in_words += [phrase(word) for word in words.RELATIVE_DATES]
        in_words += [phrase(word) + [{"LOWER": {"IN": list(words.WEEKDAYS_ZH)}}] for word in words.WEEK_WORDS_ZH]
        add("date:words", _Rule(DATE, _DATE_SHAPE), in_words, in_words=True)

    def extract(self, text: str) -> List[KeyFact]:
        """The key facts of one message, in the order they appear.

        Args:
            text: the message as the customer wrote it.

        Returns:
            One `KeyFact` per fact (start and end index `text`; `text` is the fact as written).
        """
        if not text or not text.strip():
            return []
        folded = fold(text)
        language = "zh" if _HAN_RE.search(folded) else "en"
        pipeline = self.pipeline(language)
        doc = pipeline.nlp(folded)
        matches = set(pipeline.word_matcher(doc))
        numbers = [token.i for token in doc if _DIGIT_OR_MASK.search(token.text) or token.like_num
                   or _CHINESE_NUMERAL_RE.match(token.text)]
        for start, end in _runs((max(0, i - AROUND[0]), min(len(doc), i + AROUND[1] + 1)) for i in numbers):
            matches.update((key, start + s, start + e) for key, s, e in pipeline.number_matcher(doc[start:end]))
        for start, end in _runs((max(0, i - pipeline.reach), i + 1) for i in numbers):  # a cue word, then its number
            matches.update((key, start + s, start + e) for key, s, e in pipeline.cue_matcher(doc[start:end]))
        strings = pipeline.nlp.vocab.strings
        candidates = [
            candidate
            for key, start, end in matches
            for candidate in [self._candidate(doc, pipeline.rules[strings[key]], start, end)]
            if candidate is not None
        ]
        chosen: List[_Candidate] = []
        taken: set = set()
        for candidate in sorted(candidates, key=_Candidate.order):
            tokens = set(range(candidate.start, candidate.end))
            if tokens & taken:
                continue
            taken |= tokens
            chosen.append(candidate)
        facts = []
        for candidate in sorted(chosen, key=lambda c: c.start):
            span = doc[candidate.start:candidate.end]
            facts.append(KeyFact(candidate.kind, span.start_char, span.end_char, text[span.start_char:span.end_char]))
        return facts

    def _candidate(self, doc: Doc, rule: _Rule, start: int, end: int) -> Optional[_Candidate]:
        if rule.kind == AMOUNT and not rule.cue_length and not _plausible_money(doc[start:end]):
            return None
        if not rule.cue_length:
            return _Candidate(start, end, rule.kind, rule.strength, 0, 0)
        target = doc[end - 1]
        if rule.kind == PHONE and not 7 <= len(_DIGIT_OR_MASK.findall(target.text)) <= 15:
            return None
        if rule.kind == AMOUNT and end < len(doc) and doc[end].lower_ in _NOT_MONEY_AFTER:
            return None
        return _Candidate(end - 1, end, rule.kind, rule.strength, end - 1 - (start + rule.cue_length), rule.cue_length)


_NOT_MONEY_AFTER = frozenset(words.NOT_MONEY_AFTER) | frozenset(words.CURRENCY_AFTER)
_CHINESE_NUMERAL_RE = re.compile(CHINESE_NUMERAL)
# How far a number pattern reaches from its number: tokens before (HK $ 300; 2025 年 11 月 3 日 from the 3) and after
# (300 澳 门 币; November 3rd , 2025 from November's 3rd… from the 2025 back).
AROUND = (5, 6)


def _runs(ranges: Iterable[Tuple[int, int]]) -> List[Tuple[int, int]]:
    """Overlapping or touching (start, end) ranges, sorted, merged into runs."""
    merged: List[Tuple[int, int]] = []
    for start, end in sorted(ranges):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged
_LARGE_NUMERALS = frozenset("十百千万拾佰仟萬")


def _plausible_money(span: Any) -> bool:
    """False for number words that are no sum of money: `一块` and `两块` (together, two pieces) without 十百千万,
    or a lone English word such as `one dollar`'s `one` glued into `every one dollar` (kept: it is money)."""
    if span[0].is_digit or span[-1].lower_ not in ("块", "塊"):
        return True
    return any(character in _LARGE_NUMERALS for token in span[:-1] for character in token.text)


@functools.lru_cache(maxsize=1)
def default_matcher() -> KeyFactMatcher:
    """The process's matcher (its pipelines are built on first use, about a second each)."""
    return KeyFactMatcher()


def extract(text: str) -> List[KeyFact]:
    """The key facts of one message (`KeyFactMatcher.extract` with the default settings)."""
    return default_matcher().extract(text)


def extract_all(texts: Iterable[str]) -> List[List[KeyFact]]:
    """The key facts of each text."""
    matcher = default_matcher()
    return [matcher.extract(text) for text in texts]


def kinds_in(facts: Sequence[KeyFact]) -> List[str]:
    """The kinds of `facts`, in order (a helper for tests and logs)."""
    return [fact.kind for fact in facts]
