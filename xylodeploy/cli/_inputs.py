"""The CLI's input and output boundary: checked specs, output paths that cannot clobber an input.

* `load_checked_spec`: `load_spec` plus the full design-rule check of the spec's chip (unless the
  user passes ``--no-check``), so no command simulates, exports or deploys a spec the chip cannot run.
* `check_output`: an output path is refused when it is one of the command's inputs, sits under a
  file, or its folder cannot be written (probed by creating and removing a temp file), before any
  work starts. Writers then replace the file atomically (`xylodeploy.io.files.atomic_write`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import click

from xylodeploy.errors import ConfigError
from xylodeploy.io.files import writable_dir  # noqa: F401 - the CLI commands import it from here


class FiniteFloat(click.FloatRange):
    """A click float range that also refuses NaN (``nan`` passes every comparison of click.FloatRange)."""

    name = "finite float"

    def convert(self, value: Any, param: Any, ctx: Any) -> Any:
        out = super().convert(value, param, ctx)
        if out != out:  # NaN
            self.fail(f"{value!r} is not a number", param, ctx)
        return out


no_check_option = click.option(
    "--no-check", is_flag=True, help="Skip the design-rule check of the spec on load (not for a board)."
)


def load_checked_spec(path: str | os.PathLike, no_check: bool = False) -> Any:
    """Read a `.xylo` spec; unless ``no_check``, raise `DesignRuleError` if it breaks its chip's rules."""
    from xylodeploy.drc import check
    from xylodeploy.errors import DesignRuleError
    from xylodeploy.ir import load_spec

    spec = load_spec(path)
    if not no_check:
        violations = check(spec)
        if violations:
            raise ConfigError(f"{path}: {DesignRuleError(violations)} (--no-check skips this check)")
    return spec


def _same(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve() or (a.exists() and b.exists() and os.path.samefile(a, b))
    except OSError:
        return False


def check_output(output: str | os.PathLike, inputs: Iterable[str | os.PathLike | None] = (), *,
                 option: str = "-o", folder: bool = False) -> Path:  # fmt: skip
    """Refuse ``output`` if it is an input, lies under a file, or cannot be written; return it as a Path.

    ``folder``: ``output`` is a folder to create (else a file whose parent folder is checked).
    """
    out = Path(output)
    if "\0" in str(out) or not str(output):
        raise ConfigError(f"{option} {str(output)!r}: not a usable path")
    for src in inputs:
        if src is not None and _same(out, Path(src)):
            raise ConfigError(f"{option} {out}: is also an input of this command; choose another output path")
    if not folder and out.is_dir():
        raise ConfigError(f"{option} {out}: is a directory, expected a file path")
    if folder and out.exists() and not out.is_dir():
        raise ConfigError(f"{option} {out}: exists and is not a folder")
    writable_dir(out if folder else out.parent, option)
    return out
