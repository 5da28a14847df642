"""The search space of a sweep: dotted config keys mapped to Optuna distributions (YAML).

::

    train.lr:                 {float: [1.0e-4, 1.0e-2], log: true}
    train.epochs:             {int: [10, 40]}
    model.size_hidden_layers: {choices: [[24, 24, 24], [64, 64]]}
    quantize.headroom_bits:   {int: [1, 4], step: 1}

Each entry names exactly one of ``float``, ``int`` (``[low, high]``, inclusive, ``log`` and ``step``
optional) or ``choices`` (a list of any YAML values). Keys are validated against the pipeline
config: a trial's config is the base config with the sampled values set, checked like any config.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from xylodeploy.errors import ConfigError


class Param(BaseModel):
    """One dimension of the search space."""

    model_config = ConfigDict(extra="forbid", strict=True)

    float_range: list[float] | None = Field(default=None, alias="float", min_length=2, max_length=2)
    int_range: list[int] | None = Field(default=None, alias="int", min_length=2, max_length=2)
    choices: list[Any] | None = Field(default=None, min_length=1)
    log: bool = False
    step: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _one_kind(self) -> Param:
        kinds = [k for k in ("float_range", "int_range", "choices") if getattr(self, k) is not None]
        if len(kinds) != 1:
            raise ValueError("give exactly one of float: [low, high], int: [low, high] or choices: [...]")
        rng = self.float_range or self.int_range
        if rng is not None and not rng[0] < rng[1]:
            raise ValueError(f"low {rng[0]} must be below high {rng[1]}")
        if rng is not None and self.log and rng[0] <= 0:
            raise ValueError("log: true needs low > 0")
        return self

    def suggest(self, trial: Any, name: str) -> Any:
        """Draw this parameter from an Optuna trial (choices travel as JSON text, Optuna needs scalars)."""
        if self.float_range is not None:
            lo, hi = self.float_range
            return trial.suggest_float(name, lo, hi, log=self.log, step=self.step)
        if self.int_range is not None:
            lo, hi = self.int_range
            return trial.suggest_int(name, lo, hi, log=self.log, step=int(self.step or 1))
        texts = [json.dumps(c) for c in self.choices]
        return json.loads(trial.suggest_categorical(name, texts))


def load_space(path: str | Path) -> dict[str, Param]:
    """Read and validate a space file (one-line `ConfigError` naming the key on any problem)."""
    from xylodeploy.train.config import read_yaml

    p = Path(path)
    raw = read_yaml(p, "search space file")
    if not isinstance(raw, dict) or not raw:
        raise ConfigError(f"{p}: expected a mapping of dotted config keys to distributions")
    space = {}
    for key, spec in raw.items():
        if not isinstance(key, str) or "." not in key:
            raise ConfigError(f"{p}: key {key!r}: expected a dotted config key such as train.lr")
        try:
            space[key] = Param.model_validate(spec)
        except ValidationError as exc:
            err = exc.errors()[0]
            raise ConfigError(f"{p}: {key}: {err['msg']}") from None
    return space


def apply_params(base: dict, params: dict[str, Any], source: str) -> dict:
    """A deep copy of the config mapping ``base`` with each dotted key set to its value."""
    raw = copy.deepcopy(base)
    for key, value in params.items():
        *parents, leaf = key.split(".")
        node = raw
        for part in parents:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"{source}: {key}: '{part}' is not a config section")
        node[leaf] = value
    return raw
