"""Driver for tests/test_faults.py: a scan on a local multi-node Ray cluster that loses a worker
node and a detector actor part-way. Not a test module itself (pytest runs it as a subprocess so
the cluster has its own Ray, and the workers inherit RAYQA_FAULTS).

    python tests/cluster_scan.py MANIFEST OUTPUT CONFIG REPORT_JSON
"""

import json
import os
import signal
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import ray  # noqa: E402
from ray.cluster_utils import Cluster  # noqa: E402

from rayqa.config import ScanConfig  # noqa: E402
from rayqa.pipeline import run_scan  # noqa: E402


def actor_pids() -> list[int]:
    pids = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if Path(f"/proc/{pid}/cmdline").read_bytes().startswith(b"ray::MapWorker"):
                pids.append(int(pid))
        except OSError:
            continue
    return pids


def main(manifest: str, output: str, config: str, report: str) -> None:
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    workers = [cluster.add_node(num_cpus=1) for _ in range(2)]
    cluster.wait_for_nodes()
    ray.init(address=cluster.address, logging_level="WARNING")
    events: list[str] = []

    def chaos() -> None:
        items = Path(output) / "items"
        while len(list(items.glob("part-*.parquet"))) < 2:
            time.sleep(0.1)
        pids = actor_pids()
        if pids:
            os.kill(pids[0], signal.SIGKILL)
            events.append(f"killed detector actor pid {pids[0]}")
        done_before = len(list(items.glob("part-*.parquet")))
        cluster.remove_node(workers[0], allow_graceful=False)
        events.append(f"removed worker node {workers[0].node_id} after {done_before} commits")

    killer = threading.Thread(target=chaos, daemon=True)
    killer.start()
    result = run_scan(manifest, output, config=ScanConfig.load(config))
    killer.join(timeout=1)
    deadline = time.monotonic() + 60  # the GCS marks a killed node dead after its health checks fail
    while len(nodes := [n for n in ray.nodes() if n["Alive"]]) > 2 and time.monotonic() < deadline:
        time.sleep(0.5)
    Path(report).write_text(json.dumps({"counts": result.counts, "events": events, "alive_nodes": len(nodes)}))
    ray.shutdown()
    cluster.shutdown()


if __name__ == "__main__":
    main(*sys.argv[1:5])
