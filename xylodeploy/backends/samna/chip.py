"""Per-chip board sequences of the samna driver: start-up, apply, RAM access, state reset, clock, power.

Each sequence follows the one SynSense's own device code uses for that chip; docs/samna-driver.md
lists the source of every call, register and bit. Functions take the open `SamnaBackend` (``be``).

    A2:  start-up = TriggerProcessing, ReadVersion -> Version 1.1; after every apply the AFE's SAER
         interface is switched off; states need CTRL1.RAM_ACTIVE then CTRL1.MEM_CLK_ON; reset =
         apply with clear_network_state.
    IMU: RAM access through model.open/close_ram_access; reset = soft board reset, register-read
         sync, clock and configuration restored.
    A3:  reset = apply a blank configuration in Recording mode, then the user configuration, then a
         register-read sync (apply_configuration_blocking).
"""

from __future__ import annotations

import math
import time
from typing import Any

from xylodeploy.backends.samna import board_io as io
from xylodeploy.backends.samna.config import A2_CLOCK_REGISTER, CLOCK_BASE_HZ
from xylodeploy.errors import DeviceError

A2_CTRL1 = 0x01  # Xylo Audio 2 core control register 1
A2_CTRL1_MAN = 1 << 0  # manual (single-step) mode bit
A2_CTRL1_MEM_CLK_ON = 1 << 16  # memory clock on
A2_CTRL1_RAM_ACTIVE = 1 << 17  # RAM active (state RAM readable)
A2_TR_WRAP, A2_HM_TR_WRAP, A2_WO = 0x03, 0x04, 0x0E  # time-step wrap registers, output-enable register
A2_WO_REALTIME = 0x10  # value SynSense writes to WO before switching the FPGA to real time
A2_VERSION = (1, 1)  # (major, minor) the A2 core answers to ReadVersion
A2_VERSION_WAIT_S = 10.0
SYNC_WAIT_S = 5.0  # register-read round trip after an apply or reset
SYNC_REGISTER = 0x00


def model(be: Any) -> Any:
    return io.model_of(be.hdk, be.dialect)


def startup(be: Any) -> None:
    """A2 only: one TriggerProcessing to initialise the core, then check the core's version."""
    if be.chip.samna_namespace != "xyloCore2":
        return
    be.bufs.write.write([be.ns.event.TriggerProcessing()])
    be.bufs.read.get_events()
    be.bufs.write.write([be.ns.event.ReadVersion()])
    deadline = time.monotonic() + A2_VERSION_WAIT_S
    while time.monotonic() <= deadline:
        for ev in be.bufs.read.get_events():
            if type(ev).__name__ == "Version":
                got = (int(ev.major), int(ev.minor))
                if got != A2_VERSION:
                    raise DeviceError(f"core version {got[0]}.{got[1]}, expected {A2_VERSION[0]}.{A2_VERSION[1]}")
                return
        time.sleep(be.poll_s)
    raise DeviceError(f"no answer to ReadVersion within {A2_VERSION_WAIT_S:.0f} s (is this a Xylo Audio 2 HDK?)")


def sync(be: Any) -> None:
    """Wait until the board has executed everything sent so far (a register read answered)."""
    io.read_register(be.ns, be.bufs, SYNC_REGISTER, SYNC_WAIT_S, be.poll_s)


def apply(be: Any, config: Any, blocking: bool | None = None) -> None:
    """Apply ``config``; A2 then switches its AFE's SAER input off; A3 (or ``blocking``) syncs."""
    model(be).apply_configuration(config)
    ns = be.chip.samna_namespace
    if ns == "xyloCore2":
        be.hdk.get_afe_model().set_saer_interface_enable(False)
    if blocking if blocking is not None else ns == "xyloAudio3":
        sync(be)


def set_ram_access(be: Any, on: bool) -> None:
    """State-RAM access for recording: A2 CTRL1 bits (RAM_ACTIVE then MEM_CLK_ON; off in reverse), IMU model calls.

    A3 needs nothing here: its ``debug.ram_access_enable`` is part of the configuration.
    """
    ns = be.chip.samna_namespace
    if ns == "xyloImu":
        (model(be).open_ram_access if on else model(be).close_ram_access)()
    elif ns == "xyloCore2":
        ctrl1 = io.read_register(be.ns, be.bufs, A2_CTRL1, be.dialect.readout_wait_s, be.poll_s)
        order = (A2_CTRL1_RAM_ACTIVE, A2_CTRL1_MEM_CLK_ON) if on else (A2_CTRL1_MEM_CLK_ON, A2_CTRL1_RAM_ACTIVE)
        for bit in order:
            ctrl1 = ctrl1 | bit if on else ctrl1 & ~bit
            io.write_register(be.ns, be.bufs, A2_CTRL1, ctrl1)


