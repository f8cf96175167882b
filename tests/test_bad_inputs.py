"""Bad media in a manifest: every item gets exactly one row with the right status; the scan goes on."""

import json

import numpy as np
import pandas as pd
import pytest

from conftest import write_manifest
from rayqa.pipeline import run_scan


@pytest.fixture(scope="module")
def bad_scan(ray_local, clips, tmp_path_factory):
    d = tmp_path_factory.mktemp("bad")
    (d / "zero.mp4").write_bytes(b"")
    (d / "random.mp4").write_bytes(np.random.default_rng(0).integers(0, 256, 50_000, dtype=np.uint8).tobytes())
    (d / "notes.txt").write_text("this is not a video\n" * 100)
    data = clips["clean"].read_bytes()
    (d / "truncated.mp4").write_bytes(data[: len(data) // 2])  # moov at the end: the index is gone
    fast = clips["faststart"].read_bytes()
    (d / "truncated_faststart.mp4").write_bytes(fast[: len(fast) // 2])  # index intact, data stops
    rows = [
        {"item_id": "missing", "uri": str(d / "nope.mp4")},
        {"item_id": "zero_bytes", "uri": str(d / "zero.mp4")},
        {"item_id": "truncated", "uri": str(d / "truncated.mp4")},
        {"item_id": "truncated_faststart", "uri": str(d / "truncated_faststart.mp4")},
        {"item_id": "random_bytes", "uri": str(d / "random.mp4")},
        {"item_id": "text_file", "uri": str(d / "notes.txt")},
        {"item_id": "audio_only", "uri": str(clips["audio_only"])},
        {"item_id": "video_only", "uri": str(clips["video_only"])},
        {"item_id": "flipped_bytes", "uri": str(clips["damaged"])},
        {"item_id": "good_black", "uri": str(clips["black"])},
    ]
    manifest = write_manifest(d / "manifest.csv", rows)
    result = run_scan(manifest, d / "out")
    return result, pd.read_parquet(d / "out" / "items"), pd.read_parquet(d / "out" / "findings")


def test_one_row_per_item_with_status(bad_scan):
    _, items, _ = bad_scan
    assert sorted(items["item_id"]) == sorted(["missing", "zero_bytes", "truncated", "truncated_faststart",
                                               "random_bytes", "text_file", "audio_only", "video_only",
                                               "flipped_bytes", "good_black"])
    status = items.set_index("item_id")["status"].to_dict()
    for failed in ["missing", "zero_bytes", "truncated", "random_bytes", "text_file"]:
        assert status[failed] == "failed", failed
    for ok in ["truncated_faststart", "audio_only", "video_only", "flipped_bytes", "good_black"]:
        assert status[ok] == "ok", ok


def test_failed_items_say_why_in_one_line(bad_scan):
    _, items, _ = bad_scan
    err = items.set_index("item_id")["error"]
    assert "file not found" in err["missing"]
    assert "empty file" in err["zero_bytes"]
    for item in ["truncated", "random_bytes", "text_file"]:
        assert err[item] and "\n" not in err[item]
        assert "Errno" not in err[item] and "Invalid data found" not in err[item], err[item]
    # Each says what is wrong in words, and a truncated file does not read like random bytes.
    assert "truncated" in err["truncated"] and "moov" in err["truncated"]
    assert "not a media file" in err["random_bytes"] and "truncated" not in err["random_bytes"]
    assert "not a media file" in err["text_file"]
    assert items[items["status"] == "ok"]["error"].isna().all()


def test_damage_is_a_finding_not_a_failure(bad_scan):
    _, _, findings = bad_scan
    flipped = findings[findings["item_id"] == "flipped_bytes"]
    assert list(flipped["defect"]) == ["decode_error"]
    assert abs(flipped.iloc[0]["start_s"] - 4.0) <= 0.2
    cut = findings[findings["item_id"] == "truncated_faststart"]
    assert "decode_error" in set(cut["defect"])
    gave_up = [json.loads(d) for d in cut[cut["defect"] == "decode_error"]["details"]]
    assert any(d["gave_up"] for d in gave_up)
    assert min(cut[cut["defect"] == "decode_error"]["start_s"]) < 12.0


def test_good_items_still_get_findings(bad_scan):
    result, items, findings = bad_scan
    black = findings[findings["item_id"] == "good_black"]
    assert list(black["defect"]) == ["black_frames"]
    video_only = findings[findings["item_id"] == "video_only"]
    assert list(video_only["defect"]) == ["black_frames"]
    assert result.counts == {"failed": 5, "ok": 5} or dict(sorted(result.counts.items())) == {"failed": 5, "ok": 5}
