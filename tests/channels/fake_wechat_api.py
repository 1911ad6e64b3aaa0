"""A real local HTTP server speaking the WeChat Official Account and WeCom APIs the channels use.

Endpoints (same paths, parameters and JSON as the real hosts):
- `GET /cgi-bin/token?grant_type=client_credential&appid=…&secret=…` (Official Account)
- `POST /cgi-bin/message/custom/send?access_token=…` (Official Account customer-service message)
- `GET /cgi-bin/gettoken?corpid=…&corpsecret=…` (WeCom)
- `POST /cgi-bin/message/send?access_token=…` (WeCom application message)

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
    ) -> None:
        self.app_id = app_id
        self.app_secret = app_secret
        self.corp_id = corp_id
        self.corp_secret = corp_secret
        self.expires_in = expires_in
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
                if query.get("corpsecret") != self.corp_secret:
                    return {"errcode": 40001, "errmsg": "invalid secret"}
            data = self._issue_token()
            if path == "/cgi-bin/gettoken":
                data = {"errcode": 0, "errmsg": "ok", **data}
            return data
        if path in ("/cgi-bin/message/custom/send", "/cgi-bin/message/send"):
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
