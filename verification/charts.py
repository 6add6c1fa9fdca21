"""Server-side SVG charts for the admin statistics page: no JavaScript, no CDN.

Each function returns a complete inline `<svg>` (escaped with format_html) whose series
are `<polyline>`/`<rect>` elements carrying `data-series` attributes, so a browser test can
tell that data was drawn.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

WIDTH, HEIGHT = 720, 240
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 30, 40
COLORS = ("#417690", "#70bf2b", "#e6a117", "#ba2121", "#8e44ad", "#16a085")


def _nice_max(value: float) -> float:
    """A round axis maximum at or above `value` (1, 2, 5 × 10^n)."""
    if value <= 0:
        return 1.0
    magnitude = 10 ** (len(str(int(value))) - 1)
    for step in (1, 2, 5, 10):
        if value <= step * magnitude:
            return float(step * magnitude)
    return float(10 * magnitude)


def _frame(title: str, body: SafeString, y_max: float, unit: str) -> SafeString:
    plot_h = HEIGHT - TOP - BOTTOM
    ticks = format_html_join(
        "",
        '<line x1="{}" x2="{}" y1="{}" y2="{}" stroke="#ddd"/>'
        '<text x="{}" y="{}" font-size="10" text-anchor="end">{}{}</text>',
        (
            (
                LEFT,
                WIDTH - RIGHT,
                f"{TOP + plot_h * (1 - f):.1f}",
                f"{TOP + plot_h * (1 - f):.1f}",
                LEFT - 4,
                f"{TOP + plot_h * (1 - f) + 3:.1f}",
                f"{y_max * f:g}",
                unit,
            )
            for f in (0, 0.25, 0.5, 0.75, 1)
        ),
    )
    return format_html(
        '<svg class="stats-chart" role="img" aria-label="{}" viewBox="0 0 {} {}" width="{}" '
        'height="{}" xmlns="http://www.w3.org/2000/svg"><title>{}</title>'
        '<text x="{}" y="16" font-size="13" font-weight="bold">{}</text>{}{}</svg>',
        title,
        WIDTH,
        HEIGHT,
        WIDTH,
        HEIGHT,
        title,
        LEFT,
        title,
        ticks,
        body,
    )


def _legend(names: Sequence[str]) -> SafeString:
    return format_html_join(
        "",
        '<rect x="{}" y="{}" width="10" height="10" fill="{}"/>'
        '<text x="{}" y="{}" font-size="11">{}</text>',
        (
            (
                LEFT + 110 * i,
                HEIGHT - 14,
                COLORS[i % len(COLORS)],
                LEFT + 110 * i + 14,
                HEIGHT - 5,
                n,
            )
            for i, n in enumerate(names)
        ),
    )


def line_chart(
    title: str,
    labels: Sequence[str],
    series: Mapping[str, Sequence[float | None]],
    *,
    unit: str = "",
    fixed_max: float | None = None,
) -> SafeString:
    """One polyline per series over `labels` (None values break nothing: they are skipped)."""
    values = [v for points in series.values() for v in points if v is not None]
    y_max = fixed_max or _nice_max(max(values, default=0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = plot_w / max(1, len(labels) - 1)

    def point(index: int, value: float) -> str:
        return f"{LEFT + step * index:.1f},{TOP + plot_h * (1 - value / y_max):.1f}"

    lines = format_html_join(
        "",
        '<polyline data-series="{}" data-points="{}" fill="none" stroke="{}" stroke-width="2" '
        'points="{}"/>',
        (
            (
                name,
                sum(1 for v in points if v),
                COLORS[i % len(COLORS)],
                " ".join(point(x, v) for x, v in enumerate(points) if v is not None),
            )
            for i, (name, points) in enumerate(series.items())
        ),
    )
    every = max(1, len(labels) // 8)
    x_labels = format_html_join(
        "",
        '<text x="{}" y="{}" font-size="10" text-anchor="middle">{}</text>',
        (
            (f"{LEFT + step * i:.1f}", HEIGHT - BOTTOM + 14, label)
            for i, label in enumerate(labels)
            if i % every == 0
        ),
    )
    body = mark_safe(lines + x_labels + _legend(list(series)))  # noqa: S308 - built escaped
    return _frame(title, body, y_max, unit)


def bar_chart(
    title: str, categories: Sequence[str], series: Mapping[str, Sequence[float]]
) -> SafeString:
    """Grouped bars: one group per category, one bar per series."""
    values = [v for points in series.values() for v in points]
    y_max = _nice_max(max(values, default=0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    group_w = plot_w / max(1, len(categories))
    bar_w = group_w * 0.8 / max(1, len(series))
    bars = format_html_join(
        "",
        '<rect data-series="{}" data-value="{}" x="{}" y="{}" width="{}" '
        'height="{}" fill="{}"><title>{}: {}</title></rect>',
        (
            (
                name,
                f"{value:g}",
                f"{LEFT + group_w * c + group_w * 0.1 + bar_w * s:.1f}",
                f"{TOP + plot_h * (1 - value / y_max):.1f}",
                f"{bar_w:.1f}",
                f"{plot_h * value / y_max:.1f}",
                COLORS[s % len(COLORS)],
                category,
                f"{value:g}",
            )
            for s, (name, points) in enumerate(series.items())
            for c, (category, value) in enumerate(zip(categories, points, strict=True))
        ),
    )
    x_labels = format_html_join(
        "",
        '<text x="{}" y="{}" font-size="10" text-anchor="middle">{}</text>',
        (
            (f"{LEFT + group_w * (c + 0.5):.1f}", HEIGHT - BOTTOM + 14, cat)
            for c, cat in enumerate(categories)
        ),
    )
    body = mark_safe(bars + x_labels + _legend(list(series)))  # noqa: S308 - built escaped
    return _frame(title, body, y_max, "")
