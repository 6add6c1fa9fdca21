"""AbuseDecision rows: written only when a rule fired, purged with the verifications."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from verification import metrics
from verification.abuse.policy import PhoneFacts
from verification.models import AbuseDecision
from verification.phones import mask_phone

logger = logging.getLogger(__name__)

# Rows deleted per statement: short statements, short locks (as the verifications' purge).
PURGE_BATCH_SIZE = 5000


def record(
    *, phone: str, facts: PhoneFacts, client_ip: str | None, rules: tuple[str, ...], blocked: bool
) -> AbuseDecision:
    decision = AbuseDecision.Outcome.BLOCKED if blocked else AbuseDecision.Outcome.RECORDED
    row = AbuseDecision.objects.create(
        phone=phone,
        country=facts.country,
        prefix=facts.prefix,
        client_ip=client_ip,
        rules=",".join(rules),
        decision=decision,
    )
    logger.info("abuse rule(s) %s: %s %s", row.rules, decision, mask_phone(phone))
    for rule in rules:
        metrics.abuse_decision(rule=rule, decision=decision)
    return row


def purge_old(*, batch_size: int = PURGE_BATCH_SIZE) -> int:
    cutoff = timezone.now() - timedelta(days=settings.ABUSE_DECISION_RETENTION_DAYS)
    ids = list(
        AbuseDecision.objects.filter(created_at__lt=cutoff).values_list("id", flat=True)[
            :batch_size
        ]
    )
    if not ids:
        return 0
    deleted, _ = AbuseDecision.objects.filter(id__in=ids).delete()
    return deleted
