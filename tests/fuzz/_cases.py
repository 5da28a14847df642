"""The hostile case table: (command line, how the good files are damaged, what must happen).

Every case runs in its own copy of the good files (`_fixtures`). ``expect="fail"``: a one-line
``error:`` and a non-zero exit; ``expect="any"``: success is allowed, but the other checks hold
(no traceback, no changed input or earlier output, nothing executed).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tests.fuzz import _mutate as m
from tests.fuzz._fixtures import Files


@dataclass(frozen=True)
class Case:
    name: str
    argv: Callable[[Files], list[str]]
    prep: Callable[[Files], Any] | None = None
    expect: str = "fail"
    slow: bool = False  # trains or runs a pipeline when it wrongly succeeds


def _p(fn: Callable, *args: Any, **kw: Any) -> Callable[[Files], Any]:
    return lambda f: fn(f, *args, **kw)


# ---- commands that read a spec, a raster, a graph -------------------------------------------------
SPEC_CMDS: dict[str, Callable[[Files], list[str]]] = {
    "inspect": lambda f: ["inspect", str(f.spec)],
    "simulate": lambda f: ["simulate", str(f.spec), "-i", str(f.raster), "-o", str(f.root / "sim_out.npz")],
    "deploy": lambda f: ["deploy", str(f.spec), "--device", "reference", "--data", str(f.raster)],
    "power": lambda f: ["power", str(f.spec), "--data", str(f.raster), "--out", str(f.root / "pw")],
    "export": lambda f: ["export", str(f.spec), "--to", "onnx", "-o", str(f.root / "x.onnx")],
    "validate": lambda f: ["validate", str(f.spec), "--data", str(f.raster), "--no-exact", "--device-clips", "1"],
}
RASTER_CMDS: dict[str, Callable[[Files], list[str]]] = {
    "simulate": SPEC_CMDS["simulate"],
    "deploy": SPEC_CMDS["deploy"],
    "power": SPEC_CMDS["power"],
    "validate": SPEC_CMDS["validate"],
    "quantize": lambda f: ["quantize", str(f.ckpt), "--data", str(f.raster), "-o", str(f.root / "q.xylo")],
    "import": lambda f: ["import", str(f.nir), "--from", "nir", "--example-input", str(f.raster),
                         "-o", str(f.root / "g2.npz")],
}  # fmt: skip
GRAPH_CMDS = {
    "export-nir": lambda f: ["export", str(f.graph), "--to", "nir", "-o", str(f.root / "x.nir")],
    "export-onnx": lambda f: ["export", str(f.graph), "--to", "onnx", "-o", str(f.root / "x.onnx")],
}
CKPT_CMDS = {
    "quantize": lambda f: ["quantize", str(f.ckpt), "-o", str(f.root / "q.xylo")],
    "validate": lambda f: ["validate", str(f.spec), "--checkpoint", str(f.ckpt), "--no-exact", "--max-clips", "2",
                           "--device-clips", "1"],
}  # fmt: skip


def _file_attacks(attr: str) -> dict[str, Callable[[Files], Any]]:
    """Damage common to every npz-like file kind."""

    def on(fn: Callable, *a: Any) -> Callable[[Files], Any]:
        return lambda f: fn(getattr(f, attr), *a)

    out = {
        "empty": on(lambda p: p.write_bytes(b"")),
        "truncated": on(m.truncate, 0.5),
        "truncated_tail": on(m.truncate, 0.97),
        "random": on(m.random_bytes, 1),
        "directory": on(lambda p: (p.unlink(), p.mkdir())),
        "missing": on(lambda p: p.unlink()),
        "unknown_compression": on(m.unknown_compression),
        "bare_npy": on(lambda p: p.write_bytes(m.npy(np.zeros(3, np.int64)))),
        "unreadable_fifo": on(lambda p: (p.unlink(), __import__("os").mkfifo(p))),
    }
    for s in range(6):
        out[f"bitflip{s}"] = on(m.bitflip, s)
    return out


def _npz_member_attacks(attr: str, names: list[str]) -> dict[str, Callable[[Files], Any]]:
    out: dict[str, Callable[[Files], Any]] = {}
    for name in names:

        def huge(f: Files, name: str = name) -> None:
            m.set_member(getattr(f, attr), name, m.npy_header_only("<f8", (10**10, 4)))

        def short(f: Files, name: str = name) -> None:
            arr = m.get_array(getattr(f, attr), name)
            m.set_member(getattr(f, attr), name, m.npy_header_only(arr.dtype.str, (arr.size * 4 + 4,), b"\0" * 8))

        def obj(f: Files, name: str = name) -> None:
            m.set_member(getattr(f, attr), name, np.array([m.Evil(str(f.root / "MARKER"))], dtype=object))

        def typed(f: Files, dtype: str, name: str = name) -> None:
            arr = m.get_array(getattr(f, attr), name)
            m.set_member(getattr(f, attr), name, arr.astype(dtype) if dtype != "bool" else arr != 0)

        def nan(f: Files, name: str = name) -> None:
            arr = m.get_array(getattr(f, attr), name).astype(float)
            if arr.size:
                arr.flat[0] = np.nan
            m.set_member(getattr(f, attr), name, arr)

        out |= {f"{name}:huge_header": huge, f"{name}:short_data": short, f"{name}:object": obj,
                f"{name}:bool": functools.partial(typed, dtype="bool"),
                f"{name}:complex": functools.partial(typed, dtype="complex128"),
                f"{name}:string": functools.partial(typed, dtype="U3"),
                f"{name}:nan": nan, f"{name}:missing": lambda f, name=name: m.drop_member(getattr(f, attr), name),
                f"{name}:scalar": lambda f, name=name: m.set_member(getattr(f, attr), name, np.int64(3))}  # fmt: skip
    return out


def _meta(attr: str, fn: Callable[[dict], Any]) -> Callable[[Files], Any]:
    return lambda f: m.edit_meta(getattr(f, attr), fn)


def _setk(key: str, value: Any) -> Callable[[dict], Any]:
    def fn(meta: dict) -> None:
        meta[key] = value

    return fn


SPEC_META = {
    **{f"dt={v!r}": _setk("dt", v) for v in (-1e-3, 0, True, "abc", 1e-300, 5e-324, None, [1], 1e6, float("inf"))},
    **{f"shift_in={v!r}": _setk("weight_shift_in", v) for v in (-1, 99, 1.5, True, "3", 2**70)},
    **{f"chip={v!r}": _setk("chip", v) for v in ("nope", 5, None)},
    **{f"aliases={v!r}": _setk("aliases", v) for v in ("x", [[-1]], [[99999]], [[1.5]], 7, [[True]])},
    **{f"provenance={v!r}": _setk("provenance", v) for v in ([], 5)},
    **{f"schema={v!r}": _setk("schema_version", v) for v in (2, "1", True)},
    "meta_deep": lambda meta: m.deep_json(),
    "meta_not_json": lambda meta: b"\xff\xfe{{{",
    "meta_list": lambda meta: [1, 2],
}


def _spec_arr(name: str, fn: Callable[[np.ndarray], Any]) -> Callable[[Files], Any]:
    def prep(f: Files) -> None:
        arr = m.get_array(f.spec, name)
        m.set_member(f.spec, name, fn(arr.copy()))

    return prep


def _first(v: Any) -> Callable[[np.ndarray], np.ndarray]:
    def fn(a: np.ndarray) -> np.ndarray:
        a.flat[0] = v
        return a

    return fn


def _hidden(n: int) -> Callable[[Files], Any]:
    """A spec with ``n`` hidden neurons (consistent shapes): more than the chip has."""

    def prep(f: Files) -> None:
        raw = {k: m.get_array(f.spec, k) for k in m.members(f.spec)}
        nin, nh, ns = raw["weights_in"].shape
        nout = raw["weights_out"].shape[1]
        new = {"weights_in": np.zeros((nin, n, ns), np.int64), "weights_rec": np.zeros((n, n, ns), np.int64),
               "weights_out": np.zeros((n, nout), np.int64)}  # fmt: skip
        for k in ("dash_mem", "dash_syn", "dash_syn_2", "threshold", "bias"):
            new[k] = np.resize(raw[k], n)
        for k, v in new.items():
            m.set_member(f.spec, k, v)
        m.edit_meta(f.spec, _setk("aliases", []))

    return prep


SPEC_ARRAYS = {
    "weights_in=1000": _spec_arr("weights_in", _first(1000)),
    "weights_rec=-1000": _spec_arr("weights_rec", _first(-1000)),
    "weights_out=2**40": _spec_arr("weights_out", _first(2**40)),
    "dash_mem=99": _spec_arr("dash_mem", _first(99)),
    "dash_syn=-1": _spec_arr("dash_syn", _first(-1)),
    "threshold=2**20": _spec_arr("threshold", _first(2**20)),
    "bias_out=-2**20": _spec_arr("bias_out", _first(-(2**20))),
    "weights_in:float_half": _spec_arr("weights_in", lambda a: a.astype(float) + 0.5),
    "weights_in:uint64_huge": _spec_arr("weights_in", lambda a: np.full(a.shape, 2**64 - 1, np.uint64)),
    "weights_in:wrong_shape": _spec_arr("weights_in", lambda a: a[:, :-1]),
    "weights_in:4d": _spec_arr("weights_in", lambda a: a[None]),
    "weights_out:0_readouts": _spec_arr("weights_out", lambda a: a[:, :0]),
    "hidden_2000": _hidden(2000),
}


def spec_cases() -> list[Case]:
    prep = {**_file_attacks("spec"), **_npz_member_attacks("spec", ["weights_in", "__meta__"])}
    prep |= {k: _meta("spec", fn) for k, fn in SPEC_META.items()} | SPEC_ARRAYS
    out = []
    for cmd, argv in SPEC_CMDS.items():
        keys = list(prep) if cmd in ("inspect", "simulate", "export") else list(prep)[::3]
        out += [Case(f"spec/{cmd}/{k}", argv, prep[k]) for k in keys]
    return out


def _raster_set(name: str, fn: Callable[[np.ndarray], Any]) -> Callable[[Files], Any]:
    def prep(f: Files) -> None:
        m.set_member(f.raster, name, fn(m.get_array(f.raster, name).copy()))

    return prep


RASTER_VALUES = {
    "spikes:negative": _raster_set("spikes", _first(-1)),
    "spikes:float_half": _raster_set("spikes", lambda a: a.astype(float) + 0.5),
    "spikes:inf": _raster_set("spikes", lambda a: _first(np.inf)(a.astype(float))),
    "spikes:1d": _raster_set("spikes", lambda a: a.ravel()),
    "spikes:4d": _raster_set("spikes", lambda a: a[None]),
    "spikes:0_steps": _raster_set("spikes", lambda a: a[:, :0]),
    "spikes:0_clips": _raster_set("spikes", lambda a: a[:0]),
    "spikes:channels+1": _raster_set("spikes", lambda a: np.concatenate([a, a[..., :1]], -1)),
    "spikes:uint64_huge": _raster_set("spikes", lambda a: np.full(a.shape, 2**64 - 1, np.uint64)),
    "labels:out_of_range": _raster_set("labels", lambda a: a + 100),
    "labels:negative": _raster_set("labels", lambda a: a - 100),
    "labels:float_half": _raster_set("labels", lambda a: a.astype(float) + 0.5),
    "labels:wrong_len": _raster_set("labels", lambda a: a[:-1]),
    "labels:2d": _raster_set("labels", lambda a: a[:, None]),
}


def raster_cases() -> list[Case]:
    prep = {**_file_attacks("raster"), **_npz_member_attacks("raster", ["spikes", "labels"]), **RASTER_VALUES}
    prep.pop("labels:missing")  # labels are optional
    out = []
    for cmd, argv in RASTER_CMDS.items():
        keys = list(prep) if cmd in ("simulate", "deploy") else list(prep)[::2]
        out += [Case(f"raster/{cmd}/{k}", argv, prep[k]) for k in keys]
    return out


def _pop(key: str, value: Any) -> Callable[[dict], Any]:
    def fn(meta: dict) -> None:
        meta["populations"][0][key] = value

    return fn


GRAPH_META = {
    **{f"n_inputs={v!r}": _setk("n_inputs", v) for v in ("x", -1, True, 0, 10**12)},
    **{f"pop.size={v!r}": _pop("size", v) for v in (-1, 0, 10**9, "8", True)},
    **{f"pop.dt={v!r}": _pop("dt", v) for v in (0, -1e-3, "abc", None, 1e-300)},
    "populations=x": _setk("populations", "x"),
    "connections:missing_pop": lambda meta: meta["connections"].append({"source": "input", "target": "ghost"}),
    "readout=ghost": _setk("readout", "ghost"),
    "meta_deep": lambda meta: m.deep_json(),
}


def _graph_arr(fn: Callable[[np.ndarray], Any], key: str = "conn0.weight") -> Callable[[Files], Any]:
    return lambda f: m.set_member(f.graph, key, fn(m.get_array(f.graph, key).copy()))


def graph_cases() -> list[Case]:
    prep = {**_file_attacks("graph"), **_npz_member_attacks("graph", ["conn0.weight", "__meta__"])}
    prep |= {k: _meta("graph", fn) for k, fn in GRAPH_META.items()}
    prep |= {"weight:nan": _graph_arr(lambda a: _first(np.nan)(a.astype(float))),
             "weight:wrong_shape": _graph_arr(lambda a: a[:-1]),
             "weight:1e300": _graph_arr(lambda a: _first(1e300)(a.astype(float)))}  # fmt: skip
    return [Case(f"graph/{cmd}/{k}", argv, prep[k]) for cmd, argv in GRAPH_CMDS.items() for k in prep]


def _ck(fn: Callable[[dict], Any]) -> Callable[[Files], Any]:
    return lambda f: m.edit_checkpoint(f.ckpt, fn)


def _sd_first(value: float) -> Callable[[dict], Any]:
    def fn(raw: dict) -> None:
        t = next(v for v in raw["state_dict"].values() if v.is_floating_point() and v.numel())
        t.view(-1)[0] = value

    return fn


def _kw(key: str, value: Any) -> Callable[[dict], Any]:
    def fn(raw: dict) -> None:
        raw["model"]["init_kwargs"][key] = value

    return fn


def _other_classes(raw: dict) -> None:
    """A checkpoint of another model: 4 classes (the spec has 6 readouts)."""
    import torch

    raw["model"]["init_kwargs"]["n_classes"] = 4
    for k, v in list(raw["state_dict"].items()):
        if v.ndim >= 1 and v.shape[0] == 6:
            raw["state_dict"][k] = torch.zeros((4, *v.shape[1:]), dtype=v.dtype)
    raw["dataset"]["n_classes"] = 4


CKPT = {
    "pickle_payload": lambda f: m.evil_torch_file(f.ckpt, f.root / "MARKER"),
    "weight_nan": _ck(_sd_first(float("nan"))),
    "weight_inf": _ck(_sd_first(float("inf"))),
    "empty_config": _ck(lambda raw: raw.__setitem__("config", {})),
    "other_model_4_classes": _ck(_other_classes),
    "hidden_3000000": _ck(_kw("size_hidden_layers", [3_000_000])),
    "n_classes_str": _ck(_kw("n_classes", "6")),
    "n_classes_0": _ck(_kw("n_classes", 0)),
    "init_kwargs_extra": _ck(_kw("evil", 1)),
    "class_os_system": _ck(lambda raw: raw["model"].__setitem__("class", "os:system")),
    "state_dict_not_tensor": _ck(lambda raw: raw["state_dict"].__setitem__(next(iter(raw["state_dict"])), 3)),
    "epoch_bool": _ck(lambda raw: raw.__setitem__("epoch", True)),
    "not_a_dict": _ck(lambda raw: [1, 2, 3]),
    "config_lr_nan": _ck(lambda raw: raw["config"]["train"].__setitem__("lr", float("nan"))),
}


def ckpt_cases() -> list[Case]:
    prep = {**_file_attacks("ckpt"), **CKPT}
    prep.pop("bare_npy")
    prep.pop("unknown_compression")
    return [Case(f"ckpt/{cmd}/{k}", argv, prep[k]) for cmd, argv in CKPT_CMDS.items() for k in prep]


# ---- YAML configs ----------------------------------------------------------------------------------
def _alias_bomb(p: Path) -> None:
    lines = ['a0: &a0 ["x","x","x","x","x","x","x","x","x"]']
    lines += [f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 9)]
    text = p.read_text().replace("lr: 0.01", "lr: *a8")
    p.write_text("\n".join(lines) + "\n" + text)


def _yaml(key: str, text: str) -> Callable[[Files], Any]:
    return lambda f: (m.yaml_set_text(f.config, key, text), m.yaml_set_text(f.pconfig, key, text))


YAML_VALUES = {
    "train.epochs": ["true", "0", "-1", "1.5", "'3'", ".inf", "1e12"],
    "train.lr": [".inf", ".nan", "-1", "0", "true", "1e300"],
    "seed": ["-1", "1.5", "1e30", "true", "'x'"],
    "data.n_train": ["1000000000000", "0", "true"],
    "data.duration_ms": ["0.1", ".inf", "1e12", "-5"],
    "model.dt": ["1e-9", "0", "-1", ".nan"],
    "model.size_hidden_layers": ["[3000000]", "[]", "[0]", "[-1]", "abc", "[true]"],
    "model.surrogate": ["nonsense"],
    "train.batch_size": ["0", "1000000000", "true"],
    "train.threads": ["0", "100000"],
    "data.n_classes": ["1000", "1.5"],
    "data.n_channels": ["100", "0"],
    "model.time_constants_per_layer": ["[-1]", "[true]"],
    "model.tau_mem": [".inf", "-1", "0"],
    "data.noise_rate": [".nan", "1e300"],
    "data.onset_ms": ["[0, .inf]", "[.nan, 1]"],
}


def _whole(fn: Callable[[Path], Any]) -> Callable[[Files], Any]:
    return lambda f: (fn(f.config), fn(f.pconfig))


YAML_FILES = {
    "alias_bomb": _whole(_alias_bomb),
    "deep_nesting": _whole(lambda p: p.write_text("seed: " + "[" * 20000 + "]" * 20000 + "\n")),
    "deep_block": _whole(lambda p: p.write_text("".join(" " * i + f"k{i}:\n" for i in range(3000)))),
    "unknown_key_3MB": _whole(lambda p: p.write_text(p.read_text() + "bogus: '" + "x" * 3_000_000 + "'\n")),
    "big_list_3MB": _whole(lambda p: p.write_text(p.read_text() + "bogus: [" + "1," * 1_500_000 + "1]\n")),
    "not_utf8": _whole(lambda p: p.write_bytes(b"seed: \xff\xfe\n")),
    "python_tag": _whole(lambda p: p.write_text("seed: !!python/object/apply:os.system ['touch MARKER']\n")),
    "top_level_list": _whole(lambda p: p.write_text("- 1\n- 2\n")),
    "tab_indent": _whole(lambda p: p.write_text("train:\n\tepochs: 2\n")),
    "empty": _whole(lambda p: p.write_text("")),
    "random": _whole(lambda p: m.random_bytes(p, 3)),
    "directory": _whole(lambda p: (p.unlink(), p.mkdir())),
}


def yaml_cases() -> list[Case]:
    out = []
    for cmd, key in (("train", "config"), ("pipeline", "pconfig")):

        def argv(f: Files, key: str = key, cmd: str = cmd) -> list[str]:
            return [cmd, str(getattr(f, key)), "--out", str(f.root / "run")]

        for k, prep in YAML_FILES.items():
            if cmd == "train" or k in ("alias_bomb", "unknown_key_3MB", "python_tag", "deep_nesting"):
                out.append(Case(f"yaml/{cmd}/{k}", argv, prep, "any" if k == "empty" else "fail", slow=True))
        for key2, values in YAML_VALUES.items():
            for v in values if cmd == "train" else values[:1]:
                expect = "any" if cmd == "train" and f"{key2}={v}" in ANY_FOR_TRAIN else "fail"
                out.append(Case(f"yaml/{cmd}/{key2}={v}", argv, _yaml(key2, v), expect, slow=True))
    return out


ANY_FOR_TRAIN = {"data.n_channels=100"}


# ---- import (model files, NIR) --------------------------------------------------------------------
def _nir_edit(fn: Callable[[Any], Any]) -> Callable[[Files], Any]:
    def prep(f: Files) -> None:
        import nir

        g = nir.read(str(f.nir))
        out = fn(g)
        nir.write(str(f.nir), g if out is None else out)

    return prep


def _nir_node(kind: str, attr: str, fn: Callable[[np.ndarray], Any]) -> Callable[[Any], Any]:
    def edit(g: Any) -> None:
        node = next(n for n in g.nodes.values() if type(n).__name__ == kind)
        setattr(node, attr, fn(np.asarray(getattr(node, attr)).copy()))

    return edit


def _nir_py(text: str) -> Callable[[Files], Any]:
    return lambda f: f.modelpy.write_text(text)


IMPORT = {
    "nir": {
        **{k: v for k, v in _file_attacks("nir").items() if k not in ("bare_npy", "unknown_compression")},
        "weight_wrong_shape": _nir_edit(_nir_node("Linear", "weight", lambda a: a[:-1])),
        "weight_nan": _nir_edit(_nir_node("Linear", "weight", lambda a: _first(np.nan)(a))),
        "tau_negative": _nir_edit(_nir_node("CubaLIF", "tau_mem", lambda a: -a)),
        "tau_zero": _nir_edit(_nir_node("CubaLIF", "tau_syn", lambda a: a * 0)),
        "threshold_nan": _nir_edit(_nir_node("CubaLIF", "v_threshold", lambda a: a * np.nan)),
        "edge_missing_node": _nir_edit(lambda g: g.edges.append((next(iter(g.nodes)), "ghost"))),
        "dt_abc": _nir_edit(lambda g: g.metadata.__setitem__("dt", "abc")),
        "dt_negative": _nir_edit(lambda g: g.metadata.__setitem__("dt", -1.0)),
    },
}
IMPORT_PY = {
    "syntax_error": "def net(:\n",
    "raising_factory": "def net():\n    raise RuntimeError('boom')\n",
    "not_a_module": "net = 42\n",
    "raising_import": "raise ValueError('at import')\n",
    "exit_at_import": "import sys\nsys.exit(0)\n",
    "recursion": "def net():\n    return net()\n",
}


def import_cases() -> list[Case]:
    out: list[Case] = []
    nir_argv = lambda f: ["import", str(f.nir), "--from", "nir", "-o", str(f.root / "g2.npz")]  # noqa: E731
    out += [Case(f"import/nir/{k}", nir_argv, p) for k, p in IMPORT["nir"].items()]
    for dt in ("0", "-1", "nan", "inf", "1e-300"):
        out.append(Case(f"import/nir/--dt={dt}", lambda f, dt=dt: [*nir_argv(f), "--dt", dt]))
    for src in ("snntorch", "spikingjelly", "rockpool"):

        def argv(f: Files, src: str = src) -> list[str]:
            return ["import", str(f.root / "evil.pt"), "--from", src, "-o", str(f.root / "g2.npz")]

        evil = lambda f: m.evil_torch_file(f.root / "evil.pt", f.root / "MARKER")  # noqa: E731
        out.append(Case(f"import/{src}/pickle_payload", argv, evil))
        for k, text in IMPORT_PY.items():
            argv_py = lambda f, src=src: ["import", f"{f.modelpy}:net", "--from", src, "-o", str(f.root / "g2.npz")]  # noqa: E731
            out.append(Case(f"import/{src}/py_{k}", argv_py, _nir_py(text)))
        for n in ("0", "-1"):

            def argv_n(f: Files, src: str = src, n: str = n) -> list[str]:
                return ["import", f"{f.modelpy}:net", "--from", src, "--n-inputs", n, "-o", str(f.root / "g2.npz")]

            out.append(Case(f"import/{src}/--n-inputs={n}", argv_n))
    return out


# ---- output paths and options -------------------------------------------------------------------------
WRITERS: dict[str, Callable[[Files, str], list[str]]] = {
    "simulate": lambda f, o: ["simulate", str(f.spec), "-i", str(f.raster), "-o", o],
    "export-onnx": lambda f, o: ["export", str(f.spec), "--to", "onnx", "-o", o],
    "export-nir": lambda f, o: ["export", str(f.graph), "--to", "nir", "-o", o],
    "quantize": lambda f, o: ["quantize", str(f.ckpt), "--data", str(f.raster), "-o", o],
    "import": lambda f, o: ["import", str(f.nir), "--from", "nir", "-o", o],
    "power": lambda f, o: ["power", str(f.spec), "--data", str(f.raster), "--out", o],
}
RO_DIR = Path("/tmp/xylo_fuzz_ro")  # a read-only mount, set up by the harness when it can
FULL_DIR = Path("/tmp/xylo_fuzz_full")  # a full (64 kB) mount


def output_cases() -> list[Case]:
    out = []
    for cmd, argv in WRITERS.items():
        inputs = {"simulate": ("spec", "raster"), "export-onnx": ("spec",), "export-nir": ("graph",),
                  "quantize": ("ckpt", "raster"), "import": ("nir",), "power": ()}[cmd]  # fmt: skip
        for attr in inputs:
            out.append(Case(f"out/{cmd}/-o=input:{attr}", lambda f, a=argv, attr=attr: a(f, str(getattr(f, attr)))))
        out.append(Case(f"out/{cmd}/under_a_file", lambda f, a=argv: a(f, str(f.raster / "x" / "out.bin"))))
        out.append(Case(f"out/{cmd}/read_only", lambda f, a=argv: a(f, str(RO_DIR / "out.bin"))))
        out.append(Case(f"out/{cmd}/full_disk", lambda f, a=argv: a(f, str(FULL_DIR / "out.bin"))))
    return out


def option_cases() -> list[Case]:
    q = lambda f: ["quantize", str(f.ckpt), "--data", str(f.raster), "-o", str(f.root / "q.xylo")]  # noqa: E731
    out = [Case(f"opt/quantize/--finetune-lr={v}", lambda f, v=v: [*q(f), "--finetune-epochs", "1", "--finetune-lr", v])
           for v in ("nan", "inf", "1e300")]  # fmt: skip
    out += [Case("opt/quantize/--chip=nope", lambda f: [*q(f), "--chip", "nope"])]
    out += [Case("opt/inspect/--chip=nope", lambda f: ["inspect", str(f.spec), "--chip", "nope"])]
    out += [
        Case(f"opt/power/--idle-s={v}", lambda f, v=v: ["power", str(f.spec), "--idle-s", v]) for v in ("nan", "-1")
    ]
    out += [Case("opt/simulate/-o=NUL", lambda f: ["simulate", str(f.spec), "-i", str(f.raster), "-o", "a\0b.npz"])]
    out += [Case("opt/inspect/spec=NUL", lambda f: ["inspect", str(f.spec) + "\0"])]
    out += [Case("opt/import/--chip_huge_weights",
                 lambda f: ["import", str(f.nir), "--from", "nir", "--chip", "xylo-audio2", "-o", str(f.root / "i")],
                 _nir_edit(_nir_node("Linear", "weight", lambda a: a * 1e300)))]  # fmt: skip
    out += [Case("opt/simulate/--backend=nope", lambda f: ["simulate", str(f.spec), "-i", str(f.raster), "-b", "nope"])]
    out += [Case("opt/train/--seed=-1", lambda f: ["train", str(f.config), "--out", str(f.root / "r"), "--seed", "-1"],
                 slow=True)]  # fmt: skip
    return out


# ---- cases with state: an earlier good result, a user's file in the run folder, a resumed run ----------
def _earlier_run(f: Files) -> None:
    import shutil

    (f.root / "run" / "train").mkdir(parents=True)
    shutil.copy(f.ckpt, f.root / "run" / "train" / "best.pt")
    (f.root / "run" / "model.xylo").write_bytes(f.spec.read_bytes())
    _ten_classes(f.pconfig)


def _ten_classes(p: Path) -> None:
    """10 classes (4 bursts give 24 orders): more than Xylo Audio 2's 8 readouts."""
    for key, value in (("data.n_bursts", 4), ("data.duration_ms", 200), ("data.n_classes", 10)):
        m.yaml_set(p, key, value)


