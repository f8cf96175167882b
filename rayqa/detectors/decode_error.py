"""Decode errors: where the decoder concealed corrupt data, refused packets or gave up."""

from __future__ import annotations

from rayqa.detectors.base import Detector
from rayqa.types import Hit, ItemInfo, Window


class DecodeError(Detector):
    name = "decode_error"
    defects = ("decode_error",)
    version = "1"
    defaults = {"merge_gap_s": 1.0, "min_duration_s": 0.0}

    def applies_to(self, info: ItemInfo) -> bool:
        return info.has_video or info.has_audio

    def detect(self, window: Window, info: ItemInfo) -> list[Hit]:
        fps = info.fps or 25.0
        return [
            Hit("decode_error", d.start_s, max(d.end_s, d.start_s + 1.0 / fps), 1.0, {
                "stream": d.stream, "decoder": d.decoder, "message": d.message, "gave_up": d.gave_up,
                **({"frame_index": int(round(d.start_s * fps))} if d.stream == "video" else {}),
            })
            for d in window.damage
        ]

    def combine_details(self, kept: dict, other: dict) -> dict:
        messages = kept.get("messages") or [kept.get("message")]
        if other.get("message") not in messages:
            messages = messages + [other.get("message")]
        return {**kept, "messages": messages[:5], "gave_up": bool(kept.get("gave_up") or other.get("gave_up"))}
