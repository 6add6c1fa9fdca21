"""Running processes for a benchmark: process groups, stopping everything on the way out
(Ctrl-C and SIGTERM included), ports, waiting, CPU and memory of a process tree.

Every process runs in its own process group, so stopping it also ends its children.
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.harness import ROOT, WORK_DIR, log


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


_running: list[Proc] = []


_started = itertools.count(1)


def start(name: str, command: str | Sequence[str], env: dict[str, str]) -> Proc:
    """Start a process in its own process group (so stop() also ends its children)."""
    argv = ["sh", "-c", command] if isinstance(command, str) else list(command)
    env = dict(env)
    cwd = env.pop("_BENCH_CWD", str(ROOT))
    log_path = WORK_DIR / f"{next(_started):02d}-{name}.log"
    with log_path.open("wb") as out:
        popen = subprocess.Popen(
            argv, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    proc = Proc(name, popen, log_path)
    _running.append(proc)
    return proc


def stop(proc: Proc, *, grace: float = 10.0, sig: int = signal.SIGTERM) -> None:
    if proc in _running:
        _running.remove(proc)
    if proc.popen.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)
    try:
        proc.popen.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.popen.wait(timeout=5)
    # Children that left the group's leader behind (gunicorn workers, pool children).
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)


def stop_all() -> None:
    for proc in reversed(list(_running)):
        with contextlib.suppress(Exception):
            stop(proc, grace=5.0)


def _on_signal(signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


@contextlib.contextmanager
def session() -> Iterator[None]:
    """Run a benchmark: everything started inside is stopped on the way out, whatever happens."""
    atexit.register(stop_all)
    previous = {sig: signal.signal(sig, _on_signal) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        stop_all()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if os.environ.get("BENCH_KEEP_LOGS") != "1":
            shutil.rmtree(WORK_DIR, ignore_errors=True)
        else:
            log(f"logs kept in {WORK_DIR}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_port(port: int, proc: Proc, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not proc.alive():
            raise RuntimeError(f"{proc.name} exited early:\n{proc.tail()}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.1)
    raise RuntimeError(f"{proc.name} did not listen on {port} within {timeout} s:\n{proc.tail()}")


def wait_until(condition: Callable[[], Any], timeout: float, interval: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(interval)


def rss_mib(pid: int, field_name: str = "VmRSS") -> float:
    """VmRSS (now) or VmHWM (peak) of one process, in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field_name + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def tree_pids(pid: int) -> list[int]:
    import psutil

    try:
        parent = psutil.Process(pid)
        return [parent.pid, *(child.pid for child in parent.children(recursive=True))]
    except psutil.NoSuchProcess:
        return []


def python_pids(pid: int) -> list[int]:
    """The processes under `pid` except the `sh -c` wrapper: master first, then children."""
    import psutil

    found = []
    for candidate in tree_pids(pid):
        with contextlib.suppress(psutil.NoSuchProcess):
            if psutil.Process(candidate).name() not in {"sh", "dash", "bash"}:
                found.append(candidate)
    return found


def cpu_seconds(pids: Iterable[int]) -> float:
    """User + system CPU consumed so far by these processes."""
    import psutil

    total = 0.0
    for pid in pids:
        with contextlib.suppress(psutil.NoSuchProcess):
            times = psutil.Process(pid).cpu_times()
            total += times.user + times.system
    return total


# Roles of machine_cpu_by_role(): gunicorn (by command line), the two servers, and this
# process's finished children (wrk: it has exited by the time a run is measured).
ROLES = ("gunicorn", "postgres", "redis-server", "wrk")


def machine_cpu_by_role() -> dict[str, float]:
    """CPU seconds used so far by every process of each role on the machine (servers
    included: their work for a request is part of what a request costs)."""
    import resource

    import psutil

    totals = dict.fromkeys(ROLES, 0.0)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    totals["wrk"] = children.ru_utime + children.ru_stime
    for proc in psutil.process_iter(["name", "cmdline", "cpu_times"]):
        times = proc.info["cpu_times"]
        if times is None:
            continue
        name = proc.info["name"] or ""
        command = " ".join(proc.info["cmdline"] or ())
        role = "gunicorn" if "gunicorn" in command else name.split(":")[0]
        if role in totals and role != "wrk":
            totals[role] += times.user + times.system
    return totals
