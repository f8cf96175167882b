"""Audio injectors on synthetic signals: each label says what was done, and the audio shows it."""

import json
import math

import numpy as np
import pytest

from rayqa.simulate.audio import (
    add_clicks,
    add_dc_offset,
    add_test_tone,
    integrated_lufs,
    loudness_off_profile,
    master_loudness,
    true_peak_dbtp,
    add_clipping,
    add_distortion,
    add_dropout,
    add_hiss,
    add_hum,
    channel_fault,
    drift_audio,
    peak_dbfs,
    rms_db,
    shift_audio,
)
from rayqa.simulate.labels import SimulationError

SR = 16000


def tone(duration_s=2.0, sr=SR, channels=2, freq=440.0, amplitude=0.5, noise=1e-3, seed=0):
    """A tone plus a low noise bed, the same tone on every channel."""
    t = np.arange(int(duration_s * sr)) / sr
    rng = np.random.default_rng(seed)
    x = amplitude * np.sin(2 * np.pi * freq * t)[None, :] + noise * rng.standard_normal((channels, t.size))
    return x.astype(np.float32)


def noise(duration_s=2.0, sr=SR, channels=2, smooth=1, seed=0):
    """Broadband noise (optionally smoothed): its cross-correlation has one sharp peak."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((channels, int(duration_s * sr)))
    if smooth > 1:
        kernel = np.ones(smooth) / smooth
        x = np.stack([np.convolve(c, kernel, mode="same") for c in x])
    return np.clip(0.2 * x / x.std(), -1, 1).astype(np.float32)


def idx(t_s, sr=SR):
    return int(round(t_s * sr))


def assert_unchanged_outside(clean, dirty, start_s, end_s, sr=SR):
    i0, i1 = idx(start_s, sr), idx(end_s, sr)
    assert np.array_equal(clean[:, :i0], dirty[:, :i0])
    assert np.array_equal(clean[:, i1:], dirty[:, i1:])


def assert_label(labels, defect, start_s, end_s):
    assert len(labels) == 1
    label = labels[0]
    assert (label.defect, label.start_s, label.end_s) == (defect, start_s, end_s)
    json.loads(label.row("item")["details"])  # JSON-able
    return label.details


def amplitude_at(x, freq_hz, sr=SR):
    """Peak amplitude of the ``freq_hz`` component of ``x`` (a whole number of seconds long)."""
    spectrum = np.abs(np.fft.rfft(x.astype(np.float64))) * 2 / x.size
    return spectrum[int(round(freq_hz * x.size / sr))]


def off_tone_ratio(x, freq_hz=440.0, sr=SR):
    """Share of the energy away from the tone's bin (and DC): distortion products plus noise."""
    power = np.abs(np.fft.rfft(x.astype(np.float64))) ** 2
    k = int(round(freq_hz * x.size / sr))
    tone_power = power[k - 2 : k + 3].sum()
    return (power[1:].sum() - tone_power) / power[1:].sum()


def lag_samples(out, ref):
    """The lag at which ``out`` best matches ``ref`` (positive: ``out`` comes later)."""
    n = out.size
    c = np.fft.irfft(np.fft.rfft(out, 2 * n) * np.conj(np.fft.rfft(ref, 2 * n)), 2 * n)
    k = int(np.argmax(c))
    return k - 2 * n if k > n else k


def local_lag(out, ref, center_s, window_s=0.125, max_lag=400, sr=SR):
    """The lag of ``out`` against ``ref`` in a short window around ``center_s``."""
    w = int(window_s * sr)
    i = idx(center_s, sr) - w // 2
    region = ref[i - max_lag : i + w + max_lag].astype(np.float64)
    c = np.correlate(region, out[i : i + w].astype(np.float64), "valid")
    return max_lag - int(np.argmax(c))


# -- levels -----------------------------------------------------------------------------------


