"""Event-level I/O with a Xylo HDK through samna: buffers, registers, accelerated-time clips.

Protocol per chip (sources in docs/samna-driver.md): the first input step is the time of the
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

from xylodeploy.backends.base import Recording
from xylodeploy.backends.samna.config import Dialect, has_attr
from xylodeploy.chips import ChipSpec
from xylodeploy.errors import DeviceError


@dataclass
class Buffers:
    """The event nodes of one open board (kept alive with their graphs, pitfall 8.24)."""

    read: Any
    write: Any
    state: Any | None  # A2 only
    graphs: list


def model_of(hdk: Any, d: Dialect) -> Any:
    """The SNN-core model of an open HDK (``get_xylo_model`` on A2, ``get_model`` on IMU/A3)."""
    return getattr(hdk, d.model_accessor)()


def open_buffers(samna: Any, hdk: Any, chip: ChipSpec, d: Dialect) -> Buffers:
    """Connect read/write (and A2 state) buffers to the board's model."""
    if d.state_from_sink:
        model = model_of(hdk, d)
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
            graphs.append(g)
        return Buffers(read, write, state, graphs)
    read = samna.graph.sink_from(hdk.get_model_source_node())
    write = samna.graph.source_to(hdk.get_model_sink_node())
    return Buffers(read, write, None, [])


# SynSense's default read timeouts (docs/samna-driver.md, "Timeouts"): seconds per (time step x hidden
# neuron), x100 when states are recorded, never less than 1 s. On A2 the factor is dt/100, on IMU/A3 1/100.
RECORD_TIMEOUT_FACTOR = 100.0
MIN_CLIP_TIMEOUT_S = 1.0


def clip_timeout(d: Dialect, n_steps: int, n_hidden: int, dt: float, record: bool, per_step_s: float | None) -> float:
    """Seconds without new readouts before a clip is declared stuck.

    timeout = max(1 s, T * Nhidden * k * (100 if record else 1)), k = dt/100 (A2) or 1/100 (IMU, A3),
    or k = ``per_step_s`` when given.
    """
    k = per_step_s if per_step_s is not None else (dt if d.state_from_sink else 1.0) / 100.0
    work = n_steps * max(n_hidden, 1) * k * (RECORD_TIMEOUT_FACTOR if record else 1.0)
    return max(work, MIN_CLIP_TIMEOUT_S)


def _tstep(ev: Any, d: Dialect) -> int:
    return int(getattr(ev, d.time_attr))


def _is_readout(ev: Any) -> bool:
    return type(ev).__name__ == "Readout"


def drain(buf: Any, d: Dialect, stash: dict[int, Any]) -> int:
    """Move every pending ``Readout`` of ``buf`` into ``stash`` (by time step); returns how many.

    On A2 (states from the sink) any event carrying a ``timestamp`` marks progress, as in SynSense's reader.
    """
    n = 0
    for ev in buf.get_events():
        if _is_readout(ev) or (d.state_from_sink and getattr(ev, d.time_attr, None) is not None):
            stash[_tstep(ev, d)] = ev
            n += 1
    return n


def wait_readouts(
    buf: Any,
    d: Dialect,
    first: int,
    last: int,
    timeout_s: float,
    poll_s: float,
    what: str,
    stash: dict[int, Any] | None = None,
) -> tuple[dict[int, Any], list[int]]:
    """Collect ``Readout`` events for steps ``first..last``: (events by step, missing steps).

    Waits until a readout at or after ``last`` arrives; every batch of new readouts pushes the deadline
    ``timeout_s`` further (a slow board that makes progress is not stuck). Missing intermediate steps
    are returned, not raised: SynSense's readers leave such gaps as zeros.
    """
    stash = {} if stash is None else stash
    deadline = time.monotonic() + timeout_s
    while True:
        if drain(buf, d, stash):
            deadline = time.monotonic() + timeout_s
        if any(s >= last for s in stash):
            break
        if time.monotonic() > deadline:
            n = sum(first <= s <= last for s in stash)
            raise DeviceError(
                f"{what}: timed out: no readout for {timeout_s:.1f} s while waiting for time step {last} "
                f"(received {n} of {last - first + 1} readouts)"
            )
        time.sleep(poll_s)
    missing = [s for s in range(first, last + 1) if s not in stash]
    got = {s: stash.pop(s) for s in range(first, last + 1) if s in stash}
    return got, missing


def read_register(ns: Any, bufs: Buffers, address: int, timeout_s: float, poll_s: float) -> int:
    """Read one register: ``ReadRegisterValue`` out, the event with that ``address`` back (its ``data``).

    Other events that arrive meanwhile are dropped (callers drain the read buffer before clips anyway).
    """
    bufs.write.write([_event(ns.event.ReadRegisterValue, address=int(address))])
    deadline = time.monotonic() + timeout_s
    while time.monotonic() <= deadline:
        for ev in bufs.read.get_events():
            if type(ev).__name__ != "Readout" and getattr(ev, "address", None) == int(address):
                return int(ev.data)
        time.sleep(poll_s)
    raise DeviceError(f"no answer when reading register 0x{address:02x} within {timeout_s:.1f} s")


def write_register(ns: Any, bufs: Buffers, address: int, data: int) -> None:
    """Write one register with a ``WriteRegisterValue`` event."""
    bufs.write.write([_event(ns.event.WriteRegisterValue, address=int(address), data=int(data))])


