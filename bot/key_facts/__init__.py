"""Key facts in customer messages: order and tracking numbers, amounts, dates and phone numbers.

`bot.key_facts.extract` finds them with spaCy's rule-based `Matcher` on blank `zh` and `en` pipelines (no model
is downloaded; the Chinese pipeline segments by character); `bot.key_facts.words` holds the words that say what
a number is. The Rasa component `bot.nlu.key_facts.KeyFactExtractor` adds them to each message as entities;
`bot.handoff.context` gathers them into the context packet (`key_facts`, phones masked) and the desk adds those
of the messages after the handoff (`bot.desk.key_facts`). Measured precision and recall: `docs/nlu.md`.
"""

from __future__ import annotations

ORDER_NUMBER = "order_number"
TRACKING_NUMBER = "tracking_number"
AMOUNT = "amount"
DATE = "date"
PHONE = "phone"
# The entity names, in the order the context card lists them.
KINDS = (ORDER_NUMBER, TRACKING_NUMBER, AMOUNT, DATE, PHONE)
