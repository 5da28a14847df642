"""Hardware-in-the-loop agreement: run one raster on a device and on the reference, compare exactly."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from xylodeploy.backends.base import STATE_FIELDS, Backend, Recording
from xylodeploy.ir.recording import Divergence
from xylodeploy.ir.xylospec import XyloSpec

ORDER: tuple[str, ...] = ("spikes_out", *STATE_FIELDS)


@dataclass(frozen=True)
class Agreement:
    """Per-quantity fraction of equal values, and the first divergence (None when bit-exact)."""

    equal: bool
    fractions: dict[str, float] = field(default_factory=dict)
    first_divergence: Divergence | None = None


def first_divergence(device: Recording, reference: Recording, quantities: tuple[str, ...]) -> Divergence | None:
    """Earliest (clip, step) mismatch over ``quantities`` (ties: ``ORDER``, then lowest neuron)."""
    best: tuple[int, int, int, int] | None = None
    for qi, q in enumerate(quantities):
        a, b = getattr(device, q), getattr(reference, q)
        bad = np.argwhere(a != b)
        if bad.size:
            c, t, n = (int(x) for x in bad[0])
            cand = (c, t, qi, n)
            best = cand if best is None or cand < best else best
    if best is None:
        return None
    c, t, qi, n = best
    q = quantities[qi]
    return Divergence(c, t, n, q, int(getattr(device, q)[c, t, n]), int(getattr(reference, q)[c, t, n]))


def compare_recordings(device: Recording, reference: Recording, record: bool) -> Agreement:
    """Compare output spikes and, with ``record``, every state both recordings have."""
    quantities = tuple(
        q for q in ORDER if (q == "spikes_out" or record) and getattr(device, q) is not None
        and getattr(reference, q) is not None
    )  # fmt: skip
    fractions = {}
    for q in quantities:
        a, b = np.asarray(getattr(device, q)), np.asarray(getattr(reference, q))
        if a.shape != b.shape:
            return Agreement(False, {q: 0.0}, Divergence(0, 0, 0, f"{q} shape {a.shape} vs {b.shape}", 0, 0))
        fractions[q] = float((a == b).mean()) if a.size else 1.0
    div = first_divergence(device, reference, quantities)
    return Agreement(div is None, fractions, div)


def compare_devices(
    spec: XyloSpec, raster: np.ndarray, device_backend: Backend, reference_backend: Backend, record: bool = True
) -> Agreement:
    """Load ``spec`` on both backends, run ``raster`` on each and compare them bit for bit."""
    device_backend.load(spec)
    reference_backend.load(spec)
    dev = device_backend.run(raster, record=record)
    ref = reference_backend.run(raster, record=record)
    return compare_recordings(dev, ref, record)
