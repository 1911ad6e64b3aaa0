"""A real local HTTP server speaking the WeChat Official Account and WeCom APIs the channels use.

Endpoints (same paths, parameters and JSON as the real hosts):
- `GET /cgi-bin/token?grant_type=client_credential&appid=…&secret=…` (Official Account)
- `POST /cgi-bin/message/custom/send?access_token=…` (Official Account customer-service message)
- `GET /cgi-bin/gettoken?corpid=…&corpsecret=…` (WeCom)
- `POST /cgi-bin/message/send?access_token=…` (WeCom application message)
- 微信客服 (`FakeKf`, the same WeCom token): `POST /cgi-bin/kf/sync_msg`, `kf/send_msg`, `kf/send_msg_on_event`,
  `kf/service_state/get`, `kf/service_state/trans`. Customers and events are queued with `kf.customer_text(…)`,
  `kf.enter_session(…)` and `kf.push(…)`; `sync_msg` pages them by an opaque cursor (`limit`, `has_more`); a
  callback `Token` it issued is accepted, any other is refused; `send_msg` works only while the session is new or
  with the assistant (0, 1; else 95018), a `welcome_code` only once, and an ended session (4) changes state
  only when the customer writes again.

Tokens are issued as `TOKEN-<n>` with `expires_in`; a token the server did not issue gets 40001, an expired or
revoked one 42001. Errors can be scripted per endpoint: `fail_next("send", 45015)` makes the next send answer
45015 (also -1, 40001, 42001, 45047, or `"http500"` / `"drop"` for transport failures); `"ok"` lets that call
through as usual, so `fail_next("send", "ok", 45015)` refuses the second send.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, List, Optional, Union
from urllib.parse import parse_qs, urlparse

logger = logging.getLogger(__name__)

ERRMSG = {
    -1: "system error",
    40001: "invalid credential, access_token is invalid or not latest",
    40013: "invalid appid",
    40014: "invalid access_token",
    41001: "access_token missing",
    42001: "access_token expired",
    44002: "empty post data",
    45015: "response out of time limit or subscription is canceled",
    45047: "out of response count limit",
    47001: "data format error",
}


class FakeWeChatApi:
    """The fake API server. Use as a context manager, or call `start()` / `stop()`.

    Args:
        app_id: the Official Account AppID it accepts.
        app_secret: the AppSecret it accepts.
        corp_id: the WeCom CorpID it accepts.
        corp_secret: the WeCom application Secret it accepts.
        expires_in: the lifetime of issued tokens, in seconds.
    """

    def __init__(
        self,
        app_id: str = "wxtestappid",
        app_secret: str = "testsecret",
        corp_id: str = "wwtestcorp",
        corp_secret: str = "corpsecret",
        expires_in: int = 7200,
        kf_secret: str = "kfsecret",
    ) -> None:
        self.app_id = app_id
        self.app_secret = app_secret
        self.corp_id = corp_id
        self.corp_secret = corp_secret
        self.expires_in = expires_in
        self.kf_secret = kf_secret
        self.kf = FakeKf(self)
        self.sent: List[Dict[str, Any]] = []  # accepted messages: {"api", "token", "body"}
        self.requests: List[Dict[str, Any]] = []  # every request: {"path", "query", "body"}
        self.token_requests = 0
        self._tokens: Dict[str, float] = {}  # token -> expiry (time.time())
        self._counter = 0
        self._scripted: Dict[str, List[Union[int, str]]] = {"token": [], "send": []}
        self._cond = threading.Condition()
        self._server: Optional[ThreadingHTTPServer] = None
        self._thread: Optional[threading.Thread] = None

    # -- control --------------------------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        assert self._server is not None, "server not started"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> "FakeWeChatApi":
        handler = _make_handler(self)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-wechat-api", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> "FakeWeChatApi":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def fail_next(self, endpoint: str, *errors: Union[int, str]) -> None:
        """Make the next calls to `endpoint` ("token" or "send") fail with these errcodes, in order."""
        with self._cond:
            self._scripted[endpoint].extend(errors)

    def expire_tokens(self) -> None:
        """Expire every issued token (the next send with one gets 42001)."""
        with self._cond:
            for token in self._tokens:
                self._tokens[token] = 0.0

    def wait_for_sent(self, count: int, timeout: float = 10.0) -> List[Dict[str, Any]]:
        """Block until at least `count` messages were accepted; return them (raises on timeout)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self.sent) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"expected {count} sent messages, got {len(self.sent)}: {self.sent}")
                self._cond.wait(remaining)
            return list(self.sent)

    def texts(self) -> List[str]:
        """The contents of the accepted text messages, in order."""
        with self._cond:
            return [m["body"]["text"]["content"] for m in self.sent]

    # -- behaviour ------------------------------------------------------------------------------------------
    def _scripted_error(self, endpoint: str) -> Optional[Union[int, str]]:
        with self._cond:
            queue = self._scripted[endpoint]
            scripted = queue.pop(0) if queue else None
            return None if scripted == "ok" else scripted

    def _issue_token(self) -> Dict[str, Any]:
        with self._cond:
            self._counter += 1
            self.token_requests += 1
            token = f"TOKEN-{self._counter}"
            self._tokens[token] = time.time() + self.expires_in
        return {"access_token": token, "expires_in": self.expires_in}

    def _check_token(self, method: str, query: Dict[str, str]) -> Optional[Dict[str, Any]]:
        """The error of a POST without a valid access token, or None."""
        if method != "POST":
            return {"errcode": 43002, "errmsg": "require POST method"}
        token = query.get("access_token")
        if not token:
            return {"errcode": 41001, "errmsg": ERRMSG[41001]}
        with self._cond:
            expiry = self._tokens.get(token)
        if expiry is None:
            return {"errcode": 40001, "errmsg": ERRMSG[40001]}
        if expiry < time.time():
            return {"errcode": 42001, "errmsg": ERRMSG[42001]}
        return None

    def record_sent(self, api: str, token: str, payload: Dict[str, Any]) -> None:
        """Count an accepted message (and wake `wait_for_sent`)."""
        with self._cond:
            self.sent.append({"api": api, "token": token, "body": payload})
            self._cond.notify_all()

    def handle(self, method: str, path: str, query: Dict[str, str], body: bytes) -> Union[Dict[str, Any], str]:
        with self._cond:
            self.requests.append({"path": path, "query": dict(query), "body": body})
        if path in ("/cgi-bin/token", "/cgi-bin/gettoken"):
            if method != "GET":
                return {"errcode": 43001, "errmsg": "require GET method"}
            scripted = self._scripted_error("token")
            if scripted is not None:
                return scripted if isinstance(scripted, str) else {"errcode": scripted, "errmsg": ERRMSG.get(scripted, "")}
            if path == "/cgi-bin/token":
                if query.get("grant_type") != "client_credential":
                    return {"errcode": 40002, "errmsg": "invalid grant_type"}
                if query.get("appid") != self.app_id:
                    return {"errcode": 40013, "errmsg": ERRMSG[40013]}
                if query.get("secret") != self.app_secret:
                    return {"errcode": 40001, "errmsg": "invalid credential, appsecret is invalid"}
            else:
                if query.get("corpid") != self.corp_id:
                    return {"errcode": 40013, "errmsg": "invalid corpid"}
                if query.get("corpsecret") not in (self.corp_secret, self.kf_secret):
                    return {"errcode": 40001, "errmsg": "invalid secret"}
            data = self._issue_token()
            if path == "/cgi-bin/gettoken":
                data = {"errcode": 0, "errmsg": "ok", **data}
            return data
        if path.startswith("/cgi-bin/kf/"):
            refused = self._check_token(method, query)
            if refused is not None:
                return refused
            if path == "/cgi-bin/kf/send_msg":
                scripted = self._scripted_error("send")
                if scripted is not None:
                    return scripted if isinstance(scripted, str) else {"errcode": scripted, "errmsg": ERRMSG.get(scripted, "")}
            return self.kf.handle(path, body)
        if path in ("/cgi-bin/message/custom/send", "/cgi-bin/message/send"):
            refused = self._check_token(method, query)
            if refused is not None:
                return refused
            token = query["access_token"]
            scripted = self._scripted_error("send")
            if scripted is not None:
                return scripted if isinstance(scripted, str) else {"errcode": scripted, "errmsg": ERRMSG.get(scripted, "")}
            if not body:
                return {"errcode": 44002, "errmsg": ERRMSG[44002]}
            try:
                payload = json.loads(body.decode("utf-8"))
            except (UnicodeDecodeError, ValueError):
                return {"errcode": 47001, "errmsg": ERRMSG[47001]}
            if not isinstance(payload, dict) or not payload.get("touser") or payload.get("msgtype") != "text":
                return {"errcode": 47001, "errmsg": ERRMSG[47001]}
            content = (payload.get("text") or {}).get("content")
            if not isinstance(content, str) or not content:
                return {"errcode": 44003, "errmsg": "empty news data"}
            if path == "/cgi-bin/message/send" and not isinstance(payload.get("agentid"), int):
                return {"errcode": 40056, "errmsg": "invalid agentid"}
            with self._cond:
                self.sent.append({"api": "wecom" if path.endswith("/message/send") else "wechat", "token": token, "body": payload})
                self._cond.notify_all()
            return {"errcode": 0, "errmsg": "ok"}
        return "404"

