"""The audio taxonomy detectors (clipping, loudness, channel faults, DC offset, test tone) on
synthetic signals cut into windows the way the scan cuts them: pure functions and detector
classes, no Ray, no media. Real encoded media: tests/test_audio_taxonomy_scan.py."""

import json
import math
import random

import numpy as np
import pytest

from rayqa.detectors import REGISTRY, parse_names
from rayqa.detectors.audio_channel_fault import AudioChannelFault, block_stats
from rayqa.detectors.audio_clipping import AudioClipping, clip_runs
from rayqa.detectors.dc_offset import DcOffset
from rayqa.detectors.loudness_out_of_range import (PROFILES, LoudnessOutOfRange, channel_weights, sub_block_energy,
                                                   true_peak)
from rayqa.detectors.test_tone import TestTone
from rayqa.types import AudioSamples, Hit, ItemInfo, Window

SR = 48000
TOL_S = 0.2
AUDIO_DETECTORS = (AudioClipping, LoudnessOutOfRange, AudioChannelFault, DcOffset, TestTone)


# -- signals ------------------------------------------------------------------------------------

def t_axis(dur):
    return np.arange(int(round(dur * SR))) / SR


def sine(db, dur, f=1000.0, channels=2, phase=0.0):
    """A sine whose peak is at ``db`` dBFS on every channel."""
    return np.tile(10 ** (db / 20) * np.sin(2 * np.pi * f * t_axis(dur) + phase), (channels, 1))


def programme(dur, seed=0, level=0.1, channels=2):
    """Music-like stereo: a few notes with harmonics and decaying envelopes, over noise, the
    channels related but not equal."""
    rng = np.random.default_rng(seed)
    n = int(round(dur * SR))
    x = np.zeros((2, n))
    for start in np.arange(0, dur, 0.25):
        f0 = rng.choice([110, 147, 196, 262, 330, 392, 523])
        a = int(start * SR)
        tt = np.arange(min(n, a + SR) - a) / SR  # each note rings for 1 s, decaying
        note = sum(0.6 ** h * np.sin(2 * np.pi * f0 * (h + 1) * tt) for h in range(5)) * np.exp(-tt * 4)
        pan = rng.uniform(0.2, 0.8)
        x[0, a : a + len(tt)] += (1 - pan) * note
        x[1, a : a + len(tt)] += pan * note
    x += 0.05 * rng.standard_normal(x.shape)
    x *= level / np.sqrt(np.mean(x ** 2))
    return x if channels == 2 else np.vstack([x, x[:1] * 0.5, x[:1] * 0.1, x * 0.3][: channels])[:channels]


def instrument_note(dur, f0=440.0, level=0.3):
    """A held instrument-like note: harmonics, 5.5 Hz vibrato, attack and a slow swell."""
    t = t_axis(dur)
    inst_f = f0 * (1 + 0.006 * np.sin(2 * np.pi * 5.5 * t))
    phase = 2 * np.pi * np.cumsum(inst_f) / SR
    note = sum(a * np.sin((h + 1) * phase) for h, a in enumerate([1.0, 0.5, 0.3, 0.2, 0.1]))
    env = np.minimum(1.0, t / 0.08) * (0.8 + 0.2 * np.sin(2 * np.pi * 0.7 * t))
    x = level * note * env / np.abs(note).max()
    return np.stack([x, x * 0.9])


def windows(x, win_s=8.0, start_s=0.0):
    step = int(round(win_s * SR))
    out = []
    for a in range(0, x.shape[1], step):
        seg = x[:, a : a + step].astype(np.float32)
        t0 = start_s + a / SR
        w = Window("item", t0, t0 + seg.shape[1] / SR)
        w.audio["audio_48000hz_multi"] = AudioSamples(t0, SR, seg)
        out.append(w)
    return out


def info_for(x):
    return ItemInfo(duration_s=x.shape[1] / SR, has_video=False, has_audio=True, audio_sample_rate=SR,
                    audio_channels=x.shape[0])


def raw_hits(det, x, win_s=8.0, shuffle=False):
    ws = windows(x, win_s)
    if shuffle:  # windows come back from parallel tasks in any order
        random.Random(3).shuffle(ws)
    info = info_for(x)
    hits = []
    for w, hs in zip(ws, det([(w, info) for w in ws])):
        # through JSON, as hits travel from the workers to the driver
        hits.extend(Hit.from_json(json.loads(json.dumps(h.to_json()))) for h in hs)
    return hits


def events(det, x, **kw):
    return det.merge(raw_hits(det, x, **kw))


# -- registry -----------------------------------------------------------------------------------

