"""How a scan's cost grows with the catalogue, and with the cluster, measured in one run.

    .venv/bin/python bench/catalogue_scale.py [--sizes 100,300,1000,2000] [--seconds 4] [--nodes]

1. Scaling with work: scans catalogues of 100, 300, 1,000 and 2,000 short items (320x180, 25 fps,
   H.264/AAC; every fourth item has a black stretch) on this machine's local Ray and prints wall
   time per item and the driver's peak memory above its starting point; both should stay flat.
2. Scaling with nodes (``--nodes``): the 300-item catalogue on a local multi-node cluster
   (ray.cluster_utils.Cluster: a head with no CPUs, then 1 and 2 worker nodes of 1 CPU each, one
   whole-CPU decode task per node CPU so a node uses one core); prints items/s and the ratio
   2 nodes / 1 node (ideal 2.0; both nodes share this machine's two cores with the driver).
3. Where the time goes: task wall seconds per Ray Data operator (decode, the signal-processing
   pool, the learned block_corruption pool) on a small catalogue, from the scan's run.json.
Writes the figures to bench/results/catalogue_scale.json.
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
sys.path.insert(0, str(Path(__file__).resolve().parent))

from rayqa.config import ScanConfig  # noqa: E402
from rayqa.memwatch import PeakMemory  # noqa: E402
from rayqa.pipeline import ensure_ray, run_scan  # noqa: E402
from rayqa.synth import ClipSpec, write_clip  # noqa: E402
from scan_throughput import write_results  # noqa: E402


def make_manifest(folder: Path, n: int, seconds: float) -> Path:
    """``n`` items over a handful of distinct files (a file may back many items: each is decoded and
    scanned on its own, which is what costs)."""
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for k in range(8):
        spec = ClipSpec(duration_s=seconds, seed=k, black=[(seconds * 0.25, seconds * 0.75)] if k % 4 == 0 else [])
        path = folder / f"clip{k}.mp4"
        if not path.exists():
            write_clip(path, spec)
        files.append(path)
    manifest = folder / f"manifest_{n}.csv"
    pd.DataFrame([{"item_id": f"item{i:05d}", "uri": str(files[i % len(files)])} for i in range(n)]).to_csv(
        manifest, index=False)
    return manifest


def timed_scan(manifest: Path, out: Path, cfg: ScanConfig, detectors: str | None) -> tuple[float, float, object]:
    base = PeakMemory()
    base.sample()
    with PeakMemory() as mem:
        t = time.perf_counter()
        result = run_scan(manifest, out, detectors=detectors, config=cfg, rescan=True)
        wall = time.perf_counter() - t
    return wall, (mem.driver - base.driver) / 2**20, result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="100,300,1000,2000")
    ap.add_argument("--seconds", type=float, default=4.0, help="length of each short item")
    ap.add_argument("--detectors", default=None, help="default: the scan's default detectors")
    ap.add_argument("--nodes", action="store_true", help="also measure 1 vs 2 local worker nodes")
    ap.add_argument("--split-items", type=int, default=24, help="items for the per-stage time split")
    ap.add_argument("--workdir", default=None)
    args = ap.parse_args()
    work = Path(args.workdir or tempfile.mkdtemp(prefix="rayqa-scalebench-"))
    os.environ.setdefault("RAYQA_HOME", str(work / "home"))
    cfg = ScanConfig.load(None).merged({"resources": {"commit_every_items": 256}})
    sizes = [int(s) for s in args.sizes.split(",")]
    manifests = {n: make_manifest(work / "media", n, args.seconds) for n in sizes + [300]}

    import ray

    ensure_ray()
    timed_scan(manifests[sizes[0]], work / "warmup", cfg, args.detectors)  # worker start-up, imports
    print(f"1. scaling with work ({args.seconds:g} s items, {int(ray.cluster_resources()['CPU'])} CPUs, local Ray)")
    print(f"{'items':>6} {'wall s':>8} {'ms/item':>8} {'content-s/s':>12} {'driver +MiB':>12}")
    figures: dict = {"item_seconds": args.seconds, "detectors": args.detectors or "default", "scaling": []}
    for n in sizes:
        wall, driver_mib, result = timed_scan(manifests[n], work / f"scan_{n}", cfg, args.detectors)
        assert result.counts.get("ok") == n, result.counts
        print(f"{n:6d} {wall:8.1f} {wall / n * 1000:8.1f} {result.content_s / wall:12.1f} {driver_mib:12.1f}")
        figures["scaling"].append({"items": n, "wall_s": round(wall, 2), "ms_per_item": round(wall / n * 1000, 1),
                                   "content_s_per_s": round(result.content_s / wall, 1),
                                   "driver_peak_above_start_mib": round(driver_mib, 1)})
    split_cfg = cfg.merged({"resources": {"dsp_pool": "actor"}})
    _, _, split = timed_scan(make_manifest(work / "media", args.split_items, args.seconds), work / "split", split_cfg,
                             "black_frames,video_freeze,audio_silence,decode_error,block_corruption")
    total = sum(split.stage_s.values()) or 1.0
    print(f"\n3. task wall time by stage ({args.split_items} items, signal-processing detectors in their own pool, "
          "block_corruption on CPU): " + ", ".join(
              f"{k} {v:.1f} s ({v / total:.0%})" for k, v in sorted(split.stage_s.items(), key=lambda kv: -kv[1])))
    figures["stage_seconds"] = {"items": args.split_items, **{k: round(v, 2) for k, v in split.stage_s.items()}}
    ray.shutdown()

    if args.nodes:
        from ray.cluster_utils import Cluster

        print("\n2. scaling with nodes (300 items; head has no CPUs; 1-CPU worker nodes)")
        rates = {}
        node_cfg = cfg.merged({"resources": {"decode_num_cpus": 1.0}})
        for n_nodes in (1, 2):
            cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, "include_dashboard": False})
            for _ in range(n_nodes):
                cluster.add_node(num_cpus=1)
            cluster.wait_for_nodes()
            ray.init(address=cluster.address, logging_level="WARNING")
            try:
                timed_scan(manifests[300], work / "warm_nodes", node_cfg, args.detectors)
                wall, _, result = timed_scan(manifests[300], work / f"nodes_{n_nodes}", node_cfg, args.detectors)
                assert result.counts.get("ok") == 300, result.counts
                rates[n_nodes] = 300 / wall
                print(f"  {n_nodes} worker node(s): {wall:6.1f} s, {rates[n_nodes]:5.1f} items/s")
            finally:
                ray.shutdown()
                cluster.shutdown()
        print(f"  throughput 2 nodes / 1 node = {rates[2] / rates[1]:.2f} (ideal 2.0)")
        figures["nodes"] = {"items_per_s": {str(k): round(v, 2) for k, v in rates.items()},
                            "ratio_2_over_1": round(rates[2] / rates[1], 2)}
    write_results("catalogue_scale", " ".join(["python", "bench/catalogue_scale.py", *sys.argv[1:]]), figures)


if __name__ == "__main__":
    main()
