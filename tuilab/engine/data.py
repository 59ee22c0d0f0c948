"""Dataset registry: a `DatasetConfig` and a seed in, train/test tensors on a device out.

Synthetic sets are generated with torch from the seed, on the CPU (so a seed gives
the same numbers on every machine), then split and moved to the device. Real and
file-based sets are read by `tuilab.engine.datafiles`, the user's own by
`tuilab.engine.customdata` and Hugging Face sets by `tuilab.engine.hfdata`.

A set too big for the device (dataset.on_device) stays in host memory, pinned when
the device is a GPU, and each minibatch is copied over as it is used.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

from tuilab.engine import datafiles
from tuilab.engine.customdata import load_custom
from tuilab.engine.usercode import UserCode
from tuilab.errors import UserError
from tuilab.preset_sections import test_size
from tuilab.presets import DIM_DATASETS, HF_PREFIX, SYNTHETIC_DATASETS, DatasetConfig

# A synthetic set is generated whole in memory: refuse sizes that cannot fit
# rather than let the machine swap (5e8 float32 values = 2 GB).
MAX_SYNTHETIC_VALUES = 500_000_000
TEACHER_WIDTH = 64
_CHUNK = 65_536  # rows per teacher forward pass: bounds the hidden activations' memory


@dataclass
class Data:
    """A train/test split on one device, plus what a model needs to know about it."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    task: str  # "classification" (y: int64, shape (n,)) or "regression" (y: float32, (n, out_dim))
    n_classes: int  # 0 for regression
    input_shape: tuple[int, ...]  # per example: (2,), (64,), (1, 28, 28) ...
    out_dim: int  # model output size: n_classes, or the regression target width
    description: str  # short, e.g. "moons 4000"
    extra: dict = field(default_factory=dict)  # set-specific truths, e.g. "w_true" of linreg
    device: torch.device = torch.device("cpu")  # where models train
    on_device: bool = True  # False: the tensors stay in host memory and batches are copied to `device`

    def batch(self, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The training examples idx (any device's indices) where the models train."""
        idx = idx.to(self.x_train.device)
        return self.rows(self.x_train, idx), self.rows(self.y_train, idx)

    def rows(self, t: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        """t[idx] where the models train. From host memory the rows are gathered into pinned
        memory and copied asynchronously (the caching host allocator keeps that buffer until
        the copy is done), so the next batch is prepared while the GPU works."""
        if self.on_device:
            return t[idx]
        if self.device.type == "cuda":
            out = torch.empty((len(idx), *t.shape[1:]), dtype=t.dtype, pin_memory=True)
            return torch.index_select(t, 0, idx, out=out).to(self.device, non_blocking=True)
        return t[idx].to(self.device)

    @property
    def n_train(self) -> int:
        return len(self.x_train)

    @property
    def n_test(self) -> int:
        return len(self.x_test)


def _moons(cfg: DatasetConfig, g: torch.Generator):
    y = torch.arange(cfg.n) % 2
    t = torch.rand(cfg.n, generator=g) * math.pi
    outer = torch.stack([t.cos(), t.sin()], 1)
    inner = torch.stack([1 - t.cos(), 0.5 - t.sin()], 1)
    x = torch.where(y[:, None] == 1, inner, outer)
    return x + cfg.noise * torch.randn(cfg.n, 2, generator=g), y, 2, {}


def _circles(cfg: DatasetConfig, g: torch.Generator):
    y = torch.arange(cfg.n) % 2
    t = torch.rand(cfg.n, generator=g) * (2 * math.pi)
    radius = 1.0 - 0.5 * y  # inner circle at half the radius, as in sklearn's default
    x = radius[:, None] * torch.stack([t.cos(), t.sin()], 1)
    return x + cfg.noise * torch.randn(cfg.n, 2, generator=g), y, 2, {}


def _spiral(cfg: DatasetConfig, g: torch.Generator):
    k = cfg.classes
    y = torch.arange(cfg.n) % k
    r = torch.rand(cfg.n, generator=g)
    # Noise perturbs the angle (as in the CS231n spiral): the arms blur into each
    # other evenly from the centre outwards.
    angle = 2 * math.pi * y / k + 4.0 * r + cfg.noise * torch.randn(cfg.n, generator=g)
    return r[:, None] * torch.stack([angle.cos(), angle.sin()], 1), y, k, {}


def _blobs(cfg: DatasetConfig, g: torch.Generator):
    y = torch.arange(cfg.n) % cfg.classes
    centres = torch.randn(cfg.classes, cfg.dim, generator=g)
    return centres[y] + cfg.noise * torch.randn(cfg.n, cfg.dim, generator=g), y, cfg.classes, {}


def _linreg(cfg: DatasetConfig, g: torch.Generator):
    w_true = torch.randn(cfg.dim, 1, generator=g) / math.sqrt(cfg.dim)
    x = torch.randn(cfg.n, cfg.dim, generator=g)
    y = x @ w_true + cfg.noise * torch.randn(cfg.n, 1, generator=g)
    return x, y, 0, {"w_true": w_true}


def _teacher(cfg: DatasetConfig, g: torch.Generator):
    k = cfg.classes
    w1 = torch.randn(cfg.dim, TEACHER_WIDTH, generator=g) / math.sqrt(cfg.dim)
    w2 = torch.randn(TEACHER_WIDTH, k, generator=g) / math.sqrt(TEACHER_WIDTH)
    x = torch.randn(cfg.n, cfg.dim, generator=g)
    y = torch.cat([(torch.tanh(c @ w1) @ w2).argmax(1) for c in x.split(_CHUNK)])
    # Draw the noise for every example whatever cfg.noise is, so that the same
    # seed gives the same x and clean labels at every noise level.
    flip = torch.rand(cfg.n, generator=g) < min(max(cfg.noise, 0.0), 1.0)
    y = torch.where(flip, torch.randint(0, k, (cfg.n,), generator=g), y)
    return x, y, k, {"teacher_w1": w1, "teacher_w2": w2}


# The generators in the order of presets.SYNTHETIC_DATASETS (strict: a name without one fails at import).
_SYNTHETIC = dict(zip(SYNTHETIC_DATASETS, (_moons, _circles, _spiral, _blobs, _linreg, _teacher), strict=True))
_WITH_DIM = DIM_DATASETS


def _split(x: torch.Tensor, y: torch.Tensor, test_fraction: float, g: torch.Generator):
    """A random train/test split: (x_train, y_train, x_test, y_test)."""
    n_test = test_size(len(x), test_fraction)
    perm = torch.randperm(len(x), generator=g)
    test, train = perm[:n_test], perm[n_test:]
    return x[train], y[train], x[test], y[test]


def _synthetic(cfg: DatasetConfig, g: torch.Generator) -> tuple[tuple, int, str, dict]:
    width = cfg.dim if cfg.name in _WITH_DIM else 2
    if cfg.n * width > MAX_SYNTHETIC_VALUES:
        raise UserError(f"dataset: n x dim = {cfg.n} x {width} values is too many to hold in "
                        f"memory; keep it under {MAX_SYNTHETIC_VALUES:,}")
    x, y, n_classes, extra = _SYNTHETIC[cfg.name](cfg, g)
    description = f"{cfg.name} {cfg.n}" + (f" d{cfg.dim}" if cfg.name in _WITH_DIM else "")
    return _split(x.float(), y, cfg.test_fraction, g), n_classes, description, extra


def _from_files(cfg: DatasetConfig, g: torch.Generator, code: UserCode) -> tuple[tuple, int, str, dict]:
    if cfg.name == "custom":
        arr = load_custom(cfg, code)
    elif cfg.name.startswith(HF_PREFIX):
        from tuilab.engine.hfdata import load_hf  # imports datasets only when asked for

        arr = load_hf(cfg)
    else:
        arr = datafiles.load_arrays(cfg)

    def tensor(a: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(a))

    if arr.x_test is None:
        split = _split(tensor(arr.x), tensor(arr.y), cfg.test_fraction, g)
    else:
        split = tensor(arr.x), tensor(arr.y), tensor(arr.x_test), tensor(arr.y_test)
    x_train, y_train, x_test, y_test = split
    if cfg.limit is not None and len(x_train) > cfg.limit:
        # A random subset, not the first rows: files are often sorted by class.
        keep = torch.randperm(len(x_train), generator=g)[: cfg.limit]
        x_train, y_train = x_train[keep], y_train[keep]
    return (x_train, y_train, x_test, y_test), arr.n_classes, f"{arr.name} {len(x_train)}", {}


def load_dataset(cfg: DatasetConfig, seed: int, device: torch.device | str = "cpu",
                 code: UserCode | None = None) -> Data:
    """Generate or read the dataset `cfg`, split it by `seed`, and put it on `device`.

    The same cfg and seed always give identical tensors. A user's mistake (a
    missing file, a damaged one, too few examples, a factory that fails ...)
    raises `UserError`. `code` imports a custom factory (one UserCode per run).
    """
    g = torch.Generator().manual_seed(seed)
    if cfg.name in _SYNTHETIC:
        split, n_classes, description, extra = _synthetic(cfg, g)
    else:
        split, n_classes, description, extra = _from_files(cfg, g, code or UserCode())
    x_train, y_train, x_test, y_test = split
    if len(x_train) < 2:
        raise UserError(f"dataset {cfg.name}: {len(x_train)} training example(s) after the "
                        "test split; need at least 2 (give more data or a smaller test_fraction)")
    if len(x_test) < 1:
        raise UserError(f"dataset {cfg.name}: the test set is empty; give at least one test example")
    task = "classification" if n_classes else "regression"
    if task == "classification":
        y_train, y_test = y_train.long(), y_test.long()
    else:
        y_train, y_test = y_train.float(), y_test.float()
    device = torch.device(device)
    tensors = [x_train.float(), y_train, x_test.float(), y_test]
    on = keep_on_device(cfg.on_device, device, sum(t.nbytes for t in tensors))
    x_train, y_train, x_test, y_test = (t.to(device) if on else _pinned(t, device) for t in tensors)
    return Data(
        x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test,
        task=task, n_classes=n_classes, input_shape=tuple(x_train.shape[1:]),
        out_dim=n_classes or y_train.shape[1], description=description,
        extra={k: v.to(device) for k, v in extra.items()}, device=device, on_device=on,
    )


def keep_on_device(setting: str | bool, device: torch.device, nbytes: int) -> bool:
    """dataset.on_device: auto keeps the data on a GPU when it takes under half its free memory."""
    if setting != "auto":
        return bool(setting)
    if device.type != "cuda":
        return True  # on the CPU the host is the device; mps shares the host's memory
    free, _total = torch.cuda.mem_get_info(device)
    return nbytes <= free / 2


def _pinned(t: torch.Tensor, device: torch.device) -> torch.Tensor:
    """Host memory, page-locked for a GPU so that its batches copy asynchronously."""
    t = t.contiguous()
    return t.pin_memory() if device.type == "cuda" else t