def test_audio_detectors_are_registered_and_run_by_default():
    default = parse_names(None)
    for cls in AUDIO_DETECTORS:
        assert REGISTRY[cls.name] is cls and cls.name in default and not cls.experimental
        assert cls.defects == (cls.name,)
        assert cls.audio.sample_rate == 48000 and not cls.audio.mono  # one shared native-rate decode
    assert [c.name for c in LoudnessOutOfRange.item_columns] == ["loudness_lufs", "loudness_range_lu", "true_peak_dbtp"]
    assert {c.type for c in LoudnessOutOfRange.item_columns} == {"float64"}


def test_detector_modules_import_no_ray_or_decoding():
    import sys

    for cls in AUDIO_DETECTORS:
        source = open(sys.modules[cls.__module__].__file__).read()
        for banned in ("import ray", "import av", "fastapi", "mlflow", "rayqa.media"):
            assert banned not in source, (cls.name, banned)


# -- loudness -----------------------------------------------------------------------------------

def loudness(x, **params):
    det = LoudnessOutOfRange(**params)
    hits = raw_hits(det, x, shuffle=True)
    return det.summarise(hits), det.merge(hits)


def test_tech3341_stereo_sine_at_minus_23_dbfs_is_minus_23_lufs():
    cols, findings = loudness(sine(-23, 20))
    assert cols["loudness_lufs"] == pytest.approx(-23.0, abs=0.1)
    assert cols["true_peak_dbtp"] == pytest.approx(-23.0, abs=0.1)
    assert findings == []  # at the EBU R128 target


def test_tech3341_gating_case_minus_36_minus_23_minus_36():
    x = np.concatenate([sine(-36, 10), sine(-23, 60), sine(-36, 10)], axis=1)
    cols, findings = loudness(x)
    assert cols["loudness_lufs"] == pytest.approx(-23.0, abs=0.1)
    assert findings == []


@pytest.mark.parametrize("second_db,lra", [(-30, 10.0), (-15, 5.0)])
def test_tech3342_loudness_range(second_db, lra):
    x = np.concatenate([sine(-20, 20), sine(second_db, 20)], axis=1)
    cols, _ = loudness(x)
    assert cols["loudness_range_lu"] == pytest.approx(lra, abs=1.0)


def test_streamed_integrated_loudness_matches_pyloudnorm_on_the_whole_signal():
    import pyloudnorm

    x = np.concatenate([programme(25, seed=1, level=0.08), 0.2 * programme(10, seed=2, level=0.08),
                        np.zeros((2, 3 * SR)), programme(17, seed=4, level=0.05)], axis=1)
    want = pyloudnorm.Meter(SR).integrated_loudness(x.T)
    for win_s in (8.0, 4.0):
        det = LoudnessOutOfRange()
        cols = det.summarise(raw_hits(det, x, win_s=win_s, shuffle=True))
        assert cols["loudness_lufs"] == pytest.approx(want, abs=0.1)
    assert cols["loudness_range_lu"] == pytest.approx(pyloudnorm.Meter(SR).loudness_range(x.T), abs=1.0)


def test_surround_weights_and_lfe_excluded():
    import pyloudnorm

    five = programme(12, seed=5, level=0.05, channels=5)
    want = pyloudnorm.Meter(SR).integrated_loudness(five.T)  # L R C Ls Rs, surrounds 1.41
    det = LoudnessOutOfRange()
    assert det.summarise(raw_hits(det, five))["loudness_lufs"] == pytest.approx(want, abs=0.1)
    # 5.1 in FFmpeg's order FL FR FC LFE BL BR: a loud LFE changes nothing
    six = np.vstack([five[:3], 0.9 * np.sin(2 * np.pi * 50 * t_axis(12))[None], five[3:]])
    assert det.summarise(raw_hits(det, six))["loudness_lufs"] == pytest.approx(want, abs=0.1)
    assert channel_weights(6).tolist() == [1.0, 1.0, 1.0, 0.0, 1.41, 1.41]


def test_true_peak_finds_the_inter_sample_peak():
    # fs/4 sine at 45 degrees: every sample at 0.707 of the true peak (+3 dB between samples)
    x = sine(-6, 1, f=SR / 4, phase=math.pi / 4)
    sample_peak_db = 20 * math.log10(np.abs(x).max())
    assert sample_peak_db == pytest.approx(-9.0, abs=0.05)
    assert 20 * math.log10(true_peak(x)) == pytest.approx(-6.0, abs=0.2)
    assert 20 * math.log10(true_peak(sine(-6, 1, f=997))) == pytest.approx(-6.0, abs=0.05)


