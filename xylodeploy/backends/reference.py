"""`ReferenceBackend`: xylodeploy's cycle-accurate Xylo simulator, the executable spec of the chip.

It reproduces xylosim.v2 bit for bit on every recorded quantity (`xylodeploy.arith.scalar_model`; checked by
tests/sim) and is batched: each clip starts from reset state, and clips run in parallel (numba
kernels that release the GIL, one Python thread per usable CPU unless ``threads`` says otherwise).
Three exact kernels: ``vector`` (one clip at a time, SIMD across neurons, unsaturated adds in
steps where no saturation is possible; fastest at sparse activity), ``lanes`` (32 clips side by
side in SIMD lanes; faster when many hidden neurons spike every step) and ``scalar`` (one clip at
a time, event by event: the plainest transcription of the spec, kept as a cross-check). ``auto``
runs the first clip with ``vector`` and switches a batch to ``lanes`` when that clip's hidden
activity exceeds ``AUTO_LANES_MIN_ACTIVITY``.
Returned arrays: spike counts int8, Isyn/Vmem int16, all (B, T, N); a 2-D (T, Nin) raster gives
B = 1.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Literal

import numpy as np

from xylodeploy.backends._ref_kernel import run_batch
from xylodeploy.backends._ref_lanes import LANES, run_groups
from xylodeploy.backends._ref_params import KernelParams, Outputs, build_params, check_spec, kernel_tables
from xylodeploy.backends._ref_vector import VectorTables, build_tables, run_clips, vector_args
from xylodeploy.backends.base import Recording, as_batch
from xylodeploy.errors import ConfigError
from xylodeploy.ir.xylospec import XyloSpec

Kernel = Literal["auto", "vector", "scalar", "lanes"]
AUTO_LANES_MIN_BATCH = 24  # lanes needs this many clips to fill its SIMD lanes
AUTO_LANES_MIN_ACTIVITY = 0.2  # spikes per hidden neuron and step; measured crossover on bench_sim's network
_NAMES = ("spikes_out", "spikes", "isyn", "isyn2", "vmem", "isyn_out", "vmem_out")


def _usable_cpus() -> int:
    """CPUs this process may run on (affinity-aware where the OS tells)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


