"""Request bodies from the attacker's side: JSON only (415), at most API_MAX_BODY_BYTES (413
before any parsing), anything unparsable a 400 `parse_error`, and never a 5xx for any bytes
thrown at any endpoint."""

from __future__ import annotations

import json
import uuid

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

SEND = "/api/auth/send-code/"
VERIFY = "/api/auth/verify-code/"
PHONE = "+79991234567"


def post(client: Client, path: str, body: bytes, content_type: str = "application/json", **kw):
    return client.generic("POST", path, data=body, content_type=content_type, **kw)


@pytest.fixture
def client() -> Client:
    return Client()


MULTIPART = (
    b'--xyz\r\nContent-Disposition: form-data; name="phone"\r\n\r\n+79991234567\r\n--xyz--\r\n'
)


# --- media type ----------------------------------------------------------------------------
@pytest.mark.django_db
@pytest.mark.parametrize("path", [SEND, VERIFY])
@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/x-www-form-urlencoded", b"phone=%2B79991234567&code=123456"),
        ("multipart/form-data; boundary=xyz", MULTIPART),
        ("text/plain", b'{"phone": "+79991234567"}'),
        ("", b'{"phone": "+79991234567"}'),
    ],
)  # fmt: skip
def test_only_json_is_accepted(client, path, content_type, body):
    response = post(client, path, body, content_type)

    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"


# --- size ------------------------------------------------------------------------------------
@pytest.mark.django_db
def test_a_body_over_the_limit_is_413_before_it_is_parsed(client, settings):
    # given: a body one byte over the limit, and not even JSON
    settings.API_MAX_BODY_BYTES = 1024
    body = b"{" * 1025

    # when
    response = post(client, SEND, body)

    # then: too large, not malformed: nothing read it
    assert response.status_code == 413
    assert response.json() == {"error": "Слишком большое тело запроса", "code": "payload_too_large"}


@pytest.mark.django_db
def test_a_body_at_the_limit_is_read(client, settings):
    settings.API_MAX_BODY_BYTES = 1024
    body = json.dumps({"phone": "not a phone", "pad": "x" * 900}).encode()
    body += b" " * (1024 - len(body))
    assert len(body) == 1024

    response = post(client, SEND, body)

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_phone"


def test_a_50_mb_body_gets_413_in_english_on_request(client):
    response = post(client, SEND, b"x" * (50 * 2**20), HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 413
    assert response.json() == {
        "error": "The request body is too large",
        "code": "payload_too_large",
    }


# --- unparsable -----------------------------------------------------------------------------
UNPARSABLE = {
    "nested 5000 deep": b'{"phone": ' + b"[" * 5000 + b"]" * 5000 + b"}",
    "nested 33 deep": b'{"phone": ' + b"[" * 32 + b"]" * 32 + b"}",
    "invalid utf-8": b'{"phone": "+7999\xff\xfe1234567"}',
    "utf-16": json.dumps({"phone": PHONE}).encode("utf-16"),
    "NaN": b'{"phone": NaN}',
    "Infinity": b'{"phone": "+79991234567", "code": -Infinity}',
    "duplicate keys": b'{"phone": "+70000000000", "phone": "+79991234567"}',
    "truncated": b'{"phone": "+7999',
    "huge integer": b'{"phone": ' + b"9" * 5000 + b"}",
    "trailing garbage": b'{"phone": "+79991234567"} {}',
}


@pytest.mark.django_db
@pytest.mark.parametrize("path", [SEND, VERIFY])
@pytest.mark.parametrize("body", UNPARSABLE.values(), ids=UNPARSABLE.keys())
def test_an_unparsable_body_is_a_parse_error(client, path, body):
    response = post(client, path, body)

    assert response.status_code == 400
    assert response.json() == {
        "error": "Тело запроса не является корректным JSON",
        "code": "parse_error",
    }


@pytest.mark.django_db
def test_shapes_that_are_json_but_not_an_object_are_invalid_requests(client):
    for body in (b"[]", b'"+79991234567"', b"null", b"42", b'{"phone": {"nested": 1}}'):
        response = post(client, SEND, body)

        assert response.status_code == 400, body
        assert response.json()["code"] in ("invalid_request", "invalid_phone"), body


# --- every endpoint, any bytes: never a 5xx ---------------------------------------------------
def public_paths() -> list[str]:
    """Every URL the service routes outside the admin, path parameters filled in."""
    paths: list[str] = []

    def walk(patterns: list[URLPattern | URLResolver], prefix: str) -> None:
        for pattern in patterns:
            route = prefix + str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, route)
            elif not route.startswith("admin/"):
                paths.append("/" + route.replace("<uuid:verification_id>", str(uuid.uuid4())))

    walk(get_resolver().url_patterns, "")
    return paths


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4)
    ),
    max_leaves=12,
)
PHONE_LIKE = st.from_regex(r"\+?[0-9 ()-]{0,18}", fullmatch=True)
REQUESTS = st.fixed_dictionaries(
    {"phone": st.one_of(PHONE_LIKE, JSON_VALUES), "code": st.one_of(st.text(), JSON_VALUES)},
    optional={"channel": st.one_of(st.sampled_from(["sms", "call", "voice", "viber"]), st.text())},
)
BODIES = st.one_of(
    st.binary(max_size=512),
    JSON_VALUES.map(lambda value: json.dumps(value).encode()),
    REQUESTS.map(lambda value: json.dumps(value, ensure_ascii=False).encode()),
    st.integers(min_value=1, max_value=6000).map(lambda depth: b"[" * depth + b"]" * depth),
)
CONTENT_TYPES = st.sampled_from(
    [
        "application/json",
        "application/json; charset=utf-8",
        "application/json; charset=latin-1",
        "application/vnd.api+json",
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "",
    ]
)


@pytest.mark.django_db(transaction=True)
@hypothesis_settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    path=st.sampled_from(public_paths()),
    method=st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]),
    body=BODIES,
    content_type=CONTENT_TYPES,
    language=st.sampled_from(["ru", "en", "xx", ""]),
)
def test_no_body_on_any_endpoint_is_a_server_error(path, method, body, content_type, language):
    response = Client().generic(
        method, path, data=body, content_type=content_type, HTTP_ACCEPT_LANGUAGE=language
    )

    assert response.status_code < 500, (response.status_code, response.content[:300])
