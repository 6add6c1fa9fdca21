"""The SMS text a phone receives: the request's language, kept on the row for the worker."""

from __future__ import annotations

import pytest

from tests.factories import code_of
from verification.models import SMSVerification
from verification.sending import verification_send

pytestmark = pytest.mark.django_db

SEND = "/api/auth/send-code/"
PHONE = "+79991234567"


@pytest.fixture
def texts(settings):
    settings.GREEN_SMS_TEMPLATE = "Ваш код: {code}"
    settings.GREEN_SMS_TEMPLATE_EN = "Your code: {code}"
    settings.WEBOTP_DOMAIN = ""
    settings.ANDROID_APP_HASH = ""
    return settings


def received(greensms_sandbox, api_client, body, **headers) -> tuple[SMSVerification, str]:
    """Ask for a code, let the send service run (as the worker does), read what was sent."""
    answer = api_client.post(SEND, body, format="json", **headers)
    assert answer.status_code == 202, answer.json()
    row = SMSVerification.objects.get(id=answer.json()["verification_id"])
    verification_send(verification_id=row.id, retries=0)
    (message,) = greensms_sandbox.messages()
    return row, message["txt"]


@pytest.mark.parametrize(
    ("body", "headers", "language", "text"),
    [
        pytest.param({}, {}, "ru", "Ваш код: {code}", id="default"),
        pytest.param({}, {"HTTP_ACCEPT_LANGUAGE": "en-US,en;q=0.9"}, "en", "Your code: {code}"),
        pytest.param({"language": "en"}, {}, "en", "Your code: {code}", id="field"),
        pytest.param(
            {"language": "ru"},
            {"HTTP_ACCEPT_LANGUAGE": "en"},
            "ru",
            "Ваш код: {code}",
            id="field-wins-over-header",
        ),
        pytest.param({}, {"HTTP_ACCEPT_LANGUAGE": "de"}, "ru", "Ваш код: {code}", id="unknown"),
    ],
)
def test_the_text_follows_the_requests_language(
    api_client, greensms_sandbox, sandbox_gateway, texts, body, headers, language, text
):
    row, txt = received(greensms_sandbox, api_client, {"phone": PHONE, **body}, **headers)

    assert row.language == language
    assert txt == text.format(code=code_of(row))


def test_the_language_chosen_at_the_request_survives_a_settings_change(
    api_client, greensms_sandbox, sandbox_gateway, texts
):
    # given an English request, and the English template changed before the worker runs
    answer = api_client.post(SEND, {"phone": PHONE, "language": "en"}, format="json")
    texts.GREEN_SMS_TEMPLATE_EN = "Code {code}"
    row = SMSVerification.objects.get(id=answer.json()["verification_id"])

    # when the worker sends it
    verification_send(verification_id=row.id, retries=0)

    # then the row's language picked the (current) English template
    assert greensms_sandbox.messages()[0]["txt"] == f"Code {code_of(row)}"


def test_autofill_lines_reach_the_phone(api_client, greensms_sandbox, sandbox_gateway, texts):
    texts.WEBOTP_DOMAIN = "verify.example.com"
    texts.ANDROID_APP_HASH = "FA+9qCX9VSu"

    row, txt = received(greensms_sandbox, api_client, {"phone": PHONE})

    code = code_of(row)
    assert txt.split("\n") == [f"Ваш код: {code}", "FA+9qCX9VSu", f"@verify.example.com #{code}"]


def test_an_unknown_language_is_400(api_client, texts):
    answer = api_client.post(SEND, {"phone": PHONE, "language": "de"}, format="json")

    assert answer.status_code == 400
    assert answer.json()["code"] == "invalid_request"
    assert "language" in answer.json()["fields"]