def _config_in_out(f: Files) -> None:
    (f.root / "run").mkdir()
    (f.root / "run" / "config.yaml").write_text(f.config.read_text() + "# my notes\n")


def _resume_other_optimizer(f: Files) -> None:
    import shutil

    import torch

    (f.root / "run").mkdir()
    shutil.copy(f.root / "last.pt", f.root / "run" / "last.pt")

    def edit(raw: dict) -> None:
        for st in raw["optimizer"]["state"].values():
            for k, v in st.items():
                if torch.is_tensor(v) and v.ndim:
                    st[k] = torch.zeros(v.numel() + 3)

    m.edit_checkpoint(f.root / "run" / "last.pt", edit)


def _npz_data(attack: Callable[[Files], Any]) -> Callable[[Files], Any]:
    """A config training on ``data.npz`` (kind npz), the raster damaged by ``attack``."""

    def prep(f: Files) -> None:
        m.yaml_set(f.config, "data", {"kind": "npz", "train": "data.npz", "val_fraction": 0.25, "test_fraction": 0.25})
        attack(f)

    return prep


NPZ_DATA = {
    "unknown_compression": lambda f: m.unknown_compression(f.raster),
    "spikes_huge_header": lambda f: m.set_member(f.raster, "spikes", m.npy_header_only("<i8", (10**9, 100, 16))),
    "spikes_bool": _raster_set("spikes", lambda a: a != 0),
    "labels_missing": lambda f: m.drop_member(f.raster, "labels"),
    "labels_negative": _raster_set("labels", lambda a: a - 100),
    "dt_string": lambda f: m.set_member(f.raster, "dt", np.array("abc")),
    "dt_zero": lambda f: m.set_member(f.raster, "dt", np.array(0.0)),
    "classes_object": lambda f: m.set_member(f.raster, "classes", np.array([m.Evil(str(f.root / "MARKER"))])),
}


