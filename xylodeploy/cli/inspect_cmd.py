"""``xylodeploy inspect SPEC``: resource table and design-rule violations of a `.xylo` spec."""

from __future__ import annotations

import json

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from xylodeploy.chips import ChipSpec, get_chip
from xylodeploy.drc import ResourceRow, Violation, advisories, check, resource_summary
from xylodeploy.ir import XyloSpec, load_spec


def _percent(row: ResourceRow) -> str:
    return "-" if row.percent is None else f"{row.percent:.1f}%"


def resource_table(rows: list[ResourceRow], title: str) -> Table:
    """A rich table of used / available / percent; rows over the limit in red."""
    table = Table(title=title, title_justify="left")
    table.add_column("resource")
    for name in ("used", "available", "%"):
        table.add_column(name, justify="right")
    for row in rows:
        style = "bold red" if row.over else None
        table.add_row(row.resource, str(row.used), str(row.available), _percent(row), style=style)
    return table


def _title(path: str, spec: XyloSpec, chip: ChipSpec) -> str:
    sizes = f"{spec.n_inputs} in, {spec.n_hidden} hidden x {spec.n_synapses} syn, {spec.n_outputs} out"
    return f"{path} on {chip.title} ({chip.name}, {chip.part_number}): {sizes}"


def report_json(
    path: str, spec: XyloSpec, chip: ChipSpec, rows: list[ResourceRow], vs: list[Violation],
    warns: list[Violation] | None = None,
) -> str:  # fmt: skip
    """The machine-readable report printed by ``--json`` (``warnings``: design-rule warnings)."""
    doc = {
        "spec": path,
        "spec_chip": spec.chip,
        "chip": chip.name,
        "ok": not vs,
        "resources": [r.to_dict() for r in rows],
        "violations": [v.to_dict() for v in vs],
        "warnings": [v.to_dict() for v in warns or []],
    }
    return json.dumps(doc, indent=2)


@click.command("inspect")
@click.argument("spec_path", metavar="SPEC")
@click.option("--chip", default=None, help="Check against this chip instead of the one the spec names.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON report instead of tables.")
@click.pass_context
def command(ctx: click.Context, spec_path: str, chip: str | None, as_json: bool) -> None:
    """Show what SPEC (a .xylo file) uses of its chip and every design-rule violation.

    Exit code 0 when the spec fits the chip, 1 when any design rule is violated. Design-rule warnings
    (e.g. a dead readout: all weights_out zero) are listed but do not change the exit code.
    """
    spec = load_spec(spec_path)
    target = get_chip(chip or spec.chip)
    rows = resource_summary(spec, target)
    violations, warns = check(spec, target), advisories(spec, target)
    if as_json:
        click.echo(report_json(spec_path, spec, target, rows, violations, warns))
    else:
        console = Console(highlight=False, soft_wrap=True)
        console.print(resource_table(rows, _title(spec_path, spec, target)))
        if violations:
            console.print(Text(f"{len(violations)} design-rule violation(s) on {target.name}:", style="bold red"))
            for v in violations:
                console.print(Text(f"  {v}"))
        else:
            console.print(Text(f"no design-rule violations: the spec fits {target.name}", style="green"))
        for v in warns:
            console.print(Text(f"design-rule WARNING: {v}", style="bold yellow"))
    ctx.exit(1 if violations else 0)
