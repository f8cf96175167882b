"""The video-taxonomy detectors (solid_color_frames, letterbox_change, blur, flash_pse,
frame_stutter) on synthetic arrays and synthetic decoded windows: fast, no Ray, no encoding.

Defects come from rayqa.simulate.video's injectors (or, for bars and flashes, which it has no
injector for, are painted here) into clean moving content: panning scenes with cuts."""

from __future__ import annotations

import numpy as np
import pytest

from rayqa.detectors import REGISTRY
from rayqa.detectors.blur import sharpness
from rayqa.detectors.flash_pse import flash_spans, luminance_cd_m2, picture_transitions, pixel_transitions, red_value
from rayqa.detectors.frame_stutter import content_anomalies, pair_differences, timestamp_gaps
from rayqa.detectors.letterbox_change import frame_bars, stable_bars, state_runs
from rayqa.detectors.solid_color_frames import solid_mask
from rayqa.simulate import video as sv
from rayqa.types import ItemInfo
from video_taxonomy_media import scene_frames, windows

FPS = 25
TOL_S = 0.2
NEW = ("solid_color_frames", "letterbox_change", "blur", "flash_pse", "frame_stutter")


@pytest.fixture(scope="module")
def clean():
    return scene_frames(30, FPS, seed=1)


@pytest.fixture(scope="module")
def info():
    return ItemInfo(duration_s=30.0, has_video=True, has_audio=False, fps=float(FPS), width=320, height=180)


def scan(name, frames, info, **params):
    """Detect on each 8-s window, merge over the item: what a scan does, without Ray."""
    det = REGISTRY[name](**params)
    hits = [h for w in windows(frames, FPS, det.video) for h in det.detect(w, info)]
    return det.merge(hits)


def flashing(frames, a, b, period=6, bright=(255, 255, 255), dark=(0, 0, 0)):
    out = frames.copy()
    for i in range(a, b):
        out[i] = bright if (i - a) % period < period // 2 else dark
    return out


# ------------------------------------------------------------------------- registry and costs


def test_registered_with_the_vocabulary_names():
    for name in NEW:
        cls = REGISTRY[name]
        assert cls.defects == (name,) and cls.video is not None and cls.audio is None
        cls()  # the defaults construct


def test_native_rate_detectors_share_one_decode():
    specs = {REGISTRY[n].video for n in ("solid_color_frames", "flash_pse", "frame_stutter")}
    assert len(specs) == 1
    assert REGISTRY["letterbox_change"].video == REGISTRY["black_frames"].video


@pytest.mark.parametrize("name", NEW)
def test_clean_moving_content_has_no_finding(name, clean, info):
    assert scan(name, clean, info) == []


# ------------------------------------------------------------------------- solid_color_frames


def test_solid_mask_flat_colours_but_not_black_or_dark_texture():
    rng = np.random.default_rng(0)
    green = np.zeros((1, 54, 96, 3), np.uint8); green[..., 1] = 135
    grey = np.full((1, 54, 96, 3), 128, np.uint8) + rng.integers(0, 3, (1, 54, 96, 3)).astype(np.uint8)
    logo = np.full((1, 54, 96, 3), (200, 0, 200), np.uint8); logo[:, :5, :10] = 255  # magenta, a small bug
    black = np.full((1, 54, 96, 3), 4, np.uint8)
    dark_texture = rng.integers(0, 60, (1, 54, 96, 3)).astype(np.uint8)
    blue = np.full((1, 54, 96, 3), (0, 0, 255), np.uint8)  # "no input": BT.709 luma 18, BT.601 29
    frames = np.concatenate([green, grey, logo, black, dark_texture, blue])
    assert solid_mask(frames, 10, 0.98, 0.10 * 255).tolist() == [True, True, True, False, False, True]


