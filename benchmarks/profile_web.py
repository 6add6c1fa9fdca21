"""Profile the web tier under wrk load with py-spy (not part of run_all).

Starts the sandbox and the Procfile `web` line (benchmark settings), drives one endpoint
with wrk, records every gunicorn worker with `py-spy record --subprocesses` (raw collapsed
stacks, wall-clock with --idle so waiting on PostgreSQL/Redis shows up), and prints the
functions that hold the most samples, inclusive and exclusive.

    .venv/bin/pip install py-spy
    .venv/bin/python -m benchmarks.profile_web [/api/auth/send-code/] [--connections 32]
        [--seconds 10] [--idle | --gil] [--out /tmp/send-code.txt] [--env NAME=VALUE ...]
"""

from __future__ import annotations

import argparse
import collections
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from benchmarks import databases, harness, load, processes, procfile


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("path", nargs="?", default="/api/auth/send-code/")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--idle", action="store_true", help="count samples spent waiting too")
    parser.add_argument("--gil", action="store_true", help="only the thread holding the GIL")
    parser.add_argument("--out", default=None, help="keep the collapsed stacks here")
    parser.add_argument("--env", action="append", default=[], help="NAME=VALUE for gunicorn")
    parser.add_argument("--top", type=int, default=40)
    args = parser.parse_args()
    py_spy = shutil.which("py-spy") or str(harness.BIN / "py-spy")
    extra = dict(item.split("=", 1) for item in args.env)

    with processes.session():
        databases.setup_django()
        databases.reset_state()
        script = load.lua_script("random_phone", load.LUA_RANDOM_PHONE)
        sandbox = procfile.start_sandbox(latency_ms=300)
        port = processes.free_port()
        web = procfile.start_web(port, GREEN_SMS_BASE_URL=sandbox.url, **extra)
        url = f"http://127.0.0.1:{port}{args.path}"
        load.run_wrk(url, script=script, connections=8, seconds=2)  # warm up
        # Outside the session's work directory, which is gone once the session ends.
        raw = Path(args.out or Path(tempfile.gettempdir()) / "web-profile.txt")
        master = processes.python_pids(web.pid)[0]
        record = [
            py_spy, "record", "--pid", str(master), "--subprocesses", "--rate", "200",
            "--format", "raw", "--output", str(raw), "--duration", str(args.seconds + 1),
            "--nonblocking",
        ] + (["--idle"] if args.idle else []) + (["--gil"] if args.gil else [])  # fmt: skip
        spy = subprocess.Popen(record, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.5)
        result = load.run_wrk(
            url, script=script, connections=args.connections, seconds=args.seconds
        )
        spy.wait(timeout=60)
        processes.stop(web)
        processes.stop(sandbox.proc)
        databases.flush_redis()
    print(f"{args.path}: {result.rps:.0f} req/s, p50 {result.p50_ms:.1f} ms, ", end="")
    print(f"p99 {result.p99_ms:.1f} ms")
    summarize(raw, args.top)


def samples(raw: Path) -> Iterator[tuple[list[str], int]]:
    """py-spy's raw output: each stack's Python frames (outermost first; none for a sample
    without any) and its sample count."""
    for line in raw.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        frames = [f for f in stack.split(";") if not f.startswith(("process ", "thread "))]
        yield frames, int(count_text)


def summarize(raw: Path, top: int) -> None:
    inclusive: collections.Counter[str] = collections.Counter()
    exclusive: collections.Counter[str] = collections.Counter()
    total = 0
    for frames, count in samples(raw):
        if not frames:
            continue
        total += count
        for frame in set(frames):
            inclusive[_short(frame)] += count
        exclusive[_short(frames[-1])] += count
    print(f"{total} samples\n\ninclusive (share of all samples):")
    for frame, count in inclusive.most_common(top):
        print(f"  {100 * count / total:5.1f}%  {frame}")
    print("\nexclusive:")
    for frame, count in exclusive.most_common(top // 2):
        print(f"  {100 * count / total:5.1f}%  {frame}")


def _short(frame: str) -> str:
    """`func (path/to/file.py:123)` -> `func (file path)`: one key per function, not per line."""
    frame = re.sub(r":\d+\)$", ")", frame)
    return re.sub(r"\(.*?(?:site-packages/|/work/main/)", "(", frame).replace(
        str(harness.ROOT) + "/", ""
    )


if __name__ == "__main__":
    main()
