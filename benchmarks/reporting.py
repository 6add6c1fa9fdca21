"""Figures: alternating variants side by side, medians and percentiles, Markdown tables, the
machine they were measured on.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import statistics
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from benchmarks.harness import REPS


def alternate(variants: dict[str, Callable[[], Any]], reps: int = REPS) -> dict[str, list[Any]]:
    """Run A, B, C, A, B, C ... `reps` times; results per variant in run order."""
    results: dict[str, list[Any]] = {name: [] for name in variants}
    for _ in range(reps):
        for name, run in variants.items():
            results[name].append(run())
    return results


def median(values: Iterable[float]) -> float:
    cleaned = [v for v in values if v == v]  # drop NaN
    return statistics.median(cleaned) if cleaned else float("nan")


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(pct / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], title: str = "") -> str:
    def cell(value: Any) -> str:
        if isinstance(value, float):
            if value != value:
                return "–"
            return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"
        return str(value)

    lines = [f"### {title}", ""] if title else []
    lines.append("| " + " | ".join(headers) + " |")
    lines.append("|" + "|".join("---" for _ in headers) + "|")
    lines += ["| " + " | ".join(cell(v) for v in r) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def machine() -> str:
    model = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{os.cpu_count()} CPUs ({model}), {mem_gib:.0f} GiB RAM, Python {sys.version.split()[0]}"
    )


def shell_quote(argv: Sequence[str]) -> str:
    return " ".join(shlex.quote(a) for a in argv)
