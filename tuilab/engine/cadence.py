"""Which reports measure: a cost model in counts, and a budget that keeps measuring near a share.

Measuring (the train loss on R, the test set, gradient noise, the noise slopes, the final
loss surface) must cost at most `measure.share` of the wall time. Deciding from timers would
make which reports carry a measurement depend on the machine's load, and the same seed would
no longer give the same metrics; so the decision is made from counts alone, through the cost
model below, in *model seconds*: seconds of one CPU thread of the machine the constants were
calibrated on (`bench/measurement_cost.py --calibrate`; docs/measurements.md gives the model
and the calibration).

- one forward pass of one example: w = F_mm / RATE + F_conv / CONV_RATE (the model's forward
  FLOPs per example in matrix products and in convolutions, counted by torch's FLOP counter);
- a training step at batch size B: C + 3 B w, where C, the fixed cost of a step's Python,
  dispatch and optimizer, is the sum over the model's leaf modules of LAYER_CALL (a linear
  layer, a convolution, anything else);
- evaluating n examples: chunks x C + EVAL_PASSES n w (the loss summed in float64, the
  accuracy, eval mode: dearer per example than a training forward);
- per-example noise on a probe of M examples and a reference set R: the mean gradient over R
  (as a step of |R| examples per chunk) + chunks x VMAP_CALL + M x P x ELEMENT (the (M, P)
  per-example gradients, P parameters, are memory-bound);
- two-batch noise: K steps at b and K at B;
- a noise slope: the mean gradient over the N training examples + K steps at each B < N;
- a lane's loss surface at the end: SURFACE_ITERATIONS Hessian-vector products (HVP_STEPS
  gradients each) and SLICE_POINTS evaluations, on the first `surface_rows` of R: as many
  (1024 down to 128) as keep all lanes' surfaces within SURFACE_SHARE of the training; where
  even 128 rows do not, only as many lanes as fit get one (at least one): the first lane of
  each batch size first, then the others in lane order.

A lane's first and last reports always measure everything. In between, a report evaluates
(and at every noise_every-th such report measures noise) only if the lane's modelled
measurement cost, with this report's, stays within its allowance: its share of the mean
lane's modelled training cost up to the same point of the budget (equal allowances, so every
lane's curve is equally dense), the share being `measure.share` less what the measurements
that are always made (the first and last reports, the slopes, the loss surfaces) are
modelled to cost against all the training, and never below MIN_SHARE.
A report that would not evaluate is not made at all (the lane trains on to the next mark).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch.utils.flop_counter import FlopCounterMode

from tuilab.engine.evaluate import eval_mode
from tuilab.engine.noise import no_trace

# Constants fitted on one thread of an AMD EPYC core (quickstart and seed-classic; see
# docs/measurements.md for the fit and its residuals).
LAYER_CALL = {"linear": 75e-6, "conv": 300e-6, "other": 20e-6}  # s per leaf module of a step
EVAL_PASSES = 1.5  # forward passes one evaluated example costs
VMAP_CALL = 0.8e-3  # s: one chunk of per-example gradients (vmap's tracing and batching rules)
RATE = 80e9  # FLOP/s of matrix products
CONV_RATE = 12e9  # FLOP/s of convolutions
ELEMENT = 5.3e-9  # s per element of the (M, P) per-example gradient tensor and its passes over it
HVP_STEPS = 3  # a Hessian-vector product (double backward) costs about 3 gradients
CHUNK = 8192  # rows per chunk of evaluate, mean_gradient and the Hessian-vector product
PROBE_CHUNK = 256  # rows per chunk of per-example gradients
SURFACE_ITERATIONS = 20  # power iterations of the sharpness (engine/sharpness.py)
SLICE_POINTS = 21  # evaluations of the loss slice (engine/landscape.py)
# The loss surface (20+ Hessian-vector products, 21 evaluations per lane) is measured on the
# first rows of R, a random subset already: the sharpness on 1024 rows is within ~1 % of all
# of R's on the shipped presets, on 256 within ~2 % (docs/measurements.md).
SURFACE_ROWS = (1024, 512, 256, 128)
SURFACE_SHARE = 0.02
MIN_SHARE = 0.02  # a lane's share never drops below this, whatever the run-level measurements cost


@dataclass(frozen=True)
class CostModel:
    """Modelled seconds of each measurement and of training, from counts and the model's size."""

    example: float  # w: seconds of one example's forward pass
    call: float  # C: fixed seconds of one step
    params: int  # trainable parameters

    def passes(self, n: float, per_example: int = 1) -> float:
        """n examples through the model, once (forward) or 3 times (forward and backward)."""
        return n * per_example * self.example

    def train(self, steps: float, examples: float) -> float:
        """`steps` training steps that saw `examples` examples in all."""
        return steps * self.call + self.passes(examples, 3)

    def gradient(self, n: int) -> float:
        """The mean gradient over n examples (chunked)."""
        return self.train(math.ceil(n / CHUNK), n)

    def evaluate(self, n: int) -> float:
        """Loss (and accuracy) over n examples without gradients."""
        return math.ceil(n / CHUNK) * self.call + EVAL_PASSES * self.passes(n)

    def noise_per_example(self, ref: int, probe: int) -> float:
        """measure_noise: G over R, per-example gradients of the probe set and their sums."""
        return self.gradient(ref) + math.ceil(probe / PROBE_CHUNK) * VMAP_CALL + probe * self.params * ELEMENT

    def noise_two_batch(self, draws: int, b: int, big: int) -> float:
        """measure_noise_two_batch: K gradients at b and K at B."""
        return draws * (self.train(1, b) + self.train(1, big))

    def slope(self, n_train: int, sizes: list[int], draws: int) -> float:
        """measure_noise_slope: G over the training set and K gradients at each B < N."""
        return self.gradient(n_train) + draws * sum(self.train(1, b) for b in sizes if b < n_train)

    def surface(self, ref: int) -> float:
        """A lane's sharpness (Hessian-vector products on R) and loss slice (evaluations of R)."""
        return SURFACE_ITERATIONS * HVP_STEPS * self.gradient(ref) + SLICE_POINTS * self.evaluate(ref)


