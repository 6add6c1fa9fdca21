"""Misconfigurations that must stop a process at start-up, with a message saying why."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from verification.token_keys import private_key_pem

ROOT = Path(__file__).resolve().parents[2]


SETUP = (
    "import django, os; os.environ['DJANGO_SETTINGS_MODULE'] = 'project.settings'; django.setup()"
)
SECRET = "a-long-random-test-value"
TOKEN_KEY = private_key_pem(Ed25519PrivateKey.generate()).decode()


def run(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "FLOWER_", "GREEN_SMS_", "VERIFICATION_"))
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
        VERIFICATION_TOKEN_PRIVATE_KEY=TOKEN_KEY,
    )

    assert result.stdout.strip() == "ok", result.stderr


def test_production_without_a_token_key_refuses_to_start():
    result = run(SETUP, DJANGO_DEBUG="False", DJANGO_SECRET_KEY=SECRET)

    assert result.returncode != 0
    assert "VERIFICATION_TOKEN_PRIVATE_KEY or VERIFICATION_TOKEN_PRIVATE_KEY_FILE" in result.stderr


@pytest.mark.parametrize(
    "env",
    [
        {"VERIFICATION_TOKEN_PRIVATE_KEY": "-----BEGIN PRIVATE KEY-----\\nbroken"},
        {"VERIFICATION_TOKEN_PRIVATE_KEY_FILE": "/nonexistent/key.pem"},
        {"VERIFICATION_TOKEN_PRIVATE_KEY": TOKEN_KEY, "VERIFICATION_TOKEN_PUBLIC_KEYS": "/no.pem"},
        {"VERIFICATION_TOKEN_PRIVATE_KEY": TOKEN_KEY, "VERIFICATION_TOKEN_PRIVATE_KEY_FILE": "/k"},
    ],
    ids=["malformed", "missing-file", "missing-public-key", "both-set"],
)
def test_an_unusable_token_key_refuses_to_start(env):
    result = run(SETUP, DJANGO_DEBUG="False", DJANGO_SECRET_KEY=SECRET, **env)

    assert result.returncode != 0
    assert "ImproperlyConfigured: VERIFICATION_TOKEN_" in result.stderr


def test_debug_without_a_token_key_generates_one_once():
    # given a DEBUG start with no key configured (the key file lives in the git-ignored .run/)
    key_file = ROOT / ".run" / "token-signing-key.pem"
    show = SETUP + "; from verification.token_keys import keyring; print(keyring().kid)"

    # when the service starts twice
    first = run(show, DJANGO_DEBUG="True")
    second = run(show, DJANGO_DEBUG="True")

    # then both starts sign with the same key, kept in the file
    assert first.returncode == 0, first.stderr
    assert first.stdout == second.stdout
    assert key_file.exists()
    ignored = subprocess.run(["git", "check-ignore", "-q", str(key_file)], cwd=ROOT, check=False)
    assert ignored.returncode == 0


def test_without_django_debug_the_service_runs_as_production():
    # given: nothing says debug; when: settings load without a secret key; then: refused
    result = run(SETUP)

    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY is required when DJANGO_DEBUG=False" in result.stderr

    # and with a key: production, and codes go to GreenSMS, not to the log
    shown = run(
        SETUP + "; from django.conf import settings as s; print(s.DEBUG, s.GREEN_SMS_DEBUG)",
        DJANGO_SECRET_KEY=SECRET,
        VERIFICATION_TOKEN_PRIVATE_KEY=TOKEN_KEY,
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


PRODUCTION = {
    "DJANGO_DEBUG": "False",
    "DJANGO_SECRET_KEY": SECRET,
    "VERIFICATION_TOKEN_PRIVATE_KEY": TOKEN_KEY,
}


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


def test_malformed_test_numbers_stop_the_start():
    result = run(SETUP, DJANGO_DEBUG="True", VERIFICATION_TEST_NUMBERS="+79990000001=12")

    assert result.returncode != 0
    assert "VERIFICATION_TEST_NUMBERS, entry 1: the code must be 6 digits" in result.stderr
