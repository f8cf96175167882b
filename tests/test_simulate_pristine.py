"""Pristine sources: right shapes, never black/frozen/silent, deterministic, splits disjoint."""

import shutil

import numpy as np
import pytest

from rayqa.simulate import pristine
from rayqa.simulate.labels import SimulationError
from rayqa.simulate.pristine import (
    AUDIO_KINDS,
    PHOTOS,
    SPLITS,
    VIDEO_KINDS,
    audio_scene,
    iter_pristine_dir,
    load_photo,
    split_sources,
    video_scene,
)

W, H, FPS, DUR = 96, 64, 8, 2.0
SR = 16000
LUMA = np.array([0.299, 0.587, 0.114], np.float32)


def rng(seed=0):
    return np.random.default_rng(seed)


def db(x):
    return 20 * np.log10(max(float(x), 1e-12))


def rms_dbfs(x):
    return db(np.sqrt(np.mean(np.asarray(x, np.float64) ** 2)))


def envelope_db(mono, sr=SR, frame_s=0.02):
    """Frame RMS (dB) of a mono signal in 20 ms frames."""
    m = int(sr * frame_s)
    frames = mono[: len(mono) // m * m].reshape(-1, m).astype(np.float64)
    return 10 * np.log10(np.mean(frames ** 2, axis=1) + 1e-12)


def peak_prominence_db(mono, sr=SR, n_fft=4096):
    """Largest spectral peak above the local median of a Welch-averaged power spectrum (dB),
    above 50 Hz (below, the window's edge and the beds' high-pass skirts dominate)."""
    frames = np.lib.stride_tricks.sliding_window_view(mono.astype(np.float64), n_fft)[:: n_fft // 2]
    power = np.mean(np.abs(np.fft.rfft(frames * np.hanning(n_fft), axis=1)) ** 2, axis=0)
    s = 10 * np.log10(power + 1e-20)
    local = np.median(np.lib.stride_tricks.sliding_window_view(np.pad(s, 32, mode="edge"), 65), axis=1)
    freqs = np.fft.rfftfreq(n_fft, 1 / sr)
    return float(np.max((s - local)[freqs >= 50]))


def require_espeak():
    # The project installs espeak-ng (apt-get install espeak-ng); a missing one is a setup error.
    if shutil.which("espeak-ng") is None:
        pytest.fail("espeak-ng is not installed: the speech source needs it (apt-get install espeak-ng)")


# ------------------------------------------------------------------------------------ video


@pytest.mark.parametrize("split", SPLITS)
@pytest.mark.parametrize("kind", VIDEO_KINDS)
def test_video_kind_shape_motion_and_no_black(kind, split):
    frames = video_scene(kind, DUR, FPS, W, H, rng(1), split=split)
    assert frames.shape == (int(DUR * FPS), H, W, 3)
    assert frames.dtype == np.uint8
    diffs = np.abs(np.diff(frames.astype(np.int16), axis=0)).mean(axis=(1, 2, 3))
    assert diffs.min() > 1.0, f"{kind}: a pair of consecutive frames is (nearly) identical"
    luma = (frames.astype(np.float32) @ LUMA).mean(axis=(1, 2))
    assert luma.min() > 16.0, f"{kind}: a frame is black"
    assert frames.std(axis=(1, 2, 3)).min() > 5.0, f"{kind}: a frame is flat"


def test_video_odd_sizes_and_fractional_fps():
    for kind in VIDEO_KINDS:
        frames = video_scene(kind, 1.0, 23.976, 33, 17, rng(2))
        assert frames.shape == (24, 17, 33, 3)


@pytest.mark.parametrize("name", PHOTOS["train"] + PHOTOS["heldout"])
def test_photos_load_offline_as_rgb(name):
    img = load_photo(name)
    assert img.ndim == 3 and img.shape[2] == 3 and img.dtype == np.uint8
    assert min(img.shape[:2]) >= 256
    assert 40 < (img.astype(np.float32) @ LUMA).mean() < 220  # neither black nor blown out


def test_video_same_seed_same_frames_other_seed_differs():
    for kind in VIDEO_KINDS:
        a = video_scene(kind, 1.0, FPS, W, H, rng(7))
        b = video_scene(kind, 1.0, FPS, W, H, rng(7))
        c = video_scene(kind, 1.0, FPS, W, H, rng(8))
        assert np.array_equal(a, b), kind
        assert not np.array_equal(a, c), kind


def test_video_info_names_the_sources_of_its_split():
    for split in SPLITS:
        sources = split_sources(split)
        for seed in range(12):
            _, info = video_scene("photo_pan_zoom", 0.25, FPS, W, H, rng(seed), split=split, return_info=True)
            assert info["photo"] in sources["photos"]
            _, info = video_scene("shapes", 0.25, FPS, W, H, rng(seed), split=split, return_info=True)
            assert info["palette"] in sources["palettes"]


# ------------------------------------------------------------------------------------ audio


@pytest.mark.parametrize("kind", AUDIO_KINDS)
def test_audio_kind_shape_range_and_level(kind):
    if kind == "speech":
        require_espeak()
    for split in SPLITS:
        x = audio_scene(kind, DUR, SR, 2, rng(3), split=split)
        assert x.shape == (2, int(DUR * SR)) and x.dtype == np.float32
        assert np.all(np.isfinite(x)) and np.abs(x).max() <= 1.0
        assert rms_dbfs(x) > -50.0, f"{kind}: silent"
        lo, hi = pristine.LEVEL_RANGE_DBFS[kind]
        assert lo - 0.01 <= db(np.abs(x).max()) <= hi + 0.01


@pytest.mark.parametrize("kind", AUDIO_KINDS)
def test_audio_level_and_channels(kind):
    if kind == "speech":
        require_espeak()
    for channels in (1, 2, 6):
        x = audio_scene(kind, 1.0, 22050, channels, rng(4), level_dbfs=-3.0)
        assert x.shape == (channels, 22050)
        assert db(np.abs(x).max()) == pytest.approx(-3.0, abs=0.01)
        assert all(rms_dbfs(c) > -60 for c in x), f"{kind}: a dead channel"


def test_speech_has_syllabic_energy_modulation():
    require_espeak()
    x, info = audio_scene("speech", 4.0, SR, 1, rng(5), return_info=True)
    env = envelope_db(x[0])
    # Speech alternates syllables and gaps: a wide spread of frame levels, unlike steady beds/tones.
    assert np.percentile(env, 90) - np.percentile(env, 10) > 15.0
    assert info["voices"] and info["sentences"]
    steady = envelope_db(audio_scene("tone_mix", 4.0, SR, 1, rng(5))[0])
    assert np.percentile(steady, 90) - np.percentile(steady, 10) < 6.0


def test_music_has_tonal_peaks_and_noise_does_not():
    music = audio_scene("music", 4.0, SR, 1, rng(6))[0]
    assert peak_prominence_db(music) > 20.0
    assert peak_prominence_db(audio_scene("tone_mix", 4.0, SR, 1, rng(6))[0]) > 30.0
    for split in SPLITS:  # sanity of the measure: broadband beds have no such peaks
        for seed in range(3):
            bed, info = audio_scene("noise_bed", 4.0, SR, 1, rng(seed), split=split, return_info=True)
            if info["bed"] != "room_tone":  # room tone carries a faint mains hum on purpose
                assert peak_prominence_db(bed[0]) < 15.0, info


@pytest.mark.parametrize("kind", AUDIO_KINDS)
def test_audio_same_seed_same_samples_other_seed_differs(kind):
    if kind == "speech":
        require_espeak()
    a = audio_scene(kind, 1.5, SR, 2, rng(9))
    b = audio_scene(kind, 1.5, SR, 2, rng(9))
    c = audio_scene(kind, 1.5, SR, 2, rng(10))
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


# ------------------------------------------------------------------------------------ splits


def test_train_and_heldout_source_sets_are_disjoint():
    train, heldout = split_sources("train"), split_sources("heldout")
    assert train.keys() == heldout.keys()
    for key in train:
        assert train[key] and heldout[key], key
        assert not set(train[key]) & set(heldout[key]), f"{key} shared between splits"


def test_audio_draws_only_from_its_split():
    for split in SPLITS:
        sources = split_sources(split)
        for seed in range(4):
            _, info = audio_scene("music", 0.5, 8000, 1, rng(seed), split=split, return_info=True)
            assert info["progression"] in sources["progressions"]
            _, info = audio_scene("noise_bed", 0.5, 8000, 1, rng(seed), split=split, return_info=True)
            assert info["bed"] in sources["noise_beds"]
            _, info = audio_scene("tone_mix", 0.5, 8000, 1, rng(seed), split=split, return_info=True)
            assert set(info["tones_hz"]) <= set(sources["tones_hz"])


def test_speech_draws_only_from_its_split():
    require_espeak()
    for split in SPLITS:
        sources = split_sources(split)
        for seed in range(2):
            _, info = audio_scene("speech", 1.0, 8000, 1, rng(seed), split=split, return_info=True)
            for voice in info["voices"]:
                lang, variant = voice.split("+")
                assert lang in sources["voices"] and variant in sources["voice_variants"]
            assert set(info["sentences"]) <= set(sources["sentences"])


# ------------------------------------------------------------------------------------ bad input


@pytest.mark.parametrize("kwargs", [
    {"kind": "cartoon"},
    {"duration_s": 0},
    {"duration_s": -1},
    {"duration_s": float("nan")},
    {"fps": 0},
    {"width": 0},
    {"height": -64},
    {"width": 96.5},
    {"split": "test"},
    {"rng": 42},
    {"duration_s": 0.01},  # under one frame
])
def test_video_bad_parameters(kwargs):
    args = {"kind": "shapes", "duration_s": 1.0, "fps": FPS, "width": W, "height": H, "rng": rng()} | kwargs
    with pytest.raises(SimulationError):
        video_scene(**args)


@pytest.mark.parametrize("kwargs", [
    {"kind": "opera"},
    {"duration_s": 0},
    {"duration_s": -2},
    {"sample_rate": 0},
    {"channels": 0},
    {"level_dbfs": 3.0},
    {"split": "validation"},
    {"rng": None},
])
def test_audio_bad_parameters(kwargs):
    args = {"kind": "tone_mix", "duration_s": 1.0, "sample_rate": SR, "channels": 2, "rng": rng()} | kwargs
    with pytest.raises(SimulationError):
        audio_scene(**args)


# ------------------------------------------------------------------------------------ own folder


def test_iter_pristine_dir_finds_media_sorted(tmp_path):
    for rel in ["b/clip2.MOV", "a.mp4", "b/clip1.mkv", "sound.flac", "notes.txt", ".hidden/x.mp4", "b/._clip1.mkv"]:
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"x")
    found = [p.relative_to(tmp_path).as_posix() for p in iter_pristine_dir(tmp_path)]
    assert found == ["a.mp4", "b/clip1.mkv", "b/clip2.MOV", "sound.flac"]


def test_iter_pristine_dir_missing_empty_or_file(tmp_path):
    with pytest.raises(SimulationError):
        iter_pristine_dir(tmp_path / "nope")
    with pytest.raises(SimulationError):
        iter_pristine_dir(tmp_path)  # empty
    (tmp_path / "readme.txt").write_text("no media here")
    with pytest.raises(SimulationError):
        iter_pristine_dir(tmp_path)
    with pytest.raises(SimulationError):
        iter_pristine_dir(tmp_path / "readme.txt")
