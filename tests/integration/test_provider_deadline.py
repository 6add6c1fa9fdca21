"""GREEN_SMS_TIMEOUT is a hard total deadline on a provider call, whatever the worker pool:
a provider that trickles its answer a byte at a time is cut off on time (a read timeout
alone would wait for each byte and never fire)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from verification.gateways import errors
from verification.gateways.greensms import GreenSMSGateway

DEADLINE = 1.0
# What a loaded 2-core machine may add to the deadline before the call returns.
SLACK = 0.75


class TricklingProvider:
    """Answers every request with headers, then one byte of body every 0.2 s (for 20 s)."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.stopping = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while not self.stopping.is_set():
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._trickle, args=(conn,), daemon=True).start()

    def _trickle(self, conn: socket.socket) -> None:
        body = b'{"request_id": "' + b"x" * 80 + b'"}'
        with conn:
            conn.recv(65536)
            conn.sendall(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n"
            )
            for index in range(len(body)):
                if self.stopping.wait(0.2):
                    return
                try:
                    conn.sendall(body[index : index + 1])
                except OSError:
                    return  # the client hung up: what the deadline is for

    def stop(self) -> None:
        self.stopping.set()
        self.listener.close()


@pytest.fixture
def trickling_provider() -> Iterator[TricklingProvider]:
    provider = TricklingProvider()
    yield provider
    provider.stop()


def gateway(url: str) -> GreenSMSGateway:
    return GreenSMSGateway(base_url=url, user="u", password="p", timeout=DEADLINE)


def test_a_trickling_send_is_cut_at_the_deadline_as_an_ambiguous_send(trickling_provider):
    # when: a send whose answer would take ~17 s, one byte at a time
    started = time.monotonic()
    with pytest.raises(errors.AmbiguousSendError):
        gateway(trickling_provider.url).send("79991234567", "text", hidden="1", tag="t")

    # then: it ended at the deadline, as a send that may have left
    assert time.monotonic() - started < DEADLINE + SLACK


def test_a_trickling_status_call_is_cut_at_the_deadline_as_a_timeout(trickling_provider):
    started = time.monotonic()
    with pytest.raises(errors.ProviderTimeout):
        gateway(trickling_provider.url).balance()

    assert time.monotonic() - started < DEADLINE + SLACK


def test_the_deadline_leaves_quick_calls_alone(greensms_sandbox):
    # given: a provider answering well within the deadline, called repeatedly on one pool
    from tests.sandbox_fixtures import SANDBOX_PASSWORD, SANDBOX_USER

    client = GreenSMSGateway(
        base_url=greensms_sandbox.url,
        user=SANDBOX_USER,
        password=SANDBOX_PASSWORD,
        timeout=DEADLINE,
    )

    # when: more calls than one deadline lasts, so cancelled timers must not fire late
    for _ in range(3):
        client.send("79991234567", "text", hidden="1", tag="t")
        time.sleep(DEADLINE / 2)

    # then: every call went through, on one kept-alive connection
    assert len(greensms_sandbox.messages()) == 3
    assert greensms_sandbox.stats()["connections"] == 1
