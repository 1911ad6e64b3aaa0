"""Outbound clients for the WeChat Official Account and WeCom APIs, and reply splitting.

One client class per API (`WeChatApiClient`, `WeComApiClient`), each configured with a base URL so tests
point it at a local server that speaks the real protocol (`tests/channels/fake_wechat_api.py`).

- The access token is fetched once and cached until shortly before it expires; one lock per client means one
  refresher, however many threads send at once.
- 40001 / 40014 / 42001 (token invalid or expired): the token is refreshed and the call retried **once**.
- -1 (system busy), network errors and HTTP 5xx: retried with exponential backoff, then `ApiUnavailable`.
- 45015 (outside the 48-hour window) and 45047 (quota used up) raise `OutOfResponseWindow` and `OutOfQuota`.
- The clients are synchronous (`requests`); the `*_async` methods run them in a thread executor.

wechatpy's `WeChatClient` is not used here: its token URL is absolute (it cannot be pointed at a test server
through `API_BASE_URL` alone), it has no single-refresher lock, and it does not retry -1 with backoff.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import threading
import time
from typing import Any, Callable, Dict, List, Optional, Tuple

from bot.channels.wechat_security import xml_text

logger = logging.getLogger(__name__)

WECHAT_API_BASE = "https://api.weixin.qq.com"
WECOM_API_BASE = "https://qyapi.weixin.qq.com"
DEFAULT_MAX_REPLY_BYTES = 2048

TOKEN_ERRORS = frozenset({40001, 40014, 42001})
BUSY_ERRORS = frozenset({-1})
OUT_OF_RESPONSE_TIME_LIMIT = 45015
OUT_OF_RESPONSE_COUNT_LIMIT = 45047


class WeChatApiError(Exception):
    """An API call failed with an error code (`errcode`, `errmsg`).

    Args:
        errcode: the platform's error code (None for transport failures).
        errmsg: the platform's message or a description of the failure.
        api: which API ("wechat" or "wecom").
    """

    def __init__(self, errcode: Optional[int], errmsg: str, api: str = "wechat") -> None:
        self.errcode = errcode
        self.errmsg = errmsg
        self.api = api
        super().__init__(self._describe())

    def _describe(self) -> str:
        return f"{self.api} API error {self.errcode}: {self.errmsg}"


class OutOfResponseWindow(WeChatApiError):
    """45015: the 48-hour customer-service window has passed; the customer must write first."""

    def _describe(self) -> str:
        return (
            f"{self.api} API error 45015: the 48-hour customer-service window has passed, "
            f"the customer must write first ({self.errmsg})"
        )


class OutOfQuota(WeChatApiError):
    """45047: the customer-service message quota for this customer message is used up."""

    def _describe(self) -> str:
        return (
            f"{self.api} API error 45047: the customer-service message quota is used up until the "
            f"customer writes again ({self.errmsg})"
        )


class ApiUnavailable(WeChatApiError):
    """The API stayed unreachable or busy (-1, network errors, HTTP 5xx) after the retries."""


class ApiNotConfigured(WeChatApiError):
    """The AppID/secret (or CorpID/secret/AgentID) needed to call the API are not set."""


def _raise_for_errcode(data: Dict[str, Any], api: str) -> None:
    errcode = data.get("errcode", 0)
    try:
        errcode = int(errcode or 0)
    except (TypeError, ValueError):
        errcode = -999
    if errcode == 0:
        return
    errmsg = str(data.get("errmsg", ""))
    if errcode == OUT_OF_RESPONSE_TIME_LIMIT:
        raise OutOfResponseWindow(errcode, errmsg, api)
    if errcode == OUT_OF_RESPONSE_COUNT_LIMIT:
        raise OutOfQuota(errcode, errmsg, api)
    raise WeChatApiError(errcode, errmsg, api)


class _TokenApiClient:
    """Shared machinery: token cache, one refresher, retries with backoff, refresh-once on token errors.

    Args:
        base_url: the API host, e.g. `https://api.weixin.qq.com` (no trailing path).
        timeout: seconds per HTTP request.
        max_attempts: tries per request for -1, network errors and HTTP 5xx.
        backoff_seconds: first backoff delay; doubled after each failed try.
        refresh_margin_seconds: renew the token this long before it expires (at most half its lifetime).
        max_reply_bytes: longest text message, in UTF-8 bytes; longer texts are split.
        session: a `requests.Session` (a new one when None).
        sleep: the sleep function used for backoff (tests inject one).
        clock: a monotonic clock for token expiry (tests inject one).
    """

    api = "wechat"
    default_base = WECHAT_API_BASE

    def __init__(
        self,
        base_url: Optional[str] = None,
        timeout: float = 5.0,
        max_attempts: int = 3,
        backoff_seconds: float = 0.5,
        refresh_margin_seconds: float = 300.0,
        max_reply_bytes: int = DEFAULT_MAX_REPLY_BYTES,
        session: Any = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.base_url = (base_url or self.default_base).rstrip("/")
        self.timeout = timeout
        self.max_attempts = max(1, max_attempts)
        self.backoff_seconds = backoff_seconds
        self.refresh_margin_seconds = refresh_margin_seconds
        self.max_reply_bytes = max_reply_bytes
        self._session = session
        self._sleep = sleep
        self._clock = clock
        self._lock = threading.Lock()
        self._token: Optional[str] = None
        self._expires_at = 0.0

    # -- subclass hooks -------------------------------------------------------------------------------------
    def _configured(self) -> bool:
        raise NotImplementedError

    def _token_request(self) -> Tuple[str, Dict[str, str]]:
        raise NotImplementedError

    def _text_payload(self, user_id: str, content: str) -> Dict[str, Any]:
        raise NotImplementedError

    _send_path = ""

    # -- HTTP -----------------------------------------------------------------------------------------------
    @property
    def session(self) -> Any:
        if self._session is None:
            import requests

            self._session = requests.Session()
        return self._session

    def _request_json(self, method: str, path: str, params: Dict[str, str], body: Optional[bytes]) -> Dict[str, Any]:
        """One API request with retries on -1, network errors and HTTP 5xx; returns the JSON object."""
        import requests

        url = self.base_url + path
        headers = {"Content-Type": "application/json; charset=utf-8"} if body is not None else {}
        last_error = "no attempt made"
        for attempt in range(self.max_attempts):
            if attempt:
                delay = self.backoff_seconds * (2 ** (attempt - 1))
                logger.info("%s API %s: retry %d after %.2fs (%s)", self.api, path, attempt, delay, last_error)
                self._sleep(delay)
            try:
                response = self.session.request(
                    method, url, params=params, data=body, headers=headers, timeout=self.timeout
                )
            except requests.RequestException as error:
                last_error = f"network error {type(error).__name__}"
                logger.debug("%s API %s network error", self.api, path, exc_info=True)
                continue
            if response.status_code >= 500:
                last_error = f"HTTP {response.status_code}"
                continue
            try:
                data = response.json()
            except ValueError:
                last_error = f"HTTP {response.status_code} with a body that is not JSON"
                continue
            if not isinstance(data, dict):
                last_error = "JSON that is not an object"
                continue
            if data.get("errcode") in BUSY_ERRORS:
                last_error = f"errcode {data.get('errcode')} {data.get('errmsg', '')}"
                continue
            return data
        logger.error("%s API %s failed after %d tries: %s", self.api, path, self.max_attempts, last_error)
        raise ApiUnavailable(-1, f"{path} failed after {self.max_attempts} tries: {last_error}", self.api)

    # -- token ----------------------------------------------------------------------------------------------
    def access_token(self, stale: Optional[str] = None) -> str:
        """Return a valid access token, fetching it when absent, near expiry, or equal to `stale`.

        Args:
            stale: a token the API just rejected; refreshed unless another thread already replaced it.

        Raises:
            ApiNotConfigured: credentials are missing.
            WeChatApiError: the token endpoint refused.
        """
        if not self._configured():
            raise ApiNotConfigured(None, "credentials are not configured", self.api)
        with self._lock:
            if stale is not None and self._token is not None and self._token != stale:
                return self._token
            if stale is None and self._token and self._clock() < self._expires_at:
                return self._token
            path, params = self._token_request()
            data = self._request_json("GET", path, params, None)
            _raise_for_errcode(data, self.api)
            token = data.get("access_token")
            if not token:
                raise WeChatApiError(None, "token response without access_token", self.api)
            try:
                expires_in = float(data.get("expires_in", 7200))
            except (TypeError, ValueError):
                expires_in = 7200.0
            margin = min(self.refresh_margin_seconds, expires_in / 2)
            self._token = str(token)
            self._expires_at = self._clock() + expires_in - margin
            logger.info("%s API: access token refreshed (valid %ds)", self.api, int(expires_in))
            return self._token

    # -- calls ----------------------------------------------------------------------------------------------
    def post(self, path: str, payload: Dict[str, Any]) -> Dict[str, Any]:
        """POST a JSON payload with the access token; refresh the token once on 40001/40014/42001.

        Raises:
            OutOfResponseWindow: 45015.
            OutOfQuota: 45047.
            ApiUnavailable: still failing after retries.
            WeChatApiError: any other error code.
        """
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        token = self.access_token()
        data = self._request_json("POST", path, {"access_token": token}, body)
        if data.get("errcode") in TOKEN_ERRORS:
            logger.info("%s API %s: token rejected (%s), refreshing once", self.api, path, data.get("errcode"))
            token = self.access_token(stale=token)
            data = self._request_json("POST", path, {"access_token": token}, body)
        _raise_for_errcode(data, self.api)
        return data

    def send_text(self, user_id: str, text: str) -> int:
        """Send a text message, split into several when longer than `max_reply_bytes`.

        Characters XML 1.0 does not allow (control characters pasted from Word, for example) are removed first,
        as from passive replies (`wechat_security.xml_text`).

        Args:
            user_id: the OpenID (Official Account) or UserID (WeCom).
            text: the message.

        Returns:
            How many messages were sent.

        Raises:
            WeChatApiError: a part could not be sent (earlier parts were sent).
        """
        if not self._configured():
            raise ApiNotConfigured(None, "credentials are not configured", self.api)
        parts = self.reply_parts(text)
        for part in parts:
            self.post(self._send_path, self._text_payload(user_id, part))
        return len(parts)

    def reply_parts(self, text: str) -> List[str]:
        """The messages `send_text` sends for `text`, in order (each sent alone is sent unchanged)."""
        return split_reply(xml_text(text or ""), self.max_reply_bytes)

    async def send_text_async(self, user_id: str, text: str) -> int:
        """`send_text` in a thread executor, so the event loop never blocks."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, functools.partial(self.send_text, user_id, text))


