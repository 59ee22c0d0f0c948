"""The sections of an experiment ([dataset], [model], [optimizer], ...) as pydantic models.

Data only, validated field by field; `tuilab.presets` assembles them into an
`Experiment` and reads and writes TOML. Kept apart so each file stays readable.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

# The one list of data set names: the engine (data.py, datafiles.py), the Setup form and the
# validation below all read these.
SYNTHETIC_DATASETS = ("moons", "circles", "spiral", "blobs", "linreg", "teacher")
IDX_DATASETS = ("mnist", "fashion-mnist")  # IDX files in a directory given as dataset.path
DIM_DATASETS = ("blobs", "linreg", "teacher")  # synthetic sets whose input width is dataset.dim
DATASETS = (*SYNTHETIC_DATASETS, "digits", *IDX_DATASETS, "custom")
FILE_DATASETS = ("csv:", "npz:")
HF_PREFIX = "hf:"


def factory_file(spec: str) -> str | None:
    """The FILE.py of a "FILE.py:NAME" factory, or None for "package.module:NAME"."""
    target = spec.rpartition(":")[0]
    return target if target.endswith(".py") else None


def _check_factory(spec: str | None) -> str | None:
    """A factory is "FILE.py:NAME" or "package.module:NAME", NAME a Python name."""
    if spec is None:
        return None
    target, _, name = spec.rpartition(":")
    if not target or not name.isidentifier():
        raise ValueError(f"factory {spec!r}: write FILE.py:NAME or package.module:NAME")
    if not target.endswith(".py") and not all(part.isidentifier() for part in target.split(".")):
        raise ValueError(f"factory {spec!r}: {target!r} is neither a .py file nor a module path "
                         "like package.module")
    return spec


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


def test_size(n: int, test_fraction: float) -> int:
    """Examples of n that a random split holds out for test (at least one): the engine's
    split and Setup's check of batch sizes against the training set both count so."""
    return max(1, round(n * test_fraction))


class DatasetConfig(_Strict):
    name: str = Field("moons", description=f"{', '.join(DATASETS)}, csv:PATH, npz:PATH, hf:NAME or hf:PATH")
    n: int = Field(4000, ge=10, le=10_000_000, description="examples to generate (train + test) for synthetic sets")
    noise: float = Field(0.2, ge=0.0, le=100.0, description="noise level of synthetic sets (label noise sd for linreg/teacher)")
    test_fraction: float = Field(0.2, gt=0.0, lt=1.0, description="share of the examples held out for test")
    dim: int = Field(10, ge=1, le=100_000, description="input dimension of linreg, teacher and blobs")
    classes: int = Field(3, ge=2, le=1000, description="classes of blobs, spiral and teacher")
    path: str | None = Field(None, description="directory of IDX files for mnist / fashion-mnist")
    limit: int | None = Field(None, ge=10, description="use at most this many training examples of a real data set")
    factory: str | None = Field(None, description="custom: FILE.py:NAME (relative to the preset) or package.module:NAME, called NAME() -> (x, y), (x, y, x_test, y_test) or Dataset(s)")
    split: str = Field("train", min_length=1, description="hf: the split to train on")
    test_split: str | None = Field(None, description="hf: the held-out split (default: 'test' if there is one, else test_fraction of split)")
    features: list[str] | None = Field(None, description="hf: input column(s) (default: image, img or pixel_values, else every numeric column but the label)")
    label: str | None = Field(None, description="hf: label column (default: label, labels, target or y)")
    on_device: Literal["auto"] | bool = Field("auto", description="keep the data in device memory: auto (if it takes under half the free memory), true or false (pinned host memory, batches copied)")

    @field_validator("name")
    @classmethod
    def _known(cls, v: str) -> str:
        if v in DATASETS or (v.startswith(FILE_DATASETS) and len(v) > 4) or (v.startswith(HF_PREFIX) and len(v) > 3):
            return v
        raise ValueError(f"unknown dataset {v!r}; valid: {', '.join(DATASETS)}, csv:PATH, npz:PATH, hf:NAME, hf:PATH")

    _factory = field_validator("factory")(classmethod(lambda cls, v: _check_factory(v)))

    @model_validator(mode="after")
    def _custom_needs_factory(self) -> DatasetConfig:
        if self.name == "custom" and not self.factory:
            raise ValueError("a custom dataset needs factory = \"FILE.py:NAME\" or \"package.module:NAME\"")
        return self


# What a cnn needs of the data (said by the engine when it builds one, and by Setup as it is chosen).
CNN_INPUT = ("cnn needs image-shaped examples (channels, height, width): digits, mnist, "
             "fashion-mnist or an npz whose x is (n, c, h, w); use mlp or linear")


