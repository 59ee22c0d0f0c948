"""One row of the Setup form: label, control, what is valid, and an inline error."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Input, Label, Select, Static

from tuilab.ui.widgets.checkbox import MarkedCheckbox
from tuilab.ui.widgets.form_batch import BatchSizePicker
from tuilab.ui.widgets.form_device import DevicePicker
from tuilab.ui.widgets.form_input import FormInput
from tuilab.ui.widgets.form_spec import FieldSpec


def control_id(key: str) -> str:
    """DOM id of a field's control: "optimizer.lr" -> "f-optimizer-lr"."""
    return "f-" + key.replace(".", "-").replace("_", "-")


def _make_control(spec: FieldSpec, value: object):
    cid = control_id(spec.key)
    if spec.kind == "select":
        return Select([(o, o) for o in spec.options], value=value, allow_blank=False,
                      compact=True, id=cid)
    if spec.kind == "switch":
        return MarkedCheckbox("", bool(value), compact=True, id=cid)
    if spec.kind == "batch":
        return BatchSizePicker(str(value), id=cid)
    if spec.kind == "device":
        return DevicePicker(str(value), id=cid)
    return FormInput(str(value), placeholder=spec.hint, compact=True, id=cid)


class FormRow(Vertical):
    """A field of the form; `value` is the control's raw value, `error` its inline message."""

    def __init__(self, spec: FieldSpec, value: object) -> None:
        super().__init__(id="row-" + control_id(spec.key)[2:], classes=f"form-row -{spec.kind}")
        self.spec = spec
        self.control = _make_control(spec, value)

    def compose(self) -> ComposeResult:
        with Horizontal(classes="form-line"):
            yield Label(self.spec.label, classes="form-label")
            yield self.control
            if self.spec.kind in ("input", "select", "switch"):
                yield Static(self.spec.hint, classes="form-hint")
        yield Static("", classes="form-error")

    @property
    def value(self) -> object:
        return self.control.value

    @value.setter
    def value(self, value: object) -> None:
        self.control.value = value

    def set_hint(self, hint: str) -> None:
        """What is valid here, when it depends on other fields (a path: a CSV file or an IDX directory)."""
        hint = hint or self.spec.hint
        self.query_one(".form-hint", Static).update(hint)
        if isinstance(self.control, Input):
            self.control.placeholder = hint

    def set_error(self, message: str | None) -> None:
        """Show (or clear) the message under the field; the row turns red while it is set."""
        self.query_one(".form-error", Static).update(message or "")
        self.set_class(bool(message), "-invalid")
