"""ReferenceBackend: xylosim probes P1-P20 (shared/reference/xylosim_probe_results.txt) as ground
truth, batch/clip equivalence, kernel agreement, input handling and validation."""

from __future__ import annotations

import numpy as np
import pytest

from xylodeploy.backends import get_backend
from xylodeploy.backends.reference import ReferenceBackend
from xylodeploy.errors import ConfigError
from xylodeploy.ir.xylospec import XyloSpec, empty_spec

KERNELS = ["vector", "scalar", "lanes"]


def probe_spec(w_in=10, ws_in=0, th=100, th_out=100, dm=1, ds=1, ds2=1, dmo=1, dso=1, bias=0, w_out=10,  # noqa: ANN001
               n_in=1, n_hid=1, syn_id=0, rec=(), aliases=None, w_in2=None) -> XyloSpec:  # fmt: skip
    """The probe layer of xylosim_probes.py `make()`: input 0 -> hidden 0 (synapse syn_id), hidden 0 -> out 0."""
    wi = np.zeros((n_in, n_hid, 2), np.int64)
    wi[0, 0, syn_id] = w_in
    if w_in2 is not None:
        wi[1] = w_in2
    wr = np.zeros((n_hid, n_hid, 2), np.int64)
    for src, tgt, w in rec:
        wr[src, tgt, 0] = w
    wo = np.zeros((n_hid, 1), np.int64)
    wo[0, 0] = w_out
    return empty_spec(
        "xylo-audio2", n_in, n_hid, 1, 2, weights_in=wi, weights_rec=wr, weights_out=wo,
        dash_mem=[dm] * n_hid, dash_syn=[ds] * n_hid, dash_syn_2=[ds2] * n_hid, dash_mem_out=[dmo],
        dash_syn_out=[dso], threshold=[th] * n_hid, threshold_out=[th_out], bias=[bias] * n_hid,
        weight_shift_in=ws_in, aliases=aliases,
    )  # fmt: skip


def run(spec: XyloSpec, raster: list, kernel: str = "scalar"):  # noqa: ANN201
    sim = ReferenceBackend(kernel)
    sim.load(spec)
    return sim.run(np.array(raster, np.int64), record=True)


def col(a: np.ndarray, n: int = 0) -> list[int]:
    return a[0, :, n].tolist()


@pytest.fixture(params=KERNELS)
def kernel(request: pytest.FixtureRequest) -> str:
    return request.param


def test_p1_p2_p3_decay(kernel: str) -> None:
    r = run(probe_spec(w_in=100, ds=1, dm=1, th=30000), [[1]] + [[0]] * 5, kernel)
    assert col(r.isyn) == [50, 25, 13, 7, 4, 2] and col(r.vmem) == [50, 50, 38, 26, 17, 11]
    r = run(probe_spec(w_in=100, ds=0, dm=1, th=30000), [[1]] + [[0]] * 3, kernel)
    assert col(r.isyn) == [0] * 4 and col(r.vmem) == [0] * 4
    r = run(probe_spec(w_in=100, ds=2, dm=3, th=30000), [[1]] + [[0]] * 7, kernel)
    assert col(r.isyn) == [75, 57, 43, 33, 25, 19, 15, 12]
    assert col(r.vmem) == [75, 123, 151, 166, 171, 169, 163, 155]


def test_p4_p5_spikes_caps_and_readout_delay(kernel: str) -> None:
    r = run(probe_spec(w_in=100, ds=1, dm=15, th=10), [[1]] + [[0]] * 3, kernel)
    assert col(r.isyn) == [50, 25, 13, 7] and col(r.vmem) == [0, 5, 7, 3] and col(r.spikes) == [5, 2, 1, 1]
    assert col(r.isyn_out) == [0, 25, 23, 17] and col(r.vmem_out) == [0, 25, 36, 35] and col(r.spikes_out) == [0] * 4
    r = run(probe_spec(w_in=127, ws_in=4, ds=15, dm=15, th=10), [[1], [0], [0]], kernel)
    assert col(r.isyn) == [2031, 2030, 2029] and col(r.vmem) == [1721, 3440, 5158]
    assert col(r.spikes) == [31, 31, 31] and col(r.isyn_out) == [0, 155, 233] and col(r.spikes_out) == [0, 1, 1]


@pytest.mark.parametrize("count", [1, 2, 15, 16, 255])
def test_p6_input_clamp(kernel: str, count: int) -> None:
    r = run(probe_spec(w_in=100, ds=15, dm=15, th=30000), [[count]], kernel)
    assert col(r.isyn) == [100 * min(count, 15) - 1]


@pytest.mark.parametrize(("w", "expected"), [(127, 16255), (-128, -16383)])
def test_p7_weight_shift(kernel: str, w: int, expected: int) -> None:
    assert col(run(probe_spec(w_in=w, ws_in=7, ds=15, dm=15, th=32767), [[1]], kernel).isyn) == [expected]


