"""Sharded simulation: a backend that spreads clips over worker processes or a Dask cluster.

Each clip runs from the chip's reset state, so a clip's recording does not depend on the worker
that ran it or on the other clips of its shard: concatenating the shards' recordings in clip order
gives arrays bit-identical to one process running every clip (tested). Shards are contiguous
ranges of ``chunk`` clips; workers run the named backend with one thread each, so ``N`` workers
use ``N`` cores.

Two executors:

* ``workers=N``: a local pool of ``N`` spawned processes (no fork of a threaded parent);
* ``scheduler="tcp://host:8786"``: a Dask distributed scheduler; its workers (on any machine with
  xylodeploy installed) run the shards.

`ShardedBackend` follows the `Backend` protocol, so `validate`, `simulate` and the pipeline use
it like any backend; `iter_shards` yields shard recordings as they finish, for writers that stream
large outputs to disk instead of holding every array in memory.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import multiprocessing as mp
from collections.abc import Iterator
from multiprocessing import shared_memory
from typing import Any

import numpy as np

from xylodeploy.backends.base import Recording, as_batch
from xylodeploy.errors import ConfigError
from xylodeploy.ir.xylospec import XyloSpec

DEFAULT_CHUNK = 64  # clips per shard
_WORKER_SPEC: dict[str, Any] = {}  # set in each local worker process by `_init_worker`


def _make_backend(name: str) -> Any:
    from xylodeploy.backends import get_backend

    return get_backend(name, threads=1) if name == "reference" else get_backend(name)


def run_shard(spec: XyloSpec, backend: str, raster: np.ndarray, record: bool) -> Recording:
    """Run one shard of clips on a fresh ``backend`` loaded with ``spec`` (any process)."""
    sim = _make_backend(backend)
    sim.load(spec)
    return sim.run(raster, record=record)


def _init_worker(spec: XyloSpec, backend: str) -> None:
    sim = _make_backend(backend)
    sim.load(spec)
    _WORKER_SPEC["sim"] = sim
    if backend == "reference":
        _warm_kernels(spec)


def _warm_kernels(spec: XyloSpec) -> None:
    """Load every compiled reference kernel now (numba cache), not inside the first timed shard."""
    from xylodeploy.backends.reference import ReferenceBackend

    clip = np.zeros((2, 2, spec.n_inputs), np.int64)
    for kernel in ("vector", "lanes"):
        sim = ReferenceBackend(kernel=kernel, threads=1)
        sim.load(spec)
        for record in (False, True):
            sim.run(clip, record=record)


def _run_loaded(raster: np.ndarray, record: bool) -> Recording:
    return _WORKER_SPEC["sim"].run(raster, record=record)


def _run_into(raster: np.ndarray, record: bool, start: int, handles: dict) -> None:
    """Worker side of `ShardedBackend.run`: run a shard and store it at ``start`` in the shared arrays."""
    rec = _WORKER_SPEC["sim"].run(raster, record=record)
    for name, arr in rec.fields().items():
        with _attached(handles[name]) as view:
            view[start : start + len(arr)] = arr


@contextlib.contextmanager
def _attached(handle: tuple[str, str, tuple]) -> Iterator[np.ndarray]:
    shm_name, dtype, shape = handle
    shm = shared_memory.SharedMemory(name=shm_name)
    try:
        yield np.ndarray(shape, dtype=np.dtype(dtype), buffer=shm.buf)
    finally:
        shm.close()


class _SharedArrays:
    """Named shared-memory arrays of the given ``(dtype, shape)``; unlinked on exit."""

    def __init__(self, layout: dict[str, tuple[str, tuple]]) -> None:
        self.layout = layout
        self._shm: dict[str, shared_memory.SharedMemory] = {}

    def __enter__(self) -> _SharedArrays:
        for name, (dtype, shape) in self.layout.items():
            size = max(1, int(np.prod(shape)) * np.dtype(dtype).itemsize)
            self._shm[name] = shared_memory.SharedMemory(create=True, size=size)
        return self

    @property
    def handles(self) -> dict[str, tuple[str, str, tuple]]:
        return {n: (self._shm[n].name, *self.layout[n]) for n in self.layout}

    def copies(self) -> dict[str, np.ndarray]:
        """Private copies of the arrays (the shared blocks go away on exit)."""
        return {n: np.ndarray(shape, np.dtype(dt), buffer=self._shm[n].buf).copy()
                for n, (dt, shape) in self.layout.items()}  # fmt: skip

    def __exit__(self, *exc: object) -> None:
        for shm in self._shm.values():
            shm.close()
            shm.unlink()
        self._shm.clear()


def shard_slices(n_clips: int, chunk: int) -> list[slice]:
    """Contiguous clip ranges of at most ``chunk`` clips covering ``0..n_clips``."""
    return [slice(i, min(i + chunk, n_clips)) for i in range(0, n_clips, chunk)]


def concat_recordings(parts: list[Recording]) -> Recording:
    """Join shard recordings along the clip axis, in the given order."""
    names = parts[0].fields().keys()
    return Recording(**{n: np.concatenate([getattr(p, n) for p in parts]) for n in names})


def check_plan(workers: int, scheduler: str | None, chunk: int) -> None:
    """Reject impossible sharding settings with one line naming the option."""
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ConfigError(f"--workers must be a positive integer, got {workers!r}")
    if isinstance(chunk, bool) or not isinstance(chunk, int) or chunk < 1:
        raise ConfigError(f"--chunk-clips must be a positive integer, got {chunk!r}")
    if scheduler is not None and not str(scheduler).strip():
        raise ConfigError("--scheduler: empty address (expected e.g. tcp://host:8786)")


class ShardedBackend:
    """Run another backend's clips in shards on local processes or a Dask cluster (module docstring).

    Example::

        sim = ShardedBackend("reference", workers=2)
        sim.load(spec)
        rec = sim.run(raster, record=True)  # == ReferenceBackend().run(raster, record=True)
        sim.close()
    """

    def __init__(self, backend: str = "reference", *, workers: int = 1, scheduler: str | None = None,
                 chunk: int = DEFAULT_CHUNK) -> None:  # fmt: skip
        check_plan(workers, scheduler, chunk)
        if backend in ("samna", "board"):
            raise ConfigError("sharding runs simulators only: a board cannot be shared between processes")
        self.name = backend
        self.workers, self.scheduler, self.chunk = workers, scheduler, chunk
        self._spec: XyloSpec | None = None
        self._pool: cf.ProcessPoolExecutor | None = None
        self._client: Any = None
        self._spec_future: Any = None

    def load(self, spec: XyloSpec) -> None:
        """Check ``spec`` on the backend here (errors surface before any worker starts), then ship it."""
        _make_backend(self.name).load(spec)
        self.close()
        self._spec = spec
        if self.scheduler is not None:
            self._client = _dask_client(self.scheduler)
            self._spec_future = self._client.scatter(spec, broadcast=True)
        elif self.workers > 1:
            ctx = mp.get_context("spawn")
            self._pool = cf.ProcessPoolExecutor(self.workers, mp_context=ctx, initializer=_init_worker,
                                                initargs=(spec, self.name))  # fmt: skip

    def reset(self) -> None:
        """Nothing to clear: every shard starts from reset state."""

    def run(self, raster: Any, record: bool = False) -> Recording:
        """All clips of ``raster`` (B, T, Nin), sharded, joined in clip order.

        Local workers write their shards straight into shared-memory output arrays (no pickled
        recordings through pipes); Dask workers return their shards' arrays.
        """
        if self._pool is None or self._spec is None:
            return concat_recordings([rec for _, rec in sorted(self.iter_shards(raster, record), key=_start)])
        x, _ = as_batch(raster, self._spec.n_inputs, "input raster")
        probe = _make_backend(self.name)
        probe.load(self._spec)
        layout = {k: (a.dtype.str, (len(x), x.shape[1], *a.shape[2:]))
                  for k, a in probe.run(x[:1, :1], record=record).fields().items()}  # fmt: skip
        with _SharedArrays(layout) as out:
            slices = shard_slices(len(x), min(self.chunk, max(1, -(-len(x) // self.workers))))
            futures = [self._pool.submit(_run_into, x[s], record, s.start, out.handles) for s in slices]
            for fut in cf.as_completed(futures):
                fut.result()
            return Recording(**out.copies())

    def iter_shards(self, raster: Any, record: bool = False) -> Iterator[tuple[slice, Recording]]:
        """Yield ``(clip range, recording)`` per shard as shards finish (any order)."""
        if self._spec is None:
            raise ConfigError(f"sharded {self.name} backend: load a spec before running clips")
        x, _ = as_batch(raster, self._spec.n_inputs, "input raster")
        slices = shard_slices(len(x), min(self.chunk, max(1, -(-len(x) // self._parallelism()))))
        if self._client is not None:
            futures = {self._client.submit(run_shard, self._spec_future, self.name, x[s], record, pure=False): s
                       for s in slices}  # fmt: skip
            yield from _dask_results(futures)
        elif self._pool is not None:
            futures = {self._pool.submit(_run_loaded, x[s], record): s for s in slices}
            for fut in cf.as_completed(futures):
                yield futures[fut], fut.result()
        else:
            for s in slices:
                yield s, run_shard(self._spec, self.name, x[s], record)

    def _parallelism(self) -> int:
        """How many shards can run at once (so that a small batch still uses every worker)."""
        if self._client is not None:
            return max(1, sum(self._client.nthreads().values()))
        return self.workers

    def close(self) -> None:
        """Stop the local workers / drop the Dask client (the cluster itself keeps running)."""
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None
        if self._client is not None:
            self._client.close()
            self._client, self._spec_future = None, None

    def __enter__(self) -> ShardedBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _start(item: tuple[slice, Recording]) -> int:
    return item[0].start


def _dask_client(address: str) -> Any:
    from xylodeploy._optional import require

    distributed = require("distributed", extra="scale")
    try:
        return distributed.Client(address, timeout="10s")
    except (OSError, TimeoutError, ValueError) as exc:
        raise ConfigError(f"--scheduler {address}: cannot reach a Dask scheduler ({exc})") from None


def _dask_results(futures: dict) -> Iterator[tuple[slice, Recording]]:
    from distributed import as_completed

    for fut in as_completed(list(futures)):
        yield futures[fut], fut.result()