def _event(cls: Any, **fields: Any) -> Any:
    ev = cls()
    for name, value in fields.items():
        setattr(ev, name, value)
    return ev


def current_step(ns: Any, bufs: Buffers, d: Dialect, poll_s: float, what: str) -> int:
    """The first step that new input may use: the answer to ``TriggerReadout`` (+1 on IMU), >= 0."""
    bufs.read.get_events()
    bufs.write.write([ns.event.TriggerReadout()])
    deadline = time.monotonic() + d.readout_wait_s
    while time.monotonic() <= deadline:
        for ev in bufs.read.get_events():
            if _is_readout(ev):
                return max(_tstep(ev, d) + d.start_offset, 0)
        time.sleep(poll_s)
    raise DeviceError(f"{what}: no answer to TriggerReadout within {d.readout_wait_s:.1f} s")


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
    if arr.size == 0 and width == 0:
        return np.zeros((n_steps, 0), np.int64)
    if arr.shape != (n_steps, width):
        raise DeviceError(f"board returned {what} of shape {arr.shape}, expected ({n_steps}, {width})")
    return arr


def decode_readouts(
    got: dict[int, Any], first: int, n_t: int, n_h: int, n_out: int, two: bool, record: bool
) -> Recording:
    """A one-clip `Recording` from per-step ``Readout`` events (IMU, A3); missing steps stay zero."""

    def col(attr: str, lo: int, hi: int) -> np.ndarray:
        rows = np.zeros((n_t, hi - lo), np.int64)
        for s, e in got.items():
            if 0 <= s - first < n_t:
                rows[s - first] = _rows([list(getattr(e, attr))[lo:hi]], 1, hi - lo, attr)[0]
        return rows[None]

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


def _sink_matrix(values: list, n_t: int, rows: int, what: str) -> np.ndarray:
    """A NeuronStateSinkNode getter (neurons x time steps) as time x neurons, short clips zero-padded."""
    arr = np.asarray(values, dtype=np.int64)
    if arr.size == 0:
        return np.zeros((n_t, rows), np.int64)
    if arr.ndim != 2 or arr.shape[0] != rows or arr.shape[1] > n_t:
        raise DeviceError(f"board returned {what} of shape {arr.shape}, expected ({rows}, {n_t}) neurons x steps")
    out = np.zeros((n_t, rows), np.int64)
    out[: arr.shape[1]] = arr.T
    return out


def sink_steps(sink: Any) -> int:
    """How many time steps the A2 state sink holds (columns of its output-spike matrix)."""
    rows = sink.get_output_spike()
    return len(rows[0]) if len(rows) else 0


def decode_state_sink(sink: Any, n_t: int, n_h: int, n_out: int, two: bool, record: bool) -> Recording:
    """A one-clip `Recording` from the A2 ``NeuronStateSinkNode``.

    Its getters return neurons x time steps (SynSense transposes them); the readout neurons' Vmem and
    Isyn are the last ``n_out`` rows of the reservoir matrices (monitored range 0..Nh+Nout).
    """
    out = _sink_matrix(sink.get_output_spike(), n_t, n_out, "output spikes").astype(np.int8)[None]
    if not record:
        return Recording(spikes_out=out)
    vm = _sink_matrix(sink.get_reservoir_v_mem(), n_t, n_h + n_out, "Vmem")
    isyn = _sink_matrix(sink.get_reservoir_i_syn(), n_t, n_h + n_out, "Isyn")
    isyn2 = _sink_matrix(sink.get_reservoir_i_syn2(), n_t, n_h, "Isyn2") if two else None
    return Recording(
        spikes_out=out,
        spikes=_sink_matrix(sink.get_reservoir_spike(), n_t, n_h, "hidden spikes").astype(np.int8)[None],
        isyn=isyn[None, :, :n_h].astype(np.int16),
        isyn2=None if isyn2 is None else isyn2[None].astype(np.int16),
        vmem=vm[None, :, :n_h].astype(np.int16),
        isyn_out=isyn[None, :, n_h:].astype(np.int16),
        vmem_out=vm[None, :, n_h:].astype(np.int16),
    )


def monitor_settings(config: Any, cfgmod: Any, d: Dialect, n_h: int, n_out: int, two: bool, record: bool) -> None:
    """Debug monitors: every hidden and readout state when recording, none otherwise.

    A2/IMU take ``NeuronRange(start, stop)`` or ``None`` (no monitoring); A3 takes id lists (``[]``).
    A3 monitors Vmem of the hidden neurons only (its readout Vmem comes in ``output_v_mems``).
    """

    def ids(stop: int) -> Any:
        if d.monitor_ranges:
            return cfgmod.NeuronRange(0, stop) if record else None
        return list(range(stop)) if record else []

    dbg = config.debug
    dbg.monitor_neuron_spike = ids(n_h)
    dbg.monitor_neuron_v_mem = ids(n_h + n_out if d.vmem_monitor_outputs else n_h)
    dbg.monitor_neuron_i_syn = ids(n_h + n_out)
    if has_attr(dbg, "monitor_neuron_i_syn2"):
        dbg.monitor_neuron_i_syn2 = ids(n_h) if two else (None if d.monitor_ranges else [])
    if has_attr(dbg, "ram_access_enable"):
        dbg.ram_access_enable = record
