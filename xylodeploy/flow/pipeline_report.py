"""Assemble the pipeline's report.json and plots (see `xylodeploy.flow.report` for the plots).

Also written: ``report.html`` (`xylodeploy.flow.html_report`), ``neurobench.json`` (`xylodeploy.flow.metrics`)
and, for IMU-interface data, ``imu_interface.json`` (`xylodeploy.frontends.imu_config`)."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from xylodeploy import __version__
from xylodeploy.backends import get_backend
from xylodeploy.drc import resource_summary
from xylodeploy.flow.compile import Deployment, readout_scale
from xylodeploy.flow.report import plot_readout, plot_resources, plot_time_constants, plot_weights, write_json
from xylodeploy.flow.validate import ValidationReport
from xylodeploy.readout import ReadoutRule


def _readout_traces(model: Any, dep: Deployment, clip: np.ndarray, rule: ReadoutRule) -> tuple[np.ndarray, np.ndarray]:
    """One clip's readout: float model trace and chip trace (reference), both in float units."""
    import torch

    with torch.no_grad():
        rec = model.record(torch.as_tensor(clip[None], dtype=torch.float32))
    backend = get_backend("reference")
    backend.load(dep.spec)
    chip = backend.run(clip[None], record=True)
    if rule.quantity == "vmem":
        return rec.readout.vmem[0].numpy(), chip.vmem_out[0] / readout_scale(dep.qgraph, dep.graph.readout)
    return rec.readout.spikes[0].numpy(), chip.spikes_out[0].astype(float)


def deployed_stage(val: ValidationReport) -> str | None:
    """The integer stage whose accuracy is reported as deployed: reference, else xylosim, else exact (with clips)."""
    return next((s for s in ("reference", "xylosim", "exact") if s in val.stages and val.stages[s].n_clips), None)


def write_report(out: Path, cfg: Any, trained: Any, dep: Deployment, val: ValidationReport, model: Any,
                 splits: Any, rule: ReadoutRule, seconds: float) -> Path:  # fmt: skip
    """Write report.json (+ PNG plots when enabled); returns the JSON path."""
    plots: dict[str, str] = {}
    if cfg.report.plots:
        plots["weights"] = str(plot_weights(dep, out / "weights.png"))
        plots["time_constants"] = str(plot_time_constants(dep, out / "time_constants.png"))
        plots["resources"] = str(plot_resources(dep, out / "resources.png"))
        f_trace, c_trace = _readout_traces(model, dep, splits.test.spikes[0], rule)
        plots["readout_trace"] = str(plot_readout(f_trace, c_trace, rule.quantity, int(splits.test.labels[0]),
                                                  list(splits.test.classes), out / "readout_trace.png"))  # fmt: skip
    chip_stage = deployed_stage(val)
    float_acc = val.stages["float"].accuracy
    deployed = val.stages[chip_stage].accuracy if chip_stage else None
    doc = {
        "xylodeploy_version": __version__,
        "chip": dep.chip.name,
        "seconds": seconds,
        "summary": {
            "float_test_accuracy": float_acc,
            "deployed_test_accuracy": deployed,
            "deployed_on": chip_stage,
            "delta_pp": None if deployed is None else 100.0 * (deployed - float_acc),
            "bit_exact_reference_xylosim_exact": val.ok,
            "readout_rule": {"quantity": rule.quantity, "pooling": rule.pooling},
        },
        "train": trained.summary(),
        "quantization": dep.quantization.to_dict(),
        "finetune": None if dep.finetune is None else asdict(dep.finetune),
        "validation": val.to_dict(),
        "resources": [asdict(r) for r in resource_summary(dep.spec, dep.chip)],
        "stages": [asdict(s) for s in dep.stages],
        "files": {"spec": str(out / "model.xylo"), **plots},
        "config": cfg.model_dump(mode="json"),
    }
    clips = splits.test.spikes[:256]
    rec = _activity(dep.spec, clips)  # one reference run serves the metrics and the energy estimate
    doc["metrics"] = _metrics(dep.spec, clips, rec, deployed, out)
    doc["energy"] = _energy(dep.spec, clips, rec)
    _write_frontend(out, splits, dep.chip.name, doc["files"])
    from xylodeploy.flow.html_report import write_html

    doc["files"]["html"] = str(out / "report.html")
    write_html(doc, out / "report.html")
    return write_json(doc, out / "report.json")


def _activity(spec: Any, clips: np.ndarray) -> Any:
    """The reference simulator's recording of ``clips`` (hidden and readout spikes for metrics and energy)."""
    backend = get_backend("reference")
    backend.load(spec)
    return backend.run(clips, record=True)


def _metrics(spec: Any, clips: np.ndarray, rec: Any, accuracy: float | None, out: Path) -> dict:
    """NeuroBench-style metrics on (up to 256) test clips; also written as ``neurobench.json``."""
    from xylodeploy.flow.metrics import compute_metrics

    m = compute_metrics(spec, clips, rec.spikes, rec.spikes_out)
    nb = m.neurobench(accuracy)
    write_json(nb, out / "neurobench.json")
    return {**m.to_dict(), "neurobench": nb, "files": {"neurobench": str(out / "neurobench.json")}}


def _energy(spec: Any, clips: np.ndarray, rec: Any) -> dict:
    """The labelled activity-based energy ESTIMATE per inference (`xylodeploy.power.energy`) on test clips."""
    from xylodeploy.power.energy import energy_lines, estimate_energy
    from xylodeploy.power.estimate import estimate

    e = estimate_energy(estimate(spec, clips, rec.spikes), clips.shape[1])
    return {**e.to_dict(), "lines": energy_lines(e)}


def _write_frontend(out: Path, splits: Any, chip: str, files: dict) -> None:
    """Save the IMU interface registers the network was trained with (``imu_interface.json``) for deployment."""
    regs = splits.train.meta.get("imu_interface")
    if regs is None:
        return
    from xylodeploy.frontends.imu_config import write_interface

    files["imu_interface"] = str(out / "imu_interface.json")
    write_interface(out / "imu_interface.json", regs)
    if chip != "xylo-imu":
        import warnings

        warnings.warn(f"the data is IMU-interface encoded but the target chip is {chip}", stacklevel=2)