def test_p8_p9_saturation(kernel: str) -> None:
    # shift 7 is the chip's maximum: 3 events of 127<<7 = 16256 saturate just like P8's 3 x 32512 did
    r = run(probe_spec(w_in=127, ws_in=7, ds=15, dm=15, th=32767), [[3], [0], [0]], kernel)
    assert col(r.isyn) == [32766, 32765, 32764] and col(r.vmem) == [32766, 0, 32764] and col(r.spikes) == [0, 1, 0]
    r = run(probe_spec(w_in=-128, ws_in=7, ds=15, dm=15, th=32767), [[3], [0], [0]], kernel)
    assert col(r.isyn) == [-32767, -32766, -32765] and col(r.vmem) == [-32767, -32768, -32768]


def test_p10_p12_bias(kernel: str) -> None:
    assert col(run(probe_spec(w_in=0, ds=15, dm=15, th=30000, bias=7), [[0]] * 4, kernel).vmem) == [7, 13, 19, 25]
    r = run(probe_spec(w_in=0, ds=15, dm=1, th=30000, bias=-100), [[0]] * 5, kernel)
    assert col(r.vmem) == [-100, -150, -175, -187, -193]


def test_p13_p14_zero_threshold_and_negative_decay(kernel: str) -> None:
    r = run(probe_spec(w_in=0, ds=15, dm=15, th=0, th_out=0), [[0]] * 3, kernel)
    assert col(r.vmem) == [0] * 3 and col(r.spikes) == [31] * 3 and col(r.spikes_out) == [1] * 3
    r = run(probe_spec(w_in=-100, ds=1, dm=1, th=30000), [[1]] + [[0]] * 8, kernel)
    assert col(r.isyn) == [-50, -25, -12, -6, -3, -1, 0, 0, 0]
    assert col(r.vmem) == [-50, -50, -37, -24, -15, -8, -4, -2, -1]


def test_p15_recurrent_delay(kernel: str) -> None:
    r = run(probe_spec(w_in=127, ws_in=4, ds=15, dm=15, th=2000, n_hid=2, rec=[(0, 1, 50)]), [[1], [0], [0]], kernel)
    assert r.spikes[0].tolist() == [[1, 0], [1, 0], [1, 0]]
    assert r.isyn[0].tolist() == [[2031, 0], [2030, 49], [2029, 98]]


def test_p16_synapse2(kernel: str) -> None:
    r = run(probe_spec(w_in=100, ds=15, ds2=1, dm=15, th=30000, syn_id=1), [[1], [0], [0]], kernel)
    assert col(r.isyn) == [0, 0, 0] and col(r.isyn2) == [50, 25, 13] and col(r.vmem) == [50, 74, 86]


@pytest.mark.parametrize(("src", "tgt", "drive", "fan"), [(0, 1, 0, (1, 2)), (2, 0, 2, (0, 1))])
def test_p17_p18_alias(kernel: str, src: int, tgt: int, drive: int, fan: tuple) -> None:
    wi = np.zeros((1, 3, 2), np.int64)
    wi[0, drive, 0] = 127
    wr = np.zeros((3, 3, 2), np.int64)
    wr[fan[0], fan[1], 0] = 50
    aliases = [(), (), ()]
    aliases[src] = (tgt,)
    th = [30000] * 3
    th[drive] = 500
    spec = empty_spec("xylo-audio2", 1, 3, 1, 2, weights_in=wi, weights_rec=wr, threshold=th, dash_mem=[15] * 3,
                      dash_syn=[15] * 3, dash_syn_2=[15] * 3, threshold_out=[30000], weight_shift_in=4,
                      aliases=aliases)  # fmt: skip
    r = run(spec, [[1], [0], [0]], kernel)
    spikes = [[4, 4, 0]] * 3 if src == 0 else [[4, 0, 4]] * 3
    isyn = (
        [[2031, 0, 0], [2030, 0, 199], [2029, 0, 398]] if src == 0 else [[0, 0, 2031], [0, 199, 2030], [0, 398, 2029]]
    )
    assert r.spikes[0].tolist() == spikes and r.isyn[0].tolist() == isyn


@pytest.mark.parametrize(("first", "expected"), [(127, 0), (-128, 32255)])
def test_p19_per_event_saturation_order(kernel: str, first: int, expected: int) -> None:
    """P19 at the chip's max shift 7 (twice the events of +16256 / -16384 instead of +32512 / -32768).

    Channel 0 is delivered first: +,+,+,+ then -,- gives 32767 - 32768 = -1 -> decays to 0; the
    reverse order gives -32768 + 65024 = 32256 -> 32255, the same numbers as P19.
    """
    second = -128 if first == 127 else 127
    w2 = np.zeros((1, 2), np.int64)
    w2[0, 0] = second
    spec = probe_spec(w_in=first, ws_in=7, ds=15, dm=15, th=32767, n_in=2, w_in2=w2)
    counts = [[4, 2]] if first == 127 else [[2, 4]]
    assert col(run(spec, counts, kernel).isyn) == [expected]


