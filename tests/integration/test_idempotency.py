"""Idempotency-Key on send-code, from the client's side: retries of a timed-out request get
the first answer and cost no second message and no quota; a reused key is refused; racing
retries produce one row — with Redis up and down."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection, connections
from django.utils import timezone
from rest_framework.test import APIClient

from verification.models import SMSVerification

SEND = "/api/auth/send-code/"
PHONE = "+79991234567"
KEY = "6f1c8a52-3c4e-4d7b-9a51-2f0e8b7d1c33"


def send(client: APIClient, key: str | None = KEY, phone: str = PHONE, **extra: Any) -> Any:
    headers: dict[str, Any] = {} if key is None else {"HTTP_IDEMPOTENCY_KEY": key}
    return client.post(SEND, {"phone": phone}, format="json", **headers, **extra)


@pytest.mark.django_db
def test_a_retried_request_replays_the_first_answer_without_a_second_message(
    api_client, django_capture_on_commit_callbacks
):
    # given a send-code whose answer the client never saw
    with django_capture_on_commit_callbacks() as first_publishes:
        first = send(api_client)

    # when the client retries it three times with the same key
    with django_capture_on_commit_callbacks() as retry_publishes:
        retries = [send(api_client) for _ in range(3)]

    # then every retry gets the first answer, marked as a replay, and nothing is sent again
    assert first.status_code == 202
    assert "Idempotent-Replayed" not in first
    for retry in retries:
        assert retry.status_code == 202
        assert retry.json() == first.json()
        assert retry["Location"] == first["Location"]
        assert retry["Idempotent-Replayed"] == "true"
    assert SMSVerification.objects.filter(phone=PHONE).count() == 1
    assert (len(first_publishes), len(retry_publishes)) == (1, 0)


@pytest.mark.django_db
@pytest.mark.parametrize("redis", ["up", "down"])
def test_replays_spend_no_quota(api_client, settings, request, redis):
    if redis == "down":
        request.getfixturevalue("redis_down")
        request.getfixturevalue("broker_down")
    # given a client allowed one send an hour
    settings.RATE_LIMIT_SEND_PER_IP_PER_HOUR = 1

    # when it sends once and retries five times
    answers = [send(api_client).status_code for _ in range(6)]
    # then all six are answered, and the one send of its quota is all that was spent
    assert answers == [202] * 6
    assert send(api_client, key="another-key", phone="+79991234568").status_code == 429


@pytest.mark.django_db
def test_the_same_key_with_another_body_is_422(api_client):
    send(api_client)

    other = send(api_client, phone="+79991234568")
    english = send(api_client, phone="+79991234568", HTTP_ACCEPT_LANGUAGE="en")

    assert (other.status_code, other.json()["code"]) == (422, "idempotency_key_reused")
    assert other.json()["error"] == "Ключ идемпотентности уже использован для другого запроса"
    assert english.json()["error"] == "This idempotency key was already used for another request"
    assert SMSVerification.objects.count() == 1


@pytest.mark.django_db
def test_the_same_number_written_another_way_is_the_same_request(api_client):
    first = send(api_client, phone="+79991234567")

    again = send(api_client, phone="8 (999) 123-45-67")

    assert again.status_code == 202
    assert again["Idempotent-Replayed"] == "true"
    assert again.json()["verification_id"] == first.json()["verification_id"]


@pytest.mark.django_db
def test_after_the_codes_ttl_the_key_starts_afresh(api_client, settings):
    first = send(api_client).json()["verification_id"]
    SMSVerification.objects.filter(id=first).update(
        created_at=timezone.now() - timedelta(seconds=settings.VERIFICATION_CODE_TTL + 1)
    )

    later = send(api_client)

    assert later.status_code == 202
    assert "Idempotent-Replayed" not in later
    assert later.json()["verification_id"] != first


@pytest.mark.django_db
def test_a_refused_request_does_not_use_the_key_up(api_client, settings):
    # given a first attempt refused by the per-IP limit
    settings.RATE_LIMIT_SEND_PER_IP_PER_HOUR = 0
    assert send(api_client).status_code == 429

    # when the limit allows it again, the same key sends
    settings.RATE_LIMIT_SEND_PER_IP_PER_HOUR = 30
    assert send(api_client).status_code == 202


@pytest.mark.django_db
@pytest.mark.parametrize(
    "key",
    ["", "k" * 256, "ключ", "tab\there", "line\x7f"],
    ids=["empty", "256-chars", "non-ascii", "control", "delete"],
)
def test_a_malformed_key_is_400(api_client, key):
    answer = send(api_client, key=key)

    assert answer.status_code == 400
    assert answer.json()["code"] == "invalid_request"
    assert "Idempotency-Key" in answer.json()["fields"]
    assert SMSVerification.objects.count() == 0


@pytest.mark.django_db
def test_a_key_of_255_printable_characters_is_accepted(api_client):
    assert send(api_client, key="".join(chr(32 + i % 95) for i in range(255))).status_code == 202


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="SQLite serializes all writers: no race to show"
)
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("redis", ["up", "down"])
def test_racing_retries_with_one_key_produce_one_row(request, redis):
    if redis == "down":
        request.getfixturevalue("redis_down")
        request.getfixturevalue("broker_down")
    barrier = threading.Barrier(8)
    answers: list[Any] = []

    def client_retry() -> None:
        client = APIClient()
        barrier.wait()
        try:
            answers.append(send(client))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=client_retry) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert [a.status_code for a in answers] == [202] * 8
    assert len({a.json()["verification_id"] for a in answers}) == 1
    assert sum(a.has_header("Idempotent-Replayed") for a in answers) == 7
    # one row: one message (only a created row is published; replays publish nothing, as
    # test_a_retried_request_replays_the_first_answer_without_a_second_message shows)
    assert SMSVerification.objects.count() == 1
