"""Ways to damage the good files: raw bytes, npz members, npz metadata, YAML keys, checkpoints."""

from __future__ import annotations

import io
import json
import struct
import zipfile
from pathlib import Path
from typing import Any

import numpy as np


def members(path: Path) -> dict[str, bytes]:
    """The raw ``.npy`` bytes of every member of an npz file."""
    with zipfile.ZipFile(path) as z:
        return {n.removesuffix(".npy"): z.read(n) for n in z.namelist()}


def write_members(path: Path, raw: dict[str, bytes]) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        for name, data in raw.items():
            z.writestr(name + ".npy", data)


def npy(arr: Any) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.asarray(arr), allow_pickle=True)
    return buf.getvalue()


def npy_header_only(descr: str, shape: tuple[int, ...], payload: bytes = b"\0" * 64) -> bytes:
    """A ``.npy`` member whose header declares ``shape`` of ``descr`` but holds only ``payload``."""
    header = repr({"descr": descr, "fortran_order": False, "shape": shape}).encode()
    header += b" " * ((64 - (10 + len(header) + 1) % 64) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + payload


def set_member(path: Path, name: str, data: bytes | Any) -> None:
    raw = members(path)
    raw[name] = data if isinstance(data, bytes) else npy(data)
    write_members(path, raw)


def drop_member(path: Path, name: str) -> None:
    raw = members(path)
    raw.pop(name, None)
    write_members(path, raw)


def get_array(path: Path, name: str) -> np.ndarray:
    with np.load(path, allow_pickle=False) as z:
        return z[name]


def edit_meta(path: Path, fn: Any, key: str = "__meta__") -> None:
    """Apply ``fn(meta_dict)`` (mutating, or returning a replacement) to the JSON meta member."""
    meta = json.loads(get_array(path, key).tobytes().decode())
    out = fn(meta)
    meta = meta if out is None else out
    text = meta if isinstance(meta, (bytes, str)) else json.dumps(meta)
    data = text.encode() if isinstance(text, str) else text
    set_member(path, key, np.frombuffer(data, dtype=np.uint8))


def unknown_compression(path: Path) -> None:
    """Rewrite the archive with compression method 99 declared in every header."""
    data = bytearray(path.read_bytes())
    for sig, off in ((b"PK\x03\x04", 8), (b"PK\x01\x02", 10)):
        i = data.find(sig)
        while i >= 0:
            data[i + off : i + off + 2] = struct.pack("<H", 99)
            i = data.find(sig, i + 4)
    path.write_bytes(bytes(data))


def truncate(path: Path, frac: float = 0.5) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * frac)])


def bitflip(path: Path, seed: int, n: int = 8) -> None:
    rng = np.random.default_rng(seed)
    data = bytearray(path.read_bytes())
    for i in rng.integers(0, len(data), n):
        data[i] ^= 1 << int(rng.integers(0, 8))
    path.write_bytes(bytes(data))


def random_bytes(path: Path, seed: int, n: int = 4096) -> None:
    path.write_bytes(np.random.default_rng(seed).integers(0, 256, n, dtype=np.uint8).tobytes())


def deep_json(depth: int = 100_000) -> str:
    return '{"format": "x", "a": ' + "[" * depth + "]" * depth + "}"


def yaml_set(path: Path, dotted: str, value: Any) -> None:
    import yaml

    raw = yaml.safe_load(path.read_text())
    *head, last = dotted.split(".")
    node = raw
    for k in head:
        node = node.setdefault(k, {})
    node[last] = value
    path.write_text(yaml.safe_dump(raw, sort_keys=False))


def yaml_set_text(path: Path, dotted: str, text: str) -> None:
    """Set ``dotted`` to a raw YAML scalar text (e.g. ``.inf``, ``true``)."""
    yaml_set(path, dotted, "__RAW__")
    path.write_text(path.read_text().replace("__RAW__", text))


class Evil:
    """Unpickling this object creates ``marker``: proof that untrusted code ran."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return (open, (self.marker, "w"))


def evil_torch_file(path: Path, marker: Path) -> None:
    import torch

    torch.save({"model": Evil(str(marker))}, path)


def edit_checkpoint(path: Path, fn: Any) -> None:
    """Load a checkpoint dict (weights only), apply ``fn`` and save it back."""
    import torch

    raw = torch.load(path, weights_only=True)
    out = fn(raw)
    torch.save(raw if out is None else out, path)
