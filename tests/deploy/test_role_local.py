"""site.yml for real against this machine (connection local), into a temp prefix.

No systemd here: the role runs with django_app_manage_systemd=false, so it writes the unit
files and starts nothing. Everything else is the production path: the code comes from a git
repository (a snapshot of this working tree), the requirements go into a virtualenv, the
.env is rendered from group_vars/production.yml and an encrypted vault, and the app migrates
against the local PostgreSQL, in a database of its own that is dropped afterwards.
"""

from __future__ import annotations

import base64
import contextlib
import grp
import json
import os
import pwd
import re
import shlex
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.deploy.conftest import (
    ANSIBLE_DIR,
    APP_VARS,
    REPO_ROOT,
    Ansible,
    PlaybookRun,
    local_inventory,
    read_env_file,
)

# The role installs requirements.txt into a fresh virtualenv: minutes with a cold pip cache.
pytestmark = [pytest.mark.deploy, pytest.mark.timeout(900)]

# Per run: two runs at once (a developer and CI on one machine) never share a database.
DATABASE_PREFIX = "verification_deploy_test_"
DATABASE = f"{DATABASE_PREFIX}{os.getpid()}"
STALE_DATABASES = (
    "SELECT datname FROM pg_database WHERE starts_with(datname, 'verification_deploy_test_')"
)
PSQL = ["psql", "-h", "127.0.0.1", "-p", "5432", "-U", "postgres", "-v", "ON_ERROR_STOP=1"]
PROCESSES = ("web", "worker", "beat", "flower")
# The worker's unit is a template: the role runs WORKER_PROCESSES instances of it.
UNIT_FILES = {process: f"verification-{process}.service" for process in PROCESSES} | {
    "worker": "verification-worker@.service"
}
WORKER_PROCESSES = 3


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# Ports of this run (free when chosen): gunicorn before and after it moves, Flower, and the
# nginx the role puts in front of them.
WEB_PORT, MOVED_WEB_PORT, FLOWER_PORT, HTTP_PORT, HTTPS_PORT = (free_port() for _ in range(5))
# The Redis database of the caller (CI's, or a developer's own): tasks published through
# the deployed app land there, never in a database someone else is using.
REDIS_DB = int(urlsplit(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")).path[1:] or 0)

VAULT = """\
vault_django_secret_key: deploy-test-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz
vault_database_password: ""
vault_redis_password: ""
vault_green_sms_user: seed_user
vault_green_sms_password: seed-password
vault_green_sms_token: ""
vault_flower_basic_auth: ops:flower-password
vault_verification_token_private_key: |
  -----BEGIN PRIVATE KEY-----
  MC4CAQAwBQYDK2VwBCIEIBuNI0YCTy9JJe4gTqV/aBRE5P5cdb6URXLe2IQzRvZl
  -----END PRIVATE KEY-----
"""
# The RFC 7638 thumbprint (kid) of the test vault's token key.
VAULT_TOKEN_KID = "YgeG2-n2lz_ZAd953SwAblrgjsvlO0o8qJxLBN8yiDc"


@dataclass
class Deployment:
    root: Path
    units: Path
    first: PlaybookRun
    second: PlaybookRun
    web_moved: PlaybookRun
    restart_requested: PlaybookRun

    @property
    def app(self) -> Path:
        return self.root / "app"

    @property
    def venv_python(self) -> Path:
        return self.root / "venv" / "bin" / "python"


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer to check (and would leave loopback), not one to follow."""

    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


_opener = urllib.request.build_opener(_NoRedirects)


def http_get(url: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers=headers or {})  # noqa: S310 (loopback)
    try:
        with _opener.open(request, timeout=15) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        headers_seen = f"Location: {error.headers.get('Location', '')} ".encode()
        return error.code, headers_seen + error.read()


@contextlib.contextmanager
def unit_process(
    deployment: Deployment,
    process: str,
    args: dict[str, str],
    ready: str,
    host: str = "localhost",
    port: int | None = None,
) -> Iterator[int]:
    """Start a unit's ExecStart as systemd would: its directory, the .env as its environment.

    `args` replaces option values (the listening port, paths systemd would create). Yields
    the port (`port`: the one the unit already names) once `ready` answers over HTTP, and
    stops the process afterwards.
    """
    unit = (deployment.units / f"verification-{process}.service").read_text()
    command = shlex.split(next(line for line in unit.splitlines() if line.startswith("ExecStart=")))
    command[0] = command[0].removeprefix("ExecStart=")
    port = port or free_port()
    for option, value in args.items():
        value = value.format(port=port, tmp=deployment.root)
        for i, arg in enumerate(command):
            if arg.startswith(f"{option}="):
                command[i] = f"{option}={value}"
            elif arg == option:
                command[i + 1] = value
    environment = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "HOME": str(deployment.root),
        **read_env_file(deployment.app / ".env"),
    }
    log = deployment.root / f"{process}.log"
    with log.open("wb") as output:
        child = subprocess.Popen(
            command,
            cwd=deployment.app,
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        # Booting imports Django in every worker: slow on a busy 2-core machine.
        deadline = time.monotonic() + 120
        while True:
            with contextlib.suppress(OSError):
                http_get(f"http://127.0.0.1:{port}{ready}", {"Host": host})
                break
            assert child.poll() is None, f"{process} exited:\n{log.read_text()}"
            assert time.monotonic() < deadline, f"{process} never answered:\n{log.read_text()}"
            time.sleep(0.5)
        yield port
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, signal.SIGTERM)
        try:
            child.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()


def psql(*args: str, database: str = "postgres") -> str:
    result = subprocess.run(
        [*PSQL, "-d", database, "-tA", *args], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, f"psql {args}: {result.stderr}"
    return result.stdout.strip()


def snapshot_repository(dest: Path) -> str:
    """Commit this working tree (tracked and new files, not ignored ones) into a new repo."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO_ROOT,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for name in filter(None, (entry.decode() for entry in listed)):
        source = REPO_ROOT / name
        if source.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    git = ["git", "-c", "user.name=deploy-test", "-c", "user.email=deploy-test@localhost"]
    subprocess.run([*git, "init", "-q"], cwd=dest, check=True)
    subprocess.run([*git, "add", "-A"], cwd=dest, check=True)
    subprocess.run(
        [*git, "-c", "commit.gpgsign=false", "commit", "-q", "--no-verify", "-m", "snapshot"],
        cwd=dest,
        check=True,
    )
    return subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=dest, capture_output=True, text=True, check=True
    ).stdout.strip()


@pytest.fixture(scope="module")
def deployment(ansible: Ansible, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    tmp = tmp_path_factory.mktemp("deploy")
    try:
        psql("-c", "select 1")
    except AssertionError as error:
        pytest.fail(f"PostgreSQL at 127.0.0.1:5432 is needed (SPEC §10): {error}")
    # Databases of earlier runs that were killed before they could drop theirs.
    for name in psql("-c", STALE_DATABASES).split():
        pid = name.removeprefix(DATABASE_PREFIX)
        if name == DATABASE or not (pid.isdigit() and Path(f"/proc/{pid}").exists()):
            psql("-c", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    psql("-c", f"CREATE DATABASE {DATABASE}")

    source = tmp / "source"
    source.mkdir()
    commit = snapshot_repository(source)
    (tmp / "vault-password").write_text("deploy-test-vault-password\n")
    (tmp / "vault.yml").write_text(VAULT)
    subprocess.run(
        [
            str(ansible.bin / "ansible-vault"),
            "encrypt",
            "--vault-password-file",
            str(tmp / "vault-password"),
            str(tmp / "vault.yml"),
        ],
        env=ansible.env(),
        capture_output=True,
        check=True,
    )
    root = tmp / "srv" / "verification"
    units = tmp / "etc" / "systemd" / "system"
    inventory = local_inventory(tmp / "inventory", ansible.python)
    extra_vars = {
        "vault_file": str(tmp / "vault.yml"),
        # This machine has no systemd, and the test needs neither root nor a service user.
        "ansible_become": False,
        "django_app_manage_systemd": False,
        "django_app_install_packages": False,
        "django_app_create_user": False,
        "django_app_user": pwd.getpwuid(os.getuid()).pw_name,
        "django_app_group": grp.getgrgid(os.getgid()).gr_name,
        "django_app_root": str(root),
        "django_app_systemd_dir": str(units),
        "django_app_python": getattr(sys, "_base_executable", sys.executable),
        "django_app_git_repo": str(source),
        "django_app_git_version": commit,
        # The local services, in place of the production addresses of group_vars.
        "database_host": "127.0.0.1",
        "database_user": "postgres",
        "database_name": DATABASE,
        "redis_host": "127.0.0.1",
        "redis_db": REDIS_DB,
        # The local Redis has no password; a real host's must (the role checks).
        "django_app_redis_auth_required": False,
        "django_app_web_bind": f"127.0.0.1:{WEB_PORT}",
        "django_app_flower_port": FLOWER_PORT,
        # nginx: its site file here, a self-signed pair, ports a user may open, no IPv6.
        "django_app_nginx_conf_dir": str(tmp / "etc" / "nginx" / "conf.d"),
        "django_app_tls_self_signed": True,
        "django_app_tls_certificate": str(tmp / "tls" / "fullchain.pem"),
        "django_app_tls_certificate_key": str(tmp / "tls" / "privkey.pem"),
        "django_app_nginx_http_port": HTTP_PORT,
        "django_app_nginx_https_port": HTTPS_PORT,
        "django_app_nginx_ipv6": False,
        "django_app_admin_allow": ["10.0.0.0/8"],
        "worker_processes": WORKER_PROCESSES,
    }
    vault = ("--vault-password-file", str(tmp / "vault-password"))

    def deploy(**overrides: object) -> PlaybookRun:
        return ansible.playbook(
            ANSIBLE_DIR / "site.yml",
            inventory,
            {**extra_vars, **overrides},
            *vault,
            tmp_path=tmp,
        )

    # A host upgraded from the releases that ran one worker process from a plain unit.
    units.mkdir(parents=True)
    (units / "verification-worker.service").write_text("[Service]\nExecStart=/bin/true\n")
    try:
        first = deploy()
        assert first.returncode == 0, first.errors()
        second = deploy()
        moved = f"127.0.0.1:{MOVED_WEB_PORT}"
        web_moved = deploy(django_app_web_bind=moved)
        restart_requested = deploy(django_app_web_bind=moved, django_app_restart=True)
        yield Deployment(root, units, first, second, web_moved, restart_requested)
    finally:
        psql("-c", f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")


def test_first_run_deploys(deployment: Deployment) -> None:
    recap = deployment.first.recap()
    assert recap["failed"] == 0
    assert recap["changed"] > 0


def test_the_app_is_installed_into_its_virtualenv(deployment: Deployment) -> None:
    # when the deployed virtualenv imports the entry points of every process
    result = subprocess.run(
        [
            str(deployment.venv_python),
            "-c",
            "import django, celery, django_celery_beat, flower, gunicorn, project.wsgi",
        ],
        cwd=deployment.app,
        capture_output=True,
        text=True,
        check=False,
    )

    # then they are all there, with the app's code checked out beside them
    assert result.returncode == 0, result.stderr
    assert (deployment.app / "manage.py").is_file()
    assert (deployment.app / "staticfiles" / "admin").is_dir()


def test_migrations_are_applied_to_the_database(deployment: Deployment) -> None:
    # then the database has Django's, django-celery-beat's and the app's migrations
    applied = psql("-c", "SELECT DISTINCT app FROM django_migrations", database=DATABASE)
    assert {"auth", "django_celery_beat", "verification"} <= set(applied.split())
    # As the deployed app sees it: its .env, not this process's DATABASE_URL and friends.
    plan = subprocess.run(
        [str(deployment.venv_python), "manage.py", "showmigrations", "--plan"],
        cwd=deployment.app,
        env={name: value for name, value in os.environ.items() if not name.startswith(APP_VARS)},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "[ ]" not in plan


def test_env_file_is_rendered_for_the_service_user_only(deployment: Deployment) -> None:
    env_file = deployment.app / ".env"
    mode = env_file.stat()
    assert stat.S_IMODE(mode.st_mode) == 0o600
    assert mode.st_uid == os.getuid()
    env = read_env_file(env_file)
    assert env["DATABASE_URL"] == f"postgres://postgres:@127.0.0.1:5432/{DATABASE}"
    assert env["REDIS_URL"] == f"redis://127.0.0.1:6379/{REDIS_DB}"
    assert env["GREEN_SMS_USER"] == "seed_user"
    assert env["GREEN_SMS_PASSWORD"] == "seed-password"
    assert env["GREEN_SMS_DEBUG"] == "false"
    assert env["DJANGO_DEBUG"] == "false"
    assert env["FLOWER_BASIC_AUTH"] == "ops:flower-password"


def test_unit_files_are_rendered_for_every_process(deployment: Deployment) -> None:
    venv_bin = deployment.root / "venv" / "bin"
    units = {p: (deployment.units / UNIT_FILES[p]).read_text() for p in PROCESSES}
    for process, text in units.items():
        assert f"EnvironmentFile={deployment.app}/.env" in text, process
        assert f"WorkingDirectory={deployment.app}" in text, process
        assert f"User={pwd.getpwuid(os.getuid()).pw_name}" in text, process
        assert "WantedBy=multi-user.target" in text, process
    assert f"ExecStart={venv_bin}/gunicorn project.wsgi:application --workers 4" in units["web"]
    assert (
        f"ExecStart={venv_bin}/celery -A project worker --pool threads --concurrency 64 "
        "--queues sms,status,maintenance" in units["worker"]
    )
    # Each instance is its own Celery node: worker1@host, worker2@host, ...
    assert "--hostname worker%i@%%h" in units["worker"]
    assert "--scheduler django_celery_beat.schedulers:DatabaseScheduler" in units["beat"]
    assert (
        f"flower --conf=flowerconfig.py --address=127.0.0.1 --port={FLOWER_PORT} "
        "--url_prefix=flower" in units["flower"]
    )
    assert "flower-password" not in units["flower"]


def test_worker_hosts_run_one_instance_per_process(deployment: Deployment) -> None:
    # then the instances @1..@WORKER_PROCESSES are the ones started (skipped: no systemd here)
    started = re.findall(r"\(item=(verification-worker@\d+\.service)\)", deployment.first.output)
    expected = [f"verification-worker@{n}.service" for n in range(1, WORKER_PROCESSES + 1)]
    assert sorted(set(started)) == expected
    # and the single worker unit of earlier releases is gone
    assert not (deployment.units / "verification-worker.service").exists()


def test_second_run_changes_nothing(deployment: Deployment) -> None:
    recap = deployment.second.recap()
    assert recap["failed"] == 0
    assert recap["changed"] == 0, deployment.second.output[-6000:]
    assert deployment.second.handlers() == []


def test_a_changed_unit_restarts_only_its_process(deployment: Deployment) -> None:
    # given a deployed host, when only the web process's bind address changes
    run = deployment.web_moved

    # then only the web unit is rewritten, and only web restarts (after a systemd reload);
    # nginx follows it to its new address
    assert run.recap()["failed"] == 0
    assert run.recap()["changed"] == 2, run.output[-6000:]
    assert run.handlers() == ["Reload systemd", "Restart web", "Reload nginx"]
    web = (deployment.units / "verification-web.service").read_text()
    assert f"--bind 127.0.0.1:{MOVED_WEB_PORT}" in web
    site = deployment.root.parents[1] / "etc" / "nginx" / "conf.d" / "verification.conf"
    assert f"server 127.0.0.1:{MOVED_WEB_PORT};" in site.read_text()


def test_a_requested_restart_restarts_every_process(deployment: Deployment) -> None:
    # given a deployed host, when the operator asks for a restart and nothing else changed
    run = deployment.restart_requested

    # then every process restarts, and nothing else happens
    assert run.recap()["failed"] == 0
    assert run.recap()["changed"] == 1, run.output[-6000:]
    assert run.handlers() == [f"Restart {process}" for process in PROCESSES]


def test_unit_files_pass_systemd_verification(deployment: Deployment) -> None:
    if not shutil.which("systemd-analyze"):
        pytest.skip("systemd-analyze is not installed")
    for process in PROCESSES:
        unit = deployment.units / UNIT_FILES[process]
        result = subprocess.run(
            ["systemd-analyze", "verify", "--man=no", str(unit)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        assert unit.name not in result.stderr, result.stderr


def test_web_unit_serves_the_app(deployment: Deployment) -> None:
    # given the web unit's command, with the control socket systemd's RuntimeDirectory holds
    args = {"--bind": "127.0.0.1:{port}", "--control-socket": "{tmp}/gunicorn.ctl"}

    # when it runs, then the deployed app answers its health check
    with unit_process(deployment, "web", args, "/health/", "verify.example.com") as port:
        status, body = http_get(f"http://127.0.0.1:{port}/health/", {"Host": "verify.example.com"})
        # as nginx (a trusted proxy) asks: anything but host probes is https-only
        jwks_status, jwks = http_get(
            f"http://127.0.0.1:{port}/.well-known/jwks.json",
            {"Host": "verify.example.com", "X-Forwarded-Proto": "https"},
        )
    assert status == 200, body
    assert json.loads(body)["database"] == "ok"
    # and publishes the vault's token key
    assert jwks_status == 200, jwks
    assert [key["kid"] for key in json.loads(jwks)["keys"]] == [VAULT_TOKEN_KID]


def test_flower_unit_requires_the_vault_basic_auth(deployment: Deployment) -> None:
    credentials = base64.b64encode(b"ops:flower-password").decode()

    with unit_process(deployment, "flower", {"--port": "{port}"}, "/flower/healthcheck") as port:
        anonymous, _ = http_get(f"http://127.0.0.1:{port}/flower/")
        authenticated, _ = http_get(
            f"http://127.0.0.1:{port}/flower/", {"Authorization": f"Basic {credentials}"}
        )
        health, _ = http_get(f"http://127.0.0.1:{port}/flower/healthcheck")

    assert anonymous == 401
    assert authenticated == 200
    # Unauthenticated by Flower's design (README, Deploy).
    assert health == 200


NGINX_MAIN = """\
{user}
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log;
events {{ worker_connections 64; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log {tmp}/nginx-access.log;
    client_body_temp_path {tmp}/nginx-temp/body;
    proxy_temp_path {tmp}/nginx-temp/proxy;
    fastcgi_temp_path {tmp}/nginx-temp/fastcgi;
    uwsgi_temp_path {tmp}/nginx-temp/uwsgi;
    scgi_temp_path {tmp}/nginx-temp/scgi;
    include {site};
}}
"""


@contextlib.contextmanager
def nginx(deployment: Deployment) -> Iterator[None]:
    """The system's nginx binary with the site file the role rendered, as this user."""
    tmp = deployment.root.parents[1]
    (tmp / "nginx-temp").mkdir(exist_ok=True)
    main = tmp / "nginx.conf"
    main.write_text(
        NGINX_MAIN.format(
            # As root, nginx's workers would drop to `nobody`, who cannot read a temp dir.
            user=f"user {pwd.getpwuid(os.getuid()).pw_name};" if os.getuid() == 0 else "",
            tmp=tmp,
            site=tmp / "etc" / "nginx" / "conf.d" / "verification.conf",
        )
    )
    nginx_bin = shutil.which("nginx") or "/usr/sbin/nginx"
    checked = subprocess.run(
        [nginx_bin, "-t", "-c", str(main), "-p", str(tmp)], capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stderr
    child = subprocess.Popen(
        [nginx_bin, "-c", str(main), "-p", str(tmp), "-g", "daemon off;"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(OSError):
                socket.create_connection(("127.0.0.1", HTTPS_PORT), timeout=1).close()
                break
            assert child.poll() is None, (tmp / "nginx-error.log").read_text()
            assert time.monotonic() < deadline, "nginx never listened"
            time.sleep(0.2)
        yield
    finally:
        child.terminate()
        child.wait(timeout=30)


def curl(deployment: Deployment, path: str, *args: str, https: bool = True) -> tuple[int, str]:
    """curl from 127.0.0.2 (so nginx's view of the client differs from its own address),
    verifying the role's self-signed certificate for the production host name."""
    host = "verify.example.com"
    port = HTTPS_PORT if https else HTTP_PORT
    result = subprocess.run(
        [
            "curl", "-sS", "-o", "-", "-w", "\n%{http_code}", "--max-time", "30",
            "--interface", "127.0.0.2",
            "--cacert", str(deployment.root.parents[1] / "tls" / "fullchain.pem"),
            "--resolve", f"{host}:{port}:127.0.0.1",
            *args,
            f"{'https' if https else 'http'}://{host}:{port}{path}",
        ],
        capture_output=True,
        text=True,
        check=True,
    )  # fmt: skip
    body, _, status = result.stdout.rpartition("\n")
    return int(status), body


def test_nginx_serves_the_deployed_app_over_https(deployment: Deployment) -> None:
    if not shutil.which("nginx") and not Path("/usr/sbin/nginx").exists():
        pytest.fail("nginx is not installed (.ci/run installs it)")
    web_args = {"--control-socket": "{tmp}/gunicorn.ctl"}
    credentials = "ops:flower-password"
    with (
        unit_process(deployment, "web", web_args, "/health/", "verify.example.com", MOVED_WEB_PORT),
        unit_process(deployment, "flower", {}, "/flower/healthcheck", port=FLOWER_PORT),
        nginx(deployment),
    ):
        # when: a client asks for a code over HTTPS, claiming another address in its headers
        status, body = curl(
            deployment,
            "/api/auth/send-code/",
            "-H", "Content-Type: application/json",
            "-H", "X-Forwarded-For: 203.0.113.66",
            "-d", '{"phone": "+79991234567"}',
        )  # fmt: skip

        # then: 202, and the row records the address nginx saw, not the claimed one
        assert status == 202, body
        verification_id = uuid.UUID(json.loads(body)["verification_id"])
        table = "verification_smsverification"
        query = f"SELECT client_ip FROM {table} WHERE id = '{verification_id}'"  # noqa: S608 - a UUID
        recorded = psql("-c", query, database=DATABASE)
        assert recorded == "127.0.0.2"

        # and: plain http is sent to https; /static/ comes from disk; big bodies stop at
        # nginx as JSON; the admin is closed outside its CIDR; Flower lives under /flower/
        redirect, _ = curl(deployment, "/health/", "-o", "/dev/null", https=False)
        assert redirect == 301
        static, css = curl(deployment, "/static/admin/css/base.css")
        assert static == 200
        assert css == (deployment.app / "staticfiles" / "admin" / "css" / "base.css").read_text()
        too_large, answer = curl(
            deployment,
            "/api/auth/send-code/",
            "-H", "Content-Type: application/json",
            "--data-binary", "x" * 20000,
        )  # fmt: skip
        assert (too_large, json.loads(answer)["code"]) == (413, "payload_too_large")
        admin, _ = curl(deployment, "/admin/login/")
        assert admin == 403
        flower_anonymous, _ = curl(deployment, "/flower/")
        flower_authenticated, _ = curl(deployment, "/flower/", "-u", credentials)
        assert (flower_anonymous, flower_authenticated) == (401, 200)
