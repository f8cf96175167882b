"""``rayqa train audio_artifacts``: train the audio-artifact classifier on simulated data.

1. Data, simulated in memory from the *train* split of the pristine sources only (speech from the
   train voices and sentences, train chord progressions, pink/brown/room-tone beds, train tones):
   scenes of ``scene_s`` seconds at a source rate drawn from 8 to 48 kHz, mono, stereo or 5.1, at
   a peak level from ``level_range_dbfs`` (quiet and loud programmes). Each scene is cut into
   one-second slots and runs of 1-3 slots get one class: clean, or a defect injected over the run
   with ``rayqa.simulate.audio`` and parameters drawn from the ranges of the issue (hum -45..-20
   dBFS at 50/60 Hz with 1-6 harmonics, hiss at 5-30 dB SNR white or pink, 1-30 clicks/s,
   soft/hard/bit-crush overdrive gain 2-16); some clean slots are digital silence.
2. Every scene makes the round trip the scan's audio makes: AAC in MP4 (``rayqa.synth.encode``),
   then :mod:`rayqa.media`'s decoder at 32 kHz mono (resampling and channel mix-down included).
   Segments are the aligned slots plus the half-slot-shifted ones whose two halves share a class;
   their log-mel spectrograms (the network's own front end) are kept. The same seed gives the same
   arrays, and their hash is logged.
3. Training: class-balanced batches, ±6 dB level augmentation, AdamW with a one-cycle schedule,
   fixed seed, fixed number of steps.
4. Validation on the segments of held-back scenes (balanced accuracy, per-class recall, confusion
   matrix), then the weights (float16), ``model.json`` and ``MODEL_CARD.md`` are written,
   everything is logged to MLflow, and a version of ``rayqa-audio_artifacts`` is registered.
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
    items: int = 700  # simulated scenes
    steps: int = 900
    batch: int = 64
    arch: str = "cnn6"
    width: float = 0.5
    scene_s: float = 8.0
    clean_share: float = 0.3  # share of slot runs left clean
    silence_share: float = 0.1  # share of scenes with one digitally silent (clean) slot
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
           rng: np.random.Generator) -> np.ndarray:
    """``audio`` with one class's defect over ``[start_s, end_s)`` (rayqa.simulate.audio injectors)."""
    from rayqa.simulate import audio as A

    if defect == "hum":
        return A.add_hum(audio, sample_rate, start_s, end_s, **params)[0]
    if defect == "hiss":
        return A.add_hiss(audio, sample_rate, start_s, end_s, params["snr_db"], params["color"], rng=rng)[0]
    if defect == "clicks":
        return A.add_clicks(audio, sample_rate, start_s, end_s, params["rate_per_s"], rng=rng)[0]
    if defect == "distortion":
        return A.add_distortion(audio, sample_rate, start_s, end_s, params["kind"], params["gain"])[0]
    raise ValueError(defect)


def aac_roundtrip(audio: np.ndarray, sample_rate: int, out_rate: int = 32000) -> np.ndarray:
    """Encode to AAC in MP4 and decode it the way the scan does (mono at ``out_rate``); (N,) float32."""
    from rayqa import media
    from rayqa.detectors.base import AudioSpec
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


