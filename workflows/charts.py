"""Server-rendered SVG charts: pure functions from numbers to SVG markup (no Django, no ORM).

Every app draws its charts with these, so the pages look alike and no chart needs a script or
a CDN. Each drawn mark carries its value (``data-value`` and a ``<title>`` tooltip), so tests
read the numbers a chart draws and screen readers get them too. Callers mark the returned
string safe (``django.utils.safestring.mark_safe``): every label and value is escaped here.

- ``line_chart``: series over an x axis (dates or numbers), each with an optional confidence
  band and optional step drawing (a rollout's share), plus vertical event markers.
- ``bar_chart``: categories with stacked segments (runs per day by outcome, a risk mix).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from html import escape

# Colour-blind-safe (Okabe–Ito), in the order series are drawn.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000")
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 56, 16, 28, 44

X = float | int | date | datetime


@dataclass(frozen=True)
class Series:
    """A line: ``points`` are (x, y); ``band`` (x, low, high) is drawn as a shaded interval."""

    label: str
    points: Sequence[tuple[X, float]]
    band: Sequence[tuple[X, float, float]] = ()
    step: bool = False
    dashed: bool = False


@dataclass(frozen=True)
class Marker:
    """A vertical line at ``x`` with a short label (a stage change, a pause)."""

    x: X
    label: str


@dataclass(frozen=True)
class Stack:
    """One segment kind of a stacked bar chart: its value per category, in category order."""

    label: str
    values: Sequence[float]
    colour: str = ""


@dataclass(frozen=True)
class _Frame:
    width: int
    height: int
    x_min: float
    x_max: float
    y_min: float
    y_max: float

    @property
    def plot_width(self) -> float:
        return self.width - MARGIN_LEFT - MARGIN_RIGHT

    @property
    def plot_height(self) -> float:
        return self.height - MARGIN_TOP - MARGIN_BOTTOM

    def px(self, x: float) -> float:
        span = self.x_max - self.x_min
        share = 0.5 if span == 0 else (x - self.x_min) / span
        return round(MARGIN_LEFT + share * self.plot_width, 2)

    def py(self, y: float) -> float:
        span = self.y_max - self.y_min
        share = 0.0 if span == 0 else (y - self.y_min) / span
        return round(MARGIN_TOP + (1 - share) * self.plot_height, 2)


def _number(x: X) -> float:
    if isinstance(x, datetime):
        return x.timestamp() / 86400
    if isinstance(x, date):
        return float(x.toordinal())
    return float(x)


def _x_label(x: X) -> str:
    if isinstance(x, datetime):
        return f"{x:%Y-%m-%d %H:%M}"
    if isinstance(x, date):
        return x.isoformat()
    return f"{x:g}"


def _ticks(low: float, high: float, count: int = 5) -> list[float]:
    if high <= low:
        return [low]
    step = (high - low) / (count - 1)
    return [low + i * step for i in range(count)]


def _open(width: int, height: int, title: str, description: str) -> list[str]:
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'font-family="system-ui, sans-serif" font-size="11">',
        f"<title>{escape(title)}</title>",
        f"<desc>{escape(description)}</desc>",
        f'<text x="{MARGIN_LEFT}" y="16" font-size="13" font-weight="600">{escape(title)}</text>',
    ]


def _y_axis(frame: _Frame, y_label: str, y_format: Callable[[float], str]) -> list[str]:
    parts = []
    for tick in _ticks(frame.y_min, frame.y_max):
        y = frame.py(tick)
        parts.append(
            f'<line x1="{MARGIN_LEFT}" x2="{frame.width - MARGIN_RIGHT}" y1="{y}" y2="{y}" '
            f'stroke="#ddd"/><text x="{MARGIN_LEFT - 6}" y="{y + 4}" text-anchor="end">'
            f"{escape(y_format(tick))}</text>"
        )
    if y_label:
        middle = MARGIN_TOP + frame.plot_height / 2
        parts.append(
            f'<text transform="translate(12 {middle}) rotate(-90)" text-anchor="middle">'
            f"{escape(y_label)}</text>"
        )
    return parts


def _legend(labels_and_colours: Sequence[tuple[str, str]], frame: _Frame) -> list[str]:
    parts, x = [], MARGIN_LEFT
    y = frame.height - 10
    for label, colour in labels_and_colours:
        parts.append(
            f'<rect x="{x}" y="{y - 9}" width="10" height="10" fill="{colour}"/>'
            f'<text x="{x + 14}" y="{y}">{escape(label)}</text>'
        )
        x += 24 + 7 * len(label)
    return parts


def empty_chart(title: str, message: str = "No data yet.", *, width: int = 640) -> str:
    """A chart frame that says why there is nothing to draw."""
    height = 80
    parts = _open(width, height, title, message)
    parts.append(
        f'<text x="{MARGIN_LEFT}" y="48" fill="#666" class="chart-empty">{escape(message)}</text>'
    )
    return "".join(parts) + "</svg>"


def line_chart(
    series: Sequence[Series],
    *,
    title: str,
    y_label: str = "",
    y_min: float | None = None,
    y_max: float | None = None,
    y_format: Callable[[float], str] = lambda v: f"{v:g}",
    markers: Sequence[Marker] = (),
    width: int = 640,
    height: int = 240,
) -> str:
    """Lines (with shaded bands) over a shared x axis; ``y_min``/``y_max`` fix the scale."""
    xs = [_number(x) for s in series for x, _ in s.points]
    xs += [_number(x) for s in series for x, _, _ in s.band]
    xs += [_number(m.x) for m in markers]
    ys = [y for s in series for _, y in s.points]
    ys += [v for s in series for _, low, high in s.band for v in (low, high)]
    if not [p for s in series for p in s.points]:
        return empty_chart(title, width=width)
    frame = _Frame(
        width,
        height,
        min(xs),
        max(xs),
        min(ys) if y_min is None else y_min,
        max(ys) if y_max is None else y_max,
    )
    if frame.y_max == frame.y_min:
        frame = _Frame(width, height, frame.x_min, frame.x_max, frame.y_min, frame.y_min + 1)
    description = "; ".join(
        f"{s.label}: " + ", ".join(f"{_x_label(x)} = {y_format(y)}" for x, y in s.points)
        for s in series
    )
    parts = _open(width, height, title, description)
    parts += _y_axis(frame, y_label, y_format)
    first = min((p for s in series for p in s.points), key=lambda p: _number(p[0]))[0]
    last = max((p for s in series for p in s.points), key=lambda p: _number(p[0]))[0]
    baseline = frame.height - MARGIN_BOTTOM
    for x, anchor in ((first, "start"), (last, "end")):
        parts.append(
            f'<text x="{frame.px(_number(x))}" y="{baseline + 14}" text-anchor="{anchor}">'
            f"{escape(_x_label(x))}</text>"
        )
    for index, item in enumerate(series):
        colour = PALETTE[index % len(PALETTE)]
        if item.band:
            band = sorted(item.band, key=lambda b: _number(b[0]))
            upper = [f"{frame.px(_number(x))},{frame.py(high)}" for x, _, high in band]
            lower = [f"{frame.px(_number(x))},{frame.py(low)}" for x, low, _ in reversed(band)]
            parts.append(
                f'<polygon class="band" data-series="{escape(item.label)}" '
                f'points="{" ".join(upper + lower)}" fill="{colour}" fill-opacity="0.15"/>'
            )
            for x, low, high in band:
                parts.append(
                    f'<g class="interval" data-series="{escape(item.label)}" '
                    f'data-x="{escape(_x_label(x))}" data-low="{low:g}" data-high="{high:g}"/>'
                )
        points = sorted(item.points, key=lambda p: _number(p[0]))
        coordinates = []
        for i, (x, y) in enumerate(points):
            if item.step and i:
                coordinates.append(f"{frame.px(_number(x))},{frame.py(points[i - 1][1])}")
            coordinates.append(f"{frame.px(_number(x))},{frame.py(y)}")
        dash = ' stroke-dasharray="5 3"' if item.dashed else ""
        parts.append(
            f'<polyline class="line" data-series="{escape(item.label)}" fill="none" '
            f'stroke="{colour}" stroke-width="2"{dash} points="{" ".join(coordinates)}"/>'
        )
        for x, y in points:
            parts.append(
                f'<circle class="point" data-series="{escape(item.label)}" '
                f'data-x="{escape(_x_label(x))}" data-value="{y:g}" cx="{frame.px(_number(x))}" '
                f'cy="{frame.py(y)}" r="3" fill="{colour}"><title>{escape(item.label)}, '
                f"{escape(_x_label(x))}: {escape(y_format(y))}</title></circle>"
            )
    for marker in markers:
        x = frame.px(_number(marker.x))
        parts.append(
            f'<g class="marker" data-x="{escape(_x_label(marker.x))}" '
            f'data-label="{escape(marker.label)}"><line x1="{x}" x2="{x}" y1="{MARGIN_TOP}" '
            f'y2="{baseline}" stroke="#D55E00" stroke-dasharray="3 3"/>'
            f'<text x="{x + 3}" y="{MARGIN_TOP + 10}" fill="#D55E00">{escape(marker.label)}'
            f"</text></g>"
        )
    parts += _legend(
        [(s.label, PALETTE[i % len(PALETTE)]) for i, s in enumerate(series)],
        frame,
    )
    return "".join(parts) + "</svg>"


def bar_chart(
    categories: Sequence[str],
    stacks: Sequence[Stack],
    *,
    title: str,
    y_label: str = "",
    y_format: Callable[[float], str] = lambda v: f"{v:g}",
    width: int = 640,
    height: int = 240,
) -> str:
    """Stacked bars, one per category; each segment carries its value."""
    for stack in stacks:
        if len(stack.values) != len(categories):
            raise ValueError(
                f"Stack {stack.label!r} has {len(stack.values)} values for "
                f"{len(categories)} categories."
            )
    totals = [sum(stack.values[i] for stack in stacks) for i in range(len(categories))]
    if not categories or not any(totals):
        return empty_chart(title, width=width)
    frame = _Frame(width, height, 0, len(categories), 0, max(totals))
    description = "; ".join(
        f"{category}: "
        + ", ".join(f"{stack.label} {y_format(stack.values[i])}" for stack in stacks)
        for i, category in enumerate(categories)
    )
    parts = _open(width, height, title, description)
    parts += _y_axis(frame, y_label, y_format)
    slot = frame.plot_width / len(categories)
    bar_width = round(max(1.0, slot * 0.7), 2)
    colours = [stack.colour or PALETTE[i % len(PALETTE)] for i, stack in enumerate(stacks)]
    label_every = max(1, len(categories) // 8)
    for i, category in enumerate(categories):
        x = round(MARGIN_LEFT + i * slot + (slot - bar_width) / 2, 2)
        running = 0.0
        for stack, colour in zip(stacks, colours, strict=True):
            value = stack.values[i]
            if not value:
                continue
            top, bottom = frame.py(running + value), frame.py(running)
            parts.append(
                f'<rect class="segment" data-category="{escape(category)}" '
                f'data-series="{escape(stack.label)}" data-value="{value:g}" x="{x}" y="{top}" '
                f'width="{bar_width}" height="{round(bottom - top, 2)}" fill="{colour}">'
                f"<title>{escape(category)}, {escape(stack.label)}: {escape(y_format(value))}"
                f"</title></rect>"
            )
            running += value
        if i % label_every == 0:
            parts.append(
                f'<text x="{round(x + bar_width / 2, 2)}" y="{frame.height - MARGIN_BOTTOM + 14}" '
                f'text-anchor="middle">{escape(category)}</text>'
            )
    parts += _legend([(s.label, c) for s, c in zip(stacks, colours, strict=True)], frame)
    return "".join(parts) + "</svg>"


def values_drawn(svg: str) -> list[dict[str, str]]:
    """The marks a chart drew with their data attributes (for tests and accessible tables)."""
    import xml.etree.ElementTree as ElementTree

    root = ElementTree.fromstring(svg)
    marks = []
    for element in root.iter():
        tag = element.tag.rsplit("}", 1)[-1]
        classes = element.get("class", "")
        if classes in {"point", "segment", "interval", "marker", "band", "line"}:
            marks.append({"mark": classes, "tag": tag, **element.attrib})
    return marks
