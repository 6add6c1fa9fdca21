from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def test_messages_are_russian_by_default(api_client):
    response = api_client.post("/api/auth/send-code/", {"phone": "+1234567890"}, format="json")

    assert response.json() == {"error": "Некорректный номер телефона", "code": "invalid_phone"}


@pytest.mark.parametrize(
    ("payload", "url", "expected"),
    [
        (
            {"phone": "+1234567890"},
            "/api/auth/send-code/",
            {"error": "Invalid phone number", "code": "invalid_phone"},
        ),
        (
            {"phone": "+79991234567", "code": "000000"},
            "/api/auth/verify-code/",
            {"error": "Invalid or expired code", "code": "invalid_code"},
        ),
    ],
)
def test_messages_are_english_with_accept_language_en(api_client, payload, url, expected):
    response = api_client.post(url, payload, format="json", HTTP_ACCEPT_LANGUAGE="en")

    assert response.json() == expected


def test_success_message_in_english(api_client):
    response = api_client.post(
        "/api/auth/send-code/", {"phone": "+79991234567"}, format="json",
        HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9",
    )  # fmt: skip

    assert response.json()["message"] == "A verification code has been sent to your phone"


def test_rate_limit_message_in_english(api_client, settings):
    settings.RATE_LIMIT_SEND_PER_HOUR = 0

    response = api_client.post(
        "/api/auth/send-code/", {"phone": "+79991234567"}, format="json",
        HTTP_ACCEPT_LANGUAGE="en",
    )  # fmt: skip

    assert response.status_code == 429
    assert response.json()["error"] == "Too many requests"
