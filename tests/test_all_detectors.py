"""Every detector named in one scan on this 2-CPU machine: the plan fits (Ray Data's own repartition
tasks included) and the scan runs to the end; a plan that cannot fit is refused before any work."""

from __future__ import annotations

import pandas as pd

from conftest import write_manifest
from rayqa.cli import main
from rayqa.detectors import REGISTRY
from rayqa.pipeline import run_scan


def test_a_scan_with_every_detector_named_completes(ray_local, clips, tmp_path):
    rows = [{"item_id": "black", "uri": str(clips["black"])}, {"item_id": "silence", "uri": str(clips["silence"])}]
    manifest = write_manifest(tmp_path / "m.csv", rows)
    names = list(REGISTRY)
    result = run_scan(manifest, tmp_path / "out", detectors=names)
    assert result.counts == {"ok": 2}
    items = pd.read_parquet(tmp_path / "out" / "items").set_index("item_id")
    assert (items["status"] == "ok").all()
    found = pd.read_parquet(tmp_path / "out" / "findings")
    assert {"black_frames", "audio_silence"} <= set(found["defect"])
    run = pd.read_json(tmp_path / "out" / "run.json", typ="series")
    assert sorted(d["name"] for d in run["detectors"]) == sorted(names)


def test_pools_that_cannot_fit_are_refused_before_work(ray_local, clips, tmp_path, capsys):
    manifest = write_manifest(tmp_path / "m.csv", [{"item_id": "clean", "uri": str(clips["clean"])}])
    config = tmp_path / "big.toml"
    config.write_text("[pools.block_corruption]\nnum_cpus = 2.0\n")
    code = main(["scan", "--manifest", str(manifest), "--output", str(tmp_path / "out"), "--config", str(config),
                 "--detectors", "black_frames,block_corruption"])
    assert code == 2
    err = capsys.readouterr().err
    assert "do not fit" in err and "num_cpus" in err
    assert not any((tmp_path / "out").glob("*/part-*.parquet"))