def test_solid_color_found_at_its_time(clean, info):
    bad, labels = sv.solid_color(clean, FPS, 10.0, 12.0, color=(0, 135, 0))
    (ev,) = scan("solid_color_frames", bad, info)
    assert abs(ev.start_s - 10.0) <= TOL_S and abs(ev.end_s - 12.0) <= TOL_S
    assert ev.details["mean_rgb"] == pytest.approx([0, 135, 0], abs=2) and ev.details["frame_index"] == 250


def test_black_is_not_a_solid_colour(clean, info):
    bad, _ = sv.black(clean, FPS, 10.0, 12.0)
    assert scan("solid_color_frames", bad, info) == []


# ------------------------------------------------------------------------- letterbox_change


def test_frame_bars_measures_letterbox_and_pillarbox():
    f = np.full((2, 90, 160), 120, np.uint8)
    f[0, :10] = f[0, -10:] = 0  # letterbox 10 rows
    f[1, :, :20] = f[1, :, -20:] = 5  # pillarbox 20 columns
    assert frame_bars(f, 24).tolist() == [[10, 10, 0, 0], [0, 0, 20, 20]]


def test_frame_bars_ignores_dark_and_one_sided_frames():
    f = np.full((2, 90, 160), 120, np.uint8)
    f[0] = 3  # all dark
    f[1, :30] = 0  # a dark sky on top only
    bars = frame_bars(f, 24)
    assert np.isnan(bars[:, :2]).all()


def test_stable_bars_and_runs():
    bars = np.array([[0, 0, 0, 0]] * 10 + [[np.nan] * 4] + [[10, 10, 0, 0]] * 10 + [[0, 0, 0, 0]] + [[10, 10, 0, 0]] * 5,
                    dtype=float)
    st = stable_bars(bars, 5)
    runs = state_runs(st, 1.0)
    assert [(a, b) for a, b, _ in runs] == [(0, 11), (11, 27)]  # the one-frame flicker is gone


def test_letterbox_appearing_mid_programme(clean, info):
    bad = clean.copy()
    bad[250:375, :24] = 0  # 24 source rows top and bottom from 10 s to 15 s
    bad[250:375, -24:] = 0
    (ev,) = scan("letterbox_change", bad, info)
    assert abs(ev.start_s - 10.0) <= TOL_S and abs(ev.end_s - 15.0) <= TOL_S
    assert ev.details["bars_after"]["top"] == pytest.approx(24, abs=2)
    assert ev.details["bars_before"]["top"] == 0 and ev.details["edge"] is None


def test_letterbox_for_the_whole_item_is_no_change(clean, info):
    bad = clean.copy()
    bad[:, :24] = 0
    bad[:, -24:] = 0
    assert scan("letterbox_change", bad, info) == []


def test_pillarbox_at_the_head(clean, info):
    bad = clean.copy()
    bad[:100, :, :40] = 0
    bad[:100, :, -40:] = 0
    (ev,) = scan("letterbox_change", bad, info)
    assert ev.start_s == 0.0 and abs(ev.end_s - 4.0) <= TOL_S and ev.details["edge"] == "head"
    assert ev.details["bars_after"]["left"] == pytest.approx(40, abs=2)


# ------------------------------------------------------------------------- blur


def test_sharpness_falls_with_blur_not_with_a_fade(clean):
    gray = clean[:50].mean(axis=3).astype(np.uint8)
    blurred, _ = sv.blur(clean[:50], FPS, 0.0, 2.0, sigma=1.5)
    faded = (gray.astype(np.float32) * 0.4).astype(np.uint8)
    s0 = np.nanmedian(sharpness(gray))
    assert np.nanmedian(sharpness(blurred.mean(axis=3).astype(np.uint8))) < 0.5 * s0
    assert np.nanmedian(sharpness(faded)) == pytest.approx(s0, rel=0.25)
    assert np.isnan(sharpness(np.full((2, 90, 160), 128, np.uint8))).all()  # flat: not measured


