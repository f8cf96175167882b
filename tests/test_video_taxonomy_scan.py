"""The video-taxonomy detectors through one real Ray scan of H.264 MP4s: each defect, injected at
a known time into panning scenes with cuts, is found by its detector with the right type and
times and by no other detector; the clean clip has no finding from any default detector."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from conftest import write_manifest
from rayqa.detectors import REGISTRY, parse_names
from rayqa.pipeline import run_scan
from rayqa.simulate import video as sv
from rayqa.synth import encode
from video_taxonomy_media import scene_frames

FPS = 25
DURATION_S = 16.0
TOLERANCE_S = 0.2 + 1e-6  # 0.2 s (times are rounded to the millisecond)


def _flashing(frames, a, b, period=6):
    out = frames.copy()
    for i in range(a, b):
        out[i] = 255 if (i - a) % period < period // 2 else 0
    return out


def _letterbox(frames, a, b, rows=24):
    out = frames.copy()
    out[a:b, :rows] = 0
    out[a:b, -rows:] = 0
    return out


# item → (frames from the clean ones, defect, start, end); spans cross the 8-s window edge where they can.
CASES = {
    "solid": (lambda f: sv.solid_color(f, FPS, 6.0, 9.0, color=(255, 0, 255))[0], "solid_color_frames", 6.0, 9.0),
    "letterbox": (lambda f: _letterbox(f, 100, 250), "letterbox_change", 4.0, 10.0),
    "blur": (lambda f: sv.blur(f, FPS, 7.0, 10.0, sigma=2.0)[0], "blur", 7.0, 10.0),
    "flash": (lambda f: _flashing(f, 250, 300), "flash_pse", 10.0, 12.0),
    "stutter": (lambda f: sv.stutter(f, FPS, 3.0, 5.0, pattern="repeat", every_n=3)[0], "frame_stutter", 3.0, 5.0),
}


@pytest.fixture(scope="module")
def scan(ray_local, tmp_path_factory):
    folder = tmp_path_factory.mktemp("taxscan")
    clean = scene_frames(DURATION_S, FPS, seed=7)
    rows = [{"item_id": "clean", "uri": str(encode(folder / "clean.mp4", clean, FPS, 320, 180))}]
    for name, (make, *_rest) in CASES.items():
        rows.append({"item_id": name, "uri": str(encode(folder / f"{name}.mp4", make(clean), FPS, 320, 180))})
    manifest = write_manifest(folder / "manifest.csv", rows)
    # every default detector, and those of the cases that run only when named
    named = sorted({d for _, d, *_ in CASES.values() if REGISTRY[d].experimental})
    run_scan(manifest, folder / "out", detectors=parse_names(None) + named)
    return pd.read_parquet(folder / "out" / "findings"), pd.read_parquet(folder / "out" / "items")


@pytest.mark.parametrize("item_id", list(CASES))
def test_defect_found_at_its_time_by_its_detector_only(scan, item_id):
    findings, items = scan
    _, defect, start, end = CASES[item_id]
    f = findings[findings["item_id"] == item_id]
    assert list(f["defect"]) == [defect], f[["defect", "start_s", "end_s"]]
    row = f.iloc[0]
    assert row["detector"] == defect and row["model"] == "dsp"
    assert abs(row["start_s"] - start) <= TOLERANCE_S and abs(row["end_s"] - end) <= TOLERANCE_S
    assert 0.0 <= row["score"] <= 1.0 and json.loads(row["details"])
    assert items.set_index("item_id").loc[item_id, "status"] == "ok"


def test_clean_moving_content_has_no_finding(scan):
    findings, items = scan
    assert findings[findings["item_id"] == "clean"].empty
    assert items.set_index("item_id").loc["clean", "n_findings"] == 0
