"""Every taxonomy detector on defects injected into real programme, and FFmpeg's filter for it on
the same files.

    make real-media   # the Debian packages, once (as root)
    PYTHONPATH=. flock /tmp/rayqa-cpu.lock .venv/bin/python bench/taxonomy_real.py --items 16 --clean-items 24 \\
        --json bench/results/taxonomy_real.json

1. Simulate (``rayqa.simulate.dataset.make_dataset``, ``--sources real --split heldout``: the bench
   side of the real sources, 640x360 25 fps, H.264/AAC, every item's sound mastered to EBU R128
   first, ``SimConfig.master_loudness``): ``--items`` items of 20 s per defect, one defect each at
   the recipe's random time and parameters, and ``--clean-items`` clean items of 60 s from another
   seed.
2. Scan them all with ``rayqa.pipeline.run_scan`` (a local Ray) naming the detectors below.
3. Score each detector at event level against its recipe's labels: *overlap* recall (a finding of
   the defect overlapping the label), *within tolerance* recall (start and end both within 0.2 s,
   or 0.25 s for detectors sampling at 5 fps: one sample and a frame), precision over the
   detector's own items and the clean ones, false alarms per clean hour, and the findings it made
   on other defects' items (cross-talk, listed, not in the precision: a clipped or toned item may
   truly be off R128, a dead channel truly lowers the loudness). ``rayqa.evaluate.score`` over
   every item gives ``precision_all_items`` too.
4. FFmpeg on the same files (each filter on its defect's items and the clean ones; at its defaults
   and at the setting of a small grid that scores best on this very set, which flatters it):
   cropdetect (letterbox_change), idet (interlacing), blurdetect (blur), signalstats BRNG
   (video_levels), photosensitivity (flash_pse), ebur128 (loudness), astats (dc_offset,
   audio_clipping), scored by ``bench/video_taxonomy.py`` and ``bench/audio_taxonomy.py``'s code.

Intermediate results stay in ``--work`` (dataset, scan, FFmpeg rows per file): a rerun with the
same arguments reuses what is there (``--fresh`` starts over).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

VIDEO = ("letterbox_change", "flash_pse", "video_levels", "solid_color_frames", "interlacing", "blur", "frame_stutter",
         "video_tearing")
AUDIO = ("dc_offset", "test_tone", "loudness_out_of_range", "audio_clipping", "audio_channel_fault")
DEFECTS = VIDEO + AUDIO
# rayqa detector → FFmpeg filter rows it is compared with (bench/video_taxonomy.py's keys)
VIDEO_FILTERS = {"letterbox_change": ["cropdetect", "cropdetect_reset1"], "interlacing": ["idet_1.04", "idet_1.2", "idet_1.5", "idet_2.0"],
                 "blur": ["blurdetect"], "video_levels": ["signalstats"], "flash_pse": ["photosensitivity"]}
AUDIO_FILTERS = ("audio_clipping", "dc_offset", "loudness_out_of_range")  # ebur128 + astats (one ffmpeg_item each)
FPS, WIDTH, HEIGHT = 25, 640, 360


def need_ffmpeg() -> None:
    if shutil.which("ffmpeg") is None:  # as bench/scan_throughput.py: Debian's, where it is missing
        subprocess.run(["apt-get", "install", "-y", "-q", "ffmpeg"], check=True)


def simulate(work: Path, items: int, clean_items: int, seed: int, item_s: float, clean_s: float) -> pd.DataFrame:
    """The two datasets (defects, clean) and one manifest over both; labels with the manifest's ids."""
    from rayqa.simulate.dataset import SimConfig, make_dataset

    parts = []
    for tag, recipes, n, dur, s in (("d", list(DEFECTS), items * len(DEFECTS), item_s, seed),
                                    ("c", ["clean"], clean_items, clean_s, seed + 1)):
        folder = work / f"ds_{tag}"
        if not (folder / "labels.parquet").exists():
            cfg = SimConfig(duration_s=dur, width=WIDTH, height=HEIGHT, fps=FPS, split="heldout", sources="real",
                            master_loudness=True)
            make_dataset(folder, n, s, recipes, clean_fraction=0.0, cfg=cfg)
        m = pd.read_csv(folder / "manifest.csv")
        m["uri"] = [str((folder / u).resolve()) for u in m["uri"]]
        m["item_id"] = tag + "-" + m["item_id"]
        lab = pd.read_parquet(folder / "labels.parquet")
        lab["item_id"] = tag + "-" + lab["item_id"]
        parts.append((m, lab))
    manifest = pd.concat([p[0] for p in parts], ignore_index=True)
    manifest.to_csv(work / "manifest.csv", index=False)
    labels = pd.concat([p[1] for p in parts], ignore_index=True)
    labels.to_parquet(work / "labels.parquet", index=False)
    return manifest


