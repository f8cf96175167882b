"""Black, freeze and silence detection on real content, beside FFmpeg's filters on the same files.

    flock /tmp/rayqa-cpu.lock .venv/bin/python bench/real_content.py [--events 50] [--clean-hours 2]
        [--detectors av_sync] [--workdir /tmp/rayqa-real-bench] [--out bench/results/real_content.json]

Items (fixed seed, bench split of rayqa.simulate.real only: photographs moved by a virtual camera
at every speed, still title cards, real footage, cuts, fades, under recorded music, dialogue over
music or ambience, about -23 LUFS; 640x360 25 fps H.264 + stereo AAC 48 kHz, written with
rayqa.synth.encode):
* ``--events`` defect items of 45-90 s, each with one black stretch (1-3 s, a third of them
  1-1.5 s), one frozen stretch (1-4 s, a third 1-1.5 s) and one digital-silence dropout (1-4 s,
  a third 1-1.5 s), at known times away from the item's ends;
* clean items of 30-120 s until ``--clean-hours`` of programme.
Media are cached in ``--workdir`` (a rerun only rescans). The scan is rayqa.pipeline.run_scan
with the default detectors plus ``--detectors``; FFmpeg's blackdetect, freezedetect and
silencedetect run on the same files at their defaults and over a small grid (the best setting on
this set is reported beside its defaults; it is tuned on the test set, so it flatters FFmpeg).
Scoring is rayqa.evaluate.score (event level, 0.5 s tolerance): recall, precision, and false
alarms per clean hour (findings on clean items). Cost: each detector's ``detect`` timed on decoded
windows of a sample of items, per content-second (decoding excluded).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rayqa.evaluate import score  # noqa: E402

W, H, FPS, SR = 640, 360, 25, 48000
DEFECTS = ("black_frames", "video_freeze", "audio_silence")
SPANS = {"black_frames": (1.0, 3.0), "video_freeze": (1.0, 4.0), "audio_silence": (1.0, 4.0)}


def plan(events: int, clean_hours: float, seed: int) -> list[dict]:
    rng = np.random.default_rng([seed, 16])
    items = []
    for i in range(events):
        dur = float(np.round(rng.uniform(45, 90), 1))
        order = list(rng.permutation(DEFECTS))
        labels, t = [], float(rng.uniform(4.0, 8.0))
        room = dur - 4.0
        for k, defect in enumerate(order):
            lo, hi = SPANS[defect]
            length = float(rng.uniform(1.0, 1.5) if (i + k) % 3 == 0 else rng.uniform(1.5, hi))
            length = round(length * FPS) / FPS  # whole frames
            # Spread the three over the item, in order, with at least 3 s between them.
            slack = (room - t - sum(SPANS[d][0] + 3.0 for d in order[k + 1:]) - length)
            start = round((t + float(rng.uniform(0, max(0.0, slack) / (len(order) - k)))) * FPS) / FPS
            labels.append({"defect": defect, "start_s": start, "end_s": round(start + length, 3),
                           "level": int(rng.choice([0, 8, 16])) if defect == "black_frames" else None})
            t = start + length + 3.0
        items.append({"item_id": f"defect-{i:03d}", "clean": False, "duration_s": dur, "labels": labels,
                      "seed": int(rng.integers(1 << 31))})
    total, i = 0.0, 0
    while total < clean_hours * 3600 - 1e-6:
        dur = float(np.round(min(rng.uniform(30, 120), max(30.0, clean_hours * 3600 - total)), 1))
        items.append({"item_id": f"clean-{i:03d}", "clean": True, "duration_s": dur, "labels": [],
                      "seed": int(rng.integers(1 << 31))})
        total += dur
        i += 1
    return items


def make_item(item: dict, folder: Path) -> dict:
    """Write the item's MP4 (and a JSON of what is in it) unless it is already there."""
    path, meta_path = folder / "media" / f"{item['item_id']}.mp4", folder / "media" / f"{item['item_id']}.json"
    if path.exists() and meta_path.exists():
        return json.loads(meta_path.read_text())
    from rayqa.simulate import real
    from rayqa.synth import encode

    rng = np.random.default_rng(item["seed"])
    frames, audio, desc = real.programme(item["duration_s"], FPS, W, H, SR, rng, "bench")
    n = int(round(item["duration_s"] * FPS))
    audio = audio[:, : int(round(item["duration_s"] * SR))]
    video_labels = [lab for lab in item["labels"] if lab["defect"] != "audio_silence"]
    for lab in item["labels"]:
        if lab["defect"] == "audio_silence":
            audio[:, int(round(lab["start_s"] * SR)) : int(round(lab["end_s"] * SR))] = 0.0

    def injected():
        held = None
        for i, frame in enumerate(frames):
            t = i / FPS
            lab = next((x for x in video_labels if x["start_s"] - 1e-6 <= t < x["end_s"] - 1e-6), None)
            if lab is None:
                held = None
                yield frame
            elif lab["defect"] == "black_frames":
                yield np.full_like(frame, lab["level"])
            else:
                held = frame if held is None else held
                yield held
            if i + 1 >= n:
                break

    tmp = path.with_suffix(".part.mp4")
    encode(tmp, injected(), FPS, W, H, audio, SR, gop=50)
    tmp.replace(path)
    meta = {**item, "uri": str(path), "programme": desc}
    meta_path.write_text(json.dumps(meta))
    return meta


