"""A loopback GreenSMS look-alike for tests, benchmarks and local runs (SPEC §6).

`start_sandbox(...)` runs it on a background thread and returns a handle; the
`greensms_sandbox` management command runs it in the foreground.
"""

from __future__ import annotations

import threading
from decimal import Decimal
from typing import Any

from verification.sandbox.server import SandboxServer
from verification.sandbox.state import PRICE_PER_SMS, PRICES, SandboxConfig, SandboxState

__all__ = ["PRICES", "PRICE_PER_SMS", "SandboxHandle", "build_server", "start_sandbox"]


class SandboxHandle:
    """A running sandbox. Helpers read its memory directly, so they never add connections."""

    def __init__(self, server: SandboxServer, thread: threading.Thread) -> None:
        self._server = server
        self._thread = thread
        self.state = server.state
        self.host, self.port = server.bound_address()
        self.url = f"http://{self.host}:{self.port}"

    def messages(self, to: str | None = None) -> list[dict[str, Any]]:
        return self.state.messages(to)

    def stats(self) -> dict[str, int]:
        return self.state.stats()

    def configure(self, **changes: Any) -> dict[str, Any]:
        return self.state.configure(**changes)

    def reset(self) -> None:
        self.state.reset()

    def stop(self) -> None:
        self._server.stop()
        self._thread.join(timeout=5)

    def __enter__(self) -> SandboxHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def build_server(
    *,
    host: str = "127.0.0.1",
    port: int = 8025,
    latency_ms: int = 0,
    error_rate: float = 0.0,
    error_kind: str = "http500",
    delivery_delay: float = 2.0,
    final_status: int = 1,
    seed: int | None = None,
    balance: float | str | Decimal = 1000,
    user: str | None = None,
    password: str | None = None,
    log_sends: bool = False,
) -> SandboxServer:
    """A bound, not yet serving sandbox (the management command serves it in the foreground)."""
    config = SandboxConfig(
        latency_ms=latency_ms,
        error_rate=error_rate,
        error_kind=error_kind,
        delivery_delay=delivery_delay,
        final_status=final_status,
        seed=seed,
    )
    state = SandboxState(
        config=config, balance=Decimal(str(balance)), user=user or None, password=password
    )
    return SandboxServer((host, port), state, log_sends=log_sends)


def start_sandbox(*, port: int = 0, **options: Any) -> SandboxHandle:
    """Serve a sandbox on a background thread; `port=0` picks a free port."""
    server = build_server(port=port, **options)
    # A short poll interval so stop() returns quickly: tests start one per function.
    thread = threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": 0.05},
        name=f"greensms-sandbox-{server.bound_address()[1]}",
        daemon=True,
    )
    thread.start()
    return SandboxHandle(server, thread)
