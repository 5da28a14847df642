"""``xylodeploy import MODEL --from FRAMEWORK -o OUT``: bring a model from another framework in.

MODEL is, for torch-based sources (snntorch, spikingjelly, rockpool), either ``file.py:name``
(``name`` is a module object or a zero-argument factory returning one; the file is Python code and
is executed: import only files you trust) or a file saved with ``torch.save(model)`` (a full pickled
module: unpickling runs code, so it is loaded only with ``--trust-pickle``). For ``nir`` it is a NIR file
(``--dt`` / ``--discretization`` / ``--producer`` as in `xylodeploy.interop.nir_conventions`). The output is a
`NetworkGraph` file (``.npz``); with ``--chip`` it is quantized and mapped instead and written as a ``.xylo``
spec, and the float graph is compared with the chip on the example clips (or generated ones) layer by layer,
with a loud warning naming the layer and the cause where the chip loses more than 10 %
(`xylodeploy.interop.agreement`). A torch model is run by its own library on the same clips and its
readout compared with the imported float graph (`xylodeploy.interop.fidelity`).
"""

from __future__ import annotations

import importlib.util
import math
import sys
import warnings
from pathlib import Path
from typing import Any

import click

from xylodeploy._optional import require
from xylodeploy.chips import available_chips
from xylodeploy.errors import ConfigError
from xylodeploy.interop.nir_conventions import PRODUCERS
from xylodeploy.interop.registry import IMPORTERS
from xylodeploy.io.files import existing_file

SOURCES: tuple[str, ...] = tuple(IMPORTERS)  # every registered importer (xylodeploy.interop.registry)


def load_torch_model(ref: str, extra: str, trust_pickle: bool = False) -> Any:
    """The model object named by ``file.py:name`` (executed) or stored in a torch.save'd file.

    A pickled file is opened with ``weights_only=True`` unless ``trust_pickle``: a full pickle can run
    any code while it loads. Every failure is a one-line `ConfigError`.
    """
    path, sep, attr = ref.rpartition(":")
    if not (sep and path.endswith(".py")):
        path, attr = ref, ""
    p = existing_file(path, "model file")
    if p.suffix == ".py":
        if not attr:
            raise ConfigError(f"{ref}: give the model as FILE.py:NAME")
        return _model_from_py(p, attr, extra)
    torch = require("torch", extra, "loading torch models")
    try:
        obj = torch.load(p, weights_only=not trust_pickle, map_location="cpu")
    except Exception as exc:  # noqa: BLE001 - any unpickling failure is a bad (or untrusted) file
        if not trust_pickle and "weights_only" in str(exc):
            raise ConfigError(
                f"{p}: a full pickled model; unpickling it can run arbitrary code, so it is refused. Pass "
                "--trust-pickle only for a file you trust, or give the model as FILE.py:NAME"
            ) from None
        raise ConfigError(f"{p}: not a torch.save'd model ({type(exc).__name__}: {_first_line(exc)})") from None
    return _as_module(obj, f"{p}", extra)


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [""])[0][:200]


def _model_from_py(p: Path, attr: str, extra: str) -> Any:
    """Execute ``p`` as a module and return ``attr`` (called if it is a factory)."""
    spec = importlib.util.spec_from_file_location(f"_xylodeploy_user_{p.stem}", p)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
    except SyntaxError as exc:
        raise ConfigError(f"{p}, line {exc.lineno}: syntax error ({exc.msg})") from None
    except (Exception, SystemExit) as exc:  # noqa: BLE001 - user code may raise anything
        raise ConfigError(f"{p}: raised {type(exc).__name__} while being executed ({_first_line(exc)})") from None
    if not hasattr(module, attr):
        raise ConfigError(f"{p}: no attribute '{attr}'")
    obj = getattr(module, attr)
    nn = require("torch.nn", extra, "loading torch models")
    if callable(obj) and not isinstance(obj, nn.Module) and not hasattr(obj, "modules"):
        try:
            obj = obj()
        except (Exception, SystemExit) as exc:  # noqa: BLE001 - user code may raise anything
            raise ConfigError(f"{p}:{attr}(): raised {type(exc).__name__} ({_first_line(exc)})") from None
    return _as_module(obj, f"{p}:{attr}", extra)


def _as_module(obj: Any, where: str, extra: str) -> Any:
    """``obj`` if it is a model (a torch module or an object with ``modules()``), else ConfigError."""
    nn = require("torch.nn", extra, "loading torch models")
    if isinstance(obj, nn.Module) or callable(getattr(obj, "modules", None)):
        return obj
    raise ConfigError(f"{where}: is a {type(obj).__name__}, not a model (a torch module; a state_dict is not enough)")


