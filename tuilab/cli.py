"""Command line: `tuilab [PRESET] [--run]` opens the lab; subcommands run headless.

Exit codes (tuilab/errors.py):
  0    done (lanes that diverged or failed are results, not errors)
  2    a mistake of the user: one line on stderr, nothing started
  3    the run directory could not be written (disk full, removed, not writable):
       the run stopped, what was written before is kept, `--json` still prints the summary
  4    a fault inside the engine outside any lane failed the run (traceback in RUN_DIR/errors.log)
  130  Ctrl-C (128 + the signal for SIGTERM, SIGHUP): interrupted, its run directory kept
"""

from __future__ import annotations

import argparse
import math
import sys

from tuilab import __version__
from tuilab.errors import EXIT_BAD_INPUT, UserError
from tuilab.experiment_args import load_experiment
from tuilab.ui.terminal import add_terminal_flags, apply_terminal_flags

SUBCOMMANDS = ("run", "watch", "compare", "presets", "devices", "runs", "export")


class _Parser(argparse.ArgumentParser):
    """argparse that raises UserError instead of printing usage and exiting."""

    def error(self, message: str):
        # main() prints "tuilab: " before it: naming the command again read "tuilab: tuilab export: ...".
        raise UserError(f"{message} (see {self.prog} -h)")


def _budget(text: str) -> float:
    """A budget amount: a finite number above 0 (argparse names the option in its message)."""
    try:
        v = float(text)
    except ValueError:
        v = math.nan
    if not (math.isfinite(v) and v > 0):
        raise argparse.ArgumentTypeError(f"{text!r} is not valid; give a number > 0, e.g. 5")
    return v


def _add_overrides(p: argparse.ArgumentParser) -> None:
    p.add_argument("preset", nargs="?", default="quickstart", help="preset file or name (default: quickstart)")
    p.add_argument("--device", help="auto, cpu, cuda, cuda:N or mps")
    p.add_argument("--batch-sizes", help="comma-separated, e.g. 8,32,128 or full")
    p.add_argument("--epochs", type=_budget, help="budget: N epochs for every lane (one of --epochs, --steps, --seconds)")
    p.add_argument("--steps", type=_budget, help="budget: N optimizer steps for every lane")
    p.add_argument("--seconds", type=_budget, help="budget: N seconds of each lane's own training time")
    p.add_argument("--seed", type=int, help="seed of data, initial weights and minibatch order")
    p.add_argument("--pilot", action="store_true",
                   help="a tenth of the budget: measure throughput and the noise scale, predict the best batch size")
    p.add_argument("--backend", choices=("inprocess", "ray"), help="where lanes train: this process, or Ray actors")
    p.add_argument("--address", help="with --backend ray: an existing Ray cluster (default: a local Ray for the run)")


def build_parser() -> dict[str, argparse.ArgumentParser]:
    tui = _Parser(prog="tuilab", description="A batch-size lab for the terminal. "
                  f"Subcommands: {', '.join(SUBCOMMANDS)} (tuilab SUBCOMMAND -h).")
    _add_overrides(tui)
    tui.add_argument("--run", action="store_true", help="start the run at once")
    tui.add_argument("--version", action="version", version=f"tuilab {__version__}")
    add_terminal_flags(tui)
    run = _Parser(prog="tuilab run", description="Run an experiment headless; progress on stderr.")
    _add_overrides(run)
    run.add_argument("--out", default="runs", help="where run directories go (default: runs)")
    run.add_argument("--json", action="store_true", help="print the summary as one JSON object on stdout")
    run.add_argument("--detach", action="store_true", help="run in the background, print the run directory, return")
    run.add_argument("--into", help=argparse.SUPPRESS)  # an existing run directory (used by --detach)
    watch = _Parser(prog="tuilab watch", description="Follow a run another process is writing.")
    watch.add_argument("run_dir")
    add_terminal_flags(watch)
    compare = _Parser(prog="tuilab compare", description="Two finished runs' charts overlaid, their answers side by side.")
    compare.add_argument("run_a")
    compare.add_argument("run_b")
    add_terminal_flags(compare)
    runs = _Parser(prog="tuilab runs", description="List recent runs with their status.")
    runs.add_argument("--out", default="runs")
    export = _Parser(prog="tuilab export", description="Export a run's lane as a plain PyTorch script, or its metrics as CSV.")
    export.add_argument("run_dir")
    export.add_argument("--lane", type=int, help="batch size of the lane to export as a script")
    export.add_argument("--label", help="variant label, when several lanes share the batch size")
    export.add_argument("--csv", action="store_true", help="write metrics as CSV")
    export.add_argument("-o", "--output", help="file to write; --csv: default stdout; --lane: default "
                        "RUN_DIR/train_bB.py (a script needs its data file, written beside it as .pt)")
    return {"": tui, "run": run, "watch": watch, "compare": compare, "runs": runs, "export": export,
            "presets": _Parser(prog="tuilab presets"), "devices": _Parser(prog="tuilab devices")}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parsers = build_parser()
    cmd = argv[0] if argv and argv[0] in SUBCOMMANDS else ""
    try:
        args = parsers[cmd].parse_args(argv[1:] if cmd else argv)
        if cmd == "run" and args.detach:
            from tuilab.detach import detach

            return detach(load_experiment(args), args)
        if cmd == "run":
            from tuilab.headless import run_headless

            return run_headless(load_experiment(args), args)
        if cmd == "presets":
            from tuilab.listing import print_presets

            return print_presets()
        if cmd == "devices":
            from tuilab.listing import print_devices

            return print_devices()
        if cmd == "runs":
            from tuilab.listing import print_runs

            return print_runs(args.out)
        if cmd == "export":
            from tuilab.export import export_main

            return export_main(args)
        if cmd in ("", "watch", "compare"):
            apply_terminal_flags(args)  # before textual is imported: it reads the colours once
        if cmd == "watch":
            from tuilab.ui.launch import watch

            return watch(args.run_dir)
        if cmd == "compare":
            from tuilab.ui.launch import compare

            return compare(args.run_a, args.run_b)
        from tuilab.ui.launch import open_lab

        return open_lab(args)
    except UserError as e:
        print(f"tuilab: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
