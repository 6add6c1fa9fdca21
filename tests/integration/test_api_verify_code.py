from __future__ import annotations

from datetime import timedelta

import jwt
import pytest
from django.utils import timezone

from tests.factories import code_of, make_verification, wrong_code
from verification.models import SMSVerification

pytestmark = pytest.mark.django_db

SEND = "/api/auth/send-code/"
VERIFY = "/api/auth/verify-code/"
INVALID = {"error": "Неверный или истекший код", "code": "invalid_code"}


def test_correct_code_is_200_and_marks_the_code_used(api_client):
    row, code = make_verification()

    response = api_client.post(VERIFY, {"phone": row.phone, "code": code}, format="json")

    assert response.status_code == 200
    body = response.json()
    assert {k: body[k] for k in ("message", "verified")} == {
        "message": "Код подтвержден успешно",
        "verified": True,
    }
    assert set(body) == {"message", "verified", "token", "token_expires_at"}
    row.refresh_from_db()
    assert row.is_used
    assert row.used_at is not None


def test_a_code_sent_through_the_api_verifies_once(api_client):
    sent = api_client.post(SEND, {"phone": "+79991234567"}, format="json").json()
    code = code_of(SMSVerification.objects.get(id=sent["verification_id"]))

    first = api_client.post(VERIFY, {"phone": "+79991234567", "code": code}, format="json")
    second = api_client.post(VERIFY, {"phone": "+79991234567", "code": code}, format="json")

    assert first.status_code == 200
    assert (second.status_code, second.json()) == (400, INVALID)


@pytest.mark.parametrize("case", ["wrong", "expired", "used", "unknown_phone", "malformed"])
def test_every_failure_gets_the_same_answer(api_client, case):
    row, code = make_verification()
    phone = row.phone
    if case == "wrong":
        code = wrong_code(code)
    elif case == "expired":
        SMSVerification.objects.filter(id=row.id).update(
            expires_at=timezone.now() - timedelta(seconds=1)
        )
    elif case == "used":
        SMSVerification.objects.filter(id=row.id).update(is_used=True)
    elif case == "unknown_phone":
        phone = "+79990000000"
    elif case == "malformed":
        code = "12ab"

    response = api_client.post(VERIFY, {"phone": phone, "code": code}, format="json")

    assert (response.status_code, response.json()) == (400, INVALID)


def test_max_attempts_burn_the_code(api_client, settings):
    settings.VERIFICATION_MAX_ATTEMPTS = 3
    settings.RATE_LIMIT_VERIFY_PER_HOUR = 100
    row, code = make_verification()
    for _ in range(3):
        api_client.post(VERIFY, {"phone": row.phone, "code": wrong_code(code)}, format="json")

    response = api_client.post(VERIFY, {"phone": row.phone, "code": code}, format="json")

    assert (response.status_code, response.json()) == (400, INVALID)
    row.refresh_from_db()
    assert row.attempts == 3
    assert not row.is_used


def test_only_the_newest_code_counts(api_client):
    first = api_client.post(SEND, {"phone": "+79991234567"}, format="json").json()
    second = api_client.post(SEND, {"phone": "+79991234567"}, format="json").json()
    old_code = code_of(SMSVerification.objects.get(id=first["verification_id"]))
    new_code = code_of(SMSVerification.objects.get(id=second["verification_id"]))
    if old_code == new_code:
        pytest.skip("the two random codes coincided (one chance in a million)")

    old = api_client.post(VERIFY, {"phone": "+79991234567", "code": old_code}, format="json")
    new = api_client.post(VERIFY, {"phone": "+79991234567", "code": new_code}, format="json")

    assert (old.status_code, new.status_code) == (400, 200)


def test_verify_limit_per_phone_is_429(api_client, fast_limits):
    row, code = make_verification()
    statuses = [
        api_client.post(
            VERIFY, {"phone": row.phone, "code": wrong_code(code)}, format="json"
        ).status_code
        for _ in range(5)
    ]

    response = api_client.post(VERIFY, {"phone": row.phone, "code": code}, format="json")

    assert statuses == [400] * 5
    assert response.status_code == 429
    assert response.json()["code"] == "rate_limited"
    assert int(response["Retry-After"]) > 0


def test_code_field_errors(api_client):
    response = api_client.post(VERIFY, {"phone": "+79991234567"}, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_request"
    assert "code" in response.json()["fields"]


def test_verification_detail_masks_the_phone_and_hides_the_code(api_client):
    row, _ = make_verification()

    response = api_client.get(f"/api/auth/verifications/{row.id}/")

    assert response.status_code == 200
    body = response.json()
    assert body["phone"] == "+7999***4567"
    assert body["status"] == "queued"
    assert body["is_used"] is False
    assert set(body) == {
        "id", "phone", "status", "channel", "is_used", "created_at", "expires_at",
        "sent_at", "delivered_at", "error", "resend_available_at",
    }  # fmt: skip
    assert row.code_hash not in response.content.decode()


def test_unknown_verification_is_404_json(api_client):
    response = api_client.get("/api/auth/verifications/00000000-0000-4000-8000-000000000000/")

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_verify_works_with_the_code_cache_switched_off(api_client, settings):
    settings.VERIFICATION_CODE_CACHE = False
    sent = api_client.post(SEND, {"phone": "+79991234567"}, format="json").json()
    code = code_of(SMSVerification.objects.get(id=sent["verification_id"]))

    first = api_client.post(VERIFY, {"phone": "+79991234567", "code": code}, format="json")
    second = api_client.post(VERIFY, {"phone": "+79991234567", "code": code}, format="json")

    assert (first.status_code, second.status_code) == (200, 400)


def test_a_right_code_is_confirmed_and_its_channel_read_in_one_statement(api_client):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    # given: a code sent through the API (so the verify cache holds its hash)
    sent = api_client.post("/api/auth/send-code/", {"phone": "+79991234567"}, format="json")
    row = SMSVerification.objects.get(id=sent.json()["verification_id"])
    SMSVerification.objects.filter(id=row.id).update(channel="voice")  # a fallback moved it

    with CaptureQueriesContext(connection) as queries:
        response = api_client.post(
            "/api/auth/verify-code/", {"phone": row.phone, "code": code_of(row)}, format="json"
        )

    assert response.status_code == 200
    # the token names the channel the code went out on, as the row says now
    claims = jwt.decode(response.json()["token"], options={"verify_signature": False})
    assert claims["amr"] == ["voice"]
    # PostgreSQL confirms and reads the channel in one UPDATE ... RETURNING
    assert len(queries) == (1 if connection.vendor == "postgresql" else 2)
