"""``xylodeploy doctor``: what is installed (never importing optional packages) and which boards are attached."""

from __future__ import annotations

import importlib.metadata
import json
import platform
from dataclasses import asdict, dataclass

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from xylodeploy import __version__
from xylodeploy.backends.samna.detect import INSTALL_HINT, SamnaStatus, samna_status

# (distribution name, pip extra or "" if required, what it is for)
PACKAGES: tuple[tuple[str, str, str], ...] = (
    ("numpy", "", "arrays"),
    ("numba", "", "fast reference simulator"),
    ("torch", "", "training"),
    ("xylosim", "xylosim", "SynSense simulator (cross-check)"),
    ("rockpool", "rockpool", "rockpool interop"),
    ("nir", "nir", "NIR import/export"),
    ("snntorch", "snntorch", "snnTorch models"),
    ("spikingjelly", "spikingjelly", "spikingjelly models"),
    ("onnx", "onnx", "ONNX export"),
)


@dataclass(frozen=True)
class PackageRow:
    """One line of the package table."""

    package: str
    version: str | None
    status: str  # "ok", "MISSING", "not installed" (optional), or samna's "real" / "stub" / "missing"
    note: str
    required: bool = False


@dataclass(frozen=True)
class BoardRow:
    """One attached board (filled by board discovery)."""

    board: str
    chip: str
    detail: str


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def package_rows(samna: SamnaStatus) -> list[PackageRow]:
    """Versions of python, xylodeploy, the required and the optional packages (metadata only)."""
    rows = [
        PackageRow("python", platform.python_version(), "ok", platform.python_implementation(), True),
        PackageRow("xylodeploy", __version__, "ok", "", True),
    ]
    for dist, extra, purpose in PACKAGES:
        version = _version(dist)
        required = not extra
        if version is not None:
            rows.append(PackageRow(dist, version, "ok", purpose, required))
        elif extra:
            rows.append(PackageRow(dist, None, "not installed", f"optional: pip install 'xylodeploy[{extra}]'"))
        else:
            rows.append(PackageRow(dist, None, "MISSING", f"required ({purpose}): pip install {dist}", True))
    rows.append(PackageRow("samna", samna.version, samna.state, samna.detail))
    return rows


def discover_boards(samna: SamnaStatus) -> tuple[list[BoardRow], str]:
    """Attached Xylo boards (serial, chip, firmware check) and a one-line note; needs the real samna."""
    if samna.state != "real":
        return [], f"board discovery needs the real samna (samna is {samna.state})"
    from xylodeploy.backends.samna.boards import board_report

    report = board_report()
    return [BoardRow(**row) for row in report.rows], report.note


def _package_table(rows: list[PackageRow]) -> Table:
    table = Table(title="packages", title_justify="left")
    for name in ("package", "version", "status", "note"):
        table.add_column(name)
    styles = {"ok": "green", "real": "green", "MISSING": "bold red", "stub": "yellow"}
    for r in rows:
        cells = (r.package, r.version or "-", r.status, r.note)
        table.add_row(*(Text(c) for c in cells), style=styles.get(r.status))
    return table


def render_boards(console: Console, boards: list[BoardRow], note: str) -> None:
    """Print the boards section."""
    if boards:
        table = Table(title="boards", title_justify="left")
        for name in ("board", "chip", "detail"):
            table.add_column(name)
        for b in boards:
            table.add_row(Text(b.board), Text(b.chip), Text(b.detail))
        console.print(table)
    console.print(f"boards: {len(boards)} found; {note}", markup=False)


@click.command("doctor")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON report instead of tables.")
@click.pass_context
def command(ctx: click.Context, as_json: bool) -> None:
    """Report installed package versions, the kind of samna installed (real / stub / missing) and attached boards.

    Nothing optional is imported; exit code 1 if a required package is missing.
    """
    samna = samna_status()
    rows = package_rows(samna)
    boards, note = discover_boards(samna)
    if as_json:
        doc = {"packages": [asdict(r) for r in rows], "boards": [asdict(b) for b in boards], "boards_note": note}
        click.echo(json.dumps(doc, indent=2))
    else:
        console = Console(highlight=False, soft_wrap=True)
        console.print(_package_table(rows))
        if samna.state != "real":
            console.print(f"samna: {INSTALL_HINT}", markup=False)
        render_boards(console, boards, note)
    ctx.exit(1 if any(r.status == "MISSING" for r in rows) else 0)
