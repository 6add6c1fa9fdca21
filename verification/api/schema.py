"""The OpenAPI description's precise parts: formats, every error with an example, headers, and
the link from a new verification to its status (drf-spectacular, served at /api/schema/).

The views name their errors by code (`errors_for(...)`); this module knows each code's status
and an example body, so the description and the error handler cannot drift apart silently:
tests/integration/test_openapi.py checks both against what the API answers.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse
from rest_framework import serializers

from verification.api.idempotency import HEADER, KEY_PATTERN, MAX_KEY_LENGTH, REPLAYED_HEADER

# What send-code and verify-code accept: the characters people write a number with (the
# server then parses it with libphonenumber); what every answer carries: E.164.
PHONE_INPUT_PATTERN = r"^\+?[0-9 ()\-.]{7,31}$"
PHONE_E164_PATTERN = r"^\+[1-9][0-9]{6,14}$"
PHONE_MASKED_PATTERN = r"^\+[0-9]{1,4}\*\*\*([0-9]{4})?$"
# 6 digits by SMS and Viber, 5 read out by a voice call, 4 from a flash call's number.
CODE_PATTERN = r"^[0-9]{4,6}$"

# code -> (HTTP status, example message). Messages are Russian by default, English with
# Accept-Language: en.
ERRORS: dict[str, tuple[int, str]] = {
    "invalid_phone": (400, "Некорректный номер телефона"),
    "phone_not_allowed": (400, "На этот номер нельзя отправить код"),
    "invalid_code": (400, "Неверный или истекший код"),
    "invalid_request": (400, "Некорректный запрос"),
    "parse_error": (400, "Тело запроса не является корректным JSON"),
    "not_found": (404, "Не найдено"),
    "method_not_allowed": (405, 'Метод "DELETE" не разрешен.'),
    "not_acceptable": (406, "Не удалось удовлетворить условию в заголовке запроса Accept."),
    "payload_too_large": (413, "Слишком большое тело запроса"),
    "unsupported_media_type": (415, 'Неподдерживаемый тип данных "text/plain" в запросе.'),
    "idempotency_key_reused": (422, "Ключ идемпотентности уже использован для другого запроса"),
    "rate_limited": (429, "Превышен лимит запросов"),
    "blocked": (429, "Запрос отклонён"),
    "sending_paused": (503, "Отправка кодов временно приостановлена, повторите попытку позже"),
    "service_unavailable": (503, "Сервис временно недоступен, повторите попытку позже"),
}
RETRY_AFTER_CODES = {"rate_limited", "blocked", "sending_paused"}
# Every POST may meet these whatever it does.
REQUEST_ERRORS = (
    "parse_error",
    "invalid_request",
    "not_acceptable",
    "payload_too_large",
    "unsupported_media_type",
)


class ErrorSerializer(serializers.Serializer):
    error = serializers.CharField(help_text="For people: Russian, English with Accept-Language: en")
    code = serializers.ChoiceField(choices=sorted(ERRORS), help_text="For programs")
    retry_after = serializers.IntegerField(
        required=False, min_value=1, help_text="Seconds; also the Retry-After header"
    )
    # The body's key is `fields`; DRF takes declared fields out of the class, so the
    # Serializer.fields property is untouched (mypy cannot know).
    fields = serializers.DictField(  # type: ignore[assignment]
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="invalid_request: the messages of each offending field",
    )


def _example(code: str) -> OpenApiExample:
    status, message = ERRORS[code]
    value: dict[str, Any] = {"error": message, "code": code}
    if code in RETRY_AFTER_CODES:
        value["retry_after"] = 60
    if code == "invalid_request":
        value["fields"] = {"language": ['Значения "de" нет среди допустимых вариантов.']}
    return OpenApiExample(code, value=value, status_codes=[str(status)], response_only=True)


RETRY_AFTER = OpenApiParameter(
    "Retry-After",
    int,
    OpenApiParameter.HEADER,
    response=[429, 503],
    description="Seconds until a retry may succeed",
)


def errors_for(*codes: str) -> dict[int, OpenApiResponse]:
    """The error responses of an operation: one per status, an example per code."""
    by_status: dict[int, list[str]] = {}
    for code in codes:
        by_status.setdefault(ERRORS[code][0], []).append(code)
    return {
        status: OpenApiResponse(
            response=ErrorSerializer,
            description=", ".join(f"`{code}`" for code in status_codes),
            examples=[_example(code) for code in status_codes],
        )
        for status, status_codes in by_status.items()
    }


IDEMPOTENCY_KEY = OpenApiParameter(
    HEADER,
    str,
    OpenApiParameter.HEADER,
    required=False,
    pattern=KEY_PATTERN,
    description=(
        "Retries with the same key and body within the code's lifetime get the first answer "
        f"again (no second message, no quota spent); up to {MAX_KEY_LENGTH} printable ASCII "
        "characters, e.g. a UUID made once per user action"
    ),
)
LOCATION = OpenApiParameter(
    "Location",
    str,
    OpenApiParameter.HEADER,
    response=[202],
    required=True,
    pattern=r"^/api/auth/verifications/[0-9a-f-]{36}/$",
    description="The new verification's status (GET)",
)
REPLAYED = OpenApiParameter(
    REPLAYED_HEADER,
    str,
    OpenApiParameter.HEADER,
    response=[202],
    enum=["true"],
    description="Present when this is the answer to an earlier request with the same key",
)


# Errors of no operation the description lists (a method a path does not have), documented
# as reusable examples instead.
UNLISTED_ERRORS = ("method_not_allowed",)


def add_links(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """Postprocessing hook: send-code's answer links to the verification's status, and the
    errors of no listed operation are documented as component examples."""
    examples = result.setdefault("components", {}).setdefault("examples", {})
    for code in UNLISTED_ERRORS:
        example = _example(code)
        examples[example.name] = {"summary": code, "value": example.value}
    for path in result.get("paths", {}).values():
        for operation in path.values():
            if operation.get("operationId") != "send_code":
                continue
            operation["responses"]["202"]["links"] = {
                "GetVerification": {
                    "operationId": "verification_retrieve",
                    "parameters": {"verification_id": "$response.body#/verification_id"},
                    "description": "The status of the verification just created",
                }
            }
    return result
