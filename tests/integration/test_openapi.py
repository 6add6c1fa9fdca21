"""The OpenAPI description says precisely what the API does (test_contract.py fuzzes it)."""

from __future__ import annotations

import re

import pytest

from verification.api.schema import (
    CODE_PATTERN,
    ERRORS,
    PHONE_E164_PATTERN,
    PHONE_INPUT_PATTERN,
    PHONE_MASKED_PATTERN,
)
from verification.exceptions import ApplicationError

pytestmark = pytest.mark.django_db


@pytest.fixture
def schema(api_client):
    return api_client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()


def operation(schema, operation_id):
    for path in schema["paths"].values():
        for op in path.values():
            if op["operationId"] == operation_id:
                return op
    raise AssertionError(operation_id)


def component(schema, name):
    return schema["components"]["schemas"][name]


def test_phone_and_code_have_patterns(schema):
    assert component(schema, "SendCodeInput")["properties"]["phone"]["pattern"] == (
        PHONE_INPUT_PATTERN
    )
    verify = component(schema, "VerifyCodeInput")["properties"]
    assert verify["phone"]["pattern"] == PHONE_INPUT_PATTERN
    assert verify["code"]["pattern"] == CODE_PATTERN
    assert component(schema, "SendCodeOutput")["properties"]["phone"]["pattern"] == (
        PHONE_E164_PATTERN
    )
    assert component(schema, "Verification")["properties"]["phone"]["pattern"] == (
        PHONE_MASKED_PATTERN
    )


def test_every_error_code_has_an_example(schema):
    documented = {
        example["value"]["code"]
        for path in schema["paths"].values()
        for op in path.values()
        for status, response in op["responses"].items()
        if status.startswith("4") or status.startswith("5")
        for example in response.get("content", {})
        .get("application/json", {})
        .get("examples", {})
        .values()
    }
    components = {example["value"]["code"] for example in schema["components"]["examples"].values()}

    assert documented | components == set(ERRORS)


def _error_classes(cls=ApplicationError):
    for sub in cls.__subclasses__():
        yield sub
        yield from _error_classes(sub)


def test_every_application_error_is_documented_with_its_status():
    for error in _error_classes():
        assert error.code in ERRORS, f"{error.__name__}: add {error.code!r} to api/schema.py"
        assert ERRORS[error.code][0] == error.status_code, error.__name__


def test_send_code_documents_its_headers_and_links_to_the_status(schema):
    send = operation(schema, "send_code")

    (key,) = [p for p in send["parameters"] if p["in"] == "header"]
    assert key["name"] == "Idempotency-Key"
    assert key["schema"]["pattern"] == r"^[\x20-\x7e]{1,255}$"
    accepted = send["responses"]["202"]
    assert accepted["headers"]["Location"]["required"] is True
    assert accepted["headers"]["Idempotent-Replayed"]["schema"]["enum"] == ["true"]
    assert "Retry-After" in send["responses"]["429"]["headers"]
    assert accepted["links"]["GetVerification"] == {
        "operationId": "verification_retrieve",
        "parameters": {"verification_id": "$response.body#/verification_id"},
        "description": "The status of the verification just created",
    }
    assert operation(schema, "verification_retrieve")  # the link's target exists


@pytest.mark.parametrize(
    ("written", "status"),
    [
        ("+7 (999) 123-45-67", 202),
        ("8.999.123.45.67", 202),
        ("+7 999 CALL-NOW", 400),  # a vanity number libphonenumber would read
        ("tel:+79991234567", 400),
        (" +79991234567", 400),
    ],
)
def test_the_phone_pattern_is_what_the_server_accepts(api_client, written, status):
    answer = api_client.post("/api/auth/send-code/", {"phone": written}, format="json")

    assert bool(re.match(PHONE_INPUT_PATTERN, written)) is (status == 202)
    assert answer.status_code == status
