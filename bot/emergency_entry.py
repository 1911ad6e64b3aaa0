"""The emergency entry customers can see: the greeting's quick-reply button and the WeChat menu items that lead
to the 24/7 lane (`settings.yml: emergency.entry_payload`, `emergency.menu_keys`).

Pure: no Rasa, no I/O but the settings file. The payload (`/faq_emergency`) is an intent of
`emergency.intents`, so the assistant answers it with the emergency line and then hands over with reason
`emergency`, grade A, skill `emergency` (`bot.escalation`), at any hour.
"""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Mapping, Optional

from bot import texts
from bot.settings import SettingsError

logger = logging.getLogger(__name__)

DEFAULT_PAYLOAD = "/faq_emergency"


def _section(settings: Optional[Mapping[str, Any]]) -> Mapping[str, Any]:
    if settings is None:
        from bot.settings import load_settings

        settings = load_settings()
    section = settings.get("emergency")
    return section if isinstance(section, Mapping) else {}


def entry_payload(settings: Optional[Mapping[str, Any]] = None) -> str:
    """The payload of the emergency entry (`emergency.entry_payload`, default `/faq_emergency`).

    Raises:
        SettingsError: the payload is not `/<intent>` of an intent listed in `emergency.intents`.
    """
    section = _section(settings)
    payload = section.get("entry_payload", DEFAULT_PAYLOAD)
    intents = section.get("intents") or []
    if not isinstance(intents, list) or not isinstance(payload, str) or not payload.startswith("/") or payload[1:] not in intents:
        raise SettingsError(
            f"emergency.entry_payload: must be '/<intent>' of an intent in emergency.intents, not {payload!r}"
        )
    return payload


def button(lang: Optional[str], settings: Optional[Mapping[str, Any]] = None) -> Dict[str, str]:
    """The quick-reply button of the greeting: "紧急情况请点击此处" / "Emergency? Tap here", in `lang`."""
    return {"title": texts.emergency_button(lang), "payload": entry_payload(settings)}


def menu_keys(settings: Optional[Mapping[str, Any]] = None) -> List[str]:
    """The menu keys (lower case) that lead to the emergency lane (`emergency.menu_keys`).

    Raises:
        SettingsError: `menu_keys` is not a list of non-empty strings.
    """
    keys = _section(settings).get("menu_keys") or []
    if not isinstance(keys, list) or not all(isinstance(key, str) and key.strip() for key in keys):
        raise SettingsError(f"emergency.menu_keys: must be a list of menu keys, not {keys!r}")
    return [key.strip().lower() for key in keys]


def menu_payload(key: Any, settings: Optional[Mapping[str, Any]] = None) -> Optional[str]:
    """The payload a WeChat menu click leads to: the emergency entry for a key of `emergency.menu_keys` (any
    case; an Official Account / WeCom `EventKey`, a 微信客服 `menu_id`), else None.

    A broken `emergency:` section is logged and gives None: the click then goes on as the channel handles any
    other click (never a crash in the channel).
    """
    if not isinstance(key, str) or not key.strip():
        return None
    try:
        if key.strip().lower() in menu_keys(settings):
            return entry_payload(settings)
    except (SettingsError, OSError) as error:
        logger.error("emergency menu: %s", error)
    return None


def validate(settings: Optional[Mapping[str, Any]] = None) -> None:
    """Check `emergency.entry_payload` and `emergency.menu_keys` (`python -m bot run` does, before starting).

    Raises:
        SettingsError: either is wrong; the message names the key.
    """
    entry_payload(settings)
    menu_keys(settings)
