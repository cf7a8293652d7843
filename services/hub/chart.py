"""Inline SVG for the dashboard's charts (deliveries per hour, stacked by network; the inbox's weekly
figures, side by side). Pure functions.

Server-rendered SVG needs no script, no library and no network, and it works under the dashboard's
strict Content-Security-Policy (attributes only, no inline styles).
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable

from shared.networks import NETWORKS

__all__ = ["bar_chart", "color_of", "hourly_chart"]

# Okabe–Ito colours, then grey and Tol's wine: told apart by most colour-blind readers; networks keep
# their colour, one each (a palette shorter than the registry would give two networks one colour).
_PALETTE = (
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#CC79A7",
    "#56B4E9",
    "#D55E00",
    "#F0E442",
    "#000000",
    "#999999",
    "#882255",
)
_ORDER = tuple(NETWORKS)
WIDTH, HEIGHT, LEFT, BOTTOM, TOP = 720, 220, 40, 28, 10


def color_of(network: str) -> str:
    index = _ORDER.index(network) if network in _ORDER else len(_ORDER) + sum(map(ord, network))
    return _PALETTE[index % len(_PALETTE)]


def hourly_chart(
    hours: list[str],
    display: list[str],
    per_network: dict[str, dict[str, int]],
    label: str,
    tip: Callable[[str, int, str], str],
    empty: str,
) -> str:
    """`hours` keys the counts ("YYYY-MM-DDTHH"); `display` labels each bar (local time); `label`,
    `tip(hour, count, network)` and `empty` are the words around it, in the viewer's language."""
    totals = [sum(counts.get(hour, 0) for counts in per_network.values()) for hour in hours]
    peak = max([*totals, 1])
    plot_w, plot_h = WIDTH - LEFT - 8, HEIGHT - BOTTOM - TOP
    slot = plot_w / max(len(hours), 1)
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{html.escape(label)}">',
        f'<line x1="{LEFT}" y1="{TOP + plot_h}" x2="{WIDTH - 8}" y2="{TOP + plot_h}" stroke="#888"/>',
    ]
    for value in sorted({0, peak // 2, peak}):
        y = TOP + plot_h - plot_h * value / peak
        parts.append(
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11">{value}</text>'
            f'<line x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - 8}" y2="{y:.1f}" stroke="#ddd"/>'
        )
    for i, hour in enumerate(hours):
        x = LEFT + i * slot + 2
        base = float(TOP + plot_h)
        for network, counts in per_network.items():
            n = counts.get(hour, 0)
            if not n:
                continue
            h = plot_h * n / peak
            base -= h
            shown = html.escape(tip(display[i], n, network))
            parts.append(
                f'<rect x="{x:.1f}" y="{base:.1f}" width="{slot - 4:.1f}" height="{h:.1f}" '
                f'fill="{color_of(network)}"><title>{shown}</title></rect>'
            )
        if i % 3 == 0:
            parts.append(
                f'<text x="{x + (slot - 4) / 2:.1f}" y="{HEIGHT - 10}" text-anchor="middle" '
                f'font-size="11">{html.escape(display[i])}</text>'
            )
    parts.append("</svg>")
    legend = "".join(
        f'<li><svg width="12" height="12" aria-hidden="true"><rect width="12" height="12" '
        f'fill="{color_of(network)}"/></svg> {html.escape(network)} ({sum(counts.values())})</li>'
        for network, counts in per_network.items()
    )
    nothing = "" if per_network else f'<p class="empty">{html.escape(empty)}</p>'
    return "".join(parts) + f'<ul class="legend">{legend}</ul>{nothing}'


def bar_chart(
    labels: list[str],
    series: list[tuple[str, list[float | None]]],
    label: str,
    tip: Callable[[str, str, float], str],
    empty: str,
    top: float | None = None,
) -> str:
    """Bars side by side for each of `labels` (one per series, a series' colour its place in the
    palette); a None value draws no bar. `tip(label, series name, value)` titles each bar, `top`
    fixes the scale's top (100 for a share in percent). The legend names each series."""
    values = [v for _, points in series for v in points if v is not None]
    peak = top or _round_up(max([*values, 2.0]))
    plot_w, plot_h = WIDTH - LEFT - 8, HEIGHT - BOTTOM - TOP
    slot = plot_w / max(len(labels), 1)
    bar = max((slot - 6) / max(len(series), 1), 1.0)
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{html.escape(label)}">',
        f'<line x1="{LEFT}" y1="{TOP + plot_h}" x2="{WIDTH - 8}" y2="{TOP + plot_h}" stroke="#888"/>',
    ]
    for tick in sorted({0.0, peak / 2, peak}):
        y = TOP + plot_h - plot_h * tick / peak
        parts.append(
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11">{tick:g}</text>'
            f'<line x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - 8}" y2="{y:.1f}" stroke="#ddd"/>'
        )
    for i, shown in enumerate(labels):
        x = LEFT + i * slot + 3
        for s, (name, points) in enumerate(series):
            point = points[i]
            if point is None:
                continue
            h = plot_h * min(point, peak) / peak
            told = html.escape(tip(shown, name, point))
            parts.append(
                f'<rect x="{x + s * bar:.1f}" y="{TOP + plot_h - h:.1f}" width="{bar:.1f}" height="{h:.1f}" '
                f'fill="{_PALETTE[s % len(_PALETTE)]}"><title>{told}</title></rect>'
            )
        parts.append(
            f'<text x="{x + (slot - 6) / 2:.1f}" y="{HEIGHT - 10}" text-anchor="middle" '
            f'font-size="11">{html.escape(shown)}</text>'
        )
    parts.append("</svg>")
    legend = "".join(
        f'<li><svg width="12" height="12" aria-hidden="true"><rect width="12" height="12" '
        f'fill="{_PALETTE[s % len(_PALETTE)]}"/></svg> {html.escape(name)}</li>'
        for s, (name, _) in enumerate(series)
    )
    nothing = "" if values else f'<p class="empty">{html.escape(empty)}</p>'
    return "".join(parts) + f'<ul class="legend">{legend}</ul>{nothing}'


def _round_up(value: float) -> float:
    """The scale's top: 1, 2 or 5 times a power of ten, at least `value` (ticks at its half read well)."""
    power = 10.0 ** math.floor(math.log10(value))
    return next(step * power for step in (1.0, 2.0, 5.0, 10.0) if step * power >= value)
