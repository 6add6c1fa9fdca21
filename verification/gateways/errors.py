"""Provider errors, classified once so tasks can retry on a type, never on a message.

Transient: retrying later may succeed (the provider or the network is unwell).
Permanent: retrying cannot help (credentials, funds, parameters, unknown id).

Every error carries a short `reason` safe to store in a database row. Nothing here ever holds
a password, token, code or URL query string: the adapter builds these errors itself instead
of wrapping the client's or `requests`' exceptions (whose messages contain the URL, and the
client puts `user` and `pass` in the query string).
"""

from __future__ import annotations

from typing import ClassVar

_REASON_LIMIT = 200


class ProviderError(Exception):
    transient: ClassVar[bool] = False
    default_reason: ClassVar[str] = "provider error"

    def __init__(
        self,
        reason: str | None = None,
        *,
        http_status: int | None = None,
        provider_code: int | None = None,
        ambiguous: bool = False,
    ) -> None:
        self.reason = (reason or self.default_reason)[:_REASON_LIMIT]
        self.http_status = http_status
        self.provider_code = provider_code
        # True when a send may have reached the provider although we got no usable answer:
        # retrying at once could deliver the code twice (SPEC §6).
        self.ambiguous = ambiguous
        super().__init__(self.reason)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.reason!r}, http_status={self.http_status!r}, "
            f"provider_code={self.provider_code!r}, ambiguous={self.ambiguous!r})"
        )


# --- transient ------------------------------------------------------------------------
class TransientProviderError(ProviderError):
    transient = True
    default_reason = "provider temporarily unavailable"


class ProviderUnavailable(TransientProviderError):
    """HTTP 5xx (or 408), with or without an error body."""

    default_reason = "provider unavailable"


class ProviderThrottled(TransientProviderError):
    default_reason = "throttled by provider (HTTP 429)"


class ProviderConnectionError(TransientProviderError):
    default_reason = "could not reach provider"


class ProviderTimeout(TransientProviderError):
    default_reason = "provider timed out"


class AmbiguousSendError(ProviderTimeout):
    """The request left, then the answer never came (read timeout, dropped connection, 504).

    The provider may have sent the SMS: the caller should not fire a second one at once.
    """

    default_reason = "no answer after the request was sent"

    def __init__(
        self,
        reason: str | None = None,
        *,
        http_status: int | None = None,
        provider_code: int | None = None,
    ) -> None:
        super().__init__(
            reason, http_status=http_status, provider_code=provider_code, ambiguous=True
        )


class NonJSONResponse(TransientProviderError):
    """An HTML error page or garbage: a proxy or load balancer in front of an unwell API."""

    default_reason = "non-JSON response"


class MalformedResponse(TransientProviderError):
    """A JSON object without the field we asked for (`request_id`, `status_code`, `balance`).

    Transient, not permanent: nothing in *our* request can be wrong when the provider
    answered without an error, so the fault is theirs (a partial deploy, a proxy's JSON
    page) and short-lived; retries are bounded by the code's TTL anyway. After a send it is
    also ambiguous: a 2xx means the provider took the request.
    """

    default_reason = "malformed provider response"


# --- permanent ------------------------------------------------------------------------
class PermanentProviderError(ProviderError):
    transient = False
    default_reason = "provider rejected the request"


class AuthorizationDeclined(PermanentProviderError):
    default_reason = "authorization declined (code 0)"


class InsufficientFunds(PermanentProviderError):
    default_reason = "insufficient funds (code -1)"


class InvalidParameters(PermanentProviderError):
    """Provider codes 1/2, or the client's own validation before anything was sent."""

    default_reason = "invalid parameters"


class RequestNotFound(PermanentProviderError):
    """Status asked for a request_id the provider does not know (code 404)."""

    default_reason = "request_id not found (code 404)"


class ProviderConfigurationError(PermanentProviderError):
    """GREEN_SMS_BASE_URL is not a usable URL: no retry can fix that."""

    default_reason = "invalid provider URL"
