"""Nested NIR graphs inlined into one flat graph, so that `from_nir` sees neurons and weights only.

NIR lets a node be a whole ``NIRGraph`` (snnTorch's recurrent layers, for example, were written so). Each
subgraph ``s`` is inlined with its node names prefixed ``s.``; an edge to ``s`` goes to the subgraph's
``Input``, an edge from ``s`` leaves its ``Output`` (``s.<name>`` picks one of several), and the
subgraph's own ``Input``/``Output`` nodes, which only pass values through, are bypassed.
"""

from __future__ import annotations

from typing import Any

from xylodeploy.errors import ConfigError

MAX_DEPTH = 16


def _kind(node: Any) -> str:
    return type(node).__name__


def _endpoint(name: str, subs: dict[str, Any], kind: str) -> str:
    """The flat name an outer edge means by ``name`` (a subgraph -> its one Input / Output node)."""
    if name not in subs:
        return name
    ends = [k for k, v in subs[name].nodes.items() if _kind(v) == kind]
    if len(ends) != 1:
        raise ConfigError(f"NIR subgraph '{name}': {len(ends)} {kind} nodes; name one as '{name}.<node>' in the edge")
    return f"{name}.{ends[0]}"


def _bypass(nodes: dict[str, Any], edges: list[tuple[str, str]], through: set[str]) -> list[tuple[str, str]]:
    """Edges with every pass-through node in ``through`` removed (a -> p -> b becomes a -> b)."""
    for p in through:
        ins = [s for s, t in edges if t == p]
        outs = [t for s, t in edges if s == p]
        edges = [(s, t) for s, t in edges if p not in (s, t)] + [(a, b) for a in ins for b in outs]
        nodes.pop(p, None)
    return edges


def flattened(g: Any, depth: int = 0) -> Any:
    """``g`` itself when it has no subgraphs, else an equivalent flat ``NIRGraph`` (module docstring)."""
    subs = {k: v for k, v in g.nodes.items() if _kind(v) == "NIRGraph"}
    if not subs:
        return g
    if depth >= MAX_DEPTH:
        raise ConfigError(f"NIR graph: subgraphs nested more than {MAX_DEPTH} deep")
    import nir

    nodes: dict[str, Any] = {k: v for k, v in g.nodes.items() if k not in subs}
    edges: list[tuple[str, str]] = []
    through: set[str] = set()
    for name, sub in subs.items():
        flat = flattened(sub, depth + 1)
        nodes.update({f"{name}.{k}": v for k, v in flat.nodes.items()})
        edges += [(f"{name}.{s}", f"{name}.{t}") for s, t in flat.edges]
        through |= {f"{name}.{k}" for k, v in flat.nodes.items() if _kind(v) in ("Input", "Output")}
    edges += [(_endpoint(s, subs, "Output"), _endpoint(t, subs, "Input")) for s, t in g.edges]
    edges = _bypass(nodes, edges, through)
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=dict(g.metadata or {}), type_check=False)


__all__ = ["flattened"]
