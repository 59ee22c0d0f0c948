"""The one error type a user's mistake turns into: printed as one line, never a traceback."""


class UserError(Exception):
    """Bad input from the user: names the input and what would be valid."""


# Exit codes of `tuilab` besides 0 and 128 + a signal (documented in tuilab/cli.py and the README).
EXIT_BAD_INPUT = 2  # a user's mistake: one line on stderr, nothing started
EXIT_RUN_DIR = 3  # the run directory could not be written (disk full, removed, read-only): the run stopped
EXIT_RUN_FAILED = 4  # a fault inside the engine, outside any lane, failed the run
