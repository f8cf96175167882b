"""Audio defect injectors: pure functions over ``(channels, n_samples)`` float32 arrays in [-1, 1].

Each injector takes the programme audio, its sample rate, a span ``[start_s, end_s)`` (except the
whole-item sync shifts), the defect's parameters and, where it draws anything at random, a
``numpy.random.Generator`` passed as ``rng=`` (so one seed gives the same bytes). It never touches
its input and returns ``(new_audio, labels)``, the labels naming defects from the vocabulary in
DESIGN.md with the parameters actually used in ``details``.
"""

from __future__ import annotations

import math

import numpy as np

from rayqa.simulate.labels import Label, SimulationError, check_span

# Below this RMS a span counts as silent: hiss is then scaled against a nominal programme level.
SILENT_RMS_DBFS = -90.0
HISS_REFERENCE_DBFS = -20.0
# Distorted audio is kept below full scale so that it never reads as digital clipping too.
DISTORTION_CEILING = 10 ** (-1.0 / 20)


def rms_db(x: np.ndarray) -> float:
    """RMS level of ``x`` in dB relative to full scale (1.0); ``-inf`` for digital silence."""
    x = np.asarray(x, dtype=np.float64)
    rms = math.sqrt(float(np.mean(x * x))) if x.size else 0.0
    return 20 * math.log10(rms) if rms > 0 else -math.inf


def peak_dbfs(x: np.ndarray) -> float:
    """Peak level of ``x`` in dBFS; ``-inf`` for digital silence."""
    peak = float(np.max(np.abs(x))) if np.size(x) else 0.0
    return 20 * math.log10(peak) if peak > 0 else -math.inf


# -- validation -------------------------------------------------------------------------------


def _copy(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """Check the audio's shape and rate and return a float32 copy to work on."""
    if not isinstance(audio, np.ndarray) or audio.ndim != 2:
        raise SimulationError("audio must be a 2-D array of shape (channels, n_samples)")
    if audio.shape[0] < 1 or audio.shape[1] < 1:
        raise SimulationError(f"audio has no samples: shape {audio.shape}")
    if not np.issubdtype(audio.dtype, np.floating):
        raise SimulationError(f"audio must be floating point in [-1, 1], got {audio.dtype}")
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, np.integer)) or sample_rate <= 0:
        raise SimulationError(f"sample_rate must be a positive integer, got {sample_rate!r}")
    return np.array(audio, dtype=np.float32, copy=True)


def _span(audio: np.ndarray, sample_rate: int, start_s: float, end_s: float, what: str) -> tuple[int, int]:
    """Sample indices ``[i0, i1)`` of a span, refusing one outside the item or under a sample."""
    n = audio.shape[1]
    check_span(start_s, end_s, n / sample_rate, what)
    i0 = int(round(start_s * sample_rate))
    i1 = min(int(round(end_s * sample_rate)), n)
    if i1 <= i0:
        raise SimulationError(f"{what}: span {start_s}..{end_s} s is shorter than one sample")
    return i0, i1


def _positive(value: float, name: str, what: str) -> float:
    if not (isinstance(value, (int, float, np.number)) and math.isfinite(value) and value > 0):
        raise SimulationError(f"{what}: {name} must be a finite number > 0, got {value!r}")
    return float(value)


def _count(rng: np.random.Generator, rate_per_s: float, duration_s: float) -> int:
    """A Poisson count around ``rate_per_s * duration_s``, at least one."""
    return max(1, int(rng.poisson(rate_per_s * duration_s)))


def _label(defect: str, start_s: float, end_s: float, details: dict) -> list[Label]:
    return [Label(defect, float(start_s), float(end_s), details)]


# -- injectors --------------------------------------------------------------------------------


_CLICK_SHAPE = np.array([1.0, -0.45, 0.2])  # a short decaying transient, up to 3 samples


