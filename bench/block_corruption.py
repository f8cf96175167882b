"""Block-corruption detector on a held-out simulated set, side by side with FFmpeg's blockdetect.

    .venv/bin/python bench/block_corruption.py [--items 80] [--seed 1] [--model models/block_corruption]

The held-out set is made by `rayqa simulate` code from the *heldout* pristine sources (photos,
palettes and motion that training never saw): H.264 bitstream corruption (flip / zero / drop in
P-frames, decoded, masks from comparing with the clean decode) and clean items. Every frame of
every item is decoded the way the scan decodes it (320x180 RGB) and scored; FFmpeg's
``blockdetect`` (Debian's ffmpeg; the benchmark needs it, the product does not) scores the same
frames of the same files.

Printed:
  * frame level: ROC AUC of v1 (corrupted-area ratio), v2 (learned) and blockdetect; precision,
    recall and false-positive rate at the operating points (v1 ratio > 0.07, v2 > 0.5,
    blockdetect at its best-F1 threshold on this very set, which flatters it). Positives are
    frames with >= 7 % of their area damaged, negatives frames with no damage; frames with a
    little damage are in neither class. Overall and on the high-motion/crowd subset.
  * event level: share of labelled corruption events overlapped by a run of >= 1 or >= 2 flagged
    samples, by sampling rate (25, 12.5, 5, 2, 1 fps) and by event length, and false events on
    clean content;
  * the scan end to end (`run_scan` at the detector's default rate, scored by `rayqa evaluate`);
  * frames/s of the model on this CPU at 320x180 vs blockdetect's.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rayqa import media  # noqa: E402
from rayqa.types import VideoSpec  # noqa: E402
from rayqa.nets import block_corruption as net_mod  # noqa: E402
from rayqa.train.block_corruption import INPUT_H, INPUT_W, auc, frame_masks  # noqa: E402

HARD_KINDS = ("high_motion_noise", "crowd")
RATES = (25.0, 12.5, 5.0, 2.0, 1.0)
AREA = 0.07
CELL, LEARNED = 0.5, 0.5  # the model's calibrated operating points, read from its model.json


def make_heldout(folder: Path, items: int, seed: int) -> Path:
    from rayqa.simulate.dataset import SimConfig, make_dataset

    if not (folder / "manifest.csv").is_file():
        print(f"simulating {items} held-out items into {folder} ...", flush=True)
        make_dataset(folder, items, seed=seed, recipes=["block_corruption"], clean_fraction=0.4,
                     cfg=SimConfig(width=INPUT_W, height=INPUT_H, split="heldout"))
    return folder


def blockdetect(path: Path) -> tuple[np.ndarray, np.ndarray, float]:
    """(pts_time, lavfi.block) per frame from FFmpeg's blockdetect, and its wall time."""
    started = time.perf_counter()
    out = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-threads", "1", "-i", str(path), "-an",
                          "-vf", "blockdetect,metadata=mode=print:file=-", "-f", "null", "-"],
                         capture_output=True, text=True, check=True).stdout
    wall = time.perf_counter() - started
    times = [float(m) for m in re.findall(r"pts_time:([0-9.]+)", out)]
    values = [float(m) for m in re.findall(r"lavfi\.block=([0-9.]+)", out)]
    if len(times) != len(values):
        raise RuntimeError(f"blockdetect output of {path} does not pair times with values")
    return np.asarray(times), np.asarray(values), wall


def score_items(folder: Path, net, device: str, limit: int | None = None) -> tuple[pd.DataFrame, dict]:
    manifest = pd.read_csv(folder / "manifest.csv", dtype={"item_id": str})
    if limit:
        manifest = manifest.head(limit)
    rows, model_s, bd_s, n_frames = [], 0.0, 0.0, 0
    for r in manifest.itertuples():
        path = folder / r.uri
        info = media.probe(str(path))
        spec = VideoSpec(fps=float(info.fps), width=INPUT_W, height=INPUT_H, gray=False)
        (w,) = media.decode_windows(str(path), info, [(0.0, info.duration_s)], [spec], [], item_id=r.item_id)
        v = w.video[spec.key]
        masks = frame_masks(folder, r.item_id, v.times_s, (INPUT_H, INPUT_W))
        t = time.perf_counter()
        s = net_mod.score_frames(net, v.frames, device=device, cell_threshold=CELL)
        model_s += time.perf_counter() - t
        n_frames += len(v.frames)
        bt, bv, wall = blockdetect(path)
        bd_s += wall
        bd = bv[np.clip(np.searchsorted(bt, v.times_s - 1e-3), 0, len(bv) - 1)] if len(bv) else np.zeros(len(v.times_s))
        for j in range(len(v.frames)):
            rows.append({"item_id": r.item_id, "recipe": r.recipe, "video_kind": r.video_kind, "t": float(v.times_s[j]),
                         "true_ratio": float(masks[j].mean()), "v1": float(s["area_ratio"][j]),
                         "v1_mean": float(s["map_mean"][j]), "v2": float(s["learned"][j]), "blockdetect": float(bd[j])})
    return pd.DataFrame(rows), {"frames": n_frames, "model_fps": n_frames / model_s, "blockdetect_fps": n_frames / bd_s}


