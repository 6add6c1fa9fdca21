from __future__ import annotations

import functools
import uuid

from django.db import connections, models
from django.db.models import Q
from django.utils import timezone

from verification import bound_sql


class DeliveryStatus(models.TextChoices):
    QUEUED = "queued", "queued"  # stored, waiting for a worker (the row is the outbox)
    SENDING = "sending", "sending"  # claimed by a worker until lease_until
    SENT = "sent", "sent"  # accepted by the provider; request_id stored
    DELIVERED = "delivered", "delivered"
    FAILED = "failed", "failed"
    EXPIRED = "expired", "expired"  # the code expired before it could be sent


class Channel(models.TextChoices):
    """How the code travels (SPEC §13)."""

    SMS = "sms", "sms"
    CALL = "call", "call"  # flash call: the code is the caller id's last digits
    VOICE = "voice", "voice"  # a robot reads the code
    VIBER = "viber", "viber"  # the provider cascades to SMS when Viber cannot deliver


# States whose rows still wait for a provider call.
UNSENT_STATUSES = (DeliveryStatus.QUEUED, DeliveryStatus.SENDING)


class VerificationManager(models.Manager["SMSVerification"]):
    def insert(self, row: SMSVerification) -> None:
        """`row.save(force_insert=True)` as one precompiled INSERT of every column.

        send-code's hot path: the ORM compiles the same INSERT for every request, a fifth
        of the request's CPU. Values go through each field's own preparation, as in save().
        """
        connection = connections[self.db]
        fields = SMSVerification._meta.concrete_fields
        values = [field.get_db_prep_save(field.pre_save(row, True), connection) for field in fields]
        with bound_sql.cursor(self.db) as cursor:
            cursor.execute(_insert_sql(self.db), values)
        row._state.adding, row._state.db = False, self.db


@functools.cache
def _insert_sql(alias: str) -> str:
    """The INSERT of every concrete column of a verification row, values as parameters, in
    the quoting of the database `alias` names."""
    meta, quote = SMSVerification._meta, connections[alias].ops.quote_name
    columns = ", ".join(quote(str(field.column)) for field in meta.concrete_fields)
    marks = ", ".join(["%s"] * len(meta.concrete_fields))
    return f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES ({marks})"  # noqa: S608


