"""Scan throughput against FFmpeg baselines measured in the same run, on two catalogues.

    .venv/bin/python bench/scan_throughput.py [--minutes 10] [--items 20] [--real-minutes 10]

Catalogues: a generated one (640x360, 25 fps, H.264/AAC, with black, frozen and silent stretches)
and the real-content benchmark's files (bench/real_content.py's items, same seed, cached in
``--real-workdir``: real photographs moved by a virtual camera, real footage, recorded music and
voices; 640x360 25 fps H.264 + stereo AAC 48 kHz; the first items of its plan, defect and clean
alternately, up to ``--real-minutes``). On each, interleaved repeats of:
  (a)  decode only: rayqa's own plan + decode stages on Ray for the default detectors, detectors off
       (the decoded windows dropped in the decode task, as the scan's in-decode detectors drop them);
  (a5) the same for the five original detectors' inputs only (gray at 10 fps, 16 kHz mono): what
       issue 22's "decode only" decoded when it was filed, before the taxonomy's every-frame RGB;
  (b5) the scan with the five original signal-processing detectors (black_frames, video_freeze,
       audio_silence, decode_error, duration_mismatch): issue 22's "dsp scan";
  (b)  the scan with every default detector (no ``--detectors``);
  (g)  (b) with the learned detectors that issues 17 and 18 would put in the default scan once they
       leave experimental (block_corruption, audio_artifacts), where the default config runs them
       (on this CPU-only machine: in the decode tasks, ``resources.model_pool = "auto"``): the scan
       whose wall time issue 18 budgets against (e), g/e <= 1.0;
  (ga) (g) with the learned detectors in actor pools, one per detector (``model_pool = "actor"``,
       as on a GPU cluster; (g) measured this plan until the default moved them): ga/g is what the
       pools cost here;
  (c)  FFmpeg's blackdetect + freezedetect + silencedetect pass, two files at a time (this machine
       has two cores). Debian's ffmpeg is installed here if missing: the bench needs it, rayqa does not;
  (e)  (c) with blockdetect too: the fixed pass the block and taxonomy issues budget the default scan
       against (wall b / wall e <= 1.0);
  (f)  FFmpeg's filters equivalent to the default taxonomy in one pass: blackdetect, freezedetect,
       idet, signalstats, silencedetect, ebur128 (true peak), astats;
  (d)  FFmpeg's plain decode (``ffmpeg -i F -f null -``) of the same files, two at a time.
Prints content-seconds per wall-second for each, the ratios a/d (and a5/d), b5/a, b5/c, b/e, g/e, g/b, ga/e, ga/g and b/f, peak
resident memory of the driver and of all Ray workers together, where the default scan's time goes
(and the scan with the learned detectors: run.json's profile_seconds: probe, seek, decode, frame conversion, audio resampling,
serialisation between tasks, each detector, merge, commit; and the fixed costs), and the wall time
of a one-item ``rayqa scan`` from command to exit. Writes it all to bench/results/scan_throughput.json.
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


def decode_only(manifest: Path, cfg: ScanConfig, names: list[str] | None = None) -> float:
    """(a): the scan's own plan and decode stages for the detectors (b) runs (or ``names``'),
    detectors off; returns wall seconds."""
    from rayqa.manifest import read_manifest

    dets = build(names or parse_names(None))
    todo = read_manifest(manifest)
    started = time.perf_counter()
    ds = build_dataset(todo, cfg, dets, [], {}, False, run_detectors=False)  # windows dropped where decoded
    rows = pd.concat(list(ds.iter_batches(batch_size=None, batch_format="pandas")))
    wall = time.perf_counter() - started
    errors = rows.loc[rows["error"] != "", "error"]
    assert len(rows) > 0 and errors.empty, f"decode-only pass failed: {list(errors)[:3]}"
    assert rows["media"].map(lambda m: not m).all()  # decoded and dropped in the task, as the scan does
    return wall


FFMPEG_PASSES = {
    "c": (["-vf", "blackdetect,freezedetect", "-af", "silencedetect"]),
    "e": (["-vf", "blackdetect,freezedetect,blockdetect", "-af", "silencedetect"]),
    "f": (["-vf", "blackdetect,freezedetect,idet,signalstats", "-af", "silencedetect,ebur128=peak=true,astats"]),
    "d": [],
}
FIVE = ["black_frames", "video_freeze", "audio_silence", "decode_error", "duration_mismatch"]
LEARNED = ["block_corruption", "audio_artifacts"]  # experimental today: (g) scans them beside the default


def ffmpeg_pass(manifest: Path, which: str) -> float:
    """FFmpeg over the manifest's files, two at a time, with the filters of ``FFMPEG_PASSES[which]``
    at their default settings (``d``: decoding only); returns wall seconds."""
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        subprocess.run(["apt-get", "install", "-y", "-qq", "ffmpeg"], check=True,
                       env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
        ffmpeg = shutil.which("ffmpeg")
    uris = list(pd.read_csv(manifest)["uri"])
    work = FFMPEG_PASSES[which]

    def one(uri):
        subprocess.run([ffmpeg, "-hide_banner", "-nostats", "-loglevel", "info", "-i", uri, *work, "-f", "null", "-"],
                       check=True, capture_output=True)

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(one, uris))
    return time.perf_counter() - started


def real_catalogue(folder: Path, minutes: float) -> tuple[Path, float]:
    """The real-content benchmark's first items (its default plan: defect and clean alternately)
    up to ``minutes``, made with its own code where not cached in ``folder``."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import real_content

    planned = real_content.plan(50, 2.0, 16)
    defect = [p for p in planned if not p["clean"]]
    clean = [p for p in planned if p["clean"]]
    rows, total = [], 0.0
    for pair in zip(defect, clean):
        for item in pair:
            if total >= minutes * 60 - 1e-6:
                break
            meta = real_content.make_item(item, folder)
            rows.append({"item_id": item["item_id"], "uri": meta["uri"]})
            total += item["duration_s"]
    manifest = folder / f"throughput_{minutes:g}min.csv"
    pd.DataFrame(rows).to_csv(manifest, index=False)
    return manifest, total


