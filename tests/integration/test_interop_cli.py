"""`xylodeploy import` / `xylodeploy export` end to end."""

from __future__ import annotations

import textwrap

import numpy as np
import pytest
from click.testing import CliRunner

from xylodeploy.cli import main

MODEL = textwrap.dedent(
    """
    import torch, snntorch as snn
    from torch import nn

    def make():
        torch.manual_seed(0)
        return nn.Sequential(nn.Linear(8, 16, bias=False), snn.Synaptic(alpha=0.75, beta=0.875, init_hidden=True),
                             nn.Linear(16, 3, bias=False), snn.Synaptic(alpha=0.75, beta=0.875, init_hidden=True))
    """
)


def _run(*args: str) -> object:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_import_snntorch_then_export_nir_and_onnx(tmp_path):
    pytest.importorskip("snntorch")
    pytest.importorskip("nir")
    onnx = pytest.importorskip("onnx")
    (tmp_path / "m.py").write_text(MODEL)
    graph, spec = str(tmp_path / "g.npz"), str(tmp_path / "s.xylo")
    r = _run("import", f"{tmp_path / 'm.py'}:make", "--from", "snntorch", "-o", graph)
    assert r.exit_code == 0, r.output
    assert "reset_delay=True" in r.output and "wrote graph" in r.output
    r = _run("import", f"{tmp_path / 'm.py'}:make", "--from", "snntorch", "--chip", "xylo-audio2", "-o", spec)
    assert r.exit_code == 0, r.output
    from xylodeploy.ir import load_spec

    assert load_spec(spec).n_hidden == 16
    for fmt, src, out in (("nir", graph, "g.nir"), ("onnx", graph, "g.onnx"), ("onnx", spec, "s.onnx")):
        r = _run("export", src, "--to", fmt, "-o", str(tmp_path / out))
        assert r.exit_code == 0, r.output
    onnx.checker.check_model(onnx.load(tmp_path / "s.onnx"))
    r = _run("import", str(tmp_path / "g.nir"), "--from", "nir", "-o", str(tmp_path / "g2.npz"))
    assert r.exit_code == 0 and "exact" in r.output
    from xylodeploy.interop import load_graph

    a, b = load_graph(graph), load_graph(tmp_path / "g2.npz")
    np.testing.assert_allclose(a.connections[0].weight, b.connections[0].weight, rtol=1e-12)


def test_cli_errors_are_one_line(tmp_path):
    (tmp_path / "s.xylo").write_bytes(b"junk")
    r = _run("export", str(tmp_path / "s.xylo"), "--to", "nir", "-o", str(tmp_path / "x.nir"))
    assert r.exit_code == 2 and r.output.startswith("error:")
    r = _run("import", str(tmp_path / "missing.py:make"), "--from", "snntorch", "-o", str(tmp_path / "g.npz"))
    assert r.exit_code == 2 and "not found" in r.output


def test_import_with_example_input_checks_float_graph_against_chip(tmp_path):
    pytest.importorskip("snntorch")
    (tmp_path / "m.py").write_text(MODEL)
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "ex.npz", spikes=rng.poisson(1.5, (4, 40, 8)))
    out = str(tmp_path / "s.xylo")
    r = _run("import", f"{tmp_path / 'm.py'}:make", "--from", "snntorch", "--chip", "xylo-audio2", "-o", out,
             "--example-input", str(tmp_path / "ex.npz"))  # fmt: skip
    assert r.exit_code == 0, r.output
    assert "agreement float graph vs chip (reference simulator) on 4 example clip(s)" in r.output
    assert "readout (spikes): spike-count error" in r.output
    np.savez(tmp_path / "bad.npz", spikes=rng.poisson(1.5, (4, 40, 5)))
    r = CliRunner().invoke(main, ["import", f"{tmp_path / 'm.py'}:make", "--from", "snntorch", "-o",
                                  str(tmp_path / "g.npz"), "--example-input", str(tmp_path / "bad.npz")])  # fmt: skip
    assert r.exit_code != 0 and "Traceback" not in r.output and "5 inputs" in r.output


SYNAPTIC = """
import torch, snntorch as snn
from torch import nn
def make():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(8, 24), snn.Synaptic(alpha=0.9, beta=0.85, reset_delay=False),
                         nn.Linear(24, 4), snn.Synaptic(alpha=0.9, beta=0.85, reset_delay=False))
"""


def test_chip_import_without_examples_generates_clips_and_names_rounded_time_constants(tmp_path):
    pytest.importorskip("snntorch")
    (tmp_path / "m.py").write_text(SYNAPTIC)
    r = _run("import", f"{tmp_path / 'm.py'}:make", "--from", "snntorch", "--chip", "xylo-audio2", "-o",
             str(tmp_path / "s.xylo"))  # fmt: skip
    assert r.exit_code == 0, r.output
    assert "generated clip(s)" in r.output and "Bernoulli input rate" in r.output
    assert "WARNING: layer '1' loses" in r.output
    assert "tau_mem and tau_syn round together: decays 0.85 and 0.9 per step both become dash 3 = 0.875" in r.output


