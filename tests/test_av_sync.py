"""The AV-sync detector on real encoded media (H.264/AAC written with PyAV): a real scan for the
verdicts and findings, unit-level calls for fragments, cuts, the SyncNet loader and the item verdict.

Content with a causal tie comes from rayqa.simulate.avtied (a flash with its beep, a ball with its
thud); shifts from rayqa.simulate.audio.shift_audio (positive: sound late)."""

import json

import numpy as np
import pandas as pd
import pytest

from conftest import REPO, write_manifest
from rayqa.loading import load_detector
from rayqa import media
from rayqa.detectors.av_sync import AvSync
from rayqa.types import Hit
from rayqa.simulate.audio import shift_audio
from rayqa.simulate.avtied import tied_scene, untied_scene
from rayqa.synth import ClipSpec, encode, write_clip

FRAME_MS = 40.0  # one frame at 25 fps
MODEL_DIR = REPO / "models" / "av_sync"


def _tied(path, kind, offset_ms=0.0, seed=3, duration_s=12.0):
    frames, audio, info = tied_scene(kind, duration_s, 25, 320, 180, 48000, 2, np.random.default_rng(seed))
    if offset_ms:
        audio, _ = shift_audio(audio, 48000, offset_ms)
    return encode(path, frames, 25, 320, 180, audio, 48000)


@pytest.fixture(scope="module")
def av_media(tmp_path_factory):
    d = tmp_path_factory.mktemp("avsync")
    frames, audio, _ = untied_scene("landscape_music", 12.0, 25, 320, 180, 48000, 2, np.random.default_rng(5))
    return {
        "synced": _tied(d / "synced.mp4", "flash_beep"),
        "late200": _tied(d / "late200.mp4", "flash_beep", 200.0),
        "early200": _tied(d / "early200.mp4", "impact", -200.0, seed=4),
        "plain": write_clip(d / "plain.mp4", ClipSpec(duration_s=8)),  # a sliding box over a steady tone
        "untied": encode(d / "untied.mp4", frames, 25, 320, 180, audio, 48000),
        "short": _tied(d / "short.mp4", "flash_beep", duration_s=1.5),
        "audio_only": write_clip(d / "audio_only.mp4", ClipSpec(duration_s=8, video=False)),
        "video_only": write_clip(d / "video_only.mp4", ClipSpec(duration_s=8, audio=False)),
    }


@pytest.fixture(scope="module")
def scan(ray_local, av_media, tmp_path_factory):
    from rayqa.pipeline import run_scan

    folder = tmp_path_factory.mktemp("avscan")
    manifest = write_manifest(folder / "manifest.csv", [{"item_id": k, "uri": str(v)} for k, v in av_media.items()])
    run_scan(manifest, folder / "out", detectors="av_sync")
    items = pd.read_parquet(folder / "out" / "items").set_index("item_id")
    findings = pd.read_parquet(folder / "out" / "findings")
    return items, findings


@pytest.fixture(scope="module")
def detector():
    d = AvSync()
    load_detector(d, MODEL_DIR)
    return d


def _hits(detector, path):
    info = media.probe(str(path))
    windows = media.decode_windows(str(path), info, media.plan_windows(info, 8.0), [detector.video], [detector.audio])
    return [h for w in windows for h in detector.detect(w, info)]


# -- through a real scan ---------------------------------------------------------------------------
def test_synced_clip_is_in_sync(scan):
    items, findings = scan
    row = items.loc["synced"]
    assert row["status"] == "ok" and row["av_sync_verdict"] == "in_sync"
    assert abs(row["av_offset_ms"]) <= FRAME_MS
    assert findings[findings["item_id"] == "synced"].empty


def test_sound_200ms_late_is_out_of_sync_within_a_frame(scan):
    items, findings = scan
    row = items.loc["late200"]
    assert row["av_sync_verdict"] == "out_of_sync"
    assert abs(row["av_offset_ms"] - 200.0) <= FRAME_MS  # positive: the sound comes late
    f = findings[findings["item_id"] == "late200"]
    assert set(f["defect"]) == {"av_sync"} and set(f["detector"]) == {"av_sync"}
    details = json.loads(f.iloc[0]["details"])
    assert abs(details["offset_ms"] - 200.0) <= FRAME_MS
    assert details["scorer"] == ["events"] and details["face_tracks"] == 0
    assert all(fr["verdict"] == "out_of_sync" for fr in details["fragments"])
    assert f.iloc[0]["model"] == "rayqa-av_sync" and f.iloc[0]["model_version"] == "1"
    assert 0.0 < f.iloc[0]["score"] <= 1.0


