"""Batch sizes two ways: toggles for the common values and a free-entry box, kept in sync.

The text box is the one source of truth (it can hold any value, 100 say, and
whatever a person is halfway through typing); the toggles mirror it. Toggling
rewrites the text, sorted, so that the lanes run from small to big.

The 15 toggles are one stop of the tab order (a roving focus): tab enters the
group on one toggle and leaves it for the text box; arrow keys move within it.
"""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Vertical
from textual.widgets import Checkbox, Input

from tuilab.errors import UserError
from tuilab.presets import parse_batch_sizes
from tuilab.ui.widgets.checkbox import MarkedCheckbox
from tuilab.ui.widgets.form_input import FormInput

COMMON = tuple(str(2**i) for i in range(14)) + ("full",)  # 1 .. 8192, full
COLUMNS = 4  # toggles per row: the grid-size of .batch-toggles in tuilab.tcss


def _norm(token: str) -> str:
    """'08' -> '8', 'FULL' -> 'full': how a token compares with a toggle."""
    try:
        return str(int(token))
    except ValueError:
        return token.lower()


def toggle_batch_size(text: str, item: str, on: bool) -> str:
    """The text with `item` added (on) or removed; sorted when the rest parses."""
    tokens = [t for t in text.replace(",", " ").split() if _norm(t) != item]
    if on:
        tokens.append(item)
    try:
        sizes = parse_batch_sizes(" ".join(tokens))
    except UserError:  # leave a half-typed entry as it is, for its message to show
        return ", ".join(tokens)
    sizes.sort(key=lambda b: (b == "full", 0 if b == "full" else b))
    return ", ".join(str(b) for b in sizes)


class ToggleGrid(Grid):
    """The toggles as one focus stop: only one of them is focusable; arrows move which."""

    BINDINGS = [
        Binding("left", "move(-1)", "Previous", show=False),
        Binding("right", "move(1)", "Next", show=False),
        Binding("up", f"move({-COLUMNS})", "Up", show=False),
        Binding("down", f"move({COLUMNS})", "Down", show=False),
    ]

    def on_mount(self) -> None:
        boxes = list(self.query(Checkbox))
        first = next((b for b in boxes if b.value), boxes[0])
        for box in boxes:
            box.can_focus = box is first

    def action_move(self, by: int) -> None:
        boxes = list(self.query(Checkbox))
        here = next((i for i, b in enumerate(boxes) if b.can_focus), 0)
        to = here + by
        if not 0 <= to < len(boxes):
            return
        boxes[to].can_focus = True
        boxes[to].focus()
        boxes[here].can_focus = False


class BatchSizePicker(Vertical):
    """`value` is the free-entry text; the screen parses it (parse_batch_sizes)."""

    def __init__(self, text: str, id: str | None = None) -> None:
        super().__init__(id=id)
        self._initial = text

    def compose(self) -> ComposeResult:
        chosen = {_norm(t) for t in self._initial.replace(",", " ").split()}
        with ToggleGrid(classes="batch-toggles"):
            for item in COMMON:
                yield MarkedCheckbox(item, item in chosen, compact=True, id=f"bs-{item}")
        yield FormInput(self._initial, placeholder="e.g. 8,32,128 or full", compact=True,
                    id="batch-text")

    @property
    def value(self) -> str:
        return self.query_one("#batch-text", Input).value

    @value.setter
    def value(self, text: str) -> None:
        self.query_one("#batch-text", Input).value = text
        self._sync_toggles(text)

    def _sync_toggles(self, text: str) -> None:
        chosen = {_norm(t) for t in text.replace(",", " ").split()}
        # Setting a toggle must not echo back into the text (and reorder what was typed).
        with self.prevent(Checkbox.Changed):
            for box in self.query(Checkbox):
                box.value = (box.id or "")[3:] in chosen

    @on(Input.Changed, "#batch-text")
    def _text_changed(self, event: Input.Changed) -> None:
        self._sync_toggles(event.value)  # the event bubbles on to the screen

    @on(Checkbox.Changed)
    def _toggled(self, event: Checkbox.Changed) -> None:
        event.stop()
        box = self.query_one("#batch-text", Input)
        box.value = toggle_batch_size(box.value, (event.checkbox.id or "")[3:], event.value)
