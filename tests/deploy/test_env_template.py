"""roles/django_app/templates/env.j2: the app's .env, rendered by the role's own task."""

from __future__ import annotations

import grp
import os
import pwd
import re
import stat
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import environ
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tests.deploy.conftest import (
    ANSIBLE_DIR,
    REPO_ROOT,
    Ansible,
    local_inventory,
    read_env_file,
)

pytestmark = pytest.mark.deploy

# SPEC §3, every variable, plus GREEN_SMS_TOKEN (listed there with GREEN_SMS_USER).
SPEC_VARIABLES = [
    "DJANGO_SECRET_KEY",
    "DJANGO_DEBUG",
    "DJANGO_ALLOWED_HOSTS",
    "DATABASE_URL",
    "REDIS_URL",
    "CELERY_BROKER_URL",
    "GREEN_SMS_USER",
    "GREEN_SMS_PASSWORD",
    "GREEN_SMS_TOKEN",
    "GREEN_SMS_DEBUG",
    "GREEN_SMS_BASE_URL",
    "GREEN_SMS_SENDER",
    "GREEN_SMS_TIMEOUT",
    "GREEN_SMS_LOW_BALANCE",
    "VERIFICATION_CODE_TTL",
    "VERIFICATION_MAX_ATTEMPTS",
    "RATE_LIMIT_SEND_PER_HOUR",
    "RATE_LIMIT_VERIFY_PER_HOUR",
    "RATE_LIMIT_SEND_PER_IP_PER_HOUR",
    "VERIFICATION_RETENTION_DAYS",
    "VERIFICATION_POLL_INTERVAL",
    "VERIFICATION_DISPATCH_AFTER",
    "VERIFICATION_CHANNELS",
    "VERIFICATION_DEFAULT_CHANNEL",
    "VERIFICATION_FALLBACK_CHANNEL",
    "TRUSTED_PROXIES",
    "API_MAX_BODY_BYTES",
    "DJANGO_BEHIND_TLS_PROXY",
    "DJANGO_CSRF_TRUSTED_ORIGINS",
    "WEB_CONCURRENCY",
    "WORKER_CONCURRENCY",
    "FLOWER_BASIC_AUTH",
    "VERIFICATION_TOKEN_PRIVATE_KEY",
    "VERIFICATION_TOKEN_TTL",
    "VERIFICATION_TOKEN_ISSUER",
    "VERIFICATION_TOKEN_PUBLIC_KEYS",
    "VERIFICATION_TEST_NUMBERS",
    "GREEN_SMS_TEMPLATE_EN",
    "WEBOTP_DOMAIN",
    "ANDROID_APP_HASH",
    "VERIFICATION_ALLOWED_COUNTRIES",
    "VERIFICATION_RESEND_COOLDOWN",
    "RATE_LIMIT_SEND_PER_DAY",
    "RATE_LIMIT_VERIFY_PER_IP_PER_HOUR",
    "ABUSE_PROTECTION",
    "ABUSE_ALLOW_IPS",
    "ABUSE_ALLOW_PHONES",
    "GREEN_SMS_BUDGET_PER_HOUR",
    "GREEN_SMS_BUDGET_PER_DAY",
    "GREEN_SMS_PRICE",
    "METRICS_BASIC_AUTH",
]

PLAYBOOK = """\
- name: Run one task file of the django_app role
  hosts: localhost
  gather_facts: false
  vars_files: {vars_files}
  tasks:
    - name: Run {tasks_from}
      ansible.builtin.include_role:
        name: django_app
        tasks_from: {tasks_from}
"""

# What the production group_vars take from the vault in these tests: characters a URL or an
# env file could mangle, but that both of the .env's readers accept.
VAULT = {
    "vault_django_secret_key": "k" * 30 + "-#@:/%+=" + "K" * 30,
    "vault_database_password": "p@ss/w:rd#1$x",
    "vault_redis_password": "",
    "vault_green_sms_user": "prod_user",
    "vault_green_sms_password": "s3cr#t pa$$",
    "vault_green_sms_token": "",
    "vault_flower_basic_auth": "ops:flower#pw",
    "vault_verification_token_private_key": Ed25519PrivateKey.generate()
    .private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    .decode(),
}

# A production configuration the role's checks accept.
VALID = {
    "django_secret_key": "s" * 50,
    "flower_basic_auth": "ops:pw",
    "green_sms_debug": False,
    "green_sms_user": "user",
    "green_sms_password": "password",
    "verification_token_private_key": VAULT["vault_verification_token_private_key"],
    "redis_url": "rediss://:redis-pw@redis.internal.example.com:6379/0?ssl_cert_reqs=required",
}


