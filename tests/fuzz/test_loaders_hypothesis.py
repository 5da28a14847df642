"""Property tests of the loaders: any bytes, any mutation of a good file, any YAML/JSON text ->
either a valid object or one `ConfigError` line; never another exception, never a hang."""

from __future__ import annotations

import io
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzz import _mutate as m
from xylodeploy.errors import XylodeployError

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))


def _loaders():
    from xylodeploy.interop._common import load_graph
    from xylodeploy.io.npzfile import read_npz
    from xylodeploy.io.rasters import load_raster_npz
    from xylodeploy.io.yamlfile import load_yaml
    from xylodeploy.ir import load_spec
    from xylodeploy.train.checkpoint import load_model
    from xylodeploy.train.config import load_config

    return {"spec": load_spec, "graph": load_graph, "raster": load_raster_npz, "npz": read_npz,
            "ckpt": load_model, "config": load_config, "yaml": load_yaml}  # fmt: skip


KIND_OF = {"spec": "spec", "graph": "graph", "raster": "raster", "npz": "raster", "ckpt": "ckpt",
           "config": "config", "yaml": "config"}  # fmt: skip


def _only_config_errors(fn, path: Path) -> None:  # noqa: ANN001
    try:
        fn(path)
    except XylodeployError as exc:
        assert "\n" not in str(exc).strip() or len(str(exc)) < 4000
    # any other exception propagates and fails the test


@pytest.mark.parametrize("loader", list(KIND_OF))
@SETTINGS
@given(data=st.binary(max_size=2048))
def test_random_bytes(loader: str, data: bytes, tmp_path_factory) -> None:  # noqa: ANN001
    p = tmp_path_factory.mktemp("rb") / "f"
    p.write_bytes(data)
    _only_config_errors(_loaders()[loader], p)


@pytest.mark.parametrize("loader", list(KIND_OF))
@SETTINGS
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 64), cut=st.floats(0.0, 1.0))
def test_mutated_good_file(loader: str, seed: int, n: int, cut: float, good_files, tmp_path_factory) -> None:  # noqa: ANN001
    src = getattr(good_files, KIND_OF[loader])
    p = tmp_path_factory.mktemp("mut") / src.name
    shutil.copy(src, p)
    m.bitflip(p, seed, n)
    if cut < 0.3:
        m.truncate(p, cut / 0.3)
    _only_config_errors(_loaders()[loader], p)


ARRAYS = st.sampled_from(["<i8", "<f8", "|b1", "<c16", "<U3", "|u1", "<i2", "<f2", "|O"]).flatmap(
    lambda d: st.tuples(st.just(d), st.lists(st.integers(0, 10**6), min_size=0, max_size=4))
)


@SETTINGS
@given(spec=ARRAYS, payload=st.integers(0, 256))
def test_npz_header_vs_data(spec, payload: int, tmp_path_factory) -> None:  # noqa: ANN001
    """A member whose header declares any dtype and shape over any amount of data: refused or exact."""
    from xylodeploy.errors import ConfigError
    from xylodeploy.io.npzfile import read_npz

    descr, shape = spec
    p = tmp_path_factory.mktemp("hdr") / "x.npz"
    with zipfile.ZipFile(p, "w") as z:
        z.writestr("spikes.npy", m.npy_header_only(descr, tuple(shape), b"\1" * payload))
    try:
        out = read_npz(p)
    except ConfigError:
        return
    arr = out["spikes"]
    assert arr.dtype != object and arr.shape == tuple(shape) and arr.nbytes == payload


@SETTINGS
@given(depth=st.integers(1, 5000), kind=st.sampled_from("[{"))
def test_json_meta_depth(depth: int, kind: str) -> None:
    from xylodeploy.errors import ConfigError
    from xylodeploy.io.npzfile import MAX_META_DEPTH, json_meta

    close = "]" if kind == "[" else "}"
    text = ('{"a": ' + "[" * depth + "]" * depth + "}") if kind == "[" else ('{"a": ' * depth + "1" + close * depth)
    arr = np.frombuffer(text.encode(), np.uint8)
    nesting = depth + 1 if kind == "[" else depth  # the outer object counts as one level
    if nesting > MAX_META_DEPTH:
        with pytest.raises(ConfigError, match="nests deeper"):
            json_meta(arr, "x")
    else:
        assert isinstance(json_meta(arr, "x"), dict)


@SETTINGS
@given(text=st.text(max_size=400))
def test_yaml_any_text(text: str, tmp_path_factory) -> None:  # noqa: ANN001
    from xylodeploy.io.yamlfile import load_yaml

    p = tmp_path_factory.mktemp("y") / "c.yaml"
    p.write_text(text)
    _only_config_errors(load_yaml, p)


@pytest.mark.parametrize("levels,width", [(9, 9), (30, 2), (5, 100)])
def test_yaml_alias_bomb_is_refused_from_the_node_graph(levels: int, width: int, tmp_path: Path) -> None:
    from xylodeploy.errors import ConfigError
    from xylodeploy.io.yamlfile import load_yaml

    lines = ["a0: &a0 [x]"] + [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * width) + "]" for i in range(1, levels)]
    p = tmp_path / "bomb.yaml"
    p.write_text("\n".join(lines) + "\n")
    with pytest.raises(ConfigError, match="alias bomb|nests deeper"):
        load_yaml(p)


def test_yaml_small_alias_use_still_works(tmp_path: Path) -> None:
    from xylodeploy.io.yamlfile import load_yaml

    p = tmp_path / "ok.yaml"
    p.write_text("base: &b {lr: 0.1}\ntrain: *b\n")
    assert load_yaml(p) == {"base": {"lr": 0.1}, "train": {"lr": 0.1}}


def test_npz_reader_reads_what_numpy_writes(tmp_path: Path) -> None:
    """The checked reader returns numpy's own arrays, bit for bit (stored and deflated archives)."""
    from xylodeploy.io.npzfile import read_npz

    rng = np.random.default_rng(0)
    arrays = {"a": rng.integers(-5, 5, (3, 4, 2)), "b": rng.random(7).astype(np.float32), "c": np.zeros((0, 3))}
    for save in (np.savez, np.savez_compressed):
        buf = io.BytesIO()
        save(buf, **arrays)
        (tmp_path / "x.npz").write_bytes(buf.getvalue())
        out = read_npz(tmp_path / "x.npz")
        assert set(out) == set(arrays)
        for k, v in arrays.items():
            assert out[k].dtype == v.dtype and np.array_equal(out[k], v)
