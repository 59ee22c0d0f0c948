"""Lanes as Ray actors: each lane trains in its own process (on its own device), the driver merges.

The driver (the app's worker or `tuilab run`) keeps what it has in-process: the
run directory, the event fold (RunRecord) and the run-level measurements at the
initial weights. Each lane is a `LaneActor` that rebuilds the same plan from the
same experiment (same seed, so the same data split and initial weights) and runs
`run_plan` for its one lane; the driver collects its events in batches a few
times a second and yields them as one stream. A lane whose actor dies is a
failed lane; a stop request stops every actor, and a Ray started for the run is
shut down when the run ends, however it ends.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

from tuilab.engine.control import Control
from tuilab.engine.events import (
    Event,
    LaneFailed,
    NoiseSlope,
    RunFinished,
    RunStarted,
)
from tuilab.engine.record import RunRecord
from tuilab.errors import UserError

POLL_SECONDS = 0.25  # how often the driver collects the actors' events (the UI draws at 4 Hz anyway)
LANE_EVENTS = (RunStarted, RunFinished)  # run-level events an actor's own run_plan makes; the driver's count


def import_ray():
    """ray, or a UserError that says how to get it."""
    try:
        import ray
    except ImportError:
        raise UserError("--backend ray needs Ray: pip install 'tuilab[ray]' (or pip install ray)") from None
    return ray


class LaneActor:
    """One lane of an experiment, trained in a Ray worker process. Threaded: `run` blocks one
    thread while `take` and `stop` answer from another."""

    def __init__(self, exp_data: dict[str, Any], lane: int, threads: int, rank: int = 0) -> None:
        import torch

        from tuilab.presets import experiment_from_dict

        torch.set_num_threads(max(1, threads))
        self.exp = experiment_from_dict(exp_data)
        self.lane = lane
        self.rank = rank  # a DDP lane's worker; only worker 0 reports
        self.control = Control()
        self.plan = None
        self._pending: list[Event] = []
        self._lock = threading.Lock()
        self._done = False
        self._error: str | None = None

    def rendezvous(self) -> str:
        """Worker 0 of a DDP lane: the address the lane's workers meet at."""
        from tuilab.engine.ddp import rendezvous_address

        return rendezvous_address()

    def run(self, address: str | None = None) -> None:
        """Train the lane; with `address`, as one of `workers_per_lane` DDP workers."""
        from tuilab.engine import ddp
        from tuilab.engine.run import prepare, run_plan

        try:
            self.plan = prepare(self.exp)
            if address is not None:
                ddp.join(self.plan.lanes[self.lane], self.rank, self.exp.resources.workers_per_lane, address)
            for ev in run_plan(self.plan, self.control, lanes=[self.lane], slopes=False):
                if self.rank == 0 and not isinstance(ev, LANE_EVENTS):
                    with self._lock:
                        self._pending.append(ev)
        except Exception as e:  # reported as this lane's failure by the driver
            self._error = f"{type(e).__name__}: {e}".splitlines()[0]
        finally:
            ddp.leave()
            self._done = True

    def take(self) -> tuple[list[Event], bool, str | None]:
        """Events since the last call, whether the lane's run has ended, and its error if any."""
        with self._lock:
            events, self._pending = self._pending, []
        return events, self._done and not self._pending, self._error

    def stop(self) -> None:
        self.control.stop.set()

    def slope(self, at: str, seed: int) -> NoiseSlope:
        """The measured noise law at this lane's current parameters (the run's final slope)."""
        from tuilab.engine.run import measure_slope

        lane = self.plan.lanes[self.lane]
        return measure_slope(self.plan, lane, at, seed)


