"""One lane of the Run screen: B, lr, progress, loss and noise sparklines, numbers, status."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Label

from tuilab.engine.record import LaneRecord
from tuilab.format import fmt_count, fmt_float, lane_name
from tuilab.ui.widgets.spark import Spark

STATUS_TEXT = {"out_of_memory": "out of memory"}


def text_bar(fraction: float, width: int = 6) -> str:
    """━━━╸── style bar in plain characters (colours come from the tcss)."""
    filled = fraction * width
    full = int(filled)
    half = "╸" if filled - full >= 0.5 and full < width else ""
    return "━" * full + half + "─" * (width - full - len(half))


class ColumnHeads(Horizontal):
    """The titles above the lane rows; the loss title names the x axis."""

    def compose(self) -> ComposeResult:
        for cls, text in (("b", "B"), ("lr", "lr"), ("prog", "progress"), ("loss-spark", "loss"),
                          ("noise-spark", "noise ‖g_B−G‖/‖G‖"), ("num", "loss"), ("num", "noise"),
                          ("num", "samples/s"), ("status", "status")):
            yield Label(text, classes=cls)

    def set_axis(self, axis: str, log: bool) -> None:
        per = {"epochs": "epoch", "steps": "step", "seconds": "second"}[axis]
        self.query_one(".loss-spark", Label).update(f"loss{' (log)' if log else ''} per {per}")


class LaneRow(Horizontal):
    """Widgets are made in __init__ so the screen can update a row before it is mounted."""

    def __init__(self, lane: int) -> None:
        super().__init__(id=f"lane-{lane}", classes="lane")
        self.lane = lane
        self.b, self.lr, self.prog = Label(classes="b"), Label(classes="lr"), Label(classes="prog")
        self.loss, self.noise = Spark(classes="loss-spark"), Spark(classes="noise-spark")
        self.loss_value, self.noise_value, self.rate = (Label(classes="num") for _ in range(3))
        self.status = Label(classes="status")

    def compose(self) -> ComposeResult:
        yield from (self.b, self.lr, self.prog, self.loss, self.noise, self.loss_value,
                    self.noise_value, self.rate, self.status)

    def show(self, rec: LaneRecord, progress: float) -> None:
        """Numbers and status from the lane's record (sparklines are set by the screen)."""
        last = rec.history[-1] if rec.history else None
        self.b.update(lane_name(rec.info)[2:])
        self.lr.update(fmt_float(last.lr if last else rec.info.lr))
        self.prog.update(f"{text_bar(progress)} {progress:4.0%}")
        self.loss_value.update(fmt_float(rec.final("train_loss")))
        self.noise_value.update(fmt_float(rec.final("noise")))
        rate = rec.samples_per_s() if rec.status != "running" else (last.samples_per_s if last and last.step else None)
        self.rate.update(fmt_count(rate))
        self.status.update(STATUS_TEXT.get(rec.status, rec.status))
        for s in ("running", "finished", "cancelled", "diverged", "out_of_memory", "error"):
            self.set_class(rec.status == s, f"-{s}")
        self.status.tooltip = rec.reason or None
