"""The one reader of ``.npz`` archives (specs, graphs, rasters): sizes are checked before reading.

Each member's zip entry and ``.npy`` header are parsed first and the member is refused (one-line
`ConfigError` naming file and member) when

* the archive has more than `MAX_MEMBERS` entries, or an entry is not ``NAME.npy``;
* its compression is neither *stored* nor *deflate* (numpy writes only these two);
* its dtype holds Python objects (pickles are never loaded) or is not bool/int/uint/float/complex/str;
* its declared size ``prod(shape) * itemsize`` exceeds the limit (default 2 GiB, raise it with the
  environment variable ``XYLODEPLOY_MAX_ARRAY_BYTES``), or differs from the bytes the entry holds.

JSON metadata members go through `json_meta` (size and nesting depth bounded before parsing).
"""

from __future__ import annotations

import json
import math
import os
import tokenize
import zipfile
import zlib

import numpy as np

from xylodeploy.errors import ConfigError
from xylodeploy.io.files import existing_file

MAX_MEMBERS = 4096
MAX_HEADER = 10_000  # bytes of .npy header text (numpy's own default limit)
MAX_META_BYTES = 16 << 20
MAX_META_DEPTH = 64
_KINDS = "biufcU"
_ZIP_METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)


def max_array_bytes() -> int:
    """The per-member size limit: ``XYLODEPLOY_MAX_ARRAY_BYTES`` or 2 GiB."""
    raw = os.environ.get("XYLODEPLOY_MAX_ARRAY_BYTES", "")
    try:
        return int(raw) if raw else 2 << 30
    except ValueError:
        raise ConfigError(f"XYLODEPLOY_MAX_ARRAY_BYTES={raw!r}: expected a whole number of bytes") from None


def _member_header(zf: zipfile.ZipFile, info: zipfile.ZipInfo, where: str, limit: int) -> None:
    """Check one entry's compression, dtype and declared size against what it holds."""
    if info.compress_type not in _ZIP_METHODS:
        raise ConfigError(f"{where}: unsupported zip compression method {info.compress_type} (stored/deflate only)")
    if info.flag_bits & 0x1:
        raise ConfigError(f"{where}: encrypted zip member")
    with zf.open(info) as fh:
        version = np.lib.format.read_magic(fh)
        if version == (1, 0):
            shape, _fortran, dtype = np.lib.format.read_array_header_1_0(fh, max_header_size=MAX_HEADER)
        else:
            shape, _fortran, dtype = np.lib.format.read_array_header_2_0(fh, max_header_size=MAX_HEADER)
        header_len = fh.tell()
    if dtype.hasobject or dtype.kind not in _KINDS or dtype.fields is not None:
        raise ConfigError(f"{where}: dtype {dtype} is not a plain numeric array (object arrays are never loaded)")
    declared = math.prod(int(s) for s in shape) * dtype.itemsize
    if declared > limit:
        raise ConfigError(
            f"{where}: declares shape {shape} of {dtype} = {declared:,} bytes, over the limit of {limit:,} "
            "(raise XYLODEPLOY_MAX_ARRAY_BYTES if the file is genuine)"
        )
    if info.file_size - header_len != declared:
        raise ConfigError(
            f"{where}: header declares {declared:,} bytes of {dtype} {shape}, the member holds "
            f"{info.file_size - header_len:,} (truncated or damaged)"
        )


def read_npz(path: str | os.PathLike, what: str = "npz file") -> dict[str, np.ndarray]:
    """All members of an ``.npz`` file as arrays, checked as in the module docstring."""
    p = existing_file(path, what)
    limit = max_array_bytes()
    try:
        with open(p, "rb") as fh:
            magic = fh.read(6)
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read the {what} ({exc.strerror or exc})") from None
    try:
        if magic == b"\x93NUMPY":
            raise ConfigError(f"{p}: a bare .npy array, expected an .npz archive ({what})")
        with zipfile.ZipFile(p) as zf:
            infos = zf.infolist()
            if len(infos) > MAX_MEMBERS:
                raise ConfigError(f"{p}: {len(infos)} archive members, more than {MAX_MEMBERS}")
            out = {}
            for info in infos:
                name = info.filename
                if not name.endswith(".npy") or info.is_dir():
                    raise ConfigError(f"{p}: member '{name}' is not a .npy array")
                where = f"{p}: member '{name[:-4]}'"
                _member_header(zf, info, where, limit)
                with zf.open(info) as fh:
                    out[name[:-4]] = np.lib.format.read_array(fh, allow_pickle=False, max_header_size=MAX_HEADER)
            return out
    except ConfigError:
        raise
    # numpy parses a version-1 header with tokenize: a damaged one raises tokenize.TokenError
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError, KeyError, zlib.error,
            NotImplementedError, RuntimeError, SyntaxError, tokenize.TokenError, TypeError, OverflowError,
            MemoryError) as exc:  # fmt: skip
        msg = (str(exc).splitlines() or [""])[0][:200] or type(exc).__name__
        raise ConfigError(f"{p}: not a readable {what} (corrupt or truncated: {msg})") from None


def _depth(text: str) -> int:
    """Maximum bracket nesting of a JSON text (brackets inside strings are skipped)."""
    depth = best = 0
    in_str = esc = False
    for ch in text:
        if in_str:
            esc, in_str = (False, in_str) if esc else (ch == "\\", ch != '"')
        elif ch == '"':
            in_str = True
        elif ch in "[{":
            depth += 1
            best = max(best, depth)
            if best > MAX_META_DEPTH:
                return best
        elif ch in "]}":
            depth -= 1
    return best


def json_meta(arr: np.ndarray, where: str) -> object:
    """Parse a uint8 JSON member: at most `MAX_META_BYTES`, nesting at most `MAX_META_DEPTH` (values are
    checked by the reader of each field: provenance may hold an infinite number, ``dt`` may not)."""
    if arr.dtype != np.uint8 or arr.ndim != 1:
        raise ConfigError(f"{where}: metadata must be a 1-D uint8 array of UTF-8 JSON, got {arr.dtype} {arr.shape}")
    if arr.size > MAX_META_BYTES:
        raise ConfigError(f"{where}: metadata is {arr.size:,} bytes, more than {MAX_META_BYTES:,}")
    try:
        text = arr.tobytes().decode()
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{where}: metadata is not UTF-8 ({exc.reason})") from None
    if _depth(text) > MAX_META_DEPTH:
        raise ConfigError(f"{where}: metadata nests deeper than {MAX_META_DEPTH} levels")
    try:
        return json.loads(text)
    except (json.JSONDecodeError, ValueError, RecursionError) as exc:
        raise ConfigError(f"{where}: metadata is not valid JSON ({str(exc)[:120]})") from None


__all__ = ["MAX_META_DEPTH", "json_meta", "max_array_bytes", "read_npz"]
