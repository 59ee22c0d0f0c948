"""The one error type a user's mistake turns into: printed as one line, never a traceback."""


class UserError(Exception):
    """Bad input from the user: names the input and what would be valid."""