class ReferenceBackend:
    """Exact, batched simulation of one `XyloSpec` (see module docstring).

    Example::

        sim = ReferenceBackend()
        sim.load(spec)
        rec = sim.run(raster, record=True)  # raster (B, T, Nin) event counts
        rec.spikes_out.shape  # (B, T, Nout)
    """

    name = "reference"

    def __init__(self, kernel: Kernel = "auto", threads: int | None = None) -> None:
        if kernel not in ("auto", "vector", "scalar", "lanes"):
            raise ConfigError(f"reference backend: kernel '{kernel}', expected auto, vector, scalar or lanes")
        if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
            raise ConfigError(f"reference backend: threads must be a positive integer, got {threads!r}")
        self.kernel = kernel
        self.threads = threads or _usable_cpus()
        self._spec: XyloSpec | None = None
        self._params: KernelParams | None = None
        self._tables: VectorTables | None = None
        self._args: dict = {}

    @property
    def spec(self) -> XyloSpec | None:
        """The loaded spec (None before `load`)."""
        return self._spec

    def load(self, spec: XyloSpec) -> None:
        """Validate ``spec`` against its chip's numeric ranges and prepare the fan-out tables."""
        chip = check_spec(spec, "reference backend")
        self._params = build_params(spec, chip)
        self._tables = build_tables(self._params)
        self._args = {run_clips: vector_args(self._params, self._tables), run_batch: kernel_tables(self._params)}
        self._args[run_groups] = self._args[run_batch]
        self._spec = spec

    def reset(self) -> None:
        """No-op: every clip of every `run` starts from reset state (clips are independent)."""

    def run(self, raster: np.ndarray, record: bool = False) -> Recording:
        """Simulate each clip of a (B, T, Nin) or (T, Nin) raster of input event counts.

        Counts above the chip's ``max_input_events`` are clamped, as the chip does. With
        ``record`` the hidden and readout states are returned too (memory: ~7 bytes x B x T x Nh).
        """
        if self._spec is None or self._params is None:
            raise ConfigError("reference backend: run() called before load(spec)")
        arr, _ = as_batch(raster, self._spec.n_inputs, "reference backend input raster")
        clamped = np.minimum(arr, self._params.limits[2]).astype(np.uint8)
        if self.kernel == "lanes" or (self.kernel == "auto" and self._busy(clamped)):
            arrays = self._run_lanes(clamped, record)
        else:
            arrays = self._run_clipwise(run_batch if self.kernel == "scalar" else run_clips, clamped, record)
        if not record:
            return Recording(spikes_out=arrays["spikes_out"])
        if self._params.n_syn < 2:
            arrays["isyn2"] = None
        return Recording(**arrays)

    def _busy(self, x: np.ndarray) -> bool:
        """Whether a batch is large and active enough for the lanes kernel (probe: clip 0 on vector)."""
        if x.shape[0] < AUTO_LANES_MIN_BATCH or self._spec.n_hidden == 0:
            return False
        probe = self._run_clipwise(run_clips, x[:1], True)["spikes"]
        return float(probe.mean()) > AUTO_LANES_MIN_ACTIVITY

    def _buffers(self, lead: tuple[int, ...], tail: tuple[int, ...], record: bool) -> dict[str, np.ndarray]:
        """Output arrays of shape lead + (N,) + tail; unrecorded ones are empty placeholders."""
        n_h, n_o = self._spec.n_hidden, self._spec.n_outputs
        out = {}
        for name in _NAMES:
            n = n_o if name in ("spikes_out", "isyn_out", "vmem_out") else n_h
            on = name == "spikes_out" or (record and (name != "isyn2" or self._params.n_syn > 1))
            dtype = np.int8 if name.startswith("spikes") else np.int16
            out[name] = np.zeros((*lead, n, *tail) if on else (0,) * (len(lead) + 1 + len(tail)), dtype)
        return out

    def _call(self, kernel, x: np.ndarray, record: bool, bufs: dict[str, np.ndarray]) -> None:  # noqa: ANN001
        """Run ``kernel`` over the leading axis of ``x``, item i on thread i % n (the kernels release the GIL)."""
        n_items = x.shape[0]
        n = max(1, min(self.threads or 1, n_items))
        if n == 1:
            self._call_range(kernel, 0, n_items, 1, x, record, bufs)
            return
        with ThreadPoolExecutor(n) as pool:
            jobs = [pool.submit(self._call_range, kernel, i, n_items, n, x, record, bufs) for i in range(n)]
            for job in jobs:
                job.result()

    def _call_range(self, kernel, start: int, stop: int, step: int, x: np.ndarray, record: bool,  # noqa: ANN001
                    bufs: dict[str, np.ndarray]) -> None:  # fmt: skip
        kernel(start, stop, step, x, self._args[kernel], record, Outputs(*(bufs[n] for n in _NAMES)))

    def _run_clipwise(self, kernel, x: np.ndarray, record: bool) -> dict[str, np.ndarray]:  # noqa: ANN001
        bufs = self._buffers(x.shape[:2], (), record)
        self._call(kernel, x, record, bufs)
        return bufs

    def _run_lanes(self, x: np.ndarray, record: bool) -> dict[str, np.ndarray]:
        n_b, n_t, n_in = x.shape
        n_g = -(-n_b // LANES)
        padded = np.zeros((n_g * LANES, n_t, n_in), np.uint8)
        padded[:n_b] = x
        grouped = np.ascontiguousarray(padded.reshape(n_g, LANES, n_t, n_in).transpose(0, 2, 3, 1))
        bufs = self._buffers((n_g, n_t), (LANES,), record)
        self._call(run_groups, grouped, record, bufs)
        out = {}
        for name, a in bufs.items():
            if a.size or name == "spikes_out":
                out[name] = np.ascontiguousarray(a.transpose(0, 3, 1, 2).reshape(n_g * LANES, n_t, -1)[:n_b])
        return out
