"""The `xylodeploy` command line: a thin click layer over the library.

Each command lives in its own module (``xylodeploy/cli/<name>_cmd.py`` exposing a click command
called ``command``) and is imported only when it is run, so ``xylodeploy --help`` stays fast and
never imports torch. Library errors (`XylodeployError`), OS errors (full disk, read-only folder: the message names the
path), memory exhaustion and, as a last line of defence, any unexpected exception become one line
``error: ...`` and exit code 2 (``XYLODEPLOY_DEBUG=1`` re-raises the unexpected ones).
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys

import click

from xylodeploy import __version__
from xylodeploy.errors import XylodeployError

# command name -> module under xylodeploy.cli (module defines `command`)
COMMANDS: dict[str, str] = {
    "pipeline": "pipeline_cmd",
    "train": "train_cmd",
    "quantize": "quantize_cmd",
    "validate": "validate_cmd",
    "simulate": "simulate_cmd",
    "deploy": "deploy_cmd",
    "power": "power_cmd",
    "inspect": "inspect_cmd",
    "doctor": "doctor_cmd",
    "import": "import_cmd",
    "export": "export_cmd",
    "sweep": "sweep_cmd",
}


def _module_exists(module: str) -> bool:
    return importlib.util.find_spec(f"xylodeploy.cli.{module}") is not None


class LazyGroup(click.Group):
    """A click group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [name for name, mod in COMMANDS.items() if _module_exists(mod)]

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        module = COMMANDS.get(name)
        if module is None or not _module_exists(module):
            return None
        return importlib.import_module(f"xylodeploy.cli.{module}").command

    def invoke(self, ctx: click.Context) -> object:
        import warnings

        warnings.showwarning = _one_line_warning  # library warnings: one "warning: ..." line, no source dump
        try:
            return super().invoke(ctx)
        except XylodeployError as exc:
            _fail(ctx, str(exc))
        except OSError as exc:  # full disk, read-only folder, path under a file, ...
            where = exc.filename or ""
            _fail(ctx, f"{where}: {exc.strerror or exc}" if where else f"{exc.strerror or exc}")
        except MemoryError:
            _fail(ctx, "out of memory (the input or the model is too large for this machine)")
        except RecursionError:
            _fail(ctx, "input nests too deeply (recursion limit reached)")
        except (click.exceptions.Exit, click.ClickException, KeyboardInterrupt, SystemExit):
            raise
        except Exception as exc:  # noqa: BLE001 - the last line of defence: one line, never a traceback
            if os.environ.get("XYLODEPLOY_DEBUG"):
                raise
            name = type(exc).__name__
            _fail(ctx, f"internal error: {name}: {_first_line(exc)} (XYLODEPLOY_DEBUG=1 shows the traceback)")


def _one_line_warning(message: Warning | str, category: type, *args: object, **kwargs: object) -> None:
    click.echo(f"warning: {' '.join(str(message).split())[:300]}", err=True)


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [""])[0][:300]


def _fail(ctx: click.Context, message: str) -> None:
    """Print ``error: message`` as one line and exit with code 2."""
    click.echo("error: " + " ".join(message.split()), err=True)
    ctx.exit(2)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="xylodeploy")
def main() -> None:
    """Train, quantize and deploy spiking neural networks on SynSense Xylo chips."""


def run() -> None:  # pragma: no cover - console entry point
    main(prog_name="xylodeploy")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
