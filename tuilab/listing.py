"""`tuilab presets`, `tuilab devices`, `tuilab runs`: short tables on stdout."""

from __future__ import annotations

import json
import os
from pathlib import Path

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


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def run_status(run_dir: Path) -> str:
    """finished, interrupted, running (its writer is alive) or cut off (no summary, writer gone)."""
    try:
        summary = json.loads((run_dir / "summary.json").read_text())
        return "interrupted" if summary.get("interrupted") else "finished"
    except (OSError, ValueError):
        pass
    try:
        env = json.loads((run_dir / "env.json").read_text())
        if _alive(int(env["pid"])):
            return "running"
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return "cut off"


def recent_runs(base: str | os.PathLike, limit: int = 20) -> list[tuple[Path, str]]:
    """Newest run directories under base, with their status."""
    b = Path(base)
    if not b.is_dir():
        return []
    # Names start with the start time, so name order is start order.
    dirs = sorted((d for d in b.iterdir() if (d / "metrics.jsonl").is_file()),
                  key=lambda d: d.name, reverse=True)[:limit]
    return [(d, run_status(d)) for d in dirs]


def print_runs(base: str) -> int:
    runs = recent_runs(base)
    if not runs:
        print(f"no runs under {base}/")
        return 0
    t = Table("run directory", "status")
    colours = {"finished": "green", "running": "cyan", "interrupted": "yellow", "cut off": "red"}
    for d, status in runs:
        t.add_row(str(d), f"[{colours[status]}]{status}[/]")
    Console().print(t)
    return 0
