"""Test tone: a steady line-up tone (1 kHz, 440 Hz, any single steady sinusoid) left in programme.

Per channel, frames of ``frame_s`` (Hann window) every ``hop_s``: the spectrum's strongest peak,
its frequency (parabolic interpolation between bins) and its *purity*, the share of the frame's
energy within ±3 bins of it. A frame is tonal when its purity is at least ``min_purity`` (almost
all the energy in one narrow line), its level is above ``min_level_db`` and the peak lies within
``min_frequency_hz``..``max_frequency_hz`` (mains hum is ``audio_artifacts``' business). A run of
tonal frames is a tone when, over every stretch of ``min_duration_s``, its frequency stays within
``max_frequency_drift_hz`` and its level within ``max_level_range_db``.

Held musical notes fail on purpose: an instrument's note has harmonics (purity well below 0.98),
vibrato (the frequency wanders by Hz) and a moving level.
"""

from __future__ import annotations

import numpy as np

from rayqa.detectors.base import Detector, runs
from rayqa.types import AudioSpec, Hit, ItemInfo, Window

PEAK_HALF_WIDTH_BINS = 3


def tone_frames(x: np.ndarray, sample_rate: int, frame: int, hop: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per frame of mono ``x``: start sample, peak frequency (Hz), purity, level (dBFS RMS)."""
    n = (len(x) - frame) // hop + 1 if len(x) >= frame else 0
    if n <= 0:
        z = np.zeros(0)
        return z.astype(np.int64), z, z, z
    from numpy.lib.stride_tricks import sliding_window_view

    frames = sliding_window_view(x, frame)[::hop][:n]
    win = np.hanning(frame).astype(np.float32)
    spec = np.fft.rfft(frames * win, axis=1)
    power = spec.real ** 2 + spec.imag ** 2
    power[:, 0] = 0.0  # DC is dc_offset's business
    total = power.sum(axis=1)
    k = power.argmax(axis=1)
    rows = np.arange(n)
    # energy in the peak's main lobe
    csum = np.concatenate([np.zeros((n, 1)), np.cumsum(power, axis=1)], axis=1)
    lo = np.clip(k - PEAK_HALF_WIDTH_BINS, 0, power.shape[1])
    hi = np.clip(k + PEAK_HALF_WIDTH_BINS + 1, 0, power.shape[1])
    purity = np.where(total > 0, (csum[rows, hi] - csum[rows, lo]) / np.maximum(total, 1e-30), 0.0)
    # parabolic interpolation on log power for a sub-bin frequency
    km = np.clip(k, 1, power.shape[1] - 2)
    a, b, c = (np.log(power[rows, km + d] + 1e-30) for d in (-1, 0, 1))
    den = a - 2 * b + c
    delta = np.where(np.abs(den) > 1e-12, 0.5 * (a - c) / np.where(den == 0, 1, den), 0.0)
    freq = (km + np.clip(delta, -1, 1)) * sample_rate / frame
    rms = np.sqrt(np.mean(frames.astype(np.float64) ** 2, axis=1))
    level = 20 * np.log10(np.maximum(rms, 1e-10))
    return np.arange(n) * hop, freq, purity, level


def steady_runs(tonal: np.ndarray, freq: np.ndarray, level: np.ndarray, span: int, max_drift_hz: float,
                max_level_range_db: float) -> list[tuple[int, int]]:
    """Frame runs ``[a, b)`` of at least ``span`` frames, made of stretches of ``span`` frames
    that are all tonal with frequency and level steady within the limits."""
    n = len(tonal)
    if n < span or span < 1:
        return []
    from numpy.lib.stride_tricks import sliding_window_view

    fw = sliding_window_view(freq, span)
    lw = sliding_window_view(level, span)
    tw = sliding_window_view(tonal, span).all(axis=1)
    ok = tw & (np.ptp(fw, axis=1) <= max_drift_hz) & (np.ptp(lw, axis=1) <= max_level_range_db)
    covered = np.zeros(n, bool)
    for i in np.flatnonzero(ok):
        covered[i : i + span] = True
    return runs(covered)


class TestTone(Detector):
    __test__ = False  # not a pytest class, whatever its name says
    name = "test_tone"
    defects = ("test_tone",)
    audio = AudioSpec(sample_rate=48000, mono=False)
    version = "1"
    defaults = {
        "min_duration_s": 1.0,
        "frame_s": 0.1,
        "hop_s": 0.05,
        "min_purity": 0.98,  # share of the frame's energy in the one spectral line
        "min_level_db": -60.0,  # quieter frames are not a line-up tone (dBFS RMS)
        "min_frequency_hz": 80.0,
        "max_frequency_hz": 16000.0,
        "max_frequency_drift_hz": 1.0,  # over min_duration_s
        "max_level_range_db": 0.5,  # over min_duration_s
        "merge_gap_s": 0.1,
    }

    def detect(self, window: Window, info: ItemInfo) -> list[Hit]:
        a = window.audio.get(self.audio.key)
        if a is None or a.samples.shape[1] == 0:
            return []
        p = self.params
        sr = a.sample_rate
        frame = int(round(float(p["frame_s"]) * sr))
        hop = max(1, int(round(float(p["hop_s"]) * sr)))
        # frames spanning min_duration_s: the run covers frames i..i+span-1, start to end
        span = max(1, int(round((float(p["min_duration_s"]) - float(p["frame_s"])) / float(p["hop_s"]))) + 1)
        hits = []
        for ch in range(a.samples.shape[0]):
            start, freq, purity, level = tone_frames(a.samples[ch], sr, frame, hop)
            tonal = ((purity >= p["min_purity"]) & (level >= p["min_level_db"])
                     & (freq >= p["min_frequency_hz"]) & (freq <= p["max_frequency_hz"]))
            found = steady_runs(tonal, freq, level, span, float(p["max_frequency_drift_hz"]),
                                float(p["max_level_range_db"]))
            # A tone cut by the window's edge may be too short here; keep a steady tonal run that
            # touches an edge as a partial hit, for the merge to join with the next window's.
            n = len(tonal)
            for i, j in runs(tonal):
                if (i == 0 or j == n) and j - i >= 2 and not any(a_ <= i and j <= b for a_, b in found) \
                        and np.ptp(freq[i:j]) <= p["max_frequency_drift_hz"] and np.ptp(level[i:j]) <= p["max_level_range_db"]:
                    found.append((i, j))
            for i, j in found:
                t0 = float(a.start_s + start[i] / sr)
                t1 = float(a.start_s + (start[j - 1] + frame) / sr)
                hits.append(Hit(self.name, t0, t1, float(np.clip(float(np.median(purity[i:j])), 0.5, 1.0)), {
                    "channel": ch, "frequency_hz": round(float(np.median(freq[i:j])), 1),
                    "level_db": round(float(np.median(level[i:j])), 1),
                    "purity": round(float(np.median(purity[i:j])), 4),
                    "partial": bool(j - i < span),
                }))
        return hits

    def merge(self, hits: list[Hit]) -> list[Hit]:
        """One event per tone: hits on any channel at the same frequency (within 2 %) that touch
        or overlap join; ``details.channels`` lists the channels it is on."""
        gap = float(self.params["merge_gap_s"])
        events: list[Hit] = []
        for h in sorted(hits, key=lambda h: h.start_s):
            for e in events:
                f = e.details["frequency_hz"]
                if h.start_s <= e.end_s + gap and abs(h.details["frequency_hz"] - f) <= 0.02 * f:
                    e.end_s = max(e.end_s, h.end_s)
                    e.score = max(e.score, h.score)
                    if h.details["channel"] not in e.details["channels"]:
                        e.details["channels"].append(h.details["channel"])
                    e.details["level_db"] = max(e.details["level_db"], h.details["level_db"])
                    e.details["partial"] = e.details.get("partial", False) and h.details.get("partial", False)
                    break
            else:
                d = dict(h.details)
                d["channels"] = [d.pop("channel")]
                events.append(Hit(h.defect, h.start_s, h.end_s, h.score, d))
        # Partial hits (a tone cut by a window's edge) count only where they add up to the minimum.
        min_dur = float(self.params["min_duration_s"]) - 1e-3
        out = []
        for e in sorted(events, key=lambda e: e.start_s):
            partial = e.details.pop("partial", False)
            if partial and e.end_s - e.start_s < min_dur:
                continue
            out.append(e)
        return out
