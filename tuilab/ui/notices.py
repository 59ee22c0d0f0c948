"""What the lab tells a person as it opens: the last run was cut short, or is still training.

A dropped ssh connection ends an interactive run (its directory keeps what was
measured); the next `tuilab` in that directory says so and how to look at it, in
a line of the Setup screen (a toast would cover the form and follow every screen).
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
    # The command on a line of its own: a path is never broken across lines at 80 columns.
    if status == "interrupted":
        return f"The last run was interrupted; what it measured is kept. See it with:\n  tuilab watch {run_dir}", "warning"
    if status == "cut off":
        return f"The last run was cut off; its metrics are kept. See them with:\n  tuilab watch {run_dir}", "warning"
    if status == "running":
        return f"Another process is training a run. Follow it with:\n  tuilab watch {run_dir}", "information"
    return None

