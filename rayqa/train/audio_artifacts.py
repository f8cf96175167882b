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


def make_data(folder: Path, cfg: TrainConfig, log=print) -> dict:
    """Simulate the scenes into ``folder/scenes.npz`` unless a set made with the same simulation
    settings is already there; returns the arrays: ``wave`` (scenes, samples) float32, ``slots``
    (scenes, slots) class indices, ``click_times`` / ``click_scene`` (flat)."""
    path = folder / "scenes.npz"
    sim = {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(cfg).items() if k in SIM_KEYS}
    sim["format"] = DATA_FORMAT
    if path.is_file() and (folder / "simulation.json").is_file():
        if json.loads((folder / "simulation.json").read_text()).get("config") == sim:
            log(f"training data: reusing {path}")
            with np.load(path) as z:
                return {k: z[k] for k in z.files}
    folder.mkdir(parents=True, exist_ok=True)
    log(f"training data: simulating {cfg.items} scenes of {cfg.scene_s:g} s into {path} (seed {cfg.seed})")
    started = time.perf_counter()
    workers = cfg.workers or max(1, os.cpu_count() or 1)
    ctx = multiprocessing.get_context("spawn")  # torch is imported in the parent
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
        results = list(pool.map(simulate_scene, [cfg.seed] * cfg.items, range(cfg.items), [sim] * cfg.items,
                                chunksize=4))
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


def data_hash(data: dict) -> str:
    """sha256 over the scenes' decoded waveforms (float32), slot classes and click times."""
    h = hashlib.sha256()
    for k in ("wave", "slots", "click_times", "click_scene"):
        h.update(k.encode())
        h.update(np.ascontiguousarray(data[k]).tobytes())
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
    p = np.concatenate([classify(net, gather(data, sc[i:i + 512], st[i:i + 512])) for i in range(0, len(y), 512)]) \
        if len(y) else np.zeros((0, len(CLASSES)), np.float32)
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
          register: bool = True, promote: bool = False, log=_log) -> dict:
    """The whole command; returns the metrics and where the model went."""
    cfg.check()
    started = time.perf_counter()
    folder = dataset_dir(cfg, data)
    arrays = make_data(folder, cfg, log)
    digest = data_hash(arrays)
    train_scenes, val_scenes = split(arrays, cfg)
    tr_scene, tr_start, tr_label = crops(arrays, train_scenes, aligned=False)
    n_val = len(val_scenes) * arrays["slots"].shape[1]

    import torch

    from rayqa.nets import audio_artifacts as net_mod
    from rayqa.registry import rayqa_home
    from rayqa.tracking import TrackedRun

    torch.manual_seed(cfg.seed)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    net = net_mod.AudioArtifactNet(cfg.arch, cfg.width, aux=cfg.aux)
    init = None
    if cfg.init_panns:
        init = net_mod.load_panns_checkpoint(net, cfg.init_panns)
        log(f"trunk from {cfg.init_panns}: {len(init['loaded'])} tensors loaded, {len(init['skipped'])} skipped")
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=cfg.steps, pct_start=0.15)
    loss_fn = torch.nn.CrossEntropyLoss(label_smoothing=cfg.label_smoothing)
    rng = np.random.default_rng(cfg.seed)
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
                        "val_segments": n_val, "torch": torch.__version__})

    history = []
    net.train()
    t_train = time.perf_counter()
    for step in range(1, cfg.steps + 1):
        idx = balanced_batch(by_class, rng, cfg.batch)
        x = torch.from_numpy(gather(arrays, tr_scene[idx], tr_start[idx]))
        if cfg.gain_augment_db:
            gain_db = rng.uniform(-cfg.gain_augment_db, cfg.gain_augment_db, (len(idx), 1)).astype(np.float32)
            x = (x * torch.from_numpy(10 ** (gain_db / 20))).clamp(-1.0, 1.0)
        loss = loss_fn(net(x), torch.from_numpy(tr_label[idx]))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        history.append(loss.item())
        if step % 50 == 0 or step == cfg.steps:
            m = float(np.mean(history[-50:]))
            rate = step * cfg.batch / (time.perf_counter() - t_train)
            log(f"step {step}/{cfg.steps}: loss {m:.4f}, {rate:.1f} segments/s")
            if run is not None:
                run.log_metrics({"train_loss": m}, step)
    train_s = time.perf_counter() - t_train

    out = Path(out) if out else rayqa_home() / "models" / DETECTOR
    meta = net_mod.save(net, out, {
        "detector": DETECTOR, "train_config": asdict(cfg), "data_sha256": digest, "data_scenes": cfg.items,
        "data_format": DATA_FORMAT, "train_crops": int(len(tr_label)), "train_scenes": int(len(train_scenes)),
        "val_segments": int(n_val), **({"init_panns": Path(cfg.init_panns).name} if cfg.init_panns else {}),
        "torch": torch.__version__, "python": platform.python_version(), "train_seconds": round(train_s, 1),
    })
    # Metrics of the weights as shipped (float16 on disk), not of the float32 ones in memory.
    shipped, _ = net_mod.load(out)
    metrics = evaluate_segments(shipped, arrays, val_scenes)
    meta["metrics"] = {f"val_{k}": round(v, 4) for k, v in metrics.items() if isinstance(v, float)}
    meta["val_confusion"] = metrics["confusion"]
    (out / net_mod.MODEL_FILE).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
    (out / "MODEL_CARD.md").write_text(model_card(meta))
    log("validation (segments of held-back training scenes): "
        + ", ".join(f"{k} {v}" for k, v in meta["metrics"].items()) + f"; confusion {metrics['confusion']}")

    version = None
    if run is not None:
        version = run.registry.register_trained(DETECTOR, out, run.run_id, meta["metrics"], cfg.steps, digest, promote, log)
    log(f"model written to {out} in {time.perf_counter() - started:.0f} s")
    return {"out": str(out), "metrics": meta["metrics"], "version": version, "data_sha256": digest,
            "train_seconds": train_s}


