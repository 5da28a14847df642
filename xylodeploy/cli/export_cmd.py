"""``xylodeploy export SPEC_OR_GRAPH --to nir|onnx -o FILE``.

A graph file (from ``xylodeploy import``) exports to NIR or to a float64 ONNX step graph; a
``.xylo`` spec exports to an exact int64 ONNX step graph of the chip (see xylodeploy.interop.onnx).
"""

from __future__ import annotations

import click

from xylodeploy.errors import ConfigError
from xylodeploy.io.files import existing_file


def _load(path: str, no_check: bool) -> object:
    """A XyloSpec (``.xylo``, design-rule checked unless ``no_check``) or a NetworkGraph (from save_graph)."""
    p = existing_file(path, "spec or graph file")
    if p.suffix == ".xylo":
        from xylodeploy.cli._inputs import load_checked_spec

        return load_checked_spec(p, no_check)
    from xylodeploy.interop._common import load_graph

    return load_graph(p)


@click.command("export")
@click.argument("source")
@click.option("--to", "fmt", type=click.Choice(("nir", "onnx")), required=True, help="output format")
@click.option("-o", "--output", type=click.Path(dir_okay=False), required=True, help="file to write")
@click.option("--no-check", is_flag=True, help="Skip the design-rule check of a .xylo spec.")
def command(source: str, fmt: str, output: str, no_check: bool) -> None:
    """Export a graph (to NIR or float ONNX) or a .xylo spec (to integer ONNX)."""
    from xylodeploy.cli._inputs import check_output
    from xylodeploy.ir import XyloSpec

    check_output(output, [source])
    obj = _load(source, no_check)
    if fmt == "nir":
        if isinstance(obj, XyloSpec):
            raise ConfigError(f"{source}: NIR export needs a float graph file, not a quantized .xylo spec")
        from xylodeploy.interop.nir import to_nir

        to_nir(obj, output)
    else:
        from xylodeploy.interop.onnx import export_onnx

        export_onnx(obj, output)
    kind = "integer spec" if isinstance(obj, XyloSpec) else "float graph"
    click.echo(f"wrote {fmt} ({kind}) {output}")