def tolerance_s(name: str) -> float:
    from rayqa.detectors import REGISTRY

    spec = REGISTRY[name].video
    return max(0.2, 1.25 / spec.fps) if spec is not None else 0.2


def score_rayqa(findings: pd.DataFrame, labels: pd.DataFrame, items: pd.DataFrame) -> dict:
    from rayqa.evaluate import score

    recipe = dict(zip(items["item_id"], items["recipe"]))
    seconds = dict(zip(items["item_id"], items["duration_s"]))
    clean = {i for i, r in recipe.items() if r == "clean"}
    clean_h = sum(seconds[i] for i in clean) / 3600
    evaluated = score(findings, labels, tolerance_s=0.0, items=list(items["item_id"]), defects=list(DEFECTS)).set_index("defect")
    out = {}
    for d in DEFECTS:
        tol = tolerance_s(d)
        own = {i for i, r in recipe.items() if r == d}
        f = findings[findings["defect"] == d]
        lab = labels[(labels["defect"] == d) & labels["item_id"].isin(own)]
        by_item = {i: g for i, g in f.groupby("item_id")}
        found = within = 0
        misses = []
        for row in lab.itertuples(index=False):
            g = by_item.get(row.item_id)
            ev = [] if g is None else list(zip(g["start_s"], g["end_s"]))
            hit = any(s < row.end_s and e > row.start_s for s, e in ev)
            ok = any(abs(s - row.start_s) <= tol and abs(e - row.end_s) <= tol for s, e in ev)
            found += hit
            within += ok
            if not ok:
                det = json.loads(row.details)
                misses.append({"item_id": row.item_id, "label": [round(row.start_s, 2), round(row.end_s, 2)],
                               "findings": [[round(s, 2), round(e, 2)] for s, e in ev],
                               "params": {k: v for k, v in det.items() if k not in ("video_source", "audio_source", "recipe",
                                                                                     "frame_indices", "repeated_frame_indices",
                                                                                     "skipped_frame_indices")}})
        scored = f[f["item_id"].isin(own | clean)]
        true = sum(1 for r in scored.itertuples(index=False) if r.item_id in own and any(
            r.start_s < lr.end_s and r.end_s > lr.start_s for lr in lab[lab["item_id"] == r.item_id].itertuples(index=False)))
        on_clean = f[f["item_id"].isin(clean)]
        other = f[~f["item_id"].isin(own | clean)]
        n = len(lab)
        out[d] = {
            "labels": n, "recall_overlap": found / n if n else float("nan"), "found_overlap": found,
            "recall_within_tolerance": within / n if n else float("nan"), "found_within_tolerance": within,
            "tolerance_s": tol, "findings": int(len(scored)), "precision": true / len(scored) if len(scored) else float("nan"),
            "clean_false_alarms": int(len(on_clean)), "clean_hours": clean_h,
            "false_alarms_per_clean_hour": len(on_clean) / clean_h,
            "clean_false_alarm_details": [{"item_id": r.item_id, "start_s": r.start_s, "end_s": r.end_s,
                                           "details": json.loads(r.details)} for r in on_clean.itertuples(index=False)][:20],
            "cross_talk": {str(k): int(v) for k, v in pd.Series([recipe[i] for i in other["item_id"]]).value_counts().items()},
            "precision_all_items": float(evaluated.loc[d, "precision"]) if d in evaluated.index else float("nan"),
            "misses_or_off_tolerance": misses,
        }
    return out


def _cached(path: Path, make):
    if path.exists():
        return json.loads(path.read_text())
    value = make()
    path.write_text(json.dumps(value))
    return value