def model_card(meta: dict) -> str:
    m = meta.get("metrics", {})
    cfg = meta.get("train_config", {})

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
    init_text = (f"The trunk started from the published checkpoint `{meta['init_panns']}`; the head and the "
                 f"auxiliary layers were trained fresh.\n" if meta.get("init_panns") else
                 "Trained from scratch: no AudioSet weights can be downloaded where it was made.\n")
    rows = "\n".join(f"| {CLASSES[i]} | " + " | ".join(str(v) for v in row) + " |" for i, row in enumerate(cm))
    return f"""# Model card: rayqa-audio_artifacts ({meta['arch']})

Produced by `rayqa train audio_artifacts --seed {cfg.get('seed')} --items {cfg.get('items')} --steps {cfg.get('steps')} --batch {cfg.get('batch')}`
(torch {meta.get('torch')}, {meta.get('train_seconds')} s of training on the machine that made it).
Weights: `{meta['weights']}` (float16), sha256 `{meta['weights_sha256']}`.

## What it does
Labels one-second mono segments at 32 kHz as {', '.join(f'`{c}`' for c in CLASSES)}.
A PANNs-style CNN (Kong et al. 2020): torchaudio log-mel front end (n_fft 1024, hop 320, 64 Slaney
mels, 50-14000 Hz, power in dB), `bn0` over mel bins, the PANNs `{meta['panns_layout']}` layout
(blocks `conv_block1..`, `fc1`) at width {meta['width']:g} (every channel count scaled by it, to fit the CPU
training budget), and a 5-class layer `fc_artifacts`.{aux_text}
{init_text}`rayqa train audio_artifacts --init-panns Cnn6_mAP=0.343.pth` (or Cnn10/Cnn14) starts the trunk
from a published PANNs checkpoint instead (that layout at width 1.0).

## Data
Simulated in memory, train-split pristine sources only (see rayqa/simulate/SOURCES.md):
{meta.get('data_scenes')} scenes of {cfg.get('scene_s')} s (speech, music, noise beds, tones) at source rates 8-48 kHz,
mono/stereo/5.1, programme peak {cfg.get('level_range_dbfs')} dBFS, {cfg.get('eq_share')} of them through a random EQ (low
shelf -6..+15 dB for bass-heavy and bass-light mixes, high shelf, or a 3-12 kHz low-pass); runs of
1-3 one-second slots clean ({cfg.get('clean_share')} of runs) or with hum (50/60 Hz, 1-6 harmonics, -45..-20
dBFS), hiss (white/pink, 5-30 dB SNR), clicks (1-30 per second) or distortion (soft/hard clipping
or bit-crush, overdrive gain 2-16); {cfg.get('silence_share')} of scenes hold a digitally silent clean slot.
Every scene is encoded to AAC and decoded by the scan's decoder (32 kHz mono: channels are mixed
down). Training takes one-second crops on a 1/8 s grid that lie inside one class's run (and, for
clicks, hold a click): {meta.get('train_crops')} crops of {meta.get('train_scenes')} scenes; validation is the {meta.get('val_segments')}
aligned slots of the other scenes, held back whole.
Training data sha256 `{meta.get('data_sha256')}`. {cfg.get('steps')} steps of {cfg.get('batch')} class-balanced crops,
±{cfg.get('gain_augment_db')} dB level augmentation.

## Metrics (segments of held-back training scenes; train-split sources)
| balanced accuracy | recall no_defect | hum | hiss | distortion | clicks |
|---|---|---|---|---|---|
| {f('val_balanced_accuracy')} | {f('val_recall_no_defect')} | {f('val_recall_hum')} | {f('val_recall_hiss')} | {f('val_recall_distortion')} | {f('val_recall_clicks')} |

Confusion matrix (rows true, columns predicted, in the order {', '.join(CLASSES)}):

| true \\ predicted | {' | '.join(CLASSES)} |
|---|{'---|' * len(CLASSES)}
{rows}

The held-out evaluation (pristine sources training never saw: other voices, music and noise
beds; recall by defect level, false alarms per hour of clean audio, segments/s) is
`python bench/audio_artifacts.py`; its figures are in the README.

## Limits
- Simulated defects on synthetic programme (espeak-ng speech, synthesised music, noise beds,
  tones); accuracy on real recordings and real defects is unmeasured.
- Channels are mixed down to mono before the classifier: a defect on one channel of 5.1 is
  diluted by the others (about -8 to -15 dB).
- Steady noise that *is* the programme (a hissy room, rain) and added hiss differ only in
  context the classifier does not have; low-SNR pink hiss on a pink-noise bed is invisible.
- Segment decisions are independent: a 1 s segment sees no context before or after it.
- Hum is only looked for at 50 and 60 Hz and their harmonics (the mains); a hum at another
  frequency is left to the CNN alone.
- Rerunning the command with the same seed on the same software reproduces the data hash exactly
  (checked by the test suite at toy size) and the weights up to floating-point differences
  between CPUs and thread counts. Stated tolerance: the validation metrics above within 0.02
  (balanced accuracy and per-class recall); a full rerun to confirm it has not been made yet.
"""
