"""Misconfigurations that must stop a process at start-up, with a message saying why."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


SETUP = (
    "import django, os; os.environ['DJANGO_SETTINGS_MODULE'] = 'project.settings'; django.setup()"
)
SECRET = "a-long-random-test-value"


def run(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "FLOWER_", "GREEN_SMS_"))
    }
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_production_without_a_secret_key_refuses_to_start():
    result = run(
        "import django, os; os.environ['DJANGO_SETTINGS_MODULE'] = 'project.settings'; "
        "django.setup()",
        DJANGO_DEBUG="False",
    )

    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY is required when DJANGO_DEBUG=False" in result.stderr


def test_production_with_a_secret_key_starts():
    result = run(
        "import django, os; os.environ['DJANGO_SETTINGS_MODULE'] = 'project.settings'; "
        "django.setup(); print('ok')",
        DJANGO_DEBUG="False",
        DJANGO_SECRET_KEY="a-long-random-test-value",
    )

    assert result.stdout.strip() == "ok", result.stderr


def test_without_django_debug_the_service_runs_as_production():
    # given: nothing says debug; when: settings load without a secret key; then: refused
    result = run(SETUP)

    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY is required when DJANGO_DEBUG=False" in result.stderr

    # and with a key: production, and codes go to GreenSMS, not to the log
    shown = run(
        SETUP + "; from django.conf import settings as s; print(s.DEBUG, s.GREEN_SMS_DEBUG)",
        DJANGO_SECRET_KEY=SECRET,
    )
    assert shown.stdout.split() == ["False", "False"], shown.stderr


def test_production_with_debug_sms_refuses_to_start():
    result = run(SETUP, DJANGO_DEBUG="False", DJANGO_SECRET_KEY=SECRET, GREEN_SMS_DEBUG="True")

    assert result.returncode != 0
    assert "GREEN_SMS_DEBUG=True is refused when DJANGO_DEBUG=False" in result.stderr


def test_debug_sms_follows_django_debug_in_development():
    result = run(
        SETUP + "; from django.conf import settings as s; print(s.GREEN_SMS_DEBUG)",
        DJANGO_DEBUG="True",
    )

    assert result.stdout.strip() == "True", result.stderr


@pytest.mark.parametrize(
    ("env", "refused"),
    [
        ({}, True),
        ({"DJANGO_DEBUG": "False"}, True),
        ({"DJANGO_DEBUG": "False", "FLOWER_BASIC_AUTH": "no-colon"}, True),
        ({"DJANGO_DEBUG": "False", "FLOWER_BASIC_AUTH": "ops:s3cret"}, False),
        ({"DJANGO_DEBUG": "True"}, False),
    ],
)
def test_flower_refuses_to_run_open_outside_debug(env, refused):
    result = run("import runpy; runpy.run_path('flowerconfig.py')", **env)

    assert (result.returncode != 0) is refused
    if refused:
        assert "FLOWER_BASIC_AUTH" in result.stderr


PRODUCTION = {"DJANGO_DEBUG": "False", "DJANGO_SECRET_KEY": SECRET}


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"TRUSTED_PROXIES": "10.0.0.300"}, "not an IP address or CIDR network"),
        ({"TRUSTED_PROXIES": "nginx.internal"}, "not an IP address or CIDR network"),
        ({"TRUSTED_PROXIES": "10.0.0.1,0.0.0.0/0"}, "trusts every address"),
        ({"TRUSTED_PROXIES": "::/0"}, "trusts every address"),
        ({"DJANGO_BEHIND_TLS_PROXY": "True"}, "DJANGO_BEHIND_TLS_PROXY=True needs TRUSTED_PROXIES"),
        ({"GREEN_SMS_BASE_URL": "http://api3.greensms.ru"}, "must use https unless"),
        ({"GREEN_SMS_BASE_URL": "http://10.1.2.3:8025"}, "must use https unless"),
        ({"GREEN_SMS_BASE_URL": "ftp://api3.greensms.ru"}, "must be an https URL"),
    ],
)
def test_settings_that_would_fail_open_refuse_to_start(env, message):
    result = run(SETUP, **PRODUCTION, **env)

    assert result.returncode != 0
    assert message in result.stderr


@pytest.mark.parametrize(
    "env",
    [
        {"TRUSTED_PROXIES": "127.0.0.1, 10.0.0.0/8,::1"},
        {"TRUSTED_PROXIES": "127.0.0.1", "DJANGO_BEHIND_TLS_PROXY": "True"},
        {"GREEN_SMS_BASE_URL": "http://127.0.0.1:8025"},
        {"GREEN_SMS_BASE_URL": "http://localhost:8025/"},
        {"GREEN_SMS_BASE_URL": "http://[::1]:8025"},
        {"GREEN_SMS_BASE_URL": "https://api3.greensms.ru"},
    ],
)
def test_sound_settings_start(env):
    result = run(SETUP + "; print('ok')", **PRODUCTION, **env)

    assert result.stdout.strip() == "ok", result.stderr
