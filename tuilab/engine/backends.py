"""Where a prepared plan's lanes train: in this process (run_plan) or as Ray actors (raylanes)."""

from __future__ import annotations

from collections.abc import Iterator

from tuilab.engine.control import Control
from tuilab.engine.events import Event
from tuilab.errors import UserError
from tuilab.presets import Experiment


def check_resources(exp: Experiment) -> None:
    """Refuse settings that need the Ray backend, or Ray itself, before anything is loaded."""
    res = exp.resources
    if res.backend == "inprocess":
        if exp.device == "cuda:all":
            raise UserError("device 'cuda:all' puts one lane on each GPU as Ray actors; "
                            "use --backend ray (or [resources] backend = \"ray\"), or a single device")
        if res.workers_per_lane > 1:
            raise UserError(f"[resources] workers_per_lane = {res.workers_per_lane} runs DDP workers as Ray "
                            "actors; use --backend ray, or workers_per_lane = 1")
        return
    if res.workers_per_lane > 1 and exp.budget.unit == "seconds":
        # Each worker's clock is its own: on a seconds budget they would stop after different
        # steps and wait for each other in DDP's all-reduce.
        raise UserError(f"[resources] workers_per_lane = {res.workers_per_lane} needs an epochs or steps "
                        "budget (DDP workers must take the same steps); not seconds")
    from tuilab.engine.raylanes import import_ray

    import_ray()


def lane_events(plan, control: Control) -> Iterator[Event]:
    """The run's event stream, from the backend its experiment names."""
    res = plan.exp.resources
    if res.backend == "ray":
        from tuilab.engine.raylanes import run_on_ray

        return run_on_ray(plan, control)
    from tuilab.engine.run import run_plan

    return run_plan(plan, control)
