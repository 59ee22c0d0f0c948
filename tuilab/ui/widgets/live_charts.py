"""The Run screen's live charts: every lane's loss against the x axis, and noise against B (log-log).

They take the room the lane table leaves. Side by side from FOLD_BELOW columns
up; below that one at a time, switched with `v`. A chart repaints its whole
region (a few KB), so they redraw at most every MIN_INTERVAL seconds, and only
when the run, the axis, the scale or the chart shown has changed.
"""

from __future__ import annotations

import time

from textual.app import ComposeResult
from textual.containers import Horizontal

from tuilab.ui.state import RunState
from tuilab.ui.widgets.chart import Chart
from tuilab.ui.widgets.run_charts import PER, loss_chart, noise_chart

FOLD_BELOW = 100  # columns: narrower, the two charts fold into one
MIN_INTERVAL = 0.5  # seconds between redraws: at most twice a second


class LiveCharts(Horizontal):
    """Loss and noise-vs-B charts of a RunState; `update_view(axis, log)` after each change."""

    def __init__(self, state: RunState) -> None:
        super().__init__(id="live-charts")
        self.state = state
        self.loss = Chart(id="live-loss", classes="live-chart")
        self.noise = Chart(id="live-noise", classes="live-chart")
        self.showing = "loss"  # the chart shown when folded
        self.axis, self.log_scale = "epochs", False
        self._drawn: tuple | None = None
        self._last = 0.0
        self._due = False

    def compose(self) -> ComposeResult:
        yield self.loss
        yield self.noise

    @property
    def folded(self) -> bool:
        return 0 < self.size.width < FOLD_BELOW

    def on_resize(self) -> None:
        self._fold()
        self.screen.refresh_bindings()  # the switch key shows only when folded

    def _fold(self) -> None:
        folded = self.folded
        self.loss.display = not folded or self.showing == "loss"
        self.noise.display = not folded or self.showing == "noise"

    def switch(self) -> None:
        """Folded: show the other chart."""
        self.showing = "noise" if self.showing == "loss" else "loss"
        self._fold()
        self._draw()

    def update_view(self, axis: str, log: bool) -> None:
        """Redraw for this axis and scale now, or when MIN_INTERVAL has passed since the last redraw."""
        self.axis, self.log_scale = axis, log
        wait = self._last + MIN_INTERVAL - time.monotonic()
        if wait <= 0:
            self._draw()
        elif not self._due:
            self._due = True
            self.set_timer(wait, self._draw)

    def _draw(self) -> None:
        self._due = False
        key = (self.state.revision, self.axis, self.log_scale, self.showing, self.folded)
        if key == self._drawn or not self.is_mounted:
            return
        self._drawn = key
        self._last = time.monotonic()
        hint = "  v: noise vs B" if self.folded else ""
        title = f"train loss per {PER[self.axis]}{' (log)' if self.log_scale else ''}  x: axis · l: log{hint}"
        if self.loss.display:
            self.loss.show(loss_chart(self.state, self.axis, self.log_scale, test=False, title=title, live=True))
        if self.noise.display:
            self.noise.show(noise_chart(self.state, title_hint="  v: loss" if self.folded else ""))
