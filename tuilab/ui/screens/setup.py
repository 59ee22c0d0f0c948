"""Setup: pick dataset, model, device, batch sizes, optimizer and budget; then Run.

The form is built from form_spec and read back through form_mapping, which lets
the pydantic model judge every value, so the rules and their messages live in
tuilab.presets. The form is checked on every change: bad fields show their
message inline, and Run stays disabled until all is well.

Contract with the app: it keeps the form's current experiment as
`app.experiment`, starts a run with `app.start_run(experiment)` and lists the
machine's devices with `app.available_devices()` (imports torch, so it is
called from a thread worker after the first frame).
"""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Button, Checkbox, Footer, Input, RadioSet, Select, Static

from tuilab.engine.settings import lr_grid
from tuilab.errors import UserError
from tuilab.presets import DatasetConfig, Experiment, load_preset
from tuilab.ui.screens.presets import LoadPresetScreen, SavePresetScreen
from tuilab.ui.widgets.form_data import PATH_HINTS, DataChecks, DataFacts, read_facts
from tuilab.ui.widgets.form_device import DevicePicker
from tuilab.ui.widgets.form_mapping import (
    experiment_to_values,
    form_dataset,
    format_widths,
    values_to_experiment,
)
from tuilab.ui.widgets.form_row import FormRow
from tuilab.ui.widgets.form_spec import FIELDS, SECTIONS, relevant_fields

# Sections per column when the terminal is wide enough for two.
_COLUMNS = (("Dataset", "Model", "Device"), ("Batch sizes", "Optimizer", "Budget"))


