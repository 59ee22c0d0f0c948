"""A one-line sparkline that leaves gaps blank and shares its y-range with its neighbours.

Textual's Sparkline scales each line to its own min..max and stretches every
series to the full width; lanes side by side are only comparable on one y-range
and one x grid, so this draws `None` as a blank and takes the range from outside.
"""

from __future__ import annotations

import math

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

BARS = "▁▂▃▄▅▆▇█"


def bucket(data: list[float | None], width: int) -> list[float | None]:
    """Mean of each of `width` equal slices of data (None where a slice has no value)."""
    if width <= 0 or not data:
        return []
    out = []
    for k in range(width):
        a = k * len(data) // width
        b = max(a + 1, (k + 1) * len(data) // width)
        vals = [v for v in data[a:b] if v is not None]
        out.append(sum(vals) / len(vals) if vals else None)
    return out


def bars(values: list[float | None], lo: float, hi: float) -> str:
    extent = hi - lo
    chars = []
    for v in values:
        if v is None or not math.isfinite(v):
            chars.append(" ")
        else:
            r = (v - lo) / extent if extent > 0 else 0.5
            chars.append(BARS[min(len(BARS) - 1, max(0, int(r * len(BARS))))])
    return "".join(chars)


class Spark(Widget):
    """`data` (finite floats or None) drawn on `y_range`; assign new lists to redraw."""

    data: reactive[list] = reactive(list)
    y_range: reactive[tuple[float, float]] = reactive((0.0, 1.0))

    def render(self) -> Text:
        lo, hi = self.y_range
        return Text(bars(bucket(self.data, self.size.width), lo, hi), no_wrap=True, overflow="crop")
