"""The .xylo format: exact round trips, atomic writes, one-line errors on bad files."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import xylodeploy.io.files
from xylodeploy.errors import ConfigError
from xylodeploy.ir import SCHEMA_VERSION, XyloSpec, empty_spec, load_spec, save_spec
from xylodeploy.ir.serialize import META_KEY

INT64 = st.integers(np.iinfo(np.int64).min, np.iinfo(np.int64).max)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=10,
)


@st.composite
def specs(draw: st.DrawFn) -> XyloSpec:
    n_in, n_h, n_out, n_syn = (draw(st.integers(lo, hi)) for lo, hi in ((0, 4), (1, 5), (1, 3), (1, 2)))

    def arr(shape: tuple[int, ...]) -> np.ndarray:
        return draw(hnp.arrays(np.int64, shape, elements=INT64))

    fields = {
        "weights_in": arr((n_in, n_h, n_syn)),
        "weights_rec": arr((n_h, n_h, n_syn)),
        "weights_out": arr((n_h, n_out)),
        **{k: arr((n_h,)) for k in ("dash_mem", "dash_syn", "dash_syn_2", "threshold", "bias")},
        **{k: arr((n_out,)) for k in ("dash_mem_out", "dash_syn_out", "threshold_out", "bias_out")},
    }
    aliases = [tuple(draw(st.lists(st.integers(-(2**40), 2**40), max_size=3))) for _ in range(n_h)]
    return XyloSpec(
        chip=draw(st.sampled_from(["xylo-audio2", "xylo-imu", "xylo-audio3", "anything ünïcode"])),
        **fields,
        weight_shift_in=draw(INT64),
        weight_shift_rec=draw(INT64),
        weight_shift_out=draw(INT64),
        aliases=aliases,
        dt=draw(st.floats(allow_nan=False, allow_infinity=False)),
        provenance=draw(st.dictionaries(st.text(max_size=6), JSON, max_size=4)),
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(spec=specs())
def test_round_trip_exact(tmp_path: Path, spec: XyloSpec) -> None:
    path = tmp_path / "net.xylo"
    save_spec(spec, path)
    back = load_spec(path)
    assert back.equals(spec, provenance=True)
    assert back.chip == spec.chip and back.aliases == spec.aliases and back.dt == spec.dt
    assert [f.name for f in tmp_path.iterdir()] == ["net.xylo"]


def test_method_api_and_numpy_provenance(tmp_path: Path) -> None:
    spec = empty_spec("xylo-imu", 2, 3, 1, provenance={"n": np.int64(3), "x": np.float32(0.5), "a": np.arange(3)})
    spec.save(tmp_path / "a.xylo")
    back = XyloSpec.load(tmp_path / "a.xylo")
    assert dict(back.provenance) == {"n": 3, "x": 0.5, "a": [0, 1, 2]}


@pytest.fixture
def valid_file(tmp_path: Path) -> Path:
    path = tmp_path / "net.xylo"
    empty_spec("xylo-audio2", 2, 3, 2, 2, provenance={"v": 1}).save(path)
    return path


def test_failed_save_leaves_existing_file_untouched(valid_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = valid_file.read_bytes()

    def boom(fd: int) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(xylodeploy.io.files.os, "fsync", boom)
    with pytest.raises(OSError, match="disk full"):
        empty_spec("xylo-imu", 1, 1, 1).save(valid_file)
    assert valid_file.read_bytes() == before
    assert [p.name for p in valid_file.parent.iterdir()] == [valid_file.name]


def test_unserialisable_provenance_is_config_error_and_writes_nothing(valid_file: Path) -> None:
    before = valid_file.read_bytes()
    with pytest.raises(ConfigError, match="provenance"):
        empty_spec("xylo-imu", 1, 1, 1, provenance={"f": object()}).save(valid_file)
    assert valid_file.read_bytes() == before
    assert [p.name for p in valid_file.parent.iterdir()] == [valid_file.name]


def _members(path: Path) -> dict[str, np.ndarray]:
    with np.load(path) as npz:
        return {k: npz[k] for k in npz.files}


def _rewrite(path: Path, members: dict[str, np.ndarray]) -> None:
    buf = io.BytesIO()
    np.savez(buf, **members)
    path.write_bytes(buf.getvalue())


def _edit_meta(path: Path, **changes: object) -> None:
    members = _members(path)
    meta = json.loads(members[META_KEY].tobytes().decode())
    for key, value in changes.items():
        if value is None:
            del meta[key]
        else:
            meta[key] = value
    members[META_KEY] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    _rewrite(path, members)


def _expect_error(path: Path, *needles: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_spec(path)
    msg = str(info.value)
    assert "\n" not in msg, msg
    assert str(path) in msg, msg
    for needle in needles:
        assert needle in msg, msg


def test_corrupt_bytes(valid_file: Path) -> None:
    valid_file.write_bytes(os.urandom(300))
    _expect_error(valid_file)


@pytest.mark.parametrize("fraction", [0.1, 0.5, 0.9, 0.99])
def test_truncated(valid_file: Path, fraction: float) -> None:
    data = valid_file.read_bytes()
    valid_file.write_bytes(data[: int(len(data) * fraction)])
    _expect_error(valid_file)


def test_flipped_byte_in_member_data(valid_file: Path) -> None:
    data = bytearray(valid_file.read_bytes())
    data[len(data) // 3] ^= 0xFF
    valid_file.write_bytes(bytes(data))
    with pytest.raises(ConfigError):
        load_spec(valid_file)


@pytest.mark.parametrize("version", [0, SCHEMA_VERSION + 1, "1"])
def test_wrong_schema_version(valid_file: Path, version: object) -> None:
    _edit_meta(valid_file, schema_version=version)
    _expect_error(valid_file, "schema_version")


def test_wrong_format_name(valid_file: Path) -> None:
    _edit_meta(valid_file, format="something-else")
    _expect_error(valid_file, "format")


@pytest.mark.parametrize("field", ["chip", "dt", "aliases", "provenance", "weight_shift_rec"])
def test_missing_meta_field(valid_file: Path, field: str) -> None:
    _edit_meta(valid_file, **{field: None})
    _expect_error(valid_file, field)


@pytest.mark.parametrize(
    ("field", "value"),
    [("aliases", 5), ("aliases", [[0.5]] * 3), ("provenance", [1]), ("dt", "x"), ("weight_shift_in", 1.5)],
)
def test_bad_meta_values(valid_file: Path, field: str, value: object) -> None:
    _edit_meta(valid_file, **{field: value})
    _expect_error(valid_file, field)


@pytest.mark.parametrize("field", ["weights_rec", "threshold_out", "dash_syn_2"])
def test_missing_array_field(valid_file: Path, field: str) -> None:
    members = _members(valid_file)
    del members[field]
    _rewrite(valid_file, members)
    _expect_error(valid_file, field)


@pytest.mark.parametrize(("field", "shape"), [("weights_out", (3, 3)), ("bias", (4,)), ("weights_in", (2, 3))])
def test_wrong_shape(valid_file: Path, field: str, shape: tuple[int, ...]) -> None:
    members = _members(valid_file)
    members[field] = np.zeros(shape, np.int64)
    _rewrite(valid_file, members)
    _expect_error(valid_file, field)


def test_float_member_with_fractions(valid_file: Path) -> None:
    members = _members(valid_file)
    members["threshold"] = np.array([0.5, 1, 1])
    _rewrite(valid_file, members)
    _expect_error(valid_file, "threshold")


def test_object_member_is_refused_without_unpickling(valid_file: Path) -> None:
    members = _members(valid_file)
    members["bias"] = np.array([{"evil": 1}, None, 3], dtype=object)
    buf = io.BytesIO()
    np.savez(buf, **members)
    valid_file.write_bytes(buf.getvalue())
    _expect_error(valid_file)


def test_not_xylo_files(tmp_path: Path) -> None:
    text = tmp_path / "a.xylo"
    text.write_text("hello, I am a text file\n")
    _expect_error(text)
    npy = tmp_path / "b.xylo"
    with npy.open("wb") as fh:
        np.save(fh, np.zeros(3))
    _expect_error(npy)
    plain_npz = tmp_path / "c.npz"
    np.savez(plain_npz, spikes=np.zeros((2, 3)))
    _expect_error(plain_npz, META_KEY)


def test_empty_missing_and_directory(tmp_path: Path) -> None:
    empty = tmp_path / "e.xylo"
    empty.write_bytes(b"")
    _expect_error(empty, "empty")
    _expect_error(tmp_path / "nope.xylo", "not found")
    with pytest.raises(ConfigError, match="directory"):
        load_spec(tmp_path)


def test_meta_not_json(valid_file: Path) -> None:
    members = _members(valid_file)
    members[META_KEY] = np.frombuffer(b"\xff\xfe{not json", np.uint8)
    _rewrite(valid_file, members)
    _expect_error(valid_file, "metadata")