def test_inspect_warns_about_a_dead_readout_without_failing(tmp_path):
    from xylodeploy.ir import load_spec

    (tmp_path / "m.py").write_text(MODEL)
    out = tmp_path / "s.xylo"
    assert _run("import", f"{tmp_path / 'm.py'}:make", "--from", "snntorch", "--chip", "xylo-audio2", "-o",
                str(out)).exit_code == 0  # fmt: skip
    spec = load_spec(out)
    spec.replace(weights_out=spec.weights_out * 0).save(tmp_path / "dead.xylo")
    r = _run("inspect", str(tmp_path / "dead.xylo"))
    assert r.exit_code == 0 and "design-rule WARNING: dead_readout" in r.output


def test_nir_cli_reads_rockpool_export_and_bad_files_are_one_line_errors(tmp_path):
    pytest.importorskip("rockpool")
    pytest.importorskip("nirtorch")
    import warnings

    import nir

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import torch
        from rockpool.nn.combinators import Sequential
        from rockpool.nn.modules import LIFTorch, LinearTorch
        from rockpool.nn.modules.torch.nir import to_nir

        torch.manual_seed(0)
        nir.write(tmp_path / "rp.nir", to_nir(Sequential(LinearTorch((8, 12)), LIFTorch(12), LinearTorch((12, 3)),
                                                         LIFTorch(3))))  # fmt: skip
    r = CliRunner().invoke(main, ["import", str(tmp_path / "rp.nir"), "--from", "nir", "--chip", "xylo-audio2",
                                  "-o", str(tmp_path / "s.xylo")])  # fmt: skip
    assert r.exit_code == 0, r.output
    assert (
        "producer: rockpool" in r.output and "discretization: exact" in r.output and "dt: 0.001 s derived" in r.output
    )
    (tmp_path / "bad.nir").write_bytes(b"garbage")
    r = CliRunner().invoke(main, ["import", str(tmp_path / "bad.nir"), "--from", "nir", "-o", str(tmp_path / "g.npz")])
    assert r.exit_code == 2 and "NIR file" in r.output and "Traceback" not in r.output
    r = CliRunner().invoke(main, ["import", str(tmp_path / "rp.nir"), "--from", "snntorch", "--discretization",
                                  "exact", "-o", str(tmp_path / "g.npz")])  # fmt: skip
    assert r.exit_code == 2 and "--discretization applies to --from nir only" in r.output


VMEM = """
import warnings
import torch
from xylodeploy.interop.rockpool import build_rockpool_synnet

def make():
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return build_rockpool_synnet(n_channels=8, n_classes=3, size_hidden_layers=[16],
                                     time_constants_per_layer=[2], output="vmem")
"""


def test_rockpool_vmem_readout_is_calibrated_not_a_dead_readout(tmp_path):
    pytest.importorskip("rockpool")
    from xylodeploy.ir import load_spec

    (tmp_path / "m.py").write_text(VMEM)
    out = tmp_path / "s.xylo"
    r = _run("import", f"{tmp_path / 'm.py'}:make", "--from", "rockpool", "--chip", "xylo-audio2", "-o", str(out))
    assert r.exit_code == 0, r.output
    assert "is read through its membrane: scaled on the 8 generated clip(s)" in r.output
    assert "readout (vmem): membrane error" in r.output and "dead_readout" not in r.output
    assert load_spec(out).weights_out.any()
    # README interop table, footnote 4: measured membrane error 0.019, same winning readout on 8 of 8 clips
    err = float(r.output.split("readout (vmem): membrane error ")[1].split(",")[0])
    assert "source vs import (rockpool's own forward pass" in r.output  # exact import: its own check says so
    assert float(r.output.split("source vs import")[1].split("membrane error ")[1].split()[0]) < 1e-4
    assert err < 0.05 and "same winning readout on 100 % of 8 informative clip(s)" in r.output


def test_nir_producer_option_reads_a_sinabs_file_and_is_refused_for_other_sources(tmp_path):
    sl = pytest.importorskip("sinabs.layers")
    pytest.importorskip("nirtorch")
    import nir
    import torch
    from sinabs.nir import to_nir

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(8, 10), sl.LIF(tau_mem=torch.full((10,), 6.0),
                              spike_threshold=torch.ones(10)), torch.nn.Linear(10, 3),
                              sl.LIF(tau_mem=torch.full((3,), 6.0), spike_threshold=torch.ones(3)))  # fmt: skip
    nir.write(tmp_path / "s.nir", to_nir(net, torch.zeros(1, 1, 8)))
    out = str(tmp_path / "g.npz")
    r = _run("import", str(tmp_path / "s.nir"), "--from", "nir", "-o", out)
    assert r.exit_code == 2 and "--producer sinabs" in r.output and len(r.output.strip().splitlines()) == 1
    r = _run("import", str(tmp_path / "s.nir"), "--from", "nir", "--producer", "sinabs", "-o", out)
    assert r.exit_code == 0, r.output
    assert "producer: sinabs (as given)" in r.output and "taus count time steps" in r.output
    from xylodeploy.interop import load_graph

    assert np.allclose(np.exp(-load_graph(out).dt / load_graph(out).populations[0].tau_mem), np.exp(-1 / 6.0))
    r = _run("import", str(tmp_path / "s.nir"), "--from", "snntorch", "--producer", "sinabs", "-o", out)
    assert r.exit_code == 2 and "--producer applies to --from nir only" in r.output