def best_f1_threshold(y: np.ndarray, s: np.ndarray) -> float:
    best, thr = -1.0, float(np.max(s)) + 1
    for c in np.unique(s):
        f = s >= c
        tp, fp, fn = (f & y).sum(), (f & ~y).sum(), (~f & y).sum()
        f1 = 2 * tp / max(1, 2 * tp + fp + fn)
        if f1 > best:
            best, thr = f1, float(c)
    return thr


def frame_table(df: pd.DataFrame, bd_threshold: float) -> pd.DataFrame:
    pos, neg = df["true_ratio"] >= AREA, df["true_ratio"] == 0
    keep = pos | neg
    y = pos[keep].to_numpy()
    out = []
    for name, score, flagged in (
        (f"v1 area ratio > 0.07 (cells > {CELL:g})", df["v1"] + 1e-3 * df["v1_mean"], df["v1"] > AREA),
        (f"v2 learned > {LEARNED:g}", df["v2"], df["v2"] > LEARNED),
        (f"blockdetect >= {bd_threshold:.2f}", df["blockdetect"], df["blockdetect"] >= bd_threshold),
    ):
        f = flagged[keep].to_numpy()
        tp, fp = int((f & y).sum()), int((f & ~y).sum())
        out.append({"method": name, "auc": round(auc(y, score[keep].to_numpy()), 4),
                    "precision": round(tp / max(1, tp + fp), 4), "recall": round(tp / max(1, int(y.sum())), 4),
                    "fpr": round(fp / max(1, int((~y).sum())), 4), "positives": int(y.sum()), "negatives": int((~y).sum())})
    return pd.DataFrame(out)


def event_table(df: pd.DataFrame, labels: pd.DataFrame, native_fps: float) -> pd.DataFrame:
    """Recall of labelled events by sampling rate: an event is found when a sampled frame inside
    it is flagged (v1). Samples take the first frame at or after each instant, as the scan does."""
    ev = labels[(labels["defect"] == "block_corruption") & labels["item_id"].isin(set(df["item_id"]))].copy()
    ev["length_s"] = ev["end_s"] - ev["start_s"]
    ev["peak"] = [json.loads(d).get("peak_corrupted_area_ratio", 1.0) for d in ev["details"]]
    by_item = {k: g.sort_values("t") for k, g in df.groupby("item_id")}
    clean_items = [k for k, g in by_item.items() if (g["recipe"] == "clean").all()]
    clean_hours = sum(by_item[k]["t"].max() + 1 / native_fps for k in clean_items) / 3600
    rows = []
    for rate, k in [(r, k) for r in RATES for k in (1, 2)]:
        found = []
        runs_of = {item: _flag_runs(g, rate, k) for item, g in by_item.items()}
        for e in ev.itertuples():
            # found: an event of >= k flagged samples in a row overlaps the label (0.5 s slack, as `rayqa evaluate`)
            found.append(any(a < e.end_s + 0.5 and e.start_s - 0.5 < b for a, b in runs_of[e.item_id]))
        ev[f"found_{rate:g}"] = found
        false_events = sum(len(runs_of[i]) for i in clean_items)
        rows.append({"fps": rate, "min_samples": k, "events": len(ev),
                     "recall_all": round(float(np.mean(found)), 4) if found else float("nan"),
                     "recall_single_frame": _recall(ev, rate, ev["length_s"] <= 1.5 / native_fps),
                     "recall_under_0.5s": _recall(ev, rate, ev["length_s"] < 0.5),
                     "recall_0.5s_plus": _recall(ev, rate, ev["length_s"] >= 0.5),
                     "recall_peak_ge_0.07": _recall(ev, rate, ev["peak"] >= AREA),
                     "false_events_on_clean": false_events,
                     "false_events_per_clean_hour": round(false_events / clean_hours, 1) if clean_hours else float("nan")})
    return pd.DataFrame(rows)


def _flag_runs(g: pd.DataFrame, rate: float, k: int) -> list[tuple[float, float]]:
    """Spans of >= k consecutive flagged (v1) samples when sampling at ``rate``, as the scan samples:
    each instant takes the first frame at or after it."""
    t = g["t"].to_numpy()
    idx = np.unique(np.searchsorted(t, np.arange(0, t[-1] + 1e-9, 1 / rate) - 1e-3))
    s = g.iloc[idx[idx < len(t)]]
    f, ts = (s["v1"] > AREA).to_numpy(), s["t"].to_numpy()
    out, i = [], 0
    while i < len(f):
        if f[i]:
            j = i
            while j < len(f) and f[j]:
                j += 1
            if j - i >= k:
                out.append((float(ts[i]), float(ts[j - 1] + 1 / rate)))
            i = j
        else:
            i += 1
    return out


