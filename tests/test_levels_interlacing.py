"""video_levels and interlacing: the pure measures on synthetic frames, the detectors on decoded
windows of real H.264, each defect at a known time found with its times and a clean counterpart
silent."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rayqa import media, runner
from rayqa.detectors.interlacing import Interlacing, comb_ratio
from rayqa.detectors.video_levels import VideoLevels, out_of_range_shares
from rayqa.simulate import video as sv
from video_taxonomy_media import encode_superwhite, scene_frames

FPS = 25


def test_out_of_range_shares_count_luma_and_chroma_beyond_broadcast_range():
    yuv = np.full((2, 10, 10, 3), 128, np.uint8)
    yuv[0, :2, :, 0] = 250  # 20 % super-white
    yuv[1, :1, :5, 1] = 5  # 5 % chroma under
    s = out_of_range_shares(yuv, 14, 241, 16, 240)
    assert s["luma_above"].tolist() == [0.2, 0.0] and s["luma_below"].tolist() == [0.0, 0.0]
    assert s["chroma_out"].tolist() == [0.0, 0.05]


def _gray(frames):
    return (frames.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)).astype(np.uint8)


def test_comb_ratio_sees_woven_fields_in_motion_and_not_still_stripes():
    for seed in (3, 5):
        frames = scene_frames(2.0, FPS, width=320, height=180, seed=seed)
        woven, _ = sv.interlace(frames, FPS, 0.0, 2.0)
        clean = comb_ratio(_gray(frames[::2]), None, 12)[1:]
        combed = comb_ratio(_gray(woven[::2]), None, 12)[1:]
        assert clean.max() < 0.8 and combed.min() > 0.88, (seed, clean.max(), combed.min())
    stripes = np.zeros((5, 96, 160), np.uint8)
    stripes[:, ::2] = 200  # one-row horizontal stripes, not moving: no motion, not judged
    assert comb_ratio(stripes, None, 12).max() == 0.0


def _write_yuv(path: Path, frames_rgb: np.ndarray, superwhite: tuple[int, int] | None = None) -> Path:
    """H.264 from RGB frames, with the top quarter of frames ``superwhite`` [a, b) at Y = 250."""
    return encode_superwhite(path, frames_rgb, superwhite, FPS, crf=18)


def _scan_one(path: Path, det) -> list:
    return runner.events_of_file(str(path), det)


@pytest.fixture(scope="module")
def moving():
    return scene_frames(12.0, FPS, width=320, height=180, seed=5)


def test_video_levels_finds_super_whites_at_their_time(tmp_path, moving):
    events, info = _scan_one(_write_yuv(tmp_path / "hot.mp4", moving, superwhite=(100, 200)), VideoLevels())
    assert info.color_range == "limited"
    assert [e.defect for e in events] == ["video_levels"]
    assert abs(events[0].start_s - 4.0) <= 0.2 and abs(events[0].end_s - 8.0) <= 0.2
    assert events[0].details["luma_above_share"] > 0.2 and events[0].details["luma_max"] > 241
    clean, _ = _scan_one(_write_yuv(tmp_path / "ok.mp4", moving), VideoLevels())
    assert clean == []


def test_interlacing_finds_combing_at_its_time_and_not_on_clean_motion(tmp_path, moving):
    from rayqa.synth import encode

    woven, _ = sv.interlace(moving, FPS, 3.0, 7.0)
    events, info = _scan_one(encode(tmp_path / "combed.mp4", woven, FPS, 320, 180), Interlacing())
    assert info.field_order == "progressive"
    assert [e.defect for e in events] == ["interlacing"]
    assert abs(events[0].start_s - 3.0) <= 0.2 and abs(events[0].end_s - 7.0) <= 0.2
    clean, _ = _scan_one(encode(tmp_path / "clean.mp4", moving, FPS, 320, 180), Interlacing())
    assert clean == []


def test_raw_and_crop_specs_give_coded_values(tmp_path, moving):
    from rayqa.types import VideoSpec

    path = _write_yuv(tmp_path / "hot.mp4", moving[:25], superwhite=(0, 25))
    info = media.probe(str(path))
    raw = VideoSpec(fps=5, width=40, height=20, gray=False, raw=True)
    crop = VideoSpec(fps=5, width=64, height=32, gray=True, crop=True)
    w = media.decode_windows(str(path), info, [(0.0, 1.0)], [raw, crop], [])[0]
    assert w.video[raw.key].frames.shape[1:] == (20, 40, 3) and w.video[raw.key].frames[..., 0].max() > 235
    assert w.video[crop.key].frames.shape[1:] == (32, 64)
