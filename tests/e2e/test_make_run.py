"""`make run` as the README tells a new user to try it: the README's own curl lines, on the
README's ports (web :8000, Flower :5555), against the processes `make run` starts."""

from __future__ import annotations

import fcntl
import json
import os
import re
import signal
import socket
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
# Other runs on this machine may want 8000 and 5555 too: hold the shared lock meanwhile.
FIXED_PORTS_LOCK = "/tmp/fixedports.lock"  # noqa: S108 - the machine's agreed lock file
PHONE = "+79991234567"  # the README's


def readme_curl_lines() -> list[str]:
    """The shell block after "Try it:", continuation lines joined, comments dropped."""
    text = (ROOT / "README.md").read_text()
    block = text.split("Try it:", 1)[1].split("```sh\n", 1)[1].split("```", 1)[0]
    joined = re.sub(r"\\\n\s*", "", block)
    return [line.split("  #")[0].strip() for line in joined.splitlines() if line[:4] == "curl"]


class MakeRun:
    """`make run` in its own process group, its output collected line by line."""

    def __init__(self, env: dict[str, str]) -> None:
        self.lines: list[str] = []
        self.proc = subprocess.Popen(
            ["make", "run"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        threading.Thread(target=self._collect, daemon=True).start()

    def _collect(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_for_line(self, pattern: str, timeout: float) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.lines):
                match = re.search(pattern, line)
                if match:
                    return match
            time.sleep(0.1)
        raise AssertionError(f"no line matching {pattern!r}:\n" + "\n".join(self.lines[-40:]))

    def stop(self) -> None:
        # honcho stops every process it started on SIGTERM; the group catches stragglers.
        pgid = os.getpgid(self.proc.pid)
        os.killpg(pgid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(pgid, signal.SIGKILL)
            self.proc.wait(timeout=10)


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback
            return bool(response.status)
    except urllib.error.HTTPError:
        return True  # Flower asks for a password or says not found: it is there
    except OSError:
        return False


def wait_until(condition, timeout: float, what: str, run: MakeRun) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline or run.proc.poll() is not None:
            raise AssertionError(f"{what} not up:\n" + "\n".join(run.lines[-40:]))
        time.sleep(0.5)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def make_run(tmp_path: Path) -> Iterator[MakeRun]:
    # A fresh SQLite database (make run's default) and a Redis URL nobody answers, so make run
    # starts its bundled Redis: its queues are its own (a test worker on the suite's Redis
    # would take its messages). Nothing else from the caller's environment, so make run's
    # own defaults (debug mode, its ports) are what is tested.
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "GREEN_SMS_", "FLOWER_", "WEB_", "CELERY_"))
        and key not in {"DATABASE_URL", "REDIS_URL", "PORT", "HOST"}
        # An enclosing `make test BROKER=rabbitmq` exports its variables to the suite.
        and key not in {"BROKER", "RABBITMQ_URL", "MAKEFLAGS", "MFLAGS", "MAKEOVERRIDES"}
        and key != "MAKELEVEL"
    }
    env.update(
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        REDIS_URL=f"redis://127.0.0.1:{free_port()}/0",
        WEB_CONCURRENCY="1",
        WORKER_CONCURRENCY="4",
        WORKER_PROCESSES="2",
    )
    with open(FIXED_PORTS_LOCK, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        run = MakeRun(env)
        try:
            yield run
        finally:
            run.stop()


def test_the_readme_curl_lines_work_against_make_run(make_run):
    # given: make run's processes, up on the README's ports
    wait_until(lambda: answers("http://localhost:8000/health/"), 120, "web :8000", make_run)
    wait_until(lambda: answers("http://localhost:5555/"), 60, "Flower :5555", make_run)
    # (WORKER_PROCESSES worker processes, each its own Celery node)
    make_run.wait_for_line(r"worker\.1 .*worker\.1@\S+ ready", timeout=60)
    make_run.wait_for_line(r"worker\.2 .*worker\.2@\S+ ready", timeout=60)
    send, verify, detail, health = readme_curl_lines()

    # when: the README's send-code line
    sent = subprocess.run(["bash", "-c", send], capture_output=True, text=True, check=True)

    # then: 202 with a Location, and the worker logs the code in debug SMS mode
    head, _, body = sent.stdout.replace("\r\n", "\n").partition("\n\n")
    assert head.startswith("HTTP/1.1 202"), sent.stdout
    verification_id = json.loads(body)["verification_id"]
    assert f"Location: /api/auth/verifications/{verification_id}/" in head
    code = make_run.wait_for_line(rf"DEBUG SMS: \{PHONE} - Ваш код: (\d{{6}})", 30).group(1)

    # and the README's verify line, with that code, verifies
    verify = verify.replace('"code": "123456"', f'"code": "{code}"')
    verified = subprocess.run(["bash", "-c", verify], capture_output=True, text=True, check=True)
    answer = json.loads(verified.stdout)
    assert answer["message"] == "Код подтвержден успешно", answer
    assert answer["verified"] is True
    assert answer["token"].count(".") == 2  # the signed proof of SPEC §12

    # and the detail line shows the row, masked, without the code
    detail = detail.replace("5b0c…", verification_id)
    shown = json.loads(subprocess.check_output(["bash", "-c", detail], text=True))
    assert shown["id"] == verification_id, shown
    assert code not in json.dumps(shown)

    # and health answers
    assert json.loads(subprocess.check_output(["bash", "-c", health], text=True))["status"] in (
        "ok",
        "degraded",
    )
