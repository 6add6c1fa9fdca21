"""The service's error hierarchy: each error knows its HTTP status and machine code.

The API's exception handler (verification/api/errors.py) turns any of them into
`{"error": <message>, "code": <code>}`; services raise them, views never catch them.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _


class ApplicationError(Exception):
    status_code = 400
    code = "error"
    default_message = _("Некорректный запрос")

    def __init__(self, message: str | None = None) -> None:
        self.message = message if message is not None else self.default_message
        super().__init__(str(self.message))

    def extra(self) -> dict[str, object]:
        """Fields added to the error body besides `error` and `code`."""
        return {}


class InvalidPhone(ApplicationError):
    code = "invalid_phone"
    default_message = _("Некорректный номер телефона")


class InvalidCode(ApplicationError):
    """Wrong, expired, used or unknown: one answer for all, so nothing can be enumerated."""

    code = "invalid_code"
    default_message = _("Неверный или истекший код")


class RateLimited(ApplicationError):
    status_code = 429
    code = "rate_limited"
    default_message = _("Превышен лимит запросов")

    def __init__(self, retry_after: int, message: str | None = None) -> None:
        super().__init__(message)
        self.retry_after = max(1, int(retry_after))

    def extra(self) -> dict[str, object]:
        return {"retry_after": self.retry_after}


class ServiceUnavailable(ApplicationError):
    status_code = 503
    code = "service_unavailable"
    default_message = _("Сервис временно недоступен, повторите попытку позже")


class IdempotencyKeyReused(ApplicationError):
    """The Idempotency-Key of an earlier send-code, with another body."""

    status_code = 422
    code = "idempotency_key_reused"
    default_message = _("Ключ идемпотентности уже использован для другого запроса")


class PhoneNotAllowed(ApplicationError):
    """A country or a number type the service does not send codes to (SPEC §11.1)."""

    code = "phone_not_allowed"
    default_message = _("На этот номер нельзя отправить код")


class Blocked(RateLimited):
    """An abuse rule fired (SPEC §11.3). One message for every rule: nothing to tune against."""

    code = "blocked"
    default_message = _("Запрос отклонён")


class SendingPaused(ApplicationError):
    """A spend cap is reached: new sends pause until the window ends (SPEC §11.4)."""

    status_code = 503
    code = "sending_paused"
    default_message = _("Отправка кодов временно приостановлена, повторите попытку позже")

    def __init__(self, retry_after: int, message: str | None = None) -> None:
        super().__init__(message)
        self.retry_after = max(1, int(retry_after))

    def extra(self) -> dict[str, object]:
        return {"retry_after": self.retry_after}


class PayloadTooLarge(ApplicationError):
    status_code = 413
    code = "payload_too_large"
    default_message = _("Слишком большое тело запроса")
