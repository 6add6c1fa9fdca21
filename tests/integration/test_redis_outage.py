"""Redis down: codes are still accepted, per-phone limits still hold (counted from the
database), verify still works. SPEC §7."""

from __future__ import annotations

import pytest

from tests.factories import make_verification, wrong_code
from verification.models import SMSVerification

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("redis_down", "broker_down")]

SEND = "/api/auth/send-code/"
VERIFY = "/api/auth/verify-code/"


def test_send_code_answers_202_and_keeps_the_row_queued(
    api_client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.post(SEND, {"phone": "+79991234567"}, format="json")

    assert response.status_code == 202
    row = SMSVerification.objects.get(id=response.json()["verification_id"])
    assert row.status == "queued"  # the outbox: beat re-dispatches it when Redis is back


def test_per_phone_send_limit_holds_from_the_database(api_client, fast_limits):
    statuses = [
        api_client.post(SEND, {"phone": "+79991234567"}, format="json").status_code
        for _ in range(7)
    ]

    assert statuses == [202] * 5 + [429] * 2
    assert SMSVerification.objects.filter(phone="+79991234567").count() == 5


def test_verify_works_and_its_limit_holds_from_the_database(api_client, fast_limits):
    # Rows do not say who guessed: the database counts the per-phone ceiling, here 1× the limit.
    fast_limits.RATE_LIMIT_PHONE_CEILING = 1
    row, code = make_verification()

    wrong = [
        api_client.post(
            VERIFY, {"phone": row.phone, "code": wrong_code(code)}, format="json"
        ).status_code
        for _ in range(4)
    ]
    right = api_client.post(VERIFY, {"phone": row.phone, "code": code}, format="json")
    again = api_client.post(VERIFY, {"phone": row.phone, "code": wrong_code(code)}, format="json")

    assert wrong == [400] * 4
    assert right.status_code == 200
    assert again.status_code == 429
    assert int(again["Retry-After"]) > 0


def test_health_is_degraded_not_down(api_client):
    response = api_client.get("/health/")

    assert response.status_code == 200
    assert response.json() == {
        "status": "degraded",
        "database": "ok",
        "redis": "down",
        "broker": "down",
    }
