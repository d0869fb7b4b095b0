"""The progress chart's geometry: apps per state over time as stacked areas.

Only numbers are computed here; the SVG markup is a template (``chart.svg``) so every
text in it goes through the same escaping as the pages.
"""

from __future__ import annotations

from datetime import UTC, datetime

import attrs

from ._queries import STATE_ORDER, Chart

__all__ = ["Band", "ChartGeometry", "layout"]

# Bottom to top: finished apps at the bottom, the pipeline above them, pending on top.
_STACK = (
    "rolled_back", "cancelled", "withdrawn", "failed", "rejected", "released", "gray",
    "releasing", "passed", "delayed", "under_audit", "waiting_for_quota",
    "privacy_checked", "committed", "pending",
)
assert set(_STACK) == set(STATE_ORDER)


@attrs.frozen
class Band:
    state: str
    points: str  # the polygon's "x,y x,y ..." list
    last: int  # apps in the state at the end of the chart


@attrs.frozen
class Tick:
    pos: float
    label: str


@attrs.frozen
class Mark:
    x: float
    label: str


@attrs.frozen
class ChartGeometry:
    width: int
    height: int
    left: int
    top: int
    plot_width: int
    plot_height: int
    bands: tuple[Band, ...]
    x_ticks: tuple[Tick, ...]
    y_ticks: tuple[Tick, ...]
    marks: tuple[Mark, ...]
    summary: str  # for screen readers: what the chart shows at its end

    @property
    def empty(self) -> bool:
        return not self.bands


def _time_label(ts: float, span: float) -> str:
    moment = datetime.fromtimestamp(ts, UTC)
    if span < 600:
        return moment.strftime("%H:%M:%S")
    return moment.strftime("%m-%d %H:%M" if span < 3 * 86400 else "%m-%d")


def _y_step(peak: int) -> int:
    """A tick step of 1, 2 or 5 times a power of ten giving at most five steps."""
    power = 1
    while True:
        for m in (1, 2, 5):
            if m * power * 5 >= peak:
                return m * power
        power *= 10


def layout(chart: Chart, width: int = 720, height: int = 260) -> ChartGeometry:
    """Stacked polygons (and axes) for ``chart`` in a ``width`` x ``height`` box."""
    left, top, right, bottom = 44, 22, 12, 26
    pw, ph = width - left - right, height - top - bottom
    times = chart.times
    n = len(times)
    if n == 0:
        return ChartGeometry(width, height, left, top, pw, ph, (), (), (), (), "No data yet.")
    totals = [sum(chart.series[s][i] for s in chart.series) for i in range(n)]
    peak = max(max(totals), 1)
    t0, t1 = times[0], times[-1]
    span = t1 - t0

    def x(i: int) -> float:
        return left + (pw * (times[i] - t0) / span if span else pw * i / max(n - 1, 1))

    def y(value: float) -> float:
        return top + ph - ph * value / peak

    xs = [x(i) for i in range(n)] if n > 1 else [float(left), float(left + pw)]
    base = [0] * len(xs)
    bands = []
    for state in _STACK:
        values = chart.series.get(state)
        if values is None:
            continue
        row = list(values) if n > 1 else [values[0], values[0]]
        upper = [b + v for b, v in zip(base, row, strict=True)]
        ring = [(xs[i], y(upper[i])) for i in range(len(xs))]
        ring += [(xs[i], y(base[i])) for i in reversed(range(len(xs)))]
        bands.append(Band(state, " ".join(f"{px:.1f},{py:.1f}" for px, py in ring), row[-1]))
        base = upper
    x_ticks = tuple(
        Tick(left + pw * k / 4, _time_label(t0 + span * k / 4, span)) for k in range(5)
    ) if span else (Tick(float(left), _time_label(t0, span)),)
    y_ticks = tuple(Tick(y(v), str(v)) for v in range(0, peak + 1, _y_step(peak)))
    # A stage reached inside the first slice sits at the chart's left edge.
    marks = tuple(
        Mark(left + (pw * min(max((t - t0) / span, 0.0), 1.0) if span else 0.0), label)
        for t, label in chart.marks
    )
    at_end = ", ".join(f"{b.last} {b.state.replace('_', ' ')}"
                       for b in reversed(bands) if b.last)
    summary = (f"Apps per state from {_time_label(t0, 86400)} to {_time_label(t1, 86400)} UTC; "
               f"at the end: {at_end}.")
    return ChartGeometry(width, height, left, top, pw, ph, tuple(bands), x_ticks, y_ticks,
                         marks, summary)
