"""The 微信客服 (WeChat Customer Service, WeCom `kf`) API client: pull messages, send, greet, session states.

One client per service account (`open_kfid`), on the WeCom token machinery of `bot.channels.wechat_api`
(`cgi-bin/gettoken` with the CorpID and the 微信客服 Secret; one refresher; refresh once on 40001/40014/42001;
retries with backoff on -1, network errors and HTTP 5xx). The endpoints (developer.work.weixin.qq.com, document
path 94670 and neighbours):

- `POST cgi-bin/kf/sync_msg` `{cursor, token, limit, open_kfid}` → `{next_cursor, has_more, msg_list}`;
- `POST cgi-bin/kf/send_msg` `{touser, open_kfid, msgtype: text, text: {content}}` → `{msgid}`;
- `POST cgi-bin/kf/send_msg_on_event` `{code, msgtype: text, text: {content}}` (the `welcome_code` of an
  `enter_session` event, usable once, within 20 s);
- `POST cgi-bin/kf/service_state/get` `{open_kfid, external_userid}` → `{service_state, servicer_userid}` and
  `cgi-bin/kf/service_state/trans` `{open_kfid, external_userid, service_state, servicer_userid}`.

wechatpy 1.8.18 has no `kf` client (2.x added one), so the request shapes are written here.
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import functools
import logging
from typing import Any, Dict, List, Optional, Tuple

from bot.channels.wechat_api import WECOM_API_BASE, WeChatApiError, _TokenApiClient

logger = logging.getLogger(__name__)

SYNC_LIMIT = 1000  # the most messages one `sync_msg` may return (the API's maximum)
SESSION_STATE_INVALID = 95018  # "send msg session status invalid": the session is not in a state the API may send in


class ServiceState(enum.IntEnum):
    """A 微信客服 session's state (`service_state`)."""

    NEW = 0  # 未处理: a new session, not yet served
    ASSISTANT = 1  # 由智能助手接待: served through the API (the assistant, and the desk's agents through it)
    QUEUE = 2  # 待接入池排队中: in WeCom's own waiting pool
    HUMAN = 3  # 由人工接待: a WeCom servicer (`servicer_userid`) in the WeCom client
    ENDED = 4  # 已结束: no change allowed until the customer writes again


# The states in which `send_msg` is allowed (the API refuses the others with 95018).
API_SENDS_IN = frozenset({ServiceState.NEW, ServiceState.ASSISTANT})


class SessionStateInvalid(WeChatApiError):
    """95018: the session's state does not allow the API to send (a WeCom servicer has it, or it is queued)."""


@dataclasses.dataclass(frozen=True)
class SyncPage:
    """One `sync_msg` answer.

    Args:
        messages: the `msg_list` entries, oldest first.
        next_cursor: the cursor of the next page (keep it: it is the only bookmark).
        has_more: another page waits.
    """

    messages: List[Dict[str, Any]]
    next_cursor: str
    has_more: bool


class WeChatKfApiClient(_TokenApiClient):
    """The 微信客服 API of one service account.

    Args:
        corp_id: the CorpID.
        secret: the 微信客服 Secret (WeCom admin → 微信客服 → API).
        open_kfid: the service account (`wk…`) this channel answers for.
        **kwargs: see `_TokenApiClient` (`base_url`, timeouts, retries, `max_reply_bytes`).
    """

    api = "wechat_kf"
    default_base = WECOM_API_BASE
    _send_path = "/cgi-bin/kf/send_msg"

    def __init__(self, corp_id: str, secret: str, open_kfid: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.corp_id = corp_id
        self.secret = secret
        self.open_kfid = open_kfid

    def _configured(self) -> bool:
        return bool(self.corp_id and self.secret and self.open_kfid)

    def _token_request(self) -> Tuple[str, Dict[str, str]]:
        return "/cgi-bin/gettoken", {"corpid": self.corp_id, "corpsecret": self.secret}

    def _text_payload(self, user_id: str, content: str) -> Dict[str, Any]:
        return {"touser": user_id, "open_kfid": self.open_kfid, "msgtype": "text", "text": {"content": content}}

    def post(self, path: str, payload: Dict[str, Any]) -> Dict[str, Any]:
        """See `_TokenApiClient.post`; 95018 raises `SessionStateInvalid`."""
        try:
            return super().post(path, payload)
        except WeChatApiError as error:
            if error.errcode == SESSION_STATE_INVALID:
                raise SessionStateInvalid(error.errcode, error.errmsg, self.api) from error
            raise

    # -- messages -------------------------------------------------------------------------------------------
    def sync_msg(self, cursor: str, token: str = "", limit: int = SYNC_LIMIT) -> SyncPage:
        """Pull the next page of messages and events after `cursor` ("" for the first).

        Args:
            cursor: the `next_cursor` of the previous page.
            token: the callback's `Token` (10 minutes; without it the API limits the call rate strictly).
            limit: at most this many messages (1..1000).

        Raises:
            WeChatApiError: the API refused; nothing was consumed (the same cursor may be asked again).
        """
        payload: Dict[str, Any] = {"cursor": cursor or "", "limit": max(1, min(SYNC_LIMIT, limit)), "open_kfid": self.open_kfid}
        if token:
            payload["token"] = token
        data = self.post("/cgi-bin/kf/sync_msg", payload)
        messages = data.get("msg_list")
        if not isinstance(messages, list):
            raise WeChatApiError(None, "sync_msg answer without msg_list", self.api)
        return SyncPage(
            [m for m in messages if isinstance(m, dict)], str(data.get("next_cursor") or cursor or ""), bool(data.get("has_more"))
        )

    def send_on_event(self, code: str, text: str) -> None:
        """Greet with the one-time `welcome_code` of an `enter_session` event (one text message).

        Raises:
            WeChatApiError: the code was used or expired (20 s), or the API refused.
        """
        parts = self.reply_parts(text)
        if parts:
            self.post("/cgi-bin/kf/send_msg_on_event", {"code": code, "msgtype": "text", "text": {"content": parts[0]}})

    # -- session state --------------------------------------------------------------------------------------
    def service_state(self, external_userid: str) -> ServiceState:
        """The session's state (`service_state/get`)."""
        data = self.post("/cgi-bin/kf/service_state/get", {"open_kfid": self.open_kfid, "external_userid": external_userid})
        try:
            return ServiceState(int(data.get("service_state", 0)))
        except (TypeError, ValueError) as error:
            raise WeChatApiError(None, f"unknown service_state {data.get('service_state')!r}", self.api) from error

    def trans_state(self, external_userid: str, state: ServiceState, servicer_userid: Optional[str] = None) -> None:
        """Move the session to `state` (`service_state/trans`); a WeCom servicer is needed for `HUMAN`."""
        payload: Dict[str, Any] = {"open_kfid": self.open_kfid, "external_userid": external_userid, "service_state": int(state)}
        if servicer_userid:
            payload["servicer_userid"] = servicer_userid
        self.post("/cgi-bin/kf/service_state/trans", payload)

    async def call_async(self, method: str, *args: Any) -> Any:
        """Run one of this client's methods in a thread executor, so the event loop never blocks."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, functools.partial(getattr(self, method), *args))
