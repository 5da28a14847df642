"""Run configs: YAML files validated on load (pydantic v2, unknown keys rejected).

A `RunConfig` has the sections ``data``, ``model``, ``train``, ``augment`` and ``seed``; the pipeline extends
it by subclassing. Relative paths in ``data`` are resolved against the directory of the config file.
Validation errors become one `ConfigError` line such as ``configs/x.yaml: train.lr: must be > 0 (got -1)``.
"""

from __future__ import annotations

import os
import typing
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, Strict, ValidationError, field_validator, model_validator

from xylodeploy.chips import DEFAULT_CHIP, get_chip
from xylodeploy.errors import ConfigError
from xylodeploy.frontends.audio3 import Audio3Config
from xylodeploy.frontends.imu_config import ImuInterfaceConfig
from xylodeploy.io.files import atomic_write, existing_file

_CHIP = get_chip(DEFAULT_CHIP)
PosFloat = Annotated[float, Strict(), Field(gt=0)]
StrictBool = Annotated[bool, Strict()]
Float = Annotated[float, Strict()]
Seed = Annotated[int, Strict(), Field(ge=0, le=2**32 - 1)]  # numpy/torch seeds
Fraction = Annotated[float, Strict(), Field(ge=0, lt=1)]
Prob = Annotated[float, Strict(), Field(ge=0, le=1)]


class Section(BaseModel):
    """Base of every config section: strict keys, validated assignment."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)


def _range(lo: float, hi: float) -> Any:
    return Field(default=(lo, hi), description="[min, max]")


class SyntheticData(Section):
    """The embedded burst-order task (see `xylodeploy.data.synthetic`)."""

    kind: Literal["synthetic"] = "synthetic"
    n_train: Annotated[int, Strict(), Field(ge=1)] = 1200
    n_val: Annotated[int, Strict(), Field(ge=1)] = 300
    n_test: Annotated[int, Strict(), Field(ge=1)] = 300
    n_channels: Annotated[int, Strict(), Field(ge=1)] = _CHIP.max_inputs
    n_groups: Annotated[int, Strict(), Field(ge=2)] = 4
    n_bursts: Annotated[int, Strict(), Field(ge=2, le=5)] = 3
    n_classes: Annotated[int, Strict(), Field(ge=2)] = 6
    duration_ms: PosFloat = 450.0
    onset_ms: tuple[Float, Float] = _range(0.0, 30.0)
    burst_ms: tuple[Float, Float] = _range(20.0, 40.0)
    gap_ms: tuple[Float, Float] = _range(50.0, 150.0)
    burst_rate: tuple[Float, Float] = _range(1.0, 3.0)
    noise_rate: Annotated[float, Strict(), Field(ge=0)] = 0.05
    p_distractor: Prob = 0.5
    p_drop: Prob = 0.1
    max_count: Annotated[int, Strict(), Field(ge=1)] = _CHIP.max_input_events
    seed: Seed | None = None  # None: the run's seed

    @model_validator(mode="after")
    def _ranges_ordered(self) -> SyntheticData:
        for name in ("onset_ms", "burst_ms", "gap_ms", "burst_rate"):
            lo, hi = getattr(self, name)
            if not 0 <= lo <= hi:
                raise ValueError(f"{name} must be [min, max] with 0 <= min <= max (got [{lo}, {hi}])")
        return self


class NpzData(Section):
    """Rasters in ``.npz`` files; missing val/test files are split off ``train`` by fraction."""

    kind: Literal["npz"]
    train: Path
    val: Path | None = None
    test: Path | None = None
    val_fraction: Fraction = 0.1
    test_fraction: Fraction = 0.1
    group_split: StrictBool = True  # with a 'groups' array (e.g. speakers): split off whole groups


class ShdData(Section):
    """Spiking-Heidelberg-Digits-layout HDF5 event files, binned to the model's ``dt``."""

    kind: Literal["shd"]
    train: Path
    test: Path | None = None
    n_channels: Annotated[int, Strict(), Field(ge=1)] = _CHIP.max_inputs
    n_units: Annotated[int, Strict(), Field(ge=1)] = 700
    duration: PosFloat = 1.0
    max_count: Annotated[int, Strict(), Field(ge=1)] | None = _CHIP.max_input_events
    val_fraction: Fraction = 0.1
    test_fraction: Fraction = 0.1
    group_split: StrictBool = True  # with 'extra/speaker' in the file: split off whole speakers


