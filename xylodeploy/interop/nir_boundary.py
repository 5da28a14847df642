"""The NIR input boundary: a NIR file or graph is checked before `from_nir` interprets it.

`checked_nir_graph` reads a file (size-limited, HDF5 signature checked, any reader failure is one
line) and checks the graph's structure and numbers, so the translation in `xylodeploy.interop.nir`
only ever sees: edges between existing nodes, real finite parameter arrays, positive time constants,
2-D weight matrices whose shapes match the nodes they connect, and a numeric ``dt`` in range.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from xylodeploy._optional import require
from xylodeploy.errors import ConfigError

MAX_FILE_BYTES = 1 << 30
MAX_VALUES = 50_000_000  # parameters in one graph
MAX_ABS = 1e30  # no physical parameter of a NIR graph is larger; beyond it float arithmetic overflows
_HDF5 = b"\x89HDF\r\n\x1a\n"
_ARRAYS = ("tau_mem", "tau_syn", "tau", "r", "v_leak", "v_threshold", "v_reset", "w_in", "weight", "bias", "delay")
_POSITIVE = ("tau_mem", "tau_syn", "tau")


def check_dt(dt: Any, where: str) -> float:
    """``dt`` as a float of seconds in the chips' `DT_RANGE_S` (bools and strings are refused)."""
    from xylodeploy.chips._common import DT_RANGE_S

    lo, hi = DT_RANGE_S
    if isinstance(dt, (bool, np.bool_)) or not isinstance(dt, (int, float, np.integer, np.floating)):
        raise ConfigError(f"{where}: dt must be a number of seconds, got {dt!r}")
    if not (np.isfinite(dt) and lo <= float(dt) <= hi):
        raise ConfigError(f"{where}: dt = {dt!r} s, expected a time step between {lo:g} and {hi:g} s")
    return float(dt)


def check_nir_file(path: str | os.PathLike) -> Any:
    """The path of an existing file of at most `MAX_FILE_BYTES` with the HDF5 signature (before h5py sees it)."""
    from xylodeploy.io.files import existing_file

    p = existing_file(path, "NIR file")
    if p.stat().st_size > MAX_FILE_BYTES:
        raise ConfigError(f"{p}: NIR file of {p.stat().st_size:,} bytes, more than {MAX_FILE_BYTES:,}")
    with open(p, "rb") as fh:
        if fh.read(8) != _HDF5:
            raise ConfigError(f"{p}: not a NIR file (no HDF5 signature)")
    return p


def _read(path: str | os.PathLike) -> Any:
    p = check_nir_file(path)
    nir = require("nir", "nir", "reading NIR graphs")
    try:
        return nir.read(str(p))
    except Exception as exc:  # noqa: BLE001 - h5py/nir raise many types for damaged files
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]
        raise ConfigError(f"{p}: not a readable NIR file ({type(exc).__name__}: {first})") from None


def _node_arrays(name: str, node: Any) -> dict[str, np.ndarray]:
    out = {}
    for attr in _ARRAYS:
        if getattr(node, attr, None) is None:
            continue
        where = f"NIR node '{name}' ({type(node).__name__}) {attr}"
        try:
            arr = np.asarray(getattr(node, attr))
        except Exception:  # noqa: BLE001
            raise ConfigError(f"{where}: not an array") from None
        if arr.dtype.kind not in "iuf":
            raise ConfigError(f"{where}: dtype {arr.dtype}, expected real numbers")
        if arr.size > MAX_VALUES:
            raise ConfigError(f"{where}: {arr.size:,} values, more than {MAX_VALUES:,}")
        if not np.all(np.isfinite(arr)) and not (attr in _POSITIVE and np.all(np.isposinf(arr) | (arr > 0))):
            raise ConfigError(f"{where}: contains NaN or infinite values")
        finite = arr[np.isfinite(arr)]
        if finite.size and np.abs(finite).max() > MAX_ABS:
            raise ConfigError(f"{where}: magnitude {np.abs(finite).max():g} exceeds {MAX_ABS:g}")
        if attr in _POSITIVE and np.any(arr <= 0):
            raise ConfigError(f"{where}: time constants must be > 0 s, found {arr.min():g}")
        out[attr] = arr
    return out


