"""Xylo IMU input interface: bit-exact against rockpool's published model, hand-computed values, errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tests.support.rockpool_ref import as_int, imu_modules
from xylodeploy.errors import ConfigError
from xylodeploy.frontends.imu import encode_imu, filter_bank, iaf_encode, scale_encode
from xylodeploy.frontends.imu_config import DEFAULT_BANDS, ImuFilter, ImuInterfaceConfig, design_bandpass
from xylodeploy.frontends.imu_rotation import angle_table, covariance, jacobi_svd, remove_rotation

rp = imu_modules()
SETTINGS = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def obj(a: np.ndarray) -> np.ndarray:
    """rockpool's IMU modules take object arrays of Python ints."""
    return np.array(np.asarray(a).tolist(), dtype=object)


def structured(seed: int, n_steps: int, amp: float = 6000.0) -> np.ndarray:
    """A rotated 3-axis motion: two sinusoids, an offset (gravity) and noise, as int samples."""
    rng = np.random.default_rng(seed)
    t = np.arange(n_steps) / 200.0
    f = rng.uniform(0.5, 20.0, 2)
    body = np.stack([np.sin(2 * np.pi * f[0] * t), 0.5 * np.cos(2 * np.pi * f[1] * t), np.full_like(t, 0.7)], -1)
    q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    x = amp * body @ q.T + rng.normal(0, amp * 0.05, (n_steps, 3))
    return np.clip(np.round(x), -32767, 32767).astype(np.int64)


samples = st.integers(0, 2**31).flatmap(
    lambda seed: st.sampled_from(["random", "structured", "sparse"]).map(lambda kind: (seed, kind))
)


