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

- `RoundTripsFloorView`: the durable floor plus send-code's two Redis round trips with their
  real work in Redis and almost none of their Python: the send gate's script on send-code's
  own spec (built once by the service's code, the phone swapped in as text) before the
  INSERT, one LPUSH of a message of send-code's size after it. What send-code would cost if
  everything it adds in Python were free: the ceiling of its ratio to the durable floor
  while it makes those round trips.

What-if (measured; not the service's code):
- `InsertOnlyView`: the service's own input serializer, then one ORM INSERT, 202.
- `OneRoundTripFloorView`: `RoundTripsFloorView` with the LPUSH pipelined into the gate's
  round trip, as if each request's message rode with the next request's gate (a publish
  deferred past the 202): what folding the publish into the gate's round trip would buy.
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
from verification.abuse import gate, guard, policy
from verification.api.client_ip import client_ip
from verification.api.serializers import SendCodeInputSerializer, SendCodeOutputSerializer
from verification.cache import verification_cache
from verification.gateways import get_gateway
from verification.models import DeliveryStatus, SMSVerification
from verification.redis_client import get_redis


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


def _floor_phone(request: Request) -> str:
    """The durable floor's input: a plain CharField, the phone parsed and formatted by
    libphonenumber (400 when it is no number)."""
    data = BareInputSerializer(data=request.data)
    data.is_valid(raise_exception=True)
    try:
        number = phonenumbers.parse(data.validated_data["phone"], "RU")
    except phonenumbers.NumberParseException:
        raise serializers.ValidationError({"phone": "invalid"}) from None
    if not phonenumbers.is_valid_number(number):
        raise serializers.ValidationError({"phone": "invalid"})
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _floor_accepted(row: SMSVerification) -> Response:
    return Response(
        {"phone": row.phone, "verification_id": str(row.id)}, status=status.HTTP_202_ACCEPTED
    )


class DurableFloorView(APIView):
    def post(self, request: Request) -> Response:
        row = _new_row(_floor_phone(request), None)
        SMSVerification.objects.insert(row)  # one precompiled INSERT, as send-code's
        return _floor_accepted(row)


class RoundTripsFloorView(APIView):
    # The phone the gate's spec is built for, then replaced by each request's.
    TEMPLATE_PHONE = "+79990000000"
    # About the size of send-code's task message in kombu's Redis envelope.
    MESSAGE = b"m" * 1000
    spec: str | None = None

    def post(self, request: Request) -> Response:
        row = _new_row(_floor_phone(request), None)
        gate.send_gate.run(self._spec(request).replace(self.TEMPLATE_PHONE, row.phone))
        SMSVerification.objects.insert(row)
        # The gate's client: the same Redis as the broker in `make bench`, and any broker's.
        get_redis().lpush("bench:round-trips", self.MESSAGE)
        return _floor_accepted(row)

    def _spec(self, request: Request) -> str:
        """send-code's gate spec for TEMPLATE_PHONE, built once by the service's code; the
        script is loaded into Redis then too (a pipelined EVALSHA does not load it)."""
        if RoundTripsFloorView.spec is None:
            phone = self.TEMPLATE_PHONE
            gate_request = guard.send_request(
                phone=phone,
                facts=policy.screen_phone(phone),
                client_ip=client_ip(request),
                channel="sms",
                then_set=verification_cache.entry(phone, _new_row(phone, None)),
                per_phone=True,
                paid=True,
            )
            get_redis().script_load(gate.send_gate.script().script)
            RoundTripsFloorView.spec = gate.spec_json(gate_request)
        return RoundTripsFloorView.spec


class OneRoundTripFloorView(RoundTripsFloorView):
    def post(self, request: Request) -> Response:
        row = _new_row(_floor_phone(request), None)
        spec = self._spec(request).replace(self.TEMPLATE_PHONE, row.phone)
        pipe = get_redis().pipeline(transaction=False)
        pipe.lpush("bench:round-trips", self.MESSAGE)
        pipe.evalsha(gate.send_gate.script().sha, 0, spec)
        pipe.execute()
        SMSVerification.objects.insert(row)
        return _floor_accepted(row)