@dataclass(frozen=True)
class ReportPlan:
    """What one report measures."""

    evaluate: bool
    noise: bool


class Cadence:
    """Decides, lane by lane and from counts only, which reports measure (see the module doc).

    `model`: the run's cost model (the run loop charges training by it). `eval_cost`, `noise_cost`: one report's evaluation and noise measurement (model seconds).
    `lane_cost_at_end`: the mean lane's modelled training cost over the whole budget (None for
    a seconds budget, where each lane's own counts are used, projected to the end of its
    budget: every lane trains the same time). `fixed`: the modelled cost of the measurements
    always made, per lane. `surface_rows`, `surface_order`: how many rows of R the loss surface
    at the end is measured on, and which lanes get one first.
    A share of 1 or more turns the budget off: every report measures, noise at every
    noise_every-th.
    """

    def __init__(self, model: CostModel, share: float, noise_every: int, eval_cost: float, noise_cost: float,
                 lane_cost_at_end: float | None, fixed: float, surface_rows: int = SURFACE_ROWS[0],
                 surface_order: tuple[int, ...] = ()):
        self.model = model
        self.surface_rows = surface_rows  # rows of R the final loss surfaces are measured on
        self.surface_order = surface_order
        self.unlimited = share >= 1
        self.target = share
        self.fixed = fixed
        self.noise_every = noise_every
        self.eval_cost = eval_cost
        self.noise_cost = noise_cost
        self.lane_cost_at_end = lane_cost_at_end
        self.spent: dict[int, float] = {}
        self.reports: dict[int, int] = {}

    def projected(self, fraction: float, own_trained: float) -> float:
        """The mean lane's modelled training over the whole budget (a seconds budget: this lane's, projected)."""
        if self.lane_cost_at_end is not None:
            return self.lane_cost_at_end
        return own_trained / fraction if fraction > 0 else 0.0

    def share(self, fraction: float, own_trained: float) -> float:
        """The share of training a lane's reports in between may cost: the target less the fixed part."""
        total = self.projected(fraction, own_trained)
        return max(MIN_SHARE, self.target - (self.fixed / total if total > 0 else 1.0))

    def allowance(self, fraction: float, own_trained: float) -> float:
        """Modelled seconds a lane may have spent measuring at this point of its budget."""
        return self.share(fraction, own_trained) * fraction * self.projected(fraction, own_trained)

    def surface(self, lane: int, own_trained: float) -> bool:
        """Whether `lane` gets a loss surface at the end: as many lanes as fit in SURFACE_SHARE of
        the training (at least one), in `surface_order`."""
        if self.unlimited:
            return True
        total = self.projected(1.0, own_trained) * len(self.surface_order)
        fit = max(1, math.floor(SURFACE_SHARE * total / self.model.surface(self.surface_rows)))
        return lane in self.surface_order[:fit]

    def plan(self, lane: int, fraction: float, own_trained: float, last: bool) -> ReportPlan:
        """What this report of `lane` measures (everything at its first and `last`); charges the lane."""
        spent, count = self.spent.get(lane, 0.0), self.reports.get(lane, 0)
        first = count == 0
        budget = math.inf if self.unlimited or first or last else self.allowance(fraction, own_trained)
        due = first or last or count % self.noise_every == 0
        # A report due for noise waits until it can afford noise too: evaluations alone, cheaper,
        # would otherwise take all of the allowance as it grows and leave the noise column empty.
        ev = spent + self.eval_cost + (self.noise_cost if due else 0.0) <= budget
        noise = ev and due
        if ev:  # the first and last reports are counted in the fixed share
            self.reports[lane] = count + 1
            self.spent[lane] = spent + (0.0 if first or last else self.eval_cost + (self.noise_cost if noise else 0.0))
        return ReportPlan(ev, noise)


