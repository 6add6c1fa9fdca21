"""Comparison endpoints for benchmarks/api_throughput.py (never routed in production).

- `BareView`: the framework's floor. Parses the same JSON, validates `phone` with a plain
  CharField, answers 202. No phone parsing, no database, no Redis, no broker.
- `SyncSendView`: the seed's synchronous design, what a user would otherwise build: parse
  the phone, INSERT the row, call the provider inside the request, record the request_id,
  answer 200. (No rate limits: this flatters it.)

- `DurableFloorView`: the durable floor (issue 14): bare DRF (a plain CharField), the phone
  parsed and formatted by libphonenumber, the code's material made, one raw INSERT on the
  persistent connection (autocommit), 202. What any design that stores the code inside the
  request must pay; send-code is measured against it.

What-if (measured; not the service's code):
- `InsertOnlyView`: the service's own input serializer, then one ORM INSERT, 202.
"""

from __future__ import annotations

import phonenumbers
from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from verification import codes
from verification.api.client_ip import client_ip
from verification.api.serializers import SendCodeInputSerializer, SendCodeOutputSerializer
from verification.gateways import get_gateway
from verification.models import DeliveryStatus, SMSVerification


class BareInputSerializer(serializers.Serializer):
    phone = serializers.CharField(max_length=32)


class BareView(APIView):
    def post(self, request: Request) -> Response:
        data = BareInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return Response({"phone": data.validated_data["phone"]}, status=status.HTTP_202_ACCEPTED)


class SyncSendView(APIView):
    def post(self, request: Request) -> Response:
        data = SendCodeInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        material = codes.new_material()
        code = material.code
        row = SMSVerification(
            phone=data.validated_data["phone"],
            status=DeliveryStatus.SENDING,
            **material.row_fields(),
        )
        row.save(force_insert=True)
        text = settings.GREEN_SMS_TEMPLATE.format(code=code)
        request_id = get_gateway().send(row.phone, text, hidden=code, tag=str(row.id))
        SMSVerification.objects.filter(id=row.id).update(
            status=DeliveryStatus.SENT, request_id=request_id, sent_at=timezone.now()
        )
        return Response({"phone": row.phone, "verification_id": str(row.id)})


def _new_row(phone: str, ip: str | None) -> SMSVerification:
    return SMSVerification(phone=phone, client_ip=ip, **codes.new_material().row_fields())


def _accepted(row: SMSVerification) -> Response:
    body = SendCodeOutputSerializer(
        {
            "message": _("Код подтверждения отправлен на ваш номер телефона"),
            "phone": row.phone,
            "id": row.id,
            "expires_at": row.expires_at,
        }
    ).data
    location = f"/api/auth/verifications/{row.id}/"
    return Response(body, status=status.HTTP_202_ACCEPTED, headers={"Location": location})


class InsertOnlyView(APIView):
    def post(self, request: Request) -> Response:
        data = SendCodeInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        row = _new_row(data.validated_data["phone"], client_ip(request))
        row.save(force_insert=True)
        return _accepted(row)


class DurableFloorView(APIView):
    def post(self, request: Request) -> Response:
        data = BareInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            number = phonenumbers.parse(data.validated_data["phone"], "RU")
        except phonenumbers.NumberParseException:
            raise serializers.ValidationError({"phone": "invalid"}) from None
        if not phonenumbers.is_valid_number(number):
            raise serializers.ValidationError({"phone": "invalid"})
        phone = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        row = _new_row(phone, None)
        SMSVerification.objects.insert(row)  # one precompiled INSERT, as send-code's
        return Response(
            {"phone": phone, "verification_id": str(row.id)}, status=status.HTTP_202_ACCEPTED
        )
