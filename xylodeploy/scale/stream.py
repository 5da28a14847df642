"""Stream shard results into one ``.npz`` on disk: memory holds one shard, not the whole output.

Each named array is a ``.npy`` memory map in a temporary folder beside the target, filled shard by
shard at its clip range; `NpzStreamWriter.close` stores the maps uncompressed in a zip (what
``np.savez`` writes, readable by ``np.load``) through `atomic_write`, so a failed or interrupted
run leaves no partial file and never replaces an earlier one.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from xylodeploy.io.files import atomic_write


class NpzStreamWriter:
    """Fill ``(n_clips, ...)`` arrays shard by shard, then write them as one ``.npz`` (module docstring)."""

    def __init__(self, path: str | Path, n_clips: int) -> None:
        self.path = Path(path)
        self.n_clips = n_clips
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._dir = Path(tempfile.mkdtemp(prefix=f".{self.path.name}.", dir=self.path.parent))
        self._maps: dict[str, np.memmap] = {}

    def write(self, clips: slice, arrays: dict[str, np.ndarray]) -> None:
        """Store the arrays of the clips ``clips`` (each array has ``clips``' length on axis 0)."""
        for name, arr in arrays.items():
            arr = np.asarray(arr)
            if name not in self._maps:
                self._maps[name] = np.lib.format.open_memmap(
                    self._dir / f"{name}.npy", mode="w+", dtype=arr.dtype, shape=(self.n_clips, *arr.shape[1:])
                )
            self._maps[name][clips] = arr

    def close(self) -> None:
        """Write the ``.npz`` atomically and remove the temporary maps."""
        try:
            for mm in self._maps.values():
                mm.flush()
            with atomic_write(self.path) as fh, zipfile.ZipFile(fh, "w", zipfile.ZIP_STORED, allowZip64=True) as z:
                for name in self._maps:
                    z.write(self._dir / f"{name}.npy", f"{name}.npy")
        finally:
            self.abort()

    def abort(self) -> None:
        """Drop everything written so far (the target file is untouched)."""
        self._maps.clear()
        with contextlib.suppress(OSError):
            shutil.rmtree(self._dir)

    def __enter__(self) -> NpzStreamWriter:
        return self

    def __exit__(self, exc_type: object, *rest: object) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()
