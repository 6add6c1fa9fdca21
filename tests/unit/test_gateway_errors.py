"""Error classification: pure functions over what came back, no network."""

from __future__ import annotations

import http.client
import logging
import pickle
from decimal import Decimal

import pytest
import requests
from urllib3.exceptions import (
    ConnectTimeoutError,
    MaxRetryError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
)

from verification.gateways import errors
from verification.gateways.classify import error_from_body, parse_response, transport_error
from verification.gateways.greensms import ConfiguredGreenSMS, _as_decimal
from verification.gateways.transport import RedactQueryStrings, split_timeout

SECRET_URL = "/sms/send?user=u&pass=Hunter2-secret&txt=code+424242&hidden=424242"


def _json(text: str) -> bytes:
    return text.encode()


# --- JSON error bodies -------------------------------------------------------------------
@pytest.mark.parametrize(
    ("body", "http_status", "expected"),
    [
        ({"error": "Authorization declined", "code": 0}, 401, errors.AuthorizationDeclined),
        ({"error": "Authorization declined", "code": 0}, 200, errors.AuthorizationDeclined),
        ({"error": "Insufficient funds", "code": -1}, 402, errors.InsufficientFunds),
        ({"error": "Insufficient funds", "code": "-1"}, 200, errors.InsufficientFunds),
        ({"error": "Missing input param: to", "code": 1}, 400, errors.InvalidParameters),
        ({"error": "Invalid input param: to", "code": 2}, 400, errors.InvalidParameters),
        ({"error": "Not found", "code": 404}, 404, errors.RequestNotFound),
        ({"error": "Internal Server Error", "code": 500}, 500, errors.ProviderUnavailable),
        ({"error": "Bad gateway", "code": 77}, 503, errors.ProviderUnavailable),
        ({"error": "Slow down", "code": 77}, 429, errors.ProviderThrottled),
        ({"error": "Something odd", "code": 77}, 400, errors.PermanentProviderError),
        ({"error": "Something odd", "code": 77}, 200, errors.PermanentProviderError),
    ],
)
def test_error_body_is_classified_by_code_then_http_status(
    body: dict[str, object], http_status: int, expected: type[errors.ProviderError]
) -> None:
    error = error_from_body(body, http_status)
    assert type(error) is expected
    assert error.http_status == http_status


def test_a_codeless_500_is_not_insufficient_funds() -> None:
    # given the client's RestError, which defaults a missing code to -1 ("funds")
    # when the provider answers a bare error at HTTP 500
    error = error_from_body({"error": "Internal error"}, 500)
    # then it is a transient outage, not a permanent lack of money
    assert isinstance(error, errors.ProviderUnavailable)
    assert error.transient


@pytest.mark.parametrize(
    ("cls", "transient"),
    [
        (errors.AuthorizationDeclined, False),
        (errors.InsufficientFunds, False),
        (errors.InvalidParameters, False),
        (errors.RequestNotFound, False),
        (errors.ProviderConfigurationError, False),
        (errors.ProviderUnavailable, True),
        (errors.ProviderThrottled, True),
        (errors.ProviderTimeout, True),
        (errors.AmbiguousSendError, True),
        (errors.NonJSONResponse, True),
        (errors.MalformedResponse, True),
        (errors.ProviderConnectionError, True),
    ],
)
def test_every_error_is_either_transient_or_permanent(
    cls: type[errors.ProviderError], transient: bool
) -> None:
    base = errors.TransientProviderError if transient else errors.PermanentProviderError
    assert issubclass(cls, base)
    assert cls().transient is transient
    assert cls().reason


# --- whole responses ---------------------------------------------------------------------
def test_success_body_is_returned() -> None:
    assert parse_response(200, "application/json", _json('{"request_id": "x"}')) == {
        "request_id": "x"
    }


def test_429_is_throttled_whatever_the_body() -> None:
    with pytest.raises(errors.ProviderThrottled):
        parse_response(429, "text/plain", b"slow down")


@pytest.mark.parametrize("http_status", [200, 502, 503, 504, 302])
def test_non_json_body_is_transient(http_status: int) -> None:
    with pytest.raises(errors.NonJSONResponse) as caught:
        parse_response(http_status, "text/html; charset=utf-8", b"<html>Bad Gateway</html>")
    assert caught.value.transient
    assert caught.value.reason == f"non-JSON response (HTTP {http_status}, text/html)"
    assert caught.value.__context__ is None  # the decode error (and the body) is not chained


def test_undecodable_bytes_are_non_json() -> None:
    with pytest.raises(errors.NonJSONResponse):
        parse_response(200, "application/json", b"\xff\xfe{")


@pytest.mark.parametrize(
    ("http_status", "ambiguous"), [(200, True), (504, True), (502, False), (500, False)]
)
def test_a_send_without_a_usable_answer_is_ambiguous_when_it_may_have_been_processed(
    http_status: int, ambiguous: bool
) -> None:
    with pytest.raises(errors.TransientProviderError) as caught:
        parse_response(http_status, "text/html", b"<html/>", non_idempotent=True)
    assert caught.value.ambiguous is ambiguous


def test_json_without_error_at_5xx_is_unavailable() -> None:
    with pytest.raises(errors.ProviderUnavailable):
        parse_response(503, "application/json", _json('{"status": "maintenance"}'))


def test_json_that_is_not_an_object_is_malformed() -> None:
    with pytest.raises(errors.MalformedResponse) as caught:
        parse_response(200, "application/json", b"[1, 2]", non_idempotent=True)
    assert caught.value.ambiguous


