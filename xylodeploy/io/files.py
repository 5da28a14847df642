"""File helpers shared by every writer: atomic writes and boundary checks."""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from xylodeploy.errors import ConfigError


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "wb") -> Iterator[IO]:
    """Open a temp file beside ``path``; on success it replaces ``path`` in one step.

    On any exception the temp file is removed and ``path`` is left untouched.
    """
    target = Path(path)
    if target.is_dir():
        raise ConfigError(f"{target}: is a directory, expected a file path to write")
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, mode) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp creates 0600; give the file the usual permissions
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def existing_file(path: str | os.PathLike, what: str = "file") -> Path:
    """Return ``path`` as a Path, or raise ConfigError if it is not a readable non-empty file."""
    p = Path(path)
    if "\0" in str(p):
        raise ConfigError(f"{str(p)!r}: a path cannot contain a NUL byte")
    if not p.exists():
        raise ConfigError(f"{p}: {what} not found")
    if not p.is_file():
        raise ConfigError(f"{p}: expected a {what}, found a directory or special file")
    if p.stat().st_size == 0:
        raise ConfigError(f"{p}: {what} is empty")
    return p


def sha256_file(path: str | os.PathLike) -> str:
    """SHA-256 of a file's content (hex), read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@contextlib.contextmanager
def keep_earlier(folder: str | os.PathLike, names: tuple[str, ...]) -> Iterator[Path]:
    """Run a job that writes ``names`` (files or sub-folders) into ``folder`` without losing an earlier result.

    Existing entries of ``names`` are moved aside into ``folder/.previous-<pid>`` first. If the job raises,
    whatever it wrote under those names is removed and the earlier entries are moved back; on success the
    set-aside copy is deleted. A process killed midway leaves the earlier result in ``.previous-<pid>``;
    the next call puts it back first (the killed run's partial files are dropped).
    """
    import shutil

    root = Path(folder)
    _restore_killed_runs(root, names)
    backup = root / f".previous-{os.getpid()}"
    moved = [n for n in names if (root / n).exists() or (root / n).is_symlink()]
    if moved:
        backup.mkdir(parents=True, exist_ok=True)
        for n in moved:
            os.replace(root / n, backup / n)
    try:
        yield root
    except BaseException:
        for n in names:
            target = root / n
            if target.is_dir() and not target.is_symlink():
                shutil.rmtree(target, ignore_errors=True)
            elif target.exists() or target.is_symlink():
                with contextlib.suppress(OSError):
                    target.unlink()
        for n in moved:
            os.replace(backup / n, root / n)
        with contextlib.suppress(OSError):
            backup.rmdir()
        raise
    if moved:
        shutil.rmtree(backup, ignore_errors=True)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def _restore_killed_runs(root: Path, names: tuple[str, ...]) -> None:
    """Move back the earlier result that a killed `keep_earlier` job left in ``root/.previous-<pid>``."""
    import shutil

    for backup in sorted(root.glob(".previous-*")) if root.is_dir() else []:
        pid = backup.name.removeprefix(".previous-")
        if not pid.isdigit() or _pid_alive(int(pid)) or not backup.is_dir():
            continue
        for entry in backup.iterdir():
            if entry.name not in names:
                continue
            target = root / entry.name
            if target.is_dir() and not target.is_symlink():
                shutil.rmtree(target)
            elif target.exists() or target.is_symlink():
                target.unlink()
            os.replace(entry, target)
        shutil.rmtree(backup, ignore_errors=True)


def writable_dir(folder: Path, option: str = "-o") -> None:
    """Create ``folder`` if needed and prove it writable with a temp file (one-line error naming it)."""
    for parent in (folder, *folder.parents):
        if parent.exists():
            if not parent.is_dir():
                raise ConfigError(f"{option} {folder}: {parent} is a file, not a folder")
            break
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".xylodeploy-probe.", dir=folder)
        try:
            os.write(fd, b"\0" * 4096)
            os.fsync(fd)
        finally:
            os.close(fd)
            with contextlib.suppress(OSError):
                os.unlink(tmp)
    except OSError as exc:
        raise ConfigError(f"{option} {folder}: cannot write there ({exc.strerror or exc})") from None
