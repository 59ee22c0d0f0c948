"""tuilab: a batch-size lab for the terminal."""

__version__ = "0.1.0"
