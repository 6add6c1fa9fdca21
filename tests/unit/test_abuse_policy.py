"""Pure parts of abuse protection: client keys, the tariff's shape, start-up validation."""

from __future__ import annotations

import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from verification.abuse.clients import client_key
from verification.abuse.policy import phone_facts
from verification.gateways.greensms import parse_tariff

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("ip", "key"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("2001:db8:1:2:aaaa:bbbb:cccc:dddd", "2001:db8:1:2::/64"),
        ("2001:db8:1:2::1", "2001:db8:1:2::/64"),
        ("::ffff:203.0.113.7", "203.0.113.7"),
        (None, "-"),
    ],
)
def test_client_key_counts_ipv6_by_slash_64(ip, key):
    assert client_key(ip) == key


def test_phone_facts_country_and_prefix():
    assert phone_facts("+79991234567") == phone_facts("+79990000000")
    assert (phone_facts("+79991234567").country, phone_facts("+79991234567").prefix) == (
        "RU",
        "+7999",
    )
    assert phone_facts("+77012345678").country == "KZ"
    assert phone_facts("+4915123456789").prefix == "+49151"


@pytest.mark.parametrize(
    ("reply", "prices"),
    [
        ({"data": [{"type": "sms", "price": 2.5}, {"type": "call", "price": "0.9"}]},
         {"sms": Decimal("2.5"), "call": Decimal("0.9")}),
        ({"data": [{"type": "sms", "price": 2}, {"type": "sms", "price": 7}]},
         {"sms": Decimal("7")}),  # several destinations: the highest is reserved
        ({"sms": "3.10", "voice": None}, {"sms": Decimal("3.10")}),
        ({"data": [{"type": "sms", "price": "n/a"}, "junk"]}, {}),
    ],
)  # fmt: skip
def test_parse_tariff(reply, prices):
    assert parse_tariff(reply) == prices


def start(**env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "ABUSE_"))}
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); print('ok')"],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "project.settings", "DJANGO_DEBUG": "True", **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"VERIFICATION_ALLOWED_COUNTRIES": "RU,XX,KZ"}, "unknown country code(s) XX"),
        ({"ABUSE_PROTECTION": "block"}, "ABUSE_PROTECTION must be one of"),
        ({"ABUSE_ALLOW_IPS": "10.0.0.0/33"}, "ABUSE_ALLOW_IPS"),
        ({"GREEN_SMS_BUDGET_PER_HOUR": "lots"}, "GREEN_SMS_BUDGET_PER_HOUR must be a number"),
    ],
)
def test_wrong_abuse_settings_stop_the_service_at_start(env, message):
    result = start(**env)

    assert result.returncode != 0
    assert message in result.stderr


def test_valid_abuse_settings_start():
    result = start(VERIFICATION_ALLOWED_COUNTRIES="ru, kz", ABUSE_ALLOW_PHONES=r"\+7999.*")

    assert result.stdout.strip() == "ok", result.stderr
