"""``rayqa train audio_artifacts``: train the audio-artifact classifier on simulated data.

1. Data, simulated in memory from the *train* split of the pristine sources only (speech from the
   train voices and sentences, train chord progressions, pink/brown/room-tone beds, train tones):
   scenes of ``scene_s`` seconds at a source rate drawn from 8 to 48 kHz, mono, stereo or 5.1, at
   a peak level from ``level_range_dbfs`` (quiet and loud programmes). Each scene is cut into
   one-second slots and runs of 1-3 slots get one class: clean, or a defect injected over the run
   with ``rayqa.simulate.audio`` and parameters drawn from the ranges of the issue (hum -45..-20
   dBFS at 50/60 Hz with 1-6 harmonics, hiss at 5-30 dB SNR white or pink, 1-30 clicks/s,
   soft/hard/bit-crush overdrive gain 2-16); some clean slots are digital silence.
   Half the scenes go through a random EQ first (bass-heavy, bass-light, dull, bright or
   band-limited mixes), so that a tilt of the programme's spectrum is not mistaken for a defect.
2. Every scene makes the round trip the scan's audio makes: AAC in MP4 (``rayqa.synth.encode``),
   then :mod:`rayqa.media`'s decoder at 32 kHz mono (resampling and channel mix-down included).
   The decoded waveforms, slot classes and click times are kept (``scenes.npz``); the same seed
   gives the same arrays, and their hash is logged.
3. Training: one-second crops on a 1/8 s grid inside one class's run (a clicks crop must hold a
   click), class-balanced batches, ±6 dB level augmentation, AdamW with a one-cycle schedule,
   fixed seed, fixed number of steps; the network computes its own log-mel and auxiliary
   features (:class:`rayqa.nets.audio_artifacts.AuxFeatures`). ``--init-panns`` starts the
   trunk from a published PANNs checkpoint.
4. Validation on the aligned one-second slots of held-back scenes (balanced accuracy, per-class
   recall, confusion matrix), then the weights (float16), ``model.json`` and ``MODEL_CARD.md`` are
   written, everything is logged to MLflow, and a version of ``rayqa-audio_artifacts`` is registered.
"""

from __future__ import annotations

import hashlib
import json
import math
import multiprocessing
import os
import platform
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

DETECTOR = "audio_artifacts"
CLASSES = ("no_defect", "hum", "hiss", "distortion", "clicks")
SOURCE_RATES = (8000, 16000, 22050, 32000, 44100, 48000)
SOURCE_RATE_P = (0.1, 0.1, 0.1, 0.1, 0.25, 0.35)
CHANNELS = (1, 2, 6)
CHANNELS_P = (0.3, 0.55, 0.15)
KINDS = ("speech", "music", "noise_bed", "tone_mix")
KINDS_P = (0.35, 0.3, 0.15, 0.2)
# Defect parameter ranges (the issue's; also the held-out benchmark's).
RANGES = {
    "hum": {"frequency_hz": [50, 60], "level_dbfs": (-45.0, -20.0), "harmonics": (1, 6)},
    "hiss": {"snr_db": (5.0, 30.0), "color": ["white", "pink"]},
    "clicks": {"rate_per_s": (1.0, 30.0)},
    "distortion": {"kind": ["soft", "hard", "bitcrush"], "gain": (2.0, 16.0)},
}


@dataclass
class TrainConfig:
    seed: int = 0
    items: int = 900  # simulated scenes
    steps: int = 1600
    batch: int = 64
    arch: str = "cnn6"
    width: float = 0.5
    aux: bool = True  # AuxFeatures beside the CNN (mains comb, noise floor, peak statistics)
    init_panns: str = ""  # a published PANNs checkpoint to start the trunk from (width 1.0 only)
    scene_s: float = 8.0
    clean_share: float = 0.3  # share of slot runs left clean
    silence_share: float = 0.1  # share of scenes with one digitally silent (clean) slot
    eq_share: float = 0.5  # share of scenes whose programme goes through a random EQ (random_eq)
    level_range_dbfs: tuple = (-42.0, -1.0)  # programme peak level
    val_fraction: float = 0.15
    lr: float = 2e-3
    weight_decay: float = 1e-4
    label_smoothing: float = 0.05
    gain_augment_db: float = 6.0
    threads: int = 0  # 0: every core
    workers: int = 0  # simulation processes; 0: every core
    context: bool = True  # a context head over the trunk, trained on simulated and real recorded windows
    real_per_item: float = 3.0  # real 8 s windows (train recordings) per simulated scene, for the head
    head_steps: int = 0  # 0: twice ``steps`` (with --weights, ``steps`` counts the head's alone)
    head_lr: float = 2e-3
    # The shipped v3 head replaces the trunk's logits and sees the classes equally often (0.2 of each
    # source's part of a batch is no_defect); a residual head with more clean rows is the option.
    head_residual: bool = False  # the head corrects the trunk's logits (else it replaces them)
    head_clean_share: float = 0.2  # share of no_defect segments in each source's part of a head batch
    # Before the head: the trunk (CNN, auxiliary layer, its 5 logits) trained end to end for this many
    # steps on crops of the real training windows beside simulated crops (0: the trunk as it is).
    finetune: int = 0
    finetune_lr: float = 3e-4
    finetune_real_share: float = 0.5  # share of each fine-tuning batch drawn from the real windows

    def check(self) -> None:
        from rayqa.nets.audio_artifacts import ARCHS

        if self.items < 10 or self.steps < 1 or self.batch < 2:
            raise ValueError("items >= 10, steps >= 1 and batch >= 2 are required")
        if self.arch not in ARCHS:
            raise ValueError(f"arch must be one of {', '.join(ARCHS)}, got {self.arch!r}")
        if not 0 < self.width <= 1:
            raise ValueError(f"width must be in (0, 1], got {self.width}")
        if not 2.0 <= self.scene_s <= 60.0:
            raise ValueError(f"scene_s must be in [2, 60] s, got {self.scene_s}")
        if not 0 < self.val_fraction < 0.5:
            raise ValueError(f"val_fraction must be in (0, 0.5), got {self.val_fraction}")
        if self.init_panns and self.width != 1.0:
            raise ValueError(f"init_panns needs width 1.0 (a published checkpoint's layout), got width {self.width}")
        if self.init_panns and not Path(self.init_panns).is_file():
            raise ValueError(f"init_panns: {self.init_panns} is not a file")
        if self.real_per_item < 0 or self.head_steps < 0 or self.finetune < 0:
            raise ValueError("real_per_item >= 0, head_steps >= 0 and finetune >= 0 are required")
        if not 0 <= self.finetune_real_share <= 1:
            raise ValueError(f"finetune_real_share must be in [0, 1], got {self.finetune_real_share}")
        if self.finetune and self.finetune_real_share and not (self.context and self.real_per_item):
            raise ValueError("finetune needs the real training windows (context on, real_per_item > 0)")
        if not 0 <= self.eq_share <= 1:
            raise ValueError(f"eq_share must be in [0, 1], got {self.eq_share}")
        lo, hi = self.level_range_dbfs
        if not lo < hi <= 0:
            raise ValueError(f"level_range_dbfs must be (low, high) with low < high <= 0, got {self.level_range_dbfs}")


# ---------------------------------------------------------------------------------------------
# Data


