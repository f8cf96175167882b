"""Frozen video: consecutive frames that do not change (FFmpeg freezedetect's rule)."""

from __future__ import annotations

import numpy as np

from rayqa.detectors.base import Detector, runs
from rayqa.types import Hit, ItemInfo, VideoSpec, Window


def frame_differences(frames: np.ndarray) -> np.ndarray:
    """Mean absolute difference between each frame and the one before, as a fraction of full scale."""
    if len(frames) < 2:
        return np.zeros(0)
    f = frames.reshape(len(frames), -1).astype(np.int16)
    return np.abs(np.diff(f, axis=0)).mean(axis=1) / 255.0


class VideoFreeze(Detector):
    name = "video_freeze"
    defects = ("video_freeze",)
    video = VideoSpec(fps=10.0, width=160, height=90, gray=True)
    version = "1"
    defaults = {
        # freezedetect's n is -60 dB; lossy encoders keep refining a frozen picture for a few frames
        # and re-send it at each keyframe (about -52 dB on the test clips), so -50 dB finds the whole freeze.
        "noise_db": -50.0,
        # Flat frames (black, one colour) are the black/solid-colour detectors' findings, not a freeze.
        "min_frame_std": 2.0,
        "min_duration_s": 2.0,  # freezedetect d
        "merge_gap_s": 0.15,
    }

    def detect(self, window: Window, info: ItemInfo) -> list[Hit]:
        v = window.video[self.video.key]
        diffs = frame_differences(v.frames)
        if diffs.size == 0:
            return []
        limit = 10 ** (self.params["noise_db"] / 20.0)
        step = 1.0 / self.video.fps
        hits = []
        # Pair i compares frame i and i+1: a frozen run of pairs a..b-1 covers frames a..b.
        detailed = v.frames.reshape(len(v.frames), -1).std(axis=1) >= self.params["min_frame_std"]
        for a, b in runs((diffs <= limit) & detailed[1:] & detailed[:-1]):
            worst = float(diffs[a:b].max())
            hits.append(Hit(
                "video_freeze", float(v.times_s[a]), float(v.times_s[b] + step), float(1.0 - min(1.0, worst / limit) * 0.5),
                {"frame_index": int(v.frame_indices[a]), "max_frame_difference": round(worst, 6)},
            ))
        return hits

    def combine_details(self, kept: dict, other: dict) -> dict:
        # The event starts at its first frozen frame; its evidence is its least-frozen pair.
        return {"frame_index": min(kept["frame_index"], other["frame_index"]),
                "max_frame_difference": max(kept["max_frame_difference"], other["max_frame_difference"])}
