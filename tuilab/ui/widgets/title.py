"""A screen title made of parts ('name · data set · model · optimizer · device') fitted to a width."""

from __future__ import annotations

from collections.abc import Sequence

from tuilab.ui.widgets.lane_row import Cell

SEP = " · "
MIN_PART = 4  # characters a shortened part keeps, its ellipsis included


def fit_title(parts: Sequence[str], width: int, first: Sequence[int] = (1, 2)) -> str:
    """The parts joined, within `width`: the parts at `first` (data set, model) are cut first, the longest
    first, then the others; the last part (the device) is never cut while another can give way, and
    middle parts are left out before it is."""
    parts = list(parts)
    if width <= 0:
        return SEP.join(parts)
    groups = [[i for i in first if i < len(parts) - 1], [i for i in range(len(parts) - 1) if i not in first]]
    for group in groups:
        while len(SEP.join(parts)) > width:
            cuttable = [i for i in group if len(parts[i]) > MIN_PART]
            if not cuttable:
                break
            i = max(cuttable, key=lambda k: (len(parts[k]), k))  # the longest, the later on a tie
            excess = len(SEP.join(parts)) - width
            keep = max(MIN_PART - 1, len(parts[i]) - excess - 1, len(parts[i]) - 1 - max(1, len(parts[i]) // 4))
            parts[i] = parts[i][:keep].rstrip() + "…"
    while len(SEP.join(parts)) > width and len(parts) > 2:  # still too long: the middle parts go, last first
        del parts[-2]
    text = SEP.join(parts)
    return text if len(text) <= width else text[: max(0, width - 1)] + "…"


class TitleCell(Cell):
    """A title fitted to its own width whenever that changes (a resize, a scrollbar coming or going)."""

    def __init__(self, parts: Sequence[str], id: str | None = None) -> None:
        super().__init__(SEP.join(parts), id=id)
        self.parts = tuple(parts)

    def on_resize(self) -> None:
        self.show(fit_title(self.parts, self.size.width))
