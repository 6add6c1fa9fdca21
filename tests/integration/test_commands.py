"""Operator commands: sms_stats, sms_balance, sms_status, sms_check (real DB, Redis, sandbox)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.core.management import CommandError, call_command
from django.utils import timezone
from kombu import Exchange, Queue

from project.celery import app as celery_app
from tests.factories import make_verification
from tests.sandbox_fixtures import SANDBOX_PASSWORD, SANDBOX_USER
from verification import funds
from verification.management.commands.sms_check import queue_depths
from verification.models import DeliveryStatus
from verification.stats import verification_stats

pytestmark = pytest.mark.django_db

PHONE = "+79991234567"
MASKED = "+7999***4567"
SECRET_MARKER = "s3cret-MARKER-9f2c"


def run(command: str, *args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command(command, *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def run_failing(command: str, *args: str) -> tuple[str, str, str]:
    """(stdout, stderr, CommandError message) of a command expected to fail."""
    out, err = StringIO(), StringIO()
    with pytest.raises(CommandError) as excinfo:
        call_command(command, *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue(), str(excinfo.value)


def make_rows() -> None:
    """A mix of ages and outcomes; the comment on each says which periods count it."""
    now = timezone.now()
    make_verification(status=DeliveryStatus.QUEUED)  # hour+
    make_verification(status=DeliveryStatus.SENT, request_id=str(uuid.uuid4()))  # hour+
    make_verification(
        status=DeliveryStatus.DELIVERED, request_id=str(uuid.uuid4()), is_used=True, used_at=now
    )  # hour+
    make_verification(status=DeliveryStatus.FAILED, request_id=str(uuid.uuid4()))  # hour+
    make_verification(status=DeliveryStatus.FAILED, error="authorization declined")  # never sent
    make_verification(status=DeliveryStatus.EXPIRED, created_at=now - timedelta(hours=2))  # day+
    make_verification(
        status=DeliveryStatus.DELIVERED,
        request_id=str(uuid.uuid4()),
        is_used=True,
        created_at=now - timedelta(days=3),
    )  # week+
    make_verification(
        status=DeliveryStatus.SENT,
        request_id=str(uuid.uuid4()),
        created_at=now - timedelta(days=20),
    )  # month+
    make_verification(
        status=DeliveryStatus.DELIVERED,
        request_id=str(uuid.uuid4()),
        created_at=now - timedelta(days=45),
    )  # all only


# --- sms_stats -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("period", "expected"),
    [
        ("hour", {"total": 5, "sent": 3, "delivered": 1, "failed": 2, "used": 1}),
        ("day", {"total": 6, "sent": 3, "delivered": 1, "failed": 2, "used": 1}),
        ("week", {"total": 7, "sent": 4, "delivered": 2, "failed": 2, "used": 2}),
        ("month", {"total": 8, "sent": 5, "delivered": 2, "failed": 2, "used": 2}),
        ("all", {"total": 9, "sent": 6, "delivered": 3, "failed": 2, "used": 2}),
    ],
)
def test_sms_stats_counts_rows_of_the_period(period, expected):
    # given
    make_rows()

    # when
    out, _ = run("sms_stats", "--period", period, "--json")

    # then
    report = json.loads(out)
    assert {key: report[key] for key in expected} == expected
    assert report["period"] == period
    assert report["delivery_rate"] == round(expected["delivered"] / expected["sent"], 4)
    assert report["use_rate"] == round(expected["used"] / expected["total"], 4)


def test_sms_stats_json_breaks_rows_down_by_status():
    # given
    make_rows()

    # when
    report = json.loads(run("sms_stats", "--json")[0])

    # then: the default period is a day
    assert report["period"] == "day"
    assert report["since"] is not None
    assert report["by_status"] == {
        "queued": 1,
        "sending": 0,
        "sent": 1,
        "delivered": 1,
        "failed": 2,
        "expired": 1,
    }
    assert report["by_channel"] == {
        "sms": {"total": 6, "delivered": 1, "failed": 2, "used": 1, "fallbacks": 0}
    }


def test_sms_stats_breaks_rows_down_by_channel():
    # given
    make_verification(channel="call", status=DeliveryStatus.DELIVERED, is_used=True)
    make_verification(channel="call", fallback_from="sms", status=DeliveryStatus.FAILED)
    make_verification(channel="voice")
    # when
    report = json.loads(run("sms_stats", "--json")[0])
    out, _ = run("sms_stats")
    # then
    assert report["by_channel"] == {
        "call": {"total": 2, "delivered": 1, "failed": 1, "used": 1, "fallbacks": 1},
        "voice": {"total": 1, "delivered": 0, "failed": 0, "used": 0, "fallbacks": 0},
    }
    assert "call           total 2, delivered 1, failed 1, used 1, fallbacks 1" in out


def test_sms_stats_text_output_shows_counts_and_rates():
    # given
    make_rows()

    # when
    out, _ = run("sms_stats", "--period", "hour")

    # then
    assert "total          5" in out
    assert "sent           3" in out
    assert "delivery rate  33.3%" in out
    assert "use rate       20.0%" in out


def test_sms_stats_with_no_rows_has_no_rates():
    # when
    report = json.loads(run("sms_stats", "--period", "all", "--json")[0])
    out, _ = run("sms_stats")

    # then
    assert report["total"] == 0
    assert report["delivery_rate"] is None
    assert report["use_rate"] is None
    assert "n/a" in out


def test_verification_stats_is_one_query(django_assert_num_queries):
    # given
    make_rows()

    # when
    with django_assert_num_queries(1):
        counts = verification_stats(since=timezone.now() - timedelta(days=1))

    # then
    assert counts["total"] == 6
    assert counts["accepted"] == 3


# --- sms_balance -----------------------------------------------------------------------
def test_sms_balance_prints_the_sandbox_balance(sandbox_gateway, greensms_sandbox, settings):
    # given
    greensms_sandbox.configure(balance=1234.5)
    settings.GREEN_SMS_LOW_BALANCE = 100

    # when
    out, err = run("sms_balance")

    # then
    assert "GreenSMS balance: 1234.5" in out
    assert err == ""
    assert greensms_sandbox.stats()["balance_calls"] == 1


def test_sms_tariff_prints_each_channels_price_from_the_provider(
    sandbox_gateway, greensms_sandbox, settings
):
    # given
    settings.VERIFICATION_CHANNELS = ["sms", "call"]
    settings.VERIFICATION_FALLBACK_CHANNEL = "voice"
    # when
    out, err = run("sms_tariff")
    # then the sandbox's tariff, channel by channel
    assert out.splitlines() == [
        "GreenSMS tariff, per message:",
        "  sms    2.0  (enabled)",
        "  call   0.5  (enabled)",
        "  voice  3.0  (fallback)",
        "  viber  1.5",
    ]
    assert err == ""


def test_sms_tariff_on_auth_error_fails_without_the_password(
    sandbox_gateway, greensms_sandbox, settings
):
    settings.GREEN_SMS_PASSWORD = "not-" + SANDBOX_PASSWORD
    out, err, message = run_failing("sms_tariff")
    assert "authorization declined" in message
    for text in (out, err, message):
        assert SANDBOX_PASSWORD not in text


def test_sms_balance_warns_below_the_low_mark(sandbox_gateway, greensms_sandbox, settings):
    # given
    greensms_sandbox.configure(balance=42)
    settings.GREEN_SMS_LOW_BALANCE = 100

    # when
    out, err = run("sms_balance")

    # then
    assert "GreenSMS balance: 42" in out
    assert "below GREEN_SMS_LOW_BALANCE 100" in err


def test_sms_balance_on_auth_error_fails_without_the_password(sandbox_gateway, greensms_sandbox):
    # given
    greensms_sandbox.configure(error_kind="auth", error_rate=1.0)

    # when
    out, err, message = run_failing("sms_balance")

    # then
    assert "authorization declined" in message
    assert "GREEN_SMS_PASSWORD" in message  # the hint names the setting, not its value
    for text in (out, err, message):
        assert SANDBOX_PASSWORD not in text


def test_sms_balance_exits_1_with_one_line_and_no_traceback(greensms_sandbox):
    # given: the real command line, with the wrong password
    greensms_sandbox.configure(error_kind="auth", error_rate=1.0)
    env = {
        **os.environ,
        "GREEN_SMS_DEBUG": "False",
        "GREEN_SMS_BASE_URL": greensms_sandbox.url,
        "GREEN_SMS_USER": SANDBOX_USER,
        "GREEN_SMS_PASSWORD": SECRET_MARKER,
        "GREEN_SMS_TOKEN": "",
    }

    # when
    result = subprocess.run(
        [sys.executable, "manage.py", "sms_balance"],
        cwd=django_settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    # then
    assert result.returncode == 1
    assert "CommandError: GreenSMS balance request failed" in result.stderr
    assert "Traceback" not in result.stderr
    assert SECRET_MARKER not in result.stdout + result.stderr


# --- sms_status ------------------------------------------------------------------------
def test_sms_status_reads_a_sent_message_back(sandbox_gateway, greensms_sandbox):
    # given: a message the provider has delivered, stored as only `sent` so far
    greensms_sandbox.configure(delivery_delay=0)
    row, code = make_verification(phone=PHONE, status=DeliveryStatus.SENT)
    request_id = sandbox_gateway.send(PHONE, f"Ваш код: {code}", hidden=code, tag=str(row.id))
    row.request_id = request_id
    row.save(update_fields=["request_id"])

    # when
    out, _ = run("sms_status", request_id)

    # then
    assert "Provider: delivered (status_code 1: Delivery success)" in out
    assert f"verification {row.id} to {MASKED}: status sent (pending)" in out
    assert PHONE not in out
    assert "lags" in out


def test_sms_status_without_a_stored_row_still_asks_the_provider(sandbox_gateway):
    # given
    request_id = sandbox_gateway.send("79990001122", "Ваш код: 654321", hidden="654321", tag="t")

    # when
    out, _ = run("sms_status", request_id)

    # then
    assert "Provider: " in out
    assert "no verification has this request_id" in out


def test_sms_status_of_an_unknown_request_id_is_a_command_error(sandbox_gateway):
    # when
    _, _, message = run_failing("sms_status", str(uuid.uuid4()))

    # then
    assert "not found" in message
    assert "does not know this request_id" in message


def test_sms_status_on_auth_error_fails_without_the_password(sandbox_gateway, greensms_sandbox):
    # given
    greensms_sandbox.configure(error_kind="auth", error_rate=1.0)

    # when
    out, err, message = run_failing("sms_status", str(uuid.uuid4()))

    # then
    assert "authorization declined" in message
    assert "no verification has this request_id" in out
    for text in (out, err, message):
        assert SANDBOX_PASSWORD not in text


# --- sms_check -------------------------------------------------------------------------
@pytest.fixture
def debug_mode(settings: Any) -> Any:
    settings.GREEN_SMS_DEBUG = True
    return settings


def test_sms_check_in_debug_mode_passes_and_shows_queue_depths(debug_mode):
    # when: no CommandError means exit status 0
    out, _ = run("sms_check")

    # then
    lines = out.splitlines()
    assert not [line for line in lines if line.startswith("FAIL")]
    for name in ("sms", "status", "maintenance"):
        assert any(f"queue {name}" in line and "waiting" in line for line in lines)
    assert any("provider" in line and "skipped: GREEN_SMS_DEBUG=True" in line for line in lines)
    assert any(line.startswith("OK") and "database" in line for line in lines)
    assert any(line.startswith("OK") and "redis" in line for line in lines)
    assert any(line.startswith("OK") and "broker" in line for line in lines)


def test_sms_check_never_prints_credentials(debug_mode):
    # given: every credential set, and one hidden in the base URL too
    debug_mode.GREEN_SMS_USER = SECRET_MARKER + "-user"
    debug_mode.GREEN_SMS_PASSWORD = SECRET_MARKER
    debug_mode.GREEN_SMS_TOKEN = SECRET_MARKER + "-token"
    debug_mode.GREEN_SMS_BASE_URL = f"https://login:{SECRET_MARKER}@api3.greensms.ru/?pass=x"

    # when
    out, err = run("sms_check")

    # then
    assert SECRET_MARKER not in out + err
    assert "GREEN_SMS_TOKEN set" in out
    assert "https://api3.greensms.ru/" in out


def test_sms_check_reports_a_declined_login_without_the_password(
    sandbox_gateway, greensms_sandbox, settings
):
    # given: the real gateway, with a wrong password
    settings.GREEN_SMS_PASSWORD = SECRET_MARKER

    # when
    out, err, message = run_failing("sms_check")

    # then
    assert "provider" in message
    assert any(
        line.startswith("FAIL") and "authorization declined" in line for line in out.splitlines()
    )
    assert SECRET_MARKER not in out + err + message
    assert "GREEN_SMS_PASSWORD set" in out


def test_sms_check_against_the_sandbox_shows_the_balance(sandbox_gateway, greensms_sandbox):
    # given
    greensms_sandbox.configure(balance=777)

    # when
    out, _ = run("sms_check")

    # then
    assert any(
        line.startswith("OK") and "reachable, balance 777" in line for line in out.splitlines()
    )
    assert greensms_sandbox.stats()["balance_calls"] == 1


def test_sms_check_counts_rows_stuck_in_the_outbox(debug_mode):
    # given
    old = timezone.now() - timedelta(seconds=debug_mode.VERIFICATION_DISPATCH_AFTER * 2)
    make_verification(status=DeliveryStatus.QUEUED, created_at=old)
    make_verification(status=DeliveryStatus.SENDING, created_at=old)
    make_verification(status=DeliveryStatus.QUEUED)  # fresh: not stuck yet
    make_verification(status=DeliveryStatus.SENT, created_at=old)  # left the outbox

    # when
    out, _ = run("sms_check")

    # then
    line = next(line for line in out.splitlines() if "stuck rows" in line)
    assert line.startswith("WARN")
    assert "1 queued, 1 sending" in line


def test_sms_check_fails_while_sends_are_paused_for_funds(debug_mode):
    # given
    funds.open_breaker(60)

    # when
    out, _, message = run_failing("sms_check")

    # then
    line = next(line for line in out.splitlines() if "send breaker" in line)
    assert line.startswith("FAIL")
    assert "Insufficient funds" in line
    assert "send breaker" in message


def test_sms_check_fails_when_the_broker_is_down(debug_mode, broker_down):
    # when
    out, _, message = run_failing("sms_check")

    # then
    lines = out.splitlines()
    assert any(line.startswith("FAIL") and "broker" in line for line in lines)
    assert any(line.startswith("WARN") and "queue sms" in line for line in lines)
    assert "broker" in message


def test_queue_depths_counts_waiting_messages():
    # given: a queue of this test's own, so no worker or other test drains it
    name = f"test-commands-{uuid.uuid4().hex}"
    queue = Queue(name, Exchange(name, type="direct"), routing_key=name)
    with celery_app.connection_for_write() as conn:
        producer = conn.Producer()
        for n in range(2):
            producer.publish({"n": n}, exchange=queue.exchange, routing_key=name, declare=[queue])

    try:
        # when
        depths = queue_depths([name, f"{name}-missing"])

        # then
        assert depths == {name: 2, f"{name}-missing": 0}
    finally:
        with celery_app.connection_for_write() as conn:
            queue(conn.default_channel).delete()
