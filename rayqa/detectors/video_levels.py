"""Video levels: luma or chroma outside the broadcast range in a limited-range stream.

A limited-range ("TV") stream codes black at Y = 16 and white at 235, chroma within 16..240;
values beyond are "illegal" to a broadcaster (FFmpeg's ``signalstats`` counts them as BRNG). A
frame is out of range when more than ``max_share`` of its pixels have Y below ``luma_low`` or
above ``luma_high`` (EBU R103's tolerance by default), or U or V outside
``chroma_low``..``chroma_high``; a stretch of such frames
lasting ``min_duration_s`` is an event. Full-range streams (yuvj, ``color_range`` full) have no
such limit and are not checked; frames are the coded values (no range conversion), sampled
nearest-neighbour.
"""

from __future__ import annotations

import numpy as np

from rayqa.detectors.base import Detector, runs
from rayqa.types import Hit, ItemInfo, VideoSpec, Window


def out_of_range_shares(yuv: np.ndarray, luma_low: int, luma_high: int, chroma_low: int,
                        chroma_high: int) -> dict[str, np.ndarray]:
    """Per frame of coded ``(N, H, W, 3)`` Y, U, V values: the share of pixels with luma below /
    above the range and with either chroma component outside it."""
    n = len(yuv)
    y = yuv[..., 0].reshape(n, -1)
    uv = yuv[..., 1:].reshape(n, -1, 2)
    return {"luma_below": (y < luma_low).mean(axis=1), "luma_above": (y > luma_high).mean(axis=1),
            "chroma_out": ((uv < chroma_low) | (uv > chroma_high)).any(axis=2).mean(axis=1)}


class VideoLevels(Detector):
    name = "video_levels"
    defects = ("video_levels",)
    video = VideoSpec(fps=5.0, width=160, height=90, gray=False, raw=True)
    version = "1"
    # Measured on real programme (recall 1.00, no false alarm in 2 clean hours), but every bench
    # picture went through RGB into a limited-range encode, which cannot carry a camera's
    # super-whites (common above 235): unmeasured on natively YUV footage, so it runs when named.
    experimental = True
    defaults = {
        # EBU R103's tolerance: luma from -1 % to 103 % of the 16..235 range (encoders ring a
        # little past 235 at bright edges; signalstats' BRNG counts from 16 / 235 exactly); the
        # nominal chroma range. A pixel counts when it is beyond, and a frame when more than 1 %
        # of its pixels are (R103's own share).
        "luma_low": 14,
        "luma_high": 241,
        "chroma_low": 16,
        "chroma_high": 240,
        "max_share": 0.01,
        "min_duration_s": 1.0,
        "merge_gap_s": 0.4,
    }

    def applies_to(self, info: ItemInfo) -> bool:
        return super().applies_to(info) and info.color_range != "full" and (info.bit_depth or 8) == 8

    def detect(self, window: Window, info: ItemInfo) -> list[Hit]:
        v = window.video[self.video.key]
        if len(v.frames) == 0:
            return []
        p = self.params
        shares = out_of_range_shares(v.frames, int(p["luma_low"]), int(p["luma_high"]), int(p["chroma_low"]),
                                     int(p["chroma_high"]))
        worst = np.maximum.reduce([shares["luma_below"], shares["luma_above"], shares["chroma_out"]])
        step = 1.0 / self.video.fps
        hits = []
        for a, b in runs(worst > float(p["max_share"])):
            seg = v.frames[a:b]
            hits.append(Hit("video_levels", float(v.times_s[a]), float(v.times_s[b - 1] + step),
                            float(min(1.0, worst[a:b].max() / (10 * float(p["max_share"])))), {
                                "frame_index": int(v.frame_indices[a]),
                                "luma_below_share": round(float(shares["luma_below"][a:b].max()), 4),
                                "luma_above_share": round(float(shares["luma_above"][a:b].max()), 4),
                                "chroma_out_share": round(float(shares["chroma_out"][a:b].max()), 4),
                                "luma_min": int(seg[..., 0].min()), "luma_max": int(seg[..., 0].max()),
                                "limits": [int(p["luma_low"]), int(p["luma_high"]), int(p["chroma_low"]),
                                           int(p["chroma_high"])]}))
        return hits

    def combine_details(self, kept: dict, other: dict) -> dict:
        out = dict(kept)
        for k in ("luma_below_share", "luma_above_share", "chroma_out_share", "luma_max"):
            out[k] = max(kept[k], other[k])
        out["luma_min"] = min(kept["luma_min"], other["luma_min"])
        out["frame_index"] = min(kept["frame_index"], other["frame_index"])
        return out
