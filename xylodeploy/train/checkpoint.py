"""Training checkpoints: everything needed to rebuild a trained model, as plain types.

A checkpoint is a ``torch.save``'d dict that `torch.load(weights_only=True)` can read::

    schema: "xylodeploy.checkpoint", schema_version: 1, xylodeploy_version: str
    model: {class: "SynNet", init_kwargs: {...}}        # SynNet(**init_kwargs) rebuilds it
    state_dict: {name: tensor}
    dataset: {n_channels, n_classes, classes, dt, n_steps, sizes}
    config: the run config (JSON types);  metrics: {...};  epoch: int;  history: [{...}]
    optimizer / scheduler: state dicts (last checkpoint only, for --resume);  best: {...}
"""

from __future__ import annotations

import importlib
import io
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from xylodeploy import __version__
from xylodeploy.errors import ConfigError
from xylodeploy.io.files import atomic_write, existing_file

LAST, BEST = "last.pt", "best.pt"  # the file names a training run writes
SCHEMA = "xylodeploy.checkpoint"
SCHEMA_VERSION = 1
# Short class names that a checkpoint may name -> "module:attribute".
MODEL_CLASSES: dict[str, str] = {"SynNet": "xylodeploy.models:SynNet"}
_REQUIRED: dict[str, type | tuple] = {
    "model": dict,
    "state_dict": dict,
    "dataset": dict,
    "config": dict,
    "metrics": dict,
    "epoch": int,
    "history": list,
}


@dataclass
class Checkpoint:
    """A loaded (validated) checkpoint."""

    path: Path
    model_class: str
    init_kwargs: dict[str, Any]
    state_dict: dict[str, torch.Tensor]
    dataset: dict[str, Any]
    config: dict[str, Any]
    metrics: dict[str, Any]
    epoch: int
    history: list[dict] = field(default_factory=list)
    optimizer: dict | None = None
    scheduler: dict | None = None
    best: dict = field(default_factory=dict)
    xylodeploy_version: str = ""


def model_class_name(model: torch.nn.Module) -> str:
    """Short registry name of ``model``'s class, or ``module:qualname`` if it is not registered."""
    cls = type(model)
    target = MODEL_CLASSES.get(cls.__name__, "")
    if target and cls.__module__.startswith(target.split(":")[0]):
        return cls.__name__
    return f"{cls.__module__}:{cls.__qualname__}"


def save_checkpoint(path: str | os.PathLike, model: torch.nn.Module, **fields: Any) -> Path:
    """Write a checkpoint atomically.

    Args:
        path: target file.
        model: a module with ``init_kwargs`` (JSON-serialisable constructor arguments).
        **fields: dataset, config, metrics, epoch, history and optionally optimizer, scheduler, best.
    """
    init_kwargs = getattr(model, "init_kwargs", None)
    if not isinstance(init_kwargs, dict):
        raise ConfigError(f"{path}: model {type(model).__name__} has no init_kwargs dict; cannot checkpoint it")
    payload = {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "xylodeploy_version": __version__,
        "model": {"class": model_class_name(model), "init_kwargs": dict(init_kwargs)},
        "state_dict": {k: v.detach().cpu().clone() for k, v in model.state_dict().items()},
        **fields,
    }
    buf = io.BytesIO()
    torch.save(payload, buf)
    with atomic_write(path, "wb") as fh:
        fh.write(buf.getvalue())
    return Path(path)


def load_checkpoint(path: str | os.PathLike) -> Checkpoint:
    """Read and validate a checkpoint (``torch.load(weights_only=True)``; no code is unpickled)."""
    p = existing_file(path, "checkpoint")
    try:
        with warnings.catch_warnings():  # a damaged file's "pickle protocol N" warning is not the user's news
            warnings.simplefilter("ignore")
            raw = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - torch raises many types for damaged files
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        first = first if len(first) <= 100 else type(exc).__name__
        raise ConfigError(f"{p}: not a readable xylodeploy checkpoint ({first})") from None
    if not isinstance(raw, dict) or raw.get("schema") != SCHEMA:
        raise ConfigError(f"{p}: not a xylodeploy checkpoint (missing schema '{SCHEMA}')")
    version = raw.get("schema_version")
    if version != SCHEMA_VERSION:
        raise ConfigError(f"{p}: checkpoint schema version {version!r} is not supported (expected {SCHEMA_VERSION})")
    for key, typ in _REQUIRED.items():
        if not isinstance(raw.get(key), typ):
            raise ConfigError(f"{p}: checkpoint field '{key}' is missing or not a {getattr(typ, '__name__', typ)}")
    model = raw["model"]
    if not isinstance(model.get("class"), str) or not isinstance(model.get("init_kwargs"), dict):
        raise ConfigError(f"{p}: checkpoint field 'model' must hold 'class' (str) and 'init_kwargs' (dict)")
    _check_contents(p, raw)
    return Checkpoint(
        path=p,
        model_class=model["class"],
        init_kwargs=model["init_kwargs"],
        state_dict=raw["state_dict"],
        dataset=raw["dataset"],
        config=raw["config"],
        metrics=raw["metrics"],
        epoch=raw["epoch"],
        history=raw["history"],
        optimizer=raw.get("optimizer"),
        scheduler=raw.get("scheduler"),
        best=raw.get("best") or {},
        xylodeploy_version=str(raw.get("xylodeploy_version", "")),
    )


