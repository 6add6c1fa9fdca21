from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from verification.models import DeliveryStatus, SMSVerification


def verification(**fields) -> SMSVerification:
    fields.setdefault("expires_at", timezone.now() + timedelta(minutes=5))
    return SMSVerification(phone="+79991234567", **fields)


@pytest.mark.parametrize(
    ("status", "request_id", "expected"),
    [
        (DeliveryStatus.DELIVERED, "r1", "delivered"),
        (DeliveryStatus.FAILED, "", "failed"),
        (DeliveryStatus.EXPIRED, "", "failed"),
        (DeliveryStatus.QUEUED, "", "no_request_id"),
        (DeliveryStatus.SENDING, "", "no_request_id"),
        (DeliveryStatus.SENT, "r1", "pending"),
    ],
)
def test_get_sms_status_speaks_the_seed_vocabulary(status, request_id, expected):
    assert verification(status=status, request_id=request_id).get_sms_status() == expected


def test_is_expired():
    assert not verification().is_expired()
    assert verification(expires_at=timezone.now() - timedelta(seconds=1)).is_expired()