class FakeKf:
    """The 微信客服 side of the fake: the message log `sync_msg` pages through, session states, welcome codes.

    Args:
        api: the fake it belongs to (tokens, `sent`).
        open_kfid: the service account.
    """

    def __init__(self, api: FakeWeChatApi, open_kfid: str = "wkTESTKF0001") -> None:
        self.api = api
        self.open_kfid = open_kfid
        self.log: List[Dict[str, Any]] = []  # every message and event, in order: the cursor is a position in it
        self.states: Dict[str, int] = {}  # external_userid -> service_state
        self.servicers: Dict[str, str] = {}
        self.transitions: List[Dict[str, Any]] = []
        self.greetings: List[Dict[str, Any]] = []
        self.sync_calls: List[Dict[str, Any]] = []
        self._tokens: set = set()
        self._codes: Dict[str, float] = {}  # welcome_code -> expiry
        self._counter = 0
        self._lock = threading.Lock()

    # -- test control -------------------------------------------------------------------------------------------
    def _next(self, prefix: str) -> str:
        self._counter += 1
        return f"{prefix}{self._counter:06d}"

    def callback_token(self) -> str:
        """A callback `Token`, as a `kf_msg_or_event` callback carries."""
        with self._lock:
            token = self._next("ENCKFTOKEN")
            self._tokens.add(token)
            return token

    def push(self, entry: Dict[str, Any]) -> str:
        """Append a `msg_list` entry (msgid, open_kfid and send_time filled in); return its msgid."""
        with self._lock:
            msgid = entry.get("msgid") or self._next("MSG")
            self.log.append({"msgid": msgid, "open_kfid": self.open_kfid, "send_time": int(time.time()), **entry})
            return msgid

    def customer_text(self, user: str, content: str, menu_id: Optional[str] = None) -> str:
        """The customer writes; an ended session (4) opens again as new (0)."""
        text: Dict[str, Any] = {"content": content}
        if menu_id:
            text["menu_id"] = menu_id
        with self._lock:
            if self.states.get(user, 0) == 4:
                self.states[user] = 0
        return self.push({"external_userid": user, "origin": 3, "msgtype": "text", "text": text})

    def enter_session(self, user: str) -> str:
        """The customer opens the chat: an `enter_session` event with a fresh welcome_code (20 s); returns the code."""
        with self._lock:
            code = self._next("WELCOME")
            self._codes[code] = time.time() + 20
        self.push({"external_userid": user, "origin": 4, "msgtype": "event", "event": {
            "event_type": "enter_session", "open_kfid": self.open_kfid, "external_userid": user, "scene": "",
            "welcome_code": code,
        }})
        return code

    # -- protocol -----------------------------------------------------------------------------------------------
    def handle(self, path: str, body: bytes) -> Dict[str, Any]:
        try:
            payload = json.loads(body.decode("utf-8")) if body else None
        except (UnicodeDecodeError, ValueError):
            payload = None
        if not isinstance(payload, dict):
            return {"errcode": 47001, "errmsg": ERRMSG[47001]}
        if path != "/cgi-bin/kf/send_msg_on_event" and payload.get("open_kfid") != self.open_kfid:
            return {"errcode": 95000, "errmsg": "invalid open_kfid"}
        handler = {
            "/cgi-bin/kf/sync_msg": self._sync,
            "/cgi-bin/kf/send_msg": self._send,
            "/cgi-bin/kf/send_msg_on_event": self._greet,
            "/cgi-bin/kf/service_state/get": self._state,
            "/cgi-bin/kf/service_state/trans": self._trans,
        }.get(path)
        if handler is None:
            return {"errcode": 404, "errmsg": "no such kf API"}
        with self._lock:
            return handler(payload)

    def _sync(self, payload: Dict[str, Any]) -> Dict[str, Any]:
        self.sync_calls.append(dict(payload))
        token = payload.get("token")
        if token and token not in self._tokens:
            return {"errcode": 95007, "errmsg": "invalid msg token"}
        cursor = str(payload.get("cursor") or "")
        if cursor and not (cursor.startswith("CUR") and cursor[3:].isdigit() and int(cursor[3:]) <= len(self.log)):
            return {"errcode": 95001, "errmsg": "invalid cursor"}
        start = int(cursor[3:]) if cursor else 0
        limit = payload.get("limit") or 1000
        if not isinstance(limit, int) or not 1 <= limit <= 1000:
            return {"errcode": 95002, "errmsg": "invalid limit"}
        page = self.log[start : start + limit]
        end = start + len(page)
        return {"errcode": 0, "errmsg": "ok", "next_cursor": f"CUR{end}", "has_more": int(end < len(self.log)), "msg_list": page}

    def _send(self, payload: Dict[str, Any]) -> Dict[str, Any]:
        user = payload.get("touser")
        content = (payload.get("text") or {}).get("content") if payload.get("msgtype") == "text" else None
        if not user or not isinstance(content, str) or not content:
            return {"errcode": 47001, "errmsg": ERRMSG[47001]}
        if self.states.get(user, 0) not in (0, 1):
            return {"errcode": 95018, "errmsg": "send msg session status invalid"}
        self.states[user] = 1
        self.api.record_sent("wechat_kf", "", payload)
        return {"errcode": 0, "errmsg": "ok", "msgid": self._next("SENT")}

    def _greet(self, payload: Dict[str, Any]) -> Dict[str, Any]:
        code = payload.get("code")
        expiry = self._codes.pop(code, None) if isinstance(code, str) else None
        if expiry is None or expiry < time.time():
            return {"errcode": 95011, "errmsg": "invalid welcome code (used or expired)"}  # the fake's code
        self.greetings.append(payload)
        self.api.record_sent("wechat_kf_event", "", payload)
        return {"errcode": 0, "errmsg": "ok", "msgid": self._next("SENT")}

    def _state(self, payload: Dict[str, Any]) -> Dict[str, Any]:
        user = payload.get("external_userid")
        return {"errcode": 0, "errmsg": "ok", "service_state": self.states.get(user, 0), "servicer_userid": self.servicers.get(user, "")}

    def _trans(self, payload: Dict[str, Any]) -> Dict[str, Any]:
        user, state = payload.get("external_userid"), payload.get("service_state")
        if not user or state not in (0, 1, 2, 3, 4):
            return {"errcode": 47001, "errmsg": ERRMSG[47001]}
        if self.states.get(user, 0) == 4 or (state == 3 and not payload.get("servicer_userid")):
            return {"errcode": 95016, "errmsg": "service state transition not allowed"}
        self.states[user] = state
        if payload.get("servicer_userid"):
            self.servicers[user] = payload["servicer_userid"]
        self.transitions.append(dict(payload))
        return {"errcode": 0, "errmsg": "ok", "msg_code": self._next("MSGCODE")}


def _make_handler(api: FakeWeChatApi) -> type:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # BaseHTTPRequestHandler's name
            logger.debug("fake api: " + format, *args)

        def _serve(self, method: str) -> None:
            parsed = urlparse(self.path)
            query = {k: v[0] for k, v in parse_qs(parsed.query, keep_blank_values=True).items()}
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            result = api.handle(method, parsed.path, query, body)
            if result == "drop":
                self.close_connection = True
                self.connection.shutdown(2)
                return
            if result in ("http500", "404"):
                status = 500 if result == "http500" else 404
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            data = json.dumps(result, ensure_ascii=False).encode("utf-8")
            self.send_response(200)
            self.send_header("Content-Type", "application/json; encoding=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:  # http.server's naming
            self._serve("GET")

        def do_POST(self) -> None:  # http.server's naming
            self._serve("POST")

    return Handler
