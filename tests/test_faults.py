"""Catalogue scale: a scan survives what kills processes and machines, and stays bounded in memory.

Faults are real (SIGKILL of the driver, of a worker process, of a whole Ray node); where one must
land at a chosen point, ``RAYQA_FAULTS`` (rayqa/faults.py) triggers it inside the real process.
Every scan here runs as its own process with its own Ray, as a job would.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from conftest import REPO, write_manifest
from rayqa.config import ScanConfig
from rayqa.memwatch import PeakMemory
from rayqa.pipeline import run_scan
from rayqa.synth import ClipSpec, concat_copies, write_clip

JOB = [sys.executable, str(REPO / "jobs" / "catalogue_scan.py")]
KEY = ["item_id", "defect", "start_s", "end_s"]


@pytest.fixture
def catalogue(clips, tmp_path):
    """Ten items (four with a black stretch at 3-6 s) and the findings a clean scan gives them."""
    rows = [{"item_id": f"item{i:02d}", "uri": str(clips["black" if i % 3 == 0 else "clean"])} for i in range(10)]
    manifest = write_manifest(tmp_path / "m.csv", rows)
    config = tmp_path / "c.toml"
    config.write_text("[resources]\ncommit_every_items = 1\n")
    truth = {(r["item_id"], "black_frames") for r in rows if r["uri"] == str(clips["black"])}
    return manifest, config, truth


def _env(faults: str = "") -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("RAY_ADDRESS", "RAYQA_FAULTS")}
    if faults:
        env["RAYQA_FAULTS"] = faults
    return env


def _scan(manifest, out, config, faults="", timeout=300) -> subprocess.CompletedProcess:
    cmd = JOB + ["--manifest", str(manifest), "--output", str(out), "--config", str(config)]
    return subprocess.run(cmd, env=_env(faults), capture_output=True, text=True, timeout=timeout)


def _check_complete(out: Path, manifest: Path, truth: set) -> pd.DataFrame:
    """Exactly one summary per manifest item, all ok, and each expected finding exactly once."""
    items = pd.read_parquet(out / "items")
    assert sorted(items["item_id"]) == sorted(pd.read_csv(manifest)["item_id"]), items[["item_id", "status"]]
    assert set(items["status"]) == {"ok"}, items[["item_id", "status", "error"]]
    findings = pd.read_parquet(out / "findings")
    assert not findings.duplicated(KEY).any(), findings[KEY]
    assert set(zip(findings["item_id"], findings["defect"])) == truth
    return items


def _wait_for_parts(folder: Path, n: int, proc: subprocess.Popen, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while len(list(folder.glob("part-*.parquet"))) < n:
        assert proc.poll() is None, f"scan ended before the kill: {proc.stderr.read()[-2000:]}"
        assert time.monotonic() < deadline, "scan made no progress"
        time.sleep(0.05)


def test_driver_killed_between_findings_and_summaries_resumes_exactly_once(catalogue, tmp_path):
    """The driver dies (SIGKILL) inside its 3rd commit: findings part written, summaries not."""
    manifest, config, truth = catalogue
    out = tmp_path / "out"
    first = _scan(manifest, out, config, faults="kill@commit:3")
    assert first.returncode == -signal.SIGKILL, first.stderr[-2000:]
    assert len(list((out / "items").glob("part-*.parquet"))) == 2
    assert len(list((out / "findings").glob("part-*.parquet"))) == 3  # one half-written commit
    second = _scan(manifest, out, config)
    assert second.returncode == 0, second.stderr[-3000:]
    items = _check_complete(out, manifest, truth)
    run = json.loads((out / "run.json").read_text())
    assert run["items"]["skipped_done"] == 2 and run["items"]["scanned_this_run"] == 8
    assert run["stage_wall_seconds"]["decode"] > 0  # where the time went, from Ray Data's stats
    assert items["run_id"].nunique() == 2


def test_driver_killed_part_way_from_outside_resumes(catalogue, tmp_path):
    """SIGKILL from outside at an arbitrary point (decoding slowed so the kill lands mid-scan)."""
    manifest, config, truth = catalogue
    out = tmp_path / "out"
    cmd = JOB + ["--manifest", str(manifest), "--output", str(out), "--config", str(config)]
    proc = subprocess.Popen(cmd, env=_env("sleep@decode:0.5"), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    try:
        _wait_for_parts(out / "items", 3, proc)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # whatever of the embedded Ray outlived its driver
        except ProcessLookupError:
            pass
    done = set(pd.read_parquet(out / "items")["item_id"])
    assert 3 <= len(done) < 10
    second = _scan(manifest, out, config)
    assert second.returncode == 0, second.stderr[-3000:]
    _check_complete(out, manifest, truth)
    run = json.loads((out / "run.json").read_text())
    assert run["items"]["skipped_done"] == len(done)


def test_poisonous_item_fails_alone_and_does_not_stall(catalogue, tmp_path):
    """An item whose decoding kills its worker every time ends `failed`; every other item is
    scanned once, including the ones that shared a decode task with it."""
    manifest, config, truth = catalogue
    rows = pd.read_csv(manifest)
    rows = pd.concat([rows.iloc[:5], pd.DataFrame([{"item_id": "poison-pill", "uri": rows["uri"][1]}]), rows.iloc[5:]])
    manifest = write_manifest(tmp_path / "poison.csv", rows.to_dict("records"))
    config.write_text("[resources]\ncommit_every_items = 4\nmax_task_retries = 1\n")
    out = tmp_path / "out"
    res = _scan(manifest, out, config, faults="crash@decode:poison")
    assert res.returncode == 0, res.stderr[-3000:]
    items = pd.read_parquet(out / "items").set_index("item_id")
    assert len(items) == 11 and items.index.is_unique
    assert items.loc["poison-pill", "status"] == "failed"
    assert items.loc["poison-pill", "error"].startswith("lost: the worker processing")
    assert "2 pass(es), 2 attempts each" in items.loc["poison-pill", "error"]
    ok = items.drop(index="poison-pill")
    assert set(ok["status"]) == {"ok"}
    findings = pd.read_parquet(out / "findings")
    assert not findings.duplicated(KEY).any()
    assert set(zip(findings["item_id"], findings["defect"])) == truth
    assert "poison-pill" in res.stdout  # the run's report names the failed item


def test_node_and_actor_loss_mid_scan_loses_and_duplicates_nothing(catalogue, tmp_path):
    """A 3-node local cluster; part-way through, a detector actor is SIGKILLed and a worker node
    is removed. Ray retries the lost work; the output is the same as an undisturbed scan's."""
    manifest, config, truth = catalogue
    config.write_text('[resources]\ncommit_every_items = 1\ndsp_pool = "actor"\n')
    out = tmp_path / "out"
    report_json = tmp_path / "report.json"
    cmd = [sys.executable, str(REPO / "tests" / "cluster_scan.py"), str(manifest), str(out), str(config), str(report_json)]
    res = subprocess.run(cmd, env=_env("sleep@decode:0.4"), capture_output=True, text=True, timeout=420)
    assert res.returncode == 0, res.stderr[-4000:]
    report = json.loads(report_json.read_text())
    removed = [e for e in report["events"] if e.startswith("removed worker node")]
    assert removed and int(removed[0].split(" after ")[1].split()[0]) < 10, report  # mid-scan
    assert any(e.startswith("killed detector actor") for e in report["events"]), report
    assert report["alive_nodes"] == 2
    assert report["counts"] == {"ok": 10}
    _check_complete(out, manifest, truth)


