"""Real content: a real photograph under a very slow pan is not a freeze; the real sources' split;
the freeze rule on synthetic arrays (sub-pixel pan vs a repeated, noisy picture); details.edge."""

import json

import numpy as np
import pandas as pd
import pytest

from conftest import write_manifest
from rayqa.detectors import build
from rayqa.detectors.base import item_edge
from rayqa.detectors.video_freeze import block_max_difference, frozen_frames
from rayqa.simulate import real
from rayqa.types import AudioSamples, ItemInfo, VideoFrames, Window

PHOTO_PACKAGE = real.TEST_PACKAGES[0]
needs_photo = pytest.mark.skipif(not real.find("photo") or not any("/wallpapers/" in str(p) for p in real.find("photo")),
                                 reason=f"real photographs not installed: `make real-media-test` "
                                        f"(apt-get install {PHOTO_PACKAGE})")


def _window(frames, fps=10.0, t0=0.0):
    times = t0 + np.arange(len(frames)) / fps
    key = f"video_10fps_{frames.shape[2]}x{frames.shape[1]}_gray"
    return Window("x", t0, t0 + len(frames) / fps,
                  video={key: VideoFrames(times, frames, np.round(times * 25).astype(int))})


def _pan(n, px_per_sample, rng, noise=0.0, width=320, height=180):
    """Gray frames of a smooth random texture moving ``px_per_sample`` to the right per frame."""
    from scipy.ndimage import gaussian_filter, shift

    base = gaussian_filter(rng.uniform(0, 255, (height, width + 100)), 2.0)
    base = (base - base.mean()) * 6 + 128
    out = []
    for i in range(n):
        f = shift(base, (0, px_per_sample * i), order=1, mode="reflect")[:, 50 : 50 + width]
        out.append(np.clip(f + rng.normal(0, noise, f.shape), 0, 255).astype(np.uint8))
    return np.stack(out)


def test_block_max_difference_sees_a_moved_edge_the_mean_misses():
    a = np.full((1, 180, 320), 100, np.uint8)
    b = a.copy()
    b[0, 40:48, 80:88] = 140  # one 8x8 block changed
    assert block_max_difference(a, b)[0] == 40.0
    assert np.abs(a.astype(int) - b).mean() < 0.2


def test_subpixel_pan_is_not_frozen_but_a_noisy_repeat_is():
    rng = np.random.default_rng(3)
    # 0.125 px per 10 fps sample at 320x180 (the detector's size) is a 0.1 px/frame pan of a
    # 640x360 25 fps picture.
    pan = _pan(40, 0.125, rng)
    frozen, _ = frozen_frames(pan, lag=8, limit=4.5)
    assert not frozen.any()
    still = np.repeat(pan[:1], 40, axis=0).astype(np.int16)
    still = np.clip(still + rng.integers(-2, 3, still.shape), 0, 255).astype(np.uint8)  # codec-like refinement noise
    frozen, worst = frozen_frames(still, lag=8, limit=4.5)
    assert frozen.all() and worst.max() <= 4.5
    det = build(["video_freeze"])[0]
    frames = np.concatenate([pan[:20], np.repeat(pan[20:21], 15, axis=0), pan[21:41]])
    events = det.merge(det.detect(_window(frames), ItemInfo(duration_s=20.0, has_video=True, has_audio=False)))
    # Within one sample: next to a freeze, a sub-pixel pan's neighbouring frames look the same too.
    assert len(events) == 1 and abs(events[0].start_s - 2.0) <= 0.11 and abs(events[0].end_s - 3.5) <= 0.11
    assert events[0].details["edge"] is None


def test_freeze_shorter_than_the_minimum_is_dropped_and_one_second_is_found():
    rng = np.random.default_rng(4)
    pan = _pan(60, 1.0, rng)
    det = build(["video_freeze"])[0]
    info = ItemInfo(duration_s=6.0, has_video=True, has_audio=False)
    short = np.concatenate([pan[:20], np.repeat(pan[20:21], 8, axis=0), pan[21:]])  # 0.8 s
    assert det.merge(det.detect(_window(short), info)) == []
    one = np.concatenate([pan[:20], np.repeat(pan[20:21], 10, axis=0), pan[21:]])  # 1.0 s
    assert [(e.start_s, round(e.end_s, 2)) for e in det.merge(det.detect(_window(one), info))] == [(2.0, 3.0)]


def test_edges_head_and_tail():
    assert item_edge(0.0, 1.5, 30.0, 0.5) == "head" and item_edge(28.6, 30.0, 30.0, 0.5) == "tail"
    assert item_edge(10.0, 12.0, 30.0, 0.5) is None
    det = build(["black_frames"])[0]
    frames = np.full((50, 90, 160), 120, np.uint8)
    frames[:12] = 0  # black head (a fade from black) of 1.2 s
    frames[30:42] = 0  # black in the middle
    events = det.merge(det.detect(_window(frames), ItemInfo(duration_s=5.0, has_video=True, has_audio=False)))
    assert [(e.start_s, e.details["edge"]) for e in events] == [(0.0, "head"), (3.0, None)]
    sil = build(["audio_silence"])[0]
    sr = 16000
    x = (0.3 * np.sin(np.arange(5 * sr) / sr * 2 * np.pi * 300)).astype(np.float32)
    x[int(3.8 * sr):] = 0.0  # silent tail, 1.2 s: found at the 1 s default, marked tail
    w = Window("x", 0, 5, audio={"audio_16000hz_mono": AudioSamples(0.0, sr, x[None, :])})
    (event,) = sil.merge(sil.detect(w, ItemInfo(duration_s=5.0, has_video=False, has_audio=True)))
    assert event.details["edge"] == "tail" and abs(event.start_s - 3.8) < 0.03


