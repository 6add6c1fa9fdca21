"""Sending codes: the `sms` queue."""

from __future__ import annotations

from django.conf import settings

from project.celery import app
from verification import sending
from workers.base import OutboxTask


# Published by name through verification/dispatch.py, which passes the row's own expiry as
# `expires` (a message still queued when its code expires is dropped unread); retries keep
# the first message's. The default here covers a bare `.delay()`.
@app.task(name="sms.send_code", base=OutboxTask, bind=True, expires=settings.VERIFICATION_CODE_TTL)
def send_verification_sms(self: OutboxTask, verification_id: str) -> None:
    """Idempotent: only a claimable row is sent, so redelivery sends no second SMS."""
    result = sending.verification_send(
        verification_id=verification_id, retries=self.request.retries
    )
    if result.retry_in is not None:
        raise self.retry(countdown=result.retry_in)
