"""Time one training step (forward + backward) of SynNet: ours vs rockpool's LIFTorch SynNet vs snnTorch.

Same process, same data, same weights and decays; runs are interleaved and the median is reported.
Prints one JSON line last: per-batch seconds and ``speedup_vs_rockpool`` / ``speedup_vs_snntorch``.

    python scripts/bench_train.py [--batch 32] [--steps 1000] [--repeats 5] [--device cpu]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
import warnings
from collections.abc import Callable

import numba
import torch
from torch import nn

from xylodeploy._optional import is_available
from xylodeploy.models import SynNet


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def step_ours(model: SynNet, x: torch.Tensor, target: torch.Tensor) -> None:
    model.zero_grad(set_to_none=True)
    (model(x) - target).pow(2).mean().backward()


def make_rockpool(model: SynNet, device: torch.device) -> Callable[[torch.Tensor, torch.Tensor], None]:
    from xylodeploy.interop.rockpool import to_rockpool

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        net = to_rockpool(model).to(device)

    def step(x: torch.Tensor, target: torch.Tensor) -> None:
        net.reset_state()
        for _, p in net.named_parameters():  # rockpool's own ``parameters()`` returns a dict
            p.grad = None
        out, _, _ = net(x)
        (out - target).pow(2).mean().backward()

    return step


def make_snntorch(model: SynNet, device: torch.device) -> Callable[[torch.Tensor, torch.Tensor], None]:
    """Same layers as ``model`` with ``snntorch.Synaptic`` neurons (per-neuron decays, subtractive reset)."""
    snn = __import__("snntorch")
    weights = [nn.Parameter(w.detach().clone().to(device)) for w in model.weights]
    lifs = [
        snn.Synaptic(alpha=lif.beta.detach()[:, 0].to(device), beta=lif.alpha.detach().to(device),
                     threshold=float(lif.threshold[0]), reset_mechanism="subtract")
        for lif in [*model.hidden, model.readout]
    ]  # fmt: skip

    def step(x: torch.Tensor, target: torch.Tensor) -> None:
        for w in weights:
            w.grad = None
        h = x
        for w, lif in zip(weights, lifs, strict=True):
            cur = h @ w  # linear on the whole time axis, as ours (the per-step loop would be slower)
            syn, mem = lif.init_synaptic()
            spikes = []
            for t in range(cur.shape[1]):
                spk, syn, mem = lif(cur[:, t], syn, mem)
                spikes.append(spk)
            h = torch.stack(spikes, 1)
        (h - target).pow(2).mean().backward()

    return step


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--channels", type=int, default=16)
    ap.add_argument("--hidden", type=int, nargs="+", default=[60, 60, 60])
    ap.add_argument("--classes", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument(
        "--baseline-repeats", type=int, default=None, help="repeats for rockpool/snnTorch (default: --repeats)"
    )
    ap.add_argument("--threads", type=int, default=None, help="torch and numba threads (default: library defaults)")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--skip", nargs="*", default=[], choices=["rockpool", "snntorch", "ours_torch_backend"])
    args = ap.parse_args()
    device = torch.device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
        numba.set_num_threads(args.threads)

    torch.manual_seed(0)
    kw = {"n_classes": args.classes, "n_channels": args.channels, "size_hidden_layers": args.hidden,
          "time_constants_per_layer": [10] * len(args.hidden)}  # fmt: skip
    model = SynNet(**kw).to(device)
    x = torch.poisson(torch.full((args.batch, args.steps, args.channels), 0.2)).to(device)
    target = torch.rand(args.batch, args.steps, args.classes, device=device)

    impls: dict[str, Callable[[torch.Tensor, torch.Tensor], None]] = {"ours": lambda x, t: step_ours(model, x, t)}
    if device.type == "cpu" and "ours_torch_backend" not in args.skip:
        generic = SynNet(**kw, backend="torch").to(device)
        generic.load_state_dict(model.state_dict())
        impls["ours_torch_backend"] = lambda x, t: step_ours(generic, x, t)
    if "rockpool" not in args.skip and is_available("rockpool"):
        impls["rockpool"] = make_rockpool(model, device)
    if "snntorch" not in args.skip and is_available("snntorch"):
        impls["snntorch"] = make_snntorch(model, device)

    times: dict[str, list[float]] = {k: [] for k in impls}
    for name in ("ours", "ours_torch_backend"):  # warm-up (numba cache load, allocator)
        if name in impls:
            impls[name](x, target)
    n_base = args.repeats if args.baseline_repeats is None else args.baseline_repeats
    for r in range(args.repeats):
        for name, fn in impls.items():
            if name in ("rockpool", "snntorch") and r >= n_base:
                continue
            _sync(device)
            t0 = time.perf_counter()
            fn(x, target)
            _sync(device)
            times[name].append(time.perf_counter() - t0)
            print(f"{name:20s} {times[name][-1] * 1e3:9.1f} ms", flush=True)

    med = {k: statistics.median(v) for k, v in times.items()}
    result = {
        "benchmark": "train_step_fwd_bwd",
        "net": "-".join(map(str, [args.channels, *args.hidden, args.classes])),
        "batch": args.batch, "steps": args.steps, "repeats": args.repeats, "device": str(device),
        "torch_threads": torch.get_num_threads(), "numba_threads": numba.get_num_threads(), "cpu_count": os.cpu_count(),
        "loadavg_1min": round(os.getloadavg()[0], 2),
        "per_batch_s": {k: round(v, 5) for k, v in med.items()},
        "min_per_batch_s": {k: round(min(v), 5) for k, v in times.items()},
        "speedup_vs_rockpool": round(med["rockpool"] / med["ours"], 2) if "rockpool" in med else None,
        "speedup_vs_snntorch": round(med["snntorch"] / med["ours"], 2) if "snntorch" in med else None,
    }  # fmt: skip
    print(json.dumps(result))


if __name__ == "__main__":
    main()
