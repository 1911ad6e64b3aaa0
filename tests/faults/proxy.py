"""A TCP proxy the tests cut and restore, the way toxiproxy does: in front of RabbitMQ (or any service).

`cut()` closes every open connection and refuses new ones (they are accepted and closed at once, as a dead
peer behind a load balancer looks); `restore()` lets connections through again. It runs in its own thread, so it
works under any event loop.
"""

from __future__ import annotations

import socket
import threading
from typing import List, Optional, Tuple


class CuttableProxy:
    """Forwards 127.0.0.1:<port> to `target`.

    Args:
        target: (host, port) of the real service.
    """

    def __init__(self, target: Tuple[str, int]) -> None:
        self.target = target
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._cut = threading.Event()
        self._lock = threading.Lock()
        self._open: List[socket.socket] = []
        self._thread: Optional[threading.Thread] = None

    def start(self) -> "CuttableProxy":
        """Start accepting."""
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()
        return self

    def cut(self) -> None:
        """Close every connection; refuse new ones until `restore()`."""
        self._cut.set()
        with self._lock:
            for sock in self._open:
                _close(sock)
            self._open.clear()

    def restore(self) -> None:
        """Let connections through again."""
        self._cut.clear()

    def close(self) -> None:
        """Stop the proxy."""
        self.cut()
        _close(self._listener)

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if self._cut.is_set():
                _close(client)
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                _close(client)
                continue
            upstream.settimeout(None)
            with self._lock:
                self._open += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while True:
                data = source.recv(65536)
                if not data or self._cut.is_set():
                    break
                sink.sendall(data)
        except OSError:
            pass
        _close(source)
        _close(sink)


def _close(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    try:
        sock.close()
    except OSError:
        pass