def test_sound_200ms_early_has_a_negative_offset(scan):
    items, _ = scan
    row = items.loc["early200"]
    assert row["av_sync_verdict"] == "out_of_sync"
    assert abs(row["av_offset_ms"] + 200.0) <= FRAME_MS


@pytest.mark.parametrize("item_id", ["plain", "untied", "short"])
def test_no_face_and_no_tied_events_is_inconclusive(scan, item_id):
    items, findings = scan
    row = items.loc[item_id]
    assert row["status"] == "ok" and row["av_sync_verdict"] == "inconclusive"
    assert pd.isna(row["av_offset_ms"])
    assert findings[findings["item_id"] == item_id].empty


@pytest.mark.parametrize("item_id", ["audio_only", "video_only"])
def test_one_stream_only_is_not_judged(scan, item_id):
    items, _ = scan
    row = items.loc[item_id]
    assert row["status"] == "ok" and pd.isna(row["av_sync_verdict"]) and pd.isna(row["av_offset_ms"])


# -- fragments and cuts ----------------------------------------------------------------------------
def test_a_cut_inside_a_fragment_splits_it(detector, tmp_path):
    """Two shots (a ball, then a flash pattern) with a hard cut at 2.6 s, inside the first 4 s fragment."""
    fa, aa, _ = tied_scene("impact", 6.0, 25, 320, 180, 48000, 1, np.random.default_rng(1))
    fb, ab, _ = tied_scene("flash_beep", 6.0, 25, 320, 180, 48000, 1, np.random.default_rng(2))
    cut = 65  # frame 65 = 2.6 s
    frames = np.concatenate([fa[:cut], fb[cut:]])
    audio = np.concatenate([aa[:, : cut * 48000 // 25], ab[:, cut * 48000 // 25:]], axis=1)
    hits = _hits(detector, encode(tmp_path / "cut.mp4", frames, 25, 320, 180, audio, 48000))
    spans = sorted((round(h.start_s, 3), round(h.end_s, 3)) for h in hits)
    assert spans == [(0.0, 2.6), (2.6, 4.0), (4.0, 6.0)]
    assert not any(h.start_s < 2.6 < h.end_s for h in hits)  # no fragment straddles the cut
    first, second = sorted(hits, key=lambda h: h.start_s)[:2]
    assert first.details["cut_after"] and second.details["cut_before"]
    assert {h.details["verdict"] for h in hits} <= {"in_sync", "inconclusive"}


def test_fragment_grid_and_short_pieces(detector):
    times = np.arange(200) / 25.0
    assert detector.fragments(times, [], 0.0, 8.0) == [(0.0, 4.0, 0, 100), (4.0, 8.0, 100, 200)]
    frags = detector.fragments(times, [20, 110], 0.0, 8.0)
    assert [(a, b) for a, b, _, _ in frags] == [(0.0, 0.8), (0.8, 4.0), (4.0, 4.4), (4.4, 8.0)]
    # a piece shorter than min_fragment_s (1 s) is inconclusive, never judged
    frames = np.zeros((20, 180, 320, 3), np.uint8)
    hit = detector.judge_fragment(0.0, 0.8, times[:20], frames, np.zeros(16000 * 8, np.float32), 0.0, 16000)
    assert hit.details["verdict"] == "inconclusive" and "shorter" in hit.details["reason"]


def test_fragment_length_must_divide_the_window(tmp_path):
    from rayqa.config import ConfigError, ScanConfig
    from rayqa.pipeline import run_scan

    cfg = ScanConfig().merged({"detectors": {"av_sync": {"fragment_s": 3.0}}})
    manifest = write_manifest(tmp_path / "m.csv", [{"item_id": "a", "uri": str(tmp_path / "a.mp4")}])
    with pytest.raises(ConfigError, match="av_sync"):
        run_scan(manifest, tmp_path / "out", detectors="av_sync", config=cfg)
    with pytest.raises(ValueError, match="fragment_s"):
        AvSync(fragment_s=0)


_TRANSNET_CHECK = """
import numpy as np
from rayqa.avsync.shots import shot_starts
from rayqa.simulate.avtied import tied_scene, untied_scene
fa, _, _ = tied_scene("impact", 2.4, 25, 320, 180, 48000, 1, np.random.default_rng(1))
fb, _, _ = untied_scene("landscape_music", 2.4, 25, 320, 180, 48000, 1, np.random.default_rng(2))
frames = np.concatenate([fa[:40], fb[:40]])
assert shot_starts(frames, "transnetv2") == [40], shot_starts(frames, "transnetv2")
assert shot_starts(frames, "histogram") == [40]
assert shot_starts(fa, "transnetv2") == [] and shot_starts(fa, "histogram") == []
print("cuts ok")
"""


def test_transnetv2_finds_a_hard_cut():
    """In a process of its own, as in a detector actor: in this test process, after another test
    has encoded and decoded video in-process, TransNetV2's forward pass on CPU has segfaulted
    (native-library state shared with the media libraries; not seen in actors, see the notes)."""
    import subprocess
    import sys

    res = subprocess.run([sys.executable, "-c", _TRANSNET_CHECK], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0 and "cuts ok" in res.stdout, res.stderr[-3000:]


# -- item verdict and findings ---------------------------------------------------------------------
def _frag(start, verdict, offset):
    return Hit("av_sync", start, start + 4.0, 0.9 if verdict != "inconclusive" else 0.0,
               {"verdict": verdict, "offset_ms": offset, "scorer": "events", "face_tracks": 0, "confidence": 9.0})


def test_item_verdict_aggregates_fragments(detector):
    assert detector.summarise([]) == {}  # the detector never saw the item: columns stay null
    assert detector.summarise([_frag(0, "inconclusive", None)]) == {"av_sync_verdict": "inconclusive", "av_offset_ms": None}
    hits = [_frag(0, "out_of_sync", 200.0), _frag(4, "out_of_sync", 210.0), _frag(8, "in_sync", 5.0), _frag(12, "inconclusive", None)]
    assert detector.summarise(hits) == {"av_sync_verdict": "out_of_sync", "av_offset_ms": 205.0}
    tie = [_frag(0, "out_of_sync", -200.0), _frag(4, "in_sync", 0.0)]
    assert detector.summarise(tie)["av_sync_verdict"] == "inconclusive"
    events = detector.merge(hits)
    assert len(events) == 1 and (events[0].start_s, events[0].end_s) == (0.0, 8.0)
    assert events[0].details["offset_ms"] == 205.0 and len(events[0].details["fragments"]) == 2
    # fragments that disagree by more than a frame stay separate findings
    assert len(detector.merge([_frag(0, "out_of_sync", 200.0), _frag(4, "out_of_sync", 400.0)])) == 2


def test_tolerances_follow_itu_detectability(detector):
    """Sound 80 ms late is within ITU-R BT.1359's 125 ms; 80 ms early is beyond its 45 ms."""
    frames, audio, _ = tied_scene("flash_beep", 8.0, 25, 320, 180, 16000, 1, np.random.default_rng(7))
    times = np.arange(100, 200) / 25.0  # the second fragment: the shift's silent gap is at the ends
    late, _ = shift_audio(audio, 16000, 80.0)
    early, _ = shift_audio(audio, 16000, -80.0)
    h_late = detector.judge_fragment(4.0, 8.0, times, frames[100:], late[0], 0.0, 16000)
    h_early = detector.judge_fragment(4.0, 8.0, times, frames[100:], early[0], 0.0, 16000)
    assert h_late.details["scorer"] == "events", h_late.details
    assert h_late.details["verdict"] == "in_sync" and abs(h_late.details["offset_ms"] - 80) <= FRAME_MS / 2
    assert h_early.details["verdict"] == "out_of_sync" and abs(h_early.details["offset_ms"] + 80) <= FRAME_MS / 2


# -- faces -----------------------------------------------------------------------------------------
def test_face_tracks_link_by_iou_and_fill_gaps():
    from rayqa.avsync.faces import track_faces

    a = lambda k: np.array([[50.0 + k, 40.0, 60.0, 60.0]])  # noqa: E731 - a face drifting right
    b = np.array([[220.0, 60.0, 40.0, 40.0]])
    dets = {k: np.concatenate([a(k), b]) if k < 20 else a(k) for k in range(0, 40, 2)}
    tracks = track_faces(dets, 40, min_frames=10)
    assert len(tracks) == 2
    long_track = max(tracks, key=lambda t: len(t.frames))
    assert list(long_track.frames) == list(range(0, 39))  # odd frames interpolated
    assert abs(long_track.boxes[10, 0] - 60.0) < 1.0


def test_mouth_motion_scorer_recovers_a_known_lag():
    """The built-in face scorer's arithmetic: a mouth that moves with syllable onsets, 3 frames late."""
    from rayqa.avsync.lipsync import score_mouth

    rng = np.random.default_rng(0)
    sr, fps, n = 16000, 25.0, 100
    t = np.arange(int(4.0 * sr)) / sr
    syll = np.zeros(t.size)
    starts = np.cumsum(rng.uniform(0.12, 0.3, 40))
    for s in starts[starts < 3.8]:
        syll[(t >= s) & (t < s + 0.08)] = 1.0
    audio = (syll * np.sin(2 * np.pi * 400 * t) * 0.5 + 0.001 * rng.standard_normal(t.size)).astype(np.float32)
    frame_t = np.arange(n) / fps
    # mouth opening follows the audio, shown 3 frames *earlier* → the sound is 120 ms late
    opening = np.interp(frame_t + 0.12, t, np.convolve(syll, np.ones(400) / 400, "same"))
    crops = np.stack([np.full((16, 32), 100.0) + 80 * o * (np.arange(16)[:, None] > 8) for o in opening])
    s = score_mouth(frame_t, crops, audio, 0.0, sr, fps, 15)
    assert s is not None and abs(s.offset_s * 1000 - 120.0) <= FRAME_MS / 2 + 1e-6 and not s.tie


# -- SyncNet ---------------------------------------------------------------------------------------
def test_syncnet_loader_accepts_the_original_layout_and_refuses_others(tmp_path):
    import torch

    from rayqa.avsync.syncnet import SyncNetLoadError, build_syncnet, load_syncnet, score_track

    torch.manual_seed(0)
    state = build_syncnet().state_dict()  # random weights in syncnet_v2's layout
    assert "netcnnaud.0.weight" in state and "netfclip.3.bias" in state
    torch.save(state, tmp_path / "syncnet_v2.model")
    net = load_syncnet(tmp_path / "syncnet_v2.model")
    torch.save({f"__S__.{k}": v for k, v in state.items()}, tmp_path / "prefixed.model")
    load_syncnet(tmp_path / "prefixed.model")
    off, conf, dists = score_track(net, np.zeros((20, 224, 224, 3), np.uint8), np.zeros(16000, np.float32), vshift=3)
    assert -3 <= off <= 3 and dists.shape == (7,)

    (tmp_path / "text.model").write_text("not a model")
    with pytest.raises(SyncNetLoadError, match="not a torch state dict"):
        load_syncnet(tmp_path / "text.model")
    wrong = {k: v for k, v in state.items() if not k.startswith("netfclip")}
    torch.save(wrong, tmp_path / "wrong.model")
    with pytest.raises(SyncNetLoadError, match="missing"):
        load_syncnet(tmp_path / "wrong.model")
    torch.save(torch.load(REPO / "models" / "block_corruption" / "weights.pt", weights_only=True), tmp_path / "other.model")
    with pytest.raises(SyncNetLoadError, match="not a syncnet_v2 state dict|holds a"):
        load_syncnet(tmp_path / "other.model")


def test_a_model_folder_with_syncnet_switches_the_face_scorer(tmp_path):
    import shutil

    import torch

    from rayqa.avsync.syncnet import build_syncnet
    from rayqa.registry import RegistryError

    folder = tmp_path / "av_sync_syncnet"
    shutil.copytree(MODEL_DIR, folder)
    meta = json.loads((folder / "model.json").read_text())
    meta["syncnet_weights"] = "syncnet_v2.model"
    (folder / "model.json").write_text(json.dumps(meta))
    torch.save(build_syncnet().state_dict(), folder / "syncnet_v2.model")
    d = AvSync()
    load_detector(d, folder)
    assert d.scorer == "syncnet" and d.describe()["face_scorer"] == "syncnet"
    (folder / "syncnet_v2.model").write_bytes(b"broken")
    with pytest.raises(RegistryError, match="cannot be loaded"):
        load_detector(AvSync(), folder)


def test_models_register_checks_the_folder_loads(tmp_path):
    import shutil

    import torch

    from rayqa.avsync.syncnet import build_syncnet
    from rayqa.cli import main
    from rayqa.registry import ModelRegistry

    folder = tmp_path / "with_syncnet"
    shutil.copytree(MODEL_DIR, folder)
    torch.save(build_syncnet().state_dict(), folder / "syncnet_v2.model")
    d = AvSync()
    load_detector(d, folder)  # syncnet_v2.model beside the shipped model.json is picked up by its name
    assert d.scorer == "syncnet"
    before = {r["version"] for r in ModelRegistry().list() if r["name"] == "rayqa-av_sync"}
    assert main(["models", "register", "av_sync", str(folder)]) == 0  # not promoted: other tests keep v1
    after = {r["version"] for r in ModelRegistry().list() if r["name"] == "rayqa-av_sync"}
    assert len(after - before) == 1
    (folder / "syncnet_v2.model").write_bytes(b"\x00" * 64)
    assert main(["models", "register", "av_sync", str(folder)]) == 2
    assert main(["models", "register", "black_frames", str(folder)]) == 2


def _talking_still(path, offset_ms: float):
    """A still photo of a face (scikit-image's astronaut) whose mouth region darkens with the
    loudness of synthetic speech (espeak-ng). The mouth is driven by the very sound it is scored
    against, so this proves the face path's plumbing (detection, tracks, VAD, mouth scorer), not
    its accuracy on real faces (README)."""
    import cv2
    import skimage.data

    from rayqa.simulate.pristine import audio_scene

    fps, sr, dur = 25, 48000, 8.0
    audio = audio_scene("speech", dur, sr, 1, np.random.default_rng(11), level_dbfs=-6.0)
    face = cv2.resize(skimage.data.astronaut(), (180, 180), interpolation=cv2.INTER_AREA)
    canvas = np.full((180, 320, 3), 40, np.uint8)
    canvas[:, 70:250] = face
    yy, xx = np.mgrid[0:180, 0:320]
    mouth = (((yy - 50) / 3.5) ** 2 + ((xx - 149) / 7.0) ** 2) <= 1.0
    hop = sr // fps
    loud = np.array([np.sqrt(np.mean(audio[0, max(0, i * hop - hop // 2):i * hop + hop // 2] ** 2))
                     for i in range(int(dur * fps))])  # the loudness around each frame instant
    opening = np.clip(loud / (loud.max() + 1e-9) * 1.5, 0, 1)
    rng = np.random.default_rng(0)
    frames = []
    for o in opening:
        img = canvas.astype(np.float32)
        img[mouth] *= 1.0 - 0.8 * o
        frames.append(np.clip(img + rng.normal(0, 1.5, img.shape), 0, 255).astype(np.uint8))
    if offset_ms:
        audio, _ = shift_audio(audio, sr, offset_ms)
    return encode(path, frames, fps, 320, 180, np.repeat(audio, 2, axis=0), sr)


def test_face_path_runs_end_to_end(detector, tmp_path):
    hits = _hits(detector, _talking_still(tmp_path / "talk.mp4", 200.0))
    assert len(hits) == 2
    for h in hits:
        assert h.details["face_tracks"] >= 1 and h.details["speech_s"] >= 1.0, h.details
    judged = [h for h in hits if h.details["verdict"] != "inconclusive"]
    assert judged, [h.details for h in hits]
    for h in judged:
        assert h.details["verdict"] == "out_of_sync" and abs(h.details["offset_ms"] - 200.0) <= FRAME_MS, h.details
    assert "mouth_motion" in {h.details["scorer"] for h in judged}
