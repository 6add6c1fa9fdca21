"""The code never lands anywhere in plaintext: not in the row, not in the cache, not in logs."""

from __future__ import annotations

import logging

import pytest
from django.db import connection
from django_redis import get_redis_connection

from tests.factories import code_of
from verification import codes
from verification.models import SMSVerification

pytestmark = pytest.mark.django_db


def test_no_plaintext_code_in_the_row_the_cache_or_the_logs(api_client, caplog):
    caplog.set_level(logging.DEBUG)

    response = api_client.post("/api/auth/send-code/", {"phone": "+79991234567"}, format="json")

    row_id = response.json()["verification_id"]
    code = code_of(SMSVerification.objects.get(id=row_id))
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT * FROM verification_smsverification WHERE id = %s",
            [SMSVerification._meta.pk.get_db_prep_value(row_id, connection)],
        )
        raw_row = cursor.fetchone()
    assert raw_row is not None
    assert not any(code in str(value) for value in raw_row)
    redis = get_redis_connection("default")
    for key in redis.scan_iter(match="verification:*"):
        if redis.type(key) == b"string":
            assert code.encode() not in redis.get(key)
    assert code not in caplog.text
    assert code not in response.content.decode()


def test_hash_is_keyed_by_the_secret_key_and_bound_to_the_row(settings):
    row_id = SMSVerification().id
    other_id = SMSVerification().id

    first = codes.hash_code(row_id, "123456")
    settings.SECRET_KEY = "another-secret"
    rekeyed = codes.hash_code(row_id, "123456")

    assert first != rekeyed
    assert codes.hash_code(row_id, "123456") != codes.hash_code(other_id, "123456")
    assert codes.code_matches(rekeyed, row_id, "123456")
    assert not codes.code_matches(rekeyed, row_id, "123457")