def _me() -> dict[str, str]:
    return {
        "django_app_user": pwd.getpwuid(os.getuid()).pw_name,
        "django_app_group": grp.getgrgid(os.getgid()).gr_name,
    }


def run_role_tasks(
    ansible: Ansible,
    tmp_path: Path,
    tasks_from: str,
    extra_vars: dict[str, Any],
    vars_files: list[Path] | None = None,
    groups: dict[str, list[str]] | None = None,
) -> tuple[int, str, Path]:
    env_file = tmp_path / "app" / ".env"
    env_file.parent.mkdir(exist_ok=True)
    playbook = tmp_path / "playbook.yml"
    playbook.write_text(
        PLAYBOOK.format(vars_files=[str(f) for f in vars_files or []], tasks_from=tasks_from)
    )
    inventory = local_inventory(tmp_path / "inventory", ansible.python, groups)
    run = ansible.playbook(
        playbook,
        inventory,
        {
            "django_app_env_file": str(env_file),
            "django_app_manage_systemd": False,
            **_me(),
            **extra_vars,
        },
        tmp_path=tmp_path,
    )
    return run.returncode, run.output, env_file


def render(ansible: Ansible, tmp_path: Path, extra_vars: dict[str, Any], **kwargs: Any) -> Path:
    returncode, output, env_file = run_role_tasks(
        ansible, tmp_path, "env.yml", extra_vars, **kwargs
    )
    assert returncode == 0, output
    return env_file


@pytest.mark.parametrize(("debug", "line"), [(False, "false"), (True, "true")])
def test_seed_variables_render_to_the_seed_lines(
    ansible: Ansible, tmp_path: Path, debug: bool, line: str
) -> None:
    # given the seed's group variables
    seed = {
        "green_sms_user": "seed_user",
        "green_sms_password": "seed-password",
        "green_sms_debug": debug,
    }

    # when the role renders the .env
    env_file = render(ansible, tmp_path, seed)

    # then it holds the seed's exact lines, readable by its owner only
    lines = env_file.read_text().splitlines()
    assert "GREEN_SMS_USER=seed_user" in lines
    assert "GREEN_SMS_PASSWORD=seed-password" in lines
    assert f"GREEN_SMS_DEBUG={line}" in lines
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    assert env_file.stat().st_uid == os.getuid()


def test_role_defaults_render_every_spec_variable_once(ansible: Ansible, tmp_path: Path) -> None:
    # when the role renders the .env from its defaults alone
    env = read_env_file(render(ansible, tmp_path, {}))

    # then every SPEC §3 variable is there, with SPEC §3's default (both debug modes off:
    # the app refuses debug SMS outside DJANGO_DEBUG)
    assert set(SPEC_VARIABLES) <= set(env)
    assert env["DJANGO_DEBUG"] == "false"
    assert env["GREEN_SMS_DEBUG"] == "false"
    assert env["DJANGO_ALLOWED_HOSTS"] == "localhost,127.0.0.1"
    assert env["CELERY_BROKER_URL"] == env["REDIS_URL"] == "redis://127.0.0.1:6379/0"
    assert env["GREEN_SMS_BASE_URL"] == "https://api3.greensms.ru"
    # nginx on the host is the one proxy, and TLS ends there
    assert env["TRUSTED_PROXIES"] == "127.0.0.1"
    assert env["DJANGO_BEHIND_TLS_PROXY"] == "true"
    assert env["API_MAX_BODY_BYTES"] == "16384"
    assert (
        env["VERIFICATION_CHANNELS"],
        env["VERIFICATION_DEFAULT_CHANNEL"],
        env["VERIFICATION_FALLBACK_CHANNEL"],
    ) == ("sms", "sms", "")
    assert {
        name: env[name]
        for name in (
            "GREEN_SMS_TIMEOUT",
            "GREEN_SMS_LOW_BALANCE",
            "VERIFICATION_CODE_TTL",
            "VERIFICATION_MAX_ATTEMPTS",
            "RATE_LIMIT_SEND_PER_HOUR",
            "RATE_LIMIT_VERIFY_PER_HOUR",
            "RATE_LIMIT_SEND_PER_IP_PER_HOUR",
            "VERIFICATION_RETENTION_DAYS",
            "VERIFICATION_POLL_INTERVAL",
            "VERIFICATION_DISPATCH_AFTER",
            "GREEN_SMS_TEMPLATE_EN",
            "VERIFICATION_TEST_NUMBERS",
            "WEB_CONCURRENCY",
            "VERIFICATION_ALLOWED_COUNTRIES",
            "VERIFICATION_RESEND_COOLDOWN",
            "RATE_LIMIT_SEND_PER_DAY",
            "RATE_LIMIT_VERIFY_PER_IP_PER_HOUR",
            "ABUSE_PROTECTION",
            "ABUSE_ALLOW_IPS",
            "GREEN_SMS_BUDGET_PER_HOUR",
            "GREEN_SMS_PRICE",
            "METRICS_BASIC_AUTH",
        )
    } == {
        "GREEN_SMS_TIMEOUT": "10",
        "GREEN_SMS_LOW_BALANCE": "100",
        "VERIFICATION_CODE_TTL": "300",
        "VERIFICATION_MAX_ATTEMPTS": "5",
        "RATE_LIMIT_SEND_PER_HOUR": "5",
        "RATE_LIMIT_VERIFY_PER_HOUR": "5",
        "RATE_LIMIT_SEND_PER_IP_PER_HOUR": "30",
        "VERIFICATION_RETENTION_DAYS": "30",
        "VERIFICATION_POLL_INTERVAL": "30",
        "VERIFICATION_DISPATCH_AFTER": "30",
        "GREEN_SMS_TEMPLATE_EN": "Your code: {code}",
        "VERIFICATION_TEST_NUMBERS": "",
        "WEB_CONCURRENCY": "4",
        "VERIFICATION_ALLOWED_COUNTRIES": "RU",
        "VERIFICATION_RESEND_COOLDOWN": "60",
        "RATE_LIMIT_SEND_PER_DAY": "10",
        "RATE_LIMIT_VERIFY_PER_IP_PER_HOUR": "60",
        "ABUSE_PROTECTION": "deny",
        "ABUSE_ALLOW_IPS": "",
        "GREEN_SMS_BUDGET_PER_HOUR": "",
        "GREEN_SMS_PRICE": "4",
        "METRICS_BASIC_AUTH": "",
    }


