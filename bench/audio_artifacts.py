"""Audio-artifact classifier on a held-out simulated set, beside a spectral-peak hum baseline.

    .venv/bin/python bench/audio_artifacts.py [--scenes 200] [--clean-minutes 30] [--seed 1]
                                              [--model models/audio_artifacts]

The held-out set comes from the *heldout* pristine sources (voices, sentences, chord progressions,
noise beds and tones that training never saw; rayqa/simulate/SOURCES.md), built like the training
data but with its own seed: scenes of 8 s at source rates 8-48 kHz, mono/stereo/5.1, programme
peak -42..-1 dBFS, runs of one-second slots clean or with hum (50/60 Hz, 1-6 harmonics, -45..-20
dBFS), hiss (white/pink, 5-30 dB SNR), clicks (1-30 per second) or distortion (soft/hard/bit-crush,
gain 2-16), AAC round trip, the scan's decoder at 32 kHz mono. Each one-second slot is one
labelled segment.

Printed:
  * balanced accuracy and the confusion matrix over those segments (argmax decision, and the
    detector's decision: a defect only when its probability is >= the threshold);
  * per-class recall by defect level (hum level, hiss SNR, click rate, distortion gain and kind),
    and the clean segments' false-positive rate by programme kind and level;
  * false alarms per hour of clean audio: wholly clean held-out programmes cut into the scan's
    8 s windows and run through the detector itself (hop 0.5 s, merge), findings counted;
  * segments/s of the model on this CPU, and of the baseline;
  * a signal-processing hum baseline (50/60 Hz spectral peaks over their neighbourhood, threshold
    picked for the best balanced accuracy on this very set, which flatters it) against the
    model's hum-versus-rest decision, with the ratio of their balanced accuracies.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rayqa.train.audio_artifacts import (  # noqa: E402
    CHANNELS, CHANNELS_P, CLASSES, KINDS, KINDS_P, SOURCE_RATES, SOURCE_RATE_P, aac_roundtrip, balanced_accuracy,
    confusion, draw_params, inject, plan_slots)

SR = 32000
PRIME_VIDEO_BALANCED_ACCURACY = 0.986  # on Prime Video's own simulated set, not this one


def heldout_scene(seed: int, index: int, n_slots: int, clean_only: bool) -> dict:
    """One held-out scene: decoded mono at 32 kHz and, per one-second slot, its class and parameters."""
    from rayqa.simulate.labels import SimulationError
    from rayqa.simulate.pristine import audio_scene

    rng = np.random.default_rng([seed, index, 7])
    kind = KINDS[int(rng.choice(len(KINDS), p=KINDS_P))]
    sr = int(SOURCE_RATES[int(rng.choice(len(SOURCE_RATES), p=SOURCE_RATE_P))])
    channels = int(CHANNELS[int(rng.choice(len(CHANNELS), p=CHANNELS_P))])
    level = float(rng.uniform(-42.0, -1.0))
    audio = audio_scene(kind, float(n_slots), sr, channels, rng, level_dbfs=level, split="heldout")
    slots = [{"cls": "no_defect", "params": {}} for _ in range(n_slots)]
    if not clean_only:
        for cls, a, b in plan_slots(n_slots, rng, 0.3):
            if cls == "no_defect":
                continue
            params = draw_params(cls, rng, sr)
            try:
                audio = inject(audio, sr, cls, float(a), float(b), params, rng)
            except SimulationError:
                continue
            for k in range(a, b):
                slots[k] = {"cls": cls, "params": params}
    mono = aac_roundtrip(audio, sr, SR)
    mono = np.pad(mono, (0, max(0, n_slots * SR - len(mono))))[: n_slots * SR]
    return {"mono": mono.astype(np.float32), "slots": slots, "kind": kind, "sample_rate": sr, "channels": channels,
            "peak_dbfs": level}


def simulate(seed: int, count: int, n_slots: int, clean_only: bool, workers: int) -> list[dict]:
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
        return list(pool.map(heldout_scene, [seed] * count, range(count), [n_slots] * count, [clean_only] * count,
                             chunksize=4))


def hum_baseline(segments: np.ndarray) -> np.ndarray:
    """Hum score (dB): for 50 and 60 Hz, the mean over the first three harmonics of the power at
    the harmonic over the median power 5-20 Hz either side (1 Hz bins over one second); the larger."""
    spec = np.abs(np.fft.rfft(segments * np.hanning(segments.shape[1]), axis=1)) ** 2 + 1e-20
    scores = []
    for f0 in (50, 60):
        per = []
        for k in (1, 2, 3):
            f = k * f0
            peak = spec[:, f - 1:f + 2].max(axis=1)
            side = np.concatenate([spec[:, f - 20:f - 4], spec[:, f + 5:f + 21]], axis=1)
            per.append(10 * np.log10(peak / np.median(side, axis=1)))
        scores.append(np.mean(per, axis=0))
    return np.max(scores, axis=0)


def binary_balanced_accuracy(y: np.ndarray, flag: np.ndarray) -> float:
    return 0.5 * (float(flag[y].mean()) + float((~flag[~y]).mean()))


def bucket(cls: str, params: dict) -> str:
    if cls == "hum":
        lo = int(np.floor((params["level_dbfs"] + 45) / 5) * 5 - 45)
        return f"{lo}..{lo + 5} dBFS ({params['frequency_hz']} Hz)"
    if cls == "hiss":
        lo = int(np.floor((params["snr_db"] - 5) / 5) * 5 + 5)
        return f"SNR {lo}..{lo + 5} dB"
    if cls == "clicks":
        r = params["rate_per_s"]
        return "1-3 /s" if r < 3 else "3-10 /s" if r < 10 else "10-30 /s"
    if cls == "distortion":
        g = params["gain"]
        return f"{params['kind']} gain " + ("2-4" if g < 4 else "4-8" if g < 8 else "8-16")
    return ""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenes", type=int, default=200)
    ap.add_argument("--clean-minutes", type=float, default=30.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--model", default=str(Path(__file__).resolve().parent.parent / "models" / "audio_artifacts"))
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = ap.parse_args()

    import torch

    from rayqa.detectors import build
    from rayqa.detectors.base import AudioSamples, ItemInfo, Window
    from rayqa.nets import audio_artifacts as net_mod

    net, meta = net_mod.load(args.model)
    print(f"model {meta['arch']} from {args.model}; torch threads {torch.get_num_threads()}", flush=True)

    started = time.perf_counter()
    scenes = simulate(args.seed, args.scenes, 8, False, args.workers)
    print(f"held-out set: {args.scenes} scenes, {8 * args.scenes} segments in {time.perf_counter() - started:.0f} s",
          flush=True)
    segs = np.concatenate([s["mono"].reshape(8, SR) for s in scenes])
    rows = [{"cls": sl["cls"], "params": sl["params"], "kind": s["kind"], "sample_rate": s["sample_rate"],
             "channels": s["channels"], "peak_dbfs": s["peak_dbfs"]} for s in scenes for sl in s["slots"]]
    df = pd.DataFrame(rows)
    y = df["cls"].map(CLASSES.index).to_numpy()

    t = time.perf_counter()
    probs = net_mod.classify(net, segs, "cpu", 256)
    model_sps = len(segs) / (time.perf_counter() - t)
    t = time.perf_counter()
    hum_db = hum_baseline(segs)
    base_sps = len(segs) / (time.perf_counter() - t)

    det = build(["audio_artifacts"])[0]
    thr = float(det.params["threshold"])
    pred_argmax = probs.argmax(1)
    pred_det = np.where(probs.max(1) >= thr, pred_argmax, 0)
    df["pred"] = [CLASSES[k] for k in pred_det]
    print(f"\nsegments/s (model, CPU, batch 256, {torch.get_num_threads()} threads): {model_sps:.0f}; "
          f"hum baseline: {base_sps:.0f}")

    for name, pred in (("argmax", pred_argmax), (f"detector decision (p >= {thr:g})", pred_det)):
        cm = confusion(y, pred)
        print(f"\n== {name}: balanced accuracy {balanced_accuracy(cm):.4f} "
              f"(Prime Video reports {PRIME_VIDEO_BALANCED_ACCURACY} on its own simulated set)")
        print(pd.DataFrame(cm, index=[f"true {c}" for c in CLASSES], columns=CLASSES).to_string())

    print("\n== recall by level (detector decision)")
    df["bucket"] = [bucket(c, p) for c, p in zip(df["cls"], df["params"])]
    df["hit"] = df["pred"] == df["cls"]
    for cls in CLASSES[1:]:
        g = df[df["cls"] == cls].groupby("bucket")["hit"].agg(["mean", "size"])
        print(f"-- {cls}\n" + g.rename(columns={"mean": "recall", "size": "segments"}).round(3).to_string())
    print("-- hiss by colour\n" + df[df["cls"] == "hiss"].assign(color=[p["color"] for p in df[df["cls"] == "hiss"]["params"]])
          .groupby("color")["hit"].agg(["mean", "size"]).round(3).to_string())
    print("-- recall by programme kind (defect segments)\n"
          + df[df["cls"] != "no_defect"].groupby(["cls", "kind"])["hit"].mean().unstack().round(3).to_string())
    clean = df[df["cls"] == "no_defect"].copy()
    clean["level"] = np.where(clean["peak_dbfs"] < -25, "quiet (peak < -25 dBFS)", "loud (peak >= -25 dBFS)")
    clean["false_positive"] = clean["pred"] != "no_defect"
    print("-- clean segments: false-positive rate by programme kind and level\n"
          + clean.groupby(["kind", "level"])["false_positive"].agg(["mean", "size"]).round(3).to_string())
    print("-- clean segments called what\n" + clean[clean["false_positive"]]["pred"].value_counts().to_string())

    # Spectral-peak hum baseline versus the model, hum against everything else.
    is_hum = y == CLASSES.index("hum")
    best = max(np.unique(np.round(hum_db, 1)), key=lambda c: binary_balanced_accuracy(is_hum, hum_db >= c))
    base_ba = binary_balanced_accuracy(is_hum, hum_db >= best)
    model_ba = binary_balanced_accuracy(is_hum, pred_det == CLASSES.index("hum"))
    print(f"\n== hum versus rest: model balanced accuracy {model_ba:.4f}, spectral-peak baseline {base_ba:.4f} "
          f"(threshold {best:.1f} dB, best on this set); ratio model/baseline {model_ba / base_ba:.3f}")

    # False alarms per hour of clean programme, through the detector itself (8 s windows, hop, merge).
    n_clean = max(1, int(round(args.clean_minutes * 60 / 30)))
    started = time.perf_counter()
    clean_scenes = simulate(args.seed + 1000, n_clean, 30, True, args.workers)
    det.load(args.model)
    alarms, seconds, kinds = [], 0.0, {}
    for i, s in enumerate(clean_scenes):
        info = ItemInfo(duration_s=30.0, has_video=False, has_audio=True)
        wins = [(Window(f"clean{i}", t0, t0 + 8.0, audio={det.audio.key: AudioSamples(
            t0, SR, s["mono"][None, int(t0 * SR):int(min(30.0, t0 + 8.0) * SR)])}), info) for t0 in (0.0, 8.0, 16.0, 24.0)]
        events = det.merge([h for hits in det(wins) for h in hits])
        alarms.extend((s["kind"], e.defect) for e in events)
        seconds += 30.0
        kinds[s["kind"]] = kinds.get(s["kind"], 0) + 30.0
    hours = seconds / 3600
    print(f"\n== false alarms on clean held-out programme: {len(alarms)} findings in {seconds / 60:.0f} min "
          f"= {len(alarms) / hours:.1f} per hour ({time.perf_counter() - started:.0f} s)")
    if alarms:
        a = pd.DataFrame(alarms, columns=["kind", "defect"])
        per_kind = a.groupby(["kind", "defect"]).size().unstack(fill_value=0)
        per_kind["per_hour"] = per_kind.sum(axis=1) / per_kind.index.map(lambda k: kinds[k] / 3600)
        print(per_kind.round(1).to_string())
    print("minutes of clean programme by kind: " + ", ".join(f"{k} {v / 60:.1f}" for k, v in sorted(kinds.items())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