def test_real_sources_split_share_no_file():
    for kind in real.KINDS:
        train, bench = set(real.split_files(kind, "train")), set(real.split_files(kind, "bench"))
        assert not train & bench
        assert train | bench == set(real.find(kind)) | set(real.find_train_only(kind))
        if len(real.find(kind)) >= 3:
            assert train and bench


def test_train_only_sources_never_reach_a_bench_and_leave_its_files_as_they_were():
    """The train-only packages' files are train's; the bench files are every third of the ranked
    files of PACKAGES alone, the same whether the train-only packages are installed or not."""
    for kind in real.KINDS:
        extra = set(real.find_train_only(kind))
        assert extra <= set(real.split_files(kind, "train"))
        assert not extra & set(real.split_files(kind, "bench"))
        ranked = sorted(real.find(kind), key=real._hash)
        assert set(real.split_files(kind, "bench")) == set(ranked[::3])


def test_loudness_of_a_full_scale_sine():
    sr = 48000
    t = np.arange(10 * sr) / sr
    tone = np.stack([np.sin(2 * np.pi * 997 * t)] * 2).astype(np.float32) * 0.1  # -20 dBFS per channel
    # BS.1770: a full-scale 997 Hz sine in one channel reads -3.01 LUFS; at -20 dB in both, -20.0.
    assert abs(real.loudness_lufs(tone, sr) - (-20.0)) < 0.3


@needs_photo
def test_real_photo_with_a_very_slow_pan_scans_to_no_finding(ray_local, tmp_path):
    from rayqa.pipeline import run_scan
    from rayqa.synth import encode

    photo = next(p for p in real.find("photo") if "/wallpapers/" in str(p))
    rng = np.random.default_rng(6)
    sr = 48000
    t = np.arange(10 * sr) / sr
    # Programme sound: a soft chord balanced differently left and right with a little noise (real
    # stereo, not dual mono), at the -23 LUFS target: the picture is what is under test, and the
    # default scan's audio checks must have nothing to say either.
    chord = [np.sin(2 * np.pi * f * t) for f in (220, 330, 440)]
    stereo = np.stack([0.10 * chord[0] + 0.05 * chord[1] + 0.02 * chord[2] + 0.01 * rng.standard_normal(len(t)),
                       0.04 * chord[0] + 0.09 * chord[1] + 0.05 * chord[2] + 0.01 * rng.standard_normal(len(t))])
    stereo *= 10 ** ((-23.0 - real.loudness_lufs(stereo, sr)) / 20)
    frames = real.camera_move(real.load_photo(str(photo)), 250, 640, 360, 0.1, rng)
    clip = encode(tmp_path / "slow_pan.mp4", frames, 25, 640, 360, stereo.astype(np.float32), sr)
    manifest = write_manifest(tmp_path / "m.csv", [{"item_id": "slow_pan", "uri": str(clip)}])
    run_scan(manifest, tmp_path / "out")
    findings = pd.read_parquet(tmp_path / "out" / "findings")
    items = pd.read_parquet(tmp_path / "out" / "items")
    assert items.loc[0, "status"] == "ok" and items.loc[0, "duration_s"] == pytest.approx(10.0, abs=0.1)
    assert findings.empty, findings[["defect", "start_s", "end_s", "details"]].to_dict("records")
    # The same photo frozen for 2 s in the middle of the pan is found (the test can fail).
    frames = list(real.camera_move(real.load_photo(str(photo)), 250, 640, 360, 0.1, np.random.default_rng(6)))
    frames[100:150] = [frames[100]] * 50
    clip2 = encode(tmp_path / "frozen.mp4", frames, 25, 640, 360, stereo.astype(np.float32), sr)
    manifest2 = write_manifest(tmp_path / "m2.csv", [{"item_id": "frozen", "uri": str(clip2)}])
    run_scan(manifest2, tmp_path / "out2", detectors=["video_freeze"])
    f2 = pd.read_parquet(tmp_path / "out2" / "findings")
    assert list(f2["defect"]) == ["video_freeze"]
    assert abs(f2.loc[0, "start_s"] - 4.0) <= 0.2 and abs(f2.loc[0, "end_s"] - 6.0) <= 0.2
    assert json.loads(f2.loc[0, "details"])["edge"] is None


@pytest.mark.skipif(bool(real.missing(("photo", "music", "voice", "ambience"))),
                    reason="real music/voice packages not installed: `make real-media`")
def test_simulate_item_from_real_sources(tmp_path):
    from rayqa.simulate.dataset import SimConfig, make_item

    cfg = SimConfig(duration_s=6.0, width=160, height=90, sources="real", split="heldout")
    cfg.check()
    row = make_item("r0", "black_frames", 7, tmp_path, cfg)
    (label,) = json.loads(row["labels"])
    assert label["defect"] == "black_frames" and 0 < label["start_s"] < label["end_s"] < 6.0
    details = json.loads(label["details"])
    assert details["video_source"]["kind"] == "real"
    used = [s["source"] for s in details["video_source"]["shots"]]
    bench = {str(p) for p in real.split_files("photo", "bench")} | {str(p) for p in real.split_files("footage", "bench")} | {"plain"}
    assert set(used) <= bench  # heldout draws only the bench files
    assert (tmp_path / "media" / "r0.mp4").stat().st_size > 0
