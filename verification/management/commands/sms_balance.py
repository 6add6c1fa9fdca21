"""`python manage.py sms_balance`: the provider account's balance, through the gateway."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from verification.gateways.errors import (
    InsufficientFunds,
    InvalidParameters,
    ProviderError,
    RequestNotFound,
)
from verification.services import GreenSMSService


def provider_failure(action: str, exc: ProviderError) -> CommandError:
    """A one-line CommandError: manage.py prints it to stderr and exits 1, no traceback.

    Only the error's `reason` is shown: the gateway builds it itself and it never holds a
    credential or a URL (the client puts `user` and `pass` in the query string).
    """
    return CommandError(f"{action} failed: {exc.reason} ({provider_hint(exc)})")


def provider_hint(exc: ProviderError) -> str:
    if exc.transient:
        return "the provider or the network is unwell: retry later, check GREEN_SMS_BASE_URL"
    if isinstance(exc, RequestNotFound):
        return "GreenSMS does not know this request_id"
    if isinstance(exc, InsufficientFunds):
        return "top up the GreenSMS account"
    if isinstance(exc, InvalidParameters):
        return "the provider rejected the request's parameters"
    return "check GREEN_SMS_USER/GREEN_SMS_PASSWORD or GREEN_SMS_TOKEN, and GREEN_SMS_BASE_URL"


DEBUG_NOTE = " (GREEN_SMS_DEBUG=True: the debug backend answered, not GreenSMS)"


class Command(BaseCommand):
    help = "Print the GreenSMS balance; warn when it is below GREEN_SMS_LOW_BALANCE."

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            balance = GreenSMSService().get_balance()
        except ProviderError as exc:
            raise provider_failure("GreenSMS balance request", exc) from None
        note = DEBUG_NOTE if settings.GREEN_SMS_DEBUG else ""
        self.stdout.write(f"GreenSMS balance: {balance}{note}")
        low = Decimal(str(settings.GREEN_SMS_LOW_BALANCE))
        if balance < low:
            self.stderr.write(
                self.style.WARNING(
                    f"WARNING: balance {balance} is below GREEN_SMS_LOW_BALANCE {low}"
                )
            )
