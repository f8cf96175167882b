"""The report of a 10,000-item scan: its size and how long headless Chromium takes to render it.

    .venv/bin/python bench/report_scale.py [--items 10000] [--out bench/results/report_scale.json]

Makes a synthetic scan folder (Parquet written directly with the real schemas of rayqa/columns.py,
no media scan): items of 10-90 minutes, about 3 findings each over every detector's defects, AV
sync verdicts with out-of-sync fragments, 2 % failed items; a few items point at real media (a
black stretch, a silence, short audio, made here) so evidence is cut for them, the rest point at
files that do not exist, as when media has moved since the scan. Then builds the report with a
policy, and measures the file size (goal < 25 MB) and Chromium's render time (goal < 10 s: the wall
time of `chromium --headless --dump-dom`, start to exit, and the page's own time to ready).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rayqa.columns import FINDINGS_SCHEMA, item_column_names, items_schema  # noqa: E402
from rayqa.policy import Policy  # noqa: E402
from rayqa.report import ReportOptions, build_report  # noqa: E402
from rayqa.report.chromium import dump_dom, screenshot  # noqa: E402
from rayqa.synth import ClipSpec, write_clip  # noqa: E402

# (defect, detector, model, version, share of findings)
KINDS = [("black_frames", "black_frames", "dsp", "1", 0.22), ("video_freeze", "video_freeze", "dsp", "1", 0.12),
         ("audio_silence", "audio_silence", "dsp", "1", 0.2), ("decode_error", "decode_error", "dsp", "1", 0.06),
         ("duration_mismatch", "duration_mismatch", "dsp", "1", 0.04),
         ("block_corruption", "block_corruption", "rayqa-block_corruption", "3", 0.12),
         ("audio_clicks", "audio_artifacts", "rayqa-audio_artifacts", "2", 0.08),
         ("audio_hum", "audio_artifacts", "rayqa-audio_artifacts", "2", 0.06),
         ("av_sync", "av_sync", "rayqa-av_sync", "1", 0.10)]


def _details(defect: str, s: float, e: float, rng) -> dict:
    if defect == "black_frames":
        return {"frame_index": int(s * 25), "black_pixel_ratio": round(float(rng.uniform(0.98, 1)), 4), "mean_luma": 3.1}
    if defect == "audio_silence":
        return {"level_db": round(float(rng.uniform(-90, -61)), 1)}
    if defect == "block_corruption":
        cells = rng.random((6, 10)) < 0.2
        return {"corrupted_area_ratio": round(float(cells.mean()), 4), "frame_index": int(s * 25), "time_s": round(s, 3),
                "probability": 0.9, "decision": "area_ratio", "frames_flagged": 3,
                "map_cells": "/".join("".join("1" if c else "0" for c in row) for row in cells)}
    if defect == "av_sync":
        frags = [{"start_s": round(s + 4 * k, 3), "end_s": round(s + 4 * k + 4, 3), "verdict": "out_of_sync",
                  "offset_ms": round(float(rng.normal(160, 20)), 1)} for k in range(max(1, int((e - s) // 4)))]
        return {"offset_ms": frags[0]["offset_ms"], "confidence": 0.8, "scorer": ["syncnet"], "face_tracks": 1,
                "fragments": frags}
    if defect.startswith("audio_"):
        return {"probabilities": {"no_defect": 0.1, defect: 0.8}, "level_db": -23.0, "segments": 2}
    if defect == "decode_error":
        return {"decoder": "pyav", "stream": "video", "message": "frames decoded with error concealment"}
    return {"video_duration_s": e, "audio_duration_s": s}


def make_scan(folder: Path, n_items: int, media: dict[str, tuple[Path, list]], seed: int = 0) -> Path:
    """A scan folder with ``n_items`` items; ``media`` maps an item id to (real file, its findings
    as (defect, detector, start, end))."""
    rng = np.random.default_rng(seed)
    run_id = "bench" + "0" * 27
    names = item_column_names()
    items = {c: [] for c in names}
    findings = {c.name: [] for c in FINDINGS_SCHEMA}
    shares = np.array([k[4] for k in KINDS]) / sum(k[4] for k in KINDS)
    ids = [f"title-{i:05d}" for i in range(n_items - len(media))] + list(media)
    for item_id in ids:
        real = media.get(item_id)
        failed = real is None and rng.random() < 0.02
        dur = 12.0 if real else float(rng.uniform(600, 5400))
        row = {c: None for c in names}
        row.update(run_id=run_id, item_id=item_id, uri=str(real[0]) if real else f"/mnt/catalogue/gone/{item_id}.mp4",
                   status="failed" if failed else "ok", error="file not found: /mnt/catalogue/gone" if failed else None,
                   wall_s=float(rng.uniform(5, 60)))
        evs = []
        if not failed:
            row.update(duration_s=dur, fps=25.0, width=1920, height=1080, has_audio=True, video_codec="h264",
                       audio_codec="aac", container="mov,mp4,m4a,3gp,3g2,mj2", audio_channels=2)
            if real:
                evs = [(d, det, s, e, 1.0) for d, det, s, e in real[1]]
            else:
                for _ in range(rng.poisson(3)):
                    k = KINDS[rng.choice(len(KINDS), p=shares)]
                    s = float(rng.uniform(0, dur - 30))
                    e = s + float(rng.uniform(0.4, 25))
                    if rng.random() < 0.1:  # some at the head or the tail, for the policy
                        s, e = (0.0, float(rng.uniform(1, 4))) if rng.random() < 0.5 else (dur - float(rng.uniform(1, 4)), dur)
                    evs.append((k[0], k[1], s, e, float(rng.uniform(0.5, 0.99))))
            verdict = rng.choice(["in_sync", "out_of_sync", "inconclusive", None], p=[0.8, 0.06, 0.09, 0.05])
            if any(d == "av_sync" for d, *_ in evs):
                verdict = "out_of_sync"
            row["av_sync_verdict"] = verdict
            row["av_offset_ms"] = (None if verdict in (None, "inconclusive") else
                                   round(float(rng.normal(160, 20) if verdict == "out_of_sync" else rng.normal(0, 15)), 1))
        row["n_findings"] = len(evs)
        for c in names:
            items[c].append(row[c])
        for defect, det, s, e, score in evs:
            k = next(k for k in KINDS if k[0] == defect)
            for col, v in zip(("run_id", "item_id", "detector", "defect", "start_s", "end_s", "score", "model",
                               "model_version", "details"),
                              (run_id, item_id, det, defect, round(s, 3), round(e, 3), score, k[2], k[3],
                               json.dumps(_details(defect, s, e, rng), sort_keys=True))):
                findings[col].append(v)
    (folder / "items").mkdir(parents=True, exist_ok=True)
    (folder / "findings").mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pydict(items, schema=items_schema()), folder / "items" / "part-0.parquet")
    pq.write_table(pa.Table.from_pydict(findings, schema=FINDINGS_SCHEMA), folder / "findings" / "part-0.parquet")
    (folder / "run.json").write_text(json.dumps({
        "run_id": run_id, "started_at": "2025-01-01T00:00:00+00:00", "finished_at": "2025-01-01T06:12:00+00:00",
        "rayqa_version": "bench", "git_commit": "0" * 40, "status": "FINISHED",
        "detectors": [{"name": det, "model": m, "model_version": v} for _, det, m, v, _ in
                      {k[1]: k for k in KINDS}.values()],
        "content_seconds_scanned": float(np.nansum(np.array(items["duration_s"], dtype=float)))}, indent=2))
    return folder


POLICY = {"rules": [{"name": "black or silence at head or tail", "defects": ["black_frames", "audio_silence"],
                     "edge": "either", "within_s": 2.0}]}


def real_media(folder: Path) -> dict[str, tuple[Path, list]]:
    folder.mkdir(parents=True, exist_ok=True)
    specs = {"real-black": (ClipSpec(duration_s=12, black=[(3.0, 6.0)]),
                            [("black_frames", "black_frames", 3.0, 6.0), ("block_corruption", "block_corruption", 7.0, 7.6)]),
             "real-silence": (ClipSpec(duration_s=12, silence=[(2.0, 5.0)]), [("audio_silence", "audio_silence", 2.0, 5.0)]),
             "real-short-audio": (ClipSpec(duration_s=12, audio_duration_s=10.0),
                                  [("duration_mismatch", "duration_mismatch", 10.0, 12.0), ("av_sync", "av_sync", 0.0, 8.0)])}
    return {k: (write_clip(folder / f"{k}.mp4", spec), evs) for k, (spec, evs) in specs.items()}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--items", type=int, default=10_000)
    ap.add_argument("--workdir", default=None, help="where the scan and report go (default: a temporary folder)")
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent / "results" / "report_scale.json"))
    args = ap.parse_args()
    work = Path(args.workdir or tempfile.mkdtemp(prefix="rayqa-report-scale-"))
    scan = make_scan(work / "scan", args.items, real_media(work / "media"))
    t0 = time.perf_counter()
    report = build_report(scan, work / "report.html", policy=Policy.from_dict(POLICY), options=ReportOptions())
    build_s = time.perf_counter() - t0
    size_mb = report.stat().st_size / 1e6
    dom, render_s = dump_dom(report)
    ready_ms = None
    if 'data-rayqa-ms="' in dom:
        ready_ms = int(dom.split('data-rayqa-ms="', 1)[1].split('"', 1)[0])
    shot_s = screenshot(report, work / "report.png")
    import pandas as pd

    n_findings = len(pd.read_parquet(scan / "findings"))
    result = {
        "items": args.items, "findings": n_findings, "report_mb": round(size_mb, 2), "report_goal_mb": 25,
        "build_s": round(build_s, 2), "chromium_dump_dom_s": round(render_s, 2), "chromium_screenshot_s": round(shot_s, 2),
        "page_ready_ms": ready_ms, "render_goal_s": 10, "thumbnails": dom.count('class="thumb"'),
        "spectrograms": dom.count('class="spectrogram"'), "media_unavailable": dom.count("media unavailable"),
        "passes": size_mb < 25 and render_s < 10, "report": str(report), "screenshot": str(work / "report.png"),
    }
    print(f"{args.items:,} items, {n_findings:,} findings: report {size_mb:.2f} MB (goal < 25), built in {build_s:.1f} s; "
          f"chromium --dump-dom {render_s:.2f} s (goal < 10; page ready after {ready_ms} ms), screenshot {shot_s:.2f} s")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0 if result["passes"] else 1


if __name__ == "__main__":
    sys.exit(main())
