"""``rayqa demo``: a small catalogue with known defects, scanned, and a table of what was found."""

from __future__ import annotations

import csv
from pathlib import Path

from rayqa.synth import ClipSpec, corrupt_video_packets, write_clip

# item_id → (clip, what a person should expect to see in the table)
DEMO_ITEMS = {
    "clean": (ClipSpec(duration_s=12), "nothing"),
    "black_3-6s": (ClipSpec(duration_s=12, black=[(3.0, 6.0)]), "black_frames 3.0-6.0"),
    "freeze_5-8.5s": (ClipSpec(duration_s=12, freeze=[(5.0, 8.5)]), "video_freeze 5.0-8.5"),
    "silence_2-5s": (ClipSpec(duration_s=12, silence=[(2.0, 5.0)]), "audio_silence 2.0-5.0"),
    "short_audio": (ClipSpec(duration_s=12, audio_duration_s=10.0), "duration_mismatch 10.0-12.0"),
    "audio_only": (ClipSpec(duration_s=8, video=False), "nothing (audio detectors only)"),
}


def make_catalogue(folder: Path) -> Path:
    """Write the demo media and ``manifest.csv`` into ``folder``; returns the manifest path."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for item_id, (spec, expect) in DEMO_ITEMS.items():
        path = folder / f"{item_id}.mp4"
        if not path.exists():
            write_clip(path, spec)
        rows.append((item_id, path.name, expect))
    damaged = folder / "damaged_4-5s.mp4"
    if not damaged.exists():
        clean = folder / "clean.mp4"
        corrupt_video_packets(clean, damaged, 4.0, 5.0)
    rows.append(("damaged_4-5s", damaged.name, "decode_error 4.0-5.0"))
    rows.append(("missing", "no_such_file.mp4", "status failed: file not found"))
    manifest = folder / "manifest.csv"
    with manifest.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["item_id", "uri", "expected"])
        w.writerows(rows)
    return manifest


def _blocky(folder: Path) -> tuple[str, str]:
    """A simulated scene whose H.264 P-frames were damaged at 4.0-4.3 s: the decoder conceals the
    damage and it smears on until the next keyframe, as the labels (from the clean decode) say."""
    import json

    import numpy as np

    from rayqa.simulate.bitstream import inject_block_corruption
    from rayqa.simulate.pristine import video_scene
    from rayqa.synth import audio_signal, encode

    path, truth = folder / "blocky.mp4", folder / "blocky.truth.json"
    if not (path.exists() and truth.exists()):
        frames = video_scene("shapes", 12.0, 25, 320, 180, np.random.default_rng(7), split="heldout")
        audio = audio_signal(12 * 48000, 48000, seed=7)
        clean = encode(folder / "blocky.clean.mp4", frames, 25, 320, 180, audio, 48000, 50)
        labels, _, _ = inject_block_corruption(clean, path, 4.0, 4.3, 3, mode="flip", intensity=0.02)
        clean.unlink()
        truth.write_text(json.dumps([[round(l.start_s, 1), round(l.end_s, 1)] for l in labels]))
    spans = json.loads(truth.read_text())
    return path.name, "; ".join(f"block_corruption {a:.1f}-{b:.1f}" for a, b in spans) + " (+ decode_error)"


def run_demo(workdir: Path, address: str | None = None) -> int:
    import pandas as pd

    from rayqa.cli import print_summary
    from rayqa.pipeline import run_scan

    manifest = make_catalogue(workdir / "catalogue")
    print(f"demo catalogue: {manifest}")
    result = run_scan(manifest, workdir / "scan", address=address, rescan=True, progress=False)
    items = pd.read_parquet(result.output / "items")
    findings = pd.read_parquet(result.output / "findings")
    lines = []
    for _, item in items.sort_values("item_id").iterrows():
        f = findings[findings["item_id"] == item["item_id"]].sort_values("start_s")
        found = "; ".join(f"{r.defect} {r.start_s:.1f}-{r.end_s:.1f}" for r in f.itertuples()) or "-"
        if item["status"] == "failed":
            found = f"failed: {item['error']}"
        lines.append((item["item_id"], item["status"], f"{item['duration_s']:.1f}" if pd.notna(item["duration_s"]) else "-",
                      found, item["expected"]))
    header = ("item", "status", "dur_s", "found", "expected")
    widths = [max(len(str(x[i])) for x in lines + [header]) for i in range(len(header))]
    print()
    for row in [header] + lines:
        print("  ".join(str(v).ljust(w) for v, w in zip(row, widths)))
    print_summary(result)
    from rayqa.report import build_report

    report = build_report(result.output, workdir / "report.html")
    print(f"report: {report} (open it in a browser: overview, timelines, thumbnails and spectrograms)")
    print('\nquery it: python -c "import pandas as pd; print(pd.read_parquet(\'%s/findings\'))"' % result.output)
    return 0