def test_levels():
    full = np.sin(2 * np.pi * 100 * np.arange(SR) / SR)
    assert rms_db(full) == pytest.approx(-3.0103, abs=1e-3)
    assert peak_dbfs(full) == pytest.approx(0.0, abs=1e-6)
    assert peak_dbfs(0.1 * full) == pytest.approx(-20.0, abs=1e-6)
    assert rms_db(np.zeros(10)) == -math.inf and peak_dbfs(np.zeros(10)) == -math.inf


# -- clicks -----------------------------------------------------------------------------------


def test_clicks_show_in_span_only():
    clean = tone()
    dirty, labels = add_clicks(clean, SR, 0.5, 1.5, rate_per_s=6.0, rng=np.random.default_rng(1))
    d = assert_label(labels, "audio_clicks", 0.5, 1.5)
    assert d["count"] >= 1 and d["rate_per_s"] == 6.0
    assert len(d["times_s"]) == len(d["amplitudes"]) == d["count"]
    assert all(0.5 <= t < 1.5 for t in d["times_s"]) and all(0.3 <= a <= 1.0 for a in d["amplitudes"])
    assert_unchanged_outside(clean, dirty, 0.5, 1.5)
    span = slice(idx(0.5), idx(1.5))
    assert np.abs(np.diff(dirty[:, span])).max() > 3 * np.abs(np.diff(clean[:, span])).max()
    assert peak_dbfs(dirty[:, span]) > peak_dbfs(clean[:, span])
    for t, a in zip(d["times_s"], d["amplitudes"]):
        x = clean[:, idx(t)]
        # A click that would pass full scale is clipped there: it still moves by 1 - |x| at least.
        assert np.all(np.abs(dirty[:, idx(t)] - x) >= np.minimum(a, 1 - np.abs(x)) - 1e-6)


def test_clicks_count_follows_rate_and_amplitude_range():
    labels = [add_clicks(tone(), SR, 0.0, 2.0, rate_per_s=20.0, rng=np.random.default_rng(seed))[1][0]
              for seed in range(5)]
    counts = [label.details["count"] for label in labels]
    assert 25 < np.mean(counts) < 55  # Poisson around 40
    _, labels = add_clicks(tone(), SR, 0.0, 1.0, rate_per_s=0.01, amplitude_range=(0.6, 0.7),
                           rng=np.random.default_rng(0))
    d = labels[0].details
    assert d["count"] == 1 and 0.6 <= d["amplitudes"][0] <= 0.7


# -- hum --------------------------------------------------------------------------------------


@pytest.mark.parametrize("freq, level", [(50, -30.0), (60, -45.0), (50, -20.0)])
def test_hum_peak_at_mains_frequency_with_requested_level(freq, level):
    clean = tone()
    dirty, labels = add_hum(clean, SR, 0.5, 1.5, frequency_hz=freq, level_dbfs=level, harmonics=4)
    d = assert_label(labels, "audio_hum", 0.5, 1.5)
    assert (d["frequency_hz"], d["level_dbfs"], d["harmonics"]) == (freq, level, 4)
    assert_unchanged_outside(clean, dirty, 0.5, 1.5)
    span = dirty[0, idx(0.5) : idx(1.5)]
    assert peak_dbfs((dirty - clean)[:, idx(0.5) : idx(1.5)]) == pytest.approx(level, abs=1.0)
    assert 20 * np.log10(amplitude_at(span, freq)) == pytest.approx(d["fundamental_dbfs"], abs=1.0)
    # The strongest line below 400 Hz is the fundamental; the harmonics fall off above it.
    spectrum = np.abs(np.fft.rfft(span))
    assert int(np.argmax(spectrum[20:400])) + 20 == freq
    assert amplitude_at(span, freq) > amplitude_at(span, 2 * freq) > amplitude_at(span, 4 * freq)
    assert amplitude_at(clean[0, idx(0.5) : idx(1.5)], freq) < 0.01 * amplitude_at(span, freq)


