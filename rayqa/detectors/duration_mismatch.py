"""Duration mismatch: the audio and video streams of one item differ in length."""

from __future__ import annotations

from rayqa.detectors.base import Detector
from rayqa.types import Hit, ItemInfo


class DurationMismatch(Detector):
    name = "duration_mismatch"
    defects = ("duration_mismatch",)
    version = "1"
    defaults = {"max_difference_s": 0.5}

    def applies_to(self, info: ItemInfo) -> bool:
        return info.has_video and info.has_audio

    def check_item(self, info: ItemInfo) -> list[Hit]:
        if not self.applies_to(info) or info.video_duration_s is None or info.audio_duration_s is None:
            return []
        v, a = info.video_duration_s, info.audio_duration_s
        diff = abs(v - a)
        if diff <= self.params["max_difference_s"]:
            return []
        return [Hit("duration_mismatch", min(v, a), max(v, a), 1.0, {
            "video_duration_s": round(v, 3), "audio_duration_s": round(a, 3),
            "difference_s": round(v - a, 3), "longer": "video" if v > a else "audio",
        })]