def simulate_scene(seed: int, index: int, cfg: dict) -> dict:
    """One scene → log-mel segments (n, 1, 101, 64) float32, labels, RMS levels and provenance."""
    import torch

    from rayqa.nets.audio_artifacts import SAMPLE_RATE, LogMel
    from rayqa.simulate.audio import rms_db
    from rayqa.simulate.labels import SimulationError
    from rayqa.simulate.pristine import audio_scene

    torch.set_num_threads(1)
    rng = np.random.default_rng([seed, index])
    kind = KINDS[int(rng.choice(len(KINDS), p=KINDS_P))]
    sr = int(SOURCE_RATES[int(rng.choice(len(SOURCE_RATES), p=SOURCE_RATE_P))])
    channels = int(CHANNELS[int(rng.choice(len(CHANNELS), p=CHANNELS_P))])
    level = float(rng.uniform(*cfg["level_range_dbfs"]))
    n_slots = int(cfg["scene_s"])
    audio, info = audio_scene(kind, float(n_slots), sr, channels, rng, level_dbfs=level, split="train",
                              return_info=True)
    runs = plan_slots(n_slots, rng, cfg["clean_share"])
    slot_class = [cls for cls, a, b in runs for _ in range(a, b)]
    if rng.random() < cfg["silence_share"]:
        clean = [k for k, c in enumerate(slot_class) if c == "no_defect"]
        if clean:
            k = int(rng.choice(clean))
            audio[:, k * sr:(k + 1) * sr] = 0.0
    for cls, a, b in runs:
        if cls == "no_defect":
            continue
        params = draw_params(cls, rng, sr, info.get("bed"))
        try:
            audio = inject(audio, sr, cls, float(a), float(b), params, rng)
        except SimulationError:  # distortion of digital silence: nothing to distort, the run stays clean
            slot_class[a:b] = ["no_defect"] * (b - a)
    mono = aac_roundtrip(audio, sr, SAMPLE_RATE)
    mono = np.pad(mono, (0, max(0, n_slots * SAMPLE_RATE - len(mono))))
    starts, labels = [], []
    for k in range(n_slots):
        starts.append(k * SAMPLE_RATE)
        labels.append(CLASSES.index(slot_class[k]))
        if k + 1 < n_slots and slot_class[k] == slot_class[k + 1]:
            starts.append(k * SAMPLE_RATE + SAMPLE_RATE // 2)
            labels.append(CLASSES.index(slot_class[k]))
    segs = np.stack([mono[s:s + SAMPLE_RATE] for s in starts]).astype(np.float32)
    with torch.inference_mode():
        logmel = LogMel()(torch.from_numpy(segs)).numpy()
    return {"logmel": logmel, "labels": np.asarray(labels, np.int64),
            "level_db": np.asarray([max(-120.0, rms_db(s)) for s in segs], np.float32),
            "scene": np.full(len(labels), index, np.int64),
            "info": {"kind": kind, "sample_rate": sr, "channels": channels, "peak_dbfs": round(level, 1),
                     "slots": slot_class}}


def dataset_dir(cfg: TrainConfig, data: str | os.PathLike | None) -> Path:
    from rayqa.registry import rayqa_home

    if data:
        return Path(data).resolve()
    return rayqa_home() / "datasets" / f"{DETECTOR}-train-seed{cfg.seed}-n{cfg.items}"


SIM_KEYS = ("seed", "items", "scene_s", "clean_share", "silence_share", "level_range_dbfs")


def make_data(folder: Path, cfg: TrainConfig, log=print) -> dict:
    """Simulate the segments into ``folder/segments.npz`` unless a set made with the same
    simulation settings is already there; returns the arrays."""
    path = folder / "segments.npz"
    sim = {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(cfg).items() if k in SIM_KEYS}
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
    data = {k: np.concatenate([r[k] for r in results]) for k in ("logmel", "labels", "level_db", "scene")}
    np.savez(path, **data)
    (folder / "simulation.json").write_text(json.dumps({"config": sim, "scenes": [r["info"] for r in results]},
                                                       indent=1) + "\n")
    counts = np.bincount(data["labels"], minlength=len(CLASSES))
    log(f"training data: {len(data['labels'])} segments ({', '.join(f'{c} {n}' for c, n in zip(CLASSES, counts))}) "
        f"in {time.perf_counter() - started:.0f} s")
    return data


def data_hash(data: dict) -> str:
    """sha256 over the segments' log-mel arrays (float32), labels and scene indices."""
    h = hashlib.sha256()
    for k in ("logmel", "labels", "scene"):
        h.update(k.encode())
        h.update(np.ascontiguousarray(data[k]).tobytes())
    return h.hexdigest()


def split(data: dict, cfg: TrainConfig) -> tuple[dict, dict]:
    """Train/val by scene: every segment of a held-back scene is in val."""
    rng = np.random.default_rng(cfg.seed)
    scenes = np.unique(data["scene"])
    val_scenes = rng.choice(scenes, size=max(1, int(round(len(scenes) * cfg.val_fraction))), replace=False)
    is_val = np.isin(data["scene"], val_scenes)
    return ({k: v[~is_val] for k, v in data.items()}, {k: v[is_val] for k, v in data.items()})


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


def classify_logmel(net, logmel: np.ndarray, batch: int = 256) -> np.ndarray:
    """Class probabilities from precomputed log-mel (N, 1, frames, mels)."""
    import torch

    out = []
    net.eval()
    with torch.inference_mode():
        for i in range(0, len(logmel), batch):
            out.append(torch.softmax(net.forward_logmel(torch.from_numpy(logmel[i:i + batch])), 1).numpy())
    return np.concatenate(out) if out else np.zeros((0, len(CLASSES)), np.float32)


def evaluate_segments(net, data: dict) -> dict:
    p = classify_logmel(net, data["logmel"])
    pred = p.argmax(1)
    cm = confusion(data["labels"], pred)
    recall = np.diag(cm) / np.maximum(1, cm.sum(axis=1))
    clean = data["labels"] == 0
    return {
        "balanced_accuracy": balanced_accuracy(cm),
        "accuracy": float((pred == data["labels"]).mean()),
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
    train_set, val_set = split(arrays, cfg)
    del arrays

    import torch

    from rayqa.nets import audio_artifacts as net_mod
    from rayqa.registry import ModelRegistry, rayqa_home

    torch.manual_seed(cfg.seed)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    net = net_mod.AudioArtifactNet(cfg.arch, cfg.width)
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=cfg.steps, pct_start=0.15)
    loss_fn = torch.nn.CrossEntropyLoss(label_smoothing=cfg.label_smoothing)
    rng = np.random.default_rng(cfg.seed)
    by_class = [np.flatnonzero(train_set["labels"] == c) for c in range(len(CLASSES))]
    if any(len(i) == 0 for i in by_class):
        missing = [c for c, i in zip(CLASSES, by_class) if len(i) == 0]
        raise ValueError(f"the simulated training set has no {', '.join(missing)} segment: simulate more items")

    registry = ModelRegistry() if register else None
    run_id = None
    if registry is not None:
        from mlflow.entities import Param

        exp = registry.experiment_id(f"rayqa-train-{DETECTOR}")
        run_id = registry.client.create_run(exp, run_name=f"train-{DETECTOR}-seed{cfg.seed}").info.run_id
        registry.client.log_batch(run_id, params=[Param(k, str(v)) for k, v in {
            **asdict(cfg), "data_dir": str(folder), "data_sha256": digest, "train_segments": len(train_set["labels"]),
            "val_segments": len(val_set["labels"]), "torch": torch.__version__}.items()])

    history = []
    net.train()
    t_train = time.perf_counter()
    logmel = torch.from_numpy(train_set["logmel"])
    labels = torch.from_numpy(train_set["labels"])
    for step in range(1, cfg.steps + 1):
        idx = torch.from_numpy(balanced_batch(by_class, rng, cfg.batch))
        x = logmel[idx]
        if cfg.gain_augment_db:
            gain = torch.from_numpy(rng.uniform(-cfg.gain_augment_db, cfg.gain_augment_db, (len(idx), 1, 1, 1))
                                    .astype(np.float32))
            x = (x + gain).clamp(min=net_mod.AMIN_DB)
        loss = loss_fn(net.forward_logmel(x), labels[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        history.append(loss.item())
        if step % 50 == 0 or step == cfg.steps:
            m = float(np.mean(history[-50:]))
            rate = step * cfg.batch / (time.perf_counter() - t_train)
            log(f"step {step}/{cfg.steps}: loss {m:.4f}, {rate:.1f} segments/s")
            if registry is not None:
                from mlflow.entities import Metric

                registry.client.log_batch(run_id, metrics=[Metric("train_loss", m, int(time.time() * 1000), step)])
    train_s = time.perf_counter() - t_train

    out = Path(out) if out else rayqa_home() / "models" / DETECTOR
    meta = net_mod.save(net, out, {
        "detector": DETECTOR, "train_config": asdict(cfg), "data_sha256": digest, "data_scenes": cfg.items,
        "train_segments": int(len(train_set["labels"])), "val_segments": int(len(val_set["labels"])),
        "torch": torch.__version__, "python": platform.python_version(), "train_seconds": round(train_s, 1),
    })
    # Metrics of the weights as shipped (float16 on disk), not of the float32 ones in memory.
    shipped, _ = net_mod.load(out)
    metrics = evaluate_segments(shipped, val_set)
    meta["metrics"] = {f"val_{k}": round(v, 4) for k, v in metrics.items() if isinstance(v, float)}
    meta["val_confusion"] = metrics["confusion"]
    (out / net_mod.MODEL_FILE).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
    (out / "MODEL_CARD.md").write_text(model_card(meta))
    log("validation (segments of held-back training scenes): "
        + ", ".join(f"{k} {v}" for k, v in meta["metrics"].items()) + f"; confusion {metrics['confusion']}")

    version = None
    if registry is not None:
        version = registry.register_trained(DETECTOR, out, run_id, meta["metrics"], cfg.steps, digest, promote, log)
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
training budget), and a 5-class layer `fc_artifacts`. Trained from scratch: no AudioSet weights
can be downloaded where it was made. `rayqa.nets.audio_artifacts.load_panns_checkpoint` loads the
trunk of a published PANNs Cnn6/Cnn10/Cnn14 checkpoint into a width-1.0 network of the same layout
for fine-tuning.

## Data
Simulated in memory, train-split pristine sources only (see rayqa/simulate/SOURCES.md):
{meta.get('data_scenes')} scenes of {cfg.get('scene_s')} s (speech, music, noise beds, tones) at source rates 8-48 kHz,
mono/stereo/5.1, programme peak {cfg.get('level_range_dbfs')} dBFS; runs of 1-3 one-second slots
clean ({cfg.get('clean_share')} of runs) or with hum (50/60 Hz, 1-6 harmonics, -45..-20 dBFS), hiss
(white/pink, 5-30 dB SNR), clicks (1-30 per second) or distortion (soft/hard clipping or bit-crush,
overdrive gain 2-16); {cfg.get('silence_share')} of scenes hold a digitally silent clean slot. Every scene is
encoded to AAC and decoded by the scan's decoder (32 kHz mono: channels are mixed down).
{meta.get('train_segments')} training and {meta.get('val_segments')} validation segments (validation: whole scenes held back).
Training data sha256 `{meta.get('data_sha256')}`. {cfg.get('steps')} steps of {cfg.get('batch')} class-balanced segments,
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
- Rerunning the command with the same seed on the same software reproduces the data hash exactly
  (checked by the test suite at toy size) and the weights up to floating-point differences
  between CPUs and thread counts. Stated tolerance: the validation metrics above within 0.02
  (balanced accuracy and per-class recall); a full rerun to confirm it has not been made yet.
"""