def measure(name: str, manifest: Path, content_s: float, items: int, work: Path, cfg: ScanConfig, repeats: int) -> dict:
    """Interleaved repeats of every pass on one catalogue; medians, ratios, memory and the profile."""
    decode_only(manifest, cfg)  # warm-up: worker start-up and imports are not what we measure
    # This machine's timings wander by tens of percent between runs: take the median of
    # interleaved repeats, so every pass sees the same conditions.
    walls = {k: [] for k in ("a", "a5", "b5", "b", "g", "ga", "c", "e", "f", "d")}
    cfg_actor = cfg.merged({"resources": {"model_pool": "actor"}})
    with_learned = parse_names(None) + LEARNED
    with PeakMemory() as mem_b:
        for _ in range(repeats):
            walls["a"].append(decode_only(manifest, cfg))
            walls["a5"].append(decode_only(manifest, cfg, FIVE))
            t = time.perf_counter()
            run_scan(manifest, work / f"scan-{name}-five", detectors=FIVE, config=cfg, rescan=True, progress=False)
            walls["b5"].append(time.perf_counter() - t)
            t = time.perf_counter()
            result = run_scan(manifest, work / f"scan-{name}", config=cfg, rescan=True, progress=False)
            walls["b"].append(time.perf_counter() - t)
            t = time.perf_counter()
            learned = run_scan(manifest, work / f"scan-{name}-learned", detectors=with_learned, config=cfg, rescan=True,
                               progress=False)
            walls["g"].append(time.perf_counter() - t)
            t = time.perf_counter()
            pooled = run_scan(manifest, work / f"scan-{name}-learned-actors", detectors=with_learned, config=cfg_actor,
                              rescan=True, progress=False)
            walls["ga"].append(time.perf_counter() - t)
            for k in "cefd":
                walls[k].append(ffmpeg_pass(manifest, k))
    assert result.counts.get("ok") == items, result.counts
    assert learned.counts.get("ok") == items, learned.counts
    assert pooled.counts.get("ok") == items, pooled.counts
    wall = {k: float(np.median(v)) for k, v in walls.items()}
    rate = {k: content_s / w for k, w in wall.items()}
    ratios = {"decode_vs_ffmpeg_decode_a_d": rate["a"] / rate["d"],
              "decode_five_inputs_vs_ffmpeg_decode_a5_d": rate["a5"] / rate["d"], "cost_b5_a": wall["b5"] / wall["a"],
              "speed_b5_c": rate["b5"] / rate["c"], "wall_default_vs_ffmpeg_blockdetect_pass_b_e": wall["b"] / wall["e"],
              "speed_default_vs_ffmpeg_taxonomy_pass_b_f": rate["b"] / rate["f"],
              "wall_default_with_learned_vs_ffmpeg_blockdetect_pass_g_e": wall["g"] / wall["e"],
              "cost_learned_over_default_g_b": wall["g"] / wall["b"],
              "wall_learned_in_actor_pools_vs_ffmpeg_blockdetect_pass_ga_e": wall["ga"] / wall["e"],
              "cost_actor_pools_over_in_decode_ga_g": wall["ga"] / wall["g"]}
    print(f"\n== {name}: {items} items, {content_s / 60:.1f} min ==")
    labels = {"a": "decode only", "a5": "decode only, the five's inputs", "b5": "rayqa scan, five dsp detectors", "b": "rayqa scan, every default detector",
              "g": "rayqa scan, (b) + block_corruption + audio_artifacts",
              "ga": "(g) with the learned detectors in actor pools",
              "c": "ffmpeg black/freeze/silencedetect", "e": "ffmpeg (c) + blockdetect",
              "f": "ffmpeg black/freeze/idet/signalstats + silence/ebur128/astats", "d": "ffmpeg plain decode"}
    for k, label in labels.items():
        print(f"({k:2s}) {label:62s} {rate[k]:7.1f} content-s/s  ({wall[k]:.1f} s wall)")
    print(f"decode a/d = {ratios['decode_vs_ffmpeg_decode_a_d']:.2f} (aim >= 1; the five's inputs a5/d "
          f"{ratios['decode_five_inputs_vs_ffmpeg_decode_a5_d']:.2f});  cost b5/a = {ratios['cost_b5_a']:.2f} (aim <= 1.2);  "
          f"speed b5/c = {ratios['speed_b5_c']:.2f} (aim >= 1.5)")
    print(f"default scan: wall b/e = {ratios['wall_default_vs_ffmpeg_blockdetect_pass_b_e']:.2f} (aim <= 1.0);  "
          f"speed b/f = {ratios['speed_default_vs_ffmpeg_taxonomy_pass_b_f']:.2f} (aim > 1)")
    print(f"with the learned detectors: wall g/e = {ratios['wall_default_with_learned_vs_ffmpeg_blockdetect_pass_g_e']:.2f} "
          f"(aim <= 1.0: issue 18);  g/b = {ratios['cost_learned_over_default_g_b']:.2f};  in actor pools ga/e = "
          f"{ratios['wall_learned_in_actor_pools_vs_ffmpeg_blockdetect_pass_ga_e']:.2f}, "
          f"ga/g = {ratios['cost_actor_pools_over_in_decode_ga_g']:.2f}")
    print(f"peak RSS during the scans: driver {mem_b.driver / 2**20:.0f} MiB, "
          f"Ray workers together {mem_b.workers_total / 2**20:.0f} MiB, largest worker {mem_b.worker / 2**20:.0f} MiB")
    print("walls (s): " + "; ".join(f"{k} {', '.join(f'{w:.1f}' for w in v)}" for k, v in walls.items()))
    print(f"findings (default scan): {result.findings_by_defect}")
    print(f"findings (with the learned detectors): {learned.findings_by_defect}")
    print(f"findings (learned, in actor pools): {pooled.findings_by_defect}")
    print("where the default scan's time goes (last repeat of b; seconds summed over windows and items):")
    print_profile(result.profile, content_s)
    print("where the scan with the learned detectors' time goes (last repeat of g):")
    print_profile(learned.profile, content_s)
    return {"content_seconds": round(content_s, 1), "items": items, "repeats": repeats,
            "content_s_per_s": {k: round(v, 1) for k, v in rate.items()},
            "walls_s": {k: [round(w, 2) for w in v] for k, v in walls.items()},
            "ratios": {k: round(v, 3) for k, v in ratios.items()},
            "peak_mib": {"driver": round(mem_b.driver / 2**20), "workers_total": round(mem_b.workers_total / 2**20),
                         "largest_worker": round(mem_b.worker / 2**20)},
            "findings_by_defect": result.findings_by_defect, "profile_seconds": result.profile,
            "learned": {"detectors": LEARNED, "findings_by_defect": learned.findings_by_defect,
                        "profile_seconds": learned.profile},
            "learned_in_actor_pools": {"findings_by_defect": pooled.findings_by_defect,
                                       "profile_seconds": pooled.profile}}


