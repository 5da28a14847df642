"""``xylodeploy import MODEL --from FRAMEWORK -o OUT``: bring a model from another framework in.

MODEL is, for torch-based sources (snntorch, spikingjelly, rockpool), either ``file.py:name``
(``name`` is a module object or a zero-argument factory returning one; the file is executed) or a
file saved with ``torch.save(model)`` (a full pickled module: unpickling runs code, load only files
you trust). For ``nir`` it is a NIR file (``--dt`` / ``--discretization`` as in
`xylodeploy.interop.nir_conventions`). The output is a `NetworkGraph` file (``.npz``); with ``--chip`` it is
quantized and mapped instead and written as a ``.xylo`` spec, and the float graph is compared with the chip
on the example clips (or generated ones) layer by layer, with a loud warning naming the layer and the cause
where the chip loses more than 10 % (`xylodeploy.interop.agreement`).
"""

from __future__ import annotations

import importlib.util
import sys
import warnings
from pathlib import Path
from typing import Any

import click

from xylodeploy._optional import require
from xylodeploy.chips import available_chips
from xylodeploy.errors import ConfigError
from xylodeploy.interop.registry import IMPORTERS
from xylodeploy.io.files import existing_file

SOURCES: tuple[str, ...] = tuple(IMPORTERS)  # every registered importer (xylodeploy.interop.registry)


def load_torch_model(ref: str, extra: str) -> Any:
    """The model object named by ``file.py:name`` or stored in a torch.save'd file."""
    path, sep, attr = ref.rpartition(":")
    if not (sep and path.endswith(".py")):
        path, attr = ref, ""
    p = existing_file(path, "model file")
    if p.suffix == ".py":
        if not attr:
            raise ConfigError(f"{ref}: give the model as FILE.py:NAME")
        spec = importlib.util.spec_from_file_location(f"_xylodeploy_user_{p.stem}", p)
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
        if not hasattr(module, attr):
            raise ConfigError(f"{p}: no attribute '{attr}'")
        obj = getattr(module, attr)
        nn = require("torch.nn", extra, "loading torch models")
        return obj() if callable(obj) and not isinstance(obj, nn.Module) and not hasattr(obj, "modules") else obj
    torch = require("torch", extra, "loading torch models")
    try:
        return torch.load(p, weights_only=False, map_location="cpu")
    except Exception as exc:  # noqa: BLE001 - any unpickling failure is a bad file
        raise ConfigError(f"{p}: not a torch.save'd model ({type(exc).__name__}: {exc})") from None


def import_model(
    ref: str, source: str, dt: float | None, n_inputs: int | None, discretization: str | None = None
) -> tuple[Any, Any]:
    """``(graph, report)`` for MODEL ``ref`` from framework ``source`` (through `IMPORTERS`)."""
    from xylodeploy.interop.registry import IMPORTERS, import_from

    entry = IMPORTERS[source]
    model = load_torch_model(ref, source) if entry.reads == "torch" else existing_file(ref, entry.reads)
    if hasattr(model, "eval"):
        model.eval()
    return import_from(source, model, dt=dt, n_inputs=n_inputs, discretization=discretization)


@click.command("import")
@click.argument("model")
@click.option("--from", "source", type=click.Choice(SOURCES), required=True, help="framework of MODEL")
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False), required=True, help="graph (.npz) or, with --chip, .xylo"
)
@click.option(
    "--dt",
    type=float,
    default=None,
    help="time step [s] (snntorch/spikingjelly: default 1e-3; nir: the file's, required when it has none)",
)
@click.option(
    "--discretization",
    type=click.Choice(("euler", "exact")),
    default=None,
    help="nir: forward-Euler or exact-exponential reading of the file (default: as its producer writes it)",
)
@click.option("--n-inputs", type=int, default=None, help="input channels (default: the first linear layer's inputs)")
@click.option("--chip", type=click.Choice(available_chips()), default=None, help="quantize and map for this chip")
@click.option("--method", type=click.Choice(("channel", "global")), default="channel", help="quantisation method")
@click.option(
    "--example-input",
    type=click.Path(dir_okay=False),
    default=None,
    help="clips (.npz with 'spikes' (N,T,C)): sets the input count and checks the import on them",
)
def command(
    model: str,
    source: str,
    output: str,
    dt: float | None,
    n_inputs: int | None,
    chip: str | None,
    method: str,
    example_input: str | None,
    discretization: str | None,
) -> None:
    """Import MODEL (FILE.py:NAME, a torch.save'd module, or a NIR file) into xylodeploy."""
    from xylodeploy.interop._common import save_graph
    from xylodeploy.io.rasters import load_raster_npz

    example = load_raster_npz(example_input, n_inputs)[0] if example_input else None
    if example is not None and n_inputs is None:
        n_inputs = int(example.shape[2])
    if discretization is not None and "discretization" not in IMPORTERS[source].options:
        raise ConfigError(f"--discretization applies to --from nir only (got --from {source})")
    graph, report = import_model(model, source, dt, n_inputs, discretization)
    click.echo(str(report))
    if chip is None:
        save_graph(graph, output, report)
        click.echo(f"wrote graph {output}: {graph.n_inputs} inputs, {graph.sizes}")
        if example is not None:
            _float_example(graph, example)
        return
    spec = _chip_import(graph, report, chip, method, example)
    spec.replace(provenance={**spec.provenance, "import": {"source": source, "model": Path(model).name}}).save(output)
    click.echo(f"wrote {chip} spec {output}: {spec.n_inputs} inputs, {spec.n_hidden} hidden, {spec.n_outputs} outputs")


def _chip_import(graph: Any, report: Any, chip: str, method: str, example: Any) -> Any:
    """Quantize and map ``graph``; check it against the float graph on example (or generated) clips and
    warn loudly, naming the layer and the cause, where the chip loses more than the threshold."""
    from xylodeploy.interop import agreement as agr

    if example is not None and example.shape[2] != graph.n_inputs:
        raise ConfigError(f"--example-input: {example.shape[2]} channels, the imported model has {graph.n_inputs}")
    clips, text = (example, f"{len(example)} example clip(s)") if example is not None else agr.example_clips(graph)
    mode = agr.readout_mode_of(graph, report)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        spec, qgraph = agr.quantize_for_chip(graph, chip, method, clips, mode)
    for w in caught:
        click.echo(f"warning: {w.message}", err=True)
    if mode == "vmem":
        click.echo(f"readout '{graph.readout}' is read through its membrane: scaled on the {text}")
    causes = agr.diagnose(graph, qgraph)
    result = agr.compare(graph, spec, clips, readout_mode=mode, scale=agr.readout_scale(qgraph), causes=causes,
                         clips_text=text)  # fmt: skip
    click.echo("\n".join(result.lines()))
    for line in result.warnings:
        click.secho(f"WARNING: {line}", err=True, fg="red", bold=True)
    return spec


def _float_example(graph: Any, clips: Any) -> None:
    """Readout spike counts of the float graph (with the chip's hop delay) on the example clips."""
    from xylodeploy.interop._common import simulate_graph

    if clips.shape[2] != graph.n_inputs:
        raise ConfigError(f"--example-input: {clips.shape[2]} channels, the imported model has {graph.n_inputs}")
    floats = simulate_graph(graph, clips, hop_delay=True)[graph.readout].sum(axis=1)
    first = floats[0].tolist()
    click.echo(f"example input: {len(clips)} clip(s); float graph readout spike counts, first clip: {first}")
