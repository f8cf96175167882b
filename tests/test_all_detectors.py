"""Every detector named in one scan on this 2-CPU machine: the plan fits (Ray Data's own repartition
tasks included) and the scan runs to the end; a plan that cannot fit is refused before any work."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from conftest import write_manifest
from rayqa.cli import main
from rayqa.config import ScanConfig
from rayqa.detectors import REGISTRY
from rayqa.pipeline import run_scan


@pytest.mark.parametrize("model_pool", ["auto", "actor"])
def test_a_scan_with_every_detector_named_completes(ray_local, clips, tmp_path, model_pool):
    """On this CPU-only machine the learned detectors run in the decode tasks by default ("auto");
    "actor" puts each in its own actor pool, all of them beside the decoders on 2 CPUs."""
    rows = [{"item_id": "black", "uri": str(clips["black"])}, {"item_id": "silence", "uri": str(clips["silence"])}]
    manifest = write_manifest(tmp_path / "m.csv", rows)
    names = list(REGISTRY)
    config = ScanConfig().merged({"resources": {"model_pool": model_pool}})
    result = run_scan(manifest, tmp_path / "out", detectors=names, config=config)
    assert result.counts == {"ok": 2}
    stages = json.loads((tmp_path / "out" / "run.json").read_text())["stage_wall_seconds"]
    pools = sorted(k for k in stages if k.startswith("detect:"))
    learned = sorted(f"detect:{n}" for n, cls in REGISTRY.items() if cls.pool == "model")
    assert pools == ([] if model_pool == "auto" else learned), stages
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
