"""`tuilab run --detach`: validate here, then train in a new session that outlives ssh.

The parent checks every input (so a typo still exits 2 at once), makes the run
directory, starts `tuilab run --into DIR` in its own session (setsid: a closing
ssh connection's SIGHUP never reaches it), prints the directory and returns.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

from tuilab.presets import Experiment


def detach(exp: Experiment, args: argparse.Namespace) -> int:
    """Start `exp` training in its own session; print its run directory and return 0."""
    from tuilab.engine.run import prepare
    from tuilab.engine.store import DETACH_LOG, EXPERIMENT, RunStore

    prepare(exp)  # raises UserError for bad input before anything starts
    store = RunStore.create(args.out, exp)
    store.close()
    cmd = [sys.executable, "-m", "tuilab.cli", "run", str(store.path / EXPERIMENT), "--into", str(store.path)]
    with open(store.path / DETACH_LOG, "ab") as log:  # the child has its own copy of the descriptor
        child = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                 start_new_session=True, env={**os.environ, "TUILAB_DETACHED": "1"})
    store.set_writer_pid(child.pid)  # so `tuilab runs` sees it running from this moment
    print(store.path)
    print(f"training in the background (pid {child.pid}); follow it with: tuilab watch {store.path}",
          file=sys.stderr)
    return 0
