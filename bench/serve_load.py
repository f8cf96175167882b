"""Load on the HTTP service: latency percentiles and throughput, batching on vs off, same run.

    .venv/bin/python bench/serve_load.py [--requests-per-level 2] [--max-s 240] [--detectors block_corruption]

Starts a local Ray, deploys `rayqa serve`'s app on a free loopback port and posts a 10-second
320x180 H.264/AAC clip (a simulated scene) from a thread pool at concurrency 1, 4 and 16
(``requests-per-level`` x concurrency requests per level, and no level runs past ``max-s``).
It does so twice: with the default batching of the learned detectors
(``serve.max_batch_windows``, windows of concurrent requests share forward passes) and with
``max_batch_windows = 1``. Prints p50/p95/p99 latency, requests/s, the number of 5xx answers
and the throughput ratio batching / no batching per concurrency.
"""

from __future__ import annotations

import argparse
import socket
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

LEVELS = (1, 4, 16)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_clip(folder: Path) -> Path:
    from rayqa.simulate.pristine import video_scene
    from rayqa.synth import audio_signal, encode

    frames = video_scene("photo_pan_zoom", 10.0, 25, 320, 180, np.random.default_rng(3), split="heldout")
    return encode(folder / "clip10s.mp4", frames, 25, 320, 180, audio_signal(10 * 48000, 48000, 3), 48000, 50)


def run_level(url: str, clip: Path, detectors: str, concurrency: int, n: int, max_s: float) -> dict:
    data = clip.read_bytes()
    deadline = time.perf_counter() + max_s

    def one(_):
        if time.perf_counter() > deadline:
            return None
        t = time.perf_counter()
        r = requests.post(f"{url}/v1/score", files={"file": (clip.name, data, "video/mp4")},
                          data={"detectors": detectors}, timeout=600)
        return time.perf_counter() - t, r.status_code

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        results = [r for r in pool.map(one, range(n)) if r is not None]
    wall = time.perf_counter() - started
    lat = np.array([r[0] for r in results])
    codes = [r[1] for r in results]
    return {"concurrency": concurrency, "requests": len(results), "p50_s": np.percentile(lat, 50),
            "p95_s": np.percentile(lat, 95), "p99_s": np.percentile(lat, 99), "req_per_s": len(results) / wall,
            "5xx": sum(c >= 500 for c in codes), "non_200": sum(c != 200 for c in codes)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--requests-per-level", type=int, default=2)
    ap.add_argument("--max-s", type=float, default=240.0, help="no concurrency level runs longer than this")
    ap.add_argument("--detectors", default="block_corruption")
    args = ap.parse_args()
    import os

    os.environ.setdefault("RAYQA_HOME", tempfile.mkdtemp(prefix="rayqa-bench-"))
    import ray
    from ray import serve

    from rayqa.config import ScanConfig
    from rayqa.raytools import ensure_ray
    from rayqa.serve import deploy

    work = Path(tempfile.mkdtemp(prefix="rayqa-serve-bench-"))
    clip = make_clip(work)
    ensure_ray()
    print(f"ray: {ray.cluster_resources().get('CPU')} CPUs, {ray.cluster_resources().get('GPU', 0)} GPUs; "
          f"clip {clip.stat().st_size / 1e6:.2f} MB, detectors {args.detectors}", flush=True)
    port = free_port()
    table = {}
    default = ScanConfig().serve.max_batch_windows
    for label, batch in (("batching", default), ("max_batch=1", 1)):
        cfg = ScanConfig().merged({"serve": {"max_batch_windows": batch}})
        url = deploy(cfg, port=port, detectors=args.detectors)
        run_level(url, clip, args.detectors, 2, 2, args.max_s)  # warm-up: replicas loaded, first batch done
        for c in LEVELS:
            row = run_level(url, clip, args.detectors, c, args.requests_per_level * c, args.max_s)
            table[(label, c)] = row
            print(f"{label:12s} c={c:2d}: {row['requests']:3d} requests, p50 {row['p50_s']:.2f} s, p95 {row['p95_s']:.2f} s, "
                  f"p99 {row['p99_s']:.2f} s, {row['req_per_s']:.2f} req/s, 5xx {row['5xx']}, non-200 {row['non_200']}",
                  flush=True)
    serve.shutdown()
    print(f"\nthroughput ratio, batching (max_batch_windows={default}) / max_batch_windows=1:")
    for c in LEVELS:
        a, b = table[("batching", c)], table[("max_batch=1", c)]
        print(f"  concurrency {c:2d}: {a['req_per_s'] / b['req_per_s']:.2f}  "
              f"(p50 {a['p50_s']:.2f} s vs {b['p50_s']:.2f} s)")
    print(f"5xx answers in total: {sum(r['5xx'] for r in table.values())}")


if __name__ == "__main__":
    main()
