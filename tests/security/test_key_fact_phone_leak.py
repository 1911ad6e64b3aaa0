"""Attack: read a customer's phone number off the context card's key facts.

The key facts are shown apart from the message they came from, so the transcript's masking (which reads the words
around a number) does not protect them by itself: every phone the extractor finds must reach the agent masked (the four
digits before its last four hidden), in the packet (`bot.handoff.context.key_facts`) and in the desk's per-message facts
(`bot.key_facts.shown.message_facts`, on the stored masked text). Fails if `shown_value` stops masking.
"""

from __future__ import annotations

import re

import pytest

from bot.handoff import context, masking
from bot.key_facts.extract import extract
from bot.key_facts.shown import message_facts

PHONES = [
    "手机13812345678", "电话 138-1234-5678", "tel +86 138 1234 5678", "手机１３８１２３４５６７８",
    "call me at 9123 4567", "reach me at +852 9123 4567", "座机 010-62345678", "call (0755) 2345 6789",
    "my mobile: +1 415-555-0132", "联系电话：+44 20 7946 0958", "回电 0086 13912345678",
]


def digits(text: str) -> str:
    return re.sub(r"[^0-9]", "", masking.fold(text))


@pytest.mark.parametrize("text", PHONES)
def test_a_phone_in_the_packets_key_facts_is_masked(text) -> None:
    (found,) = [fact for fact in extract(text) if fact.kind == "phone"]
    event = {"event": "user", "text": text, "timestamp": 1.0,
             "parse_data": {"entities": [{"entity": "phone", "value": found.text}]}}
    (shown,) = context.key_facts([event])
    # masked as the transcript masks a phone: a country code, a mobile's first three and the last four digits may
    # stay; the four before the last four may not
    assert "*" in shown["value"], shown
    assert digits(found.text)[-8:-4] not in digits(shown["value"])[-8:], shown


@pytest.mark.parametrize("text", PHONES)
def test_a_phone_in_a_stored_message_is_masked(text) -> None:
    stored = masking.mask(text)  # the desk stores customer messages masked
    for fact in message_facts(stored):
        if fact["kind"] == "phone":
            number = digits(fact["value"])
            assert "*" in fact["value"] and digits(extract(text)[0].text)[-8:-4] not in number[-8:], fact
