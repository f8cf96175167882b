"""Interlacing: combing on content declared progressive.

Two fields of an interlaced picture are a field period apart, so where the picture moves, each
row differs from both rows next to it in the same direction while rows of its own field (two
apart) agree: "combing", energy at the field rate that a progressive picture's own detail
rarely has (FFmpeg's ``idet`` tests the same thing pixel by pixel). Only pixels that changed
since the previous sample count, so a still fine horizontal texture (stripes, text) is not
mistaken for combing. Frames are a centre crop of the luma plane at its
own pixel pitch (scaling would blur the combs away). An item whose stream declares itself
interlaced (``field_order`` tff / bff) is not checked unless ``check_declared_interlaced``.
"""

from __future__ import annotations

import numpy as np

from rayqa.detectors.base import Detector, runs
from rayqa.types import Hit, ItemInfo, VideoSpec, Window


def comb_ratio(frames: np.ndarray, previous: np.ndarray | None, motion_threshold: float) -> np.ndarray:
    """Per luma frame ``(N, H, W)``: over the pixels that changed since the previous frame, the
    energy of the one-row vertical second difference (which peaks at the field rate: combing)
    over that of the two-row one (blind to the field rate, so it measures the picture's own
    vertical detail). Progressive pictures stay well under 1 (natural detail falls with
    frequency); woven fields of a moving picture approach or pass it. ``previous``: the frame
    before the first (None: the first is not judged, 0)."""
    f = frames.astype(np.float32)
    n = len(f)
    out = np.zeros(n)
    if n == 0 or f.shape[1] < 5:
        return out
    d1 = np.abs(2 * f[:, 2:-2] - f[:, 1:-3] - f[:, 3:-1])
    d2 = np.abs(2 * f[:, 2:-2] - f[:, :-4] - f[:, 4:])
    before = np.concatenate([previous[None].astype(np.float32), f[:-1]]) if previous is not None else np.concatenate([f[:1], f[:-1]])
    moving = (np.abs(f - before) > motion_threshold)[:, 2:-2]
    for i in range(n):
        m = moving[i]
        if m.mean() >= 0.01:  # too little motion to judge: a still picture shows no combing
            out[i] = float(d1[i][m].sum() / max(d2[i][m].sum(), 1e-6))
    if previous is None:
        out[0] = 0.0
    return out


class Interlacing(Detector):
    name = "interlacing"
    defects = ("interlacing",)
    video = VideoSpec(fps=10.0, width=320, height=180, gray=True, crop=True)
    version = "1"
    # Measured on synthetic pans only (tests); unmeasured on real progressive footage.
    experimental = True
    defaults = {
        "motion_threshold": 12,  # luma levels of change since the previous sample
        # comb_ratio: progressive test scenes sit at 0.70-0.75, woven fields of slow pans at 0.9+
        "min_comb_ratio": 0.85,
        "min_duration_s": 1.0,
        "merge_gap_s": 0.3,
        "check_declared_interlaced": False,
    }

    def applies_to(self, info: ItemInfo) -> bool:
        declared = info.field_order in ("tff", "bff")
        return super().applies_to(info) and (not declared or bool(self.params["check_declared_interlaced"]))

    def detect(self, window: Window, info: ItemInfo) -> list[Hit]:
        v = window.video[self.video.key]
        if len(v.frames) < 2:
            return []
        p = self.params
        ratio = comb_ratio(v.frames, None, float(p["motion_threshold"]))
        ratio[0] = ratio[1]  # the window's first sample has no predecessor here: judge it like the next
        step = 1.0 / self.video.fps
        hits = []
        for a, b in runs(ratio >= float(p["min_comb_ratio"])):
            hits.append(Hit("interlacing", float(v.times_s[a]), float(v.times_s[b - 1] + step),
                            float(min(1.0, ratio[a:b].max() / 1.2)),
                            {"frame_index": int(v.frame_indices[a]), "comb_ratio": round(float(ratio[a:b].max()), 3),
                             "field_order": info.field_order}))
        return hits

    def combine_details(self, kept: dict, other: dict) -> dict:
        return {**kept, "frame_index": min(kept["frame_index"], other["frame_index"]),
                "comb_ratio": max(kept["comb_ratio"], other["comb_ratio"])}
