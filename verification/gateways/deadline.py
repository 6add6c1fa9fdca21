"""A hard total deadline for one HTTP call, enforced on the socket, whatever the worker pool.

`requests`' read timeout bounds each wait for bytes, not the call: a provider that trickles
its answer (or a proxy that keeps the connection warm) can hold a call for ever, and the
threads pool ignores Celery's time limits. The send lease (verification/sending.py) is
derived from this deadline, so it must really hold: when it passes, a watchdog shuts the
connection's socket down, which wakes the blocked read at once, and the call fails as a
timeout. DNS resolution happens before there is a socket and is not covered.

    with Deadline(10.0) as deadline:
        response = session.request(...)   # on a session mounted with DeadlineAdapter
    deadline.fired  # True: whatever the call raised, it was the deadline
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import os
import socket
import threading
import time
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

    def __enter__(self) -> Deadline:
        _active.deadline = self
        _watchdog.watch(self, time.monotonic() + self.seconds)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # Left in the watchdog's heap: it drops a finished deadline when its time comes.
        with self._lock:
            self._done = True
        _active.deadline = None

    def watch(self, connection: Any) -> None:
        with self._lock:
            self._connections.append(connection)

    def expire(self) -> None:
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


# How late a deadline may fire (seconds): wakes are coalesced rather than one per call.
TICK = 0.05


class _Watchdog:
    """One thread per process expiring every Deadline when its time comes.

    A timer thread per call (threading.Timer) cost a thread start and a join per provider
    call. Deadlines here are entries in a heap; every call has the same length, so a new one
    is almost never the earliest and registering it wakes nobody.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, Deadline]] = []
        self._order = itertools.count()
        self._thread: threading.Thread | None = None
        self._pid = 0

    def watch(self, deadline: Deadline, when: float) -> None:
        with self._cond:
            if self._thread is None or self._pid != os.getpid():
                self._start()
            earliest = not self._heap or when < self._heap[0][0]
            heapq.heappush(self._heap, (when, next(self._order), deadline))
            if earliest:
                self._cond.notify()

    def _start(self) -> None:
        self._pid = os.getpid()
        self._thread = threading.Thread(target=self._run, name="provider-deadlines", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._heap or self._heap[0][0] > time.monotonic():
                    delay = self._heap[0][0] - time.monotonic() if self._heap else None
                    # Due deadlines are handled in batches, at most every TICK seconds.
                    self._cond.wait(None if delay is None else max(delay, TICK))
                _, _, deadline = heapq.heappop(self._heap)
            deadline.expire()  # outside the lock: shutting sockets down may take a moment

    def forget_after_fork(self) -> None:
        # The parent's thread does not exist in a forked child; its deadlines are not ours.
        self._cond = threading.Condition()
        self._heap = []
        self._thread = None


_watchdog = _Watchdog()
os.register_at_fork(after_in_child=_watchdog.forget_after_fork)


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
