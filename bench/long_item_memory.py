"""Memory of one long item against a short one, measured in the same run.

    .venv/bin/python bench/long_item_memory.py [--minutes 120] [--short-minutes 5] [--no-service]

Writes a long H.264/AAC item (default 2 hours, 160x90 at 25 fps so the encode is quick; decoding
cost per window is what matters, not the picture size) and a short one, scans each alone and prints
the peak resident memory of the driver, of all Ray workers together and of the largest single
worker, and the ratio long/short. Then the same two files are scored by the HTTP service
(``POST /v1/score`` with their uri, the default detectors) and the largest process's peak is
printed the same way: the service streams a file's windows a batch at a time as the scan does, so
each process should stay under 2 GB however long the item is.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rayqa.memwatch import PeakMemory  # noqa: E402
from rayqa.pipeline import run_scan  # noqa: E402
from rayqa.raytools import ensure_ray  # noqa: E402
from rayqa.synth import ClipSpec, concat_copies, write_clip  # noqa: E402


def scan_one(path: Path, work: Path, name: str) -> tuple[float, float, float]:
    manifest = work / f"{name}.csv"
    pd.DataFrame([{"item_id": name, "uri": str(path)}]).to_csv(manifest, index=False)
    with PeakMemory() as mem:
        t = time.perf_counter()
        result = run_scan(manifest, work / f"scan-{name}", rescan=True)
        wall = time.perf_counter() - t
    assert result.counts == {"ok": 1}, result.counts
    return wall, mem.workers_total / 2**20, mem.driver / 2**20


def score_one(url: str, path: Path) -> tuple[float, float, float, int]:
    import requests

    with PeakMemory() as mem:
        t = time.perf_counter()
        r = requests.post(f"{url}/v1/score", json={"uri": str(path)}, timeout=3600)
        wall = time.perf_counter() - t
    assert r.status_code == 200, (r.status_code, r.text[:300])
    return wall, mem.workers_total / 2**20, mem.worker / 2**20, len(r.json()["findings"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=120.0)
    ap.add_argument("--short-minutes", type=float, default=5.0)
    ap.add_argument("--workdir", default=None)
    ap.add_argument("--no-service", action="store_true", help="measure the batch scan only")
    args = ap.parse_args()
    work = Path(args.workdir or tempfile.mkdtemp(prefix="rayqa-longbench-"))
    work.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("RAYQA_HOME", str(work / "home"))
    items = {}
    for name, minutes in (("short", args.short_minutes), ("long", args.minutes)):
        path = work / f"{name}.mp4"
        if not path.exists():
            t = time.perf_counter()
            # A black stretch in the last minute proves the whole item was scanned.
            # One encoded minute repeated by stream copy (seconds instead of minutes to write).
            minute = work / "minute.mp4"
            if not minute.exists():
                write_clip(minute, ClipSpec(duration_s=60, width=160, height=90))
            last = write_clip(work / f"{name}-last.mp4", ClipSpec(duration_s=60, width=160, height=90, black=[(30, 35)]))
            concat_copies([minute] * (int(minutes) - 1) + [last], path)
            print(f"wrote {name}: {minutes:g} min in {time.perf_counter() - t:.0f} s, {path.stat().st_size / 2**20:.0f} MiB")
        items[name] = path
    ensure_ray()
    scan_one(items["short"], work, "warmup")  # worker start-up is not what we measure
    rows = {name: scan_one(path, work, name) for name, path in items.items()}
    findings = pd.read_parquet(work / "scan-long" / "findings")
    assert (findings["defect"] == "black_frames").any(), "the long item's last minutes were not scanned"
    for name, (wall, workers, driver) in rows.items():
        minutes = args.minutes if name == "long" else args.short_minutes
        print(f"{name:5s} {minutes:6.1f} min  wall {wall:7.1f} s  ({minutes * 60 / wall:6.1f} content-s/s)  "
              f"Ray workers peak {workers:6.0f} MiB  driver peak {driver:5.0f} MiB")
    print(f"worker memory long/short = {rows['long'][1] / rows['short'][1]:.2f} (flat when near 1)")
    if args.no_service:
        return
    from ray import serve

    from rayqa.serve import deploy

    os.environ["RAYQA_ALLOWED_ROOTS"] = str(work)
    url = deploy(port=8765)
    try:
        score_one(url, items["short"])  # replica start-up is not what we measure
        served = {name: score_one(url, path) for name, path in items.items()}
    finally:
        serve.shutdown()
    for name, (wall, total, largest, n) in served.items():
        minutes = args.minutes if name == "long" else args.short_minutes
        print(f"service {name:5s} {minutes:6.1f} min  wall {wall:7.1f} s  Ray workers peak {total:6.0f} MiB  "
              f"largest process {largest:6.0f} MiB  findings {n}")
    print(f"service largest process long/short = {served['long'][2] / served['short'][2]:.2f}; "
          f"under 2 GB: {served['long'][2] < 2048}")


if __name__ == "__main__":
    main()
