"""`XyloExactNet`: the chip's integer arithmetic in torch, with straight-through gradients.

Forward values equal `xylodeploy.arith.scalar_model` (and xylosim.v2) bit for bit on every recorded
quantity; read its docstring for the equations. Weights are ``round(clamp(w))`` before the shift.

Engines: on CPU (``engine="auto"``) the fused compiled kernel (`_exact_fused`, docs/chip-arithmetic.md)
delivers every event in the chip's order (Isyn saturates after each one) and runs the hand-written
adjoint of this model, with the same gradients as the torch loop below. The torch loop (any device,
``engine="torch"``, the reference implementation) adds one step's events at once and, where a partial
sum could leave int16 before events of the other sign (``ordered_events=True``), redelivers that step
event by event; with ``ordered_events=False`` such steps are only counted in ``ExactOutput.saturation``
and warned about (`ExactSaturationWarning`).

Gradients: straight-through for round/clamp/saturation/wrap, float-decay gradient for the
bit-shift decay, periodic-exponential surrogate for the spike count (see `_exact_ops`). All
values are integer-valued float64 tensors (exact up to 2^53; float32 is not enough).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from xylodeploy.chips import get_chip
from xylodeploy.errors import ConfigError
from xylodeploy.ir.xylospec import XyloSpec
from xylodeploy.models._exact_fused import Static, kernel_output, simulate_exact
from xylodeploy.models._exact_ops import clamp_ste, decay, fire, round_ste, shifted_weight, ste, wrap_int16
from xylodeploy.models._exact_params import (
    Effective,
    ExactOutput,
    PopConstants,
    StepConstants,
    as_event_tensor,
    check_spec,
    check_trainable,
    value_ranges,
)

__all__ = ["ExactOutput", "ExactSaturationWarning", "XyloExactNet", "simulate_exact"]


class ExactSaturationWarning(UserWarning):
    """Per-event int16 saturation may make the chip differ from `XyloExactNet` in this run."""


class XyloExactNet(nn.Module):
    """Bit-exact Xylo core (see module docstring) with float64 shadow parameters.

    Args:
        spec: the integer network; parameters start at its values.
        trainable: parameter groups that get gradients: ``"weights"``, ``"threshold"``, ``"bias"``.
        strict: require the spec to fit the chip's ranges (and clamp to them in training). With
            ``strict=False`` anything xylosim accepts runs (int16 biases, weight shifts >= 8).
        freeze_zeros: keep zero weights at zero (fan-out lists and IEN/OEN projections unchanged).
        window: surrogate width in units of the threshold.
        check_saturation: detect possible per-event saturation (costs one extra matmul per step).
        ordered_events: at steps where per-event saturation is possible, deliver that step's events
            one source at a time in the chip's order, so the forward stays exact (gradients still
            straight-through the summed input). With False such steps are only counted/warned.
        engine: ``"kernel"`` (fused, CPU), ``"torch"`` (per-step loop, any device) or ``"auto"``
            (default): the kernel for CPU tensors with ``ordered_events``, else torch.
    """

    def __init__(
        self,
        spec: XyloSpec,
        trainable: Iterable[str] | str = ("weights", "threshold", "bias"),
        *,
        strict: bool = True,
        freeze_zeros: bool = True,
        window: float = 0.5,
        check_saturation: bool = True,
        ordered_events: bool = True,
        engine: str = "auto",
    ) -> None:
        super().__init__()
        self.spec = spec
        self.chip = get_chip(spec.chip)
        self.strict = strict
        self.ranges = value_ranges(self.chip, strict)
        check_spec(spec, self.chip, self.ranges, strict)
        self.trainable = check_trainable(trainable)
        self.window = float(window)
        self.check_saturation = check_saturation
        self.ordered_events = ordered_events
        if engine not in ("auto", "kernel", "torch"):
            raise ConfigError(f"XyloExactNet: engine '{engine}', expected auto, kernel or torch")
        self.engine = engine
        self.shifts = (spec.weight_shift_in, spec.weight_shift_rec, spec.weight_shift_out)
        self.aliases = tuple(spec.aliases)
        self._alias_order = sorted(
            {h for h, ts in enumerate(spec.aliases) if ts} | {a for ts in spec.aliases for a in ts}
        )

        def param(name: str, group: str) -> nn.Parameter:
            value = torch.tensor(np.asarray(getattr(spec, name)), dtype=torch.float64)
            return nn.Parameter(value, requires_grad=group in self.trainable)

        self.weights_in = param("weights_in", "weights")
        self.weights_rec = param("weights_rec", "weights")
        self.weights_out = param("weights_out", "weights")
        self.threshold = param("threshold", "threshold")
        self.threshold_out = param("threshold_out", "threshold")
        self.bias = param("bias", "bias")
        self.bias_out = param("bias_out", "bias")
        for name in ("weights_in", "weights_rec", "weights_out"):
            w = getattr(spec, name)
            mask = (w != 0) if freeze_zeros else np.ones_like(w, dtype=bool)
            self.register_buffer(f"mask_{name}", torch.tensor(mask, dtype=torch.float64))
        masks = tuple(getattr(self, f"mask_{n}").numpy() for n in ("weights_in", "weights_rec", "weights_out"))
        self._static = Static.from_spec(spec, self.window, masks)
        n_syn = spec.n_synapses
        dash_syn = np.stack([spec.dash_syn, spec.dash_syn_2], -1)[:, :n_syn].reshape(-1)
        for name, value in (
            ("dash_syn_flat", dash_syn),
            ("dash_mem", spec.dash_mem),
            ("dash_syn_out", spec.dash_syn_out),
            ("dash_mem_out", spec.dash_mem_out),
        ):
            self.register_buffer(name, torch.tensor(np.asarray(value), dtype=torch.float64))

    # --- parameters -------------------------------------------------------------------
    def _q(self, p: Tensor, lo: int, hi: int, mask: Tensor | None = None) -> Tensor:
        q = round_ste(clamp_ste(p, lo, hi))
        return q if mask is None else q * mask

    def effective(self) -> Effective:
        """Integer values the chip uses: rounded, clamped, masked and shifted (STE gradients)."""
        r = self.ranges
        n_h = self.spec.n_hidden
        w_in = self._q(self.weights_in, r.weight.lo, r.weight.hi, self.mask_weights_in)
        w_rec = self._q(self.weights_rec, r.weight.lo, r.weight.hi, self.mask_weights_rec)
        w_out = self._q(self.weights_out, r.weight.lo, r.weight.hi, self.mask_weights_out)
        w_in = shifted_weight(w_in, self.shifts[0]).reshape(self.spec.n_inputs, -1)
        w_rec = shifted_weight(w_rec, self.shifts[1]).reshape(n_h, -1)
        w_out = shifted_weight(w_out, self.shifts[2])
        return Effective(
            w_in=w_in,
            w_hr=torch.cat([w_rec, w_out], 1),
            th=self._q(self.threshold, r.threshold.lo, r.threshold.hi),
            th_out=self._q(self.threshold_out, r.threshold.lo, r.threshold.hi),
            bias=self._q(self.bias, r.bias.lo, r.bias.hi),
            bias_out=self._q(self.bias_out, r.bias.lo, r.bias.hi),
        )

    @torch.no_grad()
    def clip_(self) -> None:
        """Clamp the shadow parameters into their integer ranges (call after optimiser steps)."""
        r = self.ranges
        for p in (self.weights_in, self.weights_rec, self.weights_out):
            p.clamp_(r.weight.lo - 0.5, r.weight.hi + 0.5)
        for p in (self.threshold, self.threshold_out):
            p.clamp_(r.threshold.lo - 0.5, r.threshold.hi + 0.5)
        for p in (self.bias, self.bias_out):
            p.clamp_(r.bias.lo - 0.5, r.bias.hi + 0.5)

    @torch.no_grad()
    def to_spec(self, provenance: dict[str, Any] | None = None) -> XyloSpec:
        """The current parameters as a new `XyloSpec` (rounded, clipped to range, zeros kept).

        ``provenance`` (JSON-able) is stored under the spec's ``provenance["finetune"]``.
        """
        r = self.ranges

        def ints(p: Tensor, rng: Any, mask: Tensor | None = None) -> np.ndarray:
            q = torch.round(torch.clamp(p, rng.lo, rng.hi))
            q = q if mask is None else q * mask
            return q.to("cpu", torch.int64).numpy()

        entry = {"method": "exact-arithmetic fine-tuning (straight-through)", "trainable": list(self.trainable)}
        entry.update(provenance or {})
        return self.spec.replace(
            weights_in=ints(self.weights_in, r.weight, self.mask_weights_in),
            weights_rec=ints(self.weights_rec, r.weight, self.mask_weights_rec),
            weights_out=ints(self.weights_out, r.weight, self.mask_weights_out),
            threshold=ints(self.threshold, r.threshold),
            threshold_out=ints(self.threshold_out, r.threshold),
            bias=ints(self.bias, r.bias),
            bias_out=ints(self.bias_out, r.bias),
            provenance={**dict(self.spec.provenance), "finetune": entry},
        )

    # --- simulation -------------------------------------------------------------------
    def forward(self, x: Any, record: bool = False) -> ExactOutput:
        """Run (B, T, Nin) (or (T, Nin)) input event counts from reset state; see `ExactOutput`."""
        dev = self.weights_in.device
        x, single = as_event_tensor(x, self.spec.n_inputs, dev)
        x = torch.clamp(x, max=float(self.chip.max_input_events))
        q = self.effective()
        if self._use_kernel(x):
            out = kernel_output(x, q, self._static, record, self.check_saturation)
            return out.first() if single else out
        rec, flags = self._run_steps(x, q, record)
        sizes = (x.shape[0], self.spec.n_hidden, self.spec.n_synapses, self.spec.n_outputs)
        return self._pack(rec, flags, record, single, sizes, x)

    def _run_steps(self, x: Tensor, q: Effective, record: bool) -> tuple[dict[str, list[Tensor]], list[Tensor]]:
        """The torch engine: step through (B, T, Nin) events from reset; (recorded traces, saturation flags)."""
        lo, hi = float(self.chip.state_range.lo), float(self.chip.state_range.hi)
        negative = set(torch.nonzero(q.th.detach() < 0).flatten().tolist())  # rare: iterated spike loop
        general_out = bool((q.th_out < 0).any())
        B, T, _ = x.shape
        n_h, n_out = self.spec.n_hidden, self.spec.n_outputs
        k_max, k_out = (torch.tensor(float(k), dtype=torch.float64, device=x.device)
                        for k in (self.chip.max_hidden_spikes, self.chip.max_output_spikes))  # fmt: skip
        hidden = PopConstants(self.dash_mem, q.bias, q.th, k_max, negative, True)
        readout = PopConstants(self.dash_mem_out, q.bias_out, q.th_out, k_out, {0} if general_out else set(), False)
        drive_in = x @ q.w_in  # (B, T, Nh*S)
        pos_in = w_hr_pos = None
        if self.check_saturation:
            w_in_pos, w_hr_pos = q.w_in.detach().clamp(min=0), q.w_hr.detach().clamp(min=0)
            pos_in = x @ w_in_pos
        s = StepConstants(q, lo, hi, hidden, readout, drive_in, pos_in, w_hr_pos)
        zeros = x.new_zeros
        isyn, vmem, prev = zeros(B, n_h * self.spec.n_synapses), zeros(B, n_h), zeros(B, n_h)
        isyn_o, vmem_o = zeros(B, n_out), zeros(B, n_out)
        rec: dict[str, list[Tensor]] = {k: [] for k in ("spikes_out", "vmem_out", "isyn_out", "spikes", "isyn", "vmem")}
        flags: list[Tensor] = []
        for t in range(T):
            isyn, isyn_o, vmem, vmem_o, prev, out, flag = self._step(s, t, x[:, t], isyn, isyn_o, vmem, vmem_o, prev)
            if flag is not None:
                flags.append(flag)
            rec["spikes_out"].append(out)
            rec["vmem_out"].append(vmem_o)
            rec["isyn_out"].append(isyn_o)
            if record:
                rec["spikes"].append(prev)
                rec["isyn"].append(isyn)
                rec["vmem"].append(vmem)
        return rec, flags

    def _step(self, s: StepConstants, t: int, x_t: Tensor, isyn: Tensor, isyn_o: Tensor, vmem: Tensor, vmem_o: Tensor,
              prev: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor | None]:  # fmt: skip
        """One time step: (isyn, isyn_o, vmem, vmem_o, hidden spikes, readout spikes, saturation flag or None)."""
        lo, hi, q = s.lo, s.hi, s.q
        (B, n_hs), n_out = isyn.shape, isyn_o.shape[1]
        drive = prev @ q.w_hr
        acc = clamp_ste(isyn + s.drive_in[:, t] + drive[:, :n_hs], lo, hi)
        acc_o = clamp_ste(isyn_o + drive[:, n_hs:], lo, hi)
        flag = None
        if s.pos_in is not None:
            zeros = x_t.new_zeros
            flag = self._flag(
                torch.cat([isyn, isyn_o], 1).detach(),
                torch.cat([s.drive_in[:, t], zeros(B, n_out)], 1).detach() + drive.detach(),
                torch.cat([s.pos_in[:, t], zeros(B, n_out)], 1) + prev @ s.w_hr_pos,
                lo,
                hi,
            )
            if self.ordered_events and bool(flag.any()):  # deliver this step event by event, exactly
                exact, exact_o = self._ordered_events(isyn, isyn_o, x_t, prev, q, lo, hi)
                acc, acc_o, flag = ste(exact, acc), ste(exact_o, acc_o), torch.zeros_like(flag)
        isyn = decay(acc, self.dash_syn_flat)
        syn_sum = isyn.reshape(B, self.spec.n_hidden, self.spec.n_synapses).sum(-1)
        vmem, spk = self._neuron(syn_sum, vmem, s.hidden, lo, hi)
        isyn_o = decay(acc_o, self.dash_syn_out)
        vmem_o, out = self._neuron(isyn_o, vmem_o, s.readout, lo, hi)
        return isyn, isyn_o, vmem, vmem_o, spk, out, flag

    def _use_kernel(self, x: Tensor) -> bool:
        if self.engine == "kernel" and x.device.type != "cpu":
            raise ConfigError(f"XyloExactNet: the kernel engine needs CPU tensors, got device {x.device}")
        return self.engine == "kernel" or (self.engine == "auto" and x.device.type == "cpu" and self.ordered_events)

    @torch.no_grad()
    def _ordered_events(
        self, isyn: Tensor, isyn_o: Tensor, x_t: Tensor, prev: Tensor, q: Effective, lo: float, hi: float
    ) -> tuple[Tensor, Tensor]:
        """Isyn after this step's events, saturating after each one in the chip's order.

        Input channels in ascending order, then recurrent/readout sources in ascending order;
        ``n`` events of one source add the same weight ``n`` times to each target, which
        saturates like one add of ``n * w`` (same sign). Exact where `_flag` fires.
        """
        n_hs = isyn.shape[1]
        acc = isyn.detach().clone()
        w_in, w_hr = q.w_in.detach(), q.w_hr.detach()
        for c in torch.nonzero(x_t.any(0)).flatten().tolist():
            acc = torch.clamp(acc + x_t[:, c : c + 1] * w_in[c], lo, hi)
        acc = torch.cat([acc, isyn_o.detach()], 1)
        for src in torch.nonzero(prev.detach().any(0)).flatten().tolist():
            acc = torch.clamp(acc + prev[:, src : src + 1].detach() * w_hr[src], lo, hi)
        return acc[:, :n_hs], acc[:, n_hs:]

    def _neuron(self, syn_sum: Tensor, vmem: Tensor, pop: PopConstants, lo: float, hi: float) -> tuple[Tensor, Tensor]:
        """Membrane update and spikes of one population: returns (vmem after reset, spike counts)."""
        leak = vmem - decay(vmem, pop.dash_mem)  # = dec(vmem, dash_mem)
        neg_leak = ste(wrap_int16(-leak), -leak)  # the chip negates in int16: -(-32768) wraps (dash 0)
        a = clamp_ste(clamp_ste(syn_sum + neg_leak, lo, hi) + pop.bias, lo, hi)
        v = clamp_ste(vmem + a, lo, hi)
        n, v_after = fire(v, pop.th, pop.cap, self._cap(pop.hidden), self.window, bool(pop.negative))
        if pop.hidden and self._alias_order:
            n, v_after = self._aliases(v, n, v_after, pop.th, pop.cap, pop.negative)
        return v_after, n

    def _aliases(
        self, v: Tensor, n: Tensor, v_after: Tensor, th: Tensor, cap: Tensor, negative: set[int]
    ) -> tuple[Tensor, Tensor]:
        """Sequential alias semantics (docs/chip-arithmetic.md, aliases) on the neurons involved."""
        cols: dict[int, Tensor] = {}
        vcols: dict[int, Tensor] = {}
        incoming: dict[int, Tensor] = {}  # aliased counts from lower-index sources, before the update
        for h in self._alias_order:
            if h in incoming:
                k0 = incoming[h]
                own, vcols[h] = fire(v[:, h], th[h], cap - k0, self._cap(True), self.window, h in negative)
                cols[h] = k0 + own
            else:
                cols[h] = n[:, h]
            for a in self.aliases[h]:
                if a > h:
                    incoming[a] = clamp_ste(incoming.get(a, 0.0) + cols[h], hi=float(self.chip.max_hidden_spikes))
                else:
                    cols[a] = clamp_ste(cols[a] + cols[h], hi=float(self.chip.max_hidden_spikes))
        idx = torch.tensor(list(cols), device=n.device)
        n = n.index_copy(1, idx, torch.stack(list(cols.values()), 1))
        if vcols:
            vidx = torch.tensor(list(vcols), device=n.device)
            v_after = v_after.index_copy(1, vidx, torch.stack(list(vcols.values()), 1))
        return n, v_after

    def _cap(self, hidden: bool) -> int:
        return self.chip.max_hidden_spikes if hidden else self.chip.max_output_spikes

    @staticmethod
    def _flag(isyn: Tensor, total: Tensor, pos: Tensor, lo: float, hi: float) -> Tensor:
        """True where per-event saturation could differ from saturating the step's sum."""
        neg = total - pos
        return ((isyn + pos > hi) & (neg < 0)) | ((isyn + neg < lo) & (pos > 0))

    def _pack(
        self,
        rec: dict[str, list[Tensor]],
        flags: list[Tensor],
        record: bool,
        single: bool,
        sizes: tuple[int, int, int, int],
        x: Tensor,
    ) -> ExactOutput:
        B, n_h, n_syn, n_out = sizes

        def stack(name: str, n: int) -> Tensor:
            return torch.stack(rec[name], 1) if rec[name] else x.new_zeros(B, 0, n)

        out = ExactOutput(
            spikes_out=stack("spikes_out", n_out), vmem_out=stack("vmem_out", n_out), isyn_out=stack("isyn_out", n_out)
        )
        if self.check_saturation:
            f = torch.stack(flags, 1) if flags else torch.zeros(B, 0, n_h * n_syn + n_out, dtype=torch.bool)
            out.saturation = f.sum((1, 2))
            if bool(out.saturation.any()):
                self._warn(f, n_h, n_syn)
        if record:
            isyn = stack("isyn", n_h * n_syn).reshape(B, -1, n_h, n_syn)
            out.spikes, out.vmem, out.isyn = stack("spikes", n_h), stack("vmem", n_h), isyn[..., 0]
            out.isyn2 = isyn[..., 1] if n_syn > 1 else None
        return out.first() if single else out

    @staticmethod
    def _warn(flags: Tensor, n_h: int, n_syn: int) -> None:
        b, t, j = (int(i) for i in torch.nonzero(flags)[0])
        where = (
            f"hidden neuron {j // n_syn} synapse {j % n_syn + 1}" if j < n_h * n_syn else f"readout {j - n_h * n_syn}"
        )
        warnings.warn(
            f"XyloExactNet: per-event int16 saturation possible at step {t}, {where} (clip {b}); "
            f"{int(flags.sum())} neuron-step(s) flagged, results there may differ from the chip",
            ExactSaturationWarning,
            stacklevel=3,
        )
