"""`python manage.py sms_tariff`: what each channel costs, as the provider's tariff says."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from verification.gateways import get_gateway
from verification.gateways.errors import ProviderError
from verification.management.commands.sms_balance import DEBUG_NOTE, provider_failure
from verification.models import Channel


class Command(BaseCommand):
    help = (
        "Print the price of one message per channel from the GreenSMS tariff "
        "(account.tariff), marking the channels VERIFICATION_CHANNELS enables."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            prices = get_gateway().tariff()
        except ProviderError as exc:
            raise provider_failure("GreenSMS tariff request", exc) from None
        note = DEBUG_NOTE if settings.GREEN_SMS_DEBUG else ""
        self.stdout.write(f"GreenSMS tariff, per message{note}:")
        enabled = set(settings.VERIFICATION_CHANNELS)
        for channel in Channel.values:
            price = prices.get(channel)
            shown = "not in the tariff" if price is None else str(price)
            mark = "  (enabled)" if channel in enabled else ""
            fallback = "  (fallback)" if channel == settings.VERIFICATION_FALLBACK_CHANNEL else ""
            self.stdout.write(f"  {channel:<6} {shown}{mark}{fallback}")
