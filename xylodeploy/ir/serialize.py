"""The `.xylo` spec file format (schema version 1).

A `.xylo` file is a NumPy ``.npz`` archive (a zip of ``.npy`` members, no pickles):

* one member per array field of `XyloSpec` (``weights_in``, ``weights_rec``, ... ``bias_out``),
  stored as int64 so that any value survives exactly;
* ``__meta__``: UTF-8 JSON (as a uint8 array) with ``format`` = ``"xylodeploy-spec"``,
  ``schema_version``, ``xylodeploy_version``, ``chip``, ``dt``, ``weight_shift_in/rec/out``,
  ``aliases`` (list of lists) and ``provenance`` (a JSON object).

Files are written atomically; loading validates the version, every field and every shape and
raises a one-line `ConfigError` naming the file and the field.
"""

from __future__ import annotations

import io
import json
import os
from typing import Any

import numpy as np

from xylodeploy.errors import ConfigError
from xylodeploy.io.files import atomic_write, existing_file
from xylodeploy.io.npzfile import json_meta, read_npz
from xylodeploy.ir.xylospec import ARRAY_FIELDS, SCALAR_INT_FIELDS, XyloSpec

FORMAT_NAME = "xylodeploy-spec"
SCHEMA_VERSION = 1
META_KEY = "__meta__"


def _package_version() -> str:
    from xylodeploy import __version__

    return __version__


def spec_to_meta(spec: XyloSpec) -> dict[str, Any]:
    """The JSON metadata block of a spec (everything except the arrays)."""
    return {
        "format": FORMAT_NAME,
        "schema_version": SCHEMA_VERSION,
        "xylodeploy_version": _package_version(),
        "chip": spec.chip,
        "dt": spec.dt,
        **{name: getattr(spec, name) for name in SCALAR_INT_FIELDS},
        "aliases": [list(a) for a in spec.aliases],
        "provenance": dict(spec.provenance),
    }


def save_spec(spec: XyloSpec, path: str | os.PathLike) -> None:
    """Write ``spec`` to ``path`` atomically (nothing is written if anything fails)."""
    try:
        meta = json.dumps(spec_to_meta(spec), sort_keys=True, default=_json_default).encode()
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{path}: provenance is not JSON-serialisable ({exc})") from None
    buf = io.BytesIO()
    arrays = {name: np.asarray(getattr(spec, name), dtype=np.int64) for name in ARRAY_FIELDS}
    np.savez(buf, **arrays, **{META_KEY: np.frombuffer(meta, dtype=np.uint8)})
    with atomic_write(path) as fh:
        fh.write(buf.getvalue())


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"{type(obj).__name__} is not JSON-serialisable")


def load_spec(path: str | os.PathLike) -> XyloSpec:
    """Read and validate a `.xylo` file; raises ConfigError naming the file and field."""
    p = existing_file(path, "spec file")
    members = read_npz(p, ".xylo spec file")
    meta = _read_meta(p, members)
    missing = [name for name in ARRAY_FIELDS if name not in members]
    if missing:
        raise ConfigError(f"{p}: field '{missing[0]}' is missing")
    fields: dict[str, Any] = {name: members[name] for name in ARRAY_FIELDS}
    for name, arr in fields.items():
        if arr.dtype.kind not in "iu":
            raise ConfigError(f"{p}: field '{name}' has dtype {arr.dtype}, expected integers (int64)")
    for name in (*SCALAR_INT_FIELDS, "chip", "dt", "aliases", "provenance"):
        if name not in meta:
            raise ConfigError(f"{p}: metadata field '{name}' is missing")
        fields[name] = meta[name]
    _check_meta_types(p, fields)
    try:
        return XyloSpec(**fields)
    except ConfigError as exc:
        raise ConfigError(f"{p}: {exc}") from None
    except (TypeError, ValueError, OverflowError) as exc:
        raise ConfigError(f"{p}: invalid field value ({exc})") from None


def _check_meta_types(p: os.PathLike, fields: dict[str, Any]) -> None:
    """JSON types of the metadata: dt a number (not a bool), chip a string (known chips: checked by the DRC)."""
    dt = fields["dt"]
    if isinstance(dt, bool) or not isinstance(dt, (int, float)):
        raise ConfigError(f"{p}: metadata field 'dt' must be a number of seconds, got {dt!r}")
    if not isinstance(fields["chip"], str):
        raise ConfigError(f"{p}: metadata field 'chip' must be a chip name, got {fields['chip']!r}")


def _read_meta(p: os.PathLike, members: dict[str, np.ndarray]) -> dict[str, Any]:
    if META_KEY not in members:
        raise ConfigError(f"{p}: no '{META_KEY}' block: not a xylodeploy spec file")
    meta = json_meta(members[META_KEY], f"{p}: '{META_KEY}'")
    if not isinstance(meta, dict) or meta.get("format") != FORMAT_NAME:
        raise ConfigError(f"{p}: metadata field 'format' is not '{FORMAT_NAME}'")
    version = meta.get("schema_version")
    if isinstance(version, bool) or version != SCHEMA_VERSION:
        raise ConfigError(f"{p}: field 'schema_version' is {version!r}, this xylodeploy reads version {SCHEMA_VERSION}")
    return meta
