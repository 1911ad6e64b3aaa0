"""How much of one customer message the NLU components read.

A message's meaning, its language and its anger are in its start; the work of featurizing it grows with its
length (about 5 µs per character through the anger model and the n-gram classifier together). Reading at
most `MAX_CHARS` keeps one pasted essay, or a deliberately huge message, from holding up every other
customer's turn: Rasa runs the NLU of all conversations in one event loop. The message itself is stored whole
in the tracker and reaches an agent whole; only what the components featurize is cut. (The sentence encoder
reads fewer still: `bot.nlu.e5.MAX_CHARS`.)
"""

from __future__ import annotations

# Characters of a message the NLU components read (a long chat message is a few hundred).
MAX_CHARS = 2000


def head(text: str) -> str:
    """The part of a message text that the NLU components read: its first `MAX_CHARS` characters after any
    leading whitespace."""
    return text.lstrip()[:MAX_CHARS]
