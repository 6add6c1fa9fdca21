"""Spend caps (SPEC §11.4) on the real Redis and PostgreSQL: money is counted, reserved on
accept, priced from the provider's tariff, and never taken past a cap."""

from __future__ import annotations

import logging
import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from tests.scrape import scrape
from verification import housekeeping
from verification.abuse import budget, guard
from verification.abuse.policy import phone_facts
from verification.exceptions import SendingPaused
from verification.models import AbuseDecision, SMSVerification

pytestmark = pytest.mark.django_db

SEND = "/api/auth/send-code/"


def send(api_client, phone, ip="10.0.0.1"):
    return api_client.post(SEND, {"phone": phone}, format="json", REMOTE_ADDR=ip)


def test_over_the_hourly_cap_sends_pause_with_one_error(api_client, settings, caplog):
    # given: 4.00 a message, 12.00 an hour
    settings.GREEN_SMS_PRICE = 4
    settings.GREEN_SMS_BUDGET_PER_HOUR = "12"

    # when: five codes are asked for
    with caplog.at_level(logging.ERROR, logger="verification.abuse.budget"):
        answers = [send(api_client, f"+7999000000{n}") for n in range(5)]

    # then: three are accepted, the rest pause with the time until the hour ends
    assert [a.status_code for a in answers] == [202, 202, 202, 503, 503]
    paused = answers[3].json()
    assert paused["code"] == "sending_paused"
    assert 1 <= paused["retry_after"] <= 3601
    assert int(answers[3]["Retry-After"]) == paused["retry_after"]
    assert SMSVerification.objects.count() == 3
    assert budget.spent(budget.HOUR, timezone.now().timestamp()) == Decimal("12")
    # and the operator hears about it once for the window, not once per request
    errors = [r for r in caplog.records if "spend cap" in r.getMessage()]
    assert len(errors) == 1
    # and the money committed is on /metrics
    assert scrape(api_client).value("verification_spend_total", channel="sms") == 12


def test_the_daily_cap_counts_too(api_client, settings):
    settings.GREEN_SMS_PRICE = 4
    settings.GREEN_SMS_BUDGET_PER_DAY = "8"

    answers = [send(api_client, f"+7999000000{n}").status_code for n in range(3)]

    assert answers == [202, 202, 503]


def test_a_burst_never_overshoots_the_cap(settings):
    # given: a cap of ten messages, and forty concurrent requests for fresh phones
    settings.GREEN_SMS_PRICE = 4
    settings.GREEN_SMS_BUDGET_PER_HOUR = "40"
    accepted, paused = [], []
    barrier = threading.Barrier(40)

    def request(n: int) -> None:
        phone = f"+7999{n:07d}"
        barrier.wait()
        try:
            guard.check_send(phone=phone, facts=phone_facts(phone), client_ip=f"10.1.{n}.1")
            accepted.append(phone)
        except SendingPaused:
            paused.append(phone)

    threads = [threading.Thread(target=request, args=(n,)) for n in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # then: exactly ten reserved their price
    assert (len(accepted), len(paused)) == (10, 30)
    assert budget.spent(budget.HOUR, timezone.now().timestamp()) == Decimal("40")


def test_the_tariff_from_the_provider_prices_the_caps(api_client, settings, sandbox_gateway):
    # given: GREEN_SMS_PRICE says 4.00, the provider's tariff says 2.00 (the sandbox's price)
    settings.GREEN_SMS_PRICE = 4
    settings.GREEN_SMS_BUDGET_PER_HOUR = "6"

    # when: beat refreshes the tariff
    assert housekeeping.refresh_tariff() == {
        "sms": Decimal("2"),
        "call": Decimal("0.5"),
        "voice": Decimal("3"),
        "viber": Decimal("1.5"),
    }

    # then: the cap buys three messages, not one
    answers = [send(api_client, f"+7999000000{n}").status_code for n in range(4)]
    assert answers == [202, 202, 202, 503]


def test_a_fallback_channel_reserves_against_the_same_cap(api_client, settings):
    settings.GREEN_SMS_PRICE = 4
    settings.GREEN_SMS_BUDGET_PER_HOUR = "8"
    assert send(api_client, "+79990000000").status_code == 202

    guard.reserve_spend("sms")  # the second message of the hour: fits
    with pytest.raises(SendingPaused):
        guard.reserve_spend("sms")
    assert send(api_client, "+79990000001").status_code == 503


@pytest.mark.usefixtures("redis_down", "broker_down")
def test_caps_hold_from_the_database_while_redis_is_down(api_client, settings):
    settings.GREEN_SMS_PRICE = 4
    settings.GREEN_SMS_BUDGET_PER_HOUR = "8"

    answers = [send(api_client, f"+7999000000{n}").status_code for n in range(3)]

    assert answers == [202, 202, 503]


def test_decisions_are_purged_with_the_retention(settings):
    settings.ABUSE_DECISION_RETENTION_DAYS = 30
    old = AbuseDecision.objects.create(
        phone="+79990000000", rules="unverified_by_ip_hour", decision="blocked"
    )
    AbuseDecision.objects.filter(id=old.id).update(created_at=timezone.now() - timedelta(days=31))
    recent = AbuseDecision.objects.create(
        phone="+79990000001", rules="unverified_by_ip_hour", decision="blocked"
    )

    assert housekeeping.purge_old() == 1
    assert list(AbuseDecision.objects.values_list("id", flat=True)) == [recent.id]


def test_a_test_number_costs_nothing(api_client, settings):
    # given: a cap of one message and a test number (no message is ever sent to it)
    settings.GREEN_SMS_PRICE = 4
    settings.GREEN_SMS_BUDGET_PER_HOUR = "4"
    settings.VERIFICATION_TEST_NUMBERS = ["+79990000001=123456"]

    reviewer = [send(api_client, "+79990000001").status_code for _ in range(3)]
    real = [send(api_client, f"+7999000010{n}").status_code for n in range(2)]

    assert reviewer == [202] * 3
    assert real == [202, 503]
