"""Black frames: stretches where nearly every pixel is near black (FFmpeg blackdetect's rule)."""

from __future__ import annotations

import numpy as np

from rayqa.detectors.base import Detector, combine_edge, item_edge, runs
from rayqa.types import Hit, ItemInfo, VideoSpec, Window


def black_ratio(frames: np.ndarray, pixel_threshold: float) -> np.ndarray:
    """Fraction of pixels per frame whose full-range luma is at or below ``pixel_threshold`` (0..1)."""
    limit = int(round(pixel_threshold * 255))
    return (frames.reshape(len(frames), -1) <= limit).mean(axis=1)


class BlackFrames(Detector):
    name = "black_frames"
    defects = ("black_frames",)
    video = VideoSpec(fps=10.0, width=160, height=90, gray=True)
    version = "3"
    defaults = {
        "pixel_threshold": 0.10,  # blackdetect pix_th
        "picture_threshold": 0.98,  # blackdetect pic_th: fraction of pixels that must be black
        "min_duration_s": 1.0,  # blackdetect's d is 2 s; a mid-programme drop of 1-2 s is a fault too
        "merge_gap_s": 0.15,  # join spans split by one missing sample at 10 fps
        # ... but a stretch must be black for 80 % of its length: a picture flashing between
        # black and white at a few hertz (flash_pse's finding) joins into no black stretch.
        "min_coverage": 0.8,
        "edge_tolerance_s": 0.5,  # an event this close to the item's start or end says so in details.edge
    }

    def detect(self, window: Window, info: ItemInfo) -> list[Hit]:
        v = window.video[self.video.key]
        if len(v.frames) == 0:
            return []
        ratio = black_ratio(v.frames, self.params["pixel_threshold"])
        step = 1.0 / self.video.fps
        hits = []
        for a, b in runs(ratio >= self.params["picture_threshold"]):
            seg = v.frames[a:b]
            # A sample stands for the time up to the next one (frame times are the video's own,
            # not an exact 10 fps grid): the event ends where the first non-black sample starts.
            start = float(v.times_s[a])
            end = float(v.times_s[b]) if b < len(v.times_s) else float(v.times_s[b - 1] + step)
            hits.append(Hit(
                "black_frames", start, end, float(ratio[a:b].min()),
                {"frame_index": int(v.frame_indices[a]), "black_pixel_ratio": round(float(ratio[a:b].min()), 4),
                 "mean_luma": round(float(seg.mean()), 2),
                 "edge": item_edge(start, end, info.duration_s, float(self.params["edge_tolerance_s"]))},
            ))
        return hits

    def combine_details(self, kept: dict, other: dict) -> dict:
        return {"frame_index": min(kept["frame_index"], other["frame_index"]),
                "black_pixel_ratio": min(kept["black_pixel_ratio"], other["black_pixel_ratio"]),
                "mean_luma": max(kept["mean_luma"], other["mean_luma"]),
                "edge": combine_edge(kept.get("edge"), other.get("edge"))}
