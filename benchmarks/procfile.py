"""The service's own processes as the Procfile runs them (web, worker), and the sandbox."""

from __future__ import annotations

import json
import os
import re
import urllib.request
from dataclasses import dataclass
from typing import Any

from benchmarks.harness import PYTHON, ROOT, SANDBOX_PASSWORD, SANDBOX_USER, WORK_DIR, bench_env
from benchmarks.processes import Proc, free_port, start, wait_port


def procfile_line(name: str) -> str:
    for line in (ROOT / "Procfile").read_text().splitlines():
        key, sep, command = line.partition(":")
        if sep and key.strip() == name:
            return command.strip()
    raise KeyError(f"no `{name}` line in the Procfile")


def start_web(port: int, *, workers: int = 4, name: str = "web", **env: str) -> Proc:
    """The Procfile's `web` line as shipped (access log and all), on `port`."""
    # gunicorn >= 25 opens a control socket at ~/.gunicorn/gunicorn.ctl by default: give ours
    # a private path so it never replaces the socket of another gunicorn on this machine.
    command = f"{procfile_line('web')} --control-socket {WORK_DIR}/gunicorn-{port}.ctl"
    proc = start(
        name,
        command,
        bench_env(WEB_CONCURRENCY=str(workers), WEB_PORT=str(port), HOST="127.0.0.1", **env),
    )
    wait_port(port, proc, timeout=60)
    return proc


def worker_command(pool: str | None = None, concurrency: int | None = None) -> str:
    """The Procfile's `worker` line; with `pool`, the same line on another pool."""
    command = procfile_line("worker")
    if pool is not None:
        command, count = re.subn(r"--pool[ =]\S+", f"--pool {pool}", command)
        if not count:
            command += f" --pool {pool}"
    if concurrency is not None:
        command = re.sub(r"--concurrency[ =]\S+", f"--concurrency {concurrency}", command)
    return command


def celery_overrides(**values: Any) -> dict[str, str]:
    """Env for a process whose `celeryconfig` is the project's with `values` changed.

    A what-if for the tables only: a shim `celeryconfig` module loads the real file and
    overrides a few keys, so nothing in the project changes. The process runs in the shim's
    directory, because `celery` puts its working directory first on sys.path.
    """
    key = "-".join(f"{k}={v}" for k, v in sorted(values.items()))
    shim = WORK_DIR / f"celeryconfig-{abs(hash(key))}"
    shim.mkdir(exist_ok=True)
    real = str(ROOT / "celeryconfig.py")
    (shim / "celeryconfig.py").write_text(
        "import importlib.util\n"
        f"_spec = importlib.util.spec_from_file_location('_celeryconfig', {real!r})\n"
        "_real = importlib.util.module_from_spec(_spec)\n"
        "_spec.loader.exec_module(_real)\n"
        "globals().update({k: v for k, v in vars(_real).items() if not k.startswith('__')})\n"
        + "".join(f"{name} = {value!r}\n" for name, value in values.items())
    )
    return {"PYTHONPATH": f"{shim}{os.pathsep}{ROOT}", "_BENCH_CWD": str(shim)}


def shipped_worker_concurrency() -> int:
    match = re.search(r"WORKER_CONCURRENCY:-(\d+)", procfile_line("worker"))
    return int(match.group(1)) if match else 0


def start_worker(
    sandbox_url: str,
    *,
    pool: str | None = None,
    concurrency: int | None = None,
    node: str | None = None,
    **env: str,
) -> Proc:
    """The Procfile's worker line (see worker_command); `node` names a second instance."""
    command = worker_command(pool, concurrency)
    if node:
        command += f" --hostname {node}@%h"
    return start("worker", command, bench_env(GREEN_SMS_BASE_URL=sandbox_url, **env))


@dataclass
class Sandbox:
    proc: Proc
    url: str

    def _call(self, path: str, payload: dict[str, Any] | None = None) -> Any:
        data = None if payload is None else json.dumps(payload).encode()
        method = "POST" if data else "GET"
        request = urllib.request.Request(self.url + path, data=data, method=method)  # noqa: S310
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 - loopback
            return json.loads(response.read())

    def stats(self) -> dict[str, int]:
        return self._call("/_sandbox/stats")  # type: ignore[no-any-return]

    def messages(self) -> list[dict[str, Any]]:
        return self._call("/_sandbox/messages")  # type: ignore[no-any-return]

    def configure(self, **changes: Any) -> dict[str, Any]:
        return self._call("/_sandbox/config", changes)  # type: ignore[no-any-return]

    def reset(self) -> None:
        self._call("/_sandbox/reset", {})


def start_sandbox(*, latency_ms: int = 0, delivery_delay: float = 1.0) -> Sandbox:
    """`manage.py greensms_sandbox`, as tests and local runs use it, with a large balance."""
    port = free_port()
    command = [
        PYTHON, "manage.py", "greensms_sandbox", "--port", str(port),
        "--latency-ms", str(latency_ms), "--delivery-delay", str(delivery_delay),
        "--balance", "1000000000", "--user", SANDBOX_USER, "--password", SANDBOX_PASSWORD,
    ]  # fmt: skip
    proc = start("sandbox", command, bench_env(LOG_LEVEL="WARNING"))
    wait_port(port, proc)
    return Sandbox(proc, f"http://127.0.0.1:{port}")


def point_gateway_at(sandbox_url: str) -> None:
    """This process's gateway talks to `sandbox_url` (the next get_gateway() rebuilds it)."""
    from django.conf import settings

    settings.GREEN_SMS_BASE_URL = sandbox_url