def _check_contents(p: Path, raw: dict) -> None:
    """Types and values a loaded checkpoint must have: named tensors with finite values, an int epoch."""
    if isinstance(raw["epoch"], bool) or raw["epoch"] < 0:
        raise ConfigError(f"{p}: checkpoint field 'epoch' must be a non-negative integer, got {raw['epoch']!r}")
    for key, value in raw["state_dict"].items():
        if not isinstance(key, str) or not torch.is_tensor(value):
            raise ConfigError(f"{p}: state_dict entry {key!r} is not a named tensor ({type(value).__name__})")
        if (value.is_floating_point() or value.is_complex()) and not bool(torch.isfinite(value).all()):
            raise ConfigError(f"{p}: state_dict tensor '{key}' holds NaN or infinite values (a diverged training run?)")


def resolve_model_class(name: str, source: str = "checkpoint") -> type:
    """The class a checkpoint names: a registry name or ``xylodeploy.<module>:<class>``."""
    target = MODEL_CLASSES.get(name, name)
    module, _, attr = target.partition(":")
    if not attr or not module.startswith("xylodeploy."):
        known = ", ".join(MODEL_CLASSES)
        raise ConfigError(f"{source}: unknown model class '{name}' (known: {known})")
    try:
        return getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"{source}: model class '{name}' cannot be imported ({exc})") from None


def load_state(model: torch.nn.Module, state_dict: dict, source: str) -> None:
    """``model.load_state_dict(strict=True)`` with a one-line ConfigError on mismatch."""
    own = model.state_dict()
    missing = sorted(set(own) - set(state_dict))
    extra = sorted(set(state_dict) - set(own))
    if missing or extra:
        raise ConfigError(
            f"{source}: checkpoint does not fit {type(model).__name__}: "
            f"missing {missing[:3] or 'none'}, unexpected {extra[:3] or 'none'}"
        )
    for key, value in state_dict.items():
        if tuple(own[key].shape) != tuple(value.shape):
            want, got = tuple(own[key].shape), tuple(value.shape)
            raise ConfigError(f"{source}: checkpoint tensor '{key}' has shape {got}, model expects {want}")
    model.load_state_dict(state_dict, strict=True)


def build_model(ckpt: Checkpoint, model_cls: type | None = None) -> torch.nn.Module:
    """Rebuild the model a checkpoint describes and load its weights (eval mode)."""
    cls = model_cls or resolve_model_class(ckpt.model_class, str(ckpt.path))
    _check_sizes(ckpt)
    try:
        model = cls(**ckpt.init_kwargs)
    except (TypeError, ValueError, RuntimeError, ConfigError, OverflowError) as exc:
        first = (str(exc).splitlines() or [""])[0][:200]
        raise ConfigError(f"{ckpt.path}: cannot rebuild {ckpt.model_class} from init_kwargs ({first})") from None
    load_state(model, ckpt.state_dict, str(ckpt.path))
    return model.eval()


def _ints(value: Any) -> list[int]:
    if isinstance(value, bool):
        return []
    if isinstance(value, int):
        return [value]
    if isinstance(value, (list, tuple)):
        return [i for v in value for i in _ints(v)]
    return []


def _check_sizes(ckpt: Checkpoint) -> None:
    """Refuse init_kwargs whose integers exceed every stored tensor dimension (they would build another,
    possibly huge, model before the weights are compared)."""
    dims = [int(d) for t in ckpt.state_dict.values() for d in t.shape]
    limit = max([1024, *dims])
    for key, value in ckpt.init_kwargs.items():
        big = [i for i in _ints(value) if abs(i) > limit]
        if big:
            raise ConfigError(
                f"{ckpt.path}: init_kwargs '{key}' = {big[0]} exceeds every stored weight dimension "
                f"(<= {limit}): the checkpoint's description and weights disagree"
            )


def load_model(path: str | os.PathLike, model_cls: type | None = None) -> tuple[torch.nn.Module, Checkpoint]:
    """Load a checkpoint and rebuild its model: ``model, ckpt = load_model("runs/x/best.pt")``."""
    ckpt = load_checkpoint(path)
    return build_model(ckpt, model_cls), ckpt


def resume_state(path: Path, model: torch.nn.Module, opt: torch.optim.Optimizer) -> tuple[int, list, dict]:
    """Restore model and optimizer from ``path`` (a last checkpoint, for ``train --resume``);
    return (next epoch, history, best)."""
    if not path.is_file():
        raise ConfigError(f"{path}: no checkpoint to resume from (train without --resume first)")
    ckpt = load_checkpoint(path)
    name = model_class_name(model)
    if ckpt.model_class != name or ckpt.init_kwargs != model.init_kwargs:
        diff = sorted(k for k in set(ckpt.init_kwargs) | set(model.init_kwargs)
                      if ckpt.init_kwargs.get(k) != model.init_kwargs.get(k))  # fmt: skip
        what = f"model.{diff[0]} = {ckpt.init_kwargs.get(diff[0])!r} there, {model.init_kwargs.get(diff[0])!r} here"
        raise ConfigError(f"{path}: checkpoint is from another model ({what if diff else ckpt.model_class})")
    if ckpt.optimizer is None:
        raise ConfigError(f"{path}: checkpoint has no optimizer state; resume from {LAST}")
    load_state(model, ckpt.state_dict, str(path))
    try:
        opt.load_state_dict(ckpt.optimizer)
    except (ValueError, KeyError, RuntimeError, TypeError, IndexError) as exc:
        raise ConfigError(f"{path}: optimizer state does not fit this model ({str(exc)[:200]})") from None
    for i, (param, state) in enumerate(opt.state.items()):
        for key, value in state.items():
            if torch.is_tensor(value) and value.ndim and value.shape != param.shape:
                raise ConfigError(f"{path}: optimizer state '{key}' of parameter {i} has shape {tuple(value.shape)}, "
                                  f"the parameter {tuple(param.shape)}: not this model's optimizer")  # fmt: skip
    return ckpt.epoch + 1, list(ckpt.history), dict(ckpt.best)