def test_sub_blocks_sit_on_the_items_grid_whatever_the_window():
    x = programme(2.0, seed=6)
    k0, sums, counts = sub_block_energy(x, SR, 8.05)  # a window starting mid-sub-block
    assert k0 == 80 and counts[0] == int(0.05 * SR) and counts[1] == int(0.1 * SR)
    assert sums.shape == (2, len(counts)) and counts.sum() == x.shape[1]


def test_too_loud_item_is_one_finding_spanning_the_item():
    x = sine(-14, 30)  # -14 LUFS
    cols, findings = loudness(x)
    assert [f.details["limit"] for f in findings] == ["integrated_loudness"]
    f = findings[0]
    assert f.defect == "loudness_out_of_range" and f.start_s == 0.0 and f.end_s == pytest.approx(30.0, abs=1e-6)
    assert f.details["direction"] == "too_loud" and f.details["level_db"] == pytest.approx(-14.0, abs=0.1)
    assert f.details["profile"] == "ebu_r128" and f.details["target_lufs"] == -23.0 and 0.5 < f.score <= 1.0
    assert "sums" not in f.details  # the measurements stay out of the findings
    # the streaming profile accepts it; ATSC's looser tolerance does not help it
    assert loudness(x, profile="streaming_-14")[1] == []
    assert [f.details["limit"] for f in loudness(x, profile="atsc_a85")[1]] == ["integrated_loudness"]


def test_profiles_tolerances_and_overrides():
    x = sine(-25.5, 20)  # -25.5 LUFS: outside EBU's ±1, inside ATSC's -24 ±2
    assert loudness(x)[1][0].details["direction"] == "too_quiet"
    assert loudness(x, profile="atsc_a85")[1] == []
    assert loudness(x, target_lufs=-25.0)[1] == []
    assert loudness(x, tolerance_lu=3.0)[1] == []
    assert set(PROFILES) == {"ebu_r128", "atsc_a85", "streaming_-14", "streaming_-16"}
    with pytest.raises(ValueError):
        LoudnessOutOfRange(profile="loud")


def test_true_peak_over_the_limit_is_its_own_finding():
    x = sine(-23, 20)
    x[:, 10 * SR : 10 * SR + 200] = sine(-0.5, 200 / SR)  # a short burst near full scale
    cols, findings = loudness(x)
    assert cols["true_peak_dbtp"] == pytest.approx(-0.5, abs=0.2)
    assert [f.details["limit"] for f in findings] == ["true_peak"]
    assert findings[0].details["level_db"] == pytest.approx(-0.5, abs=0.2)
    assert loudness(x, max_true_peak_dbtp=0.0)[1] == []


def test_loudness_range_limit_only_when_asked():
    x = np.concatenate([sine(-20, 20), sine(-30, 20)], axis=1)
    assert all(f.details["limit"] != "loudness_range" for f in loudness(x)[1])
    lra = [f for f in loudness(x, max_loudness_range_lu=8.0)[1] if f.details["limit"] == "loudness_range"]
    assert len(lra) == 1 and lra[0].details["level_db"] == pytest.approx(10.0, abs=1.0)


def test_silent_item_has_no_loudness():
    cols, findings = loudness(np.zeros((2, 5 * SR)))
    assert findings == [] and cols["loudness_lufs"] is None and cols["true_peak_dbtp"] is None


# -- clipping -----------------------------------------------------------------------------------

def test_clip_runs_bridge_short_dips_per_sign():
    x = np.zeros(100)
    x[10:20] = 1.0
    x[14] = 0.97  # codec ripple inside the plateau
    x[40:43] = -1.0  # too short
    x[60:70] = -1.0
    assert clip_runs(x, 0.99, max_gap=3, min_run=4) == [(10, 20), (60, 70)]
    assert clip_runs(x, 0.99, max_gap=0, min_run=5) == [(15, 20), (60, 70)]


def test_clipped_passage_found_on_its_channel():
    x = programme(12, seed=7, level=0.1)
    seg = slice(4 * SR, 7 * SR)
    x[1, seg] = np.clip(x[1, seg] * 12, -1, 1)
    found = events(AudioClipping(), x)
    assert len(found) == 1
    e = found[0]
    assert e.defect == "audio_clipping" and e.details["channel"] == 1
    assert abs(e.start_s - 4.0) <= TOL_S and abs(e.end_s - 7.0) <= TOL_S
    assert e.details["runs"] >= 10 and e.details["longest_run_samples"] >= 4 and e.details["level_db"] <= 0.0


