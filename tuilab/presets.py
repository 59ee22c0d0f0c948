"""An experiment, as pydantic models, with TOML load and save.

Everything the lab runs is described by an `Experiment`. It is data only: TOML in,
TOML out, validated before any training starts. Errors become `UserError`s that
name the file, the field (and line, for broken TOML) and what is valid.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from typing import Literal

import tomli_w
from pydantic import Field, ValidationError, field_validator, model_validator

from tuilab.errors import UserError

# The sections are part of the presets API: re-exported here.
from tuilab.preset_sections import (  # noqa: F401
    CNN_INPUT,
    DATASETS,
    DIM_DATASETS,
    FILE_DATASETS,
    HF_PREFIX,
    IDX_DATASETS,
    SYNTHETIC_DATASETS,
    Branch,
    BudgetConfig,
    DatasetConfig,
    MeasureConfig,
    ModelConfig,
    OptimizerConfig,
    ResourcesConfig,
    Variant,
    _check_factory,
    _Strict,
    factory_file,
)

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

SHIPPED_DIR = Path(__file__).resolve().parent / "shipped_presets"


class Experiment(_Strict):
    name: str = Field("experiment", min_length=1, max_length=64, description="short name, used in the run directory")
    description: str = Field("", max_length=2000, description="what the experiment shows")
    device: str = Field("auto", description="auto, cpu, cuda, cuda:N, cuda:all (every GPU, a lane each: ray backend) or mps")
    seed: int = Field(0, ge=0, le=2**31 - 1, description="seed of data, initial model and minibatch order")
    batch_sizes: list[int | Literal["full", "adaptive"]] = Field(default_factory=lambda: [8, 32, 128, 512], description="one lane per batch size; 'full' is the whole training set; 'adaptive' starts at the smallest and grows with the measured noise scale")
    variants: list[Variant] = Field(default_factory=list, description="optional: run every batch size once per variant")
    dataset: DatasetConfig = Field(default_factory=DatasetConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    optimizer: OptimizerConfig = Field(default_factory=OptimizerConfig)
    budget: BudgetConfig = Field(default_factory=BudgetConfig)
    measure: MeasureConfig = Field(default_factory=MeasureConfig)
    resources: ResourcesConfig = Field(default_factory=ResourcesConfig)
    pilot: bool = Field(False, description="a pilot: a tenth of the budget measures throughput and the noise scale, and predicts the best batch size")
    branches: list[Branch] = Field(default_factory=list, description="optional: lanes to fork at bigger batch sizes during the run, measuring the critical batch size there")

    @field_validator("batch_sizes")
    @classmethod
    def _batches(cls, v: list) -> list:
        if not v:
            raise ValueError("give at least one batch size")
        if len(v) > 16:
            raise ValueError("at most 16 batch sizes")
        for b in v:
            if b not in ("full", "adaptive") and not 1 <= b <= 10_000_000:
                raise ValueError(f"batch size {b} is not valid: use a whole number >= 1, 'full' or 'adaptive'")
        if len(set(v)) != len(v):
            raise ValueError("batch sizes must not repeat")
        return v

    @field_validator("device")
    @classmethod
    def _device(cls, v: str) -> str:
        if v in ("auto", "cpu", "cuda", "cuda:all", "mps") or (v.startswith("cuda:") and v[5:].isdigit()):
            return v
        raise ValueError(f"unknown device {v!r}; valid: auto, cpu, cuda, cuda:N, cuda:all, mps")

    @model_validator(mode="after")
    def _branch_points(self) -> Experiment:
        for i, br in enumerate(self.branches):
            if br.at >= self.budget.amount:
                raise ValueError(f"branches.{i}.at: {br.at:g} is not inside the budget (0 to {self.budget.amount:g} "
                                 f"{self.budget.unit})")
        return self

    def report_every(self) -> float:
        """Budget units between reports."""
        return self.measure.every if self.measure.every else self.budget.amount / 40

    def user_code(self) -> list[str]:
        """The files and modules of the user's that running this experiment imports (no import here)."""
        specs = [self.model.factory if self.model.kind == "custom" else None, self.model.loss,
                 self.dataset.factory if self.dataset.name == "custom" else None]
        out: list[str] = []
        for spec in filter(None, specs):
            target = spec.rpartition(":")[0]
            if target not in out:
                out.append(target)
        return out