class WeChatApiClient(_TokenApiClient):
    """The Official Account API: `cgi-bin/token` and the customer-service `message/custom/send`.

    Args:
        app_id: the AppID.
        app_secret: the AppSecret.
        **kwargs: see `_TokenApiClient`.
    """

    api = "wechat"
    default_base = WECHAT_API_BASE
    _send_path = "/cgi-bin/message/custom/send"

    def __init__(self, app_id: str, app_secret: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.app_id = app_id
        self.app_secret = app_secret

    def _configured(self) -> bool:
        return bool(self.app_id and self.app_secret)

    def _token_request(self) -> Tuple[str, Dict[str, str]]:
        return "/cgi-bin/token", {
            "grant_type": "client_credential",
            "appid": self.app_id,
            "secret": self.app_secret,
        }

    def _text_payload(self, user_id: str, content: str) -> Dict[str, Any]:
        return {"touser": user_id, "msgtype": "text", "text": {"content": content}}


class WeComApiClient(_TokenApiClient):
    """The WeCom API: `cgi-bin/gettoken` and the application message `message/send`.

    Args:
        corp_id: the CorpID.
        corp_secret: the application's Secret.
        agent_id: the application's AgentID.
        **kwargs: see `_TokenApiClient`.
    """

    api = "wecom"
    default_base = WECOM_API_BASE
    _send_path = "/cgi-bin/message/send"

    def __init__(self, corp_id: str, corp_secret: str, agent_id: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.corp_id = corp_id
        self.corp_secret = corp_secret
        self.agent_id = agent_id

    def _configured(self) -> bool:
        return bool(self.corp_id and self.corp_secret and str(self.agent_id or "").strip().isdigit())

    def _token_request(self) -> Tuple[str, Dict[str, str]]:
        return "/cgi-bin/gettoken", {"corpid": self.corp_id, "corpsecret": self.corp_secret}

    def _text_payload(self, user_id: str, content: str) -> Dict[str, Any]:
        return {
            "touser": user_id,
            "msgtype": "text",
            "agentid": int(self.agent_id),
            "text": {"content": content},
            "safe": 0,
        }

    def post(self, path: str, payload: Dict[str, Any]) -> Dict[str, Any]:
        """See `_TokenApiClient.post`; also warns when WeCom reports the user as invalid."""
        data = super().post(path, payload)
        if data.get("invaliduser"):
            logger.warning("wecom API %s: invalid user reported", path)
            raise WeChatApiError(81013, "invaliduser: the user cannot receive application messages", self.api)
        return data


# -- reply splitting ----------------------------------------------------------------------------------------
_SENTENCE_END = "。！？!?；;…\n"
_CLOSERS = "”’」』）)】》\"'"
_SOFT_BREAKS = "，,、：: \t"


def _sentences(text: str) -> List[str]:
    """Cut text after sentence ends (keeping closing quotes and following spaces with the sentence)."""
    result: List[str] = []
    start, i, n = 0, 0, len(text)
    while i < n:
        char = text[i]
        is_end = char in _SENTENCE_END or (char == "." and (i + 1 == n or text[i + 1].isspace()))
        i += 1
        if is_end:
            while i < n and (text[i] in _CLOSERS or text[i] in _SENTENCE_END):
                i += 1
            while i < n and text[i].isspace():
                i += 1
            result.append(text[start:i])
            start = i
    if start < n:
        result.append(text[start:])
    return result


def _byte_len(text: str) -> int:
    return len(text.encode("utf-8"))


def _hard_split(sentence: str, max_bytes: int) -> List[str]:
    """Split one over-long sentence at soft breaks (commas, spaces) or, failing that, between characters."""
    parts: List[str] = []
    rest = sentence
    while _byte_len(rest) > max_bytes:
        # the longest prefix that fits, in characters (never cuts a UTF-8 sequence)
        size, cut = 0, 0
        for index, char in enumerate(rest):
            size += _byte_len(char)
            if size > max_bytes:
                break
            cut = index + 1
        cut = max(cut, 1)
        soft = max(rest.rfind(mark, 0, cut) for mark in _SOFT_BREAKS)
        if soft >= cut // 2:
            cut = soft + 1
        parts.append(rest[:cut])
        rest = rest[cut:]
    if rest:
        parts.append(rest)
    return parts


def split_reply(text: str, max_bytes: int = DEFAULT_MAX_REPLY_BYTES) -> List[str]:
    """Split a reply into messages of at most `max_bytes` UTF-8 bytes, at sentence boundaries when possible.

    Args:
        text: the reply.
        max_bytes: the longest message WeChat accepts (settings `compliance.wechat_max_reply_bytes`).

    Returns:
        The parts, in order, each stripped of surrounding whitespace and non-empty (an empty list for a blank
        text). Joining them gives the text back, except for whitespace at the cuts.
    """
    if max_bytes < 4:
        raise ValueError("max_bytes must be at least 4 (one UTF-8 character)")
    text = (text or "").strip()
    if not text:
        return []
    if _byte_len(text) <= max_bytes:
        return [text]
    pieces: List[str] = []
    for sentence in _sentences(text):
        pieces.extend(_hard_split(sentence, max_bytes) if _byte_len(sentence) > max_bytes else [sentence])
    chunks: List[str] = []
    current = ""
    for piece in pieces:
        if current and _byte_len(current + piece) > max_bytes:
            chunks.append(current)
            current = piece
        else:
            current += piece
    if current:
        chunks.append(current)
    stripped = [chunk.strip() for chunk in chunks]
    return [chunk for chunk in stripped if chunk]


def max_reply_bytes(settings: Optional[Dict[str, Any]] = None) -> int:
    """Return `compliance.wechat_max_reply_bytes` from the settings (2048 when absent).

    Raises:
        SettingsError: the value is not an integer of at least 64.
    """
    from bot.settings import SettingsError, load_settings

    data = settings if settings is not None else load_settings()
    value = (data.get("compliance") or {}).get("wechat_max_reply_bytes", DEFAULT_MAX_REPLY_BYTES)
    if isinstance(value, bool) or not isinstance(value, int) or value < 64:
        raise SettingsError(f"compliance.wechat_max_reply_bytes must be an integer >= 64, not {value!r}")
    return value