def test_two_hour_item_scans_in_bounded_memory(ray_local, tmp_path):
    """A generated 2-hour item (one encoded minute repeated by stream copy, a black stretch in the
    last minute) scans with every Ray worker under 2 GB, the object store (the raylet's resident
    pages) bounded, and the driver barely growing. The signal-processing detectors run in their
    own actor pool here, so every decoded window crosses the object store."""
    spec = dict(duration_s=60, fps=5, width=160, height=90, sample_rate=16000)
    minute = write_clip(tmp_path / "minute.mp4", ClipSpec(**spec))
    last = write_clip(tmp_path / "last.mp4", ClipSpec(**spec, black=[(30.0, 35.0)]))
    long = concat_copies([minute] * 119 + [last], tmp_path / "two_hours.mp4")
    manifest = write_manifest(tmp_path / "m.csv", [{"item_id": "two_hours", "uri": str(long)}])
    before = PeakMemory()
    before.sample()
    with PeakMemory() as mem:
        result = run_scan(manifest, tmp_path / "out", detectors="black_frames,video_freeze,audio_silence,decode_error",
                          config=ScanConfig().merged({"resources": {"dsp_pool": "actor"}}))
    assert result.counts == {"ok": 1}
    items = pd.read_parquet(tmp_path / "out" / "items")
    assert items["duration_s"].iloc[0] == pytest.approx(7200, abs=1)
    findings = pd.read_parquet(tmp_path / "out" / "findings")
    # The whole item was scanned: its last minute's black stretch is found, and the seams between
    # the copied minutes are not mistaken for defects.
    assert list(zip(findings["defect"], findings["start_s"].round())) == [("black_frames", 7170)]
    # What the scan made a worker hold: an idle worker Ray reuses may still hold an earlier test's
    # heap (2.3 GB of it once, in a full run), which is not this scan's.
    assert 0 < mem.worker_growth < 2 * 2**30, (mem.worker_growth, mem.worker, mem.worker_name)
    assert 0 < mem.raylet < 1.5 * 2**30  # 900 windows streamed through, not held
    assert mem.driver - before.driver < 300 * 2**20