def reset_state(be: Any) -> None:
    """Clear all neuron and synapse state, leaving ``be._config`` applied (see module docstring)."""
    ns, config = be.chip.samna_namespace, be._config
    if ns == "xyloCore2":
        config.clear_network_state = True
        apply(be, config)
        config.clear_network_state = False
        apply(be, config)
    elif ns == "xyloAudio3":
        blank = be.ns.configuration.XyloConfiguration()
        blank.operation_mode = be.ns.OperationMode.Recording
        model(be).apply_configuration(blank)
        apply(be, config, blocking=True)
    else:
        soft_reset(be)
        apply(be, config, blocking=True)
    if be.bufs.state is not None:
        be.bufs.state.reset()
    be._dirty = False


def soft_reset(be: Any) -> None:
    """Soft-reset the board and wait for it (register-read sync); restore clock and input acceleration."""
    if be.dialect.clock == "board_config":
        cfg = be.ns.XyloAudio3TestBoardDefaultConfig()
        cfg.main_clock_frequency, cfg.pdm_clock_frequency = int(be.clock_hz), int(be.clock_hz / 32)
        be.hdk.reset_board_soft(cfg)
    else:
        be.hdk.reset_board_soft()
    sync(be)
    if be.dialect.clock == "io_rate" and be.clock_hz != be.chip.default_clock_hz:
        set_clock_registers(be, be.clock_hz)
    if be.chip.samna_namespace == "xyloImu":
        be.hdk.enable_manual_input_acceleration(True)


def clock_for(clock: str, hz: float) -> tuple[int, float]:
    """(wait period, obtained Hz) for a requested core clock: f = 100 MHz / (2 (wait + 1)).

    A2 truncates the divider, IMU rounds it up; A3 takes the frequency as given.
    """
    if clock == "board_config":
        return 0, float(hz)
    ratio = round(CLOCK_BASE_HZ / hz) / 2 - 1
    wait = max(int(ratio) if clock == "io_config" else math.ceil(ratio), 0)
    return wait, CLOCK_BASE_HZ / (2 * (wait + 1))


def set_clock_registers(be: Any, hz: float) -> float:
    """Program the core clock (and the SAER/SPI clocks SynSense derives from it); returns the obtained Hz."""
    wait, actual = clock_for(be.dialect.clock, hz)
    if be.dialect.clock == "io_config":  # A2: wait period in IO config words 0x20 (high) / 0x21 (low)
        iom = be.hdk.get_io_module()
        iom.write_config(A2_CLOCK_REGISTER - 1, wait >> 16)
        iom.write_config(A2_CLOCK_REGISTER, wait & 0xFFFF)
        iom.set_saer_clk_rate(int(actual / 4))
        iom.set_spi_clk_rate(int(actual / 8))
    elif be.dialect.clock == "io_rate":  # IMU
        iom = be.hdk.get_io_module()
        iom.set_main_clk_rate(int(actual))
        iom.set_saer_clk_rate(int(actual / 8))
        iom.set_spi_clk_rate(int(actual / 20))
    return actual


def power_start(be: Any, frequency_hz: float) -> None:
    """Start automatic power sampling at ``frequency_hz``, restarting it if it already runs (IMU/A3 helpers)."""
    pm = be.hdk.get_power_monitor()
    if be._power_sink is None:
        if be.chip.samna_namespace == "xyloCore2":
            be._power_sink = be.samna.BasicSinkNode_unifirm_modules_events_measurement()
            g = be.samna.graph.EventFilterGraph()
            g.sequential([pm.get_source_node(), be._power_sink])
            be.bufs.graphs.append(g)
        else:
            be._power_sink = be.samna.graph.sink_from(pm.get_source_node())
    if be.chip.samna_namespace == "xyloAudio3":
        be.hdk.get_stop_watch().start()
    if pm.is_auto_power_measurement_active():
        pm.stop_auto_power_measurement()
    pm.start_auto_power_measurement(float(frequency_hz))
    be._power_sink.get_events()


def power_stop(be: Any) -> None:
    """Stop automatic power sampling if it runs."""
    pm = be.hdk.get_power_monitor()
    if pm.is_auto_power_measurement_active():
        pm.stop_auto_power_measurement()
