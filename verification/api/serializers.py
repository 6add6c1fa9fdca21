from __future__ import annotations

import copy
import re
from typing import Any

from django.conf import settings
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.exceptions import ErrorDetail

from verification import texts
from verification.api.schema import (
    CODE_PATTERN,
    PHONE_E164_PATTERN,
    PHONE_INPUT_PATTERN,
    PHONE_MASKED_PATTERN,
)
from verification.exceptions import InvalidPhone
from verification.phones import mask_phone, normalize_phone

PHONE_INPUT_RE = re.compile(PHONE_INPUT_PATTERN)


@extend_schema_field(
    {"type": "string", "pattern": PHONE_INPUT_PATTERN, "maxLength": 32, "example": "+79991234567"}
)
class PhoneField(serializers.CharField):
    """Any way people write a number in (digits, spaces, `+()-.`); E.164 out;
    `invalid_phone` otherwise. What the OpenAPI pattern says is exactly what passes here."""

    default_error_messages = {
        "required": _("Укажите номер телефона"),
        "blank": _("Укажите номер телефона"),
        "null": _("Укажите номер телефона"),
        "invalid": _("Некорректный номер телефона"),
        "max_length": _("Некорректный номер телефона"),
    }

    def __init__(self, **kwargs: object) -> None:
        super().__init__(max_length=32, trim_whitespace=False, **kwargs)  # type: ignore[arg-type]

    def to_internal_value(self, data: object) -> str:
        if not isinstance(data, str):
            self.fail("invalid")  # a JSON number has lost its "+" and any leading zeros
        raw = super().to_internal_value(data)
        if not PHONE_INPUT_RE.match(raw):
            self.fail("invalid")  # letters (vanity numbers), "tel:" URIs, stray characters
        try:
            return normalize_phone(raw)
        except InvalidPhone:
            self.fail("invalid")
        raise AssertionError("unreachable")  # pragma: no cover

    def run_validation(self, data: object = serializers.empty) -> object:
        try:
            return super().run_validation(data)
        except serializers.ValidationError as exc:
            # Every problem with the phone (missing, blank, malformed) is `invalid_phone`.
            messages = exc.detail if isinstance(exc.detail, list) else [exc.detail]
            raise serializers.ValidationError(
                [ErrorDetail(str(message), code="invalid_phone") for message in messages]
            ) from None


class ChannelField(serializers.CharField):
    """One of VERIFICATION_CHANNELS (read per request, so tests and reloads see changes)."""

    default_error_messages = {
        "not_enabled": _("Способ доставки недоступен; доступны: {allowed}"),
    }

    def __init__(self, **kwargs: object) -> None:
        super().__init__(max_length=16, required=False, **kwargs)  # type: ignore[arg-type]

    def to_internal_value(self, data: Any) -> str:
        value: str = super().to_internal_value(data)
        if value not in settings.VERIFICATION_CHANNELS:
            self.fail("not_enabled", allowed=", ".join(settings.VERIFICATION_CHANNELS))
        return value


class ShallowFieldsSerializer(serializers.Serializer):
    """An input serializer of the hot paths, whose fields are copied shallowly per request.

    DRF deep-copies every declared field for each serializer instance, which re-runs each
    field's `__init__` (a ChoiceField rebuilds its choices): a tenth of send-code's Python
    CPU. A shallow copy isolates what a request changes: binding assigns the copy's own
    attributes, and validation only reads what copies share (validators, messages, choices).
    """

    def get_fields(self) -> dict[str, serializers.Field]:
        return {name: copy.copy(field) for name, field in self._declared_fields.items()}


class SendCodeInputSerializer(ShallowFieldsSerializer):
    phone = PhoneField()
    language = serializers.ChoiceField(
        choices=texts.LANGUAGES,
        required=False,
        help_text="The SMS text's language; by default the request's Accept-Language (else ru)",
    )
    channel = ChannelField(
        help_text="How the code travels: one of VERIFICATION_CHANNELS (sms, call, voice, viber); "
        "VERIFICATION_DEFAULT_CHANNEL when absent."
    )

    def validate(self, attrs: dict[str, object]) -> dict[str, object]:
        attrs.setdefault("channel", settings.VERIFICATION_DEFAULT_CHANNEL)
        return attrs


class SendCodeOutputSerializer(serializers.Serializer):
    message = serializers.CharField()
    phone = serializers.RegexField(PHONE_E164_PATTERN, help_text="E.164")
    verification_id = serializers.UUIDField(source="id")
    expires_at = serializers.DateTimeField()
    channel = serializers.CharField()
    resend_available_at = serializers.DateTimeField(allow_null=True)


@extend_schema_field({"type": "string", "pattern": CODE_PATTERN, "example": "123456"})
class CodeField(serializers.CharField):
    """Anything that is not a plausible code is `invalid_code` (services decide, one answer)."""


class VerifyCodeInputSerializer(ShallowFieldsSerializer):
    phone = PhoneField()
    code = CodeField(max_length=16, trim_whitespace=True)


class VerifyCodeOutputSerializer(serializers.Serializer):
    message = serializers.CharField()
    verified = serializers.BooleanField()
    token = serializers.CharField(help_text="Proof of verification: a JWT (EdDSA), see the JWKS")
    token_expires_at = serializers.DateTimeField()


class JWKSerializer(serializers.Serializer):
    kty = serializers.CharField()
    crv = serializers.CharField()
    x = serializers.CharField()
    kid = serializers.CharField()
    use = serializers.CharField()
    alg = serializers.CharField()


class JWKSSerializer(serializers.Serializer):
    keys = JWKSerializer(many=True)


class VerificationSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    phone = serializers.SerializerMethodField()
    status = serializers.CharField()
    channel = serializers.CharField()
    is_used = serializers.BooleanField()
    created_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField()
    sent_at = serializers.DateTimeField(allow_null=True)
    delivered_at = serializers.DateTimeField(allow_null=True)
    error = serializers.CharField()
    resend_available_at = serializers.DateTimeField(allow_null=True)

    @extend_schema_field(
        {"type": "string", "pattern": PHONE_MASKED_PATTERN, "example": "+7999***4567"}
    )
    def get_phone(self, obj: object) -> str:
        return mask_phone(obj.phone)  # type: ignore[attr-defined]


class HealthSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["ok", "degraded", "down"])
    database = serializers.CharField()
    redis = serializers.CharField()
    broker = serializers.CharField()
