"""`tuilab presets`, `tuilab devices`, `tuilab runs`: short tables on stdout."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from tuilab.errors import UserError


def print_presets() -> int:
    from tuilab.presets import list_presets, load_preset, user_preset_dir

    t = Table("name", "kind", "description", "path", title=f"presets (yours in {user_preset_dir()})")
    for name, path, shipped in list_presets():
        try:
            desc = load_preset(path).description
        except UserError as e:
            desc = f"[red]broken: {e}[/]"
        t.add_row(name, "shipped" if shipped else "user", desc, str(path))
    Console().print(t)
    return 0


def print_devices() -> int:
    from tuilab.engine.devices import available_devices

    t = Table("device", "usable", "what")
    for dev, ok, what in available_devices():
        t.add_row(dev, "yes" if ok else "[red]no[/]", what)
    Console().print(t)
    return 0


def print_runs(base: str) -> int:
    """Recent runs under base with their status (statuses: tuilab.engine.store.RunStatus)."""
    from tuilab.engine.store import RunStatus, recent_runs

    runs = recent_runs(base)
    if not runs:
        print(f"no runs under {base}/")
        return 0
    t = Table("run directory", "status")
    colours = {RunStatus.FINISHED: "green", RunStatus.RUNNING: "cyan", RunStatus.INTERRUPTED: "yellow",
               RunStatus.CANCELLED: "yellow", RunStatus.FAILED: "red", RunStatus.CUT_OFF: "red"}
    for d, status in runs:
        t.add_row(str(d), f"[{colours[status]}]{status}[/]")
    Console().print(t)
    return 0