def draw_params(defect: str, rng: np.random.Generator, sample_rate: int, bed: str | None = None) -> dict:
    """Injector parameters for ``defect`` from :data:`RANGES` (harmonics capped under Nyquist;
    no pink hiss on a pink noise bed, where it would be the bed itself)."""
    out = {}
    for name, spec in RANGES[defect].items():
        if isinstance(spec, list):
            out[name] = spec[int(rng.integers(len(spec)))]
        elif isinstance(spec[0], int):
            out[name] = int(rng.integers(spec[0], spec[1] + 1))
        else:
            out[name] = float(rng.uniform(*spec))
    if defect == "hum":
        out["harmonics"] = max(1, min(out["harmonics"], int((sample_rate / 2 - 1) // out["frequency_hz"])))
    if defect == "hiss" and bed == "pink":
        out["color"] = "white"
    return out


def inject(audio: np.ndarray, sample_rate: int, defect: str, start_s: float, end_s: float, params: dict,
           rng: np.random.Generator) -> tuple[np.ndarray, list]:
    """``audio`` with one class's defect over ``[start_s, end_s)`` and the injector's labels
    (rayqa.simulate.audio injectors)."""
    from rayqa.simulate import audio as A

    if defect == "hum":
        return A.add_hum(audio, sample_rate, start_s, end_s, **params)
    if defect == "hiss":
        return A.add_hiss(audio, sample_rate, start_s, end_s, params["snr_db"], params["color"], rng=rng)
    if defect == "clicks":
        return A.add_clicks(audio, sample_rate, start_s, end_s, params["rate_per_s"], rng=rng)
    if defect == "distortion":
        return A.add_distortion(audio, sample_rate, start_s, end_s, params["kind"], params["gain"])
    raise ValueError(defect)


def aac_roundtrip(audio: np.ndarray, sample_rate: int, out_rate: int = 32000) -> np.ndarray:
    """Encode to AAC in MP4 and decode it the way the scan does (mono at ``out_rate``); (N,) float32."""
    from rayqa import media
    from rayqa.types import AudioSpec
    from rayqa.synth import encode

    with tempfile.TemporaryDirectory(prefix="rayqa-aa-") as tmp:
        path = encode(Path(tmp) / "a.mp4", None, 25, 320, 180, audio, sample_rate)
        info = media.probe(str(path))
        spec = AudioSpec(sample_rate=out_rate, mono=True)
        (w,) = media.decode_windows(str(path), info, [(0.0, info.duration_s)], [], [spec], item_id="sim")
    return w.audio[spec.key].samples[0]


def plan_slots(n_slots: int, rng: np.random.Generator, clean_share: float) -> list[tuple[str, int, int]]:
    """Runs ``(class, first_slot, end_slot)`` covering ``n_slots`` one-second slots."""
    runs, at = [], 0
    p = [clean_share] + [(1 - clean_share) / 4] * 4
    while at < n_slots:
        cls = CLASSES[int(rng.choice(len(CLASSES), p=p))]
        length = min(int(rng.integers(1, 4)), n_slots - at)
        runs.append((cls, at, at + length))
        at += length
    return runs


EQ_KINDS = ("none", "low_shelf", "high_shelf", "lowpass")


def random_eq(audio: np.ndarray, sample_rate: int, rng: np.random.Generator, share: float) -> tuple[np.ndarray, dict]:
    """The programme through a random EQ (``share`` of scenes): a low shelf (80-250 Hz, -6..+15 dB:
    bass-heavy and bass-light mixes), a high shelf (2-8 kHz, -12..+9 dB: dull and bright ones) or
    a low-pass (3-12 kHz, band-limited sources). Clean programmes vary this way; the classifier
    must not learn that a spectral tilt or a missing top octave is a defect. Peak level kept."""
    from scipy.signal import butter, lfilter, sosfilt

    if rng.random() >= share:
        return audio, {"eq": "none"}
    kind = EQ_KINDS[1 + int(rng.integers(3))]
    x = audio.astype(np.float64)
    peak = float(np.max(np.abs(x))) or 1.0
    if kind == "lowpass":
        fc = min(float(rng.uniform(3000, 12000)), 0.45 * sample_rate)
        y = sosfilt(butter(4, fc, "low", fs=sample_rate, output="sos"), x, axis=1)
        info = {"eq": kind, "cutoff_hz": round(fc)}
    else:
        # RBJ audio-EQ-cookbook shelf, slope 1.
        fc = float(rng.uniform(80, 250)) if kind == "low_shelf" else min(float(rng.uniform(2000, 8000)), 0.4 * sample_rate)
        gain_db = float(rng.uniform(-6, 15)) if kind == "low_shelf" else float(rng.uniform(-12, 9))
        a = 10 ** (gain_db / 40)
        w0 = 2 * np.pi * fc / sample_rate
        alpha = np.sin(w0) / 2 * np.sqrt(2)
        c, sa = np.cos(w0), 2 * np.sqrt(a) * alpha
        sign = 1 if kind == "low_shelf" else -1
        b = np.array([a * ((a + 1) - sign * (a - 1) * c + sa), sign * 2 * a * ((a - 1) - sign * (a + 1) * c),
                      a * ((a + 1) - sign * (a - 1) * c - sa)])
        den = np.array([(a + 1) + sign * (a - 1) * c + sa, -sign * 2 * ((a - 1) + sign * (a + 1) * c),
                        (a + 1) + sign * (a - 1) * c - sa])
        y = lfilter(b / den[0], den / den[0], x, axis=1)
        info = {"eq": kind, "corner_hz": round(fc), "gain_db": round(gain_db, 1)}
    top = float(np.max(np.abs(y)))
    if top > 0:
        y *= peak / top
    return y.astype(np.float32), info


def simulate_scene(seed: int, index: int, cfg: dict, split: str = "train") -> dict:
    """One scene after the AAC round trip: mono at 32 kHz (``n_slots`` seconds), each one-second
    slot's class, the click times (for crops: a crop of a clicks run must hold a click) and provenance."""
    from rayqa.nets.audio_artifacts import SAMPLE_RATE
    from rayqa.simulate.labels import SimulationError
    from rayqa.simulate.pristine import audio_scene

    rng = np.random.default_rng([seed, index])
    kind = KINDS[int(rng.choice(len(KINDS), p=KINDS_P))]
    sr = int(SOURCE_RATES[int(rng.choice(len(SOURCE_RATES), p=SOURCE_RATE_P))])
    channels = int(CHANNELS[int(rng.choice(len(CHANNELS), p=CHANNELS_P))])
    level = float(rng.uniform(*cfg["level_range_dbfs"]))
    n_slots = int(cfg["scene_s"])
    audio, info = audio_scene(kind, float(n_slots), sr, channels, rng, level_dbfs=level, split=split,
                              return_info=True)
    audio, eq = random_eq(audio, sr, rng, cfg.get("eq_share", 0.0))
    runs = plan_slots(n_slots, rng, cfg["clean_share"])
    slot_class = [cls for cls, a, b in runs for _ in range(a, b)]
    if rng.random() < cfg["silence_share"]:
        clean = [k for k, c in enumerate(slot_class) if c == "no_defect"]
        if clean:
            k = int(rng.choice(clean))
            audio[:, k * sr:(k + 1) * sr] = 0.0
    clicks: list[float] = []
    slot_params: list[dict | None] = [None] * n_slots
    for cls, a, b in runs:
        if cls == "no_defect":
            continue
        params = draw_params(cls, rng, sr, info.get("bed"))
        slot_params[a:b] = [params] * (b - a)
        try:
            audio, labels = inject(audio, sr, cls, float(a), float(b), params, rng)
        except SimulationError:  # distortion of digital silence: nothing to distort, the run stays clean
            slot_class[a:b] = ["no_defect"] * (b - a)
            slot_params[a:b] = [None] * (b - a)
            continue
        if cls == "clicks":
            clicks.extend(labels[0].details["times_s"])
    mono = aac_roundtrip(audio, sr, SAMPLE_RATE)
    mono = np.pad(mono, (0, max(0, n_slots * SAMPLE_RATE - len(mono))))[:n_slots * SAMPLE_RATE]
    return {"wave": mono.astype(np.float32), "slots": np.asarray([CLASSES.index(c) for c in slot_class], np.int64),
            "clicks": np.asarray(clicks, np.float64),
            "info": {"kind": kind, "sample_rate": sr, "channels": channels, "peak_dbfs": round(level, 1),
                     **eq, "slots": slot_class, "slot_params": slot_params}}


def dataset_dir(cfg: TrainConfig, data: str | os.PathLike | None) -> Path:
    from rayqa.registry import rayqa_home

    if data:
        return Path(data).resolve()
    return rayqa_home() / "datasets" / f"{DETECTOR}-train-v{DATA_FORMAT}-seed{cfg.seed}-n{cfg.items}"


DATA_FORMAT = 2  # 1: log-mel of aligned segments; 2: decoded waveforms, slot classes and click times
SIM_KEYS = ("seed", "items", "scene_s", "clean_share", "silence_share", "level_range_dbfs", "eq_share")


def _cached(path: Path, marker: Path, sim: dict) -> dict | None:
    """The arrays saved in ``path`` when ``marker`` (JSON) says they were made with settings ``sim``."""
    if path.is_file() and marker.is_file() and json.loads(marker.read_text()).get("config") == sim:
        with np.load(path) as z:
            return {k: z[k] for k in z.files}
    return None


def _in_processes(fn, cfg: TrainConfig, n: int, *args) -> list:
    """``fn(cfg.seed, i, *args)`` for i in 0..n-1 in ``cfg.workers`` processes (all CPUs when 0),
    in order. Spawned, not forked: torch is imported in the parent."""
    workers = cfg.workers or max(1, os.cpu_count() or 1)
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        return list(pool.map(fn, [cfg.seed] * n, range(n), *([a] * n for a in args), chunksize=4))


def make_data(folder: Path, cfg: TrainConfig, log=print) -> dict:
    """Simulate the scenes into ``folder/scenes.npz`` unless a set made with the same simulation
    settings is already there; returns the arrays: ``wave`` (scenes, samples) float32, ``slots``
    (scenes, slots) class indices, ``click_times`` / ``click_scene`` (flat)."""
    path = folder / "scenes.npz"
    sim = {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(cfg).items() if k in SIM_KEYS}
    sim["format"] = DATA_FORMAT
    got = _cached(path, folder / "simulation.json", sim)
    if got is not None:
        log(f"training data: reusing {path}")
        return got
    folder.mkdir(parents=True, exist_ok=True)
    log(f"training data: simulating {cfg.items} scenes of {cfg.scene_s:g} s into {path} (seed {cfg.seed})")
    started = time.perf_counter()
    results = _in_processes(simulate_scene, cfg, cfg.items, sim)
    data = {"wave": np.stack([r["wave"] for r in results]), "slots": np.stack([r["slots"] for r in results]),
            "click_times": np.concatenate([r["clicks"] for r in results]),
            "click_scene": np.concatenate([np.full(len(r["clicks"]), i, np.int64) for i, r in enumerate(results)])}
    np.savez(path, **data)
    (folder / "simulation.json").write_text(json.dumps({"config": sim, "scenes": [r["info"] for r in results]},
                                                       indent=1) + "\n")
    counts = np.bincount(data["slots"].ravel(), minlength=len(CLASSES))
    log(f"training data: {data['slots'].size} one-second slots ({', '.join(f'{c} {n}' for c, n in zip(CLASSES, counts))}) "
        f"in {time.perf_counter() - started:.0f} s")
    return data


def data_hash(data: dict, real: dict | None = None) -> str:
    """sha256 over the scenes' decoded waveforms (float32), slot classes and click times, and the
    real windows' (when there are)."""
    h = hashlib.sha256()
    for k in ("wave", "slots", "click_times", "click_scene"):
        h.update(k.encode())
        h.update(np.ascontiguousarray(data[k]).tobytes())
    for k in sorted(real or {}):
        h.update(f"real.{k}".encode())
        h.update(np.ascontiguousarray(real[k]).tobytes())
    return h.hexdigest()


def split(data: dict, cfg: TrainConfig) -> tuple[np.ndarray, np.ndarray]:
    """Train and validation scene indices: whole scenes are held back."""
    rng = np.random.default_rng(cfg.seed)
    scenes = np.arange(len(data["slots"]))
    val = np.sort(rng.choice(scenes, size=max(1, int(round(len(scenes) * cfg.val_fraction))), replace=False))
    return np.setdiff1d(scenes, val), val


CROP_STEP_S = 0.125  # training crops start on this grid


def crops(data: dict, scenes: np.ndarray, aligned: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One-second segments ``(scene, first sample, class)`` of ``scenes``. ``aligned``: the slots
    themselves (validation, comparable between versions); else every crop on a 1/8 s grid that
    lies inside one class's run (the same slot seen at many offsets: training), and for clicks
    only crops that hold a click at least 5 ms from either edge."""
    from rayqa.nets.audio_artifacts import SAMPLE_RATE as SR

    n_slots = data["slots"].shape[1]
    out = []
    clicks = {}
    for t, sc in zip(data["click_times"], data["click_scene"]):
        clicks.setdefault(int(sc), []).append(float(t))
    for sc in scenes:
        slots = data["slots"][sc]
        if aligned:
            out.extend((sc, k * SR, slots[k]) for k in range(n_slots))
            continue
        times = np.asarray(sorted(clicks.get(int(sc), [])))
        steps = int(round(1 / CROP_STEP_S))
        for j in range((n_slots - 1) * steps + 1):
            t0 = j * CROP_STEP_S
            a, b = int(np.floor(t0)), int(np.ceil(t0 + 1 - 1e-9))
            if len(set(slots[a:b].tolist())) != 1:
                continue
            cls = int(slots[a])
            if CLASSES[cls] == "clicks" and not ((times > t0 + 0.005) & (times < t0 + 0.995)).any():
                continue
            out.append((sc, int(round(t0 * SR)), cls))
    arr = np.asarray(out, np.int64).reshape(-1, 3)
    return arr[:, 0], arr[:, 1], arr[:, 2]


def gather(data: dict, scene: np.ndarray, start: np.ndarray) -> np.ndarray:
    """(N, 32000) float32 segments."""
    from rayqa.nets.audio_artifacts import SEGMENT_SAMPLES

    idx = start[:, None] + np.arange(SEGMENT_SAMPLES)[None, :]
    return data["wave"][scene[:, None], idx]


# ---------------------------------------------------------------------------------------------
# Real recorded programme (the context head's data; bench/audio_artifacts.py builds its real sets
# with the same functions on the bench files)

REAL_RATE = 48000  # the catalogue's
REAL_KINDS = ("music", "dialogue_music", "dialogue_ambience", "texture", "dialogue_texture")
REAL_KINDS_P = (0.4, 0.22, 0.13, 0.13, 0.12)
TEXTURES = ("applause", "crowd", "rain", "wind", "vinyl")
MASTERING = ("loud", "broadcast", "quiet")
MASTERING_P = (0.35, 0.45, 0.2)


def _bandpass(x: np.ndarray, lo: float, hi: float, sr: int, order: int = 2) -> np.ndarray:
    from scipy.signal import butter, sosfilt

    return sosfilt(butter(order, [lo, min(hi, 0.45 * sr)], "band", fs=sr, output="sos"), x, axis=-1)


def _bursts(n: int, sr: int, rng: np.random.Generator, rate: float, length_s: tuple, lo: float, hi: float,
            level_sigma_db: float) -> np.ndarray:
    """Poisson-timed decaying noise bursts (claps, raindrops): (n,)."""
    out = np.zeros(n)
    count = int(rng.poisson(rate * n / sr))
    for t in rng.integers(0, n, count):
        m = int(rng.uniform(*length_s) * sr)
        m = min(m, n - t)
        if m < 8:
            continue
        env = np.exp(-np.arange(m) / (m / 4))
        out[t:t + m] += rng.standard_normal(m) * env * 10 ** (rng.normal(0, level_sigma_db) / 20)
    return _bandpass(out, lo, hi, sr)


def texture(kind: str, duration_s: float, sr: int, rng: np.random.Generator) -> np.ndarray:
    """Stereo (2, n) hard-negative textures synthesised from noise with envelopes (no recording of
    them is installed): applause and crowd (dense transients, babble), rain (a wash with droplets),
    wind (gusting low noise), vinyl (crackle, rumble and a soft hiss: the sound of a transfer, not
    a defect of it). Unit-less; the caller sets the level."""
    from rayqa.simulate.audio import _pink

    n = int(round(duration_s * sr))
    chans = []
    slow = np.interp(np.arange(n), np.linspace(0, n, 8), rng.uniform(0.5, 1.0, 8))
    for _ in range(2):
        if kind == "applause":
            x = _bursts(n, sr, rng, rng.uniform(40, 400), (0.004, 0.02), 700, 6000, 4.0) * slow
        elif kind == "crowd":
            babble = _bandpass(_pink(rng, (1, n))[0], 200, 3500, sr)
            mod = np.zeros(n)
            for _ in range(6):
                f = rng.uniform(2.5, 6.0)
                mod += np.maximum(0, np.sin(2 * np.pi * f * np.arange(n) / sr + rng.uniform(0, 6.3)))
            x = babble * (0.3 + mod / 6) * slow
        elif kind == "rain":
            wash = _bandpass(_pink(rng, (1, n))[0], 300, 12000, sr)
            drops = _bursts(n, sr, rng, rng.uniform(50, 600), (0.001, 0.004), 1000, 10000, 6.0)
            x = wash / (np.std(wash) + 1e-12) + 0.7 * drops / (np.std(drops) + 1e-12)
        elif kind == "wind":
            brown = np.cumsum(rng.standard_normal(n))
            brown -= np.convolve(brown, np.ones(4801) / 4801, "same")
            gust = np.interp(np.arange(n), np.linspace(0, n, max(3, int(duration_s * 0.6))),
                             rng.uniform(0.2, 1.0, max(3, int(duration_s * 0.6))))
            x = _bandpass(brown, 60, float(rng.uniform(500, 1500)), sr) * gust
        elif kind == "vinyl":
            crackle = np.zeros(n)
            ticks = rng.integers(0, n - 4, int(rng.poisson(rng.uniform(5, 40) * duration_s)))
            crackle[ticks] = rng.choice([-1, 1], len(ticks)) * rng.uniform(0.2, 1.0, len(ticks))
            crackle = _bandpass(crackle, 800, 12000, sr)
            rumble = _bandpass(rng.standard_normal(n), 8, 40, sr)
            hiss = _pink(rng, (1, n))[0]
            x = (crackle / (np.abs(crackle).max() + 1e-12) + 0.5 * rumble / (np.std(rumble) + 1e-12)
                 + 0.3 * hiss / (np.std(hiss) + 1e-12))
        else:
            raise ValueError(f"unknown texture {kind!r}; known: {', '.join(TEXTURES)}")
        chans.append(x / (np.std(x) + 1e-12))
    return np.stack(chans).astype(np.float32)


def limit(audio: np.ndarray, sr: int, drive_db: float, ceiling_db: float = -1.0, hold_s: float = 0.03) -> np.ndarray:
    """Loud mastering: ``drive_db`` of gain into a look-ahead peak limiter (a smooth gain that dips
    before each peak and recovers over ``hold_s``), ceiling ``ceiling_db``: the dense, compressed
    sound of loud music, which is not distortion."""
    from scipy.ndimage import minimum_filter1d, uniform_filter1d

    x = audio.astype(np.float64) * 10 ** (drive_db / 20)
    ceiling = 10 ** (ceiling_db / 20)
    peak = np.abs(x).max(axis=0)
    g = np.minimum(1.0, ceiling / np.maximum(peak, 1e-12))
    la = max(1, int(0.005 * sr))
    g = minimum_filter1d(g, size=2 * la + int(hold_s * sr), mode="nearest")
    g = uniform_filter1d(g, size=2 * la, mode="nearest")
    return np.clip(x * g[None, :], -ceiling, ceiling).astype(np.float32)


def to_layout(stereo: np.ndarray, channels: int, sr: int) -> np.ndarray:
    """Stereo programme as mono, stereo or 5.1 (L R C LFE Ls Rs: dialogue-ish centre from the mid,
    a low-passed LFE, delayed quieter surrounds)."""
    if channels == 1:
        return stereo.mean(axis=0, keepdims=True)
    if channels == 2:
        return stereo
    from scipy.signal import butter, sosfilt

    mid = stereo.mean(axis=0)
    lfe = sosfilt(butter(4, 120, "low", fs=sr, output="sos"), mid)
    d = int(0.012 * sr)
    sur = np.pad(stereo, ((0, 0), (d, 0)))[:, :stereo.shape[1]] * 0.5
    return np.stack([stereo[0] * 0.8, stereo[1] * 0.8, mid * 0.7, lfe * 0.5, sur[0], sur[1]]).astype(np.float32)


def real_programme_audio(duration_s: float, rng: np.random.Generator, split: str) -> tuple[np.ndarray, dict]:
    """Clean stereo programme at 48 kHz built from the real recordings of ``split``
    (rayqa/simulate/real.py: music, recorded voices over music or ambience) or from the textures,
    mastered loud (limited), broadcast (-23 LUFS) or quiet (-38..-30 LUFS)."""
    from rayqa.simulate import real
    from rayqa.simulate.labels import SimulationError

    kind = REAL_KINDS[int(rng.choice(len(REAL_KINDS), p=REAL_KINDS_P))]
    info: dict = {"kind": kind}
    for attempt in range(10):
        try:
            if kind in ("music", "dialogue_music", "dialogue_ambience"):
                audio, ainfo = real.programme_audio(kind, duration_s, REAL_RATE, rng, split)
                info["sources"] = ainfo.get("music") or ainfo.get("ambience")
            elif kind == "texture":
                tex = TEXTURES[int(rng.integers(len(TEXTURES)))]
                audio = texture(tex, duration_s, REAL_RATE, rng)
                if tex == "vinyl":  # vinyl texture under music, as a transfer sounds
                    music, ainfo = real.programme_audio("music", duration_s, REAL_RATE, rng, split)
                    audio = music + real._normalise(audio, REAL_RATE, -23.0 - float(rng.uniform(18, 30)))
                    info["sources"] = ainfo.get("music")
                info["texture"] = tex
            else:  # dialogue over a texture bed (a crowd, rain, wind)
                tex = TEXTURES[int(rng.integers(4))]
                speech, lines = real._dialogue(duration_s, REAL_RATE, rng, split)
                bed = real._normalise(texture(tex, duration_s, REAL_RATE, rng), REAL_RATE, -23.0 - float(rng.uniform(4, 14)))
                audio = real._normalise(speech + bed, REAL_RATE, -23.0)
                info["texture"] = tex
            break
        except SimulationError:
            if attempt == 9:
                raise
    mastering = MASTERING[int(rng.choice(len(MASTERING), p=MASTERING_P))]
    audio = real._normalise(audio.astype(np.float32), REAL_RATE, -23.0)
    if mastering == "loud":
        drive = float(rng.uniform(6.0, 14.0))
        audio = limit(audio, REAL_RATE, drive, float(rng.uniform(-1.0, -0.1)), float(rng.uniform(0.01, 0.1)))
        info["drive_db"] = round(drive, 1)
    else:
        target = -23.0 + float(rng.uniform(-3, 3)) if mastering == "broadcast" else float(rng.uniform(-38, -30))
        audio = real._normalise(audio, REAL_RATE, target)
        peak = float(np.abs(audio).max())
        if peak > 0.98:
            audio = audio * np.float32(0.98 / peak)
    info["mastering"] = mastering
    return audio.astype(np.float32), info


def real_item(seed: int, index: int, duration_s: float, split: str, defect: str | None = "random",
              run_s: tuple[float, float] | None = None) -> dict:
    """One real programme of ``duration_s`` with at most one defect over a run of whole seconds,
    in mono/stereo/5.1 through AAC and the scan's decoder (32 kHz mono). ``defect``: a class name,
    None (clean) or "random" (clean a third of the time); ``run_s``: the run, else drawn (1-3 s
    mostly, sometimes up to the whole item). Returns the wave, the run, the defect's parameters and
    its click times."""
    from rayqa.nets.audio_artifacts import SAMPLE_RATE
    from rayqa.simulate.labels import SimulationError

    rng = np.random.default_rng([seed, index, 17])
    audio, info = real_programme_audio(duration_s, rng, split)
    channels = int(CHANNELS[int(rng.choice(len(CHANNELS), p=(0.1, 0.7, 0.2)))])
    audio = to_layout(audio, channels, REAL_RATE)
    if defect == "random":
        defect = None if rng.random() < 0.34 else CLASSES[1 + int(rng.integers(4))]
    n_s = int(round(duration_s))
    params, clicks, run = None, [], None
    if defect is not None:
        if run_s is None:
            length = int(rng.integers(1, 4)) if rng.random() < 0.7 else int(rng.integers(4, n_s + 1))
            a = int(rng.integers(0, n_s - length + 1))
            run_s = (float(a), float(a + length))
        params = draw_params(defect, rng, REAL_RATE)
        try:
            audio, labels = inject(audio, REAL_RATE, defect, run_s[0], run_s[1], params, rng)
            run = run_s
            if defect == "clicks":
                clicks = list(labels[0].details["times_s"])
        except SimulationError:
            defect, params = None, None
    mono = aac_roundtrip(audio, REAL_RATE, SAMPLE_RATE)
    n = int(round(duration_s * SAMPLE_RATE))
    mono = np.pad(mono, (0, max(0, n - len(mono))))[:n]
    return {"wave": mono.astype(np.float32), "defect": defect or "no_defect", "run_s": run, "params": params or {},
            "clicks": np.asarray(clicks, np.float64), "info": {**info, "channels": channels}}


def segment_labels(n_samples: int, defect: str, run_s, clicks: np.ndarray, hop_s: float = 0.5) -> tuple[list[int], np.ndarray]:
    """Starts (samples) of the detector's one-second segments at ``hop_s`` over ``n_samples`` and each
    one's class index: the defect's inside its run (clicks: only a segment that holds a click
    5 ms or more from its edges), no_defect outside it, -1 (not scored) across its edges."""
    from rayqa.nets.segments import segment_starts
    from rayqa.nets.audio_artifacts import SAMPLE_RATE as SR

    starts = segment_starts(n_samples, SR, int(hop_s * SR))
    out = []
    for s in starts:
        t0, t1 = s / SR, s / SR + 1.0
        if run_s is None or defect == "no_defect" or t1 <= run_s[0] + 1e-9 or t0 >= run_s[1] - 1e-9:
            out.append(0)
        elif t0 >= run_s[0] - 1e-9 and t1 <= run_s[1] + 1e-9:
            held = defect != "clicks" or ((clicks > t0 + 0.005) & (clicks < t1 - 0.005)).any()
            out.append(CLASSES.index(defect) if held else -1)
        else:
            out.append(-1)
    return starts, np.asarray(out, np.int64)


def make_real_data(folder: Path, cfg: "TrainConfig", log=print) -> dict:
    """``real_windows`` windows of 8 s from the *train* real files into ``folder/real.npz`` (reused
    when made with the same settings): ``wave`` (windows, samples), and per window its defect, run
    and click times (flat, with ``click_window``)."""
    from rayqa.simulate import real

    count = int(round(cfg.items * cfg.real_per_item))
    path = folder / "real.npz"
    if count == 0:
        return {}
    gone = real.missing(("music", "voice", "ambience")) + real.missing_train_only()
    if gone:
        raise ValueError(f"real sources missing ({', '.join(gone)}): install them with `make real-media`")
    sim = {"seed": cfg.seed, "windows": count, "window_s": REAL_WINDOW_S, "format": REAL_FORMAT,
           "sources_sha256": real.train_sources_digest()}
    got = _cached(path, folder / "real.json", sim)
    if got is not None:
        log(f"real training data: reusing {path}")
        return got
    folder.mkdir(parents=True, exist_ok=True)
    log(f"real training data: {count} windows of {REAL_WINDOW_S:g} s from the train recordings into {path}")
    started = time.perf_counter()
    results = _in_processes(real_item, cfg, count, REAL_WINDOW_S, "train")
    data = {"wave": np.stack([r["wave"] for r in results]),
            "defect": np.asarray([CLASSES.index(r["defect"]) for r in results], np.int64),
            "run": np.asarray([r["run_s"] or (0.0, 0.0) for r in results], np.float64),
            "click_times": np.concatenate([r["clicks"] for r in results]) if results else np.zeros(0),
            "click_window": np.concatenate([np.full(len(r["clicks"]), i, np.int64) for i, r in enumerate(results)])
            if results else np.zeros(0, np.int64)}
    np.savez(path, **data)
    (folder / "real.json").write_text(json.dumps({"config": sim, "windows": [
        {"defect": r["defect"], "run_s": r["run_s"], "params": r["params"], **r["info"]} for r in results]},
        indent=1, default=str) + "\n")
    counts = np.bincount(data["defect"], minlength=len(CLASSES))
    log(f"real training data: {count} windows in {time.perf_counter() - started:.0f} s "
        f"({', '.join(f'{c} {n}' for c, n in zip(CLASSES, counts))})")
    return data


REAL_WINDOW_S = 8.0  # the scan's default decode window: the unit of context
REAL_FORMAT = 1


# ---------------------------------------------------------------------------------------------
# The context head


def _sim_segment_labels(slots: np.ndarray, clicks: np.ndarray, n_samples: int) -> tuple[list[int], np.ndarray]:
    """The detector's segments (hop 0.5 s) over a simulated scene and their classes (-1: a segment
    across two runs' classes, or a clicks segment without a click)."""
    from rayqa.nets.segments import segment_starts
    from rayqa.nets.audio_artifacts import SAMPLE_RATE as SR

    starts = segment_starts(n_samples, SR, SR // 2)
    out = []
    for s in starts:
        t0 = s / SR
        a, b = int(np.floor(t0)), min(len(slots), int(np.ceil(t0 + 1 - 1e-9)))
        kinds = set(slots[a:b].tolist())
        if len(kinds) != 1:
            out.append(-1)
            continue
        cls = int(slots[a])
        if CLASSES[cls] == "clicks" and not ((clicks > t0 + 0.005) & (clicks < t0 + 0.995)).any():
            cls = -1
        out.append(cls)
    return starts, np.asarray(out, np.int64)


def head_inputs(net, waves: np.ndarray, labelled: list[tuple[list[int], np.ndarray]], log=print,
                what: str = "") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The context head's inputs for the detector's segments of each window (one group each):
    (rows, 3 * segment_dim) float32, their classes (-1: not scored) and window index."""
    import torch

    from rayqa.nets.audio_artifacts import SAMPLE_RATE as SR, ContextHead, segment_vectors

    zs, ys, ws = [], [], []
    t = time.perf_counter()
    for i, (starts, y) in enumerate(labelled):
        segs = np.stack([waves[i][s:s + SR] for s in starts])
        v = torch.from_numpy(segment_vectors(net, segs))
        zs.append(ContextHead.inputs(v, None).numpy())
        ys.append(y)
        ws.append(np.full(len(y), i, np.int64))
        if (i + 1) % 200 == 0:
            log(f"context inputs {what}: {i + 1}/{len(labelled)} windows, {time.perf_counter() - t:.0f} s")
    if not zs:
        return np.zeros((0, 3 * net.segment_dim), np.float32), np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(zs).astype(np.float32), np.concatenate(ys), np.concatenate(ws)


def train_head(net, z: np.ndarray, y: np.ndarray, source: np.ndarray, cfg: "TrainConfig", log=print) -> float:
    """Train ``net.context_head`` (the trunk stays as it is) on precomputed inputs: batches balanced
    over (source, class), AdamW, fixed seed and steps."""
    import torch

    torch.manual_seed(cfg.seed + 1)
    steps = cfg.head_steps or 2 * cfg.steps
    head = net.context_head
    keep = y >= 0
    z, y, source = z[keep], y[keep], source[keep]
    mean, std = z.mean(axis=0), z.std(axis=0) + 1e-3
    head.mean.copy_(torch.from_numpy(mean))
    head.std.copy_(torch.from_numpy(std))
    # Per source, no_defect gets ``head_clean_share`` of its rows and the defects share the rest:
    # real programme is almost all clean, and a head trained on equal classes over-calls defects.
    sources = np.unique(source)
    per_source = 510 // len(sources)
    buckets, counts = [], []
    for s_ in sources:
        present = [c for c in range(len(CLASSES)) if ((source == s_) & (y == c)).any()]
        defects = [c for c in present if c != 0]
        for c in present:
            buckets.append(np.flatnonzero((source == s_) & (y == c)))
            share = cfg.head_clean_share if c == 0 and defects else (1 - cfg.head_clean_share) / max(1, len(defects))
            counts.append(max(1, int(round(per_source * share))))
    rng = np.random.default_rng(cfg.seed + 1)
    opt = torch.optim.AdamW(head.parameters(), lr=cfg.head_lr, weight_decay=1e-3)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.head_lr, total_steps=steps, pct_start=0.1)
    loss_fn = torch.nn.CrossEntropyLoss(label_smoothing=cfg.label_smoothing)
    zt, yt = torch.from_numpy(z), torch.from_numpy(y)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a small MLP: more threads only contend (6x slower on 2 busy cores)
    head.train()
    hist = []
    for step in range(1, steps + 1):
        idx = torch.from_numpy(np.concatenate([rng.choice(b, n) for b, n in zip(buckets, counts)]))
        loss = loss_fn(head(zt[idx]), yt[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        hist.append(loss.item())
        if step % 500 == 0 or step == steps:
            log(f"context head step {step}/{steps}: loss {np.mean(hist[-500:]):.4f}")
    head.eval()
    torch.set_num_threads(threads)
    return float(np.mean(hist[-500:]))


SWEEP_THRESHOLDS = (0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.98)


def threshold_sweep(net, z: np.ndarray, y: np.ndarray, windows: np.ndarray, clean_window: np.ndarray,
                    window_s: float = REAL_WINDOW_S) -> list[dict]:
    """For each threshold: events per hour on wholly clean windows (runs of two or more
    consecutive segments flagged with the same defect, as the detector's merge at its default
    min_duration_s) and per-class segment recall on defect segments."""
    import torch

    with torch.inference_mode():
        p = torch.softmax(net.context_head(torch.from_numpy(z)), dim=1).numpy()
    top, conf = p.argmax(1), p.max(1)
    clean_rows = clean_window[windows]
    hours = max(1e-9, len(np.unique(windows[clean_rows])) * window_s / 3600)
    out = []
    for thr in SWEEP_THRESHOLDS:
        flag = np.where((top != 0) & (conf >= thr), top, 0)
        events = 0
        for w in np.unique(windows[clean_rows]):
            f = flag[windows == w]
            events += int(((f[1:] != 0) & (f[1:] == f[:-1]) & np.concatenate([[True], f[1:-1] != f[:-2]])).sum())
        rec = {CLASSES[c]: round(float((flag[y == c] == c).mean()), 4) for c in range(1, len(CLASSES)) if (y == c).any()}
        out.append({"threshold": thr, "clean_events_per_hour": round(events / hours, 2), "recall": rec})
    return out


def head_metrics(net, z: np.ndarray, y: np.ndarray, windows: np.ndarray, clean_window: np.ndarray) -> dict:
    """Segment metrics of the head's decision (argmax) on scored rows; the share of wholly clean
    windows with any segment called a defect."""
    import torch

    with torch.inference_mode():
        p = torch.softmax(net.context_head(torch.from_numpy(z)), dim=1).numpy()
    pred = p.argmax(1)
    keep = y >= 0
    cm = confusion(y[keep], pred[keep])
    recall = np.diag(cm) / np.maximum(1, cm.sum(axis=1))
    flagged = np.zeros(int(windows.max()) + 1 if len(windows) else 0, bool)
    np.logical_or.at(flagged, windows, pred != 0)
    cw = clean_window[:len(flagged)]
    return {"balanced_accuracy": balanced_accuracy(cm), **{f"recall_{c}": float(r) for c, r in zip(CLASSES, recall)},
            "clean_window_false_alarm_rate": float(flagged[cw].mean()) if cw.any() else float("nan"),
            "confusion": cm.tolist(), "segments": int(keep.sum())}


# ---------------------------------------------------------------------------------------------
# Metrics


def confusion(y: np.ndarray, pred: np.ndarray, n: int = len(CLASSES)) -> np.ndarray:
    """Rows: true class; columns: predicted class."""
    return np.bincount(np.asarray(y) * n + np.asarray(pred), minlength=n * n).reshape(n, n)


def balanced_accuracy(cm: np.ndarray) -> float:
    """Mean per-class recall over the classes present."""
    support = cm.sum(axis=1)
    present = support > 0
    return float(np.mean(np.diag(cm)[present] / support[present])) if present.any() else float("nan")


def evaluate_segments(net, data: dict, scenes: np.ndarray) -> dict:
    """Balanced accuracy, recall per class, confusion and clean false-alarm rate over the aligned
    one-second slots of ``scenes`` (digitally silent slots included: the detector skips them, the
    network must still call them clean)."""
    from rayqa.nets.audio_artifacts import classify

    sc, st, y = crops(data, scenes, aligned=True)
    # 64 scenes (512 slots) at a time; each scene is its own context group.
    p = np.concatenate([classify(net, gather(data, sc[i:i + 512], st[i:i + 512]), groups=sc[i:i + 512])
                        for i in range(0, len(y), 512)]) if len(y) else np.zeros((0, len(CLASSES)), np.float32)
    pred = p.argmax(1)
    cm = confusion(y, pred)
    recall = np.diag(cm) / np.maximum(1, cm.sum(axis=1))
    clean = y == 0
    return {
        "balanced_accuracy": balanced_accuracy(cm),
        "accuracy": float((pred == y).mean()) if len(y) else float("nan"),
        **{f"recall_{c}": float(r) for c, r in zip(CLASSES, recall)},
        "clean_false_alarm_rate": float((pred[clean] != 0).mean()) if clean.any() else float("nan"),
        "confusion": cm.tolist(),
        "segments": int(len(pred)),
    }


# ---------------------------------------------------------------------------------------------
# Training


def balanced_batch(labels_idx: list[np.ndarray], rng: np.random.Generator, batch: int) -> np.ndarray:
    """Indices of a batch with every class equally represented (the remainder goes to no_defect)."""
    per = batch // len(labels_idx)
    counts = [per] * len(labels_idx)
    counts[0] += batch - per * len(labels_idx)
    return np.concatenate([rng.choice(idx, c) for idx, c in zip(labels_idx, counts)])


def _log(msg: str) -> None:
    print(msg, flush=True)


def train(cfg: TrainConfig, data: str | os.PathLike | None = None, out: str | os.PathLike | None = None,
          register: bool = True, promote: bool = False, log=_log, weights: str | os.PathLike | None = None) -> dict:
    """The whole command; returns the metrics and where the model went. ``weights``: a model
    folder whose CNN trunk is taken as it is (frozen: only the context head is trained) or, with
    ``cfg.finetune``, as the start of the trunk's fine-tuning on real windows."""
    cfg.check()
    started = time.perf_counter()
    folder = dataset_dir(cfg, data)
    arrays = make_data(folder, cfg, log)
    train_scenes, val_scenes = split(arrays, cfg)
    tr_scene, tr_start, tr_label = crops(arrays, train_scenes, aligned=False)
    n_val = len(val_scenes) * arrays["slots"].shape[1]
    real_data = make_real_data(folder, cfg, log) if cfg.context else {}
    digest = data_hash(arrays, real_data)

    import torch

    from rayqa.nets import audio_artifacts as net_mod
    from rayqa.registry import rayqa_home
    from rayqa.tracking import TrackedRun

    torch.manual_seed(cfg.seed)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    trunk_from = None
    if weights:
        net, wmeta = net_mod.load(weights)
        if net.aux != cfg.aux or (cfg.context and not net.aux):
            raise ValueError(f"{weights}: its network ({net.name}) has no auxiliary features, which the context head needs")
        # Where the trunk itself was trained: that folder's own training, or (a model made this way
        # from another) the one it names.
        src = wmeta.get("trunk_from") or {k: wmeta.get(k) for k in ("train_seconds", "train_config", "data_sha256")}
        trunk_from = {"folder": str(weights), "arch": wmeta.get("arch"), "weights_sha256": wmeta.get("weights_sha256"),
                      **{k: src.get(k) for k in ("train_seconds", "train_config", "data_sha256")}}
        log(f"trunk from {weights} ({wmeta.get('arch')}), "
            + (f"fine-tuned for {cfg.finetune} steps, then the context head" if cfg.finetune else
               "frozen: only the context head is trained"))
    else:
        net = net_mod.AudioArtifactNet(cfg.arch, cfg.width, aux=cfg.aux)
    init = None
    if cfg.init_panns and not weights:
        init = net_mod.load_panns_checkpoint(net, cfg.init_panns)
        log(f"trunk from {cfg.init_panns}: {len(init['loaded'])} tensors loaded, {len(init['skipped'])} skipped")
    by_class = [np.flatnonzero(tr_label == c) for c in range(len(CLASSES))]
    if any(len(i) == 0 for i in by_class):
        missing = [c for c, i in zip(CLASSES, by_class) if len(i) == 0]
        raise ValueError(f"the simulated training set has no {', '.join(missing)} segment: simulate more items")
    log(f"training crops: {len(tr_label)} from {len(train_scenes)} scenes "
        f"({', '.join(f'{c} {len(i)}' for c, i in zip(CLASSES, by_class))}); validation: {n_val} aligned slots "
        f"of {len(val_scenes)} scenes")

    run = TrackedRun(f"rayqa-train-{DETECTOR}", f"train-{DETECTOR}-seed{cfg.seed}") if register else None
    if run is not None:
        run.log_params({**asdict(cfg), "data_dir": str(folder), "data_sha256": digest, "train_crops": len(tr_label),
                        "val_segments": n_val, "torch": torch.__version__, "trunk_from": str(weights or "")})

    train_s = 0.0
    if not weights:
        opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=cfg.steps, pct_start=0.15)
        loss_fn = torch.nn.CrossEntropyLoss(label_smoothing=cfg.label_smoothing)
        rng = np.random.default_rng(cfg.seed)
        history = []
        net.train()
        t_train = time.perf_counter()
        for step in range(1, cfg.steps + 1):
            idx = balanced_batch(by_class, rng, cfg.batch)
            x = gain_augment(torch.from_numpy(gather(arrays, tr_scene[idx], tr_start[idx])), rng, cfg.gain_augment_db)
            history.append(optimiser_step(opt, sched, loss_fn(net(x), torch.from_numpy(tr_label[idx]))))
            if step % 50 == 0 or step == cfg.steps:
                m = float(np.mean(history[-50:]))
                rate = step * cfg.batch / (time.perf_counter() - t_train)
                log(f"step {step}/{cfg.steps}: loss {m:.4f}, {rate:.1f} segments/s")
                if run is not None:
                    run.log_metrics({"train_loss": m}, step)
        train_s = time.perf_counter() - t_train
    net.eval()
    finetune_info: dict = {}
    if cfg.finetune:
        finetune_info = finetune_trunk(net, arrays, tr_scene, tr_start, tr_label, real_data, cfg, log, run)

    head_info: dict = {}
    if cfg.context:
        t_head = time.perf_counter()
        ctx_net = net_mod.AudioArtifactNet(net.arch, net.width, aux=True, context=True, context_residual=cfg.head_residual)
        fresh = ctx_net.state_dict()
        ctx_net.load_state_dict({**fresh, **{k: v for k, v in net.state_dict().items() if not k.startswith("context_head.")}})
        ctx_net.eval()
        net = ctx_net
        head_info = fit_context_head(net, arrays, train_scenes, val_scenes, real_data, cfg, log, run)
        head_info["seconds"] = round(time.perf_counter() - t_head, 1)
        if run is not None:
            run.log_metrics({"head_train_loss": head_info.pop("final_loss")}, cfg.head_steps or 2 * cfg.steps)
        else:
            head_info.pop("final_loss")
    total_s = time.perf_counter() - started

    out = Path(out) if out else rayqa_home() / "models" / DETECTOR
    meta = net_mod.save(net, out, {
        "detector": DETECTOR, "train_config": asdict(cfg), "data_sha256": digest, "data_scenes": cfg.items,
        "data_format": DATA_FORMAT, "train_crops": int(len(tr_label)), "train_scenes": int(len(train_scenes)),
        "val_segments": int(n_val), **({"init_panns": Path(cfg.init_panns).name} if cfg.init_panns else {}),
        "torch": torch.__version__, "python": platform.python_version(), "train_seconds": round(train_s, 1),
        "command_seconds": round(total_s, 1),
        **({"trunk_from": trunk_from} if trunk_from else {}), **({"context": head_info} if head_info else {}),
        **({"finetune": finetune_info} if finetune_info else {}),
    })
    # Metrics of the weights as shipped (float16 on disk), not of the float32 ones in memory.
    shipped, _ = net_mod.load(out)
    metrics = evaluate_segments(shipped, arrays, val_scenes)
    meta["metrics"] = {f"val_{k}": round(v, 4) for k, v in metrics.items() if isinstance(v, float)}
    meta["metrics"].update({k: v for k, v in head_info.get("metrics", {}).items()})
    meta["val_confusion"] = metrics["confusion"]
    (out / net_mod.MODEL_FILE).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
    (out / "MODEL_CARD.md").write_text(model_card(meta))
    log("validation (segments of held-back training scenes): "
        + ", ".join(f"{k} {v}" for k, v in meta["metrics"].items()) + f"; confusion {metrics['confusion']}")

    version = None
    if run is not None:
        version = run.registry.register_trained(DETECTOR, out, run.run_id, meta["metrics"], max(cfg.steps, 1), digest,
                                                promote, log)
    log(f"model written to {out} in {time.perf_counter() - started:.0f} s")
    return {"out": str(out), "metrics": meta["metrics"], "version": version, "data_sha256": digest,
            "train_seconds": train_s}


def gain_augment(x, rng: np.random.Generator, db: float):
    """Each row of the batch ``x`` (a float tensor of waveforms) at a random gain within ±``db``
    dB, clipped to full scale as a recording would be (``db`` 0: ``x`` as it is)."""
    import torch

    if not db:
        return x
    gain_db = rng.uniform(-db, db, (len(x), 1)).astype(np.float32)
    return (x * torch.from_numpy(10 ** (gain_db / 20))).clamp(-1.0, 1.0)


def optimiser_step(opt, sched, loss) -> float:
    """One step of ``opt`` and its schedule on ``loss``; returns the loss."""
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    sched.step()
    return loss.item()


def real_val_windows(n: int, cfg: TrainConfig) -> np.ndarray:
    """Which of the ``n`` real training windows are held back (a seeded draw of ``val_fraction``):
    neither the trunk's fine-tuning nor the head sees them."""
    rng = np.random.default_rng(cfg.seed + 2)
    val = np.zeros(n, bool)
    val[rng.choice(n, size=max(1, int(round(n * cfg.val_fraction))), replace=False)] = True
    return val


def _real_clicks(real_data: dict) -> dict[int, np.ndarray]:
    got: dict[int, list[float]] = {}
    for t, w in zip(real_data["click_times"], real_data["click_window"]):
        got.setdefault(int(w), []).append(float(t))
    return {k: np.asarray(v) for k, v in got.items()}


def finetune_trunk(net, arrays: dict, tr_scene: np.ndarray, tr_start: np.ndarray, tr_label: np.ndarray,
                   real_data: dict, cfg: TrainConfig, log=print, run=None) -> dict:
    """Train the trunk end to end (CNN, auxiliary layer, ``fc_artifacts``; not a context head) for
    ``cfg.finetune`` steps: each batch ``finetune_real_share`` one-second crops of the real training
    windows (1/8 s grid, inside one class run, clicks crops holding a click; held-back windows never)
    and the rest simulated crops, each part balanced over classes, gain-augmented as the trunk's own
    training. Returns what it did, for model.json."""
    import torch

    from rayqa.nets.audio_artifacts import SAMPLE_RATE as SR

    rng = np.random.default_rng(cfg.seed + 3)
    torch.manual_seed(cfg.seed + 3)
    n_real = int(round(cfg.batch * cfg.finetune_real_share)) if real_data else 0
    rw, rs, ry = [], [], []
    if n_real:
        val_r = real_val_windows(len(real_data["defect"]), cfg)
        clicks = _real_clicks(real_data)
        n = real_data["wave"].shape[1]
        for i in np.flatnonzero(~val_r):
            d, r = int(real_data["defect"][i]), real_data["run"][i]
            starts, y = segment_labels(n, CLASSES[d], tuple(r) if d else None, clicks.get(int(i), np.zeros(0)), hop_s=0.125)
            keep = y >= 0
            rw.append(np.full(int(keep.sum()), i, np.int64))
            rs.append(np.asarray(starts, np.int64)[keep])
            ry.append(y[keep])
        rw, rs, ry = np.concatenate(rw), np.concatenate(rs), np.concatenate(ry)
    real_by_class = [np.flatnonzero(ry == c) for c in range(len(CLASSES))] if n_real else []
    if n_real and any(len(i) == 0 for i in real_by_class):
        missing = [c for c, i in zip(CLASSES, real_by_class) if len(i) == 0]
        raise ValueError(f"the real training windows hold no {', '.join(missing)} crop: build more windows")
    sim_by_class = [np.flatnonzero(tr_label == c) for c in range(len(CLASSES))]
    log(f"fine-tuning the trunk: {cfg.finetune} steps of {cfg.batch - n_real} simulated + {n_real} real crops "
        f"(real crops {len(ry)} of {len(np.unique(rw)) if n_real else 0} windows: "
        f"{', '.join(f'{c} {len(i)}' for c, i in zip(CLASSES, real_by_class))})")
    params = [p for k, p in net.named_parameters() if not k.startswith("context_head.")]
    opt = torch.optim.AdamW(params, lr=cfg.finetune_lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.finetune_lr, total_steps=cfg.finetune, pct_start=0.1)
    loss_fn = torch.nn.CrossEntropyLoss(label_smoothing=cfg.label_smoothing)
    net.train()
    hist, started = [], time.perf_counter()
    for step in range(1, cfg.finetune + 1):
        parts, labels = [], []
        if cfg.batch - n_real:
            idx = balanced_batch(sim_by_class, rng, cfg.batch - n_real)
            parts.append(gather(arrays, tr_scene[idx], tr_start[idx]))
            labels.append(tr_label[idx])
        if n_real:
            idx = balanced_batch(real_by_class, rng, n_real)
            parts.append(np.stack([real_data["wave"][w, s:s + SR] for w, s in zip(rw[idx], rs[idx])]))
            labels.append(ry[idx])
        x = gain_augment(torch.from_numpy(np.concatenate(parts).astype(np.float32, copy=False)), rng, cfg.gain_augment_db)
        logmel = net.logmel(x)
        logits = net.trunk(logmel, net.aux_features(x, logmel) if net.aux else None)[1]
        hist.append(optimiser_step(opt, sched, loss_fn(logits, torch.from_numpy(np.concatenate(labels)))))
        if step % 50 == 0 or step == cfg.finetune:
            m = float(np.mean(hist[-50:]))
            log(f"fine-tune step {step}/{cfg.finetune}: loss {m:.4f}, "
                f"{step * cfg.batch / (time.perf_counter() - started):.1f} segments/s")
            if run is not None:
                run.log_metrics({"finetune_loss": m}, step)
    net.eval()
    return {"steps": cfg.finetune, "lr": cfg.finetune_lr, "real_share": cfg.finetune_real_share,
            "real_crops": int(len(ry)), "real_windows": int(len(np.unique(rw))) if n_real else 0,
            "seconds": round(time.perf_counter() - started, 1), "final_loss": round(float(np.mean(hist[-50:])), 4)}


def fit_context_head(net, arrays: dict, train_scenes: np.ndarray, val_scenes: np.ndarray, real_data: dict,
                     cfg: TrainConfig, log=print, run=None) -> dict:
    """Inputs of the context head for every simulated scene and real window (the trunk's vectors
    of the detector's segments at hop 0.5 s, each window its own group), the head trained on the
    training share, metrics on the held-back share (simulated scenes as :func:`split`; real
    windows: the same fraction, by a seeded draw)."""

    clicks: dict[int, list[float]] = {}
    for t, sc in zip(arrays["click_times"], arrays["click_scene"]):
        clicks.setdefault(int(sc), []).append(float(t))
    n = arrays["wave"].shape[1]
    sim_lab = [_sim_segment_labels(arrays["slots"][i], np.asarray(clicks.get(i, [])), n) for i in range(len(arrays["slots"]))]
    z_sim, y_sim, w_sim = head_inputs(net, arrays["wave"], sim_lab, log, "simulated")
    sim_clean = np.asarray([(arrays["slots"][i] == 0).all() for i in range(len(arrays["slots"]))])
    parts = {"sim": (z_sim, y_sim, w_sim, np.isin(np.arange(len(sim_lab)), val_scenes), sim_clean)}
    if real_data:
        rclicks = _real_clicks(real_data)
        rn = real_data["wave"].shape[1]
        real_lab = [segment_labels(rn, CLASSES[int(d)], tuple(r) if d else None, rclicks.get(i, np.zeros(0)))
                    for i, (d, r) in enumerate(zip(real_data["defect"], real_data["run"]))]
        z_r, y_r, w_r = head_inputs(net, real_data["wave"], real_lab, log, "real")
        val_r = real_val_windows(len(real_lab), cfg)
        parts["real"] = (z_r, y_r, w_r, val_r, real_data["defect"] == 0)
    z = np.concatenate([p[0][~p[3][p[2]]] for p in parts.values()])
    y = np.concatenate([p[1][~p[3][p[2]]] for p in parts.values()])
    src = np.concatenate([np.full(int((~p[3][p[2]]).sum()), k, np.int64) for k, p in enumerate(parts.values())])
    log(f"context head: {int((y >= 0).sum())} scored training segments "
        f"({', '.join(f'{name} {int((~p[3][p[2]] & (p[1] >= 0)).sum())}' for name, p in parts.items())})")
    final_loss = train_head(net, z, y, src, cfg, log)
    metrics, sweeps = {}, {}
    for name, (zz, yy, ww, val, clean) in parts.items():
        sel = val[ww]
        if not sel.any():
            continue
        m = head_metrics(net, zz[sel], yy[sel], ww[sel], clean)
        sweeps[name] = threshold_sweep(net, zz[sel], yy[sel], ww[sel], clean)
        for row in sweeps[name]:
            log(f"  {name} threshold {row['threshold']}: clean events/h {row['clean_events_per_hour']}, recall {row['recall']}")
        metrics.update({f"val_{name}_{k}": round(v, 4) for k, v in m.items() if isinstance(v, float)})
        log(f"context head, held-back {name} windows: " + ", ".join(f"{k} {round(v, 4)}" for k, v in m.items()
                                                                        if isinstance(v, float)) + f"; confusion {m['confusion']}")
    return {"metrics": metrics, "real_windows": int(len(real_data.get("defect", []))), "threshold_sweep": sweeps,
            "segments": {name: int((p[1] >= 0).sum()) for name, p in parts.items()}, "final_loss": final_loss,
            **({"real_sources": real_sources()} if real_data else {})}


def real_sources() -> dict:
    """What the real training windows were drawn from: the train files per kind, the train-only
    packages among them and the digest of their paths (the real data cache's key)."""
    from rayqa.simulate import real

    return {"train_files": {k: len(real.split_files(k, "train")) for k in ("music", "voice", "ambience")},
            "train_only_packages": sorted(real.TRAIN_ONLY_PACKAGES), "sha256": real.train_sources_digest()}


def _train_only_text(ctx: dict) -> str:
    src = ctx.get("real_sources")
    if not src:  # a model trained before the train-only packages existed
        return ""
    n = src["train_files"]
    return (f", and of the train-only packages {', '.join(src['train_only_packages'])}: {n['music']} music files, "
            f"{n['voice']} voice lines and {n['ambience']} ambience beds in all, sources sha256 `{src['sha256'][:16]}`")


def model_card(meta: dict) -> str:
    m = meta.get("metrics", {})
    cfg = meta.get("train_config", {})
    trunk = meta.get("trunk_from") or {}
    tcfg = trunk.get("train_config") or cfg
    ctx = meta.get("context") or {}
    ft = meta.get("finetune") or {}
    ft_flag = f" --finetune {ft.get('steps')}" if ft else ""
    ft_text = (f" The trunk was then fine-tuned end to end (`--finetune {ft.get('steps')}`, {ft.get('seconds')} s): "
               f"{ft.get('steps')} steps of {cfg.get('batch')} one-second crops, {ft.get('real_share'):.0%} of each batch from "
               f"{ft.get('real_crops')} crops (1/8 s grid, inside one class run) of {ft.get('real_windows')} real training "
               f"windows (below; the held-back ones never), the rest simulated crops, each part balanced over classes, "
               f"AdamW at {ft.get('lr')} (one cycle)." if ft else "")

    def f(k):
        v = m.get(k)
        return "n/a" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.3f}"

    cm = meta.get("val_confusion") or []
    aux_text = ("""
Beside the CNN, `AuxFeatures` computed in the network from the same segment (104 values, batch
norm, a 128-unit layer, concatenated with `fc1`'s output): the peak power at each of 12
harmonics of 50 and 60 Hz in a 1 Hz spectrum against its neighbourhood and against the total
(hum, which 31 Hz STFT bins blur into bass), each 4-mel band's 10th/50th/90th percentile over
frames (the noise floor: hiss), and the waveform's share of samples near its peak, crest factor
and click kurtosis (clipping, clicks).""" if meta.get("aux_features") else "")
    ctx_text = ("""
**Context head** (`-ctx`): one second alone is ambiguous (steady programme noise or added hiss?
loud mastered music or overdrive?), so the final decision is made by a small MLP (`context_head`:
3 x 365 inputs, 128 hidden, 5 logits) over the segment's vector (`fc1`'s output, the 104
auxiliary features and the CNN's own 5 logits), the element-wise median of the vectors of the
other segments of its window (the scan's 8 s decode window: the programme's own noise floor,
level and texture) and the difference of the two, standardised by the training set's
statistics.""" if meta.get("context_head") else "")
    init_text = (f"The trunk started from the published checkpoint `{meta['init_panns']}`; the head and the "
                 f"auxiliary layers were trained fresh.\n" if meta.get("init_panns") else
                 "Trained from scratch: no AudioSet weights can be downloaded where it was made.\n")
    rows = "\n".join(f"| {CLASSES[i]} | " + " | ".join(str(v) for v in row) + " |" for i, row in enumerate(cm))
    if trunk:
        produced = (f"Produced by `rayqa train audio_artifacts --seed {cfg.get('seed')} --items {cfg.get('items')} "
                    f"--steps {cfg.get('steps')}{ft_flag} --weights models/audio_artifacts` "
                    f"(torch {meta.get('torch')}, {meta.get('command_seconds')} s for the whole command on the machine "
                    f"that made it; the context head's own training "
                    f"{ctx.get('seconds')} s including its inputs). `--weights` takes the CNN trunk of that model folder "
                    f"{'as the start of fine-tuning' if ft else 'as it is (frozen'}, weights sha256 of the folder used: "
                    f"`{trunk.get('weights_sha256')}`{'' if ft else ')'}: the trunk of v2 (`rayqa train audio_artifacts "
                    f"--seed {tcfg.get('seed')} --items {tcfg.get('items')} --steps "
                    f"{tcfg.get('steps')} --batch {tcfg.get('batch')}`, {trunk.get('train_seconds')} s of training, "
                    f"synthetic programme only; its data sha256 `{trunk.get('data_sha256')}`)."
                    + (ft_text if ft else " The shipped folder holds the same trunk tensors, so `--weights "
                       "models/audio_artifacts` reproduces this model from itself."))
    else:
        produced = (f"Produced by `rayqa train audio_artifacts --seed {cfg.get('seed')} --items {cfg.get('items')} "
                    f"--steps {cfg.get('steps')} --batch {cfg.get('batch')}{ft_flag}` (torch {meta.get('torch')}, "
                    f"{meta.get('train_seconds')} s of trunk training, {meta.get('command_seconds')} s for the command)."
                    + ft_text)
    real_text = ""
    if ctx:
        real_text = f"""
**Real recordings (the context head).** {ctx.get('real_windows')} windows of 8 s built from the *train*
files of `rayqa/simulate/real.py` (recorded music of asc-music, frozen-bubble-data, lincity-ng-data and
hedgewars-data{_train_only_text(ctx)}; recorded hedgewars voice lines over music or city ambience; the bench files
are never used in training): music {REAL_KINDS_P[0]:.0%}, dialogue over music {REAL_KINDS_P[1]:.0%},
dialogue over ambience {REAL_KINDS_P[2]:.0%}, synthesised textures alone {REAL_KINDS_P[3]:.0%}
(applause, crowd babble, rain, wind; vinyl crackle, rumble and soft hiss under music) and dialogue
over a texture {REAL_KINDS_P[4]:.0%}; mastered loud ({MASTERING_P[0]:.0%}: 6-14 dB into a look-ahead
peak limiter with a -1..-0.1 dBFS ceiling), broadcast ({MASTERING_P[1]:.0%}: -23 +- 3 LUFS) or quiet
({MASTERING_P[2]:.0%}: -38..-30 LUFS); mono, stereo or 5.1; AAC in MP4 at 48 kHz and the scan's
decoder. A third of the windows are clean; the others hold one defect (the ranges above) over a run
of 1-3 s (70 %) or 4-8 s (up to the whole window). Hard negatives are what these recordings hold
(distorted guitars and saturated synths where the tracks have them, limiting, percussion) and the
synthesised textures; no recording of applause, crowds, rain or wind is installed.
The head's training inputs are the detector's own segments (hop 0.5 s) of those windows and of the
simulated scenes, segments across a run's edge left out; batches balanced over (source, class);
{cfg.get('head_steps') or 2 * (cfg.get('steps') or 0)} steps of 510, AdamW, seed {cfg.get('seed')}.
Scored segments: {ctx.get('segments')}.
"""
    real_rows = ""
    if "val_real_balanced_accuracy" in m:
        real_rows = f"""
Held-back real training windows (train recordings, other windows), the head's argmax:

| balanced accuracy | recall no_defect | hum | hiss | distortion | clicks | clean windows with a flagged segment |
|---|---|---|---|---|---|---|
| {f('val_real_balanced_accuracy')} | {f('val_real_recall_no_defect')} | {f('val_real_recall_hum')} | {f('val_real_recall_hiss')} | {f('val_real_recall_distortion')} | {f('val_real_recall_clicks')} | {f('val_real_clean_window_false_alarm_rate')} |
"""
    return f"""# Model card: rayqa-audio_artifacts ({meta['arch']})

{produced}
Weights: `{meta['weights']}` (float16), sha256 `{meta['weights_sha256']}`.

## What it does
Labels one-second mono segments at 32 kHz as {', '.join(f'`{c}`' for c in CLASSES)}.
A PANNs-style CNN (Kong et al. 2020): torchaudio log-mel front end (n_fft 1024, hop 320, 64 Slaney
mels, 50-14000 Hz, power in dB), `bn0` over mel bins, the PANNs `{meta['panns_layout']}` layout
(blocks `conv_block1..`, `fc1`) at width {meta['width']:g} (every channel count scaled by it, to fit the CPU
training budget), and a 5-class layer `fc_artifacts`.{aux_text}{ctx_text}
{init_text}`rayqa train audio_artifacts --init-panns Cnn6_mAP=0.343.pth` (or Cnn10/Cnn14) starts the trunk
from a published PANNs checkpoint instead (that layout at width 1.0).

## Data
**Simulated** (the trunk; and beside the real windows, the context head), train-split pristine sources
only (see rayqa/simulate/SOURCES.md): {meta.get('data_scenes')} scenes of {cfg.get('scene_s')} s (speech, music, noise beds, tones) at source rates 8-48 kHz,
mono/stereo/5.1, programme peak {cfg.get('level_range_dbfs')} dBFS, {cfg.get('eq_share')} of them through a random EQ (low
shelf -6..+15 dB for bass-heavy and bass-light mixes, high shelf, or a 3-12 kHz low-pass); runs of
1-3 one-second slots clean ({cfg.get('clean_share')} of runs) or with hum (50/60 Hz, 1-6 harmonics, -45..-20
dBFS), hiss (white/pink, 5-30 dB SNR), clicks (1-30 per second) or distortion (soft/hard clipping
or bit-crush, overdrive gain 2-16); {cfg.get('silence_share')} of scenes hold a digitally silent clean slot.
Every scene is encoded to AAC and decoded by the scan's decoder (32 kHz mono: channels are mixed
down). {'The trunk was trained (v2) on one-second crops on a 1/8 s grid of 900 such scenes.' if trunk else f'Training takes one-second crops on a 1/8 s grid that lie inside one class run (and, for clicks, hold a click): {meta.get("train_crops")} crops of {meta.get("train_scenes")} scenes.'}
Validation is the {meta.get('val_segments')} aligned slots of held-back scenes.
{real_text}
Training data sha256 (simulated and real arrays) `{meta.get('data_sha256')}`.

## Metrics (held-back training windows; train-split sources)
Simulated scenes, aligned slots, each scene its own context:

| balanced accuracy | recall no_defect | hum | hiss | distortion | clicks |
|---|---|---|---|---|---|
| {f('val_balanced_accuracy')} | {f('val_recall_no_defect')} | {f('val_recall_hum')} | {f('val_recall_hiss')} | {f('val_recall_distortion')} | {f('val_recall_clicks')} |

Confusion matrix (rows true, columns predicted, in the order {', '.join(CLASSES)}):

| true \\ predicted | {' | '.join(CLASSES)} |
|---|{'---|' * len(CLASSES)}
{rows}
{real_rows}
The held-out evaluation (real recordings training never heard, and simulated programme from
held-out pristine sources: per-class recall by level, false events per hour by programme type and
mastering, segments/s) is `python bench/audio_artifacts.py`; its figures are in
`bench/results/audio_artifacts.json`, the README and docs/detectors.md.

## Limits
- Context is the segment's own decode window (8 s by default): a defect that covers most of a
  window is judged against itself and only its absolute features can show it; a programme that
  changes within the window (a cut from speech to music) gives a mixed context.
- {'The CNN trunk learnt the real training windows only in its fine-tuning (a share of its batches)' if ft else 'The CNN trunk has heard synthetic programme only (frozen here); only the head learnt real recordings'}.
  Recordings of real defects (a real bad transfer, a real ground loop) are not in any set.
- Channels are mixed down to mono before the classifier: a defect on one channel of 5.1 is
  diluted by the others (about -8 to -15 dB).
- Hum is only looked for at 50 and 60 Hz and their harmonics (the mains); a hum at another
  frequency is left to the CNN alone.
- Rerunning the command with the same seed on the same software reproduces the data hash exactly
  (checked by the test suite at toy size) and the weights up to floating-point differences
  between CPUs and thread counts; a full rerun to confirm it has not been made.
"""