def import_model(
    ref: str,
    source: str,
    dt: float | None,
    n_inputs: int | None,
    discretization: str | None = None,
    trust_pickle: bool = False,
    producer: str | None = None,
) -> tuple[Any, Any, Any]:
    """``(graph, report, model)`` for MODEL ``ref`` from framework ``source`` (through `IMPORTERS`); ``model``
    is the loaded source model (the NIR file's path for ``nir``)."""
    from xylodeploy.interop.registry import IMPORTERS, import_from

    if dt is not None and not (math.isfinite(dt) and 1e-6 <= dt <= 10.0):
        raise ConfigError(f"--dt {dt}: expected a time step in seconds between 1e-06 and 10")
    if n_inputs is not None and not 1 <= n_inputs <= 1_000_000:
        raise ConfigError(f"--n-inputs {n_inputs}: expected a positive channel count")
    entry = IMPORTERS[source]
    model = load_torch_model(ref, source, trust_pickle) if entry.reads == "torch" else existing_file(ref, entry.reads)
    if hasattr(model, "eval"):
        model.eval()
    graph, report = import_from(
        source, model, dt=dt, n_inputs=n_inputs, discretization=discretization, producer=producer
    )
    return graph, report, model


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
@click.option(
    "--producer",
    type=click.Choice(tuple(PRODUCERS)),
    default=None,
    help="nir: the library that wrote the file, when the file does not say (its discretisation, gains, units)",
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
@click.option(
    "--trust-pickle",
    is_flag=True,
    help="Allow MODEL to be a full pickle (torch.save(model)): unpickling runs code from the file.",
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
    trust_pickle: bool,
    producer: str | None,
) -> None:
    """Import MODEL (FILE.py:NAME, a torch.save'd module, or a NIR file) into xylodeploy.

    FILE.py:NAME is Python code: it is executed, like any script you run. A torch.save'd module is a
    pickle and is loaded only with --trust-pickle. A torch model is also run by its own library on the
    example (or generated) clips and compared with the import ("source vs import")."""
    from xylodeploy.cli._inputs import check_output
    from xylodeploy.interop._common import save_graph
    from xylodeploy.io.rasters import load_raster_npz

    check_output(output, [model.rpartition(":")[0] if ".py:" in model else model, example_input])

    example = load_raster_npz(example_input, n_inputs)[0] if example_input else None
    if example is not None and n_inputs is None:
        n_inputs = int(example.shape[2])
    for opt, value in (("discretization", discretization), ("producer", producer)):
        if value is not None and opt not in IMPORTERS[source].options:
            raise ConfigError(f"--{opt} applies to --from nir only (got --from {source})")
    graph, report, loaded = import_model(model, source, dt, n_inputs, discretization, trust_pickle, producer)
    click.echo(str(report))
    clips = _clips(graph, example)
    _source_check(source, loaded, graph, report, clips)
    if chip is None:
        save_graph(graph, output, report)
        click.echo(f"wrote graph {output}: {graph.n_inputs} inputs, {graph.sizes}")
        if example is not None:
            _float_example(graph, example)
        return
    spec = _chip_import(graph, report, chip, method, clips)
    from xylodeploy.drc import check

    violations = check(spec)
    if violations:  # never write a spec its chip cannot run
        raise ConfigError(f"{model}: the imported network does not fit {chip}: " + "; ".join(map(str, violations)))
    spec.replace(provenance={**spec.provenance, "import": {"source": source, "model": Path(model).name}}).save(output)
    click.echo(f"wrote {chip} spec {output}: {spec.n_inputs} inputs, {spec.n_hidden} hidden, {spec.n_outputs} outputs")


def _clips(graph: Any, example: Any) -> tuple[Any, str]:
    """``(clips, description)``: the user's example clips, else clips generated from the model."""
    from xylodeploy.interop import agreement as agr

    if example is not None and example.shape[2] != graph.n_inputs:
        raise ConfigError(f"--example-input: {example.shape[2]} channels, the imported model has {graph.n_inputs}")
    return (example, f"{len(example)} example clip(s)") if example is not None else agr.example_clips(graph)


def _source_check(source: str, model: Any, graph: Any, report: Any, clips: tuple[Any, str]) -> None:
    """Print how far the imported float graph is from the source model run by its own library
    (`xylodeploy.interop.fidelity`); loud where it is more than the threshold."""
    from xylodeploy.interop.fidelity import check_source

    if IMPORTERS[source].runner is None:
        return
    result = check_source(source, model, graph, report, *clips)
    click.echo(result.line)
    for line in result.warnings:
        click.secho(f"WARNING: {line}", err=True, fg="red", bold=True)


def _chip_import(graph: Any, report: Any, chip: str, method: str, clips_and_text: tuple[Any, str]) -> Any:
    """Quantize and map ``graph``; check it against the float graph on example (or generated) clips and
    warn loudly, naming the layer and the cause, where the chip loses more than the threshold."""
    from xylodeploy.interop import agreement as agr

    clips, text = clips_and_text
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
