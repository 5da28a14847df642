"""Every engine that runs the Xylo arithmetic, for the conformance suite (tests/conformance).

An engine is a function ``run(spec, raster) -> Recording``: every clip of a (B, T, Nin) raster
from reset, with every state recorded. Adding one is one `register` line; the suite then runs the
probe table and the generated specs on it, with `xylodeploy.arith.scalar_model` as the oracle::

    register("fused", fused_run, needs="xylodeploy.models.fused")

``profile`` names the spec-validity profile the engine promises to run (`xylodeploy.drc.validity`):
"chip" (what the chip accepts) or "arith" (what the arithmetic is defined for, e.g. weight shift 8).
``supports(spec)`` returns why an engine cannot run a spec it refuses by design (None: it can).
``needs`` is an optional dependency (a module name): without it the engine is skipped.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from xylodeploy.ir.recording import Recording
from xylodeploy.ir.xylospec import XyloSpec

Run = Callable[[XyloSpec, np.ndarray], Recording]


@dataclass(frozen=True)
class Engine:
    name: str
    run: Run
    profile: str = "arith"
    supports: Callable[[XyloSpec], str | None] = lambda spec: None
    needs: str | None = None

    def missing(self) -> str | None:
        """Why the engine cannot run here (a missing optional dependency), or None."""
        if self.needs and importlib.util.find_spec(self.needs) is None:
            return f"{self.needs} is not installed"
        return None


ENGINES: dict[str, Engine] = {}


def register(name: str, run: Run, **options: object) -> None:
    """Add an engine (see module docstring)."""
    ENGINES[name] = Engine(name, run, **options)  # type: ignore[arg-type]


def _reference(kernel: str) -> Run:
    def run(spec: XyloSpec, raster: np.ndarray) -> Recording:
        from xylodeploy.backends.reference import ReferenceBackend

        backend = ReferenceBackend(kernel=kernel, threads=1)  # type: ignore[arg-type]
        backend.load(spec)
        return backend.run(raster, record=True)

    return run


def _backend(name: str) -> Run:
    def run(spec: XyloSpec, raster: np.ndarray) -> Recording:
        from xylodeploy.backends import get_backend

        backend = get_backend(name)
        backend.load(spec)
        return backend.run(raster, record=True)

    return run


def _exact(engine: str) -> Run:
    def run(spec: XyloSpec, raster: np.ndarray) -> Recording:
        from xylodeploy.models.exact import XyloExactNet

        return XyloExactNet(spec, strict=False, engine=engine)(raster, record=True).to_recording()

    return run


def _fused(spec: XyloSpec, raster: np.ndarray) -> Recording:
    from xylodeploy.models.exact import simulate_exact

    return simulate_exact(spec, raster)


def _onnx(spec: XyloSpec, raster: np.ndarray) -> Recording:
    from xylodeploy.interop.onnx import int_step_model, run_steps

    out = run_steps(int_step_model(spec), np.asarray(raster))
    names = {"spikes_out": "spikes", "spikes": "spk_next", "isyn": "isyn_next", "isyn2": "isyn2_next"}
    names |= {"vmem": "vmem_next", "isyn_out": "isyn_out_next", "vmem_out": "vmem_out_next"}
    return Recording(**{k: out.get(v) for k, v in names.items()})


def _samna(spec: XyloSpec, raster: np.ndarray) -> Recording:
    from tests.fakesamna import make_samna
    from xylodeploy.backends.samna.backend import SamnaBackend

    board = SamnaBackend(samna=make_samna([spec.chip]), min_timeout_s=0.3, timeout_per_neuron_step_s=0.0)
    try:
        board.load(spec)
        return board.run(raster, record=True)
    finally:
        board.close()


register("scalar", _reference("scalar"))
register("vector", _reference("vector"))
register("lanes", _reference("lanes"))
register("exact-torch", _exact("torch"), needs="torch")
register("exact-fused", _exact("kernel"), needs="torch")
register("fused-forward", _fused, needs="torch")
register("onnx", _onnx, needs="onnxruntime")
register("samna-stand-in", _samna, profile="chip")
register("xylosim", _backend("xylosim"), needs="xylosim")
register("exact-backend", _backend("exact"), needs="torch")  # the same model behind the Backend protocol
