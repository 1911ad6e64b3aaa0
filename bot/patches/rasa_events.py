"""Rasa's event-type lookup, made a dictionary lookup (process-wide).

Rasa resolves the class of every stored event by walking all subclasses of `Event` (about 60) each time;
loading a tracker of a few dozen events spent several milliseconds there per turn. `install()` caches the
classes found; a miss falls back to Rasa's own lookup, so event classes defined later are still found. The
SQL tracker store (`bot.stores`) installs it when it is created.

Why not the public API: Rasa offers no event registry or hook; `Event.resolve_by_type` is a static method that
every event-decoding path (`Event.from_parameters`, `Event.from_story_string`) calls by name.
"""

from __future__ import annotations

import logging
from typing import Any

from bot.patches.versions import pin

logger = logging.getLogger(__name__)

PIN = pin("rasa", "==3.6.21", __name__, recheck=(
    "rasa/shared/core/events.py: Event.resolve_by_type (still a static method taking (type_name, default), "
    "still the one lookup that Event.from_parameters and from_story_string call)"
))


def install() -> None:
    """Cache `Event.resolve_by_type` (once; see the module docstring)."""
    from rasa.shared.core import events

    PIN.check()
    if getattr(events.Event, "_frontline_type_cache", None) is not None:
        return
    original = events.Event.resolve_by_type
    cache: dict = {}

    def resolve_by_type(type_name: str, default: Any = None) -> Any:
        found = cache.get(type_name)
        if found is None:
            found = original(type_name, default)
            if found is not None and getattr(found, "type_name", None) == type_name:
                cache[type_name] = found
        return found

    events.Event.resolve_by_type = staticmethod(resolve_by_type)  # type: ignore[assignment]
    events.Event._frontline_type_cache = cache  # type: ignore[attr-defined]
    logger.debug("rasa event-type lookup cached")
