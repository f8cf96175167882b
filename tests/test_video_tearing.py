"""video_tearing: the split measures on synthetic arrays, and the detector on decoded windows of
real photographs moved by a camera through H.264 (the scan's decode path, no Ray): tearing
injected at a known time (rayqa.simulate.video.tearing) is found with its times and split row,
the clean counterpart and hard negatives (a cut, a horizon, a tilt, a dissolve, real footage)
have no finding."""

from __future__ import annotations

import numpy as np
import pytest

from rayqa import runner
from rayqa.detectors import REGISTRY, parse_names
from rayqa.detectors.video_tearing import VideoTearing, split_steps, tear_events, candidates, to_luma
from rayqa.simulate import real
from rayqa.simulate import video as sv

FPS = 25
W, H = 640, 360
TOL_S = 0.2 + 1e-6

PHOTOS = [p for p in real.find("photo") if "/wallpapers/" in str(p)]
needs_photo = pytest.mark.skipif(not PHOTOS, reason=f"real photographs not installed: `make real-media-test` "
                                                     f"(apt-get install {real.TEST_PACKAGES[0]})")


def _photo(name: str) -> np.ndarray:
    import cv2

    path = next(p for p in PHOTOS if f"/wallpapers/{name}/" in str(p))
    img = real.load_photo(str(path))
    return cv2.resize(img, (960, int(960 * img.shape[0] / img.shape[1])), interpolation=cv2.INTER_AREA)


def _move(photo: np.ndarray, n: int, dx: float, dy: float, x0: float = 20.0, y0: float = 20.0) -> np.ndarray:
    """``n`` 640x360 frames of a camera moving ``dx``, ``dy`` pixels per frame over ``photo``
    (bilinear: sub-pixel moves are smooth)."""
    import cv2

    out = np.empty((n, H, W, 3), np.uint8)
    for i in range(n):
        m = np.array([[1, 0, x0 + dx * i], [0, 1, y0 + dy * i]], np.float32)
        out[i] = cv2.warpAffine(photo, m, (W, H), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                                borderMode=cv2.BORDER_REFLECT)
    return out


def _scan(tmp_path, name: str, frames: np.ndarray, det: VideoTearing | None = None):
    """Encode ``frames`` (H.264, as rayqa.synth does), decode them as the scan does, detect and
    merge: the item's events."""
    from rayqa.synth import encode

    det = det or VideoTearing()
    path = encode(tmp_path / f"{name}.mp4", frames, FPS, frames.shape[2], frames.shape[1])
    return runner.events_of_file(str(path), det)[0]


# ------------------------------------------------------------------------- registry


def test_registered_experimental_on_frames_the_scan_already_decodes():
    cls = REGISTRY["video_tearing"]
    assert cls.defects == ("video_tearing",) and cls.experimental
    assert "video_tearing" not in parse_names(None)
    # solid_color_frames, flash_pse and frame_stutter decode these frames already: no extra decode.
    assert cls.video == REGISTRY["flash_pse"].video == REGISTRY["frame_stutter"].video


# ------------------------------------------------------------------------- pure measures


def _texture_pan(n: int, speed: int, seed: int = 0) -> np.ndarray:
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(seed)
    big = gaussian_filter(rng.uniform(0, 255, (54, 96 + speed * n + 8)), 1.2)
    big = np.clip((big - big.mean()) * 5 + 128, 0, 255)
    return np.stack([big[:, speed * i : speed * i + 96] for i in range(n)]).astype(np.float32)


def test_a_torn_stretch_jumps_where_it_starts_and_repeats_where_it_ends():
    luma = _texture_pan(60, 1)
    torn = luma.copy()
    a, b, split, k = 20, 35, 30, 2
    torn[a:b, split:] = luma[a + k : b + k, split:]  # rows from `split` down run k frames ahead
    steps, banded, splits = split_steps(torn)
    cands = candidates(steps, banded, splits, 2.0, 3.0, 0.75)
    jumps = [c for c in cands if c["kind"] == "jump"]
    repeats = [c for c in cands if c["kind"] == "repeat"]
    assert jumps and jumps[0]["index"] == a and abs(jumps[0]["row"] - split) <= 1 and jumps[0]["side"] == "below"
    assert repeats and repeats[0]["index"] == b and repeats[0]["offset"] == k and abs(repeats[0]["row"] - split) <= 1
    events = tear_events([{**c, "frame": c["index"]} for c in cands], 125, 2)
    assert [(s["index"], e["index"]) for s, e in events] == [(a, b)]
    # The clean pan: no candidate at all.
    steps, banded, splits = split_steps(luma)
    assert candidates(steps, banded, splits, 2.5, 3.0, 0.75) == []