# -- FFmpeg -----------------------------------------------------------------------------------------
FF_BLACK = [{"pix_th": 0.10, "pic_th": 0.98}, {"pix_th": 0.15, "pic_th": 0.98}, {"pix_th": 0.10, "pic_th": 0.90}]
FF_FREEZE = [{"n_db": -60}, {"n_db": -50}, {"n_db": -40}]
FF_SILENCE = [{"n_db": -60}, {"n_db": -50}]
FF_D = (0.5, 1.0, 1.5, 2.0)  # d is applied after the pass (each filter ran with d as low as it allows)
FF_DEFAULTS = {"black_frames": ("blackdetect", 0, 2.0), "video_freeze": ("freezedetect", 0, 2.0),
               "audio_silence": ("silencedetect", 0, 2.0)}


def ffmpeg_bin() -> str:
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:  # the benchmark needs it, the product does not
        subprocess.run(["apt-get", "install", "-y", "-qq", "ffmpeg"], check=True,
                       env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
        ffmpeg = shutil.which("ffmpeg")
    return ffmpeg


def _parse_metadata(path: Path, prefix: str) -> list[tuple[float, float]]:
    spans, start = [], None
    for line in path.read_text().splitlines() if path.exists() else []:
        if line.startswith(f"{prefix}_start="):
            start = float(line.split("=", 1)[1])
        elif line.startswith(f"{prefix}_end=") and start is not None:
            spans.append((start, float(line.split("=", 1)[1])))
            start = None
    return spans


def ffmpeg_item(ffmpeg: str, uri: str, work: Path, duration_s: float) -> list[dict]:
    """One decode of the file, every filter instance of the grid side by side; each instance's
    events come back through its own metadata file."""
    work.mkdir(parents=True, exist_ok=True)
    nv, na = len(FF_BLACK) + len(FF_FREEZE), len(FF_SILENCE)
    chains = [f"[0:v]split={nv}" + "".join(f"[v{k}]" for k in range(nv)),
              f"[0:a]asplit={na}" + "".join(f"[a{k}]" for k in range(na))]
    outs = []
    for k, s in enumerate(FF_BLACK):
        f = work / f"black{k}.txt"
        chains.append(f"[v{k}]blackdetect=d=0.1:pix_th={s['pix_th']}:pic_th={s['pic_th']},"
                      f"metadata=mode=print:file={f},nullsink")
        outs.append(("black_frames", "blackdetect", k, f, "lavfi.black"))
    for k, s in enumerate(FF_FREEZE):
        f = work / f"freeze{k}.txt"
        chains.append(f"[v{len(FF_BLACK) + k}]freezedetect=n={s['n_db']}dB:d=0.1,metadata=mode=print:file={f},nullsink")
        outs.append(("video_freeze", "freezedetect", k, f, "lavfi.freezedetect.freeze"))
    for k, s in enumerate(FF_SILENCE):
        f = work / f"silence{k}.txt"
        chains.append(f"[a{k}]silencedetect=n={s['n_db']}dB:d=0.1,ametadata=mode=print:file={f},anullsink")
        outs.append(("audio_silence", "silencedetect", k, f, "lavfi.silence"))
    for _, _, _, f, _ in outs:
        f.unlink(missing_ok=True)
    subprocess.run([ffmpeg, "-hide_banner", "-nostats", "-loglevel", "error", "-threads", "1", "-i", uri,
                    "-filter_complex", ";".join(chains), "-f", "null", "-"], check=True, capture_output=True)
    rows = []
    for defect, filt, k, f, prefix in outs:
        text = f.read_text() if f.exists() else ""
        spans = _parse_metadata(f, prefix)
        if text.count(f"{prefix}_start=") > len(spans):  # still going at the end of the file
            spans.append((float(text.rsplit(f"{prefix}_start=", 1)[1].splitlines()[0]), duration_s))
        rows += [{"defect": defect, "filter": filt, "setting": k, "start_s": a, "end_s": b} for a, b in spans]
    return rows


def ffmpeg_pass(ffmpeg: str, items: list[dict], work: Path) -> pd.DataFrame:
    def one(item):
        rows = ffmpeg_item(ffmpeg, item["uri"], work / "ffmpeg" / item["item_id"], item["duration_s"])
        return [{**r, "item_id": item["item_id"]} for r in rows]

    with ThreadPoolExecutor(max_workers=2) as pool:
        rows = [r for part in pool.map(one, items) for r in part]
    return pd.DataFrame(rows, columns=["item_id", "defect", "filter", "setting", "start_s", "end_s"])


# -- scoring ----------------------------------------------------------------------------------------
def figures(findings: pd.DataFrame, labels: pd.DataFrame, items: list[dict], defect: str) -> dict:
    ids = [i["item_id"] for i in items]
    clean_ids = {i["item_id"] for i in items if i["clean"]}
    clean_h = sum(i["duration_s"] for i in items if i["clean"]) / 3600
    row = score(findings, labels, items=ids, defects=[defect])
    r = row.iloc[0] if len(row) else None
    f = findings[findings["defect"] == defect]
    fa = int(f["item_id"].isin(clean_ids).sum())
    return {"events": int(r["labels"]) if r is not None else 0, "found": int(r["labels_found"]) if r is not None else 0,
            "findings": int(r["findings"]) if r is not None else 0,
            "recall": None if r is None or pd.isna(r["recall"]) else round(float(r["recall"]), 4),
            "precision": None if r is None or pd.isna(r["precision"]) else round(float(r["precision"]), 4),
            "false_alarms_clean": fa, "false_alarms_per_clean_hour": round(fa / clean_h, 3) if clean_h else None,
            "hours": round(sum(i["duration_s"] for i in items) / 3600, 3), "clean_hours": round(clean_h, 3)}


def ffmpeg_figures(ff: pd.DataFrame, labels: pd.DataFrame, items: list[dict]) -> dict:
    out = {}
    grids = {"black_frames": FF_BLACK, "video_freeze": FF_FREEZE, "audio_silence": FF_SILENCE}
    for defect, (filt, k0, d0) in FF_DEFAULTS.items():
        tried = []
        for k, setting in enumerate(grids[defect]):
            for d in FF_D:
                f = ff[(ff["defect"] == defect) & (ff["setting"] == k)]
                f = f[f["end_s"] - f["start_s"] + 1e-6 >= d]
                fig = figures(f, labels, items, defect)
                fig["setting"] = {**setting, "d": d}
                p, r = fig["precision"] or 0.0, fig["recall"] or 0.0
                fig["f1"] = round(2 * p * r / (p + r), 4) if p + r else 0.0
                tried.append((k, d, fig))
        default = next(fig for k, d, fig in tried if k == k0 and d == d0)
        best = max(tried, key=lambda x: (x[2]["f1"], -x[2]["false_alarms_clean"]))[2]
        out[defect] = {"filter": filt, "defaults": default, "best": best,
                       "grid": [dict(fig["setting"], recall=fig["recall"], precision=fig["precision"],
                                     false_alarms_per_clean_hour=fig["false_alarms_per_clean_hour"]) for _, _, fig in tried]}
    return out


# -- cost -------------------------------------------------------------------------------------------
def detector_cost(items: list[dict], names: list[str], seconds: float) -> dict:
    """Seconds of ``detect`` per content-second for each detector, on decoded windows of the first
    items up to ``seconds`` of content (decoding excluded), one thread."""
    from rayqa import runner
    from rayqa.detectors import build

    from rayqa.loading import load_detector

    dets = [load_detector(d) if d.pool == "model" else d for d in build(names)]
    vspecs, aspecs = runner.input_specs(dets)
    spent = {d.name: 0.0 for d in dets}
    content = 0.0
    for item in items:
        if content >= seconds:
            break
        p = runner.plan(item["item_id"], item["uri"], 8.0, 10_000)
        for _, windows in runner.decode_batches(p, vspecs, aspecs, 4):
            if isinstance(windows, str):
                raise RuntimeError(windows)
            for w in windows:
                for d in dets:
                    t = time.perf_counter()
                    d([(runner.only(w, d), p.info)])
                    spent[d.name] += time.perf_counter() - t
        content += p.info.duration_s
    return {"content_s": round(content, 1),
            "detect_s_per_content_s": {k: round(v / content, 6) for k, v in spent.items()}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=50, help="defect items, each with one event of every type")
    ap.add_argument("--clean-hours", type=float, default=2.0)
    ap.add_argument("--hours", type=float, default=None, help="alias of --clean-hours")
    ap.add_argument("--seed", type=int, default=16)
    ap.add_argument("--detectors", default="", help="comma-separated detectors to add to the default ones")
    ap.add_argument("--av-sync-hours", type=float, default=None,
                    help="with av_sync named: scan it on this many clean hours only (default all)")
    ap.add_argument("--cost-seconds", type=float, default=600.0, help="content timed per detector for the cost")
    ap.add_argument("--workdir", default="/tmp/rayqa-real-bench")
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent / "results" / "real_content.json"))
    ap.add_argument("--no-ffmpeg", action="store_true")
    args = ap.parse_args()
    clean_hours = args.hours if args.hours is not None else args.clean_hours

    from rayqa.detectors import build, parse_names
    from rayqa.simulate import real

    DEFAULT_NAMES = parse_names(None)
    real.require(("photo", "footage", "music", "voice", "ambience"))
    work = Path(args.workdir)
    (work / "media").mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("RAYQA_HOME", str(work / "home"))
    t0 = time.perf_counter()
    items = [make_item(i, work) for i in plan(args.events, clean_hours, args.seed)]
    gen_s = time.perf_counter() - t0
    print(f"{len(items)} items, {sum(i['duration_s'] for i in items) / 3600:.2f} h ({gen_s:.0f} s to make or find)")
    labels = pd.DataFrame([{"item_id": i["item_id"], **lab} for i in items for lab in i["labels"]],
                          columns=["item_id", "defect", "start_s", "end_s", "level"])
    manifest = work / "manifest.csv"
    pd.DataFrame([{"item_id": i["item_id"], "uri": i["uri"]} for i in items]).to_csv(manifest, index=False)

    from rayqa.pipeline import run_scan

    extra = [n.strip() for n in args.detectors.split(",") if n.strip()]
    names = list(DEFAULT_NAMES) + [n for n in extra if n not in DEFAULT_NAMES and n != "av_sync"]
    t = time.perf_counter()
    result = run_scan(manifest, work / "scan", detectors=names, rescan=True)
    scan_s = time.perf_counter() - t
    findings = pd.read_parquet(work / "scan" / "findings")
    print(f"scan: {scan_s:.0f} s, {result.counts}, findings {result.findings_by_defect}")

    report = {
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "git_commit": subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                                     cwd=Path(__file__).resolve().parent).stdout.strip(),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "set": {"items": len(items), "defect_items": args.events, "hours": round(sum(i["duration_s"] for i in items) / 3600, 3),
                "clean_hours": round(sum(i["duration_s"] for i in items if i["clean"]) / 3600, 3), "seed": args.seed,
                "format": f"{W}x{H} {FPS} fps H.264 crf 23 gop 50, AAC stereo {SR} Hz, about -23 LUFS",
                "split": "bench", "tolerance_s": 0.5, "generation_s": round(gen_s, 1)},
        "detectors": {d.name: {"version": d.version, "params": d.params} for d in build(names) if d.name in DEFECTS},
        "scan": {"detectors": names, "wall_s": round(scan_s, 1), "counts": result.counts},
        "rayqa": {d: figures(findings, labels, items, d) for d in DEFECTS},
    }
    # Which clean items each false alarm came from (what they were made of), for whoever tunes next.
    clean_ids = {i["item_id"] for i in items if i["clean"]}
    fa = findings[findings["item_id"].isin(clean_ids)]
    report["false_alarms"] = [{"item_id": r.item_id, "defect": r.defect, "start_s": round(r.start_s, 2),
                               "end_s": round(r.end_s, 2), "details": json.loads(r.details)} for r in fa.itertuples()]
    report["every_detector"] = every_detector(findings, pd.read_parquet(work / "scan" / "items"), items, names)
    print("every detector of the scan, false events per clean hour (clean real programme, "
          f"{report['every_detector']['clean_hours']:.2f} h; items failed: {report['every_detector']['failed_items']}):")
    for name, row in report["every_detector"]["detectors"].items():
        print(f"  {name:26s} {row['false_events_per_clean_hour']:7.2f}  ({row['false_events']} events)")

    if "av_sync" in extra:
        report["av_sync"] = av_sync_scan(items, work, args.av_sync_hours)
        print(f"av_sync: {report['av_sync']}")

    if not args.no_ffmpeg:
        report.update(ffmpeg_report(items, labels, work))

    cost_names = list(DEFAULT_NAMES) + [n for n in extra if n not in DEFAULT_NAMES]
    try:
        report["cost"] = detector_cost([i for i in items if i["clean"]], cost_names, args.cost_seconds)
    except Exception as e:  # a learned detector without a model here: time the rest
        report["cost"] = detector_cost([i for i in items if i["clean"]], list(DEFAULT_NAMES), args.cost_seconds)
        report["cost"]["note"] = f"{', '.join(extra)} not timed: {type(e).__name__}: {e}"

    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps({k: report[k] for k in ("rayqa",)}, indent=1))
    if "ffmpeg" in report:
        for d, v in report["ffmpeg"].items():
            print(d, v["filter"], "defaults", {k: v["defaults"][k] for k in ("recall", "precision", "false_alarms_per_clean_hour")},
                  "best", v["best"]["setting"], {k: v["best"][k] for k in ("recall", "precision", "false_alarms_per_clean_hour")})
    print(f"wrote {args.out}")