def parse_batch_sizes(text: str) -> list[int | Literal["full", "adaptive"]]:
    """Parse '8, 32,128 full adaptive' into batch sizes, or raise UserError naming the bad item."""
    items = [t for t in text.replace(",", " ").split() if t]
    if not items:
        raise UserError("batch sizes: give at least one, e.g. 8,32,128")
    out: list[int | Literal["full", "adaptive"]] = []
    for t in items:
        if t.lower() in ("full", "adaptive"):
            out.append(t.lower())
            continue
        try:
            b = int(t)
        except ValueError:
            raise UserError(f"batch size {t!r} is not a whole number; use e.g. 8,32,128, 'full' or 'adaptive'") from None
        if b < 1:
            raise UserError(f"batch size {b} is not valid: batch sizes are whole numbers >= 1")
        out.append(b)
    if len(set(out)) != len(out):
        raise UserError("batch sizes must not repeat")
    return out


def format_validation_error(err: ValidationError, source: str) -> str:
    """One line: source, the first bad field's dotted path, and pydantic's reason."""
    e = err.errors()[0]
    loc = ".".join(str(p) for p in e["loc"]) or "(top level)"
    msg = e["msg"].removeprefix("Value error, ")
    if e["type"] == "extra_forbidden":
        msg = "unknown key (check the spelling)"
    elif e["type"] == "literal_error":
        msg = msg.replace("Input should be", "valid:")
    more = f" (and {len(err.errors()) - 1} more)" if len(err.errors()) > 1 else ""
    return f"{source}: {loc}: {msg}{more}"


def experiment_from_dict(data: dict, source: str = "preset") -> Experiment:
    """Validate a dict into an Experiment, raising UserError with the field path."""
    try:
        return Experiment.model_validate(data)
    except ValidationError as err:
        raise UserError(format_validation_error(err, source)) from None


def load_preset(path: str | os.PathLike) -> Experiment:
    """Read a TOML preset; any problem is a UserError naming the file and line or field."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise UserError(f"{p}: no such preset file") from None
    except IsADirectoryError:
        raise UserError(f"{p}: is a directory, not a preset file") from None
    except OSError as e:
        raise UserError(f"{p}: cannot read ({e.strerror})") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as e:
        raise UserError(f"{p}: not UTF-8 text (byte {e.start}); presets are TOML files") from None
    except tomllib.TOMLDecodeError as e:
        lines = raw.count(b"\n") + 1
        where = str(e).replace("at end of document", f"at line {lines}, the end of the file")
        raise UserError(f"{p}: broken TOML: {where}") from None
    return _resolve_factories(experiment_from_dict(data, str(p)), p.resolve().parent)


def _resolve_factories(exp: Experiment, base: Path) -> Experiment:
    """Make FILE.py factories absolute (relative to the preset's directory), so that the run
    directory's copy of the experiment imports the same files wherever it is read."""
    for section, key in (("model", "factory"), ("model", "loss"), ("dataset", "factory")):
        cfg = getattr(exp, section)
        spec = getattr(cfg, key)
        path = factory_file(spec) if spec else None
        if path and not Path(path).expanduser().is_absolute():
            setattr(cfg, key, f"{(base / path).resolve()}:{spec.rpartition(':')[2]}")
    return exp


def dumps_preset(exp: Experiment) -> str:
    """TOML text of an experiment (None fields left out: tomli-w cannot write them)."""
    return tomli_w.dumps(exp.model_dump(mode="json", exclude_none=True))


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write to a temp file in the same directory, then rename: never a half-written file."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, p)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_preset(exp: Experiment, path: str | os.PathLike) -> Path:
    """Save atomically; refuses to write over a shipped preset."""
    p = Path(path).resolve()
    if SHIPPED_DIR.resolve() in p.parents:
        raise UserError(f"{p.name}: shipped presets are read-only; save under another name")
    atomic_write_text(p, dumps_preset(exp))
    return p


def user_preset_dir() -> Path:
    """Where user presets live: the platform's user config directory (TUILAB_CONFIG_DIR overrides)."""
    override = os.environ.get("TUILAB_CONFIG_DIR")
    if override:
        return Path(override) / "presets"
    import platformdirs

    return Path(platformdirs.user_config_dir("tuilab")) / "presets"


def list_presets() -> list[tuple[str, Path, bool]]:
    """(name, path, shipped) for every shipped and user preset, shipped first."""
    out = [(p.stem, p, True) for p in sorted(SHIPPED_DIR.glob("*.toml"))]
    udir = user_preset_dir()
    if udir.is_dir():
        out += [(p.stem, p, False) for p in sorted(udir.glob("*.toml"))]
    return out


def resolve_preset(name_or_path: str) -> Path:
    """A path as given, else a shipped or user preset of that name."""
    p = Path(name_or_path)
    if p.exists() or p.suffix == ".toml" or os.sep in name_or_path:
        return p
    for name, path, _ in list_presets():
        if name == name_or_path:
            return path
    names = ", ".join(n for n, _, _ in list_presets())
    raise UserError(f"{name_or_path!r}: no such preset file or name; presets: {names}")
