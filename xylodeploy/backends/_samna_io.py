"""Event-level I/O with a Xylo HDK through samna: buffers, accelerated-time clips, real-time streams.

Protocol per chip (docs/chip-facts.md, board interface): the first input step is the time of the
``Readout`` answering a ``TriggerReadout`` (+1 on Xylo IMU); each input event is a ``Spike`` with
that step; processing up to the last step is triggered by ``TriggerProcessing(target_timestep=
final+1)`` (IMU, A3) or by a dummy spike at ``final+1`` whose input registers are then cleared (A2).
Outputs come as one ``Readout`` per step (IMU, A3) or from the A2 ``NeuronStateSinkNode``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from xylodeploy.backends._samna_config import Dialect
from xylodeploy.backends.base import Recording
from xylodeploy.chips import ChipSpec
from xylodeploy.errors import DeviceError


@dataclass
class Buffers:
    """The event nodes of one open board (kept alive with their graphs, pitfall 8.24)."""

    read: Any
    write: Any
    state: Any | None  # A2 only
    graphs: list


def open_buffers(samna: Any, hdk: Any, chip: ChipSpec, d: Dialect) -> Buffers:
    """Connect read/write (and A2 state) buffers to the board's model."""
    if d.state_from_sink:
        model = hdk.get_xylo_model()
        read = samna.BasicSinkNode_xylo_core2_event_output_event()
        write = samna.BasicSourceNode_xylo_core2_event_input_event()
        state = getattr(samna, chip.samna_namespace).NeuronStateSinkNode()
        graphs = []
        for nodes in (
            [model.get_source_node(), read],
            [write, model.get_sink_node()],
            [model.get_source_node(), state],
        ):
            g = samna.graph.EventFilterGraph()
            g.sequential(nodes)
            if hasattr(g, "start"):
                g.start()
            graphs.append(g)
        return Buffers(read, write, state, graphs)
    read = samna.graph.sink_from(hdk.get_model_source_node())
    write = samna.graph.source_to(hdk.get_model_sink_node())
    return Buffers(read, write, None, [])


def read_timeout(n_steps: int, n_hidden: int, record: bool, base_s: float, per_neuron_step_s: float) -> float:
    """Seconds to wait for a clip: a floor plus a term linear in the work (x10 when recording)."""
    return base_s + n_steps * max(n_hidden, 1) * per_neuron_step_s * (10.0 if record else 1.0)


def _tstep(ev: Any, d: Dialect) -> int:
    return int(getattr(ev, d.time_attr))


def _is_readout(ev: Any) -> bool:
    return type(ev).__name__ == "Readout"


def drain(buf: Any, d: Dialect, stash: dict[int, Any]) -> None:
    """Move every pending ``Readout`` of ``buf`` into ``stash`` (by time step)."""
    for ev in buf.get_events():
        if _is_readout(ev):
            stash[_tstep(ev, d)] = ev


def wait_readouts(
    buf: Any,
    d: Dialect,
    first: int,
    last: int,
    timeout_s: float,
    poll_s: float,
    what: str,
    stash: dict[int, Any] | None = None,
) -> dict[int, Any]:
    """Collect ``Readout`` events for steps ``first..last`` from ``buf`` or raise DeviceError.

    Returns when the event for ``last`` has arrived; missing earlier steps mean dropped events.
    Readouts of other steps are kept in ``stash`` (if given) for later calls.
    """
    stash = {} if stash is None else stash
    deadline = time.monotonic() + timeout_s
    while True:
        drain(buf, d, stash)
        if last in stash:
            break
        if time.monotonic() > deadline:
            n = sum(first <= s <= last for s in stash)
            raise DeviceError(
                f"{what}: timed out after {timeout_s:.1f} s waiting for time step {last} "
                f"(received {n} of {last - first + 1} readouts)"
            )
        time.sleep(poll_s)
    missing = [s for s in range(first, last + 1) if s not in stash]
    if missing:
        raise DeviceError(
            f"{what}: board dropped {len(missing)} of {last - first + 1} readout events "
            f"(first missing step {missing[0]})"
        )
    return {s: stash.pop(s) for s in range(first, last + 1)}


def current_step(ns: Any, bufs: Buffers, d: Dialect, timeout_s: float, poll_s: float, what: str) -> int:
    """The first step that new input may use (after ``TriggerReadout``; §8.23 offsets per chip)."""
    bufs.read.get_events()
    bufs.write.write([ns.event.TriggerReadout()])
    deadline = time.monotonic() + timeout_s
    while time.monotonic() <= deadline:
        for ev in bufs.read.get_events():
            if _is_readout(ev):
                return max(_tstep(ev, d) + d.start_offset, 0)
        time.sleep(poll_s)
    raise DeviceError(f"{what}: no answer to TriggerReadout within {timeout_s:.1f} s")


