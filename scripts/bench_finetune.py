"""Cost of one exact fine-tuning step relative to one float training step, and the kernel's exactness.

One training step = zero grads, forward, cross-entropy of the max- (default) or mean-pooled readout,
backward, of the same network on the same batch: the float `SynNet` (3×24 hidden, taus [2, 4, 8],
readout through Vmem) vs its compiled `XyloExactNet` (the fused kernel on CPU). Input: dense audio-like
event counts (~1 event per step and channel, bursts up to 15). Runs are interleaved in one process and
the median is reported, so the ratio is comparable under load even when absolute speeds are not
(``ratio_cpu_time``: the same from process CPU time, steadier on a busy machine). ``bit_exact``: the
exact model's recording (every quantity) equals the reference backend's on that batch. Prints one JSON
line last.

    python scripts/bench_finetune.py [--batch 32] [--steps 1000] [--repeats 5] [--threads 2]
                                     [--loss ce_max|ce_mean] [--torch-engine]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
import warnings

import numba
import numpy as np
import torch
from torch.nn import functional

from xylodeploy.backends.reference import ReferenceBackend
from xylodeploy.flow.compile import CompileOptions, compile
from xylodeploy.models import SynNet
from xylodeploy.models.exact import XyloExactNet
from xylodeploy.train.finetune import readout_logits, vmem_scale
from xylodeploy.train.losses import class_scores

NAMES = ("spikes_out", "spikes", "isyn", "isyn2", "vmem", "isyn_out", "vmem_out")


def dense_events(batch: int, steps: int, channels: int, seed: int = 0) -> np.ndarray:
    """Audio-front-end-like counts: Poisson around ~0.8/step with bursts (rate up to ~10), capped at 15."""
    rng = np.random.default_rng(seed)
    t = np.arange(steps)[None, :, None]
    base = 0.75 + 0.3 * np.sin(
        2 * np.pi * t / rng.uniform(80, 400, (batch, 1, channels)) + rng.uniform(0, 6, (batch, 1, channels))
    )
    bursts = np.zeros((batch, steps, channels))
    for b in range(batch):
        for _ in range(rng.integers(4, 9)):  # syllable-like bursts on a band of channels
            t0, dur = rng.integers(0, steps - 40), rng.integers(10, 40)
            lo = rng.integers(0, channels)
            bursts[b, t0 : t0 + dur, lo : lo + rng.integers(2, 7)] += rng.uniform(2, 10)
    return np.minimum(rng.poisson(base + bursts), 15).astype(np.int64)


def bit_exact(model: XyloExactNet, spec: object, x: np.ndarray) -> bool:
    ref = ReferenceBackend()
    ref.load(spec)
    a = ref.run(x, record=True)
    with torch.no_grad():
        b = model(x, record=True).to_recording()
    same = [
        (getattr(a, n) is None and getattr(b, n) is None) or np.array_equal(getattr(a, n), getattr(b, n)) for n in NAMES
    ]
    return all(same)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--channels", type=int, default=16)
    ap.add_argument("--classes", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2, help="torch and numba threads")
    ap.add_argument("--loss", default="ce_max", choices=["ce_max", "ce_mean"], help="readout pooling of the loss")
    ap.add_argument("--torch-engine", action="store_true", help="time the per-step torch loop instead of the kernel")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    numba.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = SynNet(args.classes, args.channels, [24, 24, 24], [2, 4, 8], output="vmem")
    x_np = dense_events(args.batch, args.steps, args.channels)
    x = torch.tensor(x_np, dtype=torch.float32)
    y = torch.randint(0, args.classes, (args.batch,))
    opts = CompileOptions(progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        spec = compile(model, "xylo-audio2", opts, calibration=x).spec
    exact = XyloExactNet(spec, engine="torch" if args.torch_engine else "auto")
    scale = vmem_scale(exact)
    xe = torch.tensor(x_np, dtype=torch.float64)

    def float_step() -> None:
        model.zero_grad(set_to_none=True)
        functional.cross_entropy(class_scores(model(x), args.loss), y).backward()

    def exact_step() -> None:
        exact.zero_grad(set_to_none=True)
        functional.cross_entropy(readout_logits(exact(xe), scale, args.loss, "vmem"), y).backward()

    steps = {"float": float_step, "exact": exact_step}
    times: dict[str, list[float]] = {k: [] for k in steps}
    cpu: dict[str, list[float]] = {k: [] for k in steps}
    for fn in steps.values():  # warm-up: numba cache load, allocator
        fn()
    for _ in range(args.repeats):
        for name, fn in steps.items():
            t0, c0 = time.perf_counter(), time.process_time()
            fn()
            times[name].append(time.perf_counter() - t0)
            cpu[name].append(time.process_time() - c0)
            print(f"{name:6s} {times[name][-1] * 1e3:9.1f} ms  load {os.getloadavg()[0]:.2f}", flush=True)
    med = {k: statistics.median(v) for k, v in times.items()}
    med_cpu = {k: statistics.median(v) for k, v in cpu.items()}
    with torch.no_grad():
        activity = float(exact(xe, record=True).spikes.mean())
    clip_steps = args.batch * args.steps
    result = {
        "benchmark": "finetune_step_fwd_bwd",
        "net": f"{args.channels}-24-24-24-{args.classes}",
        "batch": args.batch,
        "steps": args.steps,
        "repeats": args.repeats,
        "engine": exact.engine if args.torch_engine else "kernel",
        "loss": args.loss,
        "threads": args.threads,
        "input_events_per_step_channel": round(float(x_np.mean()), 3),
        "input_max": int(x_np.max()),
        "hidden_spikes_per_step_neuron": round(activity, 4),
        "loadavg_1min": round(os.getloadavg()[0], 2),
        "float_s": round(med["float"], 4),
        "exact_s": round(med["exact"], 4),
        "float_clip_steps_per_s": round(clip_steps / med["float"], 1),
        "exact_clip_steps_per_s": round(clip_steps / med["exact"], 1),
        "ratio": round(med["exact"] / med["float"], 3),
        "ratio_cpu_time": round(med_cpu["exact"] / med_cpu["float"], 3),
        "bit_exact": bit_exact(exact, spec, x_np),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