def test_production_group_vars_take_the_secrets_from_the_vault(
    ansible: Ansible, tmp_path: Path
) -> None:
    # given group_vars/production.yml and a vault
    # when the role renders the .env
    env_file = render(
        ansible, tmp_path, VAULT, vars_files=[ANSIBLE_DIR / "group_vars" / "production.yml"]
    )

    # then the secrets come from the vault and the URLs carry the password safely
    env = read_env_file(env_file)
    assert set(SPEC_VARIABLES) <= set(env)
    assert "{{" not in env_file.read_text()
    assert env["DJANGO_DEBUG"] == "false"
    assert env["GREEN_SMS_DEBUG"] == "false"
    assert env["DJANGO_SECRET_KEY"] == VAULT["vault_django_secret_key"]
    assert env["GREEN_SMS_USER"] == "prod_user"
    assert env["GREEN_SMS_PASSWORD"] == VAULT["vault_green_sms_password"]
    assert env["FLOWER_BASIC_AUTH"] == "ops:flower#pw"
    database = urlsplit(env["DATABASE_URL"])
    assert database.scheme == "postgres"
    assert database.hostname == "db.internal.example.com"
    assert database.port == 5432
    assert database.path == "/verification"
    assert unquote(database.password or "") == VAULT["vault_database_password"]
    assert env["REDIS_URL"] == "redis://redis.internal.example.com:6379/0"
    assert env["CELERY_BROKER_URL"] == env["REDIS_URL"]
    key_file = Path(env["VERIFICATION_TOKEN_PRIVATE_KEY_FILE"])
    assert key_file.read_text() == VAULT["vault_verification_token_private_key"]
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert env["VERIFICATION_TOKEN_PRIVATE_KEY"] == ""


def test_retired_token_keys_are_written_and_listed(ansible: Ansible, tmp_path: Path) -> None:
    # given a rotation: a new signing key, the old key's public half still published
    old = Ed25519PrivateKey.generate().public_key()
    old_pem = old.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
    rotation = {**VAULT, "verification_token_public_keys": [old_pem]}

    # when the role renders the .env
    env = read_env_file(
        render(
            ansible, tmp_path, rotation, vars_files=[ANSIBLE_DIR / "group_vars" / "production.yml"]
        )
    )

    # then the app finds the old public key in the file the .env names
    (listed,) = env["VERIFICATION_TOKEN_PUBLIC_KEYS"].split(",")
    assert Path(listed).read_text() == old_pem


