"""Optuna sweeps: trials are pipeline runs, two objectives, a Pareto front, resume, parallel workers."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from tests.support.fixtures_small import PNG_SIGNATURE, tiny_raw
from xylodeploy.cli import main
from xylodeploy.errors import ConfigError
from xylodeploy.ir import load_spec
from xylodeploy.scale.space import apply_params, load_space
from xylodeploy.scale.sweep import chip_costs, median_rule

FAST = {"quantize": {"finetune_epochs": 0}, "simulate": {"backends": ["reference"], "exact_clips": 0},
        "report": {"plots": False}}  # fmt: skip
SPACE = {"train.lr": {"float": [0.003, 0.03], "log": True}, "model.size_hidden_layers": {"choices": [[8], [24]]}}


@pytest.fixture
def files(tmp_path):
    cfg, space = tmp_path / "cfg.yaml", tmp_path / "space.yaml"
    cfg.write_text(yaml.safe_dump(tiny_raw(True, **FAST)))
    space.write_text(yaml.safe_dump(SPACE))
    return cfg, space


def _sweep(cfg, space, out, *extra):
    res = CliRunner().invoke(main, ["sweep", str(cfg), "--space", str(space), "--out", str(out), "--seed", "0", *extra])
    return res


@pytest.mark.slow
def test_sweep_writes_front_plot_and_deployable_best(files, tmp_path):
    cfg, space = files
    out = tmp_path / "sw"
    res = _sweep(cfg, space, out, "--trials", "3")
    assert res.exit_code == 0, res.output
    summary = json.loads((out / "front.json").read_text())
    assert summary["n_complete"] == 3
    front = summary["front"]
    assert front and all(r["run_dir"] for r in front)
    costs = [r["cost"] for r in front]
    accs = [r["deployed_val_acc"] for r in front]
    assert costs == sorted(costs), "the front is listed by cost"
    assert accs == sorted(accs), "on a Pareto front, more cost buys more accuracy"
    for trial in sorted((out / "trials").iterdir()):
        assert (trial / "report.json").is_file() and (trial / "model.xylo").is_file()
    assert (out / "pareto.png").read_bytes().startswith(PNG_SIGNATURE)
    best = json.loads((out / "best.json").read_text())
    assert best["deployed_val_acc"] == max(accs)
    spec = load_spec(out / "best.xylo")
    assert spec.n_hidden == sum(best["params"]["model.size_hidden_layers"])
    # resume continues the same study up to the new total; a plain rerun refuses to clobber it
    again = _sweep(cfg, space, out, "--trials", "4")
    assert again.exit_code == 2 and "--resume" in again.output
    more = _sweep(cfg, space, out, "--trials", "4", "--resume")
    assert more.exit_code == 0, more.output
    assert json.loads((out / "front.json").read_text())["n_complete"] == 4


@pytest.mark.slow
def test_two_workers_share_a_journal_storage(files, tmp_path):
    cfg, space = files
    out = tmp_path / "par"
    res = _sweep(cfg, space, out, "--trials", "2", "--jobs", "2", "--storage", str(tmp_path / "shared.journal"))
    assert res.exit_code == 0, res.output
    summary = json.loads((out / "front.json").read_text())
    assert summary["n_complete"] + summary["n_pruned"] >= 2
    assert len(list((out / "trials").iterdir())) >= 2


def test_space_rejects_bad_entries(tmp_path):
    bad = {
        "lr: {float: [0.1, 0.01]}": "dotted",
        "train.lr: {float: [0.1, 0.01]}": "below",
        "train.lr: {float: [0.0, 0.1], log: true}": "low > 0",
        "train.lr: {float: [0.1, 1.0], choices: [1]}": "exactly one",
        "train.lr: {floats: [0.1, 1.0]}": "Extra",
        "train.epochs: {int: [1.5, 3]}": "integer",
    }
    for text, words in bad.items():
        p = tmp_path / "s.yaml"
        p.write_text(text)
        with pytest.raises(ConfigError, match=words):
            load_space(p)


def test_unknown_config_key_fails_before_any_trial(files, tmp_path):
    cfg, space = files
    space.write_text(yaml.safe_dump({"train.lrr": {"float": [0.001, 0.01]}}))
    res = _sweep(cfg, space, tmp_path / "x", "--trials", "1")
    assert res.exit_code == 2 and "lrr" in res.output and "Traceback" not in res.output
    assert not (tmp_path / "x" / "trials").exists()


def test_apply_params_sets_dotted_keys_without_touching_the_base():
    base = {"train": {"lr": 0.1}, "model": {}}
    raw = apply_params(base, {"train.lr": 0.2, "model.size_hidden_layers": [4]}, "t")
    assert raw == {"train": {"lr": 0.2}, "model": {"size_hidden_layers": [4]}} and base["train"]["lr"] == 0.1


def test_median_rule():
    curves = [[0.5, 0.6, 0.7], [0.4, 0.5, 0.6], [0.3, 0.4, 0.9]]
    assert not median_rule(curves, 0, 0.0), "no pruning during warm-up"
    assert median_rule(curves, 1, 0.45) and not median_rule(curves, 1, 0.5)
    assert not median_rule(curves[:2], 1, 0.0), "too few finished trials"


def test_synops_counts_events_times_fan_out():
    from tests.support.strategies import build_random_spec
    from xylodeploy.chips import get_chip

    knobs = {"density": 0.3, "extreme": False, "rec_scale": 1.0, "th_scale": 100, "bias": False, "alias_p": 0.0}
    spec = build_random_spec(get_chip("xylo-audio2"), (4, 6, 2, 2), knobs, seed=5)
    raster = np.zeros((1, 5, 4), np.int64)
    raster[0, 0, 0], raster[0, 1, 3] = 2, 20  # 20 events arrive as the chip's cap of 15
    hidden = np.zeros((1, 5, 6), np.int64)
    hidden[0, 2, 1] = 3

    def nnz(a):
        return sum(1 for v in np.asarray(a).ravel() if v != 0)

    expect = 2 * nnz(spec.weights_in[0]) + 15 * nnz(spec.weights_in[3])
    expect += 3 * (nnz(spec.weights_rec[1]) + nnz(spec.weights_out[1]))
    costs = chip_costs(spec, raster, hidden)
    assert expect > 0 and costs["synops"] == expect
    assert costs["neurons"] == 6 and costs["cycles"] > 0 and costs["energy"] > 0
