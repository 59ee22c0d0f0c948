"""A checkbox and a radio button whose glyph says whether it is on, with or without colour."""

from __future__ import annotations

from textual.widgets import Checkbox, RadioButton


class MarkedCheckbox(Checkbox):
    """'▐X▌' checked, '▐ ▌' not: Textual's shows 'X' either way and tells them apart by colour
    alone, so without colour (NO_COLOR, a monochrome terminal) every box looked checked."""

    @property
    def BUTTON_INNER(self) -> str:  # noqa: N802 (Textual's name, read at every render)
        return "X" if self.value else " "


class MarkedRadioButton(RadioButton):
    """'▐●▌' chosen, '▐ ▌' not, for the same reason as MarkedCheckbox."""

    @property
    def BUTTON_INNER(self) -> str:  # noqa: N802
        return "●" if self.value else " "
