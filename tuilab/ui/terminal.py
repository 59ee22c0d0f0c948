"""What the terminal can show: `--ascii` and `--truecolor`, and the Linux console's limits.

Over ssh, OpenSSH forwards TERM but not COLORTERM, so Textual sees 256 colours
even in a truecolor terminal: `--truecolor` says so. The Linux console (TERM=linux)
has no braille and few block characters: plots and sparklines use ASCII there,
or anywhere with `--ascii`. NO_COLOR is Textual's own (it drops colour, keeps styles).
Everything here must happen before textual is imported: it reads the colour
system from the environment once, at import.
"""

from __future__ import annotations

import argparse
import os

ASCII_BARS = "_.-:=+*#"  # low to high, one character per level like Spark's block bars


def ascii_only() -> bool:
    """True on the Linux console, or when asked with --ascii (TUILAB_ASCII=1)."""
    return os.environ.get("TUILAB_ASCII") == "1" or os.environ.get("TERM") == "linux"


def add_terminal_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--ascii", action="store_true",
                   help="draw sparklines and plots with ASCII characters (automatic with TERM=linux)")
    p.add_argument("--truecolor", action="store_true",
                   help="use 24-bit colour (ssh does not forward COLORTERM, so it is not detected)")


def apply_terminal_flags(args: argparse.Namespace) -> None:
    """Turn the flags into the environment Textual and the plots read, and pick the sparkline bars."""
    if getattr(args, "truecolor", False):
        os.environ["TEXTUAL_COLOR_SYSTEM"] = "truecolor"
    if getattr(args, "ascii", False):
        os.environ["TUILAB_ASCII"] = "1"  # also read by the Plots screen's markers
    if ascii_only():
        from tuilab.ui.widgets import spark

        spark.BARS = ASCII_BARS