class SMSVerification(models.Model):
    """One code sent to one phone.

    Two independent facts live here: delivery (`status`) and use (`is_used`). The code
    itself is never stored: `code_hash` is an HMAC keyed with the secret key and the code is
    derived from `code_seed` by a worker when it sends (see verification/codes.py).
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    phone = models.CharField(max_length=16)  # E.164
    code_hash = models.CharField(max_length=64, editable=False)
    code_seed = models.CharField(max_length=32, editable=False)  # see verification/codes.py
    request_id = models.CharField(max_length=64, blank=True, default="")
    channel = models.CharField(max_length=8, choices=Channel.choices, default=Channel.SMS)
    # The channel that failed before this row fell back to `channel` (at most once).
    fallback_from = models.CharField(max_length=8, blank=True, default="")
    status = models.CharField(
        max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.QUEUED
    )
    is_used = models.BooleanField(default=False)
    used_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)  # wrong guesses
    send_attempts = models.PositiveSmallIntegerField(default=0)  # provider calls made
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    lease_until = models.DateTimeField(null=True, blank=True)  # queued/sending: owner's deadline
    # The claim's fencing token: every later write of that attempt filters on it, so a late
    # worker never overwrites a newer attempt (verification/sending.py).
    lease_owner = models.UUIDField(null=True, blank=True, editable=False)
    # A queued row waiting for its retry: no claim before this time.
    retry_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    status_checked_at = models.DateTimeField(null=True, blank=True)
    error = models.CharField(max_length=255, blank=True, default="")
    client_ip = models.GenericIPAddressField(null=True, blank=True)
    # The SMS text's language, chosen at the request; the worker renders the text later.
    # A database default too: processes of the previous release still insert rows.
    language = models.CharField(max_length=8, default="ru", db_default="ru")
    # When the client that asked for this code may ask again (the doubling cooldown, §11).
    resend_available_at = models.DateTimeField(null=True, blank=True)
    # send-code's Idempotency-Key and a hash of its body (verification/idempotency.py).
    idempotency_key = models.CharField(
        max_length=255, blank=True, default="", db_default="", editable=False
    )
    idempotency_fingerprint = models.CharField(
        max_length=64, blank=True, default="", db_default="", editable=False
    )

    objects = VerificationManager()

    class Meta:
        verbose_name = "SMS verification"
        ordering = ("-created_at",)
        indexes = [
            # The latest codes of a phone: verify, retire, per-phone limits counted from the DB.
            models.Index(fields=("phone", "-created_at"), name="verif_phone_created"),
            # Workers' scans: re-dispatch (queued/sending by age), polling (sent by age),
            # sweeping (unsent past expiry).
            models.Index(fields=("status", "created_at"), name="verif_status_created"),
            # Retention purge and stats by period.
            models.Index(fields=("created_at",), name="verif_created"),
            models.Index(
                fields=("request_id",), name="verif_request_id", condition=~Q(request_id="")
            ),
            # The poller's claim: rows in `sent`, oldest first. Partial, so it holds only the
            # few rows awaiting a delivery report (the claim: 49 ms -> ~1 ms at 100k rows).
            models.Index(fields=("sent_at",), name="verif_poll_queue", condition=Q(status="sent")),
            # /metrics' oldest unsent code: the live unsent row that expires first. Partial,
            # so it holds only the backlog, and a backlog of expired rows the sweeper has not
            # reached yet is skipped by the range scan instead of walked.
            models.Index(
                fields=("expires_at",),
                name="verif_unsent_expiry",
                condition=Q(status__in=("queued", "sending")),
            ),
            # Per-IP send limits counted from the database while Redis is down.
            models.Index(fields=("client_ip", "created_at"), name="verif_ip_created"),
        ]
        constraints = [
            # One row per Idempotency-Key: the database decides between concurrent requests.
            # Partial: rows without a key (nearly all) stay out of the index.
            models.UniqueConstraint(
                fields=("idempotency_key",),
                condition=~Q(idempotency_key=""),
                name="verif_idempotency_key",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.phone} ({self.status})"

    def is_expired(self) -> bool:
        return timezone.now() >= self.expires_at

    def get_sms_status(self) -> str:
        """The seed's vocabulary: "delivered" | "pending" | "failed" | "no_request_id"."""
        if self.status == DeliveryStatus.DELIVERED:
            return "delivered"
        if self.status in (DeliveryStatus.FAILED, DeliveryStatus.EXPIRED):
            return "failed"
        if not self.request_id:
            return "no_request_id"
        return "pending"


class AbuseDecision(models.Model):
    """A request on which an abuse rule of SPEC §11 fired; clean requests leave no row."""

    class Outcome(models.TextChoices):
        BLOCKED = "blocked", "blocked"  # ABUSE_PROTECTION=deny: refused with 429 `blocked`
        RECORDED = "recorded", "recorded"  # record_only: let through, written down

    created_at = models.DateTimeField(default=timezone.now)
    phone = models.CharField(max_length=16)
    country = models.CharField(max_length=2, blank=True, default="")
    prefix = models.CharField(max_length=8, blank=True, default="")
    client_ip = models.GenericIPAddressField(null=True, blank=True)
    rules = models.CharField(max_length=255)  # comma-separated rule ids
    decision = models.CharField(max_length=16, choices=Outcome.choices)

    class Meta:
        ordering = ("-created_at",)
        indexes = [models.Index(fields=("created_at",), name="abuse_created")]

    def __str__(self) -> str:
        return f"{self.decision} {self.phone} ({self.rules})"


class HourlyStatistics(models.Model):
    """Codes requested in one hour, per country and channel: the statistics page's rollup.

    Written by verification/statistics_rollup.py once the hour's counts can no longer change,
    so the page reads a few hundred rows instead of aggregating a month of verifications.
    Each rolled-up hour also has a row with country and channel "*" (its totals), even when
    no code was requested: it marks the hour as done.
    """

    hour = models.DateTimeField()
    country = models.CharField(max_length=3)  # ISO 3166 alpha-2, "ZZ" unknown, "*" total
    channel = models.CharField(max_length=16)
    sent = models.PositiveIntegerField(default=0)
    delivered = models.PositiveIntegerField(default=0)
    verified = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name_plural = "hourly statistics"
        constraints = [
            models.UniqueConstraint(
                fields=("hour", "country", "channel"), name="hourly_stats_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.hour:%Y-%m-%d %H:00} {self.country} {self.channel}"


def quoted_column(name: str) -> str:
    """A column of the verification table, quoted for raw SQL on the default database."""
    field = SMSVerification._meta.get_field(name)
    return connections["default"].ops.quote_name(str(getattr(field, "column", name)))
