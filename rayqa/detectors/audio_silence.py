"""Silence: audio whose peak stays below a level (FFmpeg silencedetect's rule)."""

from __future__ import annotations

import numpy as np

from rayqa.detectors.base import Detector, combine_edge, item_edge, runs
from rayqa.types import AudioSpec, Hit, ItemInfo, Window


def block_peak_db(samples: np.ndarray, block: int) -> np.ndarray:
    """Peak level in dBFS of each ``block``-sample block of mono ``samples``."""
    n = len(samples) // block
    if n == 0:
        return np.zeros(0)
    peaks = np.abs(samples[: n * block].reshape(n, block)).max(axis=1)
    return 20.0 * np.log10(np.maximum(peaks, 1e-10))


class AudioSilence(Detector):
    name = "audio_silence"
    defects = ("audio_silence",)
    audio = AudioSpec(sample_rate=16000, mono=True)
    version = "2"
    defaults = {
        "noise_db": -60.0,  # silencedetect n
        "min_duration_s": 1.0,  # silencedetect's d is 2 s; a 1-2 s dropout is a fault too
        "block_s": 0.02,
        # A lossy codec smears the cut into digital silence over about one 20 ms block each side
        # (AAC's overlapping transform): a neighbouring block quieter than noise_db + this joins
        # the silence, so a 1.00 s dropout measures 1.00 s, not 0.96 s.
        "transition_db": 20.0,
        "merge_gap_s": 0.05,
        "edge_tolerance_s": 0.5,  # an event this close to the item's start or end says so in details.edge
    }

    def detect(self, window: Window, info: ItemInfo) -> list[Hit]:
        a = window.audio[self.audio.key]
        block = max(1, int(round(self.params["block_s"] * a.sample_rate)))
        level = block_peak_db(a.samples[0], block)
        step = block / a.sample_rate
        hits = []
        edge_db = self.params["noise_db"] + self.params["transition_db"]
        for i, j in runs(level < self.params["noise_db"]):
            peak = float(level[i:j].max())
            i = i - 1 if i > 0 and level[i - 1] < edge_db else i
            j = j + 1 if j < len(level) and level[j] < edge_db else j
            start, end = a.start_s + i * step, a.start_s + j * step
            hits.append(Hit(
                "audio_silence", start, end,
                float(np.clip(0.5 + (self.params["noise_db"] - peak) / 80.0, 0.5, 1.0)),
                {"level_db": round(peak, 1),
                 "edge": item_edge(start, end, info.duration_s, float(self.params["edge_tolerance_s"]))},
            ))
        return hits

    def combine_details(self, kept: dict, other: dict) -> dict:
        # The event's level is its loudest part, so a person can check it against the threshold.
        return {**kept, "level_db": max(kept.get("level_db", -200.0), other.get("level_db", -200.0)),
                "edge": combine_edge(kept.get("edge"), other.get("edge"))}
