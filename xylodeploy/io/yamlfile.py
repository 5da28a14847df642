"""The one reader of YAML files (run and pipeline configs): safe types only, bounded work.

``yaml.SafeLoader`` builds plain types only (no ``!!python`` tags). Before anything is built the
text and its node graph are bounded, so hostile files fail in milliseconds with one line:

* size at most `MAX_BYTES` (256 KiB; configs are a few hundred bytes);
* nesting at most `MAX_DEPTH` levels and at most `MAX_NODES` parser events, checked while the
  events stream (a long list is refused at its 20 001st item, before anything is composed);
* at most `MAX_NODES` nodes *after alias expansion* (an alias bomb, e.g. 9 aliases of 9 aliases
  nine levels deep = 9^9 leaves, is refused from its node graph without expanding it).
"""

from __future__ import annotations

import os
from typing import Any

import yaml

from xylodeploy.errors import ConfigError
from xylodeploy.io.files import existing_file

MAX_BYTES = 256 << 10
MAX_DEPTH = 32
MAX_NODES = 20_000
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present: same results, faster


def _scan_events(text: str, where: str) -> None:
    """Stream the parser's events and stop at `MAX_NODES` events or `MAX_DEPTH` levels (nothing is built)."""
    loader = _LOADER(text)
    depth = count = 0
    try:
        while loader.check_event():
            event = loader.get_event()
            count += 1
            if isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
                depth += 1
                if depth > MAX_DEPTH:
                    raise ConfigError(f"{where}: YAML nests deeper than {MAX_DEPTH} levels")
            elif isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
                depth -= 1
            if count > MAX_NODES:
                raise ConfigError(f"{where}: YAML holds more than {MAX_NODES:,} values")
    finally:
        loader.dispose()


def _expanded_size(node: yaml.Node, depth: int, memo: dict[int, int], where: str) -> int:
    """Number of nodes ``node`` stands for once every alias is expanded (memoised per node object)."""
    if depth > MAX_DEPTH:
        raise ConfigError(f"{where}: YAML nests deeper than {MAX_DEPTH} levels")
    key = id(node)
    if key in memo:
        return memo[key]
    if isinstance(node, yaml.SequenceNode):
        children = node.value
    elif isinstance(node, yaml.MappingNode):
        children = [n for pair in node.value for n in pair]
    else:
        children = []
    total = 1
    for child in children:
        total += _expanded_size(child, depth + 1, memo, where)
        if total > MAX_NODES:
            raise ConfigError(f"{where}: YAML expands to more than {MAX_NODES:,} values (an alias bomb?)")
    memo[key] = total
    return total


def load_yaml(path: str | os.PathLike, what: str = "YAML file") -> Any:
    """Parse a YAML file with the limits of the module docstring; one-line `ConfigError` on any problem."""
    p = existing_file(path, what)
    size = p.stat().st_size
    if size > MAX_BYTES:
        raise ConfigError(f"{p}: {what} is {size:,} bytes, more than the {MAX_BYTES:,}-byte limit")
    try:
        text = p.read_bytes().decode("utf-8")
        _scan_events(text, str(p))
        loader = _LOADER(text)
        try:
            node = loader.get_single_node()
            if node is None:
                return None
            _expanded_size(node, 0, {}, str(p))
            return loader.construct_document(node)
        finally:
            loader.dispose()
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{p}: {what} is not UTF-8 text (byte {exc.start})") from None
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" at line {where.line + 1}" if where is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{p}: invalid YAML{line} ({problem})") from None
    except RecursionError:
        raise ConfigError(f"{p}: YAML nests too deeply") from None
