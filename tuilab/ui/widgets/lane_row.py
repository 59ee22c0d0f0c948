"""One lane of the Run screen: B, lr, progress, loss and noise sparklines, numbers, status."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Label

from tuilab.engine.record import LaneRecord
from tuilab.engine.summary import LaneStatus
from tuilab.format import fmt_count, fmt_float, lane_name
from tuilab.ui.terminal import ascii_only
from tuilab.ui.widgets.spark import Spark

NOISE = "‖g_B−G‖/‖G‖"  # what the noise numbers are: a minibatch gradient's relative error


def best_mark() -> str:
    """After the status of the lane that stands for its batch size (its best lr)."""
    return " *" if ascii_only() else " ★"


def text_bar(fraction: float, width: int = 6) -> str:
    """━━━╸── style bar in plain characters (colours come from the tcss)."""
    filled = max(0.0, min(1.0, fraction)) * width
    full = int(filled)
    half = "╸" if filled - full >= 0.5 and full < width else ""
    return "━" * full + half + "─" * (width - full - len(half))


class Cell(Label):
    """A label of fixed size that repaints only when its text changes (no layout pass)."""

    _shown: str | None = None

    def show(self, text: str) -> None:
        if text != self._shown:
            self._shown = text
            self.update(text, layout=False)


class ColumnHeads(Horizontal):
    """The titles above the lane rows; the sparkline titles name the x axis."""

    def compose(self) -> ComposeResult:
        for cls, text in (("b", "B"), ("lr", "lr"), ("prog", "progress"), ("loss-spark", "loss"),
                          ("noise-spark", "noise"), ("num", "loss"), ("num noise", NOISE),
                          ("num", "samples/s"), ("status", "status")):
            yield Cell(text, classes=cls)

    def set_axis(self, axis: str, log: bool) -> None:
        per = {"epochs": "epoch", "steps": "step", "seconds": "second"}[axis]
        scale = " (log)" if log else ""
        self.query_one(".loss-spark", Cell).show(f"loss{scale} per {per}")
        self.query_one(".noise-spark", Cell).show(f"noise{scale} per {per}")


class LaneRow(Horizontal):
    """Widgets are made in __init__ so the screen can update a row before it is mounted."""

    def __init__(self, lane: int) -> None:
        super().__init__(id=f"lane-{lane}", classes="lane")
        self.lane = lane
        self.b, self.lr, self.prog = Cell(classes="b"), Cell(classes="lr"), Cell(classes="prog")
        self.loss, self.noise = Spark(classes="loss-spark"), Spark(classes="noise-spark")
        self.loss_value, self.noise_value, self.rate = Cell(classes="num"), Cell(classes="num noise"), Cell(classes="num")
        self.status = Cell(classes="status")
        self._shown: tuple | None = None

    def compose(self) -> ComposeResult:
        yield from (self.b, self.lr, self.prog, self.loss, self.noise, self.loss_value,
                    self.noise_value, self.rate, self.status)

    def show(self, rec: LaneRecord, progress: float, paused: bool = False, best: bool = False,
             first: bool = True) -> None:
        """Numbers and status from the lane's record (sparklines are set by the screen).

        `best`: the lane stands for its batch size (its best lr of a grid); `first`: the
        first row of its batch size's group (the others leave the B column blank).
        """
        key = (len(rec.history), rec.status, round(progress, 3), paused, best, first)
        if key == self._shown:
            return  # nothing new for this lane: no repaint
        self._shown = key
        last = rec.history[-1] if rec.history else None
        grouped = rec.info.lr_index is not None  # lr grid: B once per group, the lr column tells the lanes apart
        self.b.show((str(rec.info.batch_size) if first else "") if grouped else lane_name(rec.info)[2:])
        self.lr.show(fmt_float(last.lr if last else rec.info.lr))
        self.prog.show(f"{text_bar(progress)} {progress:4.0%}")
        self.loss_value.show(fmt_float(rec.final("train_loss")))
        self.noise_value.show(fmt_float(rec.final("noise")))  # the formula's noise(B), see engine/noise.py
        rate = rec.samples_per_s() if rec.status != LaneStatus.RUNNING else (last.samples_per_s if last and last.step else None)
        self.rate.show(fmt_count(rate))
        status = "paused" if paused and rec.status == LaneStatus.RUNNING else LaneStatus(rec.status).text
        self.status.show(status + (best_mark() if best else ""))
        for s in LaneStatus:
            self.set_class(rec.status == s, f"-{s.value}")
        self.set_class(best, "-best")
        self.status.tooltip = rec.reason or None