class AudioData(Section):
    """A Speech-Commands-layout WAV folder encoded by the audio front-end."""

    kind: Literal["audio"]
    root: Path
    classes: list[str] | None = None
    cache_dir: Path | None = None  # None: $XDG_CACHE_HOME/xylodeploy/frontend
    sample_rate: Annotated[int, Strict(), Field(ge=1000)] = 16000
    n_channels: Annotated[int, Strict(), Field(ge=1)] = _CHIP.max_inputs
    f_min: PosFloat = 100.0
    f_max: PosFloat = 7000.0
    threshold: PosFloat = 0.01
    target_rms: PosFloat | None = 0.1
    max_events: Annotated[int, Strict(), Field(ge=1)] = _CHIP.max_input_events
    duration: PosFloat = 1.0
    val_fraction: Fraction = 0.1
    test_fraction: Fraction = 0.1
    # software: the model above (Audio 2 default); xylo-audio3: the chip's digital front-end, bit-exact
    frontend: Literal["software", "xylo-audio3"] = "software"
    audio3: Audio3Config = Field(default_factory=Audio3Config)  # used with frontend: xylo-audio3
    group_split: StrictBool = True  # split by speaker (`<speaker>_nohash_<n>.wav`) when file names carry one


class ImuData(Section):
    """Raw 3-axis IMU samples at 200 Hz encoded by the Xylo IMU interface model (`xylodeploy.data.imu`).

    Without ``train`` the embedded synthetic gesture task is used (``n_train``/``n_val``/``n_test`` clips).
    """

    kind: Literal["imu"]
    train: Path | None = None  # .npz with `imu` (N, T, 3) ints, `labels`, optional `classes`
    test: Path | None = None
    n_train: Annotated[int, Strict(), Field(ge=1)] = 600
    n_val: Annotated[int, Strict(), Field(ge=1)] = 150
    n_test: Annotated[int, Strict(), Field(ge=1)] = 150
    duration: Annotated[float, Strict(), Field(ge=0.5, le=60)] = 2.0  # synthetic clip length [s]
    interface: ImuInterfaceConfig = Field(default_factory=ImuInterfaceConfig)
    val_fraction: Fraction = 0.1
    test_fraction: Fraction = 0.1
    seed: Seed | None = None  # None: the run's seed


class DenseData(Section):
    """The embedded dense keyword task: synthetic speakers through the audio front-end (`data_dense`)."""

    kind: Literal["dense"]
    n_classes: Annotated[int, Strict(), Field(ge=2, le=8)] = 8
    clips_per_speaker: Annotated[int, Strict(), Field(ge=1)] = 40
    n_train_speakers: Annotated[int, Strict(), Field(ge=1)] = 32
    n_val_speakers: Annotated[int, Strict(), Field(ge=1)] = 6
    n_test_speakers: Annotated[int, Strict(), Field(ge=1)] = 12
    snr_db: tuple[float, float] = _range(-3.0, 20.0)
    p_talker: Prob = 0.5  # probability of a quieter background talker
    threshold: PosFloat = 0.012
    max_events: Annotated[int, Strict(), Field(ge=1)] = _CHIP.max_input_events
    n_channels: Annotated[int, Strict(), Field(ge=1)] = _CHIP.max_inputs
    cache: StrictBool = True
    cache_dir: Path | None = None  # None: $XDG_CACHE_HOME/xylodeploy/frontend
    seed: Seed | None = None  # None: the run's seed


DataConfig = Annotated[SyntheticData | NpzData | ShdData | AudioData | ImuData | DenseData, Field(discriminator="kind")]
DATA_KINDS = ("synthetic", "npz", "shd", "audio", "imu", "dense")


class ModelConfig(Section):
    """Keyword arguments of `xylodeploy.models.SynNet` (``n_channels``/``n_classes`` come from the data)."""

    name: Literal["SynNet"] = "SynNet"
    size_hidden_layers: list[Annotated[int, Strict(), Field(ge=1, le=100_000)]] = [60]
    time_constants_per_layer: list[Annotated[int, Strict(), Field(ge=1)]] = [10]
    tau_syn_base: PosFloat = 2e-3
    tau_mem: PosFloat = 2e-3
    tau_syn_out: PosFloat = 2e-3
    quantize_time_constants: StrictBool = True
    train_time_constants: StrictBool = False
    threshold: PosFloat = 1.0
    threshold_out: PosFloat | None = None  # None: SynNet's default
    train_threshold: StrictBool | None = None  # None: SynNet's default
    max_spikes_per_dt: Annotated[int, Strict(), Field(ge=1)] = _CHIP.max_hidden_spikes
    max_spikes_per_dt_out: Annotated[int, Strict(), Field(ge=1)] = _CHIP.max_output_spikes
    p_dropout: Annotated[float, Strict(), Field(ge=0, lt=1)] = 0.0
    dt: PosFloat = 1e-3
    output: Literal["vmem", "spikes"] = "vmem"
    hop_delay: StrictBool = True
    surrogate: str | None = None  # None: SynNet's default
    window: PosFloat | None = None  # surrogate width; None: SynNet's default

    @field_validator("surrogate")
    @classmethod
    def _known_surrogate(cls, v: str | None) -> str | None:
        from xylodeploy.models.surrogate import SURROGATES

        if v is not None and v not in SURROGATES:
            raise ValueError(f"must be one of {sorted(SURROGATES)} (got {v!r})")
        return v

    @field_validator("dt")
    @classmethod
    def _dt_range(cls, v: float) -> float:
        from xylodeploy.chips._common import DT_RANGE_S

        lo, hi = DT_RANGE_S
        if not lo <= v <= hi:
            raise ValueError(f"must be a time step between {lo:g} and {hi:g} s (got {v!r})")
        return v

    @model_validator(mode="after")
    def _layers_match(self) -> ModelConfig:
        if len(self.size_hidden_layers) != len(self.time_constants_per_layer):
            raise ValueError(
                f"size_hidden_layers ({len(self.size_hidden_layers)} layers) and time_constants_per_layer "
                f"({len(self.time_constants_per_layer)}) must have the same length"
            )
        return self

    def kwargs(self) -> dict[str, Any]:
        """SynNet keyword arguments (without n_classes / n_channels; unset optionals left out)."""
        out = self.model_dump(mode="json", exclude={"name"})
        return {k: v for k, v in out.items() if v is not None}