def add_clicks(audio: np.ndarray, sample_rate: int, start_s: float, end_s: float, rate_per_s: float,
               amplitude_range: tuple[float, float] = (0.3, 1.0), *,
               rng: np.random.Generator) -> tuple[np.ndarray, list[Label]]:
    """Add clicks (1-3 sample transients, random amplitude and sign) at random times in the span."""
    what = "add_clicks"
    out = _copy(audio, sample_rate)
    i0, i1 = _span(out, sample_rate, start_s, end_s, what)
    rate_per_s = _positive(rate_per_s, "rate_per_s", what)
    try:
        lo, hi = (float(a) for a in amplitude_range)
    except (TypeError, ValueError):
        raise SimulationError(f"{what}: amplitude_range must be two numbers, got {amplitude_range!r}") from None
    if not (0 < lo <= hi <= 1):
        raise SimulationError(f"{what}: amplitude_range needs 0 < low <= high <= 1, got {amplitude_range!r}")
    if i1 - i0 < len(_CLICK_SHAPE):
        raise SimulationError(f"{what}: span {start_s}..{end_s} s is too short for a click")

    count = _count(rng, rate_per_s, end_s - start_s)
    starts = np.sort(rng.integers(i0, i1 - len(_CLICK_SHAPE) + 1, size=count))
    amplitudes = rng.uniform(lo, hi, size=count)
    signs = rng.choice([-1.0, 1.0], size=count)
    lengths = rng.integers(1, len(_CLICK_SHAPE) + 1, size=count)

    work = out.astype(np.float64)
    for s, a, sign, length in zip(starts, amplitudes, signs, lengths):
        work[:, s : s + length] += sign * a * _CLICK_SHAPE[:length]
    out[:, i0:i1] = np.clip(work[:, i0:i1], -1.0, 1.0)
    return out, _label("audio_clicks", start_s, end_s, {
        "count": count,
        "rate_per_s": rate_per_s,
        "amplitudes": [round(float(a), 6) for a in amplitudes],
        "signs": [int(s) for s in signs],
        "times_s": [float(s) / sample_rate for s in starts],
        "lengths_samples": [int(n) for n in lengths],
    })


def add_hum(audio: np.ndarray, sample_rate: int, start_s: float, end_s: float, frequency_hz: int = 50,
            level_dbfs: float = -30.0, harmonics: int = 4) -> tuple[np.ndarray, list[Label]]:
    """Add mains hum: ``harmonics`` sinusoids at k * frequency_hz with amplitudes falling as 1/k.

    ``level_dbfs`` is the hum waveform's peak; ``details["fundamental_dbfs"]`` says the
    fundamental's own peak amplitude, which is what a spectrum shows at ``frequency_hz``.
    """
    what = "add_hum"
    out = _copy(audio, sample_rate)
    i0, i1 = _span(out, sample_rate, start_s, end_s, what)
    if frequency_hz not in (50, 60):
        raise SimulationError(f"{what}: frequency_hz must be 50 or 60 (mains), got {frequency_hz!r}")
    if not (isinstance(level_dbfs, (int, float, np.number)) and math.isfinite(level_dbfs) and level_dbfs <= 0):
        raise SimulationError(f"{what}: level_dbfs must be a finite number <= 0, got {level_dbfs!r}")
    if isinstance(harmonics, bool) or not isinstance(harmonics, (int, np.integer)) or harmonics < 1:
        raise SimulationError(f"{what}: harmonics must be an integer >= 1, got {harmonics!r}")
    if harmonics * frequency_hz >= sample_rate / 2:
        raise SimulationError(f"{what}: {harmonics} harmonics of {frequency_hz} Hz pass the Nyquist "
                              f"frequency at {sample_rate} Hz")

    ks = np.arange(1, harmonics + 1)
    weights = 1.0 / ks

    def waveform(t: np.ndarray) -> np.ndarray:
        return (weights[:, None] * np.sin(2 * np.pi * frequency_hz * ks[:, None] * t[None, :])).sum(axis=0)

    # The peak of the harmonic sum, found on a fine grid over one period of the fundamental.
    unit_peak = float(np.max(np.abs(waveform(np.arange(8192) / (8192 * frequency_hz)))))
    scale = 10 ** (level_dbfs / 20) / unit_peak
    hum = scale * waveform(np.arange(i0, i1) / sample_rate)
    out[:, i0:i1] = np.clip(out[:, i0:i1].astype(np.float64) + hum[None, :], -1.0, 1.0)
    return out, _label("audio_hum", start_s, end_s, {
        "frequency_hz": int(frequency_hz),
        "level_dbfs": float(level_dbfs),
        "harmonics": int(harmonics),
        "fundamental_dbfs": round(20 * math.log10(scale), 4),
    })


