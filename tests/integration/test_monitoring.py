"""deploy/monitoring: the alert rules and the Grafana dashboard query metrics that /metrics
really exposes, every metric has a panel, and promtool accepts and unit-tests the rules."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from verification import metrics

pytestmark = pytest.mark.django_db

MONITORING = Path(__file__).resolve().parents[2] / "deploy" / "monitoring"
METRIC_NAME = re.compile(r"(?<![\w:])verification_[a-z_]+\b")
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")


def exposed_names(client) -> set[str]:
    """Every series name a scrape can hold, from its `# TYPE` lines (once the balance was
    read: until then its gauges are absent)."""
    metrics.record_balance(Decimal("500"))
    text = client.get("/metrics").content.decode()
    names = set()
    for name, kind in re.findall(r"^# TYPE (\S+) (\S+)$", text, flags=re.MULTILINE):
        names.add(name)
        if kind == "histogram":
            names.update(name + suffix for suffix in HISTOGRAM_SUFFIXES)
    return names


def dashboard_exprs() -> list[str]:
    dashboard = json.loads((MONITORING / "grafana-dashboard.json").read_text())
    return [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]


def rules() -> list[dict]:
    groups = yaml.safe_load((MONITORING / "alerts.yml").read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def test_the_dashboard_queries_only_exposed_metrics_and_shows_them_all(client):
    exposed = exposed_names(client)
    queried = {name for expr in dashboard_exprs() for name in METRIC_NAME.findall(expr)}

    assert queried <= exposed, queried - exposed
    not_shown = {
        name
        for name in exposed
        if not name.endswith(HISTOGRAM_SUFFIXES)
        and name not in queried
        and not any(name + suffix in queried for suffix in HISTOGRAM_SUFFIXES)
    }
    assert not not_shown


def test_the_alert_rules_query_only_exposed_metrics(client):
    exposed = exposed_names(client)
    queried = {name for rule in rules() for name in METRIC_NAME.findall(rule["expr"])}

    assert queried
    assert queried <= exposed, queried - exposed


def test_every_alert_the_operators_asked_for_exists():
    alerts = {rule["alert"] for rule in rules() if "alert" in rule}

    assert {
        "VerificationBalanceLow",
        "VerificationFundsBreakerOpen",
        "VerificationOldestQueuedTooOld",
        "VerificationDeliveryFailureRatioHigh",
        "VerificationConversionDrop",
        "VerificationAbuseBlocksSpike",
        "VerificationNoWorkerConsuming",
        "VerificationSpendNearHourlyCap",
        "VerificationSpendNearDailyCap",
    } <= alerts


def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("promtool is missing: .ci/run installs Debian's prometheus package")
        pytest.skip("promtool not installed (apt-get install prometheus); CI runs this")
    return path


def test_promtool_checks_the_rules_and_runs_their_unit_tests():
    binary = promtool()
    for command in (["check", "rules", "alerts.yml"], ["test", "rules", "alerts_test.yml"]):
        result = subprocess.run(  # noqa: S603 - a fixed binary and our own files
            [binary, *command], cwd=MONITORING, capture_output=True, text=True, timeout=120
        )
        assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_parses_every_dashboard_query(tmp_path):
    binary = promtool()
    # Grafana's $__rate_interval is not PromQL: check each query as a recording rule.
    records = [
        {"record": f"dashboard:query:{index}", "expr": expr.replace("$__rate_interval", "5m")}
        for index, expr in enumerate(dashboard_exprs())
    ]
    rule_file = tmp_path / "dashboard-queries.yml"
    rule_file.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": records}]}))

    result = subprocess.run(  # noqa: S603
        [binary, "check", "rules", str(rule_file)], capture_output=True, text=True, timeout=60
    )

    assert result.returncode == 0, result.stdout + result.stderr