def input_events(ns: Any, d: Dialect, clip: np.ndarray, start: int, max_events: int) -> list:
    """One ``Spike`` per input event of a (T, Nin) clip, at steps ``start + t`` (counts clamped)."""
    counts = np.minimum(clip, max_events)
    spike = ns.event.Spike
    events = []
    for t, ch in zip(*np.nonzero(counts), strict=True):
        for _ in range(int(counts[t, ch])):
            ev = spike()
            ev.neuron_id = int(ch)
            setattr(ev, d.time_attr, int(start + t))
            events.append(ev)
    return events


def end_of_clip_events(ns: Any, d: Dialect, final: int) -> list:
    """Events that make the board process every step up to ``final``."""
    if not d.input_registers:
        trigger = ns.event.TriggerProcessing()
        trigger.target_timestep = final + 1
        return [trigger]
    dummy = ns.event.Spike()
    dummy.neuron_id = 0
    setattr(dummy, d.time_attr, final + 1)
    clears = []
    for address in d.input_registers:
        w = ns.event.WriteRegisterValue()
        w.address, w.data = address, 0
        clears.append(w)
    return [dummy, *clears]


def _rows(values: list, n_steps: int, width: int, what: str) -> np.ndarray:
    arr = np.asarray(values, dtype=np.int64)
    if arr.shape != (n_steps, width):
        raise DeviceError(f"board returned {what} of shape {arr.shape}, expected ({n_steps}, {width})")
    return arr


def decode_readouts(got: dict[int, Any], first: int, n_h: int, n_out: int, two: bool, record: bool) -> Recording:
    """A one-clip `Recording` from per-step ``Readout`` events (IMU, A3)."""
    evs = [got[s] for s in sorted(got) if s >= first]
    n_t = len(evs)

    def col(attr: str, lo: int, hi: int) -> np.ndarray:
        return _rows([list(getattr(e, attr))[lo:hi] for e in evs], n_t, hi - lo, attr)[None]

    out = col("output_spikes", 0, n_out).astype(np.int8)
    if not record:
        return Recording(spikes_out=out)
    return Recording(
        spikes_out=out,
        spikes=col("hidden_spikes", 0, n_h).astype(np.int8),
        isyn=col("neuron_i_syns", 0, n_h).astype(np.int16),
        isyn2=col("neuron_i_syn2s", 0, n_h).astype(np.int16) if two else None,
        vmem=col("neuron_v_mems", 0, n_h).astype(np.int16),
        isyn_out=col("neuron_i_syns", n_h, n_h + n_out).astype(np.int16),
        vmem_out=col("output_v_mems", 0, n_out).astype(np.int16),
    )


def decode_state_sink(sink: Any, n_t: int, n_h: int, n_out: int, two: bool, record: bool) -> Recording:
    """A one-clip `Recording` from the A2 ``NeuronStateSinkNode`` (readout states are its last columns)."""
    out = _rows(sink.get_output_spike(), n_t, n_out, "output spikes").astype(np.int8)[None]
    if not record:
        return Recording(spikes_out=out)
    vm = _rows(sink.get_reservoir_v_mem(), n_t, n_h + n_out, "Vmem")
    isyn = _rows(sink.get_reservoir_i_syn(), n_t, n_h + n_out, "Isyn")
    return Recording(
        spikes_out=out,
        spikes=_rows(sink.get_reservoir_spike(), n_t, n_h, "hidden spikes").astype(np.int8)[None],
        isyn=isyn[None, :, :n_h].astype(np.int16),
        isyn2=_rows(sink.get_reservoir_i_syn2(), n_t, n_h, "Isyn2").astype(np.int16)[None] if two else None,
        vmem=vm[None, :, :n_h].astype(np.int16),
        isyn_out=isyn[None, :, n_h:].astype(np.int16),
        vmem_out=vm[None, :, n_h:].astype(np.int16),
    )


def monitor_settings(config: Any, cfgmod: Any, d: Dialect, n_h: int, n_out: int, two: bool, record: bool) -> None:
    """Set the debug monitors: every hidden and readout state when recording, none otherwise."""

    def ids(stop: int) -> Any:
        if not record:
            return cfgmod.NeuronRange(0, 0) if d.monitor_ranges else []
        return cfgmod.NeuronRange(0, stop) if d.monitor_ranges else list(range(stop))

    dbg = config.debug
    dbg.monitor_neuron_spike = ids(n_h)
    dbg.monitor_neuron_v_mem = ids(n_h + n_out)
    dbg.monitor_neuron_i_syn = ids(n_h + n_out)
    if two:
        dbg.monitor_neuron_i_syn2 = ids(n_h)
    if hasattr(dbg, "ram_access_enable"):
        dbg.ram_access_enable = record
