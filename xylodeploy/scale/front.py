"""The outcome of a sweep: its Pareto front as a table (``front.json``, ``front.csv``), a plot
(``pareto.png``) and the best trial's spec ready to deploy (``best.xylo``, ``best.json``).

"Best" is the front's most accurate trial on the validation split (ties: the cheaper one).
"""

from __future__ import annotations

import csv
import io
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from xylodeploy.errors import ConfigError
from xylodeploy.io.files import atomic_write

COLUMNS = ("trial", "deployed_val_acc", "cost", "float_test_acc", "deployed_test_acc", "run_dir", "params")


def _row(trial: Any, cost: str) -> dict:
    attrs = trial.user_attrs
    return {
        "trial": trial.number,
        "deployed_val_acc": trial.values[0],
        "cost": trial.values[1],
        "float_test_acc": attrs.get("float_test_acc"),
        "deployed_test_acc": attrs.get("deployed_test_acc"),
        "run_dir": attrs.get("run_dir"),
        "params": attrs.get("values", trial.params),
        "cost_name": cost,
    }


def write_front(study: Any, settings: Any, log: Callable[[str], None] = print) -> dict:
    """Write the front files into ``settings.out``; return ``{"front": rows, "best": row, counts}``."""
    import optuna

    done = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    if not done:
        raise ConfigError(f"sweep '{settings.study}': no trial completed (all pruned or failed)")
    front = sorted(
        (_row(t, settings.cost) for t in study.best_trials), key=lambda r: (r["cost"], -r["deployed_val_acc"])
    )
    best = max(front, key=lambda r: (r["deployed_val_acc"], -r["cost"]))
    out = Path(settings.out)
    states = [t.state.name for t in study.trials]
    summary = {"study": settings.study, "cost": settings.cost, "front": front, "best": best,
               "n_complete": states.count("COMPLETE"), "n_pruned": states.count("PRUNED"),
               "n_failed": states.count("FAIL")}  # fmt: skip
    with atomic_write(out / "front.json", "w") as fh:
        json.dump(summary, fh, indent=2)
    _write_csv(out / "front.csv", front)
    _plot(out / "pareto.png", [_row(t, settings.cost) for t in done], front, settings.cost)
    _copy_best(best, out)
    for line in table_lines(front, settings.cost):
        log(line)
    log(f"best: trial {best['trial']} -> {out / 'best.xylo'} (pareto.png, front.csv, front.json in {out})")
    return summary


def table_lines(front: list[dict], cost: str) -> list[str]:
    """The front as aligned text lines."""
    lines = [f"{'trial':>5}  {'val acc':>8}  {cost:>14}  {'test acc':>8}  params"]
    for r in front:
        test = "" if r["deployed_test_acc"] is None else f"{r['deployed_test_acc']:.2%}"
        lines.append(f"{r['trial']:>5}  {r['deployed_val_acc']:>8.2%}  {r['cost']:>14.4g}  {test:>8}  "
                     f"{json.dumps(r['params'])}")  # fmt: skip
    return lines


def _write_csv(path: Path, rows: list[dict]) -> None:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=[*COLUMNS, "cost_name"])
    w.writeheader()
    for r in rows:
        w.writerow({**r, "params": json.dumps(r["params"])})
    with atomic_write(path, "w") as fh:
        fh.write(buf.getvalue())


def _plot(path: Path, rows: list[dict], front: list[dict], cost: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    ax.scatter([r["cost"] for r in rows], [100 * r["deployed_val_acc"] for r in rows], c="0.7", label="trials")
    ax.plot(
        [r["cost"] for r in front], [100 * r["deployed_val_acc"] for r in front], "o-", c="C0", label="Pareto front"
    )
    for r in front:
        ax.annotate(
            str(r["trial"]), (r["cost"], 100 * r["deployed_val_acc"]), textcoords="offset points", xytext=(4, 4)
        )
    ax.set_xlabel(f"{cost} per inference (lower is better)")
    ax.set_ylabel("deployed accuracy, validation (%)")
    ax.legend()
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    with atomic_write(path) as fh:
        fh.write(buf.getvalue())


def _copy_best(best: dict, out: Path) -> None:
    src = Path(best["run_dir"]) / "model.xylo"
    with src.open("rb") as s, atomic_write(out / "best.xylo") as d:
        shutil.copyfileobj(s, d)
    with atomic_write(out / "best.json", "w") as fh:
        json.dump(best, fh, indent=2)
