"""`tuilab presets`, `tuilab devices`, `tuilab runs`: short tables on stdout."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from tuilab.errors import UserError


def print_presets() -> int:
    """A line a preset (the description cut to the terminal), then where they live and what is broken.

    Paths and error messages are printed whole, on lines of their own: a table
    column cut them ("…/tuilab/ship…") at 80 columns.
    """
    from tuilab.presets import SHIPPED_DIR, list_presets, load_preset, user_preset_dir

    presets = list_presets()
    width = max((len(n) for n, _, _ in presets), default=4)
    console, broken = Console(), []
    console.print(f"{'name':<{width}}  kind     description", style="bold", no_wrap=True, overflow="ellipsis")
    for name, path, shipped in presets:
        try:
            desc = load_preset(path).description
        except UserError as e:
            desc = "broken (below)"
            broken.append(f"broken: {path}: {e}")
        line = f"{name:<{width}}  {'shipped' if shipped else 'user':<7}  {desc}"
        console.print(line, no_wrap=True, overflow="ellipsis", markup=False, highlight=False)
    print(f"shipped presets: {SHIPPED_DIR}\nyour presets:    {user_preset_dir()}\n"
          "open one with: tuilab NAME (or the path of a .toml file)", *broken, sep="\n")
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
