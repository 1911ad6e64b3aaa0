"""Rasa input channels of Frontline: the web widget (`bot.channels.webchat.WebchatInput`), WeChat Official
Account (`bot.channels.wechat.WeChatInput`, named `wechat`) WeCom (`bot.channels.wecom.WeComInput`, `wecom`) and 微信客服 (`bot.channels.wechat_kf.WeChatKfInput`, `wechat_kf`).

All are registered in `credentials.yml` by module path. Importing this package does no work; see
`docs/channels.md` and `docs/channels-web.md`.
"""

from __future__ import annotations
