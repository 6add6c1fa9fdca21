"""The send path's and verify path's entry points into abuse protection (SPEC §11).

`check_send` runs every check in the send gate's one round trip and turns its verdict into
an answer; `reserve_spend` lets a worker-side fallback (another channel for the same code)
count against the same caps; `code_verified` feeds the adaptive rules' verified side.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from django.conf import settings
from django.utils import timezone

from verification.abuse import budget, decisions, limits, policy, rules, rules_db
from verification.abuse.clients import client_key
from verification.abuse.gate import ALLOWED, BLOCKED, PAUSED, GateRequest, send_gate
from verification.abuse.policy import PhoneFacts
from verification.exceptions import Blocked, RateLimited, SendingPaused
from verification.redis_client import RedisUnavailable, redis_or

logger = logging.getLogger(__name__)

# Retry-After of a `blocked` answer: the shortest rule window. The same for every rule,
# so the answer says nothing about which one fired.
BLOCKED_RETRY_AFTER = rules.HOUR


@dataclass(frozen=True)
class Clearance:
    hits: int  # the phone's codes this hour, this one included
    cooldown: int  # seconds before this client may ask for the phone's next code


def check_send(
    *,
    phone: str,
    facts: PhoneFacts,
    client_ip: str | None,
    channel: str = "sms",
    then_set: tuple[str, str, int] | None = None,
    per_phone: bool = True,
    paid: bool = True,
) -> Clearance:
    """Count one send request; raises RateLimited, Blocked, SendingPaused or
    RedisUnavailable (then the caller counts from the database: fallback.py).

    `per_phone=False` skips the per-phone limits and the cooldown (test numbers, a fallback
    for a code already counted); `paid=False` reserves no price (no message will be sent).
    """
    request = send_request(
        phone=phone,
        facts=facts,
        client_ip=client_ip,
        channel=channel,
        then_set=then_set,
        per_phone=per_phone,
        paid=paid,
    )
    verdict = send_gate.check(request)

    if verdict.status == BLOCKED:
        decisions.record(
            phone=phone, facts=facts, client_ip=client_ip, rules=verdict.fired, blocked=True
        )
        raise Blocked(BLOCKED_RETRY_AFTER)
    if verdict.status == PAUSED:
        budget.log_pause(verdict.first_pause, verdict.retry_after)
        raise SendingPaused(verdict.retry_after)
    if verdict.status != ALLOWED:
        raise RateLimited(verdict.retry_after)
    if verdict.fired:
        decisions.record(
            phone=phone, facts=facts, client_ip=client_ip, rules=verdict.fired, blocked=False
        )
    return Clearance(hits=verdict.hits if per_phone else 0, cooldown=verdict.cooldown)


def send_request(
    *,
    phone: str,
    facts: PhoneFacts,
    client_ip: str | None,
    channel: str,
    then_set: tuple[str, str, int] | None,
    per_phone: bool,
    paid: bool,
) -> GateRequest:
    """What the send gate checks and counts for this request (check_send's arguments)."""
    now = time.time()
    client = client_key(client_ip)
    request = GateRequest(
        now=now,
        limits=limits.send_limits(phone, client, per_phone=per_phone),
        cooldown=limits.resend_cooldown(phone, client) if per_phone else None,
        budget=budget.script_budget(now, channel) if paid else None,
        then_set=then_set,
    )
    if _rules_apply(phone, client_ip):
        subject = rules.Subject(facts.country, facts.prefix, client)
        request.rules = rules.script_rules(subject, now)
        request.counts = rules.script_counts(subject, now)
        request.deny = settings.ABUSE_PROTECTION == "deny"
    return request


def _rules_apply(phone: str, client_ip: str | None) -> bool:
    """The adaptive rules count and judge this request (the allow lists bypass them only)."""
    if settings.ABUSE_PROTECTION == "off":
        return False
    return not (policy.is_allowed_ip(client_ip) or policy.is_allowed_phone(phone))


def check_rules_in_db(*, phone: str, facts: PhoneFacts, client_ip: str | None) -> None:
    """The adaptive rules while Redis is down, counted from the rows (rules_db.py); records
    a decision when one fires and raises Blocked in `deny` mode. Call it outside the
    transaction that stores the row, so a refusal's decision is kept."""
    if not _rules_apply(phone, client_ip):
        return
    fired = rules_db.fired(facts=facts, client_ip=client_ip, now=timezone.now())
    if not fired:
        return
    blocked = settings.ABUSE_PROTECTION == "deny"
    decisions.record(phone=phone, facts=facts, client_ip=client_ip, rules=fired, blocked=blocked)
    if blocked:
        raise Blocked(BLOCKED_RETRY_AFTER)


def reserve_spend(channel: str = "sms") -> None:
    """Reserve one more message's price (a fallback over another channel for a code already
    accepted) against the spend caps. Raises SendingPaused or RedisUnavailable."""
    now = time.time()
    verdict = send_gate.check(GateRequest(now=now, budget=budget.script_budget(now, channel)))
    if verdict.status == PAUSED:
        budget.log_pause(verdict.first_pause, verdict.retry_after)
        raise SendingPaused(verdict.retry_after)


def check_verify(*, phone: str, client_ip: str | None) -> int:
    """0 when the verify request may go on. Raises RedisUnavailable."""
    return limits.verify_retry_after(phone, client_key(client_ip))


def code_verified(*, phone: str, requested_by: str | None, forget_key: str | None) -> None:
    """A code was confirmed: the adaptive rules count it as verified for the phone's country
    and prefix and for the client that asked for it. Deletes `forget_key` (the verify
    cache's entry) in the same round trip. With Redis down the count is lost (the rules
    then pause anyway) and the entry expires by itself: the row decides every verify."""
    if settings.ABUSE_PROTECTION == "off":
        if forget_key:
            redis_or(0, lambda redis: redis.delete(forget_key))
        return
    facts = policy.phone_facts(phone)
    subject = rules.Subject(facts.country, facts.prefix, client_key(requested_by))
    try:
        rules.count_verified(subject, time.time(), also_delete=forget_key)
    except RedisUnavailable:
        logger.debug("verified code of %s not counted: Redis unavailable", facts.prefix)