def _sizes(g: Any, arrays: dict[str, dict[str, np.ndarray]]) -> dict[str, int]:
    """Neuron counts known from each node itself (Input type, neuron parameter vectors)."""
    sizes = {}
    for name, node in g.nodes.items():
        kind = type(node).__name__
        if kind == "Input":
            shape = np.asarray(node.input_type.get("input", []))
            if shape.dtype.kind not in "iu" or shape.size == 0 or np.any(shape <= 0):
                raise ConfigError(f"NIR node '{name}' (Input): invalid input shape {shape.tolist()}")
            if shape.size == 1:  # a multi-axis Input may carry a time axis: `from_nir` decides
                sizes[name] = int(shape[0])
        else:
            vec = [a.size for k, a in arrays[name].items() if k not in ("weight", "bias", "delay") and a.size > 1]
            if vec:
                sizes[name] = vec[0]
    return sizes


def _check_weights(g: Any, arrays: dict[str, dict[str, np.ndarray]], sizes: dict[str, int]) -> None:
    for name, node in g.nodes.items():
        w = arrays[name].get("weight")
        if w is None:
            continue
        kind = type(node).__name__
        if w.ndim != 2:
            raise ConfigError(f"NIR node '{name}' ({kind}): weight has shape {w.shape}, expected 2-D (out, in)")
        for s, t in g.edges:
            if t == name and s in sizes and sizes[s] != w.shape[1]:
                raise ConfigError(f"NIR node '{name}' ({kind}): weight {w.shape} takes {w.shape[1]} inputs, "
                                  f"its source '{s}' has {sizes[s]}")  # fmt: skip
            if s == name and t in sizes and sizes[t] != w.shape[0]:
                raise ConfigError(f"NIR node '{name}' ({kind}): weight {w.shape} gives {w.shape[0]} outputs, "
                                  f"its target '{t}' has {sizes[t]}")  # fmt: skip
        b = arrays[name].get("bias")
        if b is not None and b.size not in (1, w.shape[0]):
            raise ConfigError(f"NIR node '{name}' ({kind}): bias has {b.size} values for {w.shape[0]} outputs")


def checked_nir_graph(source: Any, dt: float | None = None) -> Any:
    """The NIR graph of ``source`` (a path or a ``nir.NIRGraph``) after the checks of the module docstring."""
    g = _read(source) if isinstance(source, (str, os.PathLike)) else source
    nodes, edges = getattr(g, "nodes", None), getattr(g, "edges", None)
    if not isinstance(nodes, dict) or not isinstance(edges, (list, tuple)):
        raise ConfigError("NIR graph: expected nodes (a mapping) and edges (a list)")
    for edge in edges:
        if len(edge) != 2 or any(e not in nodes for e in edge):
            missing = [e for e in edge if e not in nodes]
            raise ConfigError(f"NIR graph: edge {tuple(edge)} names a missing node {missing[:1]}")
    meta = getattr(g, "metadata", None) or {}
    if not isinstance(meta, dict):
        raise ConfigError("NIR graph: metadata is not a mapping")
    if "dt" in meta:
        raw = meta["dt"]
        raw = raw.item() if isinstance(raw, np.ndarray) and raw.size == 1 and raw.dtype.kind in "iuf" else raw
        check_dt(raw, "NIR graph metadata")
    if dt is not None:
        check_dt(dt, "--dt")
    arrays = {name: _node_arrays(name, node) for name, node in nodes.items()}
    if sum(a.size for d in arrays.values() for a in d.values()) > MAX_VALUES:
        raise ConfigError(f"NIR graph: more than {MAX_VALUES:,} parameter values")
    _check_weights(g, arrays, _sizes(g, arrays))
    return g
