"""Render one lane of a run as a plain PyTorch training script (no tuilab import).

The script mirrors tuilab/engine/lanes.py line for line where it matters for the
numbers: the initial weights (torch.manual_seed before building the model), the
per-lane minibatch generator with a randperm per epoch, the lr and batch-size
schedule computed from `examples / N`, and the float64 evaluation of the loss.
"""

from __future__ import annotations

from torch import nn

from tuilab.engine.data import Data
from tuilab.engine.lanes import sampler_seed
from tuilab.engine.models import build_model
from tuilab.engine.settings import LaneSettings
from tuilab.presets import Experiment


def _layer_code(m: nn.Module) -> str:
    if isinstance(m, nn.Flatten):
        return "nn.Flatten()"
    if isinstance(m, nn.Linear):
        return f"nn.Linear({m.in_features}, {m.out_features})"
    if isinstance(m, nn.Conv2d):
        return f"nn.Conv2d({m.in_channels}, {m.out_channels}, {m.kernel_size[0]}, padding={m.padding[0]})"
    if isinstance(m, nn.MaxPool2d):
        return f"nn.MaxPool2d({m.kernel_size})"
    if isinstance(m, (nn.ReLU, nn.Tanh, nn.GELU)):
        return f"nn.{type(m).__name__}()"
    raise ValueError(f"no export for layer {type(m).__name__}")


def _model_code(exp: Experiment, data: Data) -> str:
    layers = "".join(f"    {_layer_code(m)},\n" for m in build_model(exp.model, data))
    return f"model = nn.Sequential(\n{layers}).to(DEVICE)"


def _lr_comment(exp: Experiment, lane: LaneSettings) -> str:
    base, base_lr, b = exp.optimizer.base_batch_size, lane.base_lr, lane.batch_size
    grid = "" if lane.lr_index is None else ", one value of the run's lr grid"
    if lane.lr_rule == "linear":
        return f"{base_lr:g} at B={base}{grid}, scaled linearly (Goyal et al. 2017): {base_lr:g} * {b} / {base}"
    if lane.lr_rule == "sqrt":
        return f"{base_lr:g} at B={base}{grid}, scaled by sqrt (Hoffer et al. 2017): {base_lr:g} * sqrt({b} / {base})"
    return f"the same for every batch size (no lr scaling){grid}"


def _optimizer_code(exp: Experiment) -> str:
    o = exp.optimizer
    if o.kind == "adam":
        return f"optimizer = torch.optim.Adam(model.parameters(), lr=LR, weight_decay={o.weight_decay!r})"
    extra = "" if o.momentum == 0 and o.weight_decay == 0 else \
        f", momentum={o.momentum!r}, nesterov={o.nesterov!r}, weight_decay={o.weight_decay!r}"
    return f"optimizer = torch.optim.SGD(model.parameters(), lr=LR{extra})"


def _report_steps_code(steps: list[int]) -> str:
    gaps = {b - a for a, b in zip(steps, steps[1:], strict=False)}
    if steps[0] == 0 and len(gaps) == 1:
        return f"set(range(0, {steps[-1] + 1}, {gaps.pop()}))"
    return "{" + ", ".join(map(str, steps)) + "}"


def _schedule_code(lane: LaneSettings) -> str:
    """batch_size_at and lr_at, with only the parts this lane uses."""
    lines = []
    grow = lane.grow_epochs and lane.grow_factor > 1
    decay = lane.decay_epochs and lane.decay_factor < 1
    warm = lane.warmup_epochs
    if grow:
        lines += [f"GROW_EPOCHS = {list(lane.grow_epochs)!r}  # the batch grows at these epochs",
                  f"GROW_FACTOR = {lane.grow_factor!r}  # ... by this factor (Smith et al. 2017)", "", "",
                  "def batch_size_at(examples):",
                  '    """The batch size after `examples` examples: grown at each grow epoch passed, at most N."""',
                  "    grown = sum(1 for e in GROW_EPOCHS if examples / N >= e)",
                  "    return min(N, BATCH_SIZE * GROW_FACTOR ** grown)", "", ""]
    else:
        lines += ["def batch_size_at(examples):", "    return BATCH_SIZE", "", ""]
    if decay:
        lines = [f"DECAY_EPOCHS = {list(lane.decay_epochs)!r}  # the lr is multiplied at these epochs",
                 f"DECAY_FACTOR = {lane.decay_factor!r}  # ... by this factor", ""] + lines
    if warm > 0:
        lines = [f"WARMUP_EPOCHS = {warm!r}  # lr rises linearly from 0 over these epochs", ""] + lines
    lines += ["def lr_at(examples, batch_size):",
              '    """The lr for the step that starts after `examples` examples."""']
    if decay:
        lines.append("    lr = LR * DECAY_FACTOR ** sum(1 for e in DECAY_EPOCHS if examples / N >= e)")
    else:
        lines.append("    lr = LR")
    if warm > 0:
        lines += ["    if examples / N < WARMUP_EPOCHS:",
                  "        lr *= (examples + batch_size) / (WARMUP_EPOCHS * N)"]
    lines.append("    return lr")
    return "\n".join(lines)


