"""Each detector on real media through a real Ray scan: the defect at its known time, nothing on clean media."""

import json

import pandas as pd
import pytest

from conftest import write_manifest
from rayqa.pipeline import run_scan

TOLERANCE_S = 0.2


@pytest.fixture(scope="module")
def scan(ray_local, clips, tmp_path_factory):
    folder = tmp_path_factory.mktemp("detscan")
    names = ["clean", "black", "freeze", "silence", "mismatch", "damaged", "audio_only", "video_only"]
    manifest = write_manifest(folder / "manifest.csv", [{"item_id": n, "uri": str(clips[n])} for n in names])
    result = run_scan(manifest, folder / "out")
    items = pd.read_parquet(folder / "out" / "items")
    findings = pd.read_parquet(folder / "out" / "findings")
    return result, items, findings


def _only(findings, item_id, defect):
    f = findings[findings["item_id"] == item_id]
    assert list(f["defect"]) == [defect], f[["defect", "start_s", "end_s"]]
    return f.iloc[0]


@pytest.mark.parametrize("item_id,defect,start,end", [
    ("black", "black_frames", 3.0, 6.0),
    ("freeze", "video_freeze", 5.0, 8.5),
    ("silence", "audio_silence", 2.0, 5.0),
    ("mismatch", "duration_mismatch", 10.0, 12.0),
    ("damaged", "decode_error", 4.0, 5.0),
    ("video_only", "black_frames", 2.0, 4.5),
])
def test_defect_found_at_its_time(scan, item_id, defect, start, end):
    _, items, findings = scan
    f = _only(findings, item_id, defect)
    assert abs(f["start_s"] - start) <= TOLERANCE_S
    assert abs(f["end_s"] - end) <= TOLERANCE_S
    assert 0.0 <= f["score"] <= 1.0
    assert f["detector"] == defect and f["model"] == "dsp" and f["model_version"]
    assert isinstance(json.loads(f["details"]), dict) and json.loads(f["details"])
    assert items.set_index("item_id").loc[item_id, "status"] == "ok"


@pytest.mark.parametrize("item_id", ["clean", "audio_only"])
def test_clean_media_has_no_findings(scan, item_id):
    _, items, findings = scan
    assert findings[findings["item_id"] == item_id].empty
    row = items.set_index("item_id").loc[item_id]
    assert row["status"] == "ok" and row["n_findings"] == 0


def test_evidence_in_details(scan):
    _, _, findings = scan
    details = {r.defect: json.loads(r.details) for r in findings.itertuples() if r.item_id != "video_only"}
    assert details["black_frames"]["black_pixel_ratio"] >= 0.98
    assert details["black_frames"]["frame_index"] == 75  # 3.0 s at 25 fps
    assert details["audio_silence"]["level_db"] < -60
    assert details["decode_error"]["decoder"] == "pyav" and details["decode_error"]["stream"] == "video"
    assert details["duration_mismatch"]["audio_duration_s"] == pytest.approx(10.0, abs=0.05)


def test_schemas_match_design(scan):
    result, items, findings = scan
    import pyarrow as pa
    import pyarrow.dataset as pads

    assert list(findings.columns) == ["run_id", "item_id", "detector", "defect", "start_s", "end_s", "score",
                                      "model", "model_version", "details", "suppressed", "suppressed_by"]
    assert not findings["suppressed"].any() and findings["suppressed_by"].isna().all()  # no policy given
    assert str(findings["start_s"].dtype) == "float64" and str(findings["score"].dtype) == "float32"
    # The Parquet types, as DESIGN.md names them (pandas shows a nullable int32 as float64).
    schema = pads.dataset(result.output / "items", format="parquet").schema
    expected = {"run_id": pa.string(), "item_id": pa.string(), "uri": pa.string(), "status": pa.string(),
                "error": pa.string(), "duration_s": pa.float64(), "fps": pa.float64(), "width": pa.int32(),
                "height": pa.int32(), "has_audio": pa.bool_(), "n_findings": pa.int32(),
                "av_sync_verdict": pa.string(), "av_offset_ms": pa.float64(), "wall_s": pa.float64(),
                # columns DESIGN.md adds as their detectors land
                "loudness_lufs": pa.float64(), "loudness_range_lu": pa.float64(), "true_peak_dbtp": pa.float64(),
                "video_codec": pa.string(), "audio_codec": pa.string(), "container": pa.string(),
                "audio_layout": pa.string(), "field_order": pa.string(), "color_transfer": pa.string(),
                "audio_channels": pa.int32(), "bit_depth": pa.int32(), "vfr": pa.bool_(), "captions_uri": pa.string(),
                "caption_cues": pa.int32(), "caption_speech_coverage": pa.float64()}
    for name, typ in expected.items():
        assert schema.field(name).type == typ, name
    assert items["item_id"].is_unique and len(items) == 8
    by_id = items.set_index("item_id")
    assert by_id.loc["audio_only", "has_audio"] and not by_id.loc["video_only", "has_audio"]
    assert by_id.loc["clean", "fps"] == 25.0 and by_id.loc["clean", "width"] == 320
    assert items["av_sync_verdict"].isna().all()  # the av_sync detector did not run


def test_run_json_and_mlflow(scan):
    result, items, findings = scan
    run = json.loads(result.run_json.read_text())
    assert run["run_id"] == result.run_id == items["run_id"].iloc[0] == findings["run_id"].iloc[0]
    assert run["items"]["ok"] == 8 and run["content_seconds_scanned"] == pytest.approx(12 * 6 + 8 * 2, abs=0.5)
    assert {d["name"] for d in run["detectors"]} >= {"black_frames", "video_freeze", "audio_silence", "decode_error",
                                                     "duration_mismatch"}
    from rayqa.registry import ModelRegistry

    mlrun = ModelRegistry().client.get_run(result.run_id)
    assert mlrun.data.metrics["items_ok"] == 8
    assert mlrun.data.metrics["findings.black_frames"] == 2
    assert mlrun.data.params["detectors"].startswith("black_frames")


def test_dsp_actor_pool_gives_the_same_findings(scan, clips, tmp_path):
    """The dsp detectors in their own actor pool (instead of inside the decode tasks) find the same."""
    from rayqa.config import ScanConfig

    _, _, findings = scan
    manifest = write_manifest(tmp_path / "m.csv", [{"item_id": n, "uri": str(clips[n])}
                                                   for n in ["black", "freeze", "silence", "clean"]])
    run_scan(manifest, tmp_path / "out", config=ScanConfig().merged({"resources": {"dsp_pool": "actor"}}))
    pooled = pd.read_parquet(tmp_path / "out" / "findings")
    key = ["item_id", "defect", "start_s", "end_s"]
    expected = findings[findings["item_id"].isin(["black", "freeze", "silence", "clean"])]
    assert pooled[key].sort_values(key).reset_index(drop=True).equals(expected[key].sort_values(key).reset_index(drop=True))
