"""HTTP transport for the sandbox: stdlib ThreadingHTTPServer, HTTP/1.1 keep-alive.

A thread per connection is what makes latency and the `timeout` fault cheap: a sleeping or
held request ties up its own thread only, never the accept loop or other connections.
"""

from __future__ import annotations

import json
import logging
import select
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from verification.sandbox.control import control_reply
from verification.sandbox.protocol import Provider, Reply, error_reply
from verification.sandbox.state import SandboxState

logger = logging.getLogger("verification.sandbox")

MAX_BODY = 1 << 20
# How long a `timeout` fault holds a connection if the client never gives up.
HOLD_LIMIT_SECONDS = 600.0


class SandboxServer(ThreadingHTTPServer):
    daemon_threads = True
    # stop() closes every connection itself; joining handler threads could hang on a
    # client that keeps a socket open.
    block_on_close = False
    request_queue_size = 1024  # the kernel caps it at somaxconn

    def __init__(self, address: tuple[str, int], state: SandboxState, *, log_sends: bool) -> None:
        self.state = state
        self.provider = Provider(state, log_sends=log_sends)
        self.stopping = threading.Event()
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__(address, SandboxHandler)

    def bound_address(self) -> tuple[str, int]:
        host, port = self.socket.getsockname()[:2]
        return str(host), int(port)

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, address = super().get_request()
        # Responses are written in one piece, but small request/response pairs still
        # must not wait on Nagle + delayed ACK.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.state.count("connections")
        with self._open_lock:
            self._open.add(sock)
        return sock, address

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client hanging up mid-request is routine here (timeouts, stop()).
        logger.debug("sandbox connection from %s ended with an error", client_address[0])

    def stop(self) -> None:
        self.stopping.set()
        self.shutdown()
        self.server_close()
        with self._open_lock:
            sockets = list(self._open)
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # already closed by its handler


class SandboxHandler(BaseHTTPRequestHandler):
    server: SandboxServer
    protocol_version = "HTTP/1.1"  # keep-alive, so pooled client connections are reused
    server_version = "GreenSMSSandbox/1.0"
    wbufsize = 64 * 1024  # headers and body leave in one write (flushed per request)
    timeout = 120  # idle keep-alive connections are dropped after this

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        """Silenced: the request line carries `user`, `pass` and the code in its query."""

    def _dispatch(self) -> None:
        body = self._read_body()
        if body is None:
            return
        url = urlsplit(self.path)
        if url.path.startswith("/_sandbox/"):
            self._write(control_reply(self.server.state, self.command, url, body))
            return
        params = dict(parse_qsl(url.query, keep_blank_values=True))
        params.update(_body_params(body, self.headers.get("Content-Type", "")))
        latency = self.server.state.config.latency_ms
        if latency and self.server.stopping.wait(latency / 1000):
            self.close_connection = True
            return
        reply = self.server.provider.handle(
            self.command, url.path, params, self.headers.get("Authorization", "")
        )
        if reply.hold:
            self._hold()
        else:
            self._write(reply)

    def _read_body(self) -> bytes | None:
        if self.headers.get("Transfer-Encoding"):
            self.close_connection = True
            self._write(error_reply(411, "Length required", 411))
            return None
        length = int(self.headers.get("Content-Length") or 0)
        if not 0 <= length <= MAX_BODY:
            self.close_connection = True
            self._write(error_reply(413, "Body too large", 413))
            return None
        return self.rfile.read(length) if length else b""

    def _write(self, reply: Reply) -> None:
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type + "; charset=utf-8")
        self.send_header("Content-Length", str(len(reply.body)))
        for name, value in reply.headers:
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(reply.body)

    def _hold(self) -> None:
        """Say nothing until the client hangs up (its read timeout) or the server stops."""
        self.close_connection = True
        waited = 0.0
        while waited < HOLD_LIMIT_SECONDS and not self.server.stopping.is_set():
            readable, _, _ = select.select([self.connection], [], [], 0.2)
            waited += 0.2
            if readable:
                return  # EOF (or a pipelined request we will never answer): hang up too


def _body_params(body: bytes, content_type: str) -> dict[str, str]:
    """Form or JSON bodies, for callers other than the official client (which sends none)."""
    if not body:
        return {}
    text = body.decode("utf-8", errors="replace")
    if "json" in content_type or text.lstrip().startswith("{"):
        try:
            data = json.loads(text)
        except ValueError:
            return {}
        if not isinstance(data, dict):
            return {}
        return {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in data.items()}
    return dict(parse_qsl(text, keep_blank_values=True))
