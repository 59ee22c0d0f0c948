"""What the lab tells a person as it opens: the last run was cut short, or is still training.

A dropped ssh connection ends an interactive run (its directory keeps what was
measured); the next `tuilab` in that directory says so and how to look at it.
Only the newest run is considered, so the notice goes away with the next run.
"""

from __future__ import annotations

import os

from tuilab.engine.store import recent_runs


def launch_notice(out_dir: str | os.PathLike) -> tuple[str, str] | None:
    """(message, severity) about the newest run under out_dir, or None when there is nothing to say."""
    newest = recent_runs(out_dir, limit=1)
    if not newest:
        return None
    run_dir, status = newest[0]
    if status == "interrupted":
        return (f"The last run was interrupted; what it measured is kept in {run_dir}. "
                f"See it with: tuilab watch {run_dir}", "warning")
    if status == "cut off":
        return (f"The last run was cut off (its process ended without a summary); its metrics are "
                f"kept in {run_dir}. See them with: tuilab watch {run_dir}", "warning")
    if status == "running":
        return f"Another process is training a run; follow it with: tuilab watch {run_dir}", "information"
    return None


def show_launch_notices(app) -> None:
    """Notify `app` (a TuilabApp, on mount) about the newest run in its output directory."""
    notice = launch_notice(app.out_dir)
    if notice is not None:
        app.notify(notice[0], severity=notice[1], timeout=20)
