"""/metrics (SPEC §14): each metric moves when its event happens; who may read it."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client

from tests.factories import make_verification, wrong_code
from tests.helpers import DEAD_REDIS_URL, wait_for
from tests.scrape import parse, scrape
from verification import metrics

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
SEND = "/api/auth/send-code/"
VERIFY = "/api/auth/verify-code/"


def test_send_code_answers_are_counted_by_outcome(api_client, settings):
    settings.RATE_LIMIT_SEND_PER_HOUR = 1

    api_client.post(SEND, {"phone": "+79991234567"}, format="json")
    api_client.post(SEND, {"phone": "+79991234567"}, format="json")  # over the limit
    api_client.post(SEND, {"phone": "12"}, format="json")
    api_client.post(SEND, "{", content_type="application/json")

    samples = scrape(api_client)
    name = "verification_send_requests_total"
    assert samples.value(name, outcome="accepted") == 1
    assert samples.value(name, outcome="rate_limited") == 1
    assert samples.value(name, outcome="invalid_phone") == 1
    assert samples.value(name, outcome="parse_error") == 1


def test_an_idempotent_replay_is_counted_as_replayed_not_accepted(api_client):
    body = {"phone": "+79991234567"}

    for _ in range(2):
        api_client.post(SEND, body, format="json", HTTP_IDEMPOTENCY_KEY="key-0001")

    samples = scrape(api_client)
    assert samples.value("verification_send_requests_total", outcome="accepted") == 1
    assert samples.value("verification_send_requests_total", outcome="replayed") == 1


def test_verify_code_answers_are_counted_by_outcome(api_client):
    row, code = make_verification(phone="+79991234567")

    api_client.post(VERIFY, {"phone": row.phone, "code": wrong_code(code)}, format="json")
    api_client.post(VERIFY, {"phone": row.phone, "code": code}, format="json")

    samples = scrape(api_client)
    assert samples.value("verification_checks_total", outcome="invalid_code") == 1
    assert samples.value("verification_checks_total", outcome="verified") == 1


def test_metrics_refuses_a_remote_client_without_credentials():
    remote = Client(REMOTE_ADDR="203.0.113.7")

    response = remote.get("/metrics")

    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"
    assert b"verification_" not in response.content
    english = remote.get("/metrics", HTTP_ACCEPT_LANGUAGE="en")
    assert english.json()["error"] == "Forbidden"


def test_metrics_refuses_a_request_forwarded_by_a_local_proxy():
    # given: nginx on the same host connects from loopback on behalf of an outside client
    proxied = Client(REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.7")

    assert proxied.get("/metrics").status_code == 403


def test_with_basic_auth_only_the_right_credentials_read_metrics(settings):
    settings.METRICS_BASIC_AUTH = "prom:s3cret-scrape"
    remote = Client(REMOTE_ADDR="203.0.113.7")

    def auth(credentials: str) -> str:
        return "Basic " + base64.b64encode(credentials.encode()).decode()

    missing = remote.get("/metrics")
    wrong = remote.get("/metrics", HTTP_AUTHORIZATION=auth("prom:guess"))
    local_without = Client().get("/metrics")
    right = remote.get("/metrics", HTTP_AUTHORIZATION=auth("prom:s3cret-scrape"))

    assert missing.status_code == wrong.status_code == local_without.status_code == 401
    assert missing["WWW-Authenticate"].startswith("Basic")
    assert right.status_code == 200
    assert "verification_send_requests" in parse(right.content.decode()).families


def test_metrics_answers_other_methods_with_a_json_405(api_client):
    response = api_client.post("/metrics", {})

    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"


def test_metrics_is_not_in_the_openapi_schema(api_client):
    schema = api_client.get("/api/schema/", HTTP_ACCEPT="application/json").json()

    assert not [path for path in schema["paths"] if "metrics" in path]


def test_every_metric_of_the_spec_is_exposed(api_client):
    families = scrape(api_client).families

    assert {
        "verification_send_requests",
        "verification_sends",
        "verification_deliveries",
        "verification_checks",
        "verification_provider_request_seconds",
        "verification_queue_depth",
        "verification_oldest_queued_seconds",
        "verification_funds_breaker_open",
        "verification_abuse_decisions",
        "verification_spend",
    } <= families  # the parser names counters without `_total`


def test_counters_from_another_process_reach_the_scrape_and_outlive_it(api_client):
    # given: another process (a worker on another host, a gunicorn sibling) counts events
    env = {**os.environ, "DATABASE_URL": os.environ.get("DATABASE_URL", "sqlite:///x")}
    script = (
        "import django; django.setup();"
        "from verification import metrics;"
        "[metrics.sends('sent') for _ in range(3)];"
        "metrics.spend(4.5)"
    )
    metrics.sends("sent")

    subprocess.run(  # noqa: S603 - our own interpreter and code
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={**env, "DJANGO_SETTINGS_MODULE": "project.settings"},
        check=True,
        timeout=60,
    )

    # then: one total, and it stays after that process is gone (no reset, no doubling)
    first, second = scrape(api_client), scrape(api_client)
    assert first.value("verification_sends_total", channel="sms", result="sent") == 4
    assert second.value("verification_sends_total", channel="sms", result="sent") == 4
    assert second.value("verification_spend_total", channel="sms") == 4.5


def test_with_redis_down_the_scrape_leaves_counters_out_instead_of_zeroing_them(
    api_client, redis_down
):
    samples = scrape(api_client)

    assert "verification_sends" not in samples.families
    assert samples.has("verification_oldest_queued_seconds")


def _stored_sends(redis) -> int:
    return int(redis.hget(metrics.SENDS.key, metrics.label_field(("sms", "sent"))) or 0)


def test_counts_reach_redis_within_the_flush_interval_without_a_scrape(settings):
    from verification.redis_client import get_redis

    settings.VERIFICATION_METRICS_FLUSH_INTERVAL = 0.2
    for _ in range(25):
        metrics.sends("sent")

    # then: another host's scrape (reading Redis, not this process) sees them shortly
    assert wait_for(lambda: _stored_sends(get_redis()) == 25, timeout=5)


def test_a_burst_of_events_costs_redis_one_command_per_label_set():
    from verification.redis_client import get_redis

    redis = get_redis()
    metrics.flush()
    before = redis.info("commandstats").get("cmdstat_hincrby", {}).get("calls", 0)

    for _ in range(200):
        metrics.sends("sent")
    metrics.flush()

    after = redis.info("commandstats").get("cmdstat_hincrby", {}).get("calls", 0)
    assert _stored_sends(redis) == 200
    # 200 events, one label set: one HINCRBY (other tests' processes may add a few)
    assert after - before < 10


def test_counts_made_while_redis_is_down_arrive_when_it_returns(settings):
    from project import settings as project_settings
    from verification.redis_client import breaker, get_redis

    live = project_settings.CACHES["default"]
    settings.CACHES = {"default": dict(live, LOCATION=DEAD_REDIS_URL)}
    for _ in range(7):
        metrics.sends("sent")
    metrics.flush()  # refused: the counts stay in the process

    # when: Redis is back
    settings.CACHES = {"default": live}
    breaker.reset()
    metrics.flush()

    assert _stored_sends(get_redis()) == 7
