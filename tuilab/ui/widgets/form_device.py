"""The device choice: "auto", then the devices this machine has; the others disabled, with why.

The list comes from the app (app.available_devices(), which imports torch), so it
arrives a moment after the first frame; until then only "auto" and the
experiment's own device are offered.
"""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import RadioSet

from tuilab.ui.widgets.checkbox import MarkedRadioButton

Device = tuple[str, bool, str]  # (device, usable, description or reason it is not)
AUTO: Device = ("auto", True, "the first GPU, else cpu")


class DevicePicker(Vertical):
    """`value` is the chosen device string; `problem` says why it cannot be used, if so."""

    def __init__(self, device: str, id: str | None = None) -> None:
        super().__init__(id=id)
        self._value = device
        self._devices: list[Device] | None = None  # None: not known yet

    def compose(self) -> ComposeResult:
        yield self._radio_set()

    def _options(self) -> list[Device]:
        known = [AUTO] + (self._devices or [])
        if self._value in {d for d, _, _ in known}:
            return known
        if self._devices is None:
            known.append((self._value, True, "checking devices…"))
        elif self._value == "cuda" and any(d.startswith("cuda:") and ok for d, ok, _ in known):
            known.append(("cuda", True, "the first GPU"))
        else:
            known.append((self._value, False, "not found on this machine"))
        return known

    def _radio_set(self) -> RadioSet:
        buttons = [MarkedRadioButton(f"{dev} — {text}", dev == self._value, name=dev, disabled=not ok)
                   for dev, ok, text in self._options()]
        return RadioSet(*buttons, compact=True)

    def _rebuild(self) -> None:
        had_focus = self.has_focus_within
        self.query(RadioSet).remove()
        radio_set = self._radio_set()
        self.mount(radio_set)
        if had_focus:
            radio_set.focus()

    def set_devices(self, devices: list[Device]) -> None:
        """Show what the machine really has (from app.available_devices())."""
        self._devices = list(devices)
        self._rebuild()

    @property
    def value(self) -> str:
        return self._value

    @value.setter
    def value(self, device: str) -> None:
        self._value = device
        self._rebuild()

    @property
    def problem(self) -> str | None:
        """Why the chosen device cannot be used here, or None."""
        for dev, ok, text in self._options():
            if dev == self._value and not ok:
                return f"device {dev!r} is not available here ({text}); pick another"
        return None

    @on(RadioSet.Changed)
    def _pressed(self, event: RadioSet.Changed) -> None:
        self._value = event.pressed.name or "auto"
