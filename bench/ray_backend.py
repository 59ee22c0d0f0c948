"""Benchmark: a six-lane preset in-process against the Ray backend on this machine.

Both run the same experiment (same seed, so the same per-lane metrics); the Ray
run starts a local Ray for itself, as `tuilab run --backend ray` does, and its
wall time is given with and without that start. Also measured: what crosses
the wire from actors to the driver (pickled bytes per event, events per lane)
and one driver poll's round trip to every actor, the figures docs/scale.md
scales to 64 lanes.

    python bench/ray_backend.py [--preset noise-sqrt] [--reps 2] [--cpus-per-lane 1]
"""

from __future__ import annotations

import argparse
import pickle
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import machine, median, table  # noqa: E402

from tuilab.engine.control import Control  # noqa: E402
from tuilab.engine.events import LaneProgress  # noqa: E402
from tuilab.engine.run import prepare, run_plan  # noqa: E402
from tuilab.presets import experiment_from_dict, load_preset, resolve_preset  # noqa: E402


def _experiment(name: str, backend: str, cpus: float):
    data = load_preset(resolve_preset(name)).model_dump(exclude_none=True)
    data["device"] = "cpu"
    data["resources"] = {**data.get("resources", {}), "backend": backend, "cpus_per_lane": cpus}
    return experiment_from_dict(data)


def in_process(name: str) -> float:
    t0 = time.perf_counter()
    list(run_plan(prepare(_experiment(name, "inprocess", 1)), Control()))
    return time.perf_counter() - t0


def on_ray(name: str, cpus: float) -> tuple[float, float, list]:
    """(wall with Ray's start, Ray's start alone, the events)."""
    import ray

    from tuilab.engine.raylanes import RayLanes

    t0 = time.perf_counter()
    plan = prepare(_experiment(name, "ray", cpus))
    ray.init(num_cpus=max(1, int(len(plan.lanes) * cpus + 0.999)), include_dashboard=False,
             log_to_driver=False)
    t_ray = time.perf_counter() - t0
    try:
        events = list(RayLanes(plan, Control()).events())
    finally:
        ray.shutdown()
    return time.perf_counter() - t0, t_ray, events


def poll_round_trip(lanes: int, polls: int = 50) -> float:
    """Median seconds of one poll of `lanes` idle actors (every take() asked at once)."""
    import ray

    @ray.remote(num_cpus=0)
    class Idle:
        def take(self):
            return [], False, None

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        actors = [Idle.remote() for _ in range(lanes)]
        ray.get([a.take.remote() for a in actors])
        times = []
        for _ in range(polls):
            t0 = time.perf_counter()
            ray.get([a.take.remote() for a in actors])
            times.append(time.perf_counter() - t0)
        return statistics.median(times)
    finally:
        ray.shutdown()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="noise-sqrt")
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--cpus-per-lane", type=float, default=1.0)
    args = ap.parse_args(argv)
    print(machine())
    inproc, ray_wall, ray_start, events = [], [], [], []
    for _ in range(args.reps):  # alternate, so a change in the machine's load hits both
        inproc.append(in_process(args.preset))
        wall, start, events = on_ray(args.preset, args.cpus_per_lane)
        ray_wall.append(wall)
        ray_start.append(start)
    progress = [e for e in events if isinstance(e, LaneProgress)]
    lanes = len({e.lane for e in progress})
    size = statistics.mean(len(pickle.dumps(e)) for e in progress)
    polls = {n: poll_round_trip(n) for n in (6, 64)}
    print(table(["", "median s", "runs"], [
        ["in-process", f"{median(inproc):.1f}", " ".join(f"{x:.1f}" for x in inproc)],
        ["ray (with its start)", f"{median(ray_wall):.1f}", " ".join(f"{x:.1f}" for x in ray_wall)],
        ["ray start alone", f"{median(ray_start):.1f}", " ".join(f"{x:.1f}" for x in ray_start)],
    ]))
    print(f"{len(progress)} LaneProgress events from {lanes} lanes ({len(progress) / lanes:.0f} a lane), "
          f"{size:.0f} bytes pickled each")
    print("driver poll round trip (idle actors): "
          + ", ".join(f"{n} actors {t * 1e3:.1f} ms" for n, t in polls.items()))
    print(f"ray/in-process wall: {median(ray_wall) / median(inproc):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