class ModelConfig(_Strict):
    kind: Literal["linear", "mlp", "cnn", "custom"] = Field("mlp", description="linear (regression/logistic), mlp, cnn (image data) or custom (factory)")
    hidden: list[int] = Field(default_factory=lambda: [64, 64], description="hidden widths of the mlp")
    activation: Literal["relu", "tanh", "gelu"] = Field("relu", description="activation of the mlp/cnn")
    channels: list[int] = Field(default_factory=lambda: [16, 32], description="conv channels of the cnn")
    factory: str | None = Field(None, description="custom: FILE.py:NAME (relative to the preset) or package.module:NAME, called NAME(input_shape, out_dim) -> nn.Module")
    loss: str | None = Field(None, description="optional FILE.py:NAME or package.module:NAME: loss(output, target) -> mean loss over the batch (default: cross-entropy or MSE)")

    @field_validator("hidden", "channels")
    @classmethod
    def _widths(cls, v: list[int]) -> list[int]:
        if any(w < 1 or w > 65536 for w in v):
            raise ValueError("widths must be between 1 and 65536")
        return v

    _factory = field_validator("factory", "loss")(classmethod(lambda cls, v: _check_factory(v)))

    @model_validator(mode="after")
    def _custom_needs_factory(self) -> ModelConfig:
        if self.kind == "custom" and not self.factory:
            raise ValueError("a custom model needs factory = \"FILE.py:NAME\" or \"package.module:NAME\"")
        return self


class OptimizerConfig(_Strict):
    kind: Literal["sgd", "adam"] = Field("sgd", description="sgd or adam")
    lr: float = Field(0.1, gt=0.0, le=1e3, description="learning rate at the base batch size")
    momentum: float = Field(0.0, ge=0.0, lt=1.0, description="sgd momentum")
    nesterov: bool = Field(False, description="sgd nesterov momentum (needs momentum > 0)")
    weight_decay: float = Field(0.0, ge=0.0, le=10.0, description="L2 weight decay")
    lr_scaling: Literal["none", "linear", "sqrt"] = Field("none", description="scale lr with B/base_batch_size: none, linear or sqrt")
    base_batch_size: int = Field(32, ge=1, description="batch size at which lr applies unscaled")
    warmup_epochs: float = Field(0.0, ge=0.0, description="linear lr warmup from 0, in epochs")
    lr_grid: list[float] | Literal["auto"] | None = Field(None, description="optional: every batch size runs at each of these base lrs (scaled by lr_scaling), and the answer uses each batch size's best; \"auto\": lr x 1/3, 1, 3")
    compile: Literal["none", "compile", "cuda-graphs"] = Field("none", description="how a lane's step runs: none (eager, a plain loop), compile (torch.compile of the model) or cuda-graphs (the whole step captured as one CUDA graph; CUDA only)")

    @model_validator(mode="after")
    def _nesterov(self) -> OptimizerConfig:
        if self.nesterov and self.momentum == 0:
            raise ValueError("nesterov needs momentum > 0")
        return self

    @field_validator("lr_grid", mode="before")
    @classmethod
    def _grid_kind(cls, v):
        if v is not None and v != "auto" and not isinstance(v, list):
            raise ValueError(f"lr_grid: {v!r} is not valid; give a list of lrs, e.g. [0.01, 0.03, 0.1], or \"auto\"")
        return v

    @field_validator("lr_grid")
    @classmethod
    def _grid(cls, v):
        if isinstance(v, list):
            if not 1 <= len(v) <= 8 or len(set(v)) != len(v) or any(not 0 < x <= 1e3 for x in v):
                raise ValueError("lr_grid: give 1 to 8 different lrs, each > 0 and <= 1000, or \"auto\"")
        return v


class Variant(_Strict):
    """A second axis of lanes: each batch size runs once per variant."""

    label: str = Field(..., min_length=1, max_length=24, description="short name shown in the lane's row")
    lr_scaling: Literal["none", "linear", "sqrt"] | None = Field(None, description="overrides optimizer.lr_scaling")
    lr: float | None = Field(None, gt=0.0, le=1e3, description="overrides optimizer.lr")
    decay_epochs: list[float] = Field(default_factory=list, description="epochs at which lr is multiplied by decay_factor")
    decay_factor: float = Field(1.0, gt=0.0, le=1.0, description="lr multiplier at each decay epoch")
    grow_epochs: list[float] = Field(default_factory=list, description="epochs at which the batch size is multiplied by grow_factor")
    grow_factor: int = Field(1, ge=1, le=1024, description="batch-size multiplier at each grow epoch")
    seed: int | None = Field(None, ge=0, le=2**31 - 1, description="overrides the seed of the initial weights (data and split stay the experiment's): repeat a run over seeds as variants")


