"""Chunked request bodies through gunicorn, as production receives them: WSGI gives them no
Content-Length, so the size limit counts them, and a small one is still read and parsed."""

from __future__ import annotations

import http.client
import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LIMIT = 4096


def procfile_web() -> str:
    for line in (ROOT / "Procfile").read_text().splitlines():
        name, _, command = line.partition(":")
        if name.strip() == "web":
            return command.strip()
    raise AssertionError("no web line in the Procfile")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def web() -> Iterator[int]:
    """The Procfile's web line (gunicorn) on a free port, one worker."""
    port = free_port()
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "DJANGO_DEBUG": "True",
        "WEB_PORT": str(port),
        "WEB_CONCURRENCY": "1",
        "API_MAX_BODY_BYTES": str(LIMIT),
    }
    command = procfile_web().replace("${WEB_CONCURRENCY:-4}", "1")
    proc = subprocess.Popen(
        ["sh", "-c", "exec " + command],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                raise AssertionError("gunicorn did not start: " + shlex.quote(command)) from None
            time.sleep(0.2)
    yield port
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(timeout=30)


def post_chunked(port: int, chunks: list[bytes]) -> tuple[int, dict[str, object]]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.putrequest("POST", "/api/auth/send-code/")
    conn.putheader("Content-Type", "application/json")
    conn.putheader("Transfer-Encoding", "chunked")
    conn.endheaders()
    for chunk in chunks:
        conn.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
    conn.send(b"0\r\n\r\n")
    response = conn.getresponse()
    body = json.loads(response.read())
    conn.close()
    return response.status, body


def test_a_chunked_body_over_the_limit_is_413(web):
    # when: 64 KB in 1 KB chunks, no Content-Length
    status, body = post_chunked(web, [b"x" * 1024] * 64)

    # then
    assert (status, body["code"]) == (413, "payload_too_large")


def test_a_small_chunked_body_is_read_and_parsed(web):
    # when: a JSON body split across chunks
    status, body = post_chunked(web, [b'{"phone": ', b'"not a phone"}'])

    # then: the view saw the phone (WSGI alone would have handed it an empty body, which is
    # "no phone", not "not a phone")
    assert (status, body["code"]) == (400, "invalid_phone")
    assert body["error"] == "Некорректный номер телефона"


def test_a_chunked_body_that_is_not_json_is_a_parse_error(web):
    status, body = post_chunked(web, [b'{"phone": NaN}'])

    assert (status, body["code"]) == (400, "parse_error")
