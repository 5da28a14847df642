"""Benchmark: reference simulator vs xylosim on a Xylo Audio 2-sized feed-forward network.

Network 16 -> 256 -> 256 -> 256 -> 8 laid out as the mapper does (hidden->hidden weights in
weights_rec, readout from the last layer), two synapses, int8 weights, sparse random fan-out
within the chip's max_fanout and recurrent slots. A global threshold is calibrated on the
reference simulator so that a few percent of hidden neurons spike per step. The last line
printed is one JSON object.

    python scripts/bench_sim.py [--clips 256] [--steps 1000] [--xylosim-clips 32]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from xylodeploy.backends.reference import ReferenceBackend
from xylodeploy.backends.xylosim import XylosimBackend
from xylodeploy.chips import get_chip
from xylodeploy.ir.xylospec import XyloSpec, empty_spec

CHIP = "xylo-audio2"
LAYERS = (256, 256, 256)


def build_spec(rng: np.random.Generator, threshold: int) -> XyloSpec:
    """The benchmark network with a uniform hidden threshold."""
    chip = get_chip(CHIP)
    n_in, n_out, n_h, n_syn = chip.max_inputs, chip.max_readout, sum(LAYERS), 2
    starts = np.cumsum((0, *LAYERS))
    # distinct targets per source: within max_fanout and the slots of one synapse bank
    fanout = min(chip.max_fanout, chip.max_recurrent_slots // (starts[-2] or 1), 48)
    w_lo, w_hi = chip.weight_range.lo, chip.weight_range.hi

    def int8(shape: tuple[int, ...], scale: float, mean: float = 0.0) -> np.ndarray:
        return np.clip(np.round(rng.normal(mean, scale, shape)), w_lo, w_hi).astype(np.int64)

    w_in = np.zeros((n_in, n_h, n_syn), np.int64)
    w_in[:, : LAYERS[0], :] = int8((n_in, LAYERS[0], n_syn), 40, 10)
    w_rec = np.zeros((n_h, n_h, n_syn), np.int64)
    for layer in range(len(LAYERS) - 1):
        for src in range(starts[layer], starts[layer + 1]):
            tgt = rng.choice(np.arange(starts[layer + 1], starts[layer + 2]), fanout, replace=False)
            w_rec[src, tgt, rng.integers(0, n_syn, fanout)] = int8((fanout,), 40, 12)
    w_out = np.zeros((n_h, n_out), np.int64)
    w_out[starts[-2] :, :] = int8((LAYERS[-1], n_out), 40)
    return empty_spec(
        CHIP, n_in, n_h, n_out, n_syn,
        weights_in=w_in, weights_rec=w_rec, weights_out=w_out,
        dash_mem=np.full(n_h, 4), dash_syn=np.full(n_h, 2), dash_syn_2=np.full(n_h, 4),
        dash_mem_out=np.full(n_out, 4), dash_syn_out=np.full(n_out, 2),
        threshold=np.full(n_h, threshold), threshold_out=np.full(n_out, 300),
        weight_shift_in=0, weight_shift_rec=0, weight_shift_out=0,
    )  # fmt: skip


def activity(spec: XyloSpec, raster: np.ndarray) -> float:
    """Fraction of (hidden neuron, step) pairs with at least one spike."""
    sim = ReferenceBackend()
    sim.load(spec)
    return float((sim.run(raster, record=True).spikes > 0).mean())


def calibrate(seed: int, raster: np.ndarray, target: float) -> tuple[XyloSpec, float]:
    """Bisect the hidden threshold (log scale) to the activity closest to ``target``."""
    lo, hi = 1.0, float(get_chip(CHIP).threshold_range.hi)
    for _ in range(14):
        mid = (lo * hi) ** 0.5
        act = activity(build_spec(np.random.default_rng(seed), int(mid)), raster)
        lo, hi = (mid, hi) if act > target else (lo, mid)
    spec = build_spec(np.random.default_rng(seed), int(hi))
    return spec, activity(spec, raster)


def timed(fn, *args):  # noqa: ANN001, ANN202 - tiny local helper
    """(result, wall seconds, process CPU seconds over all threads)."""
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn(*args)
    return out, time.perf_counter() - t0, time.process_time() - c0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clips", type=int, default=256)
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--xylosim-clips", type=int, default=32, help="xylosim runs on this subset, extrapolated")
    ap.add_argument("--rate", type=float, default=0.3, help="mean input events per channel per step")
    ap.add_argument("--target-activity", type=float, default=0.03)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed + 1)
    n_in = get_chip(CHIP).max_inputs
    raster = rng.poisson(args.rate, (args.clips, args.steps, n_in)).astype(np.int64)

    ref = ReferenceBackend()
    t0 = time.perf_counter()
    ref.load(build_spec(np.random.default_rng(args.seed), 1000))
    ref.run(raster[:1, :10])
    first_call = time.perf_counter() - t0  # numba compile or on-disk cache load
    spec, act = calibrate(args.seed, raster[:4, : min(args.steps, 300)], args.target_activity)
    ref.load(spec)
    ref.run(raster[:2])  # warm-up
    rec_ref, t_ref, c_ref = timed(ref.run, raster)
    _, t_ref1, _ = timed(ref.run, raster[:1])
    mean_spk = float(ref.run(raster[:8], record=True).spikes.mean())

    xs = XylosimBackend()
    xs.load(spec)
    n_xs = min(args.xylosim_clips, args.clips)
    xs.run(raster[:1, :10])
    rec_xs, t_xs, c_xs = timed(xs.run, raster[:n_xs])
    _, t_xs1, _ = timed(xs.run, raster[:1])
    exact = np.array_equal(rec_ref.spikes_out[:n_xs], rec_xs.spikes_out)
    full_ref, full_xs = ref.run(raster[:2], record=True), xs.run(raster[:2], record=True)
    exact = exact and all(np.array_equal(a, full_xs.fields()[k]) for k, a in full_ref.fields().items())

    ref_cps, xs_cps = args.clips / t_ref, n_xs / t_xs
    print(f"network 16-{'-'.join(map(str, LAYERS))}-8 on {CHIP}, threshold {int(spec.threshold[0])}")
    print(f"hidden activity: {act:.2%} of neuron-steps spike, {mean_spk:.3f} spikes/neuron/step")
    print(f"reference: {args.clips} clips x {args.steps} steps in {t_ref:.3f} s; first call {first_call:.2f} s")
    print(f"xylosim:   {n_xs} clips in {t_xs:.2f} s (extrapolated per clip to {args.clips})")
    result = {
        "ref_clips_per_s": round(ref_cps, 2),
        "xylosim_clips_per_s": round(xs_cps, 3),
        "speedup": round(ref_cps / xs_cps, 1),
        "bit_exact": bool(exact),
        "ref_single_clip_s": round(t_ref1, 5),
        "xylosim_single_clip_s": round(t_xs1, 4),
        "ref_first_call_s": round(first_call, 2),
        "ref_threads": ref.threads,
        "ref_kernel": "lanes" if ref._busy(np.minimum(raster, 15).astype(np.uint8)) else "vector",  # what auto ran
        # CPU time summed over threads: robust to other processes sharing the machine
        "ref_cpu_s_per_clip": round(c_ref / args.clips, 5),
        "xylosim_cpu_s_per_clip": round(c_xs / n_xs, 4),
        "speedup_per_core": round((c_xs / n_xs) / (c_ref / args.clips), 1),
        "clips": args.clips,
        "steps": args.steps,
        "xylosim_clips": n_xs,
        "xylosim_extrapolated": n_xs < args.clips,
        "hidden_activity": round(act, 4),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