class SetupScreen(Screen):
    """The experiment form. `SetupScreen(experiment)` shows that experiment."""

    BINDINGS = [
        Binding("ctrl+r", "run", "Run"),
        Binding("ctrl+o", "load", "Load preset"),
        Binding("ctrl+s", "save", "Save preset"),
        Binding("ctrl+l", "runs", "Runs"),  # recent runs: reopen one, compare two
        # Priority: focus moves the moment tab arrives, so the keys typed right after it
        # go to the next field, not to the one being left (see widgets/form_input.py).
        Binding("tab", "app.focus_next", "Next field", show=False, priority=True),
        Binding("shift+tab", "app.focus_previous", "Previous field", show=False, priority=True),
    ]
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (110, "-wide")]

    def __init__(self, experiment: Experiment, notice: tuple[str, str] | None = None) -> None:
        super().__init__()
        self.base = experiment  # what the form was loaded from; carries the hidden fields
        self._notice = notice  # (message, severity) about the last run, from ui/notices.py
        self.data_checks = DataChecks()
        self._check_due = False

    def compose(self) -> ComposeResult:
        values = experiment_to_values(self.base)
        sections = dict(SECTIONS)
        yield Static(self._title(), id="setup-title")
        yield Static("", id="setup-notice")
        yield Static(self._imports(self.base), id="setup-imports")  # the user's code this preset runs
        # Not a focus stop itself: a tab there showed no focus at all (its fields scroll it).
        with VerticalScroll(id="setup-form", can_focus=False), Horizontal(id="setup-columns"):
            for column in _COLUMNS:
                with Vertical(classes="setup-column"):
                    for name in column:
                        yield Static(name, classes="setup-section")
                        for spec in sections[name]:
                            yield FormRow(spec, values[spec.key])
        with Horizontal(id="setup-actions"):
            yield Static("", id="setup-status")
            yield Button("Run ▶", id="setup-run", variant="success", compact=True)
        yield Footer()

    def _imports(self, exp: Experiment) -> Text:
        files = exp.user_code()
        return Text(f"this preset imports: {', '.join(files)}" if files else "", style="bold yellow")

    def _title(self) -> Text:
        return Text.assemble((self.base.name, "bold"), "  ", (self.base.description, "italic"))

    def on_mount(self) -> None:
        self.set_notice(self._notice)
        self.check_form()
        # available_devices() imports torch (~1 s): ask only once the first frame is out.
        self.call_after_refresh(self._probe_devices)

    @work(thread=True, exclusive=True, group="devices")
    def _probe_devices(self) -> None:
        try:
            devices = self.app.available_devices()
        except Exception as e:  # a broken torch install must not take the form down
            self.app.call_from_thread(self.notify, f"could not list devices: {e}", severity="warning")
            return
        self.app.call_from_thread(self._show_devices, devices)

    @work(thread=True, group="data")
    def _read_data(self, key: tuple, cfg: DatasetConfig) -> None:
        """Read the data set as the engine will (a big file takes seconds), then check the form again."""
        try:
            found: DataFacts | str = read_facts(cfg)
        except UserError as e:
            found = str(e)
        except Exception as e:  # a file numpy cannot parse must not take the form down
            found = f"cannot read this data set: {e}"
        self.app.call_from_thread(self._data_read, key, found)

    def _data_read(self, key: tuple, found: DataFacts | str) -> None:
        self.data_checks.found[key] = found
        if self.is_attached:
            self.check_form()

    def _show_devices(self, devices: list[tuple[str, bool, str]]) -> None:
        self.query_one(DevicePicker).set_devices(devices)
        self.check_form()

    def set_notice(self, notice: tuple[str, str] | None) -> None:
        """Show (message, severity) in a line under the title, or hide the line (None)."""
        self._notice = notice
        lines = self.query("#setup-notice").results(Static)
        line = next(lines, None)
        if line is None:  # `tuilab --run` starts the run before the form is composed
            return
        line.update(notice[0] if notice else "")
        line.display = notice is not None
        line.set_classes(f"-{notice[1]}" if notice else "")

    # -- reading and checking the form -------------------------------------------------

    def form_values(self) -> dict[str, object]:
        """The raw value of every field, keyed as in form_spec."""
        return {row.spec.key: row.value for row in self.query(FormRow)}

    def check_form(self) -> Experiment | None:
        """Validate, flag bad fields inline, enable Run; the Experiment if the form is valid."""
        values = self.form_values()
        exp, errors = values_to_experiment(values, self.base)
        problem = self.query_one(DevicePicker).problem
        if problem:
            exp, errors["device"] = None, problem
        cfg = form_dataset(values, self.base)
        data_errors = self.data_checks.problems(cfg, str(values["batch_sizes"]), str(values["model.kind"]),
                                                self._read_data) if cfg else {}
        if data_errors:
            exp = None
            for key, message in data_errors.items():
                errors.setdefault(key, message)
        self.query_one("#row-dataset-path", FormRow).set_hint(PATH_HINTS.get(str(values["dataset.kind"]), ""))
        shown = relevant_fields(values)
        for row in self.query(FormRow):
            row.display = row.spec.key in shown
            row.set_error(errors.get(row.spec.key))
        self.query_one("#setup-run", Button).disabled = exp is None
        self.query_one("#setup-status", Static).update(self._status(exp, errors, shown))
        if exp is not None:
            self.app.experiment = exp
        imports = self.query_one("#setup-imports", Static)
        imports.update(self._imports(exp or self.base))
        imports.display = bool((exp or self.base).user_code())
        return exp

    @staticmethod
    def _status(exp: Experiment | None, errors: dict[str, str], shown: set[str]) -> Text:
        if exp is None:
            hidden = [FIELDS[k].label for k in errors if k in FIELDS and k not in shown]
            text = f"{len(errors)} problem(s): fix the fields marked in red"
            if hidden:
                text += f" (also hidden: {', '.join(hidden)})"
            if "form" in errors:
                text += f"; {errors['form']}"
            return Text(text, style="bold red")
        lrs = len(lr_grid(exp.optimizer.lr, exp.optimizer.lr_grid) or (exp.optimizer.lr,))
        lanes = len(exp.batch_sizes) * max(1, len(exp.variants)) * lrs
        model = exp.model.kind + (f" {format_widths(exp.model.hidden)}" if exp.model.kind == "mlp" else "")
        return Text(f"{lanes} lanes · {exp.dataset.name} · {model} · {exp.optimizer.kind} "
                    f"lr {exp.optimizer.lr:g} · {exp.budget.amount:g} {exp.budget.unit} · {exp.device}"
                    + (" · pilot: a tenth of the budget" if exp.pilot else ""))

    @on(Input.Changed)
    @on(Select.Changed)
    @on(Checkbox.Changed)
    @on(RadioSet.Changed)
    def _changed(self) -> None:
        # Mounting the form alone sends ~20 Changed events: check once after the burst, not per event.
        if not self._check_due:
            self._check_due = True
            self.call_later(self._deferred_check)

    def _deferred_check(self) -> None:
        self._check_due = False
        self.check_form()

    # -- actions -------------------------------------------------------------------------

    @on(Button.Pressed, "#setup-run")
    def action_run(self) -> None:
        """Start the run if the form is valid; else refuse and leave the messages in place."""
        exp = self.check_form()
        if exp is None:
            self.notify("Fix the fields marked in red first.", title="Cannot run", severity="error")
            return
        self.app.experiment = exp
        self.app.start_run(exp)

    def load_experiment(self, exp: Experiment) -> None:
        """Fill the form from an experiment (a loaded preset)."""
        self.base = exp
        values = experiment_to_values(exp)
        for row in self.query(FormRow):
            row.value = values[row.spec.key]
        self.query_one("#setup-title", Static).update(self._title())
        self.check_form()

    def action_load(self) -> None:
        def loaded(path: Path | None) -> None:
            if path is None:
                return
            try:
                self.load_experiment(load_preset(path))
            except UserError as e:
                self.notify(str(e), title="Cannot load preset", severity="error")
                return
            self.notify(f"Loaded {path.stem}")

        self.app.push_screen(LoadPresetScreen(), loaded)

    def action_runs(self) -> None:
        """The list of recent runs: reopen one as it ended, or compare two."""
        from tuilab.ui.screens.runs import RunsScreen

        def chosen(choice: tuple[str, ...] | None) -> None:
            if choice and choice[0] == "open":
                self.app.open_run(choice[1])
            elif choice and choice[0] == "compare":
                self.app.compare_runs(choice[1], choice[2])

        self.app.push_screen(RunsScreen(self.app.out_dir), chosen)

    def action_save(self) -> None:
        exp = self.check_form()
        if exp is None:
            self.notify("Fix the fields marked in red first.", title="Cannot save", severity="error")
            return

        def saved(result: tuple[Path, Experiment] | None) -> None:
            if result is not None:
                path, self.base = result
                self.query_one("#setup-title", Static).update(self._title())
                self.notify(f"Saved to {path}")

        self.app.push_screen(SavePresetScreen(exp), saved)
