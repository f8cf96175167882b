"""AV-sync evaluation: verdict accuracy, offset error, inconclusive rate and speed of the av_sync
detector on items with known offsets, and false verdicts on items with no causal tie.

    python bench/av_sync.py [--seeds 2] [--duration 12] [--out /tmp/av_sync_bench]

Items (rayqa.simulate.avtied, encoded H.264/AAC with PyAV, then decoded as the scan decodes them):
* tied: flash_beep, impact, clapper at offsets 0, ±40, ±80, ±120, ±200, ±400 ms (positive: sound
  late), ``--seeds`` items per kind and offset. Truth: ``out_of_sync`` outside the detector's
  tolerances (default ITU-R BT.1359 detectability, sound early > 45 ms or late > 125 ms).
* untied: music over a landscape pan, music over drifting shapes, a noise bed over a landscape, at
  offsets 0 and +200 ms; the only right answer is ``inconclusive``.

The detector runs in this process on one CPU thread (torch and OpenCV limited to one), the way one
scan actor runs it; fragments/s is its throughput there, decoding excluded.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import zlib
from pathlib import Path

import numpy as np
import pandas as pd

OFFSETS_MS = (0, 40, -40, 80, -80, 120, -120, 200, -200, 400, -400)
ITU_EARLY_MS, ITU_LATE_MS = 45.0, 125.0  # ITU-R BT.1359 detectability: sound early / sound late


def build_items(folder: Path, seeds: int, duration_s: float) -> list[dict]:
    from rayqa.simulate.audio import shift_audio
    from rayqa.simulate.avtied import TIED_KINDS, UNTIED_KINDS, tied_scene, untied_scene
    from rayqa.synth import encode

    items = []
    plan = [(k, o, True) for k in TIED_KINDS for o in OFFSETS_MS] + [(k, o, False) for k in UNTIED_KINDS for o in (0, 200)]
    for kind, offset, tied in plan:
        for s in range(seeds):
            seed = 1000 * s + abs(offset) + (7 if offset < 0 else 0) + zlib.crc32(kind.encode()) % 97
            rng = np.random.default_rng(seed)
            make = tied_scene if tied else untied_scene
            frames, audio, _ = make(kind, duration_s, 25, 320, 180, 48000, 2, rng)
            if offset:
                audio, _ = shift_audio(audio, 48000, offset)
            path = folder / f"{kind}_{offset:+d}_{s}.mp4"
            encode(path, frames, 25, 320, 180, audio, 48000)
            items.append({"path": str(path), "kind": kind, "offset_ms": offset, "tied": tied, "seed": s})
    return items


def run(items: list[dict], detector) -> pd.DataFrame:
    from rayqa import media

    rows = []
    for it in items:
        info = media.probe(it["path"])
        windows = media.decode_windows(it["path"], info, media.plan_windows(info, 8.0), [detector.video], [detector.audio])
        started = time.perf_counter()
        hits = [h for w in windows for h in detector.detect(w, info)]
        busy = time.perf_counter() - started
        summary = detector.summarise(hits)
        rows.append({**it, "verdict": summary.get("av_sync_verdict"), "estimate_ms": summary.get("av_offset_ms"),
                     "fragments": len(hits), "detect_s": busy,
                     "fragment_verdicts": [h.details["verdict"] for h in hits],
                     "fragment_offsets": [h.details["offset_ms"] for h in hits]})
    return pd.DataFrame(rows)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=2, help="items per kind and offset")
    ap.add_argument("--duration", type=float, default=12.0, help="seconds per item")
    ap.add_argument("--out", default=None, help="folder for media and results.json (default: a temp folder)")
    ap.add_argument("--max-sound-early-ms", type=float, default=None)
    ap.add_argument("--max-sound-late-ms", type=float, default=None)
    args = ap.parse_args(argv)

    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import cv2
    import torch

    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    from rayqa.detectors.av_sync import AvSync
    from rayqa.loading import load_detector

    params = {}
    if args.max_sound_early_ms is not None:
        params["max_sound_early_ms"] = args.max_sound_early_ms
    if args.max_sound_late_ms is not None:
        params["max_sound_late_ms"] = args.max_sound_late_ms
    det = AvSync(**params)
    load_detector(det, Path(__file__).resolve().parent.parent / "models" / "av_sync")
    early, late = det.params["max_sound_early_ms"], det.params["max_sound_late_ms"]

    out = Path(args.out or tempfile.mkdtemp(prefix="av_sync_bench-"))
    (out / "media").mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    items = build_items(out / "media", args.seeds, args.duration)
    t_build = time.perf_counter() - t0
    df = run(items, det)
    t_all = time.perf_counter() - t0

    tied = df[df["tied"]].copy()
    tied["truth"] = np.where((tied["offset_ms"] < -early) | (tied["offset_ms"] > late), "out_of_sync", "in_sync")
    tied["correct"] = tied["verdict"] == tied["truth"]
    tied["error_ms"] = (tied["estimate_ms"] - tied["offset_ms"]).abs()
    conclusive = tied[tied["verdict"] != "inconclusive"]
    untied = df[~df["tied"]]
    n_frag = int(df["fragments"].sum())
    frag_per_s = n_frag / float(df["detect_s"].sum())

    print(f"av_sync bench: {len(tied)} tied items, {len(untied)} untied, {args.duration:g} s each, "
          f"{n_frag} fragments; tolerances: sound early {early:g} ms, late {late:g} ms")
    print(f"media built in {t_build:.0f} s, total {t_all:.0f} s\n")
    per = tied.groupby("offset_ms").agg(
        items=("verdict", "size"), truth=("truth", "first"),
        in_sync=("verdict", lambda v: (v == "in_sync").mean()), out_of_sync=("verdict", lambda v: (v == "out_of_sync").mean()),
        inconclusive=("verdict", lambda v: (v == "inconclusive").mean()), accuracy=("correct", "mean"),
        median_error_ms=("error_ms", "median"), max_error_ms=("error_ms", "max"))
    print("per offset (tied items):")
    print(per.round(3).to_string(), "\n")
    per_kind = tied.groupby("kind").agg(accuracy=("correct", "mean"),
                                        inconclusive=("verdict", lambda v: (v == "inconclusive").mean()),
                                        median_error_ms=("error_ms", "median"), max_error_ms=("error_ms", "max"))
    print("per kind (tied items):")
    print(per_kind.round(3).to_string(), "\n")

    # The measurement's own threshold: the smallest shift, per side, that >= 90 % of items report
    # conclusively with the right sign and within one frame (40 ms) of the truth.
    def measurable(side: int) -> float | None:
        for off in sorted({abs(o) for o in OFFSETS_MS if o}):
            g = tied[tied["offset_ms"] == side * off]
            ok = (g["verdict"] != "inconclusive") & (np.sign(g["estimate_ms"].fillna(0)) == side) & (g["error_ms"] <= 40)
            if len(g) and ok.mean() >= 0.9:
                return float(off)
        return None

    def flagged(side: int) -> float | None:
        for off in sorted({abs(o) for o in OFFSETS_MS if o}):
            g = tied[tied["offset_ms"] == side * off]
            if len(g) and (g["verdict"] == "out_of_sync").mean() >= 0.9:
                return float(off)
        return None

    results = {
        "items_tied": int(len(tied)), "items_untied": int(len(untied)), "duration_s": args.duration,
        "tolerance_ms": {"sound_early": early, "sound_late": late},
        "verdict_accuracy": round(float(tied["correct"].mean()), 4),
        "verdict_accuracy_when_conclusive": round(float(conclusive["correct"].mean()), 4) if len(conclusive) else None,
        "inconclusive_rate_tied": round(float((tied["verdict"] == "inconclusive").mean()), 4),
        "offset_error_ms": {"median": round(float(conclusive["error_ms"].median()), 1),
                            "p90": round(float(conclusive["error_ms"].quantile(0.9)), 1),
                            "max": round(float(conclusive["error_ms"].max()), 1)} if len(conclusive) else None,
        "untied_verdicts": {str(k): int(v) for k, v in untied["verdict"].value_counts(dropna=False).items()},
        "false_out_of_sync_untied": int((untied["verdict"] == "out_of_sync").sum()),
        "false_in_sync_untied": int((untied["verdict"] == "in_sync").sum()),
        "fragments_per_s_one_thread": round(frag_per_s, 2),
        "realtime_factor_one_thread": round(frag_per_s * det.params["fragment_s"], 2),
        "measurable_offset_ms": {"sound_early": measurable(-1), "sound_late": measurable(+1)},
        "flagged_offset_ms": {"sound_early": flagged(-1), "sound_late": flagged(+1)},
        "itu_bt1359_detectability_ms": {"sound_early": ITU_EARLY_MS, "sound_late": ITU_LATE_MS},
    }
    print(json.dumps(results, indent=2))
    (out / "results.json").write_text(json.dumps(results, indent=2))
    df.to_json(out / "items.jsonl", orient="records", lines=True)
    print(f"\nper-item results: {out / 'items.jsonl'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
