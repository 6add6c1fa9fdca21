"""Runs the Ansible deployment (deploy/ansible) for real, on this machine, into temp dirs.

Ansible lives in its own virtualenv (deploy/requirements.txt), made by deploy/check.sh:
these tests call its binaries by path. `bash deploy/check.sh` is the way to run them.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
ANSIBLE_DIR = REPO_ROOT / "deploy" / "ansible"
ROLE_DIR = ANSIBLE_DIR / "roles" / "django_app"
DEPLOY_VENV = Path(os.environ.get("DEPLOY_VENV", REPO_ROOT / "deploy" / ".venv"))

_RECAP = re.compile(
    r"^(?P<host>\S+)\s+:\s+ok=(?P<ok>\d+)\s+changed=(?P<changed>\d+)\s+"
    r"unreachable=(?P<unreachable>\d+)\s+failed=(?P<failed>\d+)",
    re.MULTILINE,
)
_HANDLER = re.compile(r"^RUNNING HANDLER \[(?:django_app : )?(?P<name>[^\]]+)\]", re.MULTILINE)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "deploy: runs the Ansible deployment for real (bash deploy/check.sh)"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Run only when asked for (`-m deploy`): deploy/check.sh runs them, the suite does not."""
    if "deploy" in (config.option.markexpr or ""):
        return
    skip = pytest.mark.skip(reason="deployment tests: bash deploy/check.sh (pytest -m deploy)")
    for item in items:
        if item.path.is_relative_to(Path(__file__).parent):
            item.add_marker(skip)


@dataclass
class PlaybookRun:
    returncode: int
    output: str

    def recap(self, host: str = "localhost") -> dict[str, int]:
        for match in _RECAP.finditer(self.output):
            if match.group("host") == host:
                return {k: int(v) for k, v in match.groupdict().items() if k != "host"}
        raise AssertionError(f"no PLAY RECAP line for {host}:\n{self.output}")

    def errors(self) -> str:
        """The failed tasks' reports, for assertion messages (the whole log is long)."""
        lines = self.output.splitlines()
        starts = [i for i, line in enumerate(lines) if line.startswith(("fatal:", "[ERROR]"))]
        return "\n".join(lines[starts[0] - 2 :]) if starts else self.output[-4000:]

    def handlers(self) -> list[str]:
        """Names of the handlers that ran (or were skipped without systemd)."""
        return _HANDLER.findall(self.output)


APP_VARS = (
    "DJANGO_", "DATABASE_URL", "REDIS_URL", "CELERY_", "GREEN_SMS_", "VERIFICATION_",
    "RATE_LIMIT_", "TRUSTED_PROXIES", "WEB_CONCURRENCY", "WORKER_CONCURRENCY",
    "FLOWER_BASIC_AUTH", "LOG_LEVEL",
)  # fmt: skip


class Ansible:
    """ansible-playbook from the deploy virtualenv, with plain, parseable output."""

    def __init__(self, venv: Path) -> None:
        self.bin = venv / "bin"
        self.python = self.bin / "python"

    def env(self) -> dict[str, str]:
        # The app reads the environment before its .env file: variables of the caller's (CI
        # exports DATABASE_URL) must not leak into the deployed app's manage.py runs, as they
        # would not on a real host.
        inherited = {
            name: value for name, value in os.environ.items() if not name.startswith(APP_VARS)
        }
        return {
            **inherited,
            "PATH": f"{self.bin}{os.pathsep}{os.environ.get('PATH', '')}",
            "ANSIBLE_CONFIG": str(ANSIBLE_DIR / "ansible.cfg"),
            "ANSIBLE_ROLES_PATH": str(ANSIBLE_DIR / "roles"),
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_STDOUT_CALLBACK": "default",
            "ANSIBLE_DISPLAY_SKIPPED_HOSTS": "true",
            "ANSIBLE_RETRY_FILES_ENABLED": "false",
        }

    def playbook(
        self,
        playbook: Path,
        inventory: Path,
        extra_vars: dict[str, Any],
        *args: str,
        tmp_path: Path,
    ) -> PlaybookRun:
        vars_file = tmp_path / f"extra-vars-{os.urandom(4).hex()}.json"
        vars_file.write_text(json.dumps(extra_vars))
        result = subprocess.run(
            [
                str(self.bin / "ansible-playbook"),
                "-i",
                str(inventory),
                str(playbook),
                "-e",
                f"@{vars_file}",
                *args,
            ],
            cwd=ANSIBLE_DIR,
            env=self.env(),
            capture_output=True,
            text=True,
            check=False,
        )
        return PlaybookRun(result.returncode, result.stdout + result.stderr)


@pytest.fixture(scope="session")
def ansible() -> Ansible:
    if not (DEPLOY_VENV / "bin" / "ansible-playbook").exists():
        pytest.skip(f"no Ansible in {DEPLOY_VENV}: run `bash deploy/check.sh`")
    return Ansible(DEPLOY_VENV)


def local_inventory(path: Path, python: Path, groups: dict[str, list[str]] | None = None) -> Path:
    """An inventory of this machine (connection local) in every process group."""
    groups = groups or {g: ["localhost"] for g in ("web", "worker", "beat", "flower")}
    lines: list[str] = []
    for group, hosts in groups.items():
        lines += [f"[{group}]", *hosts, ""]
    lines += ["[production:children]", *groups, ""]
    lines += [
        "[all:vars]",
        "ansible_connection=local",
        f"ansible_python_interpreter={python}",
        "",
    ]
    path.write_text("\n".join(lines))
    return path


def read_env_file(path: Path) -> dict[str, str]:
    """NAME=value lines of a rendered .env, comments and blank lines left out."""
    pairs = {}
    for line in path.read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            assert name not in pairs, f"{name} set twice"
            pairs[name] = value
    return pairs