def test_the_app_reads_every_value_as_rendered(
    ansible: Ansible, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a .env rendered from production group_vars, with awkward secrets
    env_file = render(
        ansible, tmp_path, VAULT, vars_files=[ANSIBLE_DIR / "group_vars" / "production.yml"]
    )

    # when the app's parser (django-environ, as project/settings.py) reads it
    parsed: dict[str, str] = {}
    monkeypatch.setattr(environ.Env, "ENVIRON", parsed)
    environ.Env.read_env(str(env_file))

    # then it reads exactly what was written
    assert parsed == read_env_file(env_file)


def test_extra_env_is_rendered_sorted(ansible: Ansible, tmp_path: Path) -> None:
    # given settings outside SPEC §3
    extra = {"django_app_extra_env": {"CELERY_TASK_TIME_LIMIT": 30, "B_SETTING": "b"}}

    # when the role renders the .env
    lines = render(ansible, tmp_path, extra).read_text().splitlines()

    # then they follow the SPEC §3 ones
    assert lines[-2:] == ["B_SETTING=b", "CELERY_TASK_TIME_LIMIT=30"]


def test_preflight_accepts_a_valid_configuration(ansible: Ansible, tmp_path: Path) -> None:
    # when the role's checks run on a valid production configuration
    returncode, output, _ = run_role_tasks(ansible, tmp_path, "preflight.yml", VALID)

    # then they pass
    assert returncode == 0, output


@pytest.mark.parametrize(
    ("extra_vars", "groups", "message"),
    [
        pytest.param(
            {"green_sms_password": "back\\slash"},
            None,
            "GREEN_SMS_PASSWORD: a value must not hold a backslash",
            id="backslash",
        ),
        pytest.param(
            {"green_sms_password": " padded"},
            None,
            "GREEN_SMS_PASSWORD: a value must not",
            id="leading-space",
        ),
        pytest.param(
            {"django_secret_key": "$" + "x" * 60},
            None,
            "DJANGO_SECRET_KEY: a value must not",
            id="leading-dollar",
        ),
        pytest.param(
            {"green_sms_password": "CHANGE-ME"},
            None,
            "CHANGE-ME placeholder",
            id="placeholder",
        ),
        pytest.param(
            {"django_secret_key": "short"},
            None,
            "vault_django_secret_key (50+ characters)",
            id="short-secret-key",
        ),
        pytest.param(
            {"verification_token_private_key": "CHANGE-ME"},
            None,
            "Set vault_verification_token_private_key",
            id="no-token-key",
        ),
        pytest.param(
            {"redis_url": "redis://redis.internal.example.com:6379/0"},
            None,
            "Redis must ask for a password",
            id="redis-without-password",
        ),
        pytest.param(
            {"celery_broker_url": "redis://broker.internal.example.com:6379/0"},
            None,
            "Redis must ask for a password",
            id="broker-without-password",
        ),
        pytest.param(
            {"green_sms_debug": True},
            None,
            "green_sms_debug: true writes every code to the logs",
            id="debug-sms-in-production",
        ),
        pytest.param(
            {"flower_basic_auth": ""},
            None,
            "vault_flower_basic_auth ('user:password')",
            id="flower-without-auth",
        ),
        pytest.param(
            {"green_sms_debug": False, "green_sms_user": "", "green_sms_token": ""},
            None,
            "Set the GreenSMS credentials",
            id="real-sms-without-credentials",
        ),
        pytest.param(
            {},
            {"web": ["localhost"], "beat": ["localhost", "beat2.example.com"]},
            "must hold exactly one host, it holds 2",
            id="two-beats",
        ),
    ],
)
def test_preflight_refuses_a_bad_configuration(
    ansible: Ansible,
    tmp_path: Path,
    extra_vars: dict[str, Any],
    groups: dict[str, list[str]] | None,
    message: str,
) -> None:
    # given an otherwise valid production configuration
    # when the role's checks run
    returncode, output, _ = run_role_tasks(
        ansible, tmp_path, "preflight.yml", {**VALID, **extra_vars}, groups=groups
    )

    # then the run stops with a message that says what to fix
    assert returncode != 0
    assert message in " ".join(output.split()), output


def test_every_variable_of_the_spec_is_covered() -> None:
    spec = REPO_ROOT.parent / "shared" / "SPEC.md"
    if not spec.exists():
        pytest.skip(f"{spec} not found (the shared/ folder sits beside the clone)")
    section = spec.read_text().split("## 3.", 1)[1].split("\n## ", 1)[0]
    names = {
        name
        for row in section.splitlines()
        if row.startswith("| `")
        for name in re.findall(r"`([A-Z][A-Z0-9_]+)`", row.split("|")[1])
    }
    assert names, "no variables found in SPEC §3"
    assert names <= set(SPEC_VARIABLES)
