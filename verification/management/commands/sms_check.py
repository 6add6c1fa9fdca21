"""`python manage.py sms_check`: the seed's troubleshooting section, without a shell.

One line per check, `OK` / `WARN` / `FAIL` with a short hint; exits 1 when anything FAILs.
Credentials are reported as set or not, never shown; URLs are printed without user info or
query string.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError, connection
from django.utils import timezone
from kombu.exceptions import ChannelError

from project.celery import app as celery_app
from verification import funds, sending
from verification.gateways.errors import ProviderError
from verification.health import check_broker, check_database, check_redis
from verification.management.commands.sms_balance import provider_hint
from verification.services import GreenSMSService
from verification.stats import unsent_rows_older_than

OK, WARN, FAIL = "OK", "WARN", "FAIL"
QUEUES = ("sms", "status", "maintenance")
# More waiting messages than this on one queue means missing or too few workers: a healthy
# pool drains a queue in seconds.
QUEUE_BACKLOG_WARN = 100
# Seconds a queue probe may wait for the broker: this is a quick diagnosis, not a retry loop.
QUEUE_PROBE_TIMEOUT = 1


@dataclass(frozen=True)
class Check:
    level: str
    name: str
    detail: str
    hint: str = ""


class Command(BaseCommand):
    help = "Check settings, database, Redis, broker, provider, send breaker, queues, stuck rows."

    def handle(self, *args: Any, **options: Any) -> None:
        failed = [check.name for check in self._report(run_checks()) if check.level == FAIL]
        if failed:
            raise CommandError(f"{len(failed)} check(s) failed: {', '.join(failed)}")

    def _report(self, checks: Iterator[Check]) -> Iterator[Check]:
        """Print each line as soon as its check ran: a slow provider must not hide the rest."""
        styles = {OK: self.style.SUCCESS, WARN: self.style.WARNING, FAIL: self.style.ERROR}
        for check in checks:
            hint = f"  -> {check.hint}" if check.hint else ""
            level = styles[check.level](f"{check.level:<4}")
            self.stdout.write(f"{level}  {check.name:<22} {check.detail}{hint}")
            yield check


def run_checks() -> Iterator[Check]:
    yield from settings_checks()
    database_up = check_database()
    yield (
        Check(OK, "database", f"reachable ({connection.vendor})")
        if database_up
        else Check(FAIL, "database", "unreachable", "check DATABASE_URL and the server")
    )
    yield redis_check()
    broker_up = check_broker()
    yield (
        Check(OK, "broker", "reachable")
        if broker_up
        else Check(FAIL, "broker", "unreachable", "check CELERY_BROKER_URL; rows wait meanwhile")
    )
    yield provider_check()
    yield funds_breaker_check()
    yield from queue_checks(broker_up)
    yield stuck_rows_check(database_up)


def settings_checks() -> list[Check]:
    debug = settings.GREEN_SMS_DEBUG
    return [
        Check(WARN, "GREEN_SMS_DEBUG", "True: nothing is sent", "False in production")
        if debug
        else Check(OK, "GREEN_SMS_DEBUG", "False: codes are sent through GreenSMS"),
        base_url_check(settings.GREEN_SMS_BASE_URL, debug=debug),
        Check(OK, "GREEN_SMS_SENDER", repr(settings.GREEN_SMS_SENDER))
        if settings.GREEN_SMS_SENDER
        else Check(OK, "GREEN_SMS_SENDER", "empty: the account's default sender name"),
        timeout_check(float(settings.GREEN_SMS_TIMEOUT)),
        visibility_timeout_check(),
        credentials_check(debug=debug),
    ]


def base_url_check(url: str, *, debug: bool) -> Check:
    try:
        parts = urlsplit(url)
        host, port = parts.hostname or "", parts.port
    except ValueError:
        return Check(FAIL, "GREEN_SMS_BASE_URL", "not a URL", "e.g. https://api3.greensms.ru")
    if parts.scheme not in ("http", "https") or not host:
        return Check(
            FAIL, "GREEN_SMS_BASE_URL", "not an http(s) URL", "e.g. https://api3.greensms.ru"
        )
    netloc = (f"[{host}]" if ":" in host else host) + (f":{port}" if port else "")
    shown = urlunsplit((parts.scheme, netloc, parts.path, "", ""))  # no user info, no query
    if not debug and host in ("127.0.0.1", "localhost", "::1"):
        return Check(
            WARN, "GREEN_SMS_BASE_URL", shown, "a loopback host: the sandbox, not GreenSMS"
        )
    return Check(OK, "GREEN_SMS_BASE_URL", shown)


def timeout_check(timeout: float) -> Check:
    soft_limit = celery_app.conf.task_soft_time_limit
    if timeout <= 0:
        return Check(FAIL, "GREEN_SMS_TIMEOUT", f"{timeout:g} s", "must be a positive number")
    if soft_limit and timeout >= soft_limit:
        # The task would be killed before a silent provider call times out.
        return Check(
            WARN,
            "GREEN_SMS_TIMEOUT",
            f"{timeout:g} s",
            f"keep it below the {soft_limit} s task limit",
        )
    return Check(OK, "GREEN_SMS_TIMEOUT", f"{timeout:g} s")


def visibility_timeout_check() -> Check:
    """Redis redelivers an unacknowledged message after the visibility timeout: a send task
    still running (up to the lease) or sleeping on a retry countdown would run twice."""
    name = "visibility timeout"
    if urlsplit(celery_app.conf.broker_url or "").scheme not in ("redis", "rediss"):
        return Check(OK, name, "not used by this broker")
    timeout = float(celery_app.conf.broker_transport_options.get("visibility_timeout") or 3600)
    needs = {
        "longest retry wait": float(sending.RETRY_BACKOFF_MAX),
        "funds pause": settings.GREEN_SMS_FUNDS_PAUSE + sending.SPREAD_MAX,
        "send lease": sending.send_lease(),
    }
    longest, seconds = max(needs.items(), key=lambda item: item[1])
    detail = f"{timeout:g} s; " + ", ".join(f"{k} {v:g} s" for k, v in needs.items())
    if timeout <= seconds:
        return Check(
            FAIL,
            name,
            detail,
            f"raise CELERY_VISIBILITY_TIMEOUT above the {longest} ({seconds:g} s)",
        )
    return Check(OK, name, detail)


def credentials_check(*, debug: bool) -> Check:
    # Only whether each one is set: never a value, not even a prefix.
    if settings.GREEN_SMS_TOKEN:
        return Check(OK, "credentials", "GREEN_SMS_TOKEN set (used instead of user/password)")
    user, password = bool(settings.GREEN_SMS_USER), bool(settings.GREEN_SMS_PASSWORD)
    if user and password:
        return Check(OK, "credentials", "GREEN_SMS_USER and GREEN_SMS_PASSWORD set")
    detail = f"GREEN_SMS_USER {_set(user)}, GREEN_SMS_PASSWORD {_set(password)}, no token"
    if debug:
        return Check(OK, "credentials", detail + " (not needed with GREEN_SMS_DEBUG=True)")
    return Check(FAIL, "credentials", detail, "set user and password, or GREEN_SMS_TOKEN")


def redis_check() -> Check:
    if check_redis():
        return Check(OK, "redis", "reachable")
    # The service degrades rather than stops (limits counted from the database), but it is
    # still broken enough for an operator to act on.
    return Check(FAIL, "redis", "unreachable", "check REDIS_URL; rate limits fall back to the DB")


def provider_check() -> Check:
    if settings.GREEN_SMS_DEBUG:
        return Check(OK, "provider", "skipped: GREEN_SMS_DEBUG=True, no call made")
    try:
        balance = GreenSMSService().get_balance()
    except ProviderError as exc:
        return Check(FAIL, "provider", exc.reason, provider_hint(exc))
    low = Decimal(str(settings.GREEN_SMS_LOW_BALANCE))
    if balance < low:
        return Check(WARN, "provider", f"reachable, balance {balance}", f"below {low}: top up")
    return Check(OK, "provider", f"reachable, balance {balance}")


def funds_breaker_check() -> Check:
    paused = funds.pause_remaining()
    if paused:
        return Check(
            FAIL,
            "send breaker",
            f"open: sends paused for {paused} s after 'Insufficient funds'",
            "top up; the balance task closes it when funds return",
        )
    return Check(OK, "send breaker", "closed")


def queue_depths(names: Iterable[str]) -> dict[str, int] | None:
    """Messages waiting in each queue, or None when the broker cannot be read.

    A queue the broker does not know counts as 0: Redis deletes a list once it is empty, and
    on AMQP it only means no worker has declared it yet. Unacked messages (running, or
    waiting for a retry countdown) are not counted.
    """
    try:
        with celery_app.connection_for_read() as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, timeout=QUEUE_PROBE_TIMEOUT)
            return {name: _depth(conn, name) for name in names}
    except Exception:  # noqa: BLE001 - kombu and its transports raise many kinds; all mean "unknown"
        return None


def _depth(conn: Any, name: str) -> int:
    # A channel per queue: on AMQP a failed passive declare closes the channel it ran on.
    channel = conn.channel()
    try:
        return int(channel.queue_declare(queue=name, passive=True).message_count)
    except ChannelError:
        return 0
    finally:
        channel.close()


def queue_checks(broker_up: bool) -> list[Check]:
    depths = queue_depths(QUEUES) if broker_up else None
    if depths is None:
        why = "broker unreachable" if not broker_up else "could not read the broker"
        return [Check(WARN, f"queue {name}", f"depth unknown: {why}") for name in QUEUES]
    return [
        Check(WARN, f"queue {name}", f"{depth} waiting", f"is a worker consuming '{name}'?")
        if depth > QUEUE_BACKLOG_WARN
        else Check(OK, f"queue {name}", f"{depth} waiting")
        for name, depth in depths.items()
    ]


def stuck_rows_check(database_up: bool) -> Check:
    after = settings.VERIFICATION_DISPATCH_AFTER
    name = "stuck rows"
    if not database_up:
        return Check(WARN, name, "unknown: database unreachable")
    try:
        counts = unsent_rows_older_than(timezone.now() - timedelta(seconds=after))
    except DatabaseError as exc:
        # Reachable but not usable: typically a database nobody has migrated yet.
        return Check(FAIL, name, f"cannot query ({type(exc).__name__})", "run `manage.py migrate`?")
    detail = f"{counts['queued']} queued, {counts['sending']} sending for over {after} s"
    if any(counts.values()):
        return Check(
            WARN, name, detail, "beat re-dispatches them; if they stay, check beat and workers"
        )
    return Check(OK, name, detail)


def _set(flag: bool) -> str:
    return "set" if flag else "empty"
