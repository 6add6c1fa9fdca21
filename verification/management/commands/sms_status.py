"""`python manage.py sms_status <request_id>`: the provider's delivery status, and ours."""

from __future__ import annotations

import argparse
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from verification.gateways import get_gateway
from verification.gateways.errors import ProviderError
from verification.management.commands.sms_balance import DEBUG_NOTE, provider_failure
from verification.models import SMSVerification
from verification.phones import mask_phone
from verification.selectors import verification_by_request_id


class Command(BaseCommand):
    help = "Ask GreenSMS for a message's delivery status and show the stored row, if any."

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("request_id", help="the provider's request_id (a UUID)")

    def handle(self, *args: Any, **options: Any) -> None:
        request_id = options["request_id"].strip()
        if not request_id:
            raise CommandError("request_id must not be empty")
        try:
            row = verification_by_request_id(request_id=request_id)
        except DatabaseError as exc:
            # The provider's answer is still worth having when our database is not.
            self.stderr.write(f"cannot read the stored row ({type(exc).__name__})")
            row = None
        try:
            status = get_gateway().status(request_id)
        except ProviderError as exc:
            # What we stored still helps the operator while the provider cannot answer.
            self.stdout.write(describe_row(row))
            raise provider_failure("GreenSMS status request", exc) from None
        note = DEBUG_NOTE if settings.GREEN_SMS_DEBUG else ""
        self.stdout.write(
            f"Provider: {status.state} (status_code {status.status_code}: "
            f"{status.description or 'no description'}){note}"
        )
        self.stdout.write(describe_row(row))
        if row is not None and row.get_sms_status() != status.state:
            self.stdout.write(
                "Note: the stored status lags the provider's; the status poller catches up "
                f"every {settings.VERIFICATION_POLL_INTERVAL} s."
            )


def describe_row(row: SMSVerification | None) -> str:
    if row is None:
        return "Stored:   no verification has this request_id"
    return (
        f"Stored:   verification {row.id} to {mask_phone(row.phone)}: status {row.status} "
        f"({row.get_sms_status()}), used {'yes' if row.is_used else 'no'}, "
        f"created {_when(row.created_at)}, sent {_when(row.sent_at)}, "
        f"delivered {_when(row.delivered_at)}, error {row.error or '-'}"
    )


def _when(moment: datetime | None) -> str:
    return moment.isoformat(timespec="seconds") if moment else "-"
