"""One class per operation: input serializer -> service -> output serializer."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from verification import idempotency, metrics, selectors, services, texts, tokens
from verification.api import schema, serializers
from verification.api.client_ip import client_ip
from verification.api.idempotency import REPLAYED_HEADER, idempotency_key
from verification.api.outcomes import OutcomeCountedView
from verification.health import health


def sms_language() -> str:
    """The language LocaleMiddleware chose from Accept-Language, if the SMS has it."""
    language = (translation.get_language() or "").split("-")[0]
    return language if language in texts.LANGUAGES else texts.DEFAULT_LANGUAGE


class SendCodeView(OutcomeCountedView):
    success_outcome = "accepted"
    count_outcome = staticmethod(metrics.send_request)

    @extend_schema(
        operation_id="send_code",
        summary="Send a code to a phone",
        description="Answers at once; a worker sends the message. See the `GetVerification` link.",
        request=serializers.SendCodeInputSerializer,
        examples=[
            OpenApiExample(
                "sms", value={"phone": "+79991234567", "language": "ru"}, request_only=True
            ),
        ],
        parameters=[schema.IDEMPOTENCY_KEY, schema.LOCATION, schema.REPLAYED, schema.RETRY_AFTER],
        responses={
            202: serializers.SendCodeOutputSerializer,
            **schema.errors_for(
                "invalid_phone",
                "phone_not_allowed",
                *schema.REQUEST_ERRORS,
                "idempotency_key_reused",
                "rate_limited",
                "blocked",
                "sending_paused",
                "service_unavailable",
            ),
        },
    )
    def post(self, request: Request) -> Response:
        data = serializers.SendCodeInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        outcome = idempotency.verification_create(
            key=idempotency_key(request),
            data=data.validated_data,
            phone=data.validated_data["phone"],
            client_ip=client_ip(request),
            channel=data.validated_data["channel"],
            language=data.validated_data.get("language") or sms_language(),
        )
        verification = outcome.verification
        # SendCodeOutputSerializer's fields (the schema), built directly: the serializer
        # cost an eighth of the request's CPU for six plain values. The renderer writes the
        # UUID and the UTC datetimes (ISO 8601, "Z") exactly as the serializer would.
        body = {
            "message": _("Код подтверждения отправлен на ваш номер телефона"),
            "phone": verification.phone,
            "verification_id": verification.id,
            "expires_at": verification.expires_at,
            "channel": verification.channel,
            "resend_available_at": verification.resend_available_at,
        }
        headers = {"Location": f"/api/auth/verifications/{verification.id}/"}
        if outcome.replayed:
            headers[REPLAYED_HEADER] = "true"
        return Response(body, status=status.HTTP_202_ACCEPTED, headers=headers)


class VerifyCodeView(OutcomeCountedView):
    success_outcome = "verified"
    count_outcome = staticmethod(metrics.check)

    @extend_schema(
        operation_id="verify_code",
        summary="Check a code; a proof token when it is right",
        request=serializers.VerifyCodeInputSerializer,
        examples=[
            OpenApiExample(
                "code", value={"phone": "+79991234567", "code": "123456"}, request_only=True
            ),
        ],
        parameters=[schema.RETRY_AFTER],
        responses={
            200: serializers.VerifyCodeOutputSerializer,
            **schema.errors_for(
                "invalid_code",
                "invalid_phone",
                *schema.REQUEST_ERRORS,
                "rate_limited",
                "service_unavailable",
            ),
        },
    )
    def post(self, request: Request) -> Response:
        data = serializers.VerifyCodeInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        phone = data.validated_data["phone"]
        confirmed = services.verification_check(
            phone=phone, code=data.validated_data["code"], client_ip=client_ip(request)
        )
        proof = tokens.proof_token_issue(
            verification_id=confirmed.verification_id, phone=phone, channel=confirmed.channel
        )
        body = {
            "message": _("Код подтвержден успешно"),
            "verified": True,
            "token": proof.token,
            "token_expires_at": proof.expires_at,
        }
        return Response(serializers.VerifyCodeOutputSerializer(body).data)


class VerificationDetailView(APIView):
    @extend_schema(
        operation_id="verification_retrieve",
        summary="A verification's delivery status (never its code)",
        responses={
            200: serializers.VerificationSerializer,
            **schema.errors_for("not_found", "not_acceptable", "service_unavailable"),
        },
    )
    def get(self, request: Request, verification_id: uuid.UUID) -> Response:
        verification = selectors.verification_get(verification_id=verification_id)
        return Response(serializers.VerificationSerializer(verification).data)


class JWKSView(APIView):
    """The public keys of proof tokens; verifiers cache it (and refetch on an unknown kid)."""

    @extend_schema(
        operation_id="jwks",
        summary="The public keys of proof tokens (JWKS)",
        tags=["keys"],
        responses={200: serializers.JWKSSerializer, **schema.errors_for("not_acceptable")},
    )
    def get(self, request: Request) -> Response:
        response = Response(tokens.jwks())
        response["Cache-Control"] = f"public, max-age={settings.VERIFICATION_JWKS_MAX_AGE}"
        return response


class HealthView(APIView):
    @extend_schema(
        operation_id="health",
        summary="Database, Redis and broker",
        responses={
            200: serializers.HealthSerializer,
            503: serializers.HealthSerializer,
            **schema.errors_for("not_acceptable"),
        },
    )
    def get(self, request: Request) -> Response:
        report = health()
        code = status.HTTP_503_SERVICE_UNAVAILABLE if report["status"] == "down" else 200
        return Response(serializers.HealthSerializer(report).data, status=code)