def test_blur_found_against_the_items_baseline(clean, info):
    bad, _ = sv.blur(clean, FPS, 12.0, 15.0, sigma=2.0)
    (ev,) = scan("blur", bad, info)
    assert abs(ev.start_s - 12.0) <= TOL_S and abs(ev.end_s - 15.0) <= TOL_S
    assert ev.details["sharpness_ratio"] < 0.55


def test_blur_across_a_window_boundary_is_one_event(clean, info):
    bad, _ = sv.blur(clean, FPS, 7.0, 9.5, sigma=2.0)
    (ev,) = scan("blur", bad, info)
    assert abs(ev.start_s - 7.0) <= TOL_S and abs(ev.end_s - 9.5) <= TOL_S


# ------------------------------------------------------------------------- flash_pse


def test_display_model():
    white = luminance_cd_m2(np.full((1, 3), 255, np.uint8))
    grey = luminance_cd_m2(np.full((1, 3), 128, np.uint8))
    assert white[0] == pytest.approx(200.0) and 40 < grey[0] < 50
    red = red_value(np.array([[255, 0, 0], [255, 255, 255], [200, 40, 40]], np.uint8))
    assert red[0] == pytest.approx(320) and red[1] == 0 and red[2] > 20


def test_pixel_transitions_count_a_ramp_once():
    sig = np.array([0, 10, 20, 30, 40, 40, 10, 0], np.float32)[:, None]
    rise, fall = pixel_transitions(sig, 20, 160)
    assert rise[:, 0].tolist() == [False, False, True, False, False, False, False, False]
    assert fall[:, 0].tolist() == [False, False, False, False, False, False, True, False]


def test_pan_is_not_a_picture_transition():
    rise = np.zeros((3, 100), bool); fall = np.zeros((3, 100), bool)
    rise[1, :40] = True
    fall[1, 40:80] = True  # as many darken as brighten
    assert picture_transitions(rise, fall, 0.25) == []
    fall[1, 40:80] = False
    assert picture_transitions(rise, fall, 0.25) == [(1, 1, 0.4)]


def test_flash_spans_rule_more_than_three_per_second():
    f = 1 / 25
    four_hz = np.arange(0, 2, 0.125)  # 8 transitions a second: 4 flashes
    three_hz = np.arange(0, 2, 1 / 6)  # 6 a second: 3 flashes, allowed
    for t, expect in ((four_hz, 1), (three_hz, 0)):
        d = np.where(np.arange(len(t)) % 2 == 0, 1, -1)
        assert len(flash_spans(t, d, np.ones(len(t)), 3.0, f)) == expect


@pytest.mark.parametrize("kind,bright,dark", [("luminance", (255, 255, 255), (0, 0, 0)),
                                               ("red", (255, 0, 0), (40, 0, 0))])
def test_flashing_found(kind, bright, dark, clean, info):
    bad = flashing(clean, 250, 300, bright=bright, dark=dark)  # 10-12 s, 4.2 Hz
    (ev,) = scan("flash_pse", bad, info)
    assert ev.details["kind"] == kind and ev.details["flashes_per_second"] > 3
    assert abs(ev.start_s - 10.0) <= TOL_S and abs(ev.end_s - 12.0) <= TOL_S
    assert ev.details["area_fraction"] >= 0.25


def test_slow_flashing_and_small_area_pass(clean, info):
    slow = flashing(clean, 250, 300, period=8)  # 3.1 Hz: 3 flashes a second
    assert scan("flash_pse", slow, info) == []
    small = clean.copy()
    small[250:300, :40, :80] = flashing(clean, 250, 300)[250:300, :40, :80]  # 5.6 % of the picture
    assert scan("flash_pse", small, info) == []


# ------------------------------------------------------------------------- frame_stutter