class TrainConfig(Section):
    """Optimiser, loss, regularisation and stopping rules."""

    epochs: Annotated[int, Strict(), Field(ge=1, le=100_000)] = 30
    batch_size: Annotated[int, Strict(), Field(ge=1)] = 32
    lr: Annotated[float, Strict(), Field(gt=0, le=100)] = 3e-3
    memory_limit_gb: PosFloat = 8.0  # refuse configs whose estimated training memory exceeds this
    weight_decay: Annotated[float, Strict(), Field(ge=0)] = 1e-2  # decoupled (AdamW): w -= lr * weight_decay * w
    lr_schedule: Literal["none", "cosine"] = "cosine"
    loss: Literal["ce_max", "ce_mean", "ce_count"] = "ce_max"
    grad_clip: PosFloat | None = None
    patience: Annotated[int, Strict(), Field(ge=0)] = 0  # epochs without val improvement before stopping; 0: never
    max_minutes: PosFloat | None = None  # wall-time budget; stops after the batch in progress, keeps the best
    threads: Annotated[int, Strict(), Field(ge=1, le=1024)] | None = None  # torch CPU threads (None: torch default)
    progress: StrictBool = True


NonNeg = Annotated[float, Strict(), Field(ge=0)]


class AugmentConfig(Section):
    """Raster augmentation of training batches (see `xylodeploy.train.augment`), off unless ``enabled``;
    the other keys are the settings it uses then. Validation, test and deployment never see it."""

    enabled: StrictBool = False
    p: Prob = 1.0  # probability that a clip is augmented at all
    shift_ms: NonNeg = 50.0  # max |time shift| per clip
    gain_sigma: NonNeg = 0.3  # per-channel log-gain spread (gains above 1 clip to 1: thinning only)
    event_drop: Fraction = 0.05  # fraction of events dropped at random
    jitter_ms: NonNeg = 1.0  # max |time jitter| per event
    noise_rate: NonNeg = 0.02  # spurious events per step and channel
    max_count: Annotated[int, Strict(), Field(ge=1)] = _CHIP.max_input_events

    def active(self) -> bool:
        """True if any transform would change a clip."""
        knobs = (self.shift_ms, self.gain_sigma, self.event_drop, self.jitter_ms, self.noise_rate)
        return self.enabled and self.p > 0 and any(v > 0 for v in knobs)


