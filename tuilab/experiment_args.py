"""The experiment a command line names: a preset with the command line's overrides applied.

Shared by `tuilab run` and by the TUI launcher (tuilab/ui/launch.py), so neither
imports the other's entry module.
"""

from __future__ import annotations

import argparse

from tuilab.errors import UserError
from tuilab.presets import (
    Experiment,
    experiment_from_dict,
    load_preset,
    parse_batch_sizes,
    resolve_preset,
)


def load_experiment(args: argparse.Namespace) -> Experiment:
    """The preset named on the command line with the overrides applied, validated."""
    path = resolve_preset(args.preset)
    exp = load_preset(path)
    data = exp.model_dump()
    if args.device:
        data["device"] = args.device
    if args.batch_sizes is not None:
        data["batch_sizes"] = parse_batch_sizes(args.batch_sizes)
    budgets = [(u, getattr(args, u)) for u in ("epochs", "steps", "seconds") if getattr(args, u) is not None]
    if len(budgets) > 1:
        raise UserError("give only one of --epochs, --steps, --seconds")
    if budgets:
        data["budget"] = {"unit": budgets[0][0], "amount": budgets[0][1]}
    if args.seed is not None:
        data["seed"] = args.seed
    if getattr(args, "pilot", False):
        data["pilot"] = True
    if args.backend:
        data["resources"]["backend"] = args.backend
    if args.address:
        data["resources"]["address"] = args.address
    return experiment_from_dict(data, "command line")
