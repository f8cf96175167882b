"""DC offset: a constant component per channel beyond a level, for a minimum duration.

Per channel, the signal's mean over 10 ms blocks, low-passed at ``lowpass_hz`` (zero phase, so an
offset that starts or stops is placed where it does) is the DC estimate; programme content, even
bass, averages out far below the default level (−40 dBFS, 1 % of full scale). A stretch where the
estimate's magnitude stays at or above the level for ``min_duration_s`` is an event;
``details.level_db`` is its median offset in dBFS and ``details.offset`` its signed value.
"""

from __future__ import annotations

import numpy as np

from rayqa.detectors.base import Detector, runs
from rayqa.types import AudioSpec, Hit, ItemInfo, Window

BLOCK_S = 0.01


def dc_estimate(samples: np.ndarray, sample_rate: int, lowpass_hz: float = 2.0) -> np.ndarray:
    """DC estimate per channel every 10 ms: (channels, n_blocks)."""
    from scipy.signal import butter, sosfiltfilt

    block = max(1, int(round(BLOCK_S * sample_rate)))
    n = samples.shape[1] // block
    if n == 0:
        return np.zeros((samples.shape[0], 0))
    means = samples[:, : n * block].reshape(samples.shape[0], n, block).mean(axis=2, dtype=np.float64)
    if n < 16:
        return means
    sos = butter(2, lowpass_hz, fs=1.0 / BLOCK_S, output="sos")
    return sosfiltfilt(sos, means, axis=1, padlen=min(n - 1, 50))


class DcOffset(Detector):
    name = "dc_offset"
    defects = ("dc_offset",)
    audio = AudioSpec(sample_rate=48000, mono=False)
    version = "1"
    defaults = {
        "level_db": -40.0,  # |offset| at or above this (dBFS): 0.01 of full scale
        "min_duration_s": 1.0,
        "lowpass_hz": 2.0,
        "merge_gap_s": 0.1,
    }

    def detect(self, window: Window, info: ItemInfo) -> list[Hit]:
        a = window.audio.get(self.audio.key)
        if a is None or a.samples.shape[1] == 0:
            return []
        level = 10.0 ** (float(self.params["level_db"]) / 20.0)
        dc = dc_estimate(a.samples, a.sample_rate, float(self.params["lowpass_hz"]))
        step = max(1, int(round(BLOCK_S * a.sample_rate))) / a.sample_rate
        hits = []
        for ch in range(dc.shape[0]):
            for i, j in runs(np.abs(dc[ch]) >= level):
                off = float(np.median(dc[ch, i:j]))
                hits.append(Hit(self.name, a.start_s + i * step, a.start_s + j * step,
                                float(np.clip(0.5 + (20 * np.log10(abs(off) + 1e-12) - self.params["level_db"]) / 40, 0.5, 1.0)),
                                {"channel": ch, "offset": round(off, 5), "level_db": round(float(20 * np.log10(abs(off) + 1e-12)), 1)}))
        return hits

    def merge(self, hits: list[Hit]) -> list[Hit]:
        """Per channel, the base rule (touching hits join; shorter than ``min_duration_s`` dropped)."""
        out = []
        for ch in sorted({h.details["channel"] for h in hits}):
            out.extend(super().merge([h for h in hits if h.details["channel"] == ch]))
        return sorted(out, key=lambda e: (e.start_s, e.details["channel"]))