def test_a_jump_alone_or_a_repeat_alone_is_no_tear():
    # A lower third appearing: the lower part jumps, and nothing repeats after.
    jump_only = [{"frame": 10, "index": 10, "row": 40, "side": "below", "kind": "jump", "offset": 1}]
    assert tear_events(jump_only, 125, 2) == []
    # A jump and a repeat at rows far apart are two things, not one tear.
    apart = jump_only + [{"frame": 30, "index": 30, "row": 20, "side": "below", "kind": "repeat", "offset": 1}]
    assert tear_events(apart, 125, 2) == []


def test_to_luma_of_gray_and_rgb():
    rgb = np.zeros((1, 2, 2, 3), np.uint8)
    rgb[..., 1] = 100
    assert to_luma(rgb)[0, 0, 0] == pytest.approx(71.52, abs=0.01)
    assert to_luma(np.full((1, 2, 2), 7, np.uint8)).tolist() == [[[7.0, 7.0], [7.0, 7.0]]]


# ------------------------------------------------------------------------- real encoded media


@pytest.fixture(scope="module")
def pan():
    """10 s of a real photograph panned 2.5 px per frame (with a little vertical drift)."""
    return _move(_photo("FallenLeaf"), 250, 2.5, 0.3)


@needs_photo
@pytest.mark.parametrize("start_s, end_s, fraction, offset", [(3.0, 4.2, 0.6, 2), (5.0, 5.6, 0.3, 3), (2.0, 3.0, 0.45, 1)])
def test_tearing_in_real_h264_found_at_its_time_and_row(tmp_path, pan, start_s, end_s, fraction, offset):
    torn, (label,) = sv.tearing(pan, FPS, start_s, end_s, split_row_fraction=fraction, offset=offset)
    events = _scan(tmp_path, "torn", torn)
    assert [e.defect for e in events] == ["video_tearing"], events
    (ev,) = events
    assert abs(ev.start_s - start_s) <= TOL_S and abs(ev.end_s - end_s) <= TOL_S, (ev.start_s, ev.end_s)
    d = ev.details
    assert abs(d["split_row"] - fraction * H) <= H / 54 * 1.5  # within 1.5 of the 54 rows it is judged on
    assert d["frame_index"] == round(start_s * FPS) and d["side"] == "below"
    assert 0.0 < ev.score <= 1.0


@needs_photo
def test_clean_real_pan_has_no_finding(tmp_path, pan):
    assert _scan(tmp_path, "clean", pan) == []


@needs_photo
def test_hard_negatives_have_no_finding(tmp_path):
    leaf, grey, kite = _photo("FallenLeaf"), _photo("Grey"), _photo("BytheWater")
    # A hard cut between two pans.
    cut = np.concatenate([_move(leaf, 100, 2.5, 0.3), _move(grey, 100, -2.0, 0.5)])
    # A horizon: a strong straight edge across the whole width, panned along.
    horizon_photo = grey.copy()
    horizon_photo[: int(0.45 * len(grey))] = np.clip(horizon_photo[: int(0.45 * len(grey))] * 0.35 + 140, 0, 255)
    horizon = _move(horizon_photo, 200, 3.0, 0.0)
    # A tilt: the camera moves up and down, rows sliding past the split rows.
    tilt = np.concatenate([_move(kite, 100, 0.0, 2.0), _move(kite, 100, 0.3, -3.0, y0=220.0)])
    # A dissolve between two pans (one second).
    x, y = _move(leaf, 150, 2.5, 0.3), _move(kite, 150, -1.5, 0.0)
    g = np.clip((np.arange(150) - 60) / 25.0, 0, 1)[:, None, None, None]
    dissolve = (x * (1 - g) + y * g).astype(np.uint8)
    for name, frames in (("cut", cut), ("horizon", horizon), ("tilt", tilt), ("dissolve", dissolve)):
        assert _scan(tmp_path, name, frames) == [], name


@pytest.mark.skipif(not real.find("footage"), reason="opencv-doc footage not installed: `make real-media`")
def test_real_footage_has_no_finding(tmp_path):
    path = next(p for p in real.find("footage") if p.name == "tree.avi") if any(
        p.name == "tree.avi" for p in real.find("footage")) else real.find("footage")[0]
    frames, _fps = real.load_footage(str(path), W, H)
    frames = np.concatenate([frames] * (1 + 250 // len(frames)))[:250]
    assert _scan(tmp_path, "footage", frames) == []