def print_profile(profile: dict, content_s: float) -> None:
    work_s = profile.get("work", {})
    total = sum(work_s.values()) or 1.0
    for phase, sec in sorted(work_s.items(), key=lambda kv: -kv[1]):
        if sec >= 0.005:
            print(f"  {phase:34s} {sec:8.2f} s  {100 * sec / total:5.1f} %  {1000 * sec / content_s:7.2f} ms per content-s")
    print("  fixed: " + ", ".join(f"{k} {v:.2f} s" for k, v in profile.get("fixed", {}).items()))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--items", type=int, default=20)
    ap.add_argument("--workdir", default=None, help="keep the catalogue here between runs")
    ap.add_argument("--config", default=None, help="TOML overriding resources, as for `rayqa scan`")
    ap.add_argument("--repeats", type=int, default=3, help="interleaved repeats; medians are printed")
    ap.add_argument("--real-minutes", type=float, default=10.0, help="content from the real-content bench (0: skip)")
    ap.add_argument("--real-workdir", default="/tmp/rayqa-real-bench", help="its media cache (bench/real_content.py's)")
    args = ap.parse_args()

    work = Path(args.workdir or tempfile.mkdtemp(prefix="rayqa-bench-"))
    os.environ.setdefault("RAYQA_HOME", str(work / "home"))
    t = time.perf_counter()
    manifest, content_s = make_catalogue(work / "catalogue", args.minutes, args.items)
    print(f"catalogue: {args.items} items, {content_s / 60:.1f} min of 640x360 25 fps ({time.perf_counter() - t:.0f} s to make)")

    cfg = ScanConfig.load(args.config)
    ensure_ray()
    figures = {"synthetic": measure("synthetic", manifest, content_s, args.items, work, cfg, args.repeats)}
    if args.real_minutes > 0:
        t = time.perf_counter()
        real_manifest, real_s = real_catalogue(Path(args.real_workdir), args.real_minutes)
        n_real = len(pd.read_csv(real_manifest))
        print(f"\nreal catalogue: {n_real} items, {real_s / 60:.1f} min ({time.perf_counter() - t:.0f} s to make or find)")
        figures["real"] = measure("real", real_manifest, real_s, n_real, work, cfg, args.repeats)
    import ray

    ray.shutdown()  # a person's one-item scan starts its own Ray on a machine with none running
    one_item = [one_item_scan(work) for _ in range(3)]
    print(f"\none-item `rayqa scan` from command to exit: {np.median(one_item):.1f} s (median of 3: "
          f"{', '.join(f'{x:.1f}' for x in one_item)})")
    figures["one_item_scan_s"] = round(float(np.median(one_item)), 2)
    write_results("scan_throughput", " ".join(["python", "bench/scan_throughput.py", *sys.argv[1:]]), figures)


def one_item_scan(work: Path) -> float:
    """A one-item scan as a person runs it: a fresh process, Ray start, MLflow run, plan check, exit
    (with no other Ray on the machine: a second local Ray's agent retries for its port ~3 s)."""
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