def stateful_cases() -> list[Case]:
    run = lambda f: ["pipeline", str(f.pconfig), "--out", str(f.root / "run")]  # noqa: E731
    train = lambda f: ["train", str(f.config), "--out", str(f.root / "run")]  # noqa: E731
    npz = [Case(f"state/train/npz_data:{k}", train, _npz_data(a), slow=True) for k, a in NPZ_DATA.items()]
    return npz + [
        Case("state/pipeline/10_classes_keeps_earlier_run", run, _earlier_run, slow=True),
        Case("state/train/config_in_out_dir_unchanged",
             lambda f: ["train", str(f.root / "run" / "config.yaml"), "--out", str(f.root / "run"), "--force"],
             _config_in_out, "any", slow=True),
        Case("state/train/resume_other_optimizer",
             lambda f: ["train", str(f.config), "--out", str(f.root / "run"), "--resume", "--epochs", "3"],
             _resume_other_optimizer, slow=True),
        Case("state/quantize/finetune_labels_out_of_range",
             lambda f: ["quantize", str(f.ckpt), "--data", str(f.raster), "--finetune-epochs", "1", "-o",
                        str(f.root / "q.xylo")], _raster_set("labels", lambda a: a + 100)),
        Case("state/pipeline/readouts_0", run, lambda f: m.yaml_set(f.pconfig, "data.n_classes", 0), slow=True),
        Case("state/pipeline/10_classes_fails_before_training", run, lambda f: _ten_classes(f.pconfig), slow=True),
        Case("state/train/10_classes_trains_without_chip",
             lambda f: ["train", str(f.config), "--out", str(f.root / "run")], lambda f: _ten_classes(f.config), "any",
             slow=True),
    ]  # fmt: skip