def run_ffmpeg(work: Path, items: pd.DataFrame, findings: pd.DataFrame) -> dict:
    """FFmpeg's filters on the same files, each on its defect's items and the clean ones."""
    import audio_taxonomy as at
    import video_taxonomy as vt

    need_ffmpeg()
    cache = work / "ffmpeg"
    cache.mkdir(exist_ok=True)
    recipe = dict(zip(items["item_id"], items["recipe"]))
    uri = dict(zip(items["item_id"], items["uri"]))
    seconds = dict(zip(items["item_id"], items["duration_s"]))
    clean = [i for i, r in recipe.items() if r == "clean"]
    labels = pd.read_parquet(work / "labels.parquet")
    jobs = []
    for d, keys in VIDEO_FILTERS.items():
        for i in [i for i, r in recipe.items() if r == d] + clean:
            jobs.append((i, tuple(keys)))
    audio_items = [i for i, r in recipe.items() if r in AUDIO_FILTERS] + clean

    def video_job(job):
        i, keys = job
        return i, _cached(cache / f"{i}.{'+'.join(keys)}.json", lambda: vt.ffmpeg_rows(uri[i], keys))

    def audio_job(i):
        return i, _cached(cache / f"{i}.audio.json", lambda: at.ffmpeg_item(uri[i]))

    started = time.perf_counter()
    with ThreadPoolExecutor(2) as pool:  # the machine's two cores
        video_rows = list(pool.map(video_job, jobs))
        audio_rows = dict(pool.map(audio_job, audio_items))
    out: dict = {"ffmpeg_s": time.perf_counter() - started, "video": {}, "audio": {}}
    ff_rows: dict[str, dict] = {}
    for i, rows in video_rows:
        ff_rows.setdefault(i, {}).update(rows)
    lab_by = {d: {r.item_id: (r.start_s, r.end_s) for r in labels[labels["defect"] == d].itertuples(index=False)}
              for d in DEFECTS}
    for d, keys in VIDEO_FILTERS.items():
        subset = {i: {k: ff_rows[i][k] for k in keys} for i in ff_rows if recipe[i] in (d, "clean") and keys[0] in ff_rows[i]}
        res = vt.score_ffmpeg(subset, lab_by, seconds, WIDTH, HEIGHT, clean={i: seconds[i] for i in clean})
        (name, figures), = res.items()
        own = [i for i in subset if recipe[i] == d]
        ev = {i: [(r.start_s, r.end_s) for r in findings[(findings["item_id"] == i) & (findings["defect"] == d)].itertuples()]
              for i in subset}
        rq = vt._score(ev, lab_by[d], sum(seconds[i] for i in subset) / 3600, {i: seconds[i] for i in clean},
                       tolerance_s(d))
        out["video"][d] = {"filter": name, "items": len(subset), "defect_items": len(own), "rayqa_same_items": rq, **figures}
    # audio: ebur128 and astats, through bench/audio_taxonomy.py's scoring, per defect on its items + clean
    cols = items.set_index("item_id")
    for d in AUDIO_FILTERS:
        subset = [i for i in audio_rows if recipe[i] in (d, "clean")]
        entries = []
        for i in subset:
            labs = [(d, s, e) for s, e in ([lab_by[d][i]] if i in lab_by[d] else [])]
            ev = [(r.start_s, r.end_s) for r in findings[(findings["item_id"] == i) & (findings["defect"] == d)].itertuples()]
            if d == "loudness_out_of_range":
                entries.append({"labels": labs, "ffmpeg": audio_rows[i]["ebur128"], "rate": 48000, "kind": recipe[i],
                                "rayqa": {k: (None if pd.isna(cols.loc[i, k]) else float(cols.loc[i, k]))
                                          for k in ("loudness_lufs", "loudness_range_lu", "true_peak_dbtp")}})
            else:
                entries.append({"labels": labs, "blocks": audio_rows[i]["astats"], "rayqa": ev})
        ff = {"loudness": [], "audio_clipping": [], "dc_offset": []}
        ff["loudness" if d == "loudness_out_of_range" else d] = entries
        res = at.ffmpeg_scores(ff, sum(seconds[i] for i in subset) / 3600)
        part = {"loudness_out_of_range": ("ebur128_vs_rayqa", "r128_verdict"), "dc_offset": ("astats_dc",),
                "audio_clipping": ("astats_clipping",)}[d]
        out["audio"][d] = {"items": len(subset), **{k: res[k] for k in part}}
        if d == "loudness_out_of_range":
            out["audio"][d]["clean_items_measured"] = [
                {"item_id": i, "rayqa": e["rayqa"], "ffmpeg": e["ffmpeg"]} for i, e in zip(subset, entries) if recipe[i] == "clean"]
    return out


