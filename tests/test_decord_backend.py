"""decord as the frame source: same findings, and a fallback to PyAV where decord gives up."""

import json

import pandas as pd

from conftest import write_manifest
from rayqa.config import ScanConfig
from rayqa.pipeline import run_scan


def test_decord_backend_and_fallback(ray_local, clips, tmp_path):
    data = clips["faststart"].read_bytes()
    (tmp_path / "cut.mp4").write_bytes(data[: len(data) // 2])  # decord aborts on this stream
    manifest = write_manifest(tmp_path / "m.csv", [{"item_id": "black", "uri": str(clips["black"])},
                                                   {"item_id": "freeze", "uri": str(clips["freeze"])},
                                                   {"item_id": "cut", "uri": str(tmp_path / "cut.mp4")}])
    cfg = ScanConfig().merged({"decode": {"video_backend": "decord"}})
    run_scan(manifest, tmp_path / "out", config=cfg)
    findings = pd.read_parquet(tmp_path / "out" / "findings")
    items = pd.read_parquet(tmp_path / "out" / "items").set_index("item_id")
    assert (items["status"] == "ok").all()
    black = findings[findings["item_id"] == "black"]
    assert list(black["defect"]) == ["black_frames"] and abs(black.iloc[0]["start_s"] - 3.0) <= 0.2
    freeze = findings[findings["item_id"] == "freeze"]
    assert list(freeze["defect"]) == ["video_freeze"] and abs(freeze.iloc[0]["start_s"] - 5.0) <= 0.2
    cut = findings[(findings["item_id"] == "cut") & (findings["defect"] == "decode_error")]
    assert len(cut) >= 1
    details = json.loads(cut.iloc[0]["details"])
    messages = details.get("messages") or [details["message"]]
    assert details["gave_up"] and any("decord gave up" in m and "frames decoded with pyav" in m for m in messages)