def every_detector(findings: pd.DataFrame, summaries: pd.DataFrame, items: list[dict], names: list[str]) -> dict:
    """Every detector of the scan on the clean real programme: its events there are false alarms
    (nothing was injected; a detector that finds something real in the sources, e.g. a true peak
    over the profile's limit, counts too, with its details in ``false_alarms``). Items that failed
    are named: a failure hides every detector's findings on the item."""
    clean_ids = {i["item_id"] for i in items if i["clean"]}
    hours = sum(i["duration_s"] for i in items if i["clean"]) / 3600
    fa = findings[findings["item_id"].isin(clean_ids)]
    failed = summaries[summaries["status"] != "ok"]
    return {"clean_hours": round(hours, 3), "failed_items": len(failed),
            "failures": [{"item_id": r.item_id, "error": r.error} for r in failed.itertuples()][:20],
            "detectors": {n: {"false_events": int((fa["detector"] == n).sum()),
                              "false_events_per_clean_hour": round(float((fa["detector"] == n).sum()) / hours, 2)}
                          for n in names}}


def _signature(items: list[dict], extra) -> str:
    return json.dumps([[i["item_id"], i["seed"], i["duration_s"]] for i in items] + [extra], sort_keys=True)


def av_sync_scan(items: list[dict], work: Path, hours: float | None) -> dict:
    """av_sync's verdicts on the clean items (cached in the work folder: the media and the detector
    decide them, and neither changes between reruns of the other detectors)."""
    from rayqa.detectors import build
    from rayqa.pipeline import run_scan

    clean = [i for i in items if i["clean"]]
    if hours is not None:
        keep, tot = [], 0.0
        for i in clean:
            if tot >= hours * 3600:
                break
            keep.append(i)
            tot += i["duration_s"]
        clean = keep
    cache = work / "av_sync.json"
    sig = _signature(clean, build(["av_sync"])[0].describe())
    if cache.exists() and json.loads(cache.read_text()).get("signature") == sig:
        return json.loads(cache.read_text())["report"]
    av_manifest = work / "manifest_av_sync.csv"
    pd.DataFrame([{"item_id": i["item_id"], "uri": i["uri"]} for i in clean]).to_csv(av_manifest, index=False)
    t = time.perf_counter()
    run_scan(av_manifest, work / "scan_av_sync", detectors=["av_sync"], rescan=True)
    av_s = time.perf_counter() - t
    summary = pd.read_parquet(work / "scan_av_sync" / "items")
    verdicts = summary["av_sync_verdict"].value_counts(dropna=False).to_dict()
    rep = {"clean_items": len(clean), "clean_hours": round(sum(i["duration_s"] for i in clean) / 3600, 3),
           "scan_wall_s": round(av_s, 1), "verdicts": {str(k): int(v) for k, v in verdicts.items()},
           "out_of_sync_items": list(summary.loc[summary["av_sync_verdict"] == "out_of_sync", "item_id"])}
    cache.write_text(json.dumps({"signature": sig, "report": rep}))
    return rep


