"""Recent runs (Setup's ctrl+l): reopen one as it ended, or pick two to compare."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, OptionList, Static
from textual.widgets.option_list import Option

from tuilab.engine.store import RunStatus, recent_runs

FIRST = "[1] "  # the run marked to be compared (a mark that reads without colour)


def _prompt(path: Path, status: RunStatus, marked: bool) -> Text:
    return Text.assemble((FIRST if marked else "    ", "bold"), (path.name, "bold" if marked else ""),
                         (f"  {status}", "dim"))


class RunsScreen(ModalScreen[tuple[str, ...] | None]):
    """Dismisses with ('open', RUN_DIR), ('compare', RUN_A, RUN_B), or None on escape."""

    BINDINGS = [
        Binding("escape", "dismiss(None)", "Cancel"),
        Binding("c", "compare", "Compare"),
    ]

    def __init__(self, out_dir: str) -> None:
        super().__init__()
        self.out_dir = out_dir
        self.runs = recent_runs(out_dir)
        self.first: str | None = None

    def compose(self) -> ComposeResult:
        with Vertical(id="runs-dialog"):
            yield Label(f"Recent runs under {self.out_dir}/", classes="preset-dialog-title")
            if self.runs:
                yield OptionList(*[Option(_prompt(p, s, False), id=str(p)) for p, s in self.runs], id="runs-list")
            else:
                yield Static("no runs yet: they appear here once a run has started", id="runs-empty")
            yield Static("enter: open it as it ended · c: compare (mark one, then c on the other) · escape: back",
                         id="runs-help", classes="preset-dialog-help")

    @on(OptionList.OptionSelected)
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(("open", event.option.id or ""))

    def action_compare(self) -> None:
        """Mark the highlighted run; on a second run, compare the two."""
        lists = self.query(OptionList)
        if not lists or lists.first().highlighted is None:
            return
        options = lists.first()
        chosen = options.get_option_at_index(options.highlighted).id or ""
        if self.first is None or self.first == chosen:
            self.first = None if self.first == chosen else chosen
            for path, status in self.runs:
                options.replace_option_prompt(str(path), _prompt(path, status, str(path) == self.first))
            help_text = "now c on the run to compare it with" if self.first else "enter: open · c: compare"
            self.query_one("#runs-help", Static).update(help_text + " · escape: back")
            return
        self.dismiss(("compare", self.first, chosen))
