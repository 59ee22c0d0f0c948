"""Preset modals: load (shipped and user presets), save (never over a shipped one), confirm."""

from __future__ import annotations

import re
from pathlib import Path

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from tuilab.errors import UserError
from tuilab.presets import Experiment, list_presets, load_preset, save_preset, user_preset_dir

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def preset_name_problem(name: str) -> str | None:
    """Why `name` cannot be a user preset's name (it becomes NAME.toml), or None."""
    if not _NAME.fullmatch(name):
        return "use letters, digits, '.', '_' or '-' (at most 64, not starting with '.' or '-')"
    if any(n == name and shipped for n, _, shipped in list_presets()):
        return f"'{name}' is a shipped preset, which is read-only; choose another name"
    return None


def _option(name: str, path: Path, shipped: bool) -> Option:
    try:
        description = load_preset(path).description
    except UserError as e:  # a broken user preset is listed, not loadable
        return Option(Text.assemble((name, "bold"), "\u00a0· broken\n", (str(e), "red")), id=str(path),
                      disabled=True)
    origin = "shipped" if shipped else "user"
    return Option(Text.assemble((name, "bold"), (f"\u00a0· {origin}\n", "dim"), description),
                  id=str(path))


class LoadPresetScreen(ModalScreen[Path | None]):
    """Pick a preset; dismisses with its path, or None on escape."""

    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel")]

    def compose(self) -> ComposeResult:
        with Vertical(id="preset-dialog"):
            yield Label("Load a preset", classes="preset-dialog-title")
            yield OptionList(*[_option(*p) for p in list_presets()], id="preset-list")
            yield Static(f"user presets: {user_preset_dir()}\nenter load · escape cancel",
                         classes="preset-dialog-help")

    @on(OptionList.OptionSelected)
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(Path(event.option.id or ""))


class ConfirmScreen(ModalScreen[bool]):
    """A yes/no question; dismisses with the answer (escape is no)."""

    BINDINGS = [Binding("escape", "dismiss(False)", "No"), Binding("y", "dismiss(True)", "Yes"),
                Binding("n", "dismiss(False)", "No")]

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-dialog"):
            yield Static(self.question)
            with Horizontal(classes="dialog-buttons"):
                yield Button("Yes", id="confirm-yes", variant="warning", compact=True)
                yield Button("No", id="confirm-no", compact=True)

    def on_mount(self) -> None:
        self.query_one("#confirm-no").focus()  # the safe answer is the default

    @on(Button.Pressed)
    def _answered(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "confirm-yes")


class SavePresetScreen(ModalScreen[tuple[Path, Experiment] | None]):
    """Ask for a name and save there, asking before overwriting a user preset.

    Dismisses with (path, the experiment as saved: named NAME), or None on escape.
    """

    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel")]

    def __init__(self, experiment: Experiment) -> None:
        super().__init__()
        self.experiment = experiment

    def compose(self) -> ComposeResult:
        with Vertical(id="preset-dialog"):
            yield Label("Save as a user preset", classes="preset-dialog-title")
            yield Input(self.experiment.name, placeholder="name", id="preset-name")
            yield Static("", id="preset-error", classes="form-error")
            yield Static(f"saved to {user_preset_dir()}/NAME.toml\nenter save · escape cancel",
                         classes="preset-dialog-help")

    @on(Input.Submitted, "#preset-name")
    def _submitted(self, event: Input.Submitted) -> None:
        name = event.value.strip()
        problem = preset_name_problem(name)
        self.query_one("#preset-error", Static).update(problem or "")
        if problem:
            return
        path = user_preset_dir() / f"{name}.toml"
        if not path.exists():
            self._save(name, path)
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self._save(name, path)

        self.app.push_screen(ConfirmScreen(f"User preset '{name}' exists at {path}.\nOverwrite it?"),
                             answered)

    def _save(self, name: str, path: Path) -> None:
        exp = self.experiment.model_copy(update={"name": name})
        try:
            saved = save_preset(exp, path)
        except (UserError, OSError) as e:
            self.query_one("#preset-error", Static).update(f"cannot save: {e}")
            return
        self.dismiss((saved, exp))
