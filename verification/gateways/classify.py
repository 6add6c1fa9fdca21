"""Pure mapping from what came back (or did not) to a typed ProviderError.

`parse_response` replaces the client's `response.json()` + `RestError` step, because the
client discards the HTTP status, which is what tells a throttle or a 5xx from a refusal.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

import requests
from urllib3.exceptions import MaxRetryError, NewConnectionError

from verification.gateways import errors

# Statuses that say "later", whatever the body says (unless it names a known code).
_TRANSIENT_STATUSES = frozenset({408, 425, 429})
_MESSAGE_LIMIT = 80


def parse_response(
    http_status: int,
    content_type: str,
    body: bytes,
    *,
    non_idempotent: bool = False,
    secrets: Iterable[str] = (),
) -> dict[str, Any]:
    """The JSON object of a successful answer; raises ProviderError for anything else.

    `non_idempotent` marks a send: a 2xx (or 504) without a usable answer is then ambiguous.
    `secrets` are scrubbed from any provider message copied into a reason.
    """
    if http_status == 429:
        raise errors.ProviderThrottled(http_status=429)
    payload = _decode_json(body)
    if payload is _NOT_JSON:
        kind = (content_type.split(";")[0].strip() or "no content type")[:40]
        raise errors.NonJSONResponse(
            f"non-JSON response (HTTP {http_status}, {kind})",
            http_status=http_status,
            ambiguous=non_idempotent and _may_have_processed(http_status),
        )
    if isinstance(payload, dict) and "error" in payload:
        # The client's rule, kept: an object with `error` is an error at any HTTP status.
        raise error_from_body(payload, http_status, secrets=secrets)
    if http_status >= 500 or http_status in _TRANSIENT_STATUSES:
        raise _unavailable(http_status, non_idempotent)
    if http_status >= 300:
        raise errors.PermanentProviderError(
            f"unexpected HTTP {http_status}", http_status=http_status
        )
    if not isinstance(payload, dict):
        raise errors.MalformedResponse(
            "response is not a JSON object", http_status=http_status, ambiguous=non_idempotent
        )
    return payload


def error_from_body(
    body: Mapping[str, Any], http_status: int, *, secrets: Iterable[str] = ()
) -> errors.ProviderError:
    """`{"error": ..., "code": N}` by its code; unknown codes by the HTTP status.

    Only an explicit `code` counts: the client's RestError defaults a missing code to -1,
    which would turn any code-less 500 into "insufficient funds".
    """
    code = _as_int(body.get("code"))
    message = _scrub(str(body.get("error", "")), secrets)
    known = _KNOWN_CODES.get(code) if code is not None else None
    if known is not None:
        reason = known.default_reason
        if known is errors.InvalidParameters:
            reason = f"invalid parameters (code {code}): {message}"
        return known(reason, http_status=http_status, provider_code=code)
    if http_status == 429:
        return errors.ProviderThrottled(http_status=http_status, provider_code=code)
    if http_status >= 500 or http_status in _TRANSIENT_STATUSES:
        return errors.ProviderUnavailable(
            f"provider error (HTTP {http_status}, code {code}): {message}",
            http_status=http_status,
            provider_code=code,
        )
    return errors.PermanentProviderError(
        f"provider error (HTTP {http_status}, code {code}): {message}",
        http_status=http_status,
        provider_code=code,
    )


def transport_error(
    exc: requests.RequestException, *, non_idempotent: bool = False
) -> errors.ProviderError:
    """A `requests` failure, reduced to its class: its message holds the full URL."""
    if isinstance(exc, requests.ConnectTimeout):  # also a ConnectionError: test it first
        return errors.ProviderTimeout("connect timeout")
    if isinstance(exc, requests.Timeout):
        if non_idempotent:
            return errors.AmbiguousSendError("read timeout after the request was sent")
        return errors.ProviderTimeout("read timeout")
    if isinstance(exc, requests.ConnectionError):
        if _never_left(exc):
            return errors.ProviderConnectionError(f"connection failed ({_cause_name(exc)})")
        if non_idempotent:
            return errors.AmbiguousSendError("connection dropped after the request was sent")
        return errors.ProviderConnectionError("connection dropped")
    if isinstance(exc, _BAD_URL_ERRORS):
        return errors.ProviderConfigurationError()
    # The rest (a truncated or undecodable body...) failed after the request left.
    return errors.TransientProviderError(
        f"request failed ({type(exc).__name__})", ambiguous=non_idempotent
    )


_BAD_URL_ERRORS = (
    requests.exceptions.InvalidURL,
    requests.exceptions.MissingSchema,
    requests.exceptions.InvalidSchema,
)
_KNOWN_CODES: dict[int, type[errors.ProviderError]] = {
    0: errors.AuthorizationDeclined,
    -1: errors.InsufficientFunds,
    1: errors.InvalidParameters,
    2: errors.InvalidParameters,
    404: errors.RequestNotFound,
}


_NOT_JSON = object()


def _decode_json(body: bytes) -> Any:
    # The decode error is dropped here, not chained: it would carry the whole body along.
    try:
        return json.loads(body.decode("utf-8"))
    except ValueError:  # includes UnicodeDecodeError
        return _NOT_JSON


def _unavailable(http_status: int, non_idempotent: bool) -> errors.ProviderError:
    return errors.ProviderUnavailable(
        f"HTTP {http_status}",
        http_status=http_status,
        ambiguous=non_idempotent and _may_have_processed(http_status),
    )


def _may_have_processed(http_status: int) -> bool:
    # 2xx: the API took it. 504: a proxy gave up waiting on an API that may have sent it.
    # Any other 5xx is the API (or its proxy) saying it did not do it.
    return 200 <= http_status < 300 or http_status == 504


def _never_left(exc: requests.ConnectionError) -> bool:
    """True when no byte of the request reached the server (refused, DNS, TLS handshake)."""
    if isinstance(exc, requests.exceptions.SSLError | requests.exceptions.ProxyError):
        return True
    cause = exc.args[0] if exc.args else None
    return isinstance(cause, MaxRetryError) and isinstance(cause.reason, NewConnectionError)


def _cause_name(exc: requests.ConnectionError) -> str:
    cause = exc.args[0] if exc.args else None
    if isinstance(cause, MaxRetryError) and cause.reason is not None:
        return type(cause.reason).__name__
    return type(exc).__name__


def _as_int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            return None
    return None


def _scrub(message: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        if secret:
            message = message.replace(secret, "***")
    return message[:_MESSAGE_LIMIT]