def print_table(res: dict) -> None:
    print(f"\n{res['items_per_defect']} items of {res['item_s']:g} s per defect, {res['clean_items']} clean items of "
          f"{res['clean_s']:g} s ({res['clean_hours']:.2f} clean hours); real programme, bench split, 640x360 25 fps H.264/AAC")
    print(f"{'detector':22s}{'labels':>7s}{'recall':>8s}{'in tol':>8s}{'prec':>7s}{'FA/h clean':>11s}  cross-talk")
    for d, r in res["rayqa"].items():
        print(f"{d:22s}{r['labels']:7d}{r['recall_overlap']:8.2f}{r['recall_within_tolerance']:8.2f}{r['precision']:7.2f}"
              f"{r['false_alarms_per_clean_hour']:11.1f}  {r['cross_talk'] or ''}")
    if "ffmpeg" not in res:
        return
    print("\nFFmpeg on the same files (its defect's items + the clean ones): recall / precision / false alarms per clean hour")
    fmt = lambda x: (f"{x['recall']:.2f} / {x['precision']:.2f} / {x.get('false_alarms_per_clean_hour', float('nan')):.1f}"  # noqa: E731
                     if "recall" in x else "-")
    for d, v in res["ffmpeg"]["video"].items():
        print(f"  {d:20s} rayqa {fmt(v['rayqa_same_items'])}   {v['filter']} default [{v['default']['setting']}] "
              f"{fmt(v['default'])}   best [{v['best']['setting']}] {fmt(v['best'])}")
    for d, v in res["ffmpeg"]["audio"].items():
        if d == "loudness_out_of_range":
            for side, x in v["r128_verdict"].items():
                print(f"  {d:20s} R128 verdict from {side}: recall {x['recall']:.2f} precision {x['precision']:.2f} "
                      f"false {x['false']} ({x['items']} items)")
            for k, x in v["ebur128_vs_rayqa"].items():
                if x["items"]:
                    print(f"  {'':20s} ebur128 vs rayqa {k}: mean |diff| {x['mean_abs_diff']:.3f}, max {x['max_abs_diff']:.3f}")
        else:
            (name, x), = [(k, v[k]) for k in v if k.startswith("astats")]
            for which in ("rayqa", "default", "best"):
                y = x[which]
                print(f"  {d:20s} {name} {which:7s} recall {y['recall']:.2f} precision {y['precision']:.2f} "
                      f"false alarms/h {y['false_alarms_per_hour']:.1f}  {y.get('setting', '')}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--items", type=int, default=16, help="items per defect (default 16)")
    ap.add_argument("--clean-items", type=int, default=24, help="clean items (default 24)")
    ap.add_argument("--item-s", type=float, default=20.0)
    ap.add_argument("--clean-s", type=float, default=60.0)
    ap.add_argument("--seed", type=int, default=19)
    ap.add_argument("--work", default="/tmp/rayqa-taxonomy-real", help="dataset, scan and FFmpeg rows (kept for reruns)")
    ap.add_argument("--fresh", action="store_true", help="remove --work first")
    ap.add_argument("--skip-ffmpeg", action="store_true")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()

    from rayqa.pipeline import run_scan
    from rayqa.raytools import ensure_ray

    work = Path(args.work)
    if args.fresh and work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True, exist_ok=True)
    res: dict = {"items_per_defect": args.items, "clean_items": args.clean_items, "item_s": args.item_s,
                 "clean_s": args.clean_s, "seed": args.seed, "size": f"{WIDTH}x{HEIGHT}", "fps": FPS, "times_s": {}}
    t0 = time.perf_counter()
    ensure_ray()
    simulate(work, args.items, args.clean_items, args.seed, args.item_s, args.clean_s)
    res["times_s"]["simulate"] = time.perf_counter() - t0
    t = time.perf_counter()
    run_scan(work / "manifest.csv", work / "scan", detectors=",".join(DEFECTS), progress=False)
    res["times_s"]["scan"] = time.perf_counter() - t
    items = pd.read_parquet(work / "scan" / "items")
    if "recipe" not in items:  # a manifest column, passed through (prefixed where it collides)
        items["recipe"] = items["manifest_recipe"]
    findings = pd.read_parquet(work / "scan" / "findings")
    labels = pd.read_parquet(work / "labels.parquet")
    res["items"] = int(len(items))
    res["failed_items"] = int((items["status"] != "ok").sum())
    res["content_hours"] = float(items["duration_s"].sum() / 3600)
    res["clean_hours"] = float(items.loc[items["recipe"] == "clean", "duration_s"].sum() / 3600)
    res["rayqa"] = score_rayqa(findings, labels, items)
    clean_cols = items.loc[items["recipe"] == "clean", ["loudness_lufs", "true_peak_dbtp"]]
    res["clean_loudness"] = {"lufs_min": float(clean_cols["loudness_lufs"].min()), "lufs_max": float(clean_cols["loudness_lufs"].max()),
                             "true_peak_max_dbtp": float(clean_cols["true_peak_dbtp"].max())}
    if not args.skip_ffmpeg:
        res["ffmpeg"] = run_ffmpeg(work, items, findings)
        res["times_s"]["ffmpeg"] = res["ffmpeg"]["ffmpeg_s"]
    res["times_s"]["total"] = time.perf_counter() - t0
    print_table(res)
    print(f"\nwall time: {res['times_s']}")
    if args.json:
        from datetime import datetime, timezone

        from rayqa.tracking import git_commit

        head = {"command": " ".join(["python", "bench/taxonomy_real.py", *sys.argv[1:]]), "git_commit": git_commit(),
                "date": datetime.now(timezone.utc).isoformat(timespec="seconds")}  # as the other results carry
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps({**head, **res}, indent=1, default=lambda v: None if v is None else str(v)))


if __name__ == "__main__":
    main()
