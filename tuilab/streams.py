"""Leaving the process when its terminal may be gone (SIGHUP, a dropped ssh connection)."""

from __future__ import annotations

import os
import sys


def quiet_if_gone() -> None:
    """Flush stdout and stderr; point one at /dev/null if its terminal hung up.

    Flushing a stream whose terminal went away raises OSError (EIO); at exit, or
    just before os._exit, that would print a traceback or skip the exit itself.
    """
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            try:
                os.dup2(os.open(os.devnull, os.O_WRONLY), stream.fileno())
            except (OSError, ValueError):
                pass
