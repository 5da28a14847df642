"""Rewrite imports and paths from the old module layout to the new one (docs/architecture.md, issue 10 item 5).

For branches written against the old paths: ``python scripts/rewrite_layout_imports.py [--move] [FILE ...]``
rewrites the given files (default: every tracked ``.py/.md/.toml/.yaml`` file) in place and prints the ones it
changed; ``--move`` first moves (``git mv``) every old module that still exists to its new place (run from the
repository root). Idempotent: a second run changes nothing.
It rewrites dotted module names, ``from PKG import MODULE`` lines and ``xylodeploy/...py`` paths; run
``ruff check --fix`` afterwards to re-sort the imports.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

# old module -> new module (the longer names first where one is a prefix of another)
MOVES: dict[str, str] = {
    "xylodeploy.flow.compile": "xylodeploy.flow.compile",
    "xylodeploy.flow.validate": "xylodeploy.flow.validate",
    "xylodeploy.flow.pipeline_report": "xylodeploy.flow.pipeline_report",
    "xylodeploy.flow.pipeline": "xylodeploy.flow.pipeline",
    "xylodeploy.flow.report": "xylodeploy.flow.report",
    "xylodeploy.io.files": "xylodeploy.io.files",
    "xylodeploy.io.rasters": "xylodeploy.io.rasters",
    "xylodeploy.io.counts": "xylodeploy.io.counts",
    "xylodeploy.data.synthetic": "xylodeploy.data.synthetic",
    "xylodeploy.data.files": "xylodeploy.data.files",
    "xylodeploy.data.audio": "xylodeploy.data.audio",
    "xylodeploy.data.dataset": "xylodeploy.data.dataset",
    "xylodeploy.data.frontend": "xylodeploy.data.frontend",
    "xylodeploy.backends.samna.config": "xylodeploy.backends.samna.config",
    "xylodeploy.backends.samna.board_io": "xylodeploy.backends.samna.board_io",
    "xylodeploy.backends.samna.chip": "xylodeploy.backends.samna.chip",
    "xylodeploy.backends.samna.realtime": "xylodeploy.backends.samna.realtime",
    "xylodeploy.backends.samna.detect": "xylodeploy.backends.samna.detect",
    "xylodeploy.backends.samna.backend": "xylodeploy.backends.samna.backend",
    # modules that branches added at the old places after the layout branch started (moved with --move)
    "xylodeploy.io.npzfile": "xylodeploy.io.npzfile",
    "xylodeploy.io.yamlfile": "xylodeploy.io.yamlfile",
    "xylodeploy.flow.preflight": "xylodeploy.flow.preflight",
    "xylodeploy.flow.html_report": "xylodeploy.flow.html_report",
    "xylodeploy.flow.metrics": "xylodeploy.flow.metrics",
    "xylodeploy.data.dense": "xylodeploy.data.dense",
    "xylodeploy.data.imu": "xylodeploy.data.imu",
    "xylodeploy.data.audio3": "xylodeploy.data.audio3",
}
# names that moved between modules or were renamed: (module, old name) -> (module, new name)
NAMES: dict[tuple[str, str], tuple[str, str]] = {
    ("xylodeploy.interop.rockpool", "rockpool_to_graph"): ("xylodeploy.interop.rockpool", "from_rockpool"),
    **{("xylodeploy.interop.rockpool", n): ("xylodeploy.baselines.rockpool_quantizers", n)
       for n in ("ROCKPOOL_QUANTIZERS", "rockpool_float_spec", "rockpool_quantize", "rockpool_deployed_spec")},
    **{("xylodeploy.backends.samna.backend", n): ("xylodeploy.backends.samna.boards", n)
       for n in ("board_report", "BoardReport", "NO_BOARD_HINT")},
}  # fmt: skip
SUFFIXES = (".py", ".md", ".toml", ".yaml", ".yml", ".cfg", ".txt")


_SUB = r"(?:backend|config|board_io|chip|realtime|detect|boards)\b"
_NOT_NEW = rf"(?!\.{_SUB})(?! import {_SUB})"  # already the samna subpackage


def _patterns() -> list[tuple[str, str]]:
    subs = []
    for old, new in MOVES.items():
        pkg, mod = old.rsplit(".", 1)
        npkg, nmod = new.rsplit(".", 1)
        subs.append((rf"(?<![\w.]){re.escape(old)}(?![\w]){_NOT_NEW}", new))
        subs.append((rf"(?<![\w.]){re.escape(old.replace('.', '/'))}\.py", new.replace(".", "/") + ".py"))
        subs.append((rf"from {re.escape(pkg)} import {re.escape(mod)}(?= as )", f"from {npkg} import {nmod}"))
        alias = "" if mod == nmod else f" as {mod}"
        subs.append((rf"from {re.escape(pkg)} import {re.escape(mod)}(?![\w])", f"from {npkg} import {nmod}{alias}"))
    return subs


def rewrite(text: str) -> str:
    """``text`` with every old module path replaced (one pass, so a new path is never rewritten again)."""
    subs = _patterns()
    alt = re.compile("|".join(f"(?P<g{i}>{p})" for i, (p, _) in enumerate(subs)))
    text = alt.sub(lambda m: subs[int(m.lastgroup[1:])][1], text)
    for (mod, name), (new_mod, new_name) in NAMES.items():
        line = re.compile(rf"^(\s*)from {re.escape(mod)} import {re.escape(name)}$", re.M)
        text = line.sub(rf"\1from {new_mod} import {new_name}", text)
        if name != new_name and f"from {new_mod} import {new_name}" in text:
            text = re.sub(rf"\b{re.escape(name)}\b", new_name, text)
    return text


def _move() -> None:
    for old, new in MOVES.items():
        src, dst = Path(old.replace(".", "/") + ".py"), Path(new.replace(".", "/") + ".py")
        if src.is_file() and not dst.exists():
            dst.parent.mkdir(parents=True, exist_ok=True)
            init = dst.parent / "__init__.py"
            if not init.exists():
                init.write_text(f'"""{dst.parent.name}."""\n')
                subprocess.run(["git", "add", str(init)], check=True)
            subprocess.run(["git", "mv", str(src), str(dst)], check=True)
            print(f"moved {src} -> {dst}")


def main(argv: list[str]) -> int:
    if "--move" in argv:
        argv = [a for a in argv if a != "--move"]
        _move()
    files = argv or subprocess.run(["git", "ls-files"], capture_output=True, text=True, check=True).stdout.split()
    for f in files:
        p = Path(f)
        if p.suffix not in SUFFIXES or not p.is_file():
            continue
        old = p.read_text()
        new = rewrite(old)
        if new != old:
            p.write_text(new)
            print(f)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
