"""Run the five benchmarks one after another and print their tables (Markdown).

    .venv/bin/python -m benchmarks.run_all [--only drain,verify_path] [--out report.md]

BENCH_QUICK=1 shortens every run (a smoke test, not figures); BENCH_REPS and
BENCH_WRK_SECONDS override the repetitions and the seconds per wrk run;
BENCH_DATABASE_URL / BENCH_REDIS_URL choose the database and Redis database number
(defaults: verification_bench and /9); BENCH_KEEP_LOGS=1 keeps the processes' logs.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import os
import subprocess
import sys
import time
from pathlib import Path

from benchmarks import databases, harness, load, processes, reporting

BENCHMARKS = ("api_throughput", "enqueue_latency", "drain", "polling_sweeping", "verify_path")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default="", help="comma list out of: " + ", ".join(BENCHMARKS))
    parser.add_argument("--out", default="", help="also write the report to this file")
    args = parser.parse_args()
    chosen = [name for name in BENCHMARKS if not args.only or name in args.only.split(",")]

    started = time.monotonic()
    header = _header()
    print(header, flush=True)
    sections = [header]
    with processes.session():
        load.ensure_wrk()
        databases.setup_django()
        for name in chosen:
            harness.log(f"=== {name}")
            module = importlib.import_module(f"benchmarks.{name}")
            began = time.monotonic()
            text, _figures = module.run()
            text += f"\n_{name}: {time.monotonic() - began:.0f} s_\n"
            print(text, flush=True)
            sections.append(text)
    footer = (
        f"\nTotal {time.monotonic() - started:.0f} s; load average after: "
        f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}\n"
    )
    print(footer)
    sections.append(footer)
    if args.out:
        Path(args.out).write_text("\n".join(sections))


def _header() -> str:
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=harness.ROOT, capture_output=True, text=True
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"],
        cwd=harness.ROOT,
        capture_output=True,
        text=True,
    ).stdout.strip()
    loadavg = " ".join(f"{x:.1f}" for x in os.getloadavg())
    command = reporting.shell_quote(
        [Path(sys.executable).name, "-m", "benchmarks.run_all", *sys.argv[1:]]
    )
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (
        "## Benchmark run\n\n"
        f"- when: {now}; commit {commit or '?'}{' + local changes' if dirty else ''}\n"
        f"- machine: {reporting.machine()}; load average before: {loadavg}\n"
        f"- command: `{command}`"
        f" (BENCH_QUICK={os.environ.get('BENCH_QUICK', '0')}, reps {harness.REPS}, "
        f"wrk {harness.WRK_SECONDS} s per run)\n"
        f"- database {harness.DATABASE_URL}, Redis {harness.REDIS_URL}\n"
    )


if __name__ == "__main__":
    main()