def ffmpeg_report(items: list[dict], labels: pd.DataFrame, work: Path) -> dict:
    """FFmpeg's figures; its raw events are cached in the work folder (the media and the grid decide them)."""
    ffmpeg = ffmpeg_bin()
    version = subprocess.run([ffmpeg, "-version"], capture_output=True, text=True).stdout.split("\n")[0]
    cache, sig_path = work / "ffmpeg_events.parquet", work / "ffmpeg_events.json"
    sig = _signature(items, [FF_BLACK, FF_FREEZE, FF_SILENCE, version])
    if cache.exists() and sig_path.exists() and json.loads(sig_path.read_text())["signature"] == sig:
        ff, wall = pd.read_parquet(cache), json.loads(sig_path.read_text())["wall_s"]
    else:
        t = time.perf_counter()
        ff = ffmpeg_pass(ffmpeg, items, work)
        wall = round(time.perf_counter() - t, 1)
        ff.to_parquet(cache, index=False)
        sig_path.write_text(json.dumps({"signature": sig, "wall_s": wall}))
    return {"ffmpeg": ffmpeg_figures(ff, labels, items), "ffmpeg_wall_s": wall, "ffmpeg_version": version,
            "ffmpeg_note": "one decode per file with every grid instance side by side (split/asplit), two files "
                           "at a time; each filter ran with d=0.1 and d is applied afterwards"}


if __name__ == "__main__":
    main()