def control_cases() -> list[Case]:
    """The undamaged files through every command: must succeed (else the table proves nothing)."""
    cmds = {**{f"spec-{k}": v for k, v in SPEC_CMDS.items()}, **{f"raster-{k}": v for k, v in RASTER_CMDS.items()},
            **GRAPH_CMDS, **{f"ckpt-{k}": v for k, v in CKPT_CMDS.items()}}  # fmt: skip
    out = [Case(f"control/{k}", argv, None, "ok") for k, argv in cmds.items()]
    out.append(Case("control/import-py", lambda f: ["import", f"{f.modelpy}:net", "--from", "snntorch",
                                                    "-o", str(f.root / "g2.npz")], None, "ok"))  # fmt: skip
    out.append(Case("control/train", lambda f: ["train", str(f.config), "--out", str(f.root / "run")], None, "ok"))
    out.append(Case("control/pipeline", lambda f: ["pipeline", str(f.pconfig), "--out", str(f.root / "run")],
                    None, "ok"))  # fmt: skip
    return out


# Damage that may leave a file valid: success is allowed (the other checks still hold).
# A bit flip in HDF5 padding changes nothing NIR reads; a float weight of 1e300 is finite and exportable.
MAY_SUCCEED = ("import/nir/bitflip", "/weight:1e300")


