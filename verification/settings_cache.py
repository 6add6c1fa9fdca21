"""A value built from settings, once per process: the provider backend, the token keys.

Rebuilt when its settings change (a test's `override_settings`) and in a forked child (a
prefork worker must not share its parent's sockets or locks).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

T = TypeVar("T")


class SettingsCached(Generic[T]):
    def __init__(self, key: Callable[[], Hashable], build: Callable[[], T]) -> None:
        self._key, self._build = key, build
        self._lock = threading.Lock()
        self._cached: tuple[Hashable, T] | None = None
        os.register_at_fork(after_in_child=self._after_fork_in_child)

    def get(self) -> T:
        key = self._key()
        cached = self._cached  # one read: another thread may replace it meanwhile
        if cached is not None and cached[0] == key:
            return cached[1]
        with self._lock:
            if self._cached is None or self._cached[0] != key:
                self._cached = (key, self._build())
            return self._cached[1]

    def reset(self) -> None:
        self._cached = None

    def _after_fork_in_child(self) -> None:
        self._lock = threading.Lock()  # another thread may have held it at the fork
        self.reset()