def test_secrets_are_scrubbed_from_provider_messages() -> None:
    body = _json('{"error": "bad hidden 424242 for pass Hunter2-secret", "code": 77}')
    with pytest.raises(errors.PermanentProviderError) as caught:
        parse_response(400, "application/json", body, secrets=("424242", "Hunter2-secret"))
    assert "424242" not in caught.value.reason
    assert "Hunter2-secret" not in caught.value.reason


# --- transport failures ------------------------------------------------------------------
def _refused() -> requests.ConnectionError:
    reason = NewConnectionError(None, "Connection refused")  # type: ignore[arg-type]
    return requests.ConnectionError(MaxRetryError(None, SECRET_URL, reason))  # type: ignore[arg-type]


def _aborted() -> requests.ConnectionError:
    cause = http.client.RemoteDisconnected("Remote end closed connection")
    return requests.ConnectionError(ProtocolError("Connection aborted.", cause))


def _connect_timeout() -> requests.ConnectTimeout:
    reason = ConnectTimeoutError(None, SECRET_URL)
    return requests.ConnectTimeout(MaxRetryError(None, SECRET_URL, reason))  # type: ignore[arg-type]


def _read_timeout() -> requests.ReadTimeout:
    return requests.ReadTimeout(ReadTimeoutError(None, SECRET_URL, "Read timed out."))  # type: ignore[arg-type]


def _ssl() -> requests.RequestException:
    return requests.exceptions.SSLError("handshake failed")


def _truncated() -> requests.RequestException:
    return requests.exceptions.ChunkedEncodingError("Connection broken: IncompleteRead")


def _invalid_url() -> requests.RequestException:
    return requests.exceptions.InvalidURL(SECRET_URL)


def _missing_schema() -> requests.RequestException:
    return requests.exceptions.MissingSchema(SECRET_URL)


@pytest.mark.parametrize(
    ("make", "send", "expected", "ambiguous"),
    [
        (_refused, True, errors.ProviderConnectionError, False),
        (_connect_timeout, True, errors.ProviderTimeout, False),
        (_read_timeout, True, errors.AmbiguousSendError, True),
        (_read_timeout, False, errors.ProviderTimeout, False),
        (_aborted, True, errors.AmbiguousSendError, True),
        (_aborted, False, errors.ProviderConnectionError, False),
        (_ssl, True, errors.ProviderConnectionError, False),
        (_truncated, True, errors.TransientProviderError, True),
        (_invalid_url, True, errors.ProviderConfigurationError, False),
        (_missing_schema, False, errors.ProviderConfigurationError, False),
    ],
)
def test_transport_errors(
    make: object, send: bool, expected: type[errors.ProviderError], ambiguous: bool
) -> None:
    error = transport_error(make(), non_idempotent=send)  # type: ignore[operator]
    assert type(error) is expected
    assert error.ambiguous is ambiguous
    assert "Hunter2" not in str(error) + repr(error)
    assert "424242" not in str(error) + repr(error)


def test_errors_survive_pickling_with_their_fields() -> None:
    # Celery may pickle a task's exception into the result backend.
    error = errors.AmbiguousSendError("read timeout", http_status=None)
    clone = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own object
    assert type(clone) is errors.AmbiguousSendError
    assert clone.ambiguous
    assert clone.reason == "read timeout"


def test_reason_is_bounded_for_a_database_column() -> None:
    assert len(errors.ProviderError("x" * 1000).reason) == 200


# --- small helpers -----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (1000, Decimal("1000")),
        (12.5, Decimal("12.5")),
        ("4.85", Decimal("4.85")),
        (" 7 ", Decimal("7")),
    ],
)
def test_balance_is_parsed_from_numbers_and_strings(raw: object, expected: Decimal) -> None:
    assert _as_decimal(raw) == expected


@pytest.mark.parametrize("raw", [None, "", "abc", "NaN", "Infinity", True, [1]])
def test_a_missing_or_junk_balance_is_malformed_never_none(raw: object) -> None:
    with pytest.raises(errors.MalformedResponse):
        _as_decimal(raw)


@pytest.mark.parametrize(("total", "connect", "read"), [(10, 3.05, 6.95), (2, 1, 1), (1, 0.5, 0.5)])
def test_timeout_splits_into_connect_and_read_within_the_total(
    total: float, connect: float, read: float
) -> None:
    assert split_timeout(total) == pytest.approx((connect, read))


def test_urllib3_request_lines_lose_their_query_string() -> None:
    record = logging.LogRecord(
        "urllib3.connectionpool",
        logging.DEBUG,
        __file__,
        1,
        '%s://%s:%s "%s %s %s" %s %s',
        ("http", "127.0.0.1", 8025, "POST", SECRET_URL, "HTTP/1.1", 200, 52),
        None,
    )
    assert RedactQueryStrings().filter(record)
    assert (
        record.getMessage() == 'http://127.0.0.1:8025 "POST /sms/send?<redacted> HTTP/1.1" 200 52'
    )


@pytest.mark.parametrize(
    ("base_url", "expected"),
    [
        ("http://127.0.0.1:8025", "http://127.0.0.1:8025/sms/send"),
        ("https://api3.greensms.ru/", "https://api3.greensms.ru/sms/send"),
        ("https://proxy.example/greensms", "https://proxy.example/greensms/sms/send"),
    ],
)
def test_module_urls_are_built_on_our_base_url(base_url: str, expected: str) -> None:
    client = ConfiguredGreenSMS(
        base_url=base_url, user="u", password="p", token="", timeout=(1.0, 1.0)
    )
    assert client.sms.send.__self__.params["url"] == expected
    assert client.status.__self__.params["url"].endswith("/status")


def test_no_credentials_is_a_configuration_error() -> None:
    with pytest.raises(errors.ProviderConfigurationError):
        ConfiguredGreenSMS(base_url="http://x", user="u", password="", token="", timeout=(1, 1))
