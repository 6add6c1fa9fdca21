"""/metrics with a real worker, the real Redis broker and the GreenSMS sandbox: the events
of sending, delivery, balance and the funds breaker move their metrics, and a worker that
stopped consuming shows as queue depth and the age of the oldest waiting code."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from django.utils import timezone

from project.celery import app as celery_app
from tests.factories import make_verification
from tests.helpers import broker_is_amqp, consume_sms, wait_for
from tests.scrape import Samples, scrape
from verification import housekeeping
from verification.models import SMSVerification
from workers import heartbeat
from workers.housekeeping import check_balance
from workers.polling import poll_delivery_statuses

pytestmark = [pytest.mark.django_db(transaction=True)]

SEND = "/api/auth/send-code/"


@pytest.fixture
def sending(live_worker, greensms_sandbox, sandbox_gateway, settings):
    settings.VERIFICATION_SEND_RETRY_BASE = 0.05
    greensms_sandbox.configure(delivery_delay=0)
    return greensms_sandbox


def request_codes(api_client, count: int) -> list[str]:
    ids = []
    for index in range(count):
        response = api_client.post(SEND, {"phone": f"+7999555{index:04d}"}, format="json")
        assert response.status_code == 202
        ids.append(response.json()["verification_id"])
    return ids


def statuses(ids: list[str]) -> set[str]:
    return set(SMSVerification.objects.filter(id__in=ids).values_list("status", flat=True))


def scrape_when(api_client, counted: Callable[[Samples], bool]) -> Samples:
    """The worker counts an event just after it records it on the row: scrape until the
    counts have caught up with what the rows say."""

    def caught_up() -> Samples | None:
        samples = scrape(api_client)
        return samples if counted(samples) else None

    return wait_for(caught_up)


def sent(samples: Samples, channel: str = "sms") -> float:
    return samples.value("verification_sends_total", channel=channel, result="sent")


def test_a_code_sent_and_delivered_moves_sends_latency_and_deliveries(api_client, sending):
    # when: a code goes through the worker to the provider
    ids = request_codes(api_client, 2)
    wait_for(lambda: statuses(ids) == {"sent"})

    # then
    samples = scrape_when(api_client, lambda samples: sent(samples) == 2)
    latency = "verification_provider_request_seconds"
    assert samples.value(f"{latency}_count", operation="send") == 2
    assert samples.value(f"{latency}_bucket", operation="send", le="+Inf") == 2
    assert samples.value(f"{latency}_sum", operation="send") > 0

    # when: the poller learns the delivery
    poll_delivery_statuses.delay()
    wait_for(lambda: statuses(ids) == {"delivered"})

    deliveries = "verification_deliveries_total"
    samples = scrape_when(
        api_client,
        lambda samples: (
            samples.value(f"{latency}_count", operation="status") >= 2
            and samples.value(deliveries, channel="sms", status="delivered") >= 2
        ),
    )
    assert samples.value(deliveries, channel="sms", status="delivered") == 2
    assert samples.value(f"{latency}_count", operation="status") == 2


def test_a_failed_delivery_is_counted_as_failed(api_client, sending):
    sending.configure(final_status=16)
    ids = request_codes(api_client, 1)
    wait_for(lambda: statuses(ids) == {"sent"})

    poll_delivery_statuses.delay()
    wait_for(lambda: statuses(ids) == {"failed"})

    def failed(samples: Samples) -> float:
        return samples.value("verification_deliveries_total", channel="sms", status="failed")

    assert failed(scrape_when(api_client, lambda samples: failed(samples) >= 1)) == 1


def test_balance_check_sets_the_balance_gauge(api_client, sending):
    sending.configure(balance=321.5)
    assert not scrape(api_client).has("verification_provider_balance")

    check_balance.delay()

    latency = "verification_provider_request_seconds_count"
    samples = scrape_when(
        api_client,
        lambda samples: (
            samples.has("verification_provider_balance")
            and samples.value(latency, operation="balance") >= 1
        ),
    )
    assert samples.value("verification_provider_balance") == 321.5
    assert samples.value(latency, operation="balance") == 1
    assert samples.value("verification_provider_balance_age_seconds") < 30


def test_insufficient_funds_opens_the_breaker_and_counts_a_retry(api_client, sending, settings):
    settings.GREEN_SMS_FUNDS_PAUSE = 30
    sending.configure(error_rate=1.0, error_kind="funds")
    assert scrape(api_client).value("verification_funds_breaker_open") == 0

    request_codes(api_client, 1)

    samples = scrape_when(
        api_client,
        lambda samples: (
            samples.value("verification_funds_breaker_open") == 1
            and samples.value("verification_sends_total", channel="sms", result="retry") >= 1
        ),
    )
    assert samples.value("verification_sends_total", channel="sms", result="retry") == 1
    errors = "verification_provider_errors_total"
    assert samples.value(errors, operation="send", error="InsufficientFunds") == 1

    # when: funds return, the balance check closes the breaker
    sending.configure(error_rate=0.0)
    check_balance.delay()
    wait_for(lambda: scrape(api_client).value("verification_funds_breaker_open") == 0)


@pytest.fixture
def stopped_sms_consumer(live_worker) -> Iterator[object]:
    """The worker stops consuming `sms` (as if every sending worker were down), its queue
    empty of what earlier tests left in it."""
    consume_sms(live_worker, consume=False)
    if not broker_is_amqp():
        # The worker's BRPOP may still wait on `sms` for up to its timeout (1 s) after the
        # cancel; kombu puts a message that it pops then back on the queue. Empty the queue
        # after that.
        time.sleep(1.2)
    with celery_app.connection_for_write() as conn:
        conn.SimpleQueue(celery_app.amqp.queues["sms"]).clear()  # type: ignore[arg-type]
    heartbeat.beat(live_worker)
    try:
        yield live_worker
    finally:
        consume_sms(live_worker, consume=True)


def test_a_stopped_workers_backlog_shows_as_depth_and_age(
    api_client, sending, stopped_sms_consumer
):
    # given: no worker consumes `sms`; codes are requested
    ids = request_codes(api_client, 3)
    time.sleep(1.2)

    # then: the messages wait in the broker and the oldest code ages
    samples = scrape(api_client)
    assert samples.value("verification_queue_depth", queue="sms") == 3
    assert samples.value("verification_oldest_queued_seconds") >= 1.2
    assert samples.value("verification_workers", queue="sms") == 0
    assert samples.value("verification_workers", queue="status") == 1
    assert statuses(ids) == {"queued"}

    # when: the worker consumes again
    consume_sms(stopped_sms_consumer, consume=True)
    heartbeat.beat(stopped_sms_consumer)

    # then: the backlog drains and the gauges fall back
    wait_for(lambda: statuses(ids) == {"sent"})
    samples = scrape_when(api_client, lambda samples: sent(samples) == 3)
    assert samples.value("verification_queue_depth", queue="sms") == 0
    assert samples.value("verification_oldest_queued_seconds") == 0
    assert samples.value("verification_workers", queue="sms") == 1


def test_the_channel_label_follows_the_rows_channel(api_client, sending, settings):
    # given: flash calls are offered besides SMS
    settings.VERIFICATION_CHANNELS = ["sms", "call"]

    # when: one code is asked for by call, one by SMS, and both are delivered
    call = api_client.post(SEND, {"phone": "+79995550001", "channel": "call"}, format="json")
    sms = api_client.post(SEND, {"phone": "+79995550002"}, format="json")
    ids = [call.json()["verification_id"], sms.json()["verification_id"]]
    wait_for(lambda: statuses(ids) == {"sent"})
    poll_delivery_statuses.delay()
    wait_for(lambda: statuses(ids) == {"delivered"})

    # then
    def delivered(samples: Samples, channel: str) -> float:
        return samples.value("verification_deliveries_total", channel=channel, status="delivered")

    samples = scrape_when(
        api_client, lambda samples: delivered(samples, "call") + delivered(samples, "sms") >= 2
    )
    for channel in ("call", "sms"):
        assert sent(samples, channel) == 1
        assert delivered(samples, channel) == 1


def test_codes_expired_unsent_are_counted_under_their_channel(api_client):
    # given: two codes the workers never sent, one by call, now past their expiry
    past = timezone.now() - timedelta(minutes=10)
    for phone, channel in (("+79995550011", "call"), ("+79995550012", "sms")):
        make_verification(phone=phone, channel=channel, created_at=past, expires_at=past)

    # when: the sweeper passes
    assert housekeeping.expire_unsent() == 2

    # then
    samples = scrape(api_client)
    for channel in ("call", "sms"):
        assert samples.value("verification_sends_total", channel=channel, result="expired") == 1