def _recall(ev: pd.DataFrame, rate: float, sel: pd.Series) -> str:
    n = int(sel.sum())
    return f"{ev.loc[sel, f'found_{rate:g}'].mean():.3f} ({n})" if n else "- (0)"


def scan_end_to_end(folder: Path, model_dir: Path, limit: int | None) -> pd.DataFrame:
    from rayqa.evaluate import evaluate_scan
    from rayqa.pipeline import run_scan
    from rayqa.registry import ModelRegistry

    reg = ModelRegistry(models_dir=model_dir.parent)
    reg.bootstrap([model_dir.name])
    out = folder / "scan"
    manifest = pd.read_csv(folder / "manifest.csv", dtype={"item_id": str})
    if limit:
        manifest = manifest.head(limit)
    manifest["uri"] = [str(folder / u) for u in manifest["uri"]]
    manifest.to_csv(folder / "manifest-bench.csv", index=False)
    started = time.perf_counter()
    run_scan(folder / "manifest-bench.csv", out, detectors=["block_corruption"], rescan=True)
    wall = time.perf_counter() - started
    table = evaluate_scan(out, folder / "labels.parquet", defects=["block_corruption"])
    table["false_findings_on_clean_items"] = int(
        pd.read_parquet(out / "findings").merge(manifest[manifest["recipe"] == "clean"][["item_id"]]).shape[0])
    table["scan_wall_s"] = round(wall, 1)
    return table


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--items", type=int, default=80)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--data", default=None, help="held-out set folder (made when missing)")
    ap.add_argument("--model", default=str(Path(__file__).resolve().parent.parent / "models" / "block_corruption"))
    ap.add_argument("--no-scan", action="store_true", help="skip the end-to-end scan")
    ap.add_argument("--limit", type=int, default=None, help="score only the first N items (a quick look)")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (default: all cores)")
    ap.add_argument("--json", default=None, help="also write every table here")
    args = ap.parse_args()
    if shutil.which("ffmpeg") is None:
        sys.exit("this benchmark needs ffmpeg on PATH (Debian: apt-get install ffmpeg) for the blockdetect baseline")
    os.environ.setdefault("RAYQA_HOME", tempfile.mkdtemp(prefix="rayqa-bench-"))
    from rayqa.registry import rayqa_home

    folder = Path(args.data) if args.data else rayqa_home() / "datasets" / f"block_corruption-heldout-seed{args.seed}-n{args.items}"
    make_heldout(folder.resolve(), args.items, args.seed)
    device = net_mod.pick_device("auto")
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    net, meta = net_mod.load(args.model, device)
    global CELL, LEARNED
    CELL, LEARNED = float(meta.get("cell_threshold", 0.5)), float(meta.get("learned_threshold", 0.5))
    print(f"model {args.model} (sha256 {meta['weights_sha256'][:12]}), device {device}, held-out set {folder}")
    cache = folder / f"bench-frames-{meta['weights_sha256'][:12]}-{args.limit or 'all'}.parquet"
    if cache.is_file():  # the per-frame scores of this model on this set, from an earlier run
        df = pd.read_parquet(cache)
        speed = json.loads(cache.with_suffix(".json").read_text())
        print(f"per-frame scores from {cache} (delete it to measure again)")
    else:
        df, speed = score_items(folder, net, device, args.limit)
        df.to_parquet(cache, index=False)
        cache.with_suffix(".json").write_text(json.dumps(speed))
    labels = pd.read_parquet(folder / "labels.parquet")
    pos, neg = (df["true_ratio"] >= AREA).to_numpy(), (df["true_ratio"] == 0).to_numpy()
    keep = pos | neg
    thr = best_f1_threshold(pos[keep], df["blockdetect"].to_numpy()[keep])
    tables = {}
    hard = df["video_kind"].isin(HARD_KINDS)
    for name, sub in (("all", df), ("high-motion/crowd", df[hard]), ("other content", df[~hard])):
        tables[f"frames: {name}"] = frame_table(sub, thr)
    tables["events (v1) by sampling rate"] = event_table(df, labels, native_fps=25.0)
    if not args.no_scan:
        tables["scan end to end (default rate)"] = scan_end_to_end(folder.resolve(), Path(args.model).resolve(), args.limit)
    pd.set_option("display.width", 200)
    for name, t in tables.items():
        print(f"\n## {name}")
        print(t.to_string(index=False))
    items = df.groupby("item_id")["recipe"].first().value_counts().to_dict()
    print(f"\nitems: {items}; frames scored: {speed['frames']}")
    print(f"speed on this machine: model {speed['model_fps']:.1f} frames/s at {INPUT_W}x{INPUT_H} ({device}), "
          f"blockdetect {speed['blockdetect_fps']:.1f} frames/s (decode included, one thread); "
          f"ratio model/blockdetect {speed['model_fps'] / speed['blockdetect_fps']:.2f}")
    if args.json:
        Path(args.json).write_text(json.dumps({k: t.to_dict(orient="records") for k, t in tables.items()} | {"speed": speed},
                                              indent=2, default=str))


if __name__ == "__main__":
    main()
