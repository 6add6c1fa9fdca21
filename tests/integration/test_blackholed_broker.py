"""A broker that accepts connections and never answers (failover, a dropped NAT entry).

Celery's default publish would wait for ever; send-code must still answer at once.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from tests.helpers import broker_url_at, swap_broker
from verification.models import SMSVerification

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def blackholed_broker() -> Iterator[None]:
    hole = socket.socket()
    hole.bind(("127.0.0.1", 0))
    hole.listen(64)  # the kernel completes handshakes; nobody ever reads or answers
    original = swap_broker(broker_url_at(hole.getsockname()[1]))
    yield
    swap_broker(original)
    hole.close()


@pytest.mark.usefixtures("blackholed_broker")
def test_send_code_answers_within_about_a_second_and_keeps_the_row(api_client):
    started = time.monotonic()
    response = api_client.post("/api/auth/send-code/", {"phone": "+79991234567"}, format="json")
    elapsed = time.monotonic() - started

    assert response.status_code == 202
    assert elapsed < 1.5, elapsed
    row = SMSVerification.objects.get(id=response.json()["verification_id"])
    assert row.status == "queued"  # beat re-dispatches it once the broker answers