def test_loud_unclipped_audio_and_one_full_scale_peak_are_not_clipping():
    loud = sine(-0.3, 5, f=100)  # peaks at 0.966 for a long time: loud, not clipped
    assert events(AudioClipping(), loud) == []
    x = programme(6, seed=8)
    x *= 1.0 / np.abs(x).max()  # normalised to 0 dBFS peak: one sample at full scale
    assert events(AudioClipping(), x) == []


# -- DC offset ----------------------------------------------------------------------------------

def test_dc_offset_found_with_its_level_and_channel():
    x = programme(12, seed=9)
    x[0, int(2.5 * SR) : int(6.0 * SR)] += 0.05
    found = events(DcOffset(), x)
    assert len(found) == 1 and found[0].details["channel"] == 0
    assert abs(found[0].start_s - 2.5) <= TOL_S and abs(found[0].end_s - 6.0) <= TOL_S
    assert found[0].details["level_db"] == pytest.approx(-26.0, abs=0.5)


def test_bass_heavy_programme_has_no_dc_offset():
    t = t_axis(10)
    bass = 0.5 * np.sin(2 * np.pi * 41 * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 0.3 * t))
    x = programme(10, seed=10) + bass
    assert events(DcOffset(), x) == []
    x[:, 3 * SR : 3 * SR + int(0.5 * SR)] += 0.05  # too short for min_duration_s
    assert events(DcOffset(), x) == []


# -- test tone ----------------------------------------------------------------------------------

@pytest.mark.parametrize("freq", [1000.0, 440.0])
def test_line_up_tone_in_programme(freq):
    x = programme(14, seed=11)
    a, b = int(5.0 * SR), int(8.5 * SR)
    x[:, a:b] = sine(-18, 3.5, f=freq)
    found = events(TestTone(), x)
    assert len(found) == 1
    e = found[0]
    assert e.defect == "test_tone" and abs(e.start_s - 5.0) <= TOL_S and abs(e.end_s - 8.5) <= TOL_S
    assert e.details["frequency_hz"] == pytest.approx(freq, abs=2.0)
    assert e.details["level_db"] == pytest.approx(-21.0, abs=0.5)  # RMS of a -18 dBFS-peak sine
    assert e.details["channels"] == [0, 1]


def test_tone_cut_by_a_window_edge_still_counts():
    x = programme(16, seed=12)
    x[:, int(7.4 * SR) : int(7.4 * SR) + int(1.3 * SR)] = sine(-20, 1.3, f=1000)
    found = events(TestTone(), x)
    assert len(found) == 1 and abs(found[0].start_s - 7.4) <= TOL_S and abs(found[0].end_s - 8.7) <= TOL_S
    x = programme(16, seed=12)
    x[:, int(7.7 * SR) : int(7.7 * SR) + int(0.6 * SR)] = sine(-20, 0.6, f=1000)  # shorter than min_duration_s
    assert events(TestTone(), x) == []


def test_held_instrument_note_is_not_a_test_tone():
    for f0 in (440.0, 1000.0, 262.0):
        x = programme(12, seed=13)
        x[:, 3 * SR : 9 * SR] = instrument_note(6, f0=f0)
        assert events(TestTone(), x) == [], f0
    # one pure partial with vibrato is still not steady
    t = t_axis(4)
    vib = np.sin(2 * np.pi * np.cumsum(440 * (1 + 0.004 * np.sin(2 * np.pi * 5 * t))) / SR)
    assert events(TestTone(), np.stack([0.3 * vib, 0.3 * vib])) == []
    assert events(TestTone(), programme(12, seed=14)) == []


# -- channel faults -----------------------------------------------------------------------------

def faults(x, **params):
    return [(e.details["kind"], e.details["channels"], e.start_s, e.end_s, e)
            for e in events(AudioChannelFault(**params), x)]


def test_clean_stereo_has_no_channel_fault():
    assert faults(programme(12, seed=15)) == []


def test_dead_channel():
    x = programme(12, seed=16)
    x[0, 3 * SR : 8 * SR] = 0.0
    (kind, ch, a, b, e), = faults(x)
    assert kind == "dead_channel" and ch == [0] and abs(a - 3.0) <= TOL_S and abs(b - 8.0) <= TOL_S
    assert e.details["channel_names"] == ["L"]


def test_phase_inverted_pair():
    x = programme(12, seed=17)
    x[1, 2 * SR : 9 * SR] = -x[0, 2 * SR : 9 * SR]
    (kind, ch, a, b, e), = faults(x)
    assert kind == "phase_inverted" and ch == [0, 1] and abs(a - 2.0) <= TOL_S and abs(b - 9.0) <= TOL_S
    assert e.details["correlation"] < -0.95