class BudgetConfig(_Strict):
    unit: Literal["epochs", "steps", "seconds"] = Field("epochs", description="what every lane gets equally: epochs, steps or seconds")
    amount: float = Field(20.0, gt=0.0, le=1e9, description="how many of the unit")
    micro_batch: int | Literal["auto"] | None = Field(None, description="rows per forward/backward: a larger batch is accumulated over micro-batches (same SGD step); auto halves on out-of-memory until it fits")

    @field_validator("micro_batch")
    @classmethod
    def _micro(cls, v):
        if isinstance(v, int) and v < 1:
            raise ValueError("micro_batch must be a whole number >= 1 or 'auto'")
        return v


class MeasureConfig(_Strict):
    every: float | None = Field(None, gt=0.0, description="budget units between reports (default: budget / 40)")
    probe_examples: int = Field(256, ge=2, le=65536, description="M: examples whose per-example gradients give tr_sigma")
    reference_examples: int = Field(8192, ge=2, description="|R|: cap on the examples used for G and the train loss")
    noise_every: int = Field(4, ge=1, description="measure gradient noise at every n-th report (and the last); per-example gradients are the dearest measurement")
    share: float = Field(0.07, gt=0.0, le=1.0, description="measuring may cost this share of the training, by a cost model in counts (deterministic; its error is up to ~30 %, hence 0.07 for 10 % of the wall time): reports past a lane's first that would exceed it are skipped; 1 measures at every report")
    slope_draws: int = Field(16, ge=2, le=4096, description="K: minibatches drawn per batch size for the noise slope (each point's relative error is about 1/sqrt(2K))")
    target_loss: float | None = Field(None, gt=0.0, description="train loss to reach (default: a level every lane reaches)")
    noise_method: Literal["auto", "per-example", "two-batch"] = Field("auto", description="how tr_sigma and |G|^2 are measured: per-example gradients (exact when an example's output depends on it alone), two-batch (minibatch gradients at two sizes; any model) or auto")
    noise_draws: int = Field(16, ge=2, le=4096, description="two-batch: minibatches drawn at each of the two sizes")
    noise_batches: tuple[int, int] | None = Field(None, description="two-batch: the small and big batch size (default: the smallest lane's B, at least 2, and 16x that, at least 512; N where K draws of that cost more than a pass over the data)")

    @field_validator("noise_batches")
    @classmethod
    def _two_sizes(cls, v):
        if v is not None and not 1 <= v[0] < v[1]:
            raise ValueError("noise_batches: give [b, B] with 1 <= b < B")
        return v


class Branch(_Strict):
    """Fork a lane at `at`: copies at factor x its batch size show whether that batch size keeps pace."""

    lane: int = Field(..., ge=0, description="index of the lane to branch (0 is the first)")
    at: float = Field(..., gt=0.0, description="where to branch, in the budget's unit (taken at the first report there or after)")
    factors: list[int] = Field(default_factory=lambda: [2, 4, 8], description="batch-size multipliers of the branches")
    span: float | None = Field(None, gt=0.0, description="how long each branch trains, in the budget's unit (default: a tenth of the budget)")

    @field_validator("factors")
    @classmethod
    def _factors(cls, v: list[int]) -> list[int]:
        if not 1 <= len(v) <= 8 or len(set(v)) != len(v) or any(not 2 <= k <= 1024 for k in v):
            raise ValueError("factors: give 1 to 8 different whole numbers from 2 to 1024, e.g. [2, 4, 8]")
        return v


class ResourcesConfig(_Strict):
    """Where lanes run: in this process (the default) or as Ray actors, with what each one gets."""

    backend: Literal["inprocess", "ray"] = Field("inprocess", description="inprocess, or ray: each lane a Ray actor (pip install 'tuilab[ray]')")
    address: str | None = Field(None, description="an existing Ray cluster (ray://host:10001 or auto); default: a local Ray started for the run")
    cpus_per_lane: float = Field(1.0, gt=0.0, le=1024.0, description="CPUs each lane's actor reserves (and torch threads it uses)")
    gpus_per_lane: float = Field(0.0, ge=0.0, le=64.0, description="GPUs each lane's actor reserves (device cuda:all sets 1)")
    workers_per_lane: int = Field(1, ge=1, le=64, description="DDP workers per lane, each taking B/N rows of every batch (ray backend)")