def test_hum_single_harmonic_is_a_pure_tone():
    dirty, labels = add_hum(np.zeros((1, SR), np.float32), SR, 0.0, 1.0, frequency_hz=60, level_dbfs=-26,
                            harmonics=1)
    assert labels[0].details["fundamental_dbfs"] == pytest.approx(-26.0, abs=1e-3)
    assert amplitude_at(dirty[0], 120) < 1e-6


# -- hiss -------------------------------------------------------------------------------------


@pytest.mark.parametrize("color", ["white", "pink"])
@pytest.mark.parametrize("snr_db", [5.0, 12.0, 30.0])
def test_hiss_snr_matches_request(color, snr_db):
    clean = tone()
    dirty, labels = add_hiss(clean, SR, 0.25, 1.75, snr_db=snr_db, color=color, rng=np.random.default_rng(3))
    d = assert_label(labels, "audio_hiss", 0.25, 1.75)
    assert (d["snr_db"], d["color"], d["reference"]) == (snr_db, color, "programme rms")
    assert_unchanged_outside(clean, dirty, 0.25, 1.75)
    span = slice(idx(0.25), idx(1.75))
    added = (dirty - clean)[:, span]
    measured = rms_db(clean[:, span]) - rms_db(added)
    assert measured == pytest.approx(snr_db, abs=1.0)


def test_pink_hiss_has_more_low_than_high_energy():
    silent = np.zeros((1, 2 * SR), np.float32)
    white, _ = add_hiss(silent, SR, 0.0, 2.0, snr_db=10, color="white", rng=np.random.default_rng(0))
    pink, _ = add_hiss(silent, SR, 0.0, 2.0, snr_db=10, color="pink", rng=np.random.default_rng(0))

    def low_over_high(x):
        p = np.abs(np.fft.rfft(x[0])) ** 2
        f = np.fft.rfftfreq(x.shape[1], 1 / SR)
        return p[(f > 50) & (f < 500)].sum() / p[(f > 5000) & (f < 7000)].sum()

    assert low_over_high(pink) > 10 * low_over_high(white)


def test_hiss_on_silent_span_uses_nominal_reference():
    clean = tone()
    clean[:, idx(1.0) :] = 0.0
    dirty, labels = add_hiss(clean, SR, 1.0, 2.0, snr_db=15, rng=np.random.default_rng(0))
    d = labels[0].details
    assert "silent" in d["reference"] and "-20 dBFS" in d["reference"]
    assert d["reference_dbfs"] == -20.0 and d["noise_rms_dbfs"] == -35.0
    assert rms_db(dirty[:, idx(1.0) :]) == pytest.approx(-35.0, abs=0.1)


# -- distortion -------------------------------------------------------------------------------


def crest_db(x):
    return peak_dbfs(x) - rms_db(x)


@pytest.mark.parametrize("kind", ["soft", "hard"])
def test_overdrive_flattens_peaks_and_adds_harmonics(kind):
    clean = tone()
    dirty, labels = add_distortion(clean, SR, 0.5, 1.5, kind=kind, gain=8)
    d = assert_label(labels, "audio_distortion", 0.5, 1.5)
    assert (d["kind"], d["gain"]) == (kind, 8.0) and "bits" not in d
    assert_unchanged_outside(clean, dirty, 0.5, 1.5)
    before, after = clean[0, idx(0.5) : idx(1.5)], dirty[0, idx(0.5) : idx(1.5)]
    assert crest_db(after) < crest_db(before) - 1.5
    assert off_tone_ratio(after) > 100 * off_tone_ratio(before)
    assert peak_dbfs(after) == pytest.approx(peak_dbfs(before), abs=1.0)  # loudness comparable


def test_bitcrush_quantises_and_adds_harmonics():
    clean = tone()
    dirty, labels = add_distortion(clean, SR, 0.5, 1.5, kind="bitcrush", gain=16)
    d = labels[0].details
    assert (d["kind"], d["bits"]) == ("bitcrush", 4)
    after = dirty[:, idx(0.5) : idx(1.5)]
    assert np.unique(after).size <= 2**4 + 1
    assert off_tone_ratio(after[0]) > 100 * off_tone_ratio(clean[0, idx(0.5) : idx(1.5)])
    _, labels = add_distortion(clean, SR, 0.5, 1.5, kind="bitcrush", gain=2, bits=6)
    assert labels[0].details["bits"] == 6


def test_hard_clipping_stays_below_full_scale():
    loud = tone(amplitude=0.999, noise=0.0)
    dirty, labels = add_distortion(loud, SR, 0.0, 1.0, kind="hard", gain=4)
    assert peak_dbfs(dirty[:, : idx(1.0)]) == pytest.approx(-1.0, abs=1e-3) == labels[0].details["peak_dbfs"]
    assert not np.any(np.abs(dirty) == 1.0)


# -- dropout ----------------------------------------------------------------------------------


def test_dropout_is_exact_zeros_in_span_only():
    clean = tone()
    dirty, labels = add_dropout(clean, SR, 0.75, 1.25)
    assert_label(labels, "audio_silence", 0.75, 1.25)
    assert_unchanged_outside(clean, dirty, 0.75, 1.25)
    zero = np.all(dirty == 0.0, axis=0)
    assert zero[idx(0.75) : idx(1.25)].all() and zero.sum() == idx(1.25) - idx(0.75)


# -- clipping ---------------------------------------------------------------------------------


def test_clipping_runs_sit_exactly_at_full_scale():
    clean = tone()
    dirty, labels = add_clipping(clean, SR, 0.5, 1.5, run_length_samples=5, runs_per_s=10,
                                 rng=np.random.default_rng(2))
    d = assert_label(labels, "audio_clipping", 0.5, 1.5)
    assert d["run_length_samples"] == 5 and d["count"] == len(d["times_s"]) >= 1
    assert_unchanged_outside(clean, dirty, 0.5, 1.5)
    pinned = np.abs(dirty) == 1.0
    assert pinned.sum() == d["count"] * 5 * dirty.shape[0]
    for t in d["times_s"]:
        s = idx(t)
        run = dirty[:, s : s + 5]
        assert np.all(np.abs(run) == 1.0) and np.all(run == run[:, :1])  # one sign per run and channel
        assert np.array_equal(np.sign(run[:, 0]), np.sign(clean[:, s : s + 5].astype(np.float64).sum(axis=1)))
        assert not pinned[:, s - 1].any() and not pinned[:, s + 5].any()  # distinct runs


def test_clipping_on_silence_draws_signs():
    dirty, labels = add_clipping(np.zeros((2, SR), np.float32), SR, 0.0, 1.0, 3, 50, rng=np.random.default_rng(0))
    assert (np.abs(dirty) == 1.0).sum() == labels[0].details["count"] * 3 * 2


# -- channel faults ---------------------------------------------------------------------------


def test_phase_inversion_makes_channels_anticorrelated():
    clean = tone()
    dirty, labels = channel_fault(clean, SR, 0.5, 1.5, kind="phase_inversion", channel=1)
    assert assert_label(labels, "audio_channel_fault", 0.5, 1.5) == {"kind": "phase_inversion", "channel": 1}
    assert_unchanged_outside(clean, dirty, 0.5, 1.5)
    span = slice(idx(0.5), idx(1.5))
    assert np.corrcoef(clean[0, span], clean[1, span])[0, 1] > 0.99
    assert np.corrcoef(dirty[0, span], dirty[1, span])[0, 1] < -0.99
    assert np.array_equal(dirty[0], clean[0])


def test_dead_channel_is_all_zeros():
    clean = tone()
    dirty, labels = channel_fault(clean, SR, 0.5, 1.5, kind="dead_channel", channel=0)
    assert labels[0].details == {"kind": "dead_channel", "channel": 0}
    assert_unchanged_outside(clean, dirty, 0.5, 1.5)
    assert np.all(dirty[0, idx(0.5) : idx(1.5)] == 0.0)
    assert np.array_equal(dirty[1], clean[1])


# -- sync -------------------------------------------------------------------------------------


@pytest.mark.parametrize("offset_ms", [120.0, -80.0, 7.5])
def test_shift_cross_correlation_peaks_at_offset(offset_ms):
    clean = noise()
    dirty, labels = shift_audio(clean, SR, offset_ms)
    d = assert_label(labels, "av_sync", 0.0, 2.0)
    k = idx(offset_ms / 1000)
    assert d["offset_ms"] == pytest.approx(offset_ms) and d["offset_samples"] == k
    assert dirty.shape == clean.shape
    assert lag_samples(dirty[0], clean[0]) == k
    if k > 0:
        assert np.all(dirty[:, :k] == 0) and np.array_equal(dirty[:, k:], clean[:, :-k])
    else:
        assert np.all(dirty[:, k:] == 0) and np.array_equal(dirty[:, :k], clean[:, -k:])


def test_shift_rounds_to_whole_samples():
    _, labels = shift_audio(noise(), SR, 10.03)
    assert labels[0].details == {"offset_ms": 10.0, "offset_samples": 160}


@pytest.mark.parametrize("drift", [120.0, -120.0])
def test_drift_grows_offset_linearly(drift):
    clean = noise(duration_s=10.0, channels=1, smooth=8)
    dirty, labels = drift_audio(clean, SR, drift)
    d = assert_label(labels, "av_sync", 0.0, 10.0)
    assert d["drift_ms_per_min"] == drift and d["end_offset_ms"] == pytest.approx(drift / 6)
    assert dirty.shape == clean.shape
    for t in (1.0, 5.0, 9.0):
        lag_ms = local_lag(dirty[0], clean[0], t) * 1000 / SR
        assert lag_ms == pytest.approx(drift * t / 60, abs=1.0)
    if drift < 0:
        assert dirty[0, -1] == 0.0  # the end ran out of programme: padded with silence


# -- reproducibility and purity ---------------------------------------------------------------

RANDOM = {
    "clicks": lambda a, rng: add_clicks(a, SR, 0.2, 1.8, 5.0, rng=rng),
    "hiss": lambda a, rng: add_hiss(a, SR, 0.2, 1.8, 10.0, "pink", rng=rng),
    "clipping": lambda a, rng: add_clipping(a, SR, 0.2, 1.8, 4, 8.0, rng=rng),
}

ALL = {
    **RANDOM,
    "hum": lambda a, rng: add_hum(a, SR, 0.2, 1.8, 60, -30, 3),
    "distortion": lambda a, rng: add_distortion(a, SR, 0.2, 1.8, "soft", 4),
    "dropout": lambda a, rng: add_dropout(a, SR, 0.2, 1.8),
    "channel": lambda a, rng: channel_fault(a, SR, 0.2, 1.8, "dead_channel", 1),
    "shift": lambda a, rng: shift_audio(a, SR, 40),
    "drift": lambda a, rng: drift_audio(a, SR, 300),
}


@pytest.mark.parametrize("name", sorted(RANDOM))
def test_same_seed_same_bytes(name):
    inject = RANDOM[name]
    a, la = inject(tone(), np.random.default_rng(42))
    b, lb = inject(tone(), np.random.default_rng(42))
    c, _ = inject(tone(), np.random.default_rng(43))
    assert np.array_equal(a, b) and la == lb
    assert not np.array_equal(a, c)


@pytest.mark.parametrize("name", sorted(ALL))
def test_input_untouched_and_output_float32(name):
    clean = tone()
    before = clean.copy()
    out, labels = ALL[name](clean, np.random.default_rng(0))
    assert np.array_equal(clean, before)
    assert out is not clean and out.dtype == np.float32 and out.shape == clean.shape
    assert not np.array_equal(out, clean)
    assert np.all(np.abs(out) <= 1.0)
    assert labels and all(json.loads(lab.row("x")["details"]) is not None for lab in labels)


# -- bad parameters ---------------------------------------------------------------------------

RNG = np.random.default_rng(0)
STEREO = tone()
MONO = tone(channels=1)


@pytest.mark.parametrize("call, match", [
    (lambda: add_clicks(STEREO, SR, 1.5, 2.5, 3.0, rng=RNG), "after the item's end"),
    (lambda: add_clicks(STEREO, SR, 1.0, 1.0, 3.0, rng=RNG), "start_s < end_s"),
    (lambda: add_clicks(STEREO, SR, -0.1, 1.0, 3.0, rng=RNG), "start_s < end_s"),
    (lambda: add_clicks(STEREO, SR, 0.0, float("nan"), 3.0, rng=RNG), "finite"),
    (lambda: add_clicks(STEREO, SR, 0.0, 1.0, 0.0, rng=RNG), "rate_per_s"),
    (lambda: add_clicks(STEREO, SR, 0.0, 1.0, 3.0, (0.8, 0.2), rng=RNG), "amplitude_range"),
    (lambda: add_clicks(STEREO, SR, 0.0, 1.0, 3.0, (0.5, 1.5), rng=RNG), "amplitude_range"),
    (lambda: add_clicks(STEREO[0], SR, 0.0, 1.0, 3.0, rng=RNG), "2-D"),
    (lambda: add_clicks(STEREO, 0, 0.0, 1.0, 3.0, rng=RNG), "sample_rate"),
    (lambda: add_clicks(STEREO, SR, 0.0, 1e-5, 3.0, rng=RNG), "shorter than one sample"),
    (lambda: add_hum(STEREO, SR, 0.0, 1.0, 55, -30), "50 or 60"),
    (lambda: add_hum(STEREO, SR, 0.0, 1.0, 50, 3.0), "level_dbfs"),
    (lambda: add_hum(STEREO, SR, 0.0, 1.0, 50, -30, 0), "harmonics"),
    (lambda: add_hum(STEREO, SR, 0.0, 1.0, 50, -30, 200), "Nyquist"),
    (lambda: add_hiss(STEREO, SR, 0.0, 1.0, float("inf"), rng=RNG), "snr_db must be a finite"),
    (lambda: add_hiss(STEREO, SR, 0.0, 1.0, float("nan"), rng=RNG), "snr_db must be a finite"),
    (lambda: add_hiss(STEREO, SR, 0.0, 1.0, 10, "brown", rng=RNG), "color"),
    (lambda: add_distortion(STEREO, SR, 0.0, 1.0, "soft", 0.5), "gain must be .* >= 1"),
    (lambda: add_distortion(STEREO, SR, 0.0, 1.0, "fuzz", 4), "kind"),
    (lambda: add_distortion(STEREO, SR, 0.0, 1.0, "bitcrush", 4, bits=0), "bits"),
    (lambda: add_distortion(STEREO, SR, 0.0, 1.0, "soft", 4, bits=8), "bits only applies"),
    (lambda: add_distortion(np.zeros((2, SR), np.float32), SR, 0.0, 1.0), "silent"),
    (lambda: add_dropout(STEREO, SR, 1.0, 3.0), "after the item's end"),
    (lambda: add_clipping(STEREO, SR, 0.0, 1.0, 0, 5.0, rng=RNG), "run_length_samples"),
    (lambda: add_clipping(STEREO, SR, 0.0, 1.0, 4, -1.0, rng=RNG), "runs_per_s"),
    (lambda: add_clipping(STEREO, SR, 0.0, 0.001, 40, 5.0, rng=RNG), "does not fit"),
    (lambda: channel_fault(MONO, SR, 0.0, 1.0, "phase_inversion", 0), "two channels"),
    (lambda: channel_fault(MONO, SR, 0.0, 1.0, "dead_channel", 0), "two channels"),
    (lambda: channel_fault(STEREO, SR, 0.0, 1.0, "dead_channel", 2), "channel 2 does not exist"),
    (lambda: channel_fault(STEREO, SR, 0.0, 1.0, "swap", 1), "kind"),
    (lambda: shift_audio(STEREO, SR, 2000.0), "not shorter than the item"),
    (lambda: shift_audio(STEREO, SR, -2500.0), "not shorter than the item"),
    (lambda: shift_audio(STEREO, SR, 0.01), "zero samples"),
    (lambda: shift_audio(STEREO, SR, float("nan")), "finite"),
    (lambda: drift_audio(STEREO, SR, 0.0), "non-zero"),
    (lambda: drift_audio(STEREO, SR, 60_000.0), "under 60000"),
])
def test_bad_parameters_raise(call, match):
    with pytest.raises(SimulationError, match=match):
        call()


def test_dc_offset_on_one_channel_in_span_only():
    x = tone(2.0)
    out, [label] = add_dc_offset(x, SR, 0.5, 1.5, offset=-0.05, channel=1)
    a, b = int(0.5 * SR), int(1.5 * SR)
    assert np.allclose(out[1, a:b] - x[1, a:b], -0.05, atol=1e-6)
    assert np.array_equal(out[0], x[0]) and np.array_equal(out[1, :a], x[1, :a]) and np.array_equal(out[1, b:], x[1, b:])
    assert label.defect == "dc_offset" and label.details["channel"] == 1 and label.details["level_db"] == pytest.approx(-26.02, abs=0.01)


def test_test_tone_replaces_the_programme_in_span():
    x = noise(2.0) * 0.1
    out, [label] = add_test_tone(x, SR, 0.5, 1.5, frequency_hz=1000.0, level_dbfs=-18.0)
    a, b = int(0.5 * SR), int(1.5 * SR)
    spec = np.abs(np.fft.rfft(out[0, a:b]))
    assert np.argmax(spec) * SR / (b - a) == pytest.approx(1000.0, abs=1.0)
    assert peak_dbfs(out[:, a:b]) == pytest.approx(-18.0, abs=0.01) and np.array_equal(out[:, :a], x[:, :a].astype(np.float32))
    assert np.array_equal(out[:, b:], x[:, b:].astype(np.float32)) and np.array_equal(out[0, a:b], out[1, a:b])
    assert (label.defect, label.details["frequency_hz"]) == ("test_tone", 1000.0)


def _programme(seconds=6.0, seed=3):
    """Noise bursts with a few loud peaks: something a meter and a limiter have work on."""
    rng = np.random.default_rng(seed)
    x = 0.05 * rng.standard_normal((2, int(seconds * 48000)))
    x[:, 10000:10100] *= 12
    return x.astype(np.float32)


def test_master_reaches_r128_under_the_ceiling():
    x = _programme()
    out, info = master_loudness(x, 48000)
    assert integrated_lufs(out, 48000) == pytest.approx(-23.0, abs=0.05) and true_peak_dbtp(out) <= -2.0
    assert info["loudness_lufs"] == pytest.approx(-23.0, abs=0.05)
    loud, _ = master_loudness(x, 48000, target_lufs=-14.0)  # needs the limiter
    assert integrated_lufs(loud, 48000) == pytest.approx(-14.0, abs=0.05) and true_peak_dbtp(loud) <= -2.0


@pytest.mark.parametrize("kind", ["too_loud", "too_quiet", "true_peak_over"])
def test_loudness_off_profile_labels_the_whole_item(kind):
    out, [label] = loudness_off_profile(_programme(), 48000, kind=kind, offset_lu=3.0, peak_dbtp=-0.5)
    lufs, tp = integrated_lufs(out, 48000), true_peak_dbtp(out)
    assert (label.defect, label.start_s, label.end_s) == ("loudness_out_of_range", 0.0, 6.0)
    assert label.details["loudness_lufs"] == pytest.approx(lufs, abs=0.01)
    if kind == "true_peak_over":
        assert abs(lufs + 23.0) < 1.0 and tp >= -0.5 - 0.01 and label.details["limit"] == "true_peak"
    else:
        assert lufs == pytest.approx(-20.0 if kind == "too_loud" else -26.0, abs=0.05) and tp <= -2.0
        assert label.details["limit"] == "integrated_loudness"
