"""Rows of every channel share the poller's bulk batches; each is asked through its own
channel's `status` module (SPEC §13)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.factories import make_verification
from verification import tracking
from verification.models import SMSVerification

pytestmark = pytest.mark.django_db

SEND = {
    "sms": lambda gateway, phone: gateway.send(phone, "Ваш код: 123456", hidden="1", tag="t"),
    "call": lambda gateway, phone: gateway.send_call(phone, tag="t").request_id,
    "voice": lambda gateway, phone: gateway.send_voice(phone, "12345", language="ru", tag="t"),
    "viber": lambda gateway, phone: gateway.send_viber(phone, "Ваш код: 123456"),
}


def test_one_batch_polls_every_channel_through_its_own_module(sandbox_gateway, greensms_sandbox):
    # given sent rows of four channels, delivered by the provider
    greensms_sandbox.configure(delivery_delay=0)
    rows = []
    for index in range(20):
        channel = list(SEND)[index % 4]
        row, _ = make_verification(phone=f"+7999123{index:04d}", channel=channel)
        row.request_id = SEND[channel](sandbox_gateway, row.phone)
        row.status, row.sent_at = "sent", timezone.now()
        row.save()
        rows.append(row)
    # when one batch runs
    with CaptureQueriesContext(connection) as queries:
        counts = tracking.poll_batch()
    # then every row was asked once, of its own module (another module would answer 404: an
    # error), in the same few queries as an all-SMS batch
    assert (counts.polled, counts.delivered, counts.errors) == (20, 20, 0)
    assert greensms_sandbox.stats()["status_calls"] == 20
    assert len(queries) <= 6
    assert SMSVerification.objects.filter(status="delivered").count() == 20