def cost_model(model: torch.nn.Module, x1: torch.Tensor) -> CostModel:
    """The cost model of `model`, from its leaf modules and one example's forward FLOPs (torch's
    FLOP counter, in eval mode, leaving no trace; 2 x parameters as matrix work where counting
    fails or finds less)."""
    params = sum(p.numel() for p in model.parameters() if p.requires_grad)
    mm = conv = 0.0
    try:
        counter = FlopCounterMode(display=False)
        with no_trace(model), eval_mode(model), torch.no_grad(), counter:
            model(x1)
        for op, flops in counter.get_flop_counts().get("Global", {}).items():
            if "conv" in str(op):
                conv += flops
            else:
                mm += flops
    except Exception:  # a user's model the counter cannot run: fall back to the dense estimate
        pass
    mm = max(mm, 2 * params - conv)
    leaves = [m for m in model.modules() if not list(m.children())]
    call = sum(LAYER_CALL["conv" if isinstance(m, torch.nn.modules.conv._ConvNd) else
                          "linear" if isinstance(m, torch.nn.Linear) else "other"] for m in leaves)
    return CostModel(mm / RATE + conv / CONV_RATE, call, params)


def _epoch_steps(settings, epochs: float, n: int) -> float:
    """Steps a lane takes in `epochs` epochs, its batch size growing at its grow epochs."""
    marks = [e for e in settings.grow_epochs if e < epochs]
    edges = [0.0, *marks, epochs]
    return sum((hi - lo) * n / min(n, settings.batch_size * settings.grow_factor ** k)
               for k, (lo, hi) in enumerate(zip(edges, edges[1:], strict=False)))


def build_cadence(plan) -> Cadence:
    """The run's cadence from its plan (engine/run.py's Plan): sizes, budget and measure settings."""
    exp, m, n = plan.exp, plan.exp.measure, plan.data.n_train
    model = cost_model(plan.lanes[0].model, plan.x_probe[:1])
    sizes = [ln.batch_size0 for ln in plan.lanes]
    unit, amount = exp.budget.unit, exp.budget.amount
    if unit == "epochs":
        per_lane = [model.train(_epoch_steps(ln.settings, amount, n), amount * n) for ln in plan.lanes]
    elif unit == "steps":
        per_lane = [model.train(amount, amount * b) for b in sizes]
    else:
        per_lane = None  # seconds: every lane trains the same time; each uses its own counts
    if plan.noise_method == "two-batch":
        noise = model.noise_two_batch(m.noise_draws, *plan.noise_batches)
    else:
        noise = model.noise_per_example(len(plan.x_ref), len(plan.x_probe))
    evaluation = model.evaluate(len(plan.x_ref)) + model.evaluate(plan.data.n_test)
    seeds = len({ln.settings.init_seed for ln in plan.lanes})  # step 0 is measured once per initial weights
    mean_lane = sum(per_lane) / len(per_lane) if per_lane else amount  # seconds: sizes the surface only
    total = mean_lane * len(sizes)
    unlimited = m.share >= 1
    rows = next((r for r in SURFACE_ROWS if unlimited or len(sizes) * model.surface(r) <= SURFACE_SHARE * total),
                SURFACE_ROWS[-1])
    rows = min(rows, len(plan.x_ref))
    firsts = [ln.index for k, ln in enumerate(plan.lanes) if ln.batch_size0 not in sizes[:k]]
    order = tuple(firsts + [ln.index for ln in plan.lanes if ln.index not in firsts])
    fixed = (2 * model.slope(n, sorted(set(sizes)), m.slope_draws) + (seeds + len(sizes)) * (evaluation + noise)
             + min(len(sizes), SURFACE_SHARE * total / model.surface(rows)) * model.surface(rows))
    return Cadence(model, m.share, m.noise_every, evaluation, noise, mean_lane if per_lane else None,
                   fixed / len(sizes), rows, order)