def _pink(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """Pink (1/f power) noise, shaped from white noise in the frequency domain."""
    n = shape[1]
    spectrum = np.fft.rfft(rng.standard_normal(shape), axis=1)
    f = np.arange(spectrum.shape[1], dtype=np.float64)
    f[0] = np.inf  # no DC
    return np.fft.irfft(spectrum / np.sqrt(f), n=n, axis=1)


def add_hiss(audio: np.ndarray, sample_rate: int, start_s: float, end_s: float, snr_db: float,
             color: str = "white", *, rng: np.random.Generator) -> tuple[np.ndarray, list[Label]]:
    """Add white or pink noise at ``snr_db`` below the span's programme RMS.

    A silent span (RMS under -90 dBFS) has no level to go by: the noise is then set ``snr_db``
    below a nominal -20 dBFS programme, and ``details["reference"]`` says so.
    """
    what = "add_hiss"
    out = _copy(audio, sample_rate)
    i0, i1 = _span(out, sample_rate, start_s, end_s, what)
    if not (isinstance(snr_db, (int, float, np.number)) and math.isfinite(snr_db)):
        raise SimulationError(f"{what}: snr_db must be a finite number, got {snr_db!r}")
    if color not in ("white", "pink"):
        raise SimulationError(f"{what}: color must be 'white' or 'pink', got {color!r}")

    span = out[:, i0:i1].astype(np.float64)
    programme_db = rms_db(span)
    silent = programme_db < SILENT_RMS_DBFS
    reference_db = HISS_REFERENCE_DBFS if silent else programme_db
    shape = span.shape
    noise = rng.standard_normal(shape) if color == "white" else _pink(rng, shape)
    noise_rms = math.sqrt(float(np.mean(noise * noise)))
    if noise_rms == 0:  # a one-sample pink span has only DC, which is removed
        raise SimulationError(f"{what}: span {start_s}..{end_s} s is too short for {color} noise")
    noise *= 10 ** ((reference_db - snr_db) / 20) / noise_rms
    out[:, i0:i1] = np.clip(span + noise, -1.0, 1.0)
    return out, _label("audio_hiss", start_s, end_s, {
        "snr_db": float(snr_db),
        "color": color,
        "reference": "silent span: nominal -20 dBFS" if silent else "programme rms",
        "reference_dbfs": round(float(reference_db), 4),
        "noise_rms_dbfs": round(float(reference_db - snr_db), 4),
    })


def add_distortion(audio: np.ndarray, sample_rate: int, start_s: float, end_s: float, kind: str = "soft",
                   gain: float = 4.0, bits: int | None = None) -> tuple[np.ndarray, list[Label]]:
    """Overdrive the span by ``gain`` then clip it (``soft``: tanh, ``hard``) or bit-crush it.

    The drive is relative to the span's own peak, so a gain means the same on quiet and loud
    programme; the result is scaled back to that peak (at most -1 dBFS). ``bitcrush`` keeps
    ``bits`` bits, by default ``round(12 - 2 * log2(gain))`` (gain 2: 10 bits, gain 16: 4 bits).
    """
    what = "add_distortion"
    out = _copy(audio, sample_rate)
    i0, i1 = _span(out, sample_rate, start_s, end_s, what)
    if kind not in ("soft", "hard", "bitcrush"):
        raise SimulationError(f"{what}: kind must be 'soft', 'hard' or 'bitcrush', got {kind!r}")
    if not (isinstance(gain, (int, float, np.number)) and math.isfinite(gain) and gain >= 1):
        raise SimulationError(f"{what}: gain must be a finite number >= 1 (an overdrive), got {gain!r}")
    if kind == "bitcrush":
        if bits is None:
            bits = max(1, int(round(12 - 2 * math.log2(gain))))
        if isinstance(bits, bool) or not isinstance(bits, (int, np.integer)) or not 1 <= bits <= 16:
            raise SimulationError(f"{what}: bits must be an integer in 1..16, got {bits!r}")
    elif bits is not None:
        raise SimulationError(f"{what}: bits only applies to kind='bitcrush', not {kind!r}")

    span = out[:, i0:i1].astype(np.float64)
    peak = float(np.max(np.abs(span)))
    if peak == 0:
        raise SimulationError(f"{what}: span {start_s}..{end_s} s is silent, there is nothing to distort")
    u = span / peak
    if kind == "soft":
        shaped = np.tanh(gain * u)
    elif kind == "hard":
        shaped = np.clip(gain * u, -1.0, 1.0)
    else:
        steps = 2 ** (bits - 1)
        shaped = np.round(u * steps) / steps
    target = min(peak, DISTORTION_CEILING)
    out[:, i0:i1] = shaped * (target / float(np.max(np.abs(shaped))))
    details = {"kind": kind, "gain": float(gain), "peak_dbfs": round(20 * math.log10(target), 4)}
    if kind == "bitcrush":
        details["bits"] = int(bits)
    return out, _label("audio_distortion", start_s, end_s, details)


def add_dropout(audio: np.ndarray, sample_rate: int, start_s: float,
                end_s: float) -> tuple[np.ndarray, list[Label]]:
    """Replace the span with digital silence (exact zeros) on every channel."""
    out = _copy(audio, sample_rate)
    i0, i1 = _span(out, sample_rate, start_s, end_s, "add_dropout")
    out[:, i0:i1] = 0.0
    return out, _label("audio_silence", start_s, end_s, {"kind": "digital_silence"})


def add_clipping(audio: np.ndarray, sample_rate: int, start_s: float, end_s: float, run_length_samples: int,
                 runs_per_s: float, *, rng: np.random.Generator) -> tuple[np.ndarray, list[Label]]:
    """Pin runs of ``run_length_samples`` samples at exactly +-1.0 (digital full scale).

    Each run takes the sign of the programme under it on each channel (random where that is
    zero); runs are at least one sample apart, so each stays a distinct run.
    """
    what = "add_clipping"
    out = _copy(audio, sample_rate)
    i0, i1 = _span(out, sample_rate, start_s, end_s, what)
    if (isinstance(run_length_samples, bool) or not isinstance(run_length_samples, (int, np.integer))
            or run_length_samples < 1):
        raise SimulationError(f"{what}: run_length_samples must be an integer >= 1, got {run_length_samples!r}")
    runs_per_s = _positive(runs_per_s, "runs_per_s", what)
    length = int(run_length_samples)
    if length > i1 - i0:
        raise SimulationError(f"{what}: a run of {length} samples does not fit in the span "
                              f"{start_s}..{end_s} s ({i1 - i0} samples)")

    slots = (i1 - i0 + 1) // (length + 1)  # slot = run + one-sample gap; the last needs no gap
    count = min(_count(rng, runs_per_s, end_s - start_s), slots)
    starts = i0 + np.sort(rng.choice(slots, size=count, replace=False)) * (length + 1)
    for s in starts:
        signs = np.sign(out[:, s : s + length].astype(np.float64).sum(axis=1))
        zero = signs == 0
        signs[zero] = rng.choice([-1.0, 1.0], size=int(zero.sum()))
        out[:, s : s + length] = signs[:, None]
    return out, _label("audio_clipping", start_s, end_s, {
        "run_length_samples": length,
        "runs_per_s": runs_per_s,
        "count": int(count),
        "times_s": [float(s) / sample_rate for s in starts],
    })


def channel_fault(audio: np.ndarray, sample_rate: int, start_s: float, end_s: float,
                  kind: str = "phase_inversion", channel: int = 1) -> tuple[np.ndarray, list[Label]]:
    """Invert one channel's polarity (``phase_inversion``) or silence it (``dead_channel``)."""
    what = "channel_fault"
    out = _copy(audio, sample_rate)
    i0, i1 = _span(out, sample_rate, start_s, end_s, what)
    if kind not in ("phase_inversion", "dead_channel"):
        raise SimulationError(f"{what}: kind must be 'phase_inversion' or 'dead_channel', got {kind!r}")
    channels = out.shape[0]
    if channels < 2:
        raise SimulationError(f"{what}: {kind} needs at least two channels, the audio is mono")
    if isinstance(channel, bool) or not isinstance(channel, (int, np.integer)) or not 0 <= channel < channels:
        raise SimulationError(f"{what}: channel {channel!r} does not exist (the audio has {channels} channels)")
    if kind == "phase_inversion":
        out[channel, i0:i1] = -out[channel, i0:i1]
    else:
        out[channel, i0:i1] = 0.0
    return out, _label("audio_channel_fault", start_s, end_s, {"kind": kind, "channel": int(channel)})


def add_dc_offset(audio: np.ndarray, sample_rate: int, start_s: float, end_s: float, offset: float = 0.05,
                  channel: int = 0) -> tuple[np.ndarray, list[Label]]:
    """Add a constant ``offset`` (signed, in full scale) to one channel over the span (a converter
    or a mixer channel's bias switched in); the sum is kept within [-1, 1]."""
    what = "add_dc_offset"
    out = _copy(audio, sample_rate)
    i0, i1 = _span(out, sample_rate, start_s, end_s, what)
    if not (isinstance(offset, (int, float, np.number)) and math.isfinite(offset) and 0 < abs(offset) < 1):
        raise SimulationError(f"{what}: offset must be a finite number with 0 < |offset| < 1, got {offset!r}")
    if isinstance(channel, bool) or not isinstance(channel, (int, np.integer)) or not 0 <= channel < out.shape[0]:
        raise SimulationError(f"{what}: channel {channel!r} does not exist (the audio has {out.shape[0]} channels)")
    out[channel, i0:i1] = np.clip(out[channel, i0:i1].astype(np.float64) + offset, -1.0, 1.0)
    return out, _label("dc_offset", start_s, end_s, {
        "offset": float(offset), "channel": int(channel), "level_db": round(20 * math.log10(abs(offset)), 2)})


def add_test_tone(audio: np.ndarray, sample_rate: int, start_s: float, end_s: float, frequency_hz: float = 1000.0,
                  level_dbfs: float = -18.0) -> tuple[np.ndarray, list[Label]]:
    """Replace the programme on every channel with a steady sine of ``frequency_hz`` whose peak is
    ``level_dbfs`` (a line-up tone left in: EBU's is 1 kHz at -18 dBFS)."""
    what = "add_test_tone"
    out = _copy(audio, sample_rate)
    i0, i1 = _span(out, sample_rate, start_s, end_s, what)
    if not (isinstance(frequency_hz, (int, float, np.number)) and 0 < frequency_hz < sample_rate / 2):
        raise SimulationError(f"{what}: frequency_hz must be in (0, {sample_rate / 2:g}) Hz, got {frequency_hz!r}")
    if not (isinstance(level_dbfs, (int, float, np.number)) and math.isfinite(level_dbfs) and level_dbfs <= 0):
        raise SimulationError(f"{what}: level_dbfs must be a finite number <= 0, got {level_dbfs!r}")
    t = np.arange(i1 - i0) / sample_rate
    out[:, i0:i1] = (10 ** (level_dbfs / 20) * np.sin(2 * np.pi * frequency_hz * t))[None, :]
    return out, _label("test_tone", start_s, end_s, {"frequency_hz": float(frequency_hz),
                                                    "level_dbfs": float(level_dbfs)})


# -- loudness (EBU R128): the measures, a master, and an item off its profile -------------------------

R128_TARGET_LUFS = -23.0
R128_TOLERANCE_LU = 1.0
R128_MAX_TRUE_PEAK_DBTP = -1.0
# A master's ceiling: 1 dB under R128's limit, room for the overshoot AAC adds.
MASTER_TRUE_PEAK_DBTP = -2.0
LOUDNESS_KINDS = ("too_loud", "too_quiet", "true_peak_over")


def integrated_lufs(audio: np.ndarray, sample_rate: int) -> float:
    """ITU-R BS.1770-4 integrated loudness (pyloudnorm) of ``(channels, n)`` audio, LUFS."""
    import pyloudnorm

    return float(pyloudnorm.Meter(sample_rate).integrated_loudness(np.asarray(audio, np.float64).T))


def true_peak_dbtp(audio: np.ndarray) -> float:
    """Peak of ``(channels, n)`` audio 4x oversampled (polyphase resampling), dBTP."""
    from scipy.signal import resample_poly

    peak = float(np.abs(resample_poly(np.asarray(audio, np.float64), 4, 1, axis=1)).max()) if np.size(audio) else 0.0
    return 20 * math.log10(peak) if peak > 0 else -math.inf


def _limit(x: np.ndarray, sample_rate: int, ceiling: float) -> np.ndarray:
    """A look-ahead peak limiter: the gain each sample needs to stay under ``ceiling``, taken as
    the least over ±5 ms then averaged over the same 10 ms, so it never exceeds what a sample
    within reach needs and moves smoothly (no clipping, no click)."""
    from scipy.ndimage import minimum_filter1d, uniform_filter1d

    size = 2 * int(0.005 * sample_rate) + 1
    need = np.minimum(1.0, ceiling / np.maximum(np.abs(x).max(axis=0), 1e-12))
    gain = uniform_filter1d(minimum_filter1d(need, size, mode="nearest"), size, mode="nearest")
    return x * gain[None, :]


def master_loudness(audio: np.ndarray, sample_rate: int, target_lufs: float = R128_TARGET_LUFS,
                    max_true_peak_dbtp: float = MASTER_TRUE_PEAK_DBTP) -> tuple[np.ndarray, dict]:
    """Master ``audio`` to ``target_lufs`` integrated (within 0.05 LU) with its true peak at most
    ``max_true_peak_dbtp``: a gain, and a look-ahead limiter where the gain lifts peaks over the
    ceiling, repeated until both hold. Returns the audio and its measures."""
    what = "master_loudness"
    x = _copy(audio, sample_rate).astype(np.float64)
    lufs = integrated_lufs(x, sample_rate)
    if not math.isfinite(lufs):
        raise SimulationError(f"{what}: the audio is too quiet to measure (below -70 LUFS)")
    gain_db, ceiling_db = target_lufs - lufs, max_true_peak_dbtp - 0.05
    y = x
    for _ in range(12):
        y = x * 10 ** (gain_db / 20)
        if true_peak_dbtp(y) > max_true_peak_dbtp:
            y = _limit(y, sample_rate, 10 ** (ceiling_db / 20))
        lufs, tp = integrated_lufs(y, sample_rate), true_peak_dbtp(y)
        if abs(lufs - target_lufs) <= 0.05 and tp <= max_true_peak_dbtp:
            break
        gain_db += target_lufs - lufs
        if tp > max_true_peak_dbtp:  # the limiter's samples sit at the ceiling, their inter-sample peaks above
            ceiling_db -= tp - max_true_peak_dbtp + 0.05
    else:
        raise SimulationError(f"{what}: could not reach {target_lufs} LUFS under {max_true_peak_dbtp} dBTP "
                              f"(got {lufs:.2f} LUFS, {tp:.2f} dBTP)")
    return y.astype(np.float32), {"loudness_lufs": round(lufs, 3), "true_peak_dbtp": round(tp, 3),
                                  "target_lufs": target_lufs, "max_true_peak_dbtp": max_true_peak_dbtp}


def loudness_off_profile(audio: np.ndarray, sample_rate: int, kind: str = "too_loud", offset_lu: float = 4.0,
                         peak_dbtp: float = -0.5) -> tuple[np.ndarray, list[Label]]:
    """The whole item off EBU R128 (-23 LUFS +-1 LU, true peak <= -1 dBTP), whatever its level was:
    ``too_loud`` / ``too_quiet`` master it ``offset_lu`` above / below -23 LUFS (true peak under
    -2 dBTP); ``true_peak_over`` masters it to -23 LUFS and lifts its loudest peak, with a 50 ms
    raised-cosine gain, to ``peak_dbtp`` (over the -1 dBTP limit, integrated loudness unmoved).
    The label spans the item, as the finding does; ``details`` has the measures of the result."""
    what = "loudness_off_profile"
    out = _copy(audio, sample_rate)
    if kind not in LOUDNESS_KINDS:
        raise SimulationError(f"{what}: kind must be one of {LOUDNESS_KINDS}, got {kind!r}")
    if not (isinstance(offset_lu, (int, float, np.number)) and offset_lu > R128_TOLERANCE_LU):
        raise SimulationError(f"{what}: offset_lu must exceed the {R128_TOLERANCE_LU} LU tolerance, got {offset_lu!r}")
    if not (isinstance(peak_dbtp, (int, float, np.number)) and R128_MAX_TRUE_PEAK_DBTP < peak_dbtp <= 0):
        raise SimulationError(f"{what}: peak_dbtp must be in ({R128_MAX_TRUE_PEAK_DBTP}, 0], got {peak_dbtp!r}")
    duration_s = out.shape[1] / sample_rate
    details: dict = {"kind": kind}
    if kind == "true_peak_over":
        y, _ = master_loudness(out, sample_rate)
        y = y.astype(np.float64)
        at = int(np.abs(y).max(axis=0).argmax())
        half = int(0.025 * sample_rate)
        lo, hi = max(0, at - half), min(y.shape[1], at + half + 1)
        bump = 0.5 - 0.5 * np.cos(2 * np.pi * (np.arange(lo, hi) - (at - half)) / (2 * half))
        # the gain that takes the peak sample to peak_dbtp (its true peak then sits at or above it)
        lift = 10 ** (peak_dbtp / 20) / abs(y[:, at]).max() - 1.0
        y[:, lo:hi] *= 1.0 + lift * bump[None, :]
        out = y.astype(np.float32)
        details.update(limit="true_peak", peak_time_s=round(at / sample_rate, 4), peak_gain_db=round(20 * math.log10(1 + lift), 2))
    else:
        sign = 1.0 if kind == "too_loud" else -1.0
        out, _ = master_loudness(out, sample_rate, R128_TARGET_LUFS + sign * float(offset_lu))
        details.update(limit="integrated_loudness", direction=kind, offset_lu=float(offset_lu))
    details.update(loudness_lufs=round(integrated_lufs(out, sample_rate), 2), true_peak_dbtp=round(true_peak_dbtp(out), 2))
    return out, _label("loudness_out_of_range", 0.0, duration_s, details)


def shift_audio(audio: np.ndarray, sample_rate: int, offset_ms: float) -> tuple[np.ndarray, list[Label]]:
    """Delay (positive ``offset_ms``: sound comes late) or advance the whole track.

    The length is kept: the gap opened at one end is digital silence. The offset is rounded to
    whole samples and ``details["offset_ms"]`` gives the rounded value.
    """
    what = "shift_audio"
    out = _copy(audio, sample_rate)
    n = out.shape[1]
    duration_s = n / sample_rate
    if not (isinstance(offset_ms, (int, float, np.number)) and math.isfinite(offset_ms)):
        raise SimulationError(f"{what}: offset_ms must be a finite number, got {offset_ms!r}")
    if abs(offset_ms) >= duration_s * 1000:
        raise SimulationError(f"{what}: |offset_ms| = {abs(offset_ms)} is not shorter than the item "
                              f"({duration_s * 1000:g} ms)")
    k = int(round(abs(offset_ms) * sample_rate / 1000))
    if k == 0:
        raise SimulationError(f"{what}: offset_ms {offset_ms} rounds to zero samples at {sample_rate} Hz")
    if k >= n:
        raise SimulationError(f"{what}: offset_ms {offset_ms} rounds to the whole item")
    src = out.copy()
    out[:] = 0.0
    if offset_ms > 0:
        out[:, k:] = src[:, : n - k]
    else:
        out[:, : n - k] = src[:, k:]
    applied = math.copysign(k * 1000 / sample_rate, offset_ms)
    return out, _label("av_sync", 0.0, duration_s,
                       {"offset_ms": applied, "offset_samples": int(math.copysign(k, offset_ms))})


def drift_audio(audio: np.ndarray, sample_rate: int, drift_ms_per_min: float) -> tuple[np.ndarray, list[Label]]:
    """Resample the track so its offset grows linearly: ``drift_ms_per_min`` more each minute.

    Positive drift makes the sound come later and later; the offset is zero at the start and
    ``drift_ms_per_min * duration_min`` at the end. The length is kept, padding with silence.
    """
    what = "drift_audio"
    out = _copy(audio, sample_rate)
    n = out.shape[1]
    duration_s = n / sample_rate
    if not (isinstance(drift_ms_per_min, (int, float, np.number)) and math.isfinite(drift_ms_per_min)
            and drift_ms_per_min != 0):
        raise SimulationError(f"{what}: drift_ms_per_min must be a finite, non-zero number, "
                              f"got {drift_ms_per_min!r}")
    if abs(drift_ms_per_min) >= 60_000:
        raise SimulationError(f"{what}: |drift_ms_per_min| must be under 60000 (the offset would "
                              f"outgrow the item), got {drift_ms_per_min!r}")
    # Output time t plays input time t - offset(t) = t * factor.
    factor = 1.0 - drift_ms_per_min / 60_000
    positions = np.arange(n) * factor
    src = out.astype(np.float64)
    grid = np.arange(n)
    for c in range(out.shape[0]):
        out[c] = np.interp(positions, grid, src[c], left=0.0, right=0.0)
    return out, _label("av_sync", 0.0, duration_s, {
        "drift_ms_per_min": float(drift_ms_per_min),
        "end_offset_ms": round(drift_ms_per_min * duration_s / 60, 6),
        "factor": factor,
    })
