"""Load generation: wrk (installed when missing), its Lua scripts, and its output parsed."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.harness import WORK_DIR, WRK_SECONDS, log


def ensure_wrk() -> str:
    """wrk from Debian's packages; installed with apt-get when missing (root)."""
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        log("wrk is missing: apt-get install -y wrk")
        subprocess.run(["apt-get", "update", "-qq"], check=False, capture_output=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=False, capture_output=True)
        found = shutil.which("wrk")
        if found:
            return found
    raise RuntimeError("wrk is required: apt-get install wrk (Debian/Ubuntu) or build it")


@dataclass
class WrkResult:
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int  # socket errors (connect, read, write, timeout) + non-2xx/3xx answers
    non2xx: int
    raw: str = field(repr=False, default="")


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if not match:
        return float("nan")
    return float(match.group(1)) * _UNITS[match.group(2)]


def parse_wrk(output: str) -> WrkResult:
    def number(pattern: str, default: float = 0.0) -> float:
        match = re.search(pattern, output)
        return float(match.group(1)) if match else default

    percentiles = dict(re.findall(r"^\s+(\d+)%\s+(\S+)\s*$", output, re.MULTILINE))
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    non2xx = int(number(r"Non-2xx or 3xx responses: (\d+)"))
    errors = non2xx + (sum(int(g) for g in socket_errors.groups()) if socket_errors else 0)
    return WrkResult(
        rps=number(r"Requests/sec:\s+([\d.]+)"),
        p50_ms=_ms(percentiles.get("50", "")),
        p99_ms=_ms(percentiles.get("99", "")),
        requests=int(number(r"(\d+) requests in")),
        errors=errors,
        non2xx=non2xx,
        raw=output,
    )


def run_wrk(
    url: str,
    *,
    script: Path,
    connections: int,
    seconds: int = WRK_SECONDS,
    threads: int = 2,
    timeout_s: int = 10,
    script_args: Sequence[str] = (),
) -> WrkResult:
    base = "/".join(url.split("/")[:3])
    wait_idle(base)
    argv = [
        ensure_wrk(), f"-t{min(threads, connections)}", f"-c{connections}", f"-d{seconds}s",
        f"--timeout={timeout_s}s", "--latency", "-s", str(script), url,
    ]  # fmt: skip
    if script_args:
        argv += ["--", *script_args]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed: {done.stderr or done.stdout}")
    return parse_wrk(done.stdout)


def wait_idle(base_url: str, timeout: float = 90.0) -> None:
    """Wait until gunicorn has worked off requests a finished wrk left in its backlog
    (closed connections are still accepted and served), so they never leak into the next run."""
    deadline = time.monotonic() + timeout
    fast = 0
    while time.monotonic() < deadline and fast < 3:
        started = time.monotonic()
        request = urllib.request.Request(  # noqa: S310 - loopback http only
            base_url + "/bench/bare/",
            data=b'{"phone": "+79990000000"}',
            headers={"Content-Type": "application/json"},
        )
        with contextlib.suppress(OSError):
            urllib.request.urlopen(request, timeout=timeout).read()  # noqa: S310 - loopback
        fast = fast + 1 if time.monotonic() - started < 0.05 else 0


def lua_script(name: str, body: str) -> Path:
    path = WORK_DIR / f"{name}.lua"
    path.write_text(body)
    return path


# Fresh random +7999XXXXXXX phones, seeded per wrk thread so threads do not repeat each other.
LUA_RANDOM_PHONE = """
local counter = 0
function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
end
function init(args)
  math.randomseed(os.time() * 1000 + tid * 7919 + math.floor(os.clock() * 1000000))
end
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
request = function()
  local body = string.format('{"phone": "+7999%07d"}', math.random(0, 9999999))
  return wrk.format(nil, nil, nil, body)
end
"""
