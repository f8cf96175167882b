"""Scan throughput against two baselines measured in the same run.

    .venv/bin/python bench/scan_throughput.py [--minutes 10] [--items 20]

On a generated catalogue (640x360, 25 fps, H.264/AAC, with black, frozen and silent stretches):
  (a) decode only: rayqa's own plan + decode stages on Ray, detectors off;
  (b) the scan with the signal-processing detectors (black_frames, video_freeze, audio_silence,
      decode_error, duration_mismatch);
  (c) FFmpeg's blackdetect + freezedetect + silencedetect pass on the same files, two files at a
      time (this machine has two cores). Debian's ffmpeg is installed here if missing: the
      benchmark needs it, the product does not.
  (d) FFmpeg's plain decode (``ffmpeg -i F -f null -``) of the same files, two at a time.
Prints content-seconds per wall-second for each, the ratios a/d, b/a and b/c, peak resident memory
of the driver and of all Ray workers together, where the scan's time goes (run.json's
profile_seconds: probe, seek, decode, frame conversion, audio resampling, serialisation between
tasks, each detector, merge, commit; and the fixed costs), and the wall time of a one-item
``rayqa scan`` from command to exit. Writes it all to bench/results/scan_throughput.json.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rayqa.config import ScanConfig  # noqa: E402
from rayqa.detectors import build, parse_names  # noqa: E402
from rayqa.memwatch import PeakMemory  # noqa: E402
from rayqa.pipeline import build_dataset, run_scan  # noqa: E402
from rayqa.raytools import ensure_ray  # noqa: E402
from rayqa.synth import ClipSpec, write_clip  # noqa: E402


def make_catalogue(folder: Path, minutes: float, items: int) -> tuple[Path, float]:
    folder.mkdir(parents=True, exist_ok=True)
    per = minutes * 60 / items
    rows = []
    for i in range(items):
        spec = ClipSpec(duration_s=per, width=640, height=360, fps=25, seed=i)
        if i % 4 == 1:
            spec.black = [(per * 0.3, per * 0.3 + 3)]
        if i % 4 == 2:
            spec.freeze = [(per * 0.5, per * 0.5 + 3)]
        if i % 4 == 3:
            spec.silence = [(per * 0.2, per * 0.2 + 3)]
        path = folder / f"item{i:03d}.mp4"
        if not path.exists():
            write_clip(path, spec)
        rows.append({"item_id": f"item{i:03d}", "uri": str(path)})
    manifest = folder / "manifest.csv"
    pd.DataFrame(rows).to_csv(manifest, index=False)
    return manifest, per * items


def decode_only(manifest: Path, cfg: ScanConfig) -> float:
    """(a): the scan's own plan and decode stages for the detectors (b) runs, detectors off;
    returns wall seconds."""
    from rayqa.manifest import read_manifest

    dets = build(parse_names(None))
    todo = read_manifest(manifest)
    started = time.perf_counter()
    ds = build_dataset(todo, cfg, dets, [], {}, False, run_detectors=False)
    # Same resources and retry bound as the decode stage, so Ray Data fuses the two (the windows are
    # dropped where they were decoded, as the scan's in-decode detectors do).
    ds = ds.map_batches(lambda b: b.drop(columns=["media"]), batch_format="pandas",
                        num_cpus=cfg.resources.decode_num_cpus, max_retries=cfg.resources.max_task_retries)
    n = sum(len(b) for b in ds.iter_batches(batch_size=None, batch_format="pandas"))
    assert n > 0
    return time.perf_counter() - started


def ffmpeg_pass(manifest: Path, filters: bool = True) -> float:
    """(c): FFmpeg's detectors with their default thresholds, two files at a time; (d) with
    ``filters=False``: FFmpeg decoding the same files and nothing else."""
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        subprocess.run(["apt-get", "install", "-y", "-qq", "ffmpeg"], check=True,
                       env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
        ffmpeg = shutil.which("ffmpeg")
    uris = list(pd.read_csv(manifest)["uri"])
    work = ["-vf", "blackdetect,freezedetect", "-af", "silencedetect"] if filters else []

    def one(uri):
        subprocess.run([ffmpeg, "-hide_banner", "-nostats", "-loglevel", "info", "-i", uri, *work, "-f", "null", "-"],
                       check=True, capture_output=True)

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(one, uris))
    return time.perf_counter() - started


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--items", type=int, default=20)
    ap.add_argument("--workdir", default=None, help="keep the catalogue here between runs")
    ap.add_argument("--config", default=None, help="TOML overriding resources, as for `rayqa scan`")
    ap.add_argument("--repeats", type=int, default=3, help="interleaved repeats; medians are printed")
    args = ap.parse_args()

    work = Path(args.workdir or tempfile.mkdtemp(prefix="rayqa-bench-"))
    os.environ.setdefault("RAYQA_HOME", str(work / "home"))
    t = time.perf_counter()
    manifest, content_s = make_catalogue(work / "catalogue", args.minutes, args.items)
    print(f"catalogue: {args.items} items, {content_s / 60:.1f} min of 640x360 25 fps ({time.perf_counter() - t:.0f} s to make)")

    cfg = ScanConfig.load(args.config)
    ensure_ray()
    decode_only(manifest, cfg)  # warm-up: worker start-up and imports are not what we measure
    # This machine's timings wander by tens of percent between runs: take the median of
    # interleaved repeats, so a and b see the same conditions.
    walls = {"a": [], "b": [], "c": [], "d": []}
    with PeakMemory() as mem_b:
        for _ in range(args.repeats):
            walls["a"].append(decode_only(manifest, cfg))
            t = time.perf_counter()
            result = run_scan(manifest, work / "scan", config=cfg, rescan=True)
            walls["b"].append(time.perf_counter() - t)
            walls["c"].append(ffmpeg_pass(manifest))
            walls["d"].append(ffmpeg_pass(manifest, filters=False))
    wall_a, wall_b, wall_c, wall_d = (float(np.median(walls[k])) for k in "abcd")

    assert result.counts.get("ok") == args.items, result.counts
    rate = {k: content_s / w for k, w in (("a", wall_a), ("b", wall_b), ("c", wall_c), ("d", wall_d))}
    print()
    print(f"(a) decode only            {rate['a']:8.1f} content-s/s   ({wall_a:.1f} s wall)")
    print(f"(b) rayqa scan, dsp        {rate['b']:8.1f} content-s/s   ({wall_b:.1f} s wall)")
    print(f"(c) ffmpeg black/freeze/silencedetect {rate['c']:8.1f} content-s/s   ({wall_c:.1f} s wall)")
    print(f"(d) ffmpeg plain decode    {rate['d']:8.1f} content-s/s   ({wall_d:.1f} s wall)")
    print(f"decode a/d = {rate['a'] / rate['d']:.2f}   (aim >= 1)")
    print(f"cost b/a   = {wall_b / wall_a:.2f}   (aim <= 1.2)")
    print(f"speed b/c  = {rate['b'] / rate['c']:.2f}   (aim >= 1.5)")
    print(f"peak RSS during the scans: driver {mem_b.driver / 2**20:.0f} MiB, "
          f"Ray workers together {mem_b.workers_total / 2**20:.0f} MiB, largest worker {mem_b.worker / 2**20:.0f} MiB")
    print("walls (s): " + "; ".join(f"{k} {', '.join(f'{w:.1f}' for w in v)}" for k, v in walls.items()))
    print(f"findings: {result.findings_by_defect}")
    work_s = result.profile.get("work", {})
    total = sum(work_s.values()) or 1.0
    print("\nwhere the scan's time goes (last repeat of b; seconds summed over windows and items):")
    for phase, sec in sorted(work_s.items(), key=lambda kv: -kv[1]):
        print(f"  {phase:28s} {sec:8.2f} s  {100 * sec / total:5.1f} %  {1000 * sec / args.items:8.1f} ms per item")
    print("  fixed: " + ", ".join(f"{k} {v:.2f} s" for k, v in result.profile.get("fixed", {}).items()))
    one_item = one_item_scan(work)
    print(f"one-item `rayqa scan` from command to exit: {one_item:.1f} s")
    figures = {
        "content_seconds": content_s, "items": args.items, "repeats": args.repeats,
        "content_s_per_s": {k: round(v, 1) for k, v in rate.items()},
        "walls_s": {k: [round(w, 2) for w in v] for k, v in walls.items()},
        "ratios": {"decode_vs_ffmpeg_decode_a_d": round(rate["a"] / rate["d"], 3), "cost_b_a": round(wall_b / wall_a, 3),
                   "speed_b_c": round(rate["b"] / rate["c"], 3)},
        "peak_mib": {"driver": round(mem_b.driver / 2**20), "workers_total": round(mem_b.workers_total / 2**20),
                     "largest_worker": round(mem_b.worker / 2**20)},
        "profile_seconds": result.profile, "one_item_scan_s": round(one_item, 2),
    }
    write_results("scan_throughput", " ".join(["python", "bench/scan_throughput.py", *sys.argv[1:]]), figures)


def one_item_scan(work: Path) -> float:
    """A one-item scan as a person runs it: a fresh process, Ray start, MLflow run, plan check, exit."""
    clip = work / "one.mp4"
    if not clip.exists():
        write_clip(clip, ClipSpec(duration_s=4, width=320, height=180))
    manifest = work / "one.csv"
    pd.DataFrame([{"item_id": "one", "uri": str(clip)}]).to_csv(manifest, index=False)
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "rayqa.cli", "scan", "--manifest", str(manifest), "--output",
                    str(work / "one-scan"), "--rescan", "--no-progress"], check=True, capture_output=True,
                   env={**os.environ, "RAY_ADDRESS": ""})
    return time.perf_counter() - t


def write_results(name: str, command: str, figures: dict) -> Path:
    """bench/results/<name>.json: the command, the commit, the date and the figures."""
    import json
    from datetime import datetime, timezone

    from rayqa.tracking import git_commit

    out = Path(__file__).resolve().parent / "results" / f"{name}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"command": command, "git_commit": git_commit(),
                               "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                               "figures": figures}, indent=2) + "\n")
    print(f"figures written to {out}")
    return out


if __name__ == "__main__":
    main()
