"""Measure a deployed network's power on a Xylo board: idle, active, dynamic, energy per inference.

Protocol: sample every rail of ``chip.power_rails`` while idle (network loaded, no input) for
``idle_s``, then while running the clips repeatedly for at least ``active_s``. Per rail we report
mean, standard error and sample count; dynamic = active - idle (errors added in quadrature);
energy per inference follows NeuroBench: mean total active power x latency per inference (and
the dynamic part alone). Accelerated mode runs as fast as the board can, real-time mode paces one
step per ``dt``, so the two modes give different latencies and energies. In real time Xylo Audio 2
takes its input from its audio front end (SynSense's only real-time path), so there the clip sets
only the number of steps. Power sampling is restarted if something left it running
(docs/samna-driver.md).
"""

from __future__ import annotations

import itertools
import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from xylodeploy.backends.base import as_batch
from xylodeploy.io.files import atomic_write


@dataclass(frozen=True)
class RailStats:
    """Mean and standard error of one rail's samples, in watts."""

    mean_w: float
    sem_w: float | None
    n: int

    @classmethod
    def of(cls, values: list[float]) -> RailStats:
        arr = np.asarray(values, float)
        sem = float(arr.std(ddof=1) / math.sqrt(arr.size)) if arr.size > 1 else None
        return cls(float(arr.mean()) if arr.size else float("nan"), sem, int(arr.size))


@dataclass
class PowerReport:
    """A board power measurement (MEASURED, not estimated)."""

    chip: str
    board: str
    firmware: dict[str, str]
    clock_hz: float
    dt: float
    mode: str  # "accelerated" | "realtime"
    sample_hz: float
    idle: dict[str, RailStats]
    active: dict[str, RailStats]
    dynamic_w: dict[str, float]
    dynamic_sem_w: dict[str, float | None]
    n_inferences: int
    latency_s: float  # wall time per inference (clip)
    energy_per_inference_j: float  # total active power x latency
    dynamic_energy_per_inference_j: float  # dynamic power x latency
    samples: list[tuple[str, str, float, float]] = field(default_factory=list)  # (phase, rail, t_s, W)
    label: str = "MEASURED on a Xylo board"

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["samples"] = [list(s) for s in self.samples]
        return d


def _collect(backend: Any, phase: str, t0: float, into: list) -> None:
    for rail, watts, t in backend.power_read():
        into.append((phase, rail, t - t0, watts))


def _by_rail(samples: list, phase: str, rails: list[str]) -> dict[str, RailStats]:
    return {r: RailStats.of([w for (p, rr, _t, w) in samples if p == phase and rr == r]) for r in rails}


def measure_power(
    backend: Any,
    raster: np.ndarray,
    idle_s: float = 2.0,
    active_s: float = 2.0,
    sample_hz: float | None = None,
    realtime: bool = False,
) -> PowerReport:
    """Idle and active power per rail of a loaded `SamnaBackend` running ``raster`` (B, T, Nin)."""
    spec = backend.spec
    clips, _ = as_batch(raster, spec.n_inputs, "power measurement raster")
    rails = list(backend.chip.power_rails.values())
    rate = float(sample_hz or backend.chip.default_power_hz)
    samples: list = []
    t0 = time.monotonic()
    backend.power_start(rate)
    try:
        end = time.monotonic() + idle_s
        while time.monotonic() < end:
            time.sleep(min(0.05, idle_s))
            _collect(backend, "idle", t0, samples)
        _collect(backend, "idle", t0, samples)
        n_inf, busy = 0, 0.0
        end = time.monotonic() + active_s
        while n_inf == 0 or time.monotonic() < end:
            clip = clips[n_inf % clips.shape[0]]
            start = time.monotonic()
            if realtime:  # the chip's own sensor drives it where host frames cannot (Xylo Audio 2)
                frames = list(clip) if getattr(backend, "realtime_host_input", True) else None
                for _ in itertools.islice(backend.stream(frames), clip.shape[0]):
                    pass
            else:
                backend.run(clip[None])
            busy += time.monotonic() - start
            n_inf += 1
            _collect(backend, "active", t0, samples)
    finally:
        backend.power_stop()
    _collect(backend, "active", t0, samples)
    idle, active = _by_rail(samples, "idle", rails), _by_rail(samples, "active", rails)
    dyn = {r: active[r].mean_w - idle[r].mean_w for r in rails}
    dyn_sem = {
        r: None if active[r].sem_w is None or idle[r].sem_w is None else math.hypot(active[r].sem_w, idle[r].sem_w)
        for r in rails
    }
    latency = busy / n_inf
    return PowerReport(
        chip=backend.chip.name, board=backend.board.serial, firmware=dict(backend.board.firmware),
        clock_hz=backend.clock_hz, dt=spec.dt, mode="realtime" if realtime else "accelerated", sample_hz=rate,
        idle=idle, active=active, dynamic_w=dyn, dynamic_sem_w=dyn_sem, n_inferences=n_inf, latency_s=latency,
        energy_per_inference_j=sum(a.mean_w for a in active.values()) * latency,
        dynamic_energy_per_inference_j=sum(dyn.values()) * latency, samples=samples,
    )  # fmt: skip


def save_json(data: dict[str, Any], path: str | Path) -> Path:
    """Write ``data`` as indented JSON, atomically."""
    target = Path(path)
    with atomic_write(target, "w") as fh:
        json.dump(data, fh, indent=2, allow_nan=False, default=lambda o: None)
    return target


def plot_report(report: PowerReport, path: str | Path) -> Path:
    """Power per rail over time (idle then active), saved atomically as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4))
    for rail in report.idle:
        pts = [(t, w * 1e6) for (_p, r, t, w) in report.samples if r == rail]
        if pts:
            ax.plot(*zip(*pts, strict=True), ".-", label=rail, markersize=3)
    first_active = min((t for (p, _r, t, _w) in report.samples if p == "active"), default=None)
    if first_active is not None:
        ax.axvline(first_active, color="k", ls="--", lw=0.8)
    ax.set(xlabel="time (s)", ylabel="power (µW)", title=f"{report.chip} {report.board}: idle | active ({report.mode})")
    ax.legend()
    target = Path(path)
    with atomic_write(target, "wb") as fh:
        fig.savefig(fh, format="png", dpi=100)
    plt.close(fig)
    return target


def _clean(obj: Any) -> Any:
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    return obj


def save_report(report: PowerReport, out_dir: str | Path) -> tuple[Path, Path]:
    """``power.json`` and ``power.png`` in ``out_dir``."""
    out = Path(out_dir)
    return save_json(_clean(report.to_dict()), out / "power.json"), plot_report(report, out / "power.png")