def test_dual_mono_low_severity_and_switchable():
    x = programme(20, seed=18)
    x[1, 2 * SR :] = x[0, 2 * SR :]  # mono from 2 s on: 0.9 of the programme
    (kind, ch, a, b, e), = faults(x)
    assert kind == "dual_mono" and abs(a - 2.0) <= TOL_S and abs(b - 20.0) <= TOL_S
    assert e.details["severity"] == "low" and e.details["bit_identical"] and e.score < 0.5
    assert abs(e.details["share"] - 0.9) <= 0.03
    assert faults(x, report_dual_mono=False) == []
    pauses = x.copy()
    for a in (5.0, 9.0, 12.5):  # pauses in a mono programme do not break it up
        pauses[:, int(a * SR) : int((a + 0.8) * SR)] = 0.0
    (kind, ch, a, b, e), = faults(pauses)
    assert kind == "dual_mono" and abs(a - 2.0) <= TOL_S and abs(b - 20.0) <= TOL_S


def test_mono_stretches_in_stereo_programme_are_not_dual_mono():
    """Centred mono dialogue over a mono bed is near-identical for a while; that is stereo
    programme, not mono presented as stereo: only a pair mono for most of its programme is."""
    x = programme(30, seed=22)
    for a, b in ((3, 9), (14, 20)):  # 12 of 30 s mono
        x[1, a * SR : b * SR] = x[0, a * SR : b * SR]
    assert faults(x) == []
    (kind, ch, a, b, e), = faults(x, dual_mono_min_share=0.3)
    assert kind == "dual_mono" and abs(a - 3.0) <= TOL_S and abs(b - 20.0) <= TOL_S
    assert abs(e.details["share"] - 0.4) <= 0.03
    assert [k for k, *_ in faults(x, dual_mono_min_share=0.3, dual_mono_min_duration_s=7.0)] == []


def test_a_last_window_shorter_than_a_second_is_judged_not_a_crash():
    """An item's last window can be a fraction of a second (here 0.45 s after 16 s): the dual-mono
    smoothing spans a second, and once failed the whole item with a shape mismatch."""
    x = programme(16.45, seed=20)
    x[1, 1 * SR :] = x[0, 1 * SR :]
    (kind, ch, a, b, e), = faults(x)
    assert kind == "dual_mono" and abs(a - 1.0) <= TOL_S and abs(b - 16.45) <= TOL_S
    tail = programme(0.45, seed=21)
    assert faults(tail) == []


def test_surround_lfe_full_band_is_swapped_and_silent_centre_is_dead():
    five = programme(10, seed=20, channels=5)
    lfe = 0.3 * np.sin(2 * np.pi * 45 * t_axis(10))[None]
    six = np.vstack([five[:3], lfe, five[3:]])
    assert faults(six) == []  # a proper LFE
    swapped = six.copy()
    swapped[[2, 3]] = swapped[[3, 2]]  # centre and LFE swapped
    kinds = {(k, tuple(ch)) for k, ch, *_ in faults(swapped)}
    assert ("swapped", (3,)) in kinds
    silent_c = six.copy()
    silent_c[2] = 0.0
    (kind, ch, a, b, e), = faults(silent_c)
    assert kind == "dead_channel" and ch == [2] and "centre" in e.details["hint"]


def test_block_stats_correlation_and_residual():
    x = programme(2, seed=21)
    st = block_stats(np.stack([x[0], x[0]]), SR)
    assert np.allclose(st["corr"], 1.0) and (st["residual_db"] < -200).all()
    st = block_stats(np.stack([x[0], -x[0]]), SR)
    assert np.allclose(st["corr"], -1.0)


# -- real recorded music (Debian's asc-music, if installed) -------------------------------------

ASC_MUSIC = sorted(__import__("glob").glob("/usr/share/games/asc/music/*.mp3"))


@pytest.mark.skipif(not ASC_MUSIC, reason="apt-get install asc-music for real recorded music")
@pytest.mark.parametrize("path", ASC_MUSIC)
def test_real_music_has_no_tone_dc_or_channel_fault(path):
    """Game music (22 kHz MP3, decoded at 48 kHz): held notes, bass and wide stereo, none of
    which is a test tone, a DC offset or a channel fault."""
    from rayqa import media

    info = media.probe(path)
    spans = media.plan_windows(info, 8.0)[:8]  # the first 64 s
    ws = media.decode_windows(path, info, spans, [], [TestTone.audio])
    for cls in (TestTone, DcOffset, AudioChannelFault):
        det = cls()
        hits = [h for w in ws for h in det.detect(w, info)]
        assert det.merge(hits) == [], (cls.name, path)