# ---- sweep (search-space files and storage) -----------------------------------------------------------
def _space(text: str) -> Callable[[Files], Any]:
    return lambda f: (f.root / "space.yaml").write_text(text)


def _sweep_argv(*extra: str) -> Callable[[Files], list[str]]:
    return lambda f: ["sweep", str(f.pconfig), "--space", str(f.root / "space.yaml"), "--trials", "1",
                      "--out", str(f.root / "sweep"), *extra]  # fmt: skip


SPACES = {
    "alias_bomb": _p(
        lambda f: (
            (f.root / "space.yaml").write_text("train.lr: {float: [0.001, 0.01]}\n"),
            _alias_bomb(f.root / "space.yaml"),
        )
    ),
    "alias_bomb_values": _space(
        'a0: &a0 ["x","x","x","x","x","x","x","x","x"]\n'
        + "".join(f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]\n" for i in range(1, 9))
    ),
    "not_a_mapping": _space("[1, 2, 3]\n"),
    "empty": _space(""),
    "unknown_config_key": _space("train.lrr: {float: [0.001, 0.01]}\n"),
    "undotted_key": _space("lr: {float: [0.001, 0.01]}\n"),
    "low_above_high": _space("train.lr: {float: [0.1, 0.001]}\n"),
    "log_of_zero": _space("train.lr: {float: [0.0, 0.1], log: true}\n"),
    "two_kinds": _space("train.lr: {float: [0.001, 0.1], choices: [0.1]}\n"),
    "nan_bound": _space("train.lr: {float: [.nan, 0.1]}\n"),
    "inf_bound": _space("train.lr: {float: [0.001, .inf]}\n"),
    "bool_int": _space("train.epochs: {int: [true, 3]}\n"),
    "choice_breaks_config": _space("model.size_hidden_layers: {choices: [[3000000]]}\n"),
    "choice_wrong_type": _space("train.epochs: {choices: ['many']}\n"),
    "random": _p(lambda f: m.random_bytes(f.root / "space.yaml", 5)),
    "directory": _p(lambda f: (f.root / "space.yaml").mkdir()),
    "missing": None,
}


