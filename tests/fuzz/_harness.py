"""Run one hostile case in-process (click's CliRunner) and sort what went wrong into categories.

Categories: ``code_exec`` (the marker file appeared), ``hang`` (past the time limit),
``traceback`` (an exception escaped or a traceback was printed), ``wrong_success`` (exit 0 where
the input must be refused), ``clobbered`` (a file that existed before changed or vanished),
``bad_message`` (refused, but not with one ``error:`` line / click usage error, or exit code not 1/2),
``false_refusal`` (a control case on undamaged files did not succeed).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import signal
import stat
import tempfile
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from tests.fuzz._cases import Case
from tests.fuzz._fixtures import Files, copy_to

CATEGORIES = ("code_exec", "hang", "traceback", "wrong_success", "clobbered", "bad_message", "false_refusal")


class CaseTimeout(BaseException):
    """Raised by SIGALRM inside a case that runs too long (a hang)."""


@dataclass
class Outcome:
    case: str
    exit_code: int | None
    problems: list[str] = field(default_factory=list)
    output: str = ""


def snapshot(root: Path) -> dict[str, str]:
    """sha256 of every regular file under ``root`` (FIFOs and other special files are skipped)."""
    out = {}
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            p = Path(dirpath, name)
            with contextlib.suppress(OSError):
                if stat.S_ISREG(p.lstat().st_mode):
                    out[str(p.relative_to(root))] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def _alarm(signum: int, frame: object) -> None:
    raise CaseTimeout()


def _message_ok(code: int | None, stderr: str) -> bool:
    lines = [ln for ln in stderr.splitlines() if ln.strip() and not ln.startswith("warning:")]
    if code not in (1, 2):
        return False
    if any(ln.startswith("Error:") for ln in lines):  # click usage error (exit 2)
        return True
    errors = [ln for ln in lines if ln.startswith("error:")]
    return code == 1 or len(errors) == 1


def run_case(case: Case, good: Files, workdir: Path, timeout: int = 60) -> Outcome:
    """Copy the good files, damage them, run the command, classify."""
    from click.testing import CliRunner

    from xylodeploy.cli import main

    root = Path(tempfile.mkdtemp(prefix="case_", dir=workdir))
    f = copy_to(good, root)
    marker = root / "MARKER"
    if case.prep is not None:
        try:
            case.prep(f)
        except Exception as exc:  # noqa: BLE001 - a broken case, not a finding
            return Outcome(case.name, None, ["prep_error"], f"{type(exc).__name__}: {exc}")
    argv = case.argv(f)
    before = snapshot(root)
    old_cwd, old = os.getcwd(), signal.signal(signal.SIGALRM, _alarm)
    os.chdir(root)
    problems, out, code = [], "", None
    try:
        signal.alarm(timeout)
        res = CliRunner().invoke(main, argv, catch_exceptions=True)
        signal.alarm(0)
        code, out = res.exit_code, res.output + res.stderr
        if isinstance(res.exception, CaseTimeout):
            problems.append("hang")
        elif res.exception is not None and not isinstance(res.exception, SystemExit):
            problems.append("traceback")
            out += "".join(traceback.format_exception(res.exception))[-2000:]
        elif "Traceback (most recent call last)" in out or "error: internal error" in out:
            problems.append("traceback")  # an internal error is a traceback caught by the last line of defence
        if case.expect == "fail" and code == 0:
            problems.append("wrong_success")
        elif case.expect == "ok" and code != 0:
            problems.append("false_refusal")
        elif code != 0 and not problems and not _message_ok(code, res.stderr):
            problems.append("bad_message")
    except CaseTimeout:
        problems.append("hang")
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
        os.chdir(old_cwd)
    after = snapshot(root)
    changed = [k for k, h in before.items() if after.get(k) != h]
    if changed:
        problems.append("clobbered")
        out += f"\nchanged: {changed[:5]}"
    if marker.exists() or Path(old_cwd, "MARKER").exists():
        problems.append("code_exec")
    return Outcome(case.name, code, problems, out)