class RayLanes:
    """Drive a prepared plan's lanes as Ray actors; `events()` is the run's one event stream."""

    def __init__(self, plan, control: Control) -> None:
        self.plan = plan
        self.control = control
        self.workers: dict[tuple[int, int], Any] = {}  # (lane, rank) -> actor: every process of the run
        self._ray = import_ray()

    @property
    def actors(self) -> dict[int, Any]:
        """Lane index -> its worker 0, the one that reports (tests kill one)."""
        return {lane: actor for (lane, rank), actor in self.workers.items() if rank == 0}

    def _start_ray(self) -> bool:
        """Connect to `address`, or start a local Ray for this run; True when we started it."""
        ray = self._ray
        if ray.is_initialized():
            return False
        res = self.plan.exp.resources
        if res.address:
            ray.init(address=res.address, include_dashboard=False, log_to_driver=False)
        else:  # room for every worker of every lane, or some would wait for CPUs forever
            workers = len(self.plan.lanes) * res.workers_per_lane
            ray.init(num_cpus=max(1, int(workers * res.cpus_per_lane + 0.999)), include_dashboard=False,
                     log_to_driver=False)
        return True

    def _spawn(self) -> None:
        ray = self._ray
        res = self.plan.exp.resources
        gpus = res.gpus_per_lane or (1.0 if self.plan.exp.device == "cuda:all" else 0.0)
        remote = ray.remote(max_concurrency=4)(LaneActor).options(num_cpus=res.cpus_per_lane, num_gpus=gpus)
        data = self.plan.exp.model_dump(mode="json", exclude_none=True)
        if data["device"] == "cuda:all":
            data["device"] = "cuda"  # Ray gives each actor its GPU(s) as cuda:0..
        threads = max(1, int(res.cpus_per_lane))
        n = res.workers_per_lane
        for lane in self.plan.lanes:
            ranks = [remote.remote(data, lane.index, threads, rank) for rank in range(n)]
            address = ray.get(ranks[0].rendezvous.remote()) if n > 1 else None
            for rank, actor in enumerate(ranks):
                actor.run.remote(address)
                self.workers[(lane.index, rank)] = actor

    def events(self) -> Iterator[Event]:
        from tuilab.engine.run import initial_slope

        ray = self._ray
        t0 = time.perf_counter()
        record = RunRecord()
        started_here = self._start_ray()

        def emit(ev: Event) -> Event:
            record.apply(ev)
            return ev

        try:
            self._spawn()
            yield emit(self.plan.started)
            if not self.control.stop.is_set():
                yield emit(initial_slope(self.plan, self.control))
            yield from (emit(ev) for ev in self._merge(record))
            interrupted = self.control.stop.is_set()
            if not interrupted:
                end = self._final_slope(record)
                if end is not None:
                    yield emit(end)
                interrupted = self.control.stop.is_set()  # a quit during the final slope, as in-process
            summary = record.summary(self.plan.exp, interrupted)
            yield emit(RunFinished(interrupted, time.perf_counter() - t0, summary, cancelled=self.control.cancelled))
        finally:
            for actor in self.workers.values():
                try:
                    ray.kill(actor)
                except Exception:  # already dead
                    pass
            if started_here:
                ray.shutdown()

    def _merge(self, record: RunRecord) -> Iterator[Event]:
        """Collect every live actor's events until all lanes ended; pass a stop request on.

        A lane ends when all its workers have; one that dies or fails fails the lane,
        and its other workers are ended (they would wait on it in DDP's all-reduce).
        """
        ray = self._ray
        live = dict(self.workers)
        stopping = False
        while live:
            if self.control.stop.is_set() and not stopping:
                stopping = True
                for actor in live.values():
                    actor.stop.remote()
            # Ask every actor at once, then read the answers: one round trip per poll, not one per lane.
            asked = {key: actor.take.remote() for key, actor in live.items()}
            for (index, rank), ref in asked.items():
                if (index, rank) not in live:  # its lane failed earlier in this poll
                    continue
                try:
                    events, done, error = ray.get(ref)
                except ray.exceptions.RayError as e:  # the actor (or its node) died
                    done, error, events = True, f"its Ray actor died ({type(e).__name__})", []
                yield from events
                if done:
                    del live[(index, rank)]
                    if error:
                        yield self._lost(record, index, error)
                        for key in [k for k in live if k[0] == index]:
                            ray.kill(live.pop(key))
            if live:
                time.sleep(POLL_SECONDS)

    def _lost(self, record: RunRecord, index: int, reason: str) -> LaneFailed:
        r = record.lanes[index]
        return LaneFailed(index, "error", reason, r.steps, r.examples, r.seconds)

    def _final_slope(self, record: RunRecord) -> NoiseSlope | None:
        """The noise law at the best finished lane's parameters, measured in that lane's actor."""
        from tuilab.engine.run import best_finished_lane, final_slope_at

        best = best_finished_lane(self.plan, record)
        if best is None:
            return None
        at = final_slope_at(record, best)
        try:
            return self._ray.get(self.actors[best.index].slope.remote(at, self.plan.exp.seed + 18))
        except self._ray.exceptions.RayError as e:
            return NoiseSlope(at, None, None, (), note=f"not measured: its Ray actor died ({type(e).__name__})")


def run_on_ray(plan, control: Control) -> Iterator[Event]:
    """The run's events, each lane trained by a Ray actor (see RayLanes); [resources] says where."""
    return RayLanes(plan, control).events()



