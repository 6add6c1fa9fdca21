"""`manage.py check --deploy` is clean with the settings the role renders for production."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.deploy.conftest import ANSIBLE_DIR, APP_VARS, REPO_ROOT, Ansible, read_env_file
from tests.deploy.test_env_template import VAULT, render

pytestmark = pytest.mark.deploy


def test_check_deploy_is_clean_with_the_production_group_vars(ansible: Ansible, tmp_path: Path):
    # given: the .env the role renders from group_vars/production.yml and a vault
    env_file = render(
        ansible, tmp_path, VAULT, vars_files=[ANSIBLE_DIR / "group_vars" / "production.yml"]
    )
    app_env = read_env_file(env_file)
    assert app_env["DJANGO_BEHIND_TLS_PROXY"] == "true"

    # when: Django's deployment checks run with exactly that environment
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(APP_VARS)}
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=REPO_ROOT,
        env={**inherited, **app_env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    # then: not one warning
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout
