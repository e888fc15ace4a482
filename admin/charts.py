"""Server-side SVG charts for the dashboard: no JavaScript, no CDN, nothing for the CSP to allow.

Values are integers (minor units or counts); labels are escaped. Every chart carries a
``<title>`` and the numbers as text, so it is readable without seeing the bars.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from markupsafe import Markup, escape

WIDTH, HEIGHT = 560, 220
LEFT, RIGHT, TOP, BOTTOM = 70, 10, 20, 40
PALETTE = ("#2c7be5", "#00a86b", "#e5a12c", "#d9534f", "#6f42c1", "#17a2b8")


def _scale(values: Sequence[int]) -> int:
    top = max([abs(v) for v in values] + [1])
    # A round upper bound so the axis labels are readable.
    magnitude = 10 ** (len(str(top)) - 1)
    return ((top + magnitude - 1) // magnitude) * magnitude


def _frame(title: str, body: list[str], top: int, label: Callable[[int], str]) -> Markup:
    plot_h = HEIGHT - TOP - BOTTOM
    parts = [
        f'<svg class="praho-chart" role="img" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="100%" xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>'
    ]
    for step in range(5):
        y = TOP + plot_h - plot_h * step / 4
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e5e5e5"/>'
        )
        parts.append(
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">'
            f"{escape(label(top * step // 4))}</text>"
        )
    parts.extend(body)
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every text interpolated above is escaped


def bar_chart(
    title: str,
    labels: Sequence[str],
    series: dict[str, Sequence[int]],
    label: Callable[[int], str] = str,
) -> Markup:
    """Grouped bars: one group per label, one bar per series (e.g. currency)."""
    values = [v for s in series.values() for v in s]
    top = _scale(values)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    group_w = plot_w / max(len(labels), 1)
    bar_w = max(group_w * 0.8 / max(len(series), 1), 1)
    body: list[str] = []
    for g, text in enumerate(labels):
        x0 = LEFT + g * group_w + group_w * 0.1
        for s, (name, data) in enumerate(series.items()):
            value = max(data[g], 0)
            h = plot_h * value / top
            x = x0 + s * bar_w
            body.append(
                f'<rect x="{x:.1f}" y="{TOP + plot_h - h:.1f}" width="{bar_w:.1f}" '
                f'height="{h:.1f}" fill="{PALETTE[s % len(PALETTE)]}">'
                f"<title>{escape(name)} {escape(text)}: {escape(label(data[g]))}</title></rect>"
            )
        if len(labels) <= 6 or g % 2 == len(labels) % 2 - 1 or g == len(labels) - 1:
            body.append(
                f'<text x="{x0 + group_w * 0.4:.1f}" y="{HEIGHT - BOTTOM + 14}" '
                f'text-anchor="middle">{escape(text)}</text>'
            )
    body.extend(_legend(list(series)))
    return _frame(title, body, top, label)


def line_chart(
    title: str,
    labels: Sequence[str],
    series: dict[str, Sequence[int]],
    label: Callable[[int], str] = str,
) -> Markup:
    """One polyline per series over the labels (e.g. MRR per month, per currency)."""
    values = [v for s in series.values() for v in s]
    top = _scale(values)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = plot_w / max(len(labels) - 1, 1)
    body: list[str] = []
    for s, (name, data) in enumerate(series.items()):
        color = PALETTE[s % len(PALETTE)]
        points = " ".join(
            f"{LEFT + i * step:.1f},{TOP + plot_h - plot_h * max(v, 0) / top:.1f}"
            for i, v in enumerate(data)
        )
        body.append(f'<polyline fill="none" stroke="{color}" stroke-width="2" points="{points}"/>')
        for i, v in enumerate(data):
            body.append(
                f'<circle cx="{LEFT + i * step:.1f}" '
                f'cy="{TOP + plot_h - plot_h * max(v, 0) / top:.1f}" r="3" fill="{color}">'
                f"<title>{escape(name)} {escape(labels[i])}: {escape(label(v))}</title>"
                "</circle>"
            )
    for i, text in enumerate(labels):
        if len(labels) <= 12 or i % 2 == 0:
            body.append(
                f'<text x="{LEFT + i * step:.1f}" y="{HEIGHT - BOTTOM + 14}" '
                f'text-anchor="middle">{escape(text)}</text>'
            )
    body.extend(_legend(list(series)))
    return _frame(title, body, top, label)


def _legend(names: list[str]) -> list[str]:
    parts = []
    for s, name in enumerate(names):
        x = LEFT + s * 80
        parts.append(
            f'<rect x="{x}" y="{HEIGHT - 16}" width="10" height="10" '
            f'fill="{PALETTE[s % len(PALETTE)]}"/>'
        )
        parts.append(f'<text x="{x + 14}" y="{HEIGHT - 7}">{escape(name)}</text>')
    return parts