def test_repeats_and_drops_in_smooth_motion():
    base = scene_frames(4, FPS, seed=3, scene_s=(5, 5), max_speed=1)
    from video_taxonomy_media import to_spec
    from rayqa.types import VideoSpec

    spec = VideoSpec(fps=60.0, width=96, height=54, gray=False)
    src = list(range(100))
    src[40] = 39  # a repeat at 40
    del src[70]  # a drop: 69 then 71
    small = to_spec(base[src], spec)
    repeat, drop, _ = content_anomalies(pair_differences(small), pair_differences(small, 2))
    assert np.flatnonzero(repeat).tolist() == [39]  # pair 39 compares frames 39 and 40
    assert np.flatnonzero(drop).tolist() == [69]


def test_a_freeze_is_not_stutter():
    base = scene_frames(4, FPS, seed=3, scene_s=(5, 5), max_speed=1)
    frozen, _ = sv.freeze(base, FPS, 1.0, 2.5)
    from video_taxonomy_media import to_spec
    from rayqa.types import VideoSpec

    small = to_spec(frozen, VideoSpec(fps=60.0, width=96, height=54, gray=False))
    repeat, drop, _ = content_anomalies(pair_differences(small), pair_differences(small, 2))
    assert not repeat.any() and not drop.any()


def test_timestamp_gaps():
    t = np.array([0, 1, 2, 5, 6], float) / 25
    assert timestamp_gaps(t, 25.0) == [(3, 2)]


def test_stutter_found_at_its_time(clean, info):
    bad, _ = sv.stutter(clean, FPS, 10.0, 12.0, pattern="repeat", every_n=3)
    (ev,) = scan("frame_stutter", bad, info)
    assert abs(ev.start_s - 10.0) <= TOL_S and abs(ev.end_s - 12.0) <= TOL_S
    assert ev.details["repeated_frames"] >= 10 and ev.details["causes"] == ["content"]


def test_stutter_from_timestamps(clean, info):
    det = REGISTRY["frame_stutter"]()
    (w,) = windows(clean[:200], FPS, det.video)
    keep = np.ones(len(w.video[det.video.key].times_s), bool)
    keep[100:103] = False  # three frames missing at 4.0 s
    v = w.video[det.video.key]
    v.times_s, v.frames, v.frame_indices = v.times_s[keep], v.frames[keep], v.frame_indices[keep]
    evs = det.merge(det.detect(w, info))
    ts = [e for e in evs if "timestamps" in e.details["causes"]]
    assert len(ts) == 1 and abs(ts[0].start_s - 4.0) <= TOL_S and ts[0].details["dropped_frames"] >= 3


@pytest.mark.parametrize("source_fps", [15, 20, 30])
def test_footage_retimed_from_another_frame_rate_is_its_cadence_not_stutter(source_fps, info):
    """Footage shot at 15, 20 or 30 fps shown at 25 by repeating or leaving out pictures has a
    steady cadence through the shot: the source, not stutter; a stutter in smooth 25 fps motion
    beside it is still found."""
    src = scene_frames(16.2, source_fps, seed=5, scene_s=(8, 8), max_speed=2)
    retimed = src[(np.arange(16 * FPS) * source_fps / FPS).astype(int)]  # two 8-s shots, cut at 8 s
    assert scan("frame_stutter", retimed, info) == []
    smooth = scene_frames(16, FPS, seed=6, scene_s=(16, 16), max_speed=2)
    bad, _ = sv.stutter(smooth, FPS, 6.0, 8.0, pattern="repeat", every_n=3)
    both = np.concatenate([bad, retimed])
    (ev,) = scan("frame_stutter", both, info)
    assert abs(ev.start_s - 6.0) <= TOL_S and abs(ev.end_s - 8.0) <= TOL_S


def test_flashing_is_not_stutter(clean, info):
    """A strobe repeats pictures between cuts on purpose: flash_pse's finding, not frame_stutter's."""
    assert scan("frame_stutter", flashing(clean, 250, 300), info) == []
