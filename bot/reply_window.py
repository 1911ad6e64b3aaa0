"""Reply windows: how long a channel lets the business write to a customer after the customer's last message.

WeChat's customer-service APIs (Official Account `message/custom/send`, 微信客服 `kf/send_msg`) accept messages
only for 48 hours after the customer last wrote (then 45015 / a refused send); the customer must write again.
The settings say which channels have such a window and how long it is (`settings.yml: reply_window`):

    reply_window:
      hours: 48              # the window after the customer's last message
      warn_hours: 4          # the desk warns this long before it closes
      channels: [wechat, wecom, wechat_kf]

Pure functions of (channel, moment, settings); the sentences are `bot.texts`'s, used by `action_handoff` (the
off-hours promise) and the desk's ticket JSON (`reply_window` of a ticket, shown in the console).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any, Mapping, Optional

from bot.settings import SettingsError, load_settings

DEFAULT_HOURS = 48.0
DEFAULT_WARN_HOURS = 4.0
DEFAULT_CHANNELS = ("wechat", "wecom", "wechat_kf")


@dataclasses.dataclass(frozen=True)
class WindowRule:
    """The reply-window settings.

    Args:
        hours: how long after the customer's last message the business may write.
        warn_hours: how long before the close the desk warns the agent.
        channels: the channels that have a window.
    """

    hours: float = DEFAULT_HOURS
    warn_hours: float = DEFAULT_WARN_HOURS
    channels: frozenset = frozenset(DEFAULT_CHANNELS)

    @classmethod
    def from_settings(cls, settings: Optional[Mapping[str, Any]] = None) -> WindowRule:
        """The rule from `settings.yml: reply_window` (the defaults when the section is absent).

        Raises:
            SettingsError: a value that is not a positive number, or channels that are not a list of names.
        """
        data = load_settings() if settings is None else settings
        section = data.get("reply_window")
        if section is None:
            return cls()
        if not isinstance(section, Mapping):
            raise SettingsError("reply_window: must be a mapping (hours, warn_hours, channels)")
        values = {}
        for key, default in (("hours", DEFAULT_HOURS), ("warn_hours", DEFAULT_WARN_HOURS)):
            value = section.get(key, default)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                raise SettingsError(f"reply_window.{key}: must be a positive number of hours, not {value!r}")
            values[key] = float(value)
        channels = section.get("channels", list(DEFAULT_CHANNELS))
        if not isinstance(channels, list) or not all(isinstance(c, str) and c for c in channels):
            raise SettingsError(f"reply_window.channels: must be a list of channel names, not {channels!r}")
        if values["warn_hours"] >= values["hours"]:
            raise SettingsError("reply_window.warn_hours: must be shorter than reply_window.hours")
        return cls(values["hours"], values["warn_hours"], frozenset(channels))

    def applies(self, channel: Optional[str]) -> bool:
        """True when `channel` has a reply window."""
        return channel in self.channels

    def closes_at(self, last_customer_message: dt.datetime) -> dt.datetime:
        """When the window opened by a customer message at `last_customer_message` closes."""
        return last_customer_message + dt.timedelta(hours=self.hours)

    def closes_at_ts(self, last_customer_message: float) -> float:
        """`closes_at` in epoch seconds."""
        return last_customer_message + self.hours * 3600

    def state(self, closes_at: float, now: float) -> str:
        """`open`, `closing` (within `warn_hours` of the close) or `closed`."""
        if now >= closes_at:
            return "closed"
        return "closing" if closes_at - now <= self.warn_hours * 3600 else "open"
