"""The importer registry: one name per framework, one result shape, the CLI offers exactly the registry."""

from __future__ import annotations

import inspect
import subprocess
import sys

import numpy as np
import pytest

import xylodeploy.interop as interop
from xylodeploy.cli.import_cmd import SOURCES
from xylodeploy.interop.registry import IMPORTERS, get_importer, import_from


def test_every_importer_is_from_framework_and_takes_its_options():
    for name, entry in IMPORTERS.items():
        fn = get_importer(name)
        assert fn.__name__ == entry.function == f"from_{name}"
        assert getattr(interop, entry.function) is fn
        params = inspect.signature(fn).parameters
        assert set(entry.options) <= set(params), f"{name}: options {entry.options} vs {list(params)}"


def test_cli_offers_the_registry():
    assert tuple(IMPORTERS) == SOURCES


def test_registry_imports_no_framework():
    code = "import sys, xylodeploy.interop as i; i.get_importer('nir'); print(sorted({'torch','snntorch','nir','rockpool','spikingjelly'} & set(sys.modules)))"  # noqa: E501
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_import_from_passes_only_the_options_the_importer_takes():
    torch = pytest.importorskip("torch")
    snn = pytest.importorskip("snntorch")
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(3, 4), snn.Leaky(beta=0.9, init_hidden=True),
        torch.nn.Linear(4, 2), snn.Leaky(beta=0.8, init_hidden=True, output=True),
    )  # fmt: skip
    direct, _ = interop.from_snntorch(model, dt=2e-3)
    graph, report = import_from("snntorch", model, dt=2e-3, n_inputs=None, discretization=None)
    assert graph.dt == direct.dt == 2e-3 and graph.sizes == direct.sizes
    for a, b in zip(graph.connections, direct.connections, strict=True):
        np.testing.assert_array_equal(a.weight, b.weight)
    assert str(report)
