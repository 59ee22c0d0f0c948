"""The key bindings, in one place (they are also in the footer and the command palette)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

KEYS = [
    ("Run screen", ""),
    ("space", "pause / resume training"),
    ("c", "cancel: stops within a second, what was measured is kept"),
    ("↑ ↓ / b", "select a lane / branch it at 2B, 4B, 8B: measures the critical batch size"),
    ("x", "cycle the x axis: epochs, steps, seconds"),
    ("l", "toggle log scale of the sparklines and the loss chart"),
    ("v", "below 100 columns: switch the live chart (loss / noise against B)"),
    ("p", "plots: loss, noise vs B, noise scale, samples/s, loss slice, branches, summary"),
    ("e", "write the metrics as RUN_DIR/metrics.csv"),
    ("escape", "back to Setup (asks first if the run still trains); watch: quit"),
    ("Plots screen", ""),
    ("x / l", "x axis / log scale of the loss chart"),
    ("r", "redraw now"),
    ("← →", "Summary and Compare tabs: scroll a table wider than the screen"),
    ("escape", "back to the Run screen"),
    ("Setup screen", ""),
    ("tab", "next field; in the batch sizes, ← → ↑ ↓ move and space toggles"),
    ("ctrl+r", "run the form"),
    ("ctrl+o / ctrl+s", "load / save a preset"),
    ("ctrl+l", "recent runs: enter reopens one as it ended; c marks one, c on another compares them"),
    ("Everywhere", ""),
    ("ctrl+p", "command palette: Run, Pause, Cancel, Plots, Copy run dir, ..."),
    ("? / f1", "this help"),
    ("q", "quit where no text box has focus (asks first while a run trains)"),
    ("ctrl+q", "quit at once (a run here stops; a watched run goes on)"),
    ("escape", "back, or close a dialog"),
]


def help_text() -> str:
    lines = []
    for key, what in KEYS:
        lines.append(f"\n[b]{key}[/b]" if not what else f"  {key:<15} {what}")
    return "\n".join(lines).lstrip()


class HelpScreen(ModalScreen):
    BINDINGS = [Binding("escape,question_mark,f1", "dismiss", "Close")]

    def compose(self) -> ComposeResult:
        with Vertical(id="help"):
            yield Static(help_text(), id="help-text")
            yield Static("escape closes", id="help-hint")
