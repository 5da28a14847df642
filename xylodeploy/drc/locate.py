"""Human names for positions in the arrays of a `XyloSpec`."""

from __future__ import annotations


def hidden(h: int) -> str:
    return f"hidden neuron {h}"


def readout(o: int) -> str:
    return f"readout neuron {o}"


def _syn(s: int, n_syn: int) -> str:
    return f" (synapse {s + 1})" if n_syn > 1 else ""


def input_weight(c: int, h: int, s: int, n_syn: int) -> str:
    return f"input channel {c} -> hidden {h}{_syn(s, n_syn)}"


def rec_weight(src: int, tgt: int, s: int, n_syn: int) -> str:
    return f"hidden {src} -> hidden {tgt}{_syn(s, n_syn)}"


def out_weight(h: int, o: int) -> str:
    return f"hidden {h} -> readout {o}"


def locate(field: str, index: tuple[int, ...], n_syn: int) -> str:
    """Name the element ``index`` of array field ``field``."""
    idx = tuple(int(i) for i in index)
    if field == "weights_in":
        return input_weight(*idx, n_syn)
    if field == "weights_rec":
        return rec_weight(*idx, n_syn)
    if field == "weights_out":
        return out_weight(*idx)
    if field.endswith("_out"):
        return readout(idx[0])
    return hidden(idx[0])