class RunConfig(Section):
    """One training run. Subclass to add later pipeline sections."""

    data: DataConfig = Field(default_factory=SyntheticData)
    model: ModelConfig = Field(default_factory=ModelConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    augment: AugmentConfig = Field(default_factory=AugmentConfig)
    seed: Seed = 0

    @model_validator(mode="after")
    def _fits_memory(self) -> RunConfig:
        from xylodeploy.train.budget import check_budget

        check_budget(self)
        return self


# ---------------------------------------------------------------- loading and error messages


def _field_model(cls: Any, key: str | int) -> Any:
    """The section class of field ``key`` of ``cls`` (None if it is not a section)."""
    if not (isinstance(cls, type) and issubclass(cls, BaseModel)) or key not in cls.model_fields:
        return None
    ann = cls.model_fields[key].annotation
    cands = [a for a in typing.get_args(ann) or (ann,) if isinstance(a, type) and issubclass(a, BaseModel)]
    return cands[0] if len(cands) == 1 else (cands or None)


def _walk(cls: type, loc: tuple) -> tuple[list[str], Any]:
    """Dotted path (union tags removed) and the section class at the end of ``loc``."""
    parts: list[str] = []
    cur: Any = cls
    for item in loc:
        if isinstance(cur, list):  # a discriminated union: the item is the tag
            cur = next((c for c in cur if c.model_fields["kind"].default == item), None)
            continue
        parts.append(str(item))
        cur = _field_model(cur, item)
    return parts, cur


def _describe(err: dict, cls: type) -> str:
    kind, ctx, got = err["type"], err.get("ctx", {}), _short(err.get("input"))
    parts, _ = _walk(cls, err["loc"])
    ops = {"greater_than": ">", "greater_than_equal": ">=", "less_than": "<", "less_than_equal": "<="}
    if kind in ops:
        bound = next(iter(ctx.values()))
        bound = int(bound) if isinstance(bound, float) and bound.is_integer() else bound
        msg = f"must be {ops[kind]} {bound} (got {got!r})"
    elif kind == "literal_error":
        msg = f"must be one of {ctx['expected']} (got {got!r})"
    elif kind == "extra_forbidden":
        _, parent = _walk(cls, err["loc"][:-1])
        allowed = ", ".join(parent.model_fields) if isinstance(parent, type) else "none"
        msg = f"unknown key (allowed: {allowed})"
    elif kind == "string_type" and isinstance(got, bool):
        msg = f"must be a string (got {got}: YAML reads unquoted yes/no/on/off as booleans; quote it)"
    elif kind == "missing" and isinstance(err["loc"][-1], int):
        parts.pop()
        msg = "must be a list of 2 numbers [min, max]"
    elif kind == "missing":
        msg = "required key missing"
    elif kind in ("union_tag_invalid", "union_tag_not_found"):
        parts.append("kind")
        kinds = ", ".join(repr(k) for k in DATA_KINDS)
        msg = f"must be one of {kinds} (got {ctx['tag']!r})" if "tag" in ctx else f"required key missing ({kinds})"
    else:
        text = err["msg"].removeprefix("Value error, ")
        msg = f"{text[0].lower()}{text[1:]} (got {got!r})" if kind not in ("value_error",) else text
    return f"{'.'.join(parts)}: {msg}" if parts else msg


class _Short:
    """A value shown in an error message: its repr cut to 60 characters (a 3 MB string stays one short line)."""

    def __init__(self, value: Any) -> None:
        self.value = value

    def __repr__(self) -> str:
        if isinstance(self.value, (dict, list, tuple)) and len(self.value) > 8:
            return f"<{type(self.value).__name__} of {len(self.value)} items>"
        text = repr(self.value) if not isinstance(self.value, str) or len(self.value) < 200 else repr(self.value[:60])
        return text if len(text) <= 60 else text[:57] + "..."

    def __format__(self, spec: str) -> str:
        return repr(self)


def _short(value: Any) -> Any:
    return value if isinstance(value, (bool, int, float, type(None))) else _Short(value)


def config_error(exc: ValidationError, source: str, cls: type = RunConfig) -> ConfigError:
    """Convert a pydantic ValidationError into a one-line ConfigError naming ``source`` and each key."""
    return ConfigError(f"{source}: " + "; ".join(_describe(e, cls) for e in exc.errors()))


def config_from_dict(raw: Any, source: str = "<config>", cls: type[RunConfig] = RunConfig, base_dir=None):
    """Validate a plain mapping as ``cls``; relative data paths are resolved against ``base_dir``."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: expected a mapping of sections at the top level, got {type(raw).__name__}")
    try:
        cfg = cls.model_validate(raw)
    except ValidationError as exc:
        raise config_error(exc, source, cls) from None
    if base_dir is not None:
        _resolve_paths(cfg.data, Path(base_dir))
    return cfg


def _resolve_paths(section: BaseModel, base: Path) -> None:
    for name in type(section).model_fields:
        value = getattr(section, name)
        if isinstance(value, Path) and not value.is_absolute():
            setattr(section, name, base / value)


def read_yaml(path: str | os.PathLike, what: str = "config file") -> Any:
    """The plain data of a YAML file through the bounded safe loader (`xylodeploy.io.yamlfile`); one-line errors."""
    from xylodeploy.io.yamlfile import load_yaml

    return load_yaml(existing_file(path, what), what)


def load_config(path: str | os.PathLike, cls: type[RunConfig] = RunConfig) -> RunConfig:
    """Read and validate a YAML run config."""
    p = existing_file(path, "config file")
    return config_from_dict(read_yaml(p), str(p), cls, base_dir=p.parent)


def save_config(cfg: RunConfig, path: str | os.PathLike, header: str = "") -> Path:
    """Write ``cfg`` as YAML atomically (all defaults spelled out), after an optional comment ``header``."""
    text = header + yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False)
    with atomic_write(path, "w") as fh:
        fh.write(text)
    return Path(path)
