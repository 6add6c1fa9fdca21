"""A hard total deadline for one HTTP call, enforced on the socket, whatever the worker pool.

`requests`' read timeout bounds each wait for bytes, not the call: a provider that trickles
its answer (or a proxy that keeps the connection warm) can hold a call for ever, and the
threads pool ignores Celery's time limits. The send lease (verification/sending.py) is
derived from this deadline, so it must really hold: when it passes, a timer shuts the
connection's socket down, which wakes the blocked read at once, and the call fails as a
timeout. DNS resolution happens before there is a socket and is not covered.

    with Deadline(10.0) as deadline:
        response = session.request(...)   # on a session mounted with DeadlineAdapter
    deadline.fired  # True: whatever the call raised, it was the deadline
"""

from __future__ import annotations

import contextlib
import socket
import threading
from types import TracebackType
from typing import Any

from requests.adapters import HTTPAdapter
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

_active = threading.local()


class Deadline:
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.fired = False
        self._lock = threading.Lock()
        self._done = False
        self._connections: list[Any] = []
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def __enter__(self) -> Deadline:
        _active.deadline = self
        self._timer.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._timer.cancel()
        with self._lock:
            self._done = True
        _active.deadline = None

    def watch(self, connection: Any) -> None:
        with self._lock:
            self._connections.append(connection)

    def _expire(self) -> None:
        with self._lock:
            if self._done:
                return
            self.fired = True
            for connection in self._connections:
                sock = getattr(connection, "sock", None)
                if sock is not None:
                    # socket.socket's own shutdown, not SSLSocket's (which would unwrap TLS
                    # under the reading thread's feet): the blocked read sees EOF at once.
                    # OSError: already closed, nothing left to wake.
                    with contextlib.suppress(OSError):
                        socket.socket.shutdown(sock, socket.SHUT_RDWR)


def _watch(connection: Any) -> None:
    deadline = getattr(_active, "deadline", None)
    if deadline is not None:
        deadline.watch(connection)


class _WatchedHTTPPool(HTTPConnectionPool):
    def _get_conn(self, timeout: float | None = None) -> Any:
        connection = super()._get_conn(timeout)
        _watch(connection)
        return connection


class _WatchedHTTPSPool(_WatchedHTTPPool, HTTPSConnectionPool):
    """HTTPS connections, watched by _WatchedHTTPPool's _get_conn."""


class DeadlineAdapter(HTTPAdapter):
    """An HTTPAdapter whose connections the calling thread's Deadline can cut."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _WatchedHTTPPool,
            "https": _WatchedHTTPSPool,
        }