def make_input(seed: int, kind: str, n_steps: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if kind == "structured":
        return structured(seed, n_steps)
    if kind == "sparse":  # mostly still, a few large impulses (taps)
        x = np.zeros((n_steps, 3), np.int64)
        hits = rng.integers(0, n_steps, 4)
        x[hits] = rng.integers(-30000, 30000, (4, 3))
        return x
    return rng.integers(-(2 ** rng.integers(4, 15)), 2 ** rng.integers(4, 15), (n_steps, 3))


def test_angle_table_equals_rockpools():
    lut, ours = rp.RotationLookUpTable(), angle_table()
    for r, name in enumerate(["tan2", "cot2", "sin", "cos", "inv_2cos2", "inv_2sin2"]):
        ref = [-1 if isinstance(v, float) and np.isnan(v) else int(v) for v in getattr(lut, f"{name}_vals_quantized")]
        np.testing.assert_array_equal(ours[r], ref, err_msg=name)


@SETTINGS
@given(lo=st.floats(0.2, 60.0), width=st.floats(1.05, 4.0))
def test_filter_design_equals_rockpools(lo, width):
    hi = min(lo * width, 95.0)
    assume(hi > lo * 1.05)
    try:
        ref = rp.BandPassFilter.from_specification(lo, hi, 200.0)
    except ValueError:
        with pytest.raises(ConfigError):
            design_bandpass(lo, hi)
        return
    ours = design_bandpass(lo, hi)
    assert (ours.b_b, ours.b_wf, ours.b_af, ours.a1, ours.a2) == (ref.B_b, ref.B_wf, ref.B_af, ref.a1, ref.a2)


def test_filter_matches_hand_computed_values():
    """Default registers (B_b=6, B_wf=8, B_af=9, a1=-36565, a2=31754), impulse of 1000 at t=0.

    w0 = (1000 << 8) >> 6 = 4000, y0 = 4000 >> 8 = 15
    w1 = ((36565 * 4000) >> 9) >> 6 = 285664 >> 6 = 4463, y1 = 4463 >> 8 = 17
    w2 = ((-31754 * 4000 + 36565 * 4463) >> 9) >> 6 = (36149595 >> 9) >> 6 = 70604 >> 6 = 1103,
    y2 = (1103 - 4000) >> 8 = -12
    """
    x = np.zeros((1, 5, 3), np.int64)
    x[0, 0, 0] = 1000
    y = filter_bank(x, [ImuFilter()] * 15)
    np.testing.assert_array_equal(y[0, :3, 0], [15, 17, -12])
    assert not y[0, :, 5:].any()  # channels 5.. filter the silent axes


@SETTINGS
@given(case=samples, n_steps=st.integers(3, 120), band=st.integers(0, 4))
def test_filter_bank_equals_rockpools(case, n_steps, band):
    x = make_input(*case, n_steps)
    filters = [rp.BandPassFilter.from_specification(*DEFAULT_BANDS[band], 200.0)] * 15
    try:
        ref = as_int(rp.FilterBank((3, 15), *filters)(obj(x[None]))[0])
    except ValueError:  # rockpool's overflow check: ours must refuse too
        with pytest.raises(ConfigError):
            filter_bank(x[None], [design_bandpass(*DEFAULT_BANDS[band])] * 15, mirror=True)
        return
    ours = filter_bank(x[None], [design_bandpass(*DEFAULT_BANDS[band])] * 15, mirror=True)
    np.testing.assert_array_equal(ours, ref)


@SETTINGS
@given(case=samples, k=st.integers(0, 8))
def test_jacobi_svd_equals_rockpools(case, k):
    x = make_input(*case, 40)
    cov = covariance(x[None], k)[0, -1]
    R_ref, D_ref = rp.JSVD()(obj(cov))
    R, D = jacobi_svd(cov)
    np.testing.assert_array_equal(R, as_int(R_ref))
    np.testing.assert_array_equal(D, as_int(D_ref))


@SETTINGS
@given(case=samples, n_steps=st.integers(1, 150), k=st.integers(0, 8), hold=st.integers(1, 40))
def test_rotation_removal_equals_rockpools(case, n_steps, k, hold):
    x = make_input(*case, n_steps)
    ref = as_int(rp.RotationRemoval(num_avg_bitshift=k, sampling_period=hold)(obj(x[None]))[0])
    np.testing.assert_array_equal(remove_rotation(x[None], k, hold), ref)


def test_rotation_removal_aligns_the_principal_axis():
    """A motion along a tilted axis comes out on the first output axis, at half amplitude.

    U is scaled by 2**31 - 1 and each product is shifted by 32 bits: y = U^T x / 2 (a quarter of the power).
    """
    rng = np.random.default_rng(3)
    axis = np.array([0.48, -0.6, 0.64])
    x = np.round(np.outer(8000 * np.sin(np.arange(400) * 0.3), axis) + rng.normal(0, 50, (400, 3))).astype(np.int64)
    y = remove_rotation(x[None])[0, 100:]
    power = (y.astype(float) ** 2).mean(0)
    assert power[0] > 50 * power[1:].max()
    assert power.sum() == pytest.approx((x[100:].astype(float) ** 2).mean(0).sum() / 4, rel=0.01)


@SETTINGS
@given(seed=st.integers(0, 2**31), shift=st.integers(0, 31), th=st.integers(1, 2**31 - 1))
def test_encoders_equal_rockpools(seed, shift, th):
    rng = np.random.default_rng(seed)
    y = rng.integers(-(2**23), 2**23, (1, 60, 15)) >> rng.integers(0, 23)
    th = int(th >> rng.integers(0, 31)) or 1
    ref_s = as_int(rp.ScaleSpikeEncoder((15, 15), num_scale_bits=shift)(obj(y))[0])
    ref_i = as_int(rp.IAFSpikeEncoder((15, 15), threshold=th)(obj(y))[0])
    np.testing.assert_array_equal(scale_encode(y, shift), ref_s)
    np.testing.assert_array_equal(iaf_encode(y, th), ref_i)


def _rockpool_from_registers(cfg: ImuInterfaceConfig):
    """IMUIFSim built from our `to_samna` register dict (checks the register semantics too)."""
    regs = cfg.to_samna()
    keys = ("bpf_bb_values", "bpf_bwf_values", "bpf_baf_values", "bpf_a1_values", "bpf_a2_values")
    filters = [rp.BandPassFilter(*vals) for vals in zip(*(regs[k] for k in keys), strict=True)]
    return rp.IMUIFSim(
        select_iaf_output=regs["select_iaf_output"],
        bypass_jsvd=regs["bypass_jsvd"],
        filter_list=filters,
        scale_values=regs["scale_values"],
        iaf_threshold_values=regs["iaf_threshold_values"],
        num_avg_bitshift=regs["estimator_k_setting"],
        SAH_period=regs["update_matrix_threshold"],
    )


@SETTINGS
@given(
    case=samples,
    encoder=st.sampled_from(["scale", "iaf"]),
    rotation=st.booleans(),
    shifts=st.lists(st.integers(0, 12), min_size=15, max_size=15),
    th=st.integers(16, 5000),
)
def test_full_interface_equals_rockpools_imuifsim(case, encoder, rotation, shifts, th):
    x = make_input(*case, 80)
    cfg = ImuInterfaceConfig(
        encoder=encoder, rotation_removal=rotation, scale_shift=shifts, iaf_threshold=th, filter_start="mirror"
    )
    ref = as_int(_rockpool_from_registers(cfg)(obj(x[None]))[0])
    np.testing.assert_array_equal(encode_imu(x[None], cfg), ref)


def test_default_interface_equals_rockpools_default_imuifsim():
    x = structured(11, 300)
    np.testing.assert_array_equal(
        encode_imu(x, ImuInterfaceConfig(filter_start="mirror")), as_int(rp.IMUIFSim()(obj(x[None]))[0])
    )


def test_zero_start_differs_from_mirror_mainly_at_the_start():
    x = structured(5, 600)
    zero, mirror = (encode_imu(x, ImuInterfaceConfig(filter_start=s)) for s in ("zero", "mirror"))
    assert zero.shape == (1, 600, 15) and zero.dtype == np.uint8 and zero.max() <= 15
    assert not np.array_equal(zero[:, :100], mirror[:, :100])
    late = np.abs(zero[:, 400:].astype(int) - mirror[:, 400:])  # the start-up transient has decayed ...
    assert late.max() <= 1 and late.mean() < 0.01  # ... up to the integer filters' rounding residue


def test_samna_registers_round_trip_and_name_the_fields():
    cfg = ImuInterfaceConfig(encoder="iaf", iaf_threshold=list(range(100, 1600, 100)), avg_shift=6, hold_period=20)
    regs = cfg.to_samna()
    assert regs["select_iaf_output"] is True and regs["estimator_k_setting"] == 6
    assert regs["bpf_a1_values"][:5] == regs["bpf_a1_values"][5:10] and len(regs["bpf_bb_values"]) == 15
    back = ImuInterfaceConfig.from_samna(regs)
    assert back.to_samna() == regs


@pytest.mark.parametrize(
    ("x", "match"),
    [
        (np.full((1, 5, 3), 32768), "exceeds 32767"),
        (np.full((1, 5, 3), 0.5), "integers"),
        (np.zeros((1, 5, 2)), r"shape \(N, T, 3\)"),
    ],
)
def test_bad_samples_are_refused(x, match):
    with pytest.raises(ConfigError, match=match):
        encode_imu(x)


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="scale_shift"):
        ImuInterfaceConfig(scale_shift=[1, 2])
    with pytest.raises(ValueError, match="bands"):
        ImuInterfaceConfig(bands=[(1.0, 2.0)] * 4)
    with pytest.raises(ValueError, match="0 < lo < hi"):
        ImuInterfaceConfig(bands=[(5.0, 120.0)] * 5)