def _evaluate_code(classification: bool) -> str:
    """evaluate() and report(): the same chunked float64 sums as tuilab/engine/evaluate.py."""
    if classification:
        body = ("    correct = torch.zeros((), dtype=torch.int64, device=x.device)\n"
                "    for i in range(0, len(x), chunk):\n"
                "        out = model(x[i:i + chunk])\n"
                "        total += loss_fn(out, y[i:i + chunk]).double() * len(out)\n"
                "        correct += (out.argmax(dim=1) == y[i:i + chunk]).sum()\n"
                "    return float(total) / len(x), int(correct) / len(x)")
        shown = "test_loss, acc = evaluate(x_test, y_test)"
        extra = "  test_acc {acc:.4f}"
    else:
        body = ("    for i in range(0, len(x), chunk):\n"
                "        out = model(x[i:i + chunk])\n"
                "        total += loss_fn(out, y[i:i + chunk]).double() * len(out)\n"
                "    return float(total) / len(x), None")
        shown = "test_loss, _ = evaluate(x_test, y_test)"
        extra = ""
    return f"""@torch.no_grad()
def evaluate(x, y, chunk=8192):
    \"\"\"Mean loss (and accuracy) over a whole set, in chunks, summed in float64.\"\"\"
    total = torch.zeros((), dtype=torch.float64, device=x.device)
{body}


def report(step, examples):
    train_loss, _ = evaluate(x_ref, y_ref)
    {shown}
    print(f"step {{step}}  epoch {{examples / N:.4f}}  train_loss {{train_loss:.9g}}  "
          f"test_loss {{test_loss:.9g}}{extra}")"""


def render_script(exp: Experiment, data: Data, lane: LaneSettings, report_steps: list[int], data_name: str,
                  run_dir: str, run_device: str) -> str:
    """The text of a standalone script that retrains `lane` and prints its losses at `report_steps`."""
    classification = data.task == "classification"
    label = f" ({lane.label})" if lane.label else ""
    budget = f"{exp.budget.amount:g} {exp.budget.unit}"
    every = exp.report_every()
    same_device = "" if run_device.startswith("cpu") else \
        f"\n(The run trained on {run_device}; on another device type the last digits differ.)"
    ref_note = ("all of the training set, shuffled" if exp.measure.reference_examples >= data.n_train else
                f"a fixed random {exp.measure.reference_examples} of the {data.n_train} training examples")
    return f'''"""Train lane B={lane.batch_size}{label} of tuilab run "{exp.name}" with plain PyTorch.

Exported from {run_dir}. Mini-batch SGD, top to bottom: data, model, optimizer,
lr schedule, a sampler that reshuffles every epoch, the loop. With the same torch
version on the CPU it prints the same losses tuilab recorded for this lane.{same_device}

Data: {data.description}, the exact tensors tuilab trained on, saved in {data_name}.
Budget: {budget}, reports every {every:g} {exp.budget.unit}.
Run: python <this file>
"""

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

DEVICE = "cpu"  # or "cuda"

data = torch.load(Path(__file__).with_name("{data_name}"), weights_only=True)
x_train, y_train = data["x_train"].to(DEVICE), data["y_train"].to(DEVICE)
x_test, y_test = data["x_test"].to(DEVICE), data["y_test"].to(DEVICE)
# The train loss is measured on a reference set R: {ref_note}.
ref = data["ref_index"].to(DEVICE)
x_ref, y_ref = x_train[ref], y_train[ref]
N = len(x_train)

# Every tuilab lane starts from the same weights: the model built right after manual_seed.
torch.manual_seed({exp.seed})
{_model_code(exp, data)}
loss_fn = F.{"cross_entropy" if classification else "mse_loss"}  # the mean over the batch

BATCH_SIZE = {lane.batch_size}
LR = {lane.lr0!r}  # {_lr_comment(exp, lane)}
{_optimizer_code(exp)}


{_schedule_code(lane)}


# Minibatches without replacement: a fresh random order every epoch; a remainder
# smaller than the batch is dropped. Lane {lane.index}'s order comes from seed*1009 + {lane.index}.
generator = torch.Generator().manual_seed({sampler_seed(exp.seed, lane.index)})
order, pos = torch.empty(0, dtype=torch.long), 0


def next_batch(b):
    global order, pos
    if pos + b > len(order):
        order, pos = torch.randperm(N, generator=generator).to(DEVICE), 0
    idx = order[pos:pos + b]
    pos += b
    return x_train[idx], y_train[idx]


{_evaluate_code(classification)}


REPORT_STEPS = {_report_steps_code(report_steps)}  # where tuilab reported
examples = 0
report(0, examples)
for step in range(1, {report_steps[-1]} + 1):
    b = batch_size_at(examples)
    for group in optimizer.param_groups:
        group["lr"] = lr_at(examples, b)
    xb, yb = next_batch(b)
    loss = loss_fn(model(xb), yb)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    examples += b
    if step in REPORT_STEPS:
        report(step, examples)  # loss.item() every step would slow a GPU down: read it here only
'''
