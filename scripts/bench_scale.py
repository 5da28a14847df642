"""Benchmark: training and simulation throughput with 1 and 2 processes on this machine.

Simulation: the network of bench_sim.py (16-256-256-256-8 on Xylo Audio 2, calibrated to a few
percent hidden activity) on dense Poisson input; one worker process (one thread) vs
`ShardedBackend` with 2 local worker processes (one thread each), timed warm (workers started and
compiled) and cold (including the start of the pool), on the readout output that a data-set-scale
accuracy run needs (``sim_speedup_2``) and, on a subset, with every state recorded
(``sim_record_speedup_2``: ~7 MB per clip of 1000 steps, bound by memory bandwidth rather than cores);
the 2-process outputs and recordings are compared with the 1-process run (``sim_identical``). The reference
backend's own 2-thread mode in one process is reported beside it (``sim_threads2_speedup``).

Training: `xylodeploy train` of a SynNet (3 x 24 hidden) on the embedded task, one process with one
thread vs ``--nproc 2`` (torchrun, gloo, one thread each) with the same global batch; throughput from
the epochs after the first (``metrics.json``), and the two loss curves' largest relative gap.

The last line printed is one JSON object.

    python scripts/bench_scale.py [--clips 512] [--steps 1000] [--train-clips 512] [--epochs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml
from bench_sim import calibrate

from xylodeploy.backends.reference import ReferenceBackend
from xylodeploy.scale.shard import ShardedBackend


def _timed(fn, *args):  # noqa: ANN001, ANN202
    t0 = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - t0


def bench_sim(clips: int, steps: int, seed: int, record_clips: int = 64) -> dict:
    rng = np.random.default_rng(seed + 1)
    raster = rng.poisson(0.8, (clips, steps, 16)).astype(np.int64)
    spec, act = calibrate(seed, raster[:4, : min(steps, 300)], 0.03)
    one = ReferenceBackend(threads=1)
    one.load(spec)
    one.run(raster[:2])
    rec1, t1 = _timed(one.run, raster, False)
    full1, t1_rec = _timed(one.run, raster[:record_clips], True)
    two_threads = ReferenceBackend(threads=2)
    two_threads.load(spec)
    _, t_thr = _timed(two_threads.run, raster, False)
    t0 = time.perf_counter()
    with ShardedBackend("reference", workers=2) as sharded:
        sharded.load(spec)
        sharded.run(raster[:4])  # both workers compiled / cache loaded
        t_start = time.perf_counter() - t0
        rec2, t2 = _timed(sharded.run, raster, False)
        full2, t2_rec = _timed(sharded.run, raster[:record_clips], True)
    same = np.array_equal(rec1.spikes_out, rec2.spikes_out)
    same = same and all(np.array_equal(a, full2.fields()[k]) for k, a in full1.fields().items())
    return {
        "sim_clips_per_s_1": round(clips / t1, 2),
        "sim_clips_per_s_2": round(clips / t2, 2),
        "sim_speedup_2": round(t1 / t2, 2),
        "sim_speedup_2_cold": round(t1 / (t2 + t_start), 2),
        "sim_pool_start_s": round(t_start, 2),
        "sim_threads2_speedup": round(t1 / t_thr, 2),
        "sim_record_speedup_2": round(t1_rec / t2_rec, 2),  # every state recorded: memory-bound
        "sim_record_clips": record_clips,
        "sim_identical": bool(same),
        "sim_clips": clips,
        "sim_steps": steps,
        "sim_hidden_activity": round(act, 4),
    }


def _train(cfg: Path, out: Path, nproc: int) -> dict:
    cmd = [sys.executable, "-m", "xylodeploy", "train", str(cfg), "--out", str(out), "--quiet", "--force"]
    if nproc > 1:
        cmd += ["--nproc", str(nproc)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    subprocess.run(cmd, check=True, capture_output=True, env=env)
    return json.loads((out / "metrics.json").read_text())


def bench_train(clips: int, epochs: int, seed: int) -> dict:
    raw = {
        "seed": seed,
        "data": {"kind": "synthetic", "n_train": clips, "n_val": 64, "n_test": 64, "duration_ms": 500},
        "model": {"size_hidden_layers": [24, 24, 24], "time_constants_per_layer": [2, 4, 8]},
        "train": {"epochs": epochs, "batch_size": 32, "lr": 3e-3, "progress": False, "threads": 1},
    }
    with tempfile.TemporaryDirectory() as tmp:
        cfg = Path(tmp) / "bench.yaml"
        cfg.write_text(yaml.safe_dump(raw))
        runs = {n: _train(cfg, Path(tmp) / f"p{n}", n) for n in (1, 2)}
    secs = {n: np.mean([r["seconds"] for r in m["history"][1:]]) for n, m in runs.items()}
    loss = {n: np.array([r["train_loss"] for r in m["history"]]) for n, m in runs.items()}
    return {
        "train_clips_per_s_1": round(clips / secs[1], 2),
        "train_clips_per_s_2": round(clips / secs[2], 2),
        "train_speedup_2": round(secs[1] / secs[2], 2),
        "train_loss_max_rel_gap": float(np.max(np.abs(loss[2] - loss[1]) / np.abs(loss[1]))),
        "train_clips": clips,
        "train_epochs": epochs,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clips", type=int, default=512)
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--train-clips", type=int, default=512)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    sim = bench_sim(args.clips, args.steps, args.seed)
    print(f"simulation: {sim['sim_clips_per_s_1']} clips/s on 1 process, {sim['sim_clips_per_s_2']} on 2")
    tr = bench_train(args.train_clips, args.epochs, args.seed)
    print(f"training: {tr['train_clips_per_s_1']} clips/s on 1 process, {tr['train_clips_per_s_2']} on 2")
    load = os.getloadavg()[0]
    print(json.dumps({**sim, **tr, "cpus": os.cpu_count(), "load_1min_at_end": round(load, 2)}))


if __name__ == "__main__":
    main()
