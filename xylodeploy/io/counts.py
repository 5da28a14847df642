"""The one check for arrays of event counts and labels read at a boundary (files, CLI, backends)."""

from __future__ import annotations

from typing import Any

import numpy as np

from xylodeploy.errors import ConfigError


def integer_counts(value: Any, where: str) -> np.ndarray:
    """``value`` as an int64 array if it holds finite, non-negative integers.

    Raises a one-line `ConfigError` starting with ``where`` (e.g. ``"clips.npz: 'spikes'"``) for a
    non-numeric or complex dtype, NaN/inf, fractional, negative or out-of-int64 values.
    """
    arr = np.asarray(value)
    numeric = np.issubdtype(arr.dtype, np.number) or arr.dtype == bool
    if arr.dtype == object or not numeric or np.issubdtype(arr.dtype, np.complexfloating):
        raise ConfigError(f"{where}: expected non-negative integer counts, got dtype {arr.dtype}")
    if arr.size and not (np.issubdtype(arr.dtype, np.integer) or arr.dtype == bool):
        if not np.all(np.isfinite(arr)):
            raise ConfigError(f"{where}: contains NaN or infinite values")
        if np.any(arr != np.round(arr)):
            raise ConfigError(f"{where}: counts must be integers, found fractional values")
    if arr.size and arr.min() < 0:
        raise ConfigError(f"{where}: counts must be >= 0 (non-negative), found {arr.min()}")
    if arr.size and arr.max() >= 2**63:
        raise ConfigError(f"{where}: values too large for int64")
    return np.ascontiguousarray(arr, dtype=np.int64)
