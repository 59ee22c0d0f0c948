"""A stand-in for TuilabApp that hosts SetupScreen and records what it is asked to do.

It keeps the app side of the Setup contract: `experiment`, `start_run(experiment)`
and `available_devices()`. Shared by the Setup and Presets tests (no tests here).
"""

from __future__ import annotations

from pathlib import Path

from textual.app import App

from tuilab.presets import Experiment, load_preset
from tuilab.ui.screens.setup import SetupScreen

TCSS = Path(__file__).resolve().parents[2] / "tuilab" / "ui" / "tuilab.tcss"
SHIPPED = Path(__file__).resolve().parents[2] / "presets"
CPU_ONLY = [("cpu", True, "CPU, 8 threads"), ("cuda", False, "torch was built without CUDA")]


def quickstart() -> Experiment:
    return load_preset(SHIPPED / "quickstart.toml")


class SetupTestApp(App):
    """Hosts SetupScreen; start_run only records the experiments it is given."""

    CSS_PATH = TCSS

    def __init__(self, experiment: Experiment | None = None,
                 devices: list[tuple[str, bool, str]] | None = None) -> None:
        super().__init__()
        self.experiment = experiment or quickstart()
        self.devices = CPU_ONLY if devices is None else devices
        self.runs: list[Experiment] = []

    def on_mount(self) -> None:
        self.push_screen(SetupScreen(self.experiment))

    def available_devices(self) -> list[tuple[str, bool, str]]:
        return self.devices

    def start_run(self, experiment: Experiment) -> None:
        self.runs.append(experiment)