def sweep_cases() -> list[Case]:
    out = [Case(f"sweep/space/{k}", _sweep_argv(), prep, slow=True) for k, prep in SPACES.items()]
    good = _space("train.lr: {float: [0.001, 0.01], log: true}\n")
    out.append(Case("sweep/storage/unreachable_sqlite", _sweep_argv("--storage", "sqlite:////nonexistent/dir/s.db"),
                    good, slow=True))  # fmt: skip
    out.append(Case("sweep/trials_0", lambda f: [*_sweep_argv()(f)[:4], "--trials", "0"], good))
    out.append(Case("sweep/jobs_0", _sweep_argv("--jobs", "0"), good))
    out.append(Case("sweep/cost_unknown", _sweep_argv("--cost", "watts"), good))
    return out


def all_cases(slow: bool = True) -> list[Case]:
    import dataclasses

    cases = control_cases() + spec_cases() + raster_cases() + graph_cases() + ckpt_cases() + import_cases()
    cases += output_cases() + option_cases() + yaml_cases() + stateful_cases() + sweep_cases()
    lenient = [c.expect != "ok" and any(k in c.name for k in MAY_SUCCEED) for c in cases]
    cases = [dataclasses.replace(c, expect="any") if soft else c for c, soft in zip(cases, lenient, strict=True)]
    return [c for c in cases if slow or not c.slow]
