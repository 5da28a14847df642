"""The embedded dense keyword task: synthetic spoken words through the project's audio front-end.

Eight "words" are short phoneme sequences; they come in anagram pairs (``sai``/``ias``,
``kuma``/``maku``, ...), so per-channel event counts alone cannot tell a pair apart: the class lies
in the spectro-temporal order. Each clip is synthesised as a waveform (16 kHz, 1 s) and encoded by
`xylodeploy.data.frontend.encode_batch` (16 band-pass channels, 1 ms bins, <= 15 events per step).

Synthesis (formant-wave / source-filter approximation), with ``phi(t) = int f0`` the glottal phase:

    voiced(t) = A_v(t) * sum_k a_k exp(-pi B_k tau(t)) sin(2 pi int F_k),   tau = frac(phi) / f0
    fric(t)   = A_f(t) * lowpass(noise) * sin(2 pi F_c(t) t) + A_w(t) * noise
    x         = tilt_filter(voiced + breath + fric) + noise at the speaker's SNR

Formant tracks ``F_k(t)`` and amplitude tracks interpolate linearly between phoneme targets
(coarticulation). A *speaker* fixes pitch ``f0`` (85-260 Hz), formant scale (vocal-tract length),
speaking rate, formant bandwidths, spectral tilt, breathiness and a noise type (white, pink, mains
hum or babble) and level; each clip adds pitch contour, timing jitter and onset. Speakers are split
into disjoint train / validation / test sets; ``groups`` holds the speaker id of every clip.

Generation is deterministic in the parameters (speaker ``s`` uses ``rng([seed, s])``, its clip ``j``
uses ``rng([seed, s, j])``) and cached on disk as ``.npz`` keyed by a hash of the parameters.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from xylodeploy.chips import DEFAULT_CHIP, get_chip
from xylodeploy.data.dataset import RasterDataset, Splits
from xylodeploy.data.frontend import FrontendParams, encode_batch
from xylodeploy.errors import ConfigError
from xylodeploy.io.files import atomic_write

DENSE_VERSION = 2
SR = 16000

# phoneme -> (kind, formants F1..F3 [Hz] or (frication centre, amplitude), duration [ms])
PHONEMES: dict[str, tuple[str, tuple[float, ...], float]] = {
    "a": ("v", (730, 1090, 2440), 130), "i": ("v", (270, 2290, 3010), 120),
    "u": ("v", (300, 870, 2240), 120), "e": ("v", (530, 1840, 2480), 120),
    "o": ("v", (570, 840, 2410), 130), "m": ("n", (250, 1000, 2200), 70),
    "n": ("n", (250, 1600, 2600), 70), "s": ("f", (5500, 1.0), 110),
    "sh": ("f", (2900, 1.2), 110), "k": ("p", (1900, 2.5), 25), "t": ("p", (4300, 2.5), 20),
}  # fmt: skip
WORDS: tuple[tuple[str, ...], ...] = (
    ("s", "a", "i"), ("i", "a", "s"), ("k", "u", "m", "a"), ("m", "a", "k", "u"),
    ("sh", "o", "e"), ("e", "sh", "o"), ("t", "i", "n", "e"), ("n", "e", "t", "i"),
)  # fmt: skip
NOISE_TYPES = ("white", "pink", "hum", "babble")
NEUTRAL = (500.0, 1500.0, 2500.0)  # formants of a neutral vowel [Hz]


@dataclass(frozen=True)
class DenseTask:
    """Sizes of the dense keyword task and the front-end settings (times in s, frequencies in Hz)."""

    n_classes: int = 8
    clips_per_speaker: int = 40
    n_train_speakers: int = 32
    n_val_speakers: int = 6
    n_test_speakers: int = 12
    snr_db: tuple[float, float] = (-3.0, 20.0)
    p_talker: float = 0.5
    threshold: float = 0.012
    max_events: int = field(default_factory=lambda: get_chip(DEFAULT_CHIP).max_input_events)
    n_channels: int = field(default_factory=lambda: get_chip(DEFAULT_CHIP).max_inputs)
    dt: float = 1e-3
    seed: int = 0

    def __post_init__(self) -> None:
        if not 2 <= self.n_classes <= len(WORDS):
            raise ConfigError(f"dense task: n_classes must be in 2..{len(WORDS)} (got {self.n_classes})")

    @property
    def classes(self) -> list[str]:
        return ["".join(w) for w in WORDS[: self.n_classes]]

    def frontend(self) -> FrontendParams:
        return FrontendParams(n_channels=self.n_channels, sample_rate=SR, dt=self.dt, duration=1.0,
                              threshold=self.threshold, max_events=self.max_events)  # fmt: skip

    def key(self) -> str:
        text = json.dumps({"v": DENSE_VERSION, **asdict(self)}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:24]


def speaker(seed: int, sid: int) -> dict:
    """The voice of speaker ``sid``: pitch, formant scale, rate, bandwidths, tilt, noise."""
    rng = np.random.default_rng([seed, sid, 1 << 20])
    f0 = float(np.exp(rng.uniform(np.log(85), np.log(260))))
    return {
        "f0": f0, "fscale": float(np.clip((f0 / 150) ** 0.25 * rng.uniform(0.8, 1.25), 0.75, 1.4)),
        "rate": float(rng.uniform(0.75, 1.35)), "bw": float(rng.uniform(0.6, 1.8)),
        "tilt": float(rng.uniform(0.25, 1.0)), "breath": float(rng.uniform(0.0, 0.35)),
        "emph": float(rng.uniform(-0.6, 0.9)), "noise": str(rng.choice(NOISE_TYPES)),
        "snr": float(rng.uniform(0, 1)), "mains": float(rng.choice([50.0, 60.0])),
    }  # fmt: skip


def _tracks(word: tuple[str, ...], spk: dict, rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """Per-sample formant, amplitude and frication tracks of one utterance of ``word``."""
    durs = np.array([PHONEMES[p][2] for p in word]) * 1e-3 / spk["rate"] * rng.uniform(0.7, 1.3, len(word))
    start = rng.uniform(0.03, max(0.04, 0.97 - durs.sum() - 0.05))
    keys: dict[str, list] = {k: [] for k in ("t", "F1", "F2", "F3", "Av", "Af", "Fc", "Aw")}
    t, last = start, NEUTRAL
    for p, d in zip(word, durs, strict=True):
        kind, par, _ = PHONEMES[p]
        if kind == "p":  # closure silence, then a short loud burst
            t += 0.035 / spk["rate"]
        for frac in (0.15, 0.85):
            keys["t"].append(t + frac * d)
            if kind in "vn":  # sloppy articulation: targets undershoot towards a neutral vowel
                under = rng.uniform(0.0, 0.35)
                last = tuple(spk["fscale"] * (f + under * (f0 - f)) for f, f0 in zip(par, NEUTRAL, strict=True))
            for k in range(3):
                keys[f"F{k + 1}"].append(last[k])
            keys["Av"].append({"v": 1.0, "n": 0.35}.get(kind, 0.0))
            keys["Af"].append(par[1] if kind in "fp" else 0.0)
            keys["Fc"].append(par[0] * spk["fscale"] ** 0.5 if kind in "fp" else 3000.0)
            keys["Aw"].append(0.15 * (kind == "p"))
        t += d
    ts = np.arange(n) / SR
    kt = np.concatenate([[keys["t"][0] - 0.02], keys["t"], [keys["t"][-1] + 0.02]])
    out = {}
    for name, vals in keys.items():
        if name == "t":
            continue
        pad0, pad1 = (0.0, 0.0) if name[0] == "A" else (vals[0], vals[-1])
        out[name] = np.interp(ts, kt, np.concatenate([[pad0], vals, [pad1]]))
    mid, slope = start + durs.sum() / 2, rng.normal(0, 0.6)
    out["f0"] = spk["f0"] * rng.uniform(0.92, 1.08) * np.exp(np.clip(slope * (ts - mid), -0.4, 0.4))
    return out


def _lowpass_noise(rng: np.random.Generator, n: int, width: int) -> np.ndarray:
    c = np.concatenate([[0.0], np.cumsum(rng.standard_normal(n + width))])
    return (c[width:] - c[:-width])[:n] / np.sqrt(width)


def _background(kind: str, spk: dict, rng: np.random.Generator, n: int) -> np.ndarray:
    from scipy.signal import lfilter

    ts = np.arange(n) / SR
    if kind == "white":
        return rng.standard_normal(n)
    if kind == "pink":
        return lfilter([1.0], [1.0, -0.97], rng.standard_normal(n)) * 0.25
    if kind == "hum":  # mains buzz: a sawtooth holds every harmonic at amplitude 1/k
        saw = 2 * ((spk["mains"] * ts + rng.uniform()) % 1.0) - 1
        return saw + 0.05 * rng.standard_normal(n)
    env = 1 + 0.8 * np.sin(2 * np.pi * rng.uniform(2, 6) * ts + rng.uniform(0, 6.3))  # babble
    mix = sum(np.sin(2 * np.pi * rng.uniform(300, 2500) * ts) * _lowpass_noise(rng, n, 40) for _ in range(3))
    return env * mix


def _speech(word: tuple[str, ...], spk: dict, rng: np.random.Generator) -> np.ndarray:
    """The clean 1 s waveform of ``word`` spoken by ``spk``."""
    from scipy.signal import lfilter

    n = SR
    tr = _tracks(word, spk, rng, n)
    phase = np.cumsum(tr["f0"]) / SR
    tau = (phase % 1.0) / tr["f0"]
    amps, bws = (1.0, 0.6 * spk["tilt"], 0.3 * spk["tilt"] ** 2), (80.0, 100.0, 140.0)
    voiced = 0.2 * np.sin(2 * np.pi * phase)
    for k in range(3):
        carrier = np.sin(2 * np.pi * np.cumsum(tr[f"F{k + 1}"]) / SR)
        voiced = voiced + amps[k] * np.exp(-np.pi * bws[k] * spk["bw"] * tau) * carrier
    breath = spk["breath"] * _lowpass_noise(rng, n, 3)
    fric = tr["Af"] * _lowpass_noise(rng, n, 6) * np.sin(2 * np.pi * np.cumsum(tr["Fc"]) / SR)
    speech = tr["Av"] * (voiced + breath) + 0.5 * fric + tr["Aw"] * rng.standard_normal(n)
    return lfilter([1.0, -spk["emph"]], [1.0], speech)


def synthesize(word: tuple[str, ...], spk: dict, rng: np.random.Generator, snr_db: tuple[float, float],
               p_talker: float = 0.5) -> np.ndarray:  # fmt: skip
    """One 1 s waveform of ``word`` spoken by ``spk`` in its noise, with probability ``p_talker`` over a
    quieter background talker (another voice saying another word, 6-15 dB below)."""
    speech = _speech(word, spk, rng)
    p_s = np.mean(speech**2)
    if rng.random() < p_talker:
        other = _speech(WORDS[rng.integers(len(WORDS))], speaker(int(rng.integers(1 << 30)), 1 << 21), rng)
        speech = speech + other * np.sqrt(p_s / (np.mean(other**2) + 1e-12) * 10 ** (-rng.uniform(6, 15) / 10))
    noise = _background(spk["noise"], spk, rng, SR)
    lo, hi = snr_db
    snr = lo + spk["snr"] * (hi - lo) + rng.normal(0, 2)
    return speech + noise * np.sqrt(p_s / (np.mean(noise**2) + 1e-12) * 10 ** (-snr / 10))


def generate_speakers(task: DenseTask, speakers: np.ndarray, source: str) -> RasterDataset:
    """All clips of ``speakers`` (balanced labels), encoded by the front-end; ``groups`` = speaker id."""
    params, chunk = task.frontend(), 100
    labels, groups, waves = [], [], []
    parts = [np.zeros((0, params.n_steps, params.n_channels), np.uint8)]
    for sid in speakers:
        spk = speaker(task.seed, int(sid))
        for j in range(task.clips_per_speaker):
            rng = np.random.default_rng([task.seed, int(sid), j])
            label = j % task.n_classes
            waves.append(synthesize(WORDS[label], spk, rng, task.snr_db, task.p_talker))
            labels.append(label)
            groups.append(int(sid))
            if len(waves) == chunk:  # encode as we go: only ``chunk`` waveforms are held at once
                parts.append(encode_batch(np.stack(waves), params))
                waves.clear()
    if waves:
        parts.append(encode_batch(np.stack(waves), params))
    spikes = np.concatenate(parts)
    return RasterDataset(spikes, np.array(labels, dtype=np.int64), task.classes, task.dt, source=source,
                         groups=np.array(groups, dtype=np.int64))  # fmt: skip


def _speaker_sets(task: DenseTask) -> list[np.ndarray]:
    a, b = task.n_train_speakers, task.n_train_speakers + task.n_val_speakers
    return [np.arange(0, a), np.arange(a, b), np.arange(b, b + task.n_test_speakers)]


def generate_dense(task: DenseTask, cache_dir: str | os.PathLike | None = None) -> Splits:
    """Train / validation / test splits with disjoint speakers; read from / written to ``cache_dir``."""
    names = ("train", "val", "test")
    target = Path(cache_dir) / f"dense-{task.key()}.npz" if cache_dir is not None else None
    if target is not None and target.is_file():
        try:
            with np.load(target, allow_pickle=False) as z:
                parts = [(z[f"{s}_spikes"], z[f"{s}_labels"], z[f"{s}_groups"], s) for s in names]
            return Splits(*(RasterDataset(x, y, task.classes, task.dt, source=f"dense:{s}", groups=g)
                            for x, y, g, s in parts))  # fmt: skip
        except (OSError, ValueError, KeyError, EOFError):
            pass  # damaged cache entry: regenerate and overwrite
    sets = zip(names, _speaker_sets(task), strict=True)
    splits = Splits(*(generate_speakers(task, spk, f"dense:{s}") for s, spk in sets))
    if target is not None:
        arrays = {}
        for s in names:
            ds = getattr(splits, s)
            arrays.update({f"{s}_spikes": ds.spikes, f"{s}_labels": ds.labels, f"{s}_groups": ds.groups})
        buf = io.BytesIO()
        np.savez_compressed(buf, **arrays)
        with atomic_write(target, "wb") as fh:
            fh.write(buf.getvalue())
    return splits