def test_p20_sum_saturates_before_bias(kernel: str) -> None:
    w2 = np.zeros((1, 2), np.int64)
    w2[0, 1] = 127
    spec = probe_spec(w_in=127, ws_in=7, ds=15, ds2=15, dm=15, th=32767, bias=-100, n_in=2, w_in2=w2)
    r = run(spec, [[2, 2], [0, 0]], kernel)
    # isyn1 = isyn2 = 2 x 16256 - 1 = 32511 -> sum 65022 saturates to 32767, then bias -100 -> 32667
    assert col(r.isyn) == [32511, 32510] and col(r.isyn2) == [32511, 32510] and col(r.vmem)[0] == 32667


def test_clips_are_independent_and_batch_equals_single(kernel: str) -> None:
    spec = probe_spec(w_in=100, ds=1, dm=1, th=60, n_hid=2, rec=[(0, 1, 90)])
    rng = np.random.default_rng(0)
    batch = rng.integers(0, 3, (20, 15, 1))
    sim = ReferenceBackend(kernel)
    sim.load(spec)
    whole = sim.run(batch, record=True)
    for b in (0, 7, 19):
        alone = sim.run(batch[b], record=True)
        for name, arr in alone.fields().items():
            assert np.array_equal(arr, whole.fields()[name][b : b + 1]), name
    again = sim.run(batch[::-1], record=True)
    assert np.array_equal(again.vmem[::-1], whole.vmem)


def test_kernels_agree_and_record_false_gives_outputs_only() -> None:
    spec = probe_spec(w_in=120, ws_in=3, ds=2, dm=3, th=200, n_hid=3, rec=[(0, 1, 60), (1, 2, 90)])
    x = np.random.default_rng(1).integers(0, 4, (40, 30, 1))  # 40 clips: two lane groups, one partial
    recs = {k: run(spec, x, k) for k in KERNELS}
    for name, arr in recs["scalar"].fields().items():
        assert np.array_equal(arr, recs["lanes"].fields()[name]), name
    sim = ReferenceBackend()
    sim.load(spec)
    out = sim.run(x)
    assert not out.recorded and out.spikes is None and np.array_equal(out.spikes_out, recs["scalar"].spikes_out)


def test_dtypes_shapes_and_one_synapse() -> None:
    spec = empty_spec("xylo-imu", 3, 4, 2, 1)
    r = run(spec, np.zeros((5, 3), np.int64))
    assert r.spikes_out.shape == (1, 5, 2) and r.vmem.shape == (1, 5, 4) and r.isyn2 is None
    assert r.spikes.dtype == np.int8 and r.vmem.dtype == np.int16
    assert get_backend("reference").name == "reference"


@pytest.mark.parametrize(
    ("raster", "match"),
    [(np.zeros((2, 3, 4)), "channels"), (-np.ones((1, 2, 1)), ">= 0"), (np.full((1, 2, 1), 0.5), "integers"),
     (np.zeros(3), "shape")],
)  # fmt: skip
def test_input_validation(raster: np.ndarray, match: str) -> None:
    sim = ReferenceBackend()
    sim.load(empty_spec("xylo-audio2", 1, 2, 1))
    with pytest.raises(ConfigError, match=match):
        sim.run(raster)


@pytest.mark.parametrize(
    ("change", "match"),
    [({"weights_out": np.full((2, 1), 128)}, "weights_out"), ({"weight_shift_rec": 32}, "weight_shift_rec"),
     ({"dash_mem": [16, 0]}, "dash_mem"), ({"threshold": [40000, 0]}, "threshold"),
     ({"aliases": [(5,), ()]}, "aliases")],
)  # fmt: skip
def test_spec_validation(change: dict, match: str) -> None:
    spec = empty_spec("xylo-audio2", 1, 2, 1).replace(**change)
    with pytest.raises(ConfigError, match=match):
        ReferenceBackend().load(spec)


def test_run_before_load_and_bad_kernel() -> None:
    with pytest.raises(ConfigError, match="before load"):
        ReferenceBackend().run(np.zeros((1, 1)))
    with pytest.raises(ConfigError, match="kernel"):
        ReferenceBackend("gpu")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="threads"):
        ReferenceBackend(threads=0)


@pytest.mark.parametrize(("threshold", "clips", "busy"), [(0, 24, True), (0, 23, False), (30000, 24, False)])
def test_auto_switches_to_lanes_for_busy_batches(threshold: int, clips: int, busy: bool) -> None:
    """Threshold 0 fires 31 spikes per neuron and step: a batch of >= 24 such clips goes to lanes."""
    spec = probe_spec(w_in=100, th=threshold, n_hid=3, rec=[(0, 1, 60), (1, 2, -90)])
    x = np.random.default_rng(2).integers(0, 3, (clips, 12, 1))
    sim = ReferenceBackend("auto")
    sim.load(spec)
    assert sim._busy(x.astype(np.uint8)) is busy
    auto, scalar = sim.run(x, record=True), run(spec, x, "scalar")
    for name, arr in scalar.fields().items():
        assert np.array_equal(arr, auto.fields()[name]), name
