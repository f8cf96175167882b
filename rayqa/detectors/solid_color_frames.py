"""Solid-colour frames: pictures that are one flat colour but not black (a green or magenta
decoder output, a flat grey, a blue "no input" screen).

A frame is solid when nearly every pixel (``picture_threshold``, as blackdetect's pic_th) lies
within ``pixel_tolerance`` of the frame's median colour in every channel, and that colour is
brighter than black (its luma by BT.709 or BT.601 above ``min_luma``: darker is
``black_frames``' finding). A dark but textured scene fails the first test, a black one the second.
"""

from __future__ import annotations

import numpy as np

from rayqa.detectors.base import Detector, runs
from rayqa.types import Hit, ItemInfo, VideoSpec, Window

# Every frame up to 60 fps, small RGB: shared with flash_pse and frame_stutter (decoded once).
NATIVE_RGB = VideoSpec(fps=60.0, width=96, height=54, gray=False, from_planes=True)
LUMA_709 = np.array([0.2126, 0.7152, 0.0722])
LUMA_601 = np.array([0.299, 0.587, 0.114])


def uniformity(frames: np.ndarray, pixel_tolerance: float) -> tuple[np.ndarray, np.ndarray]:
    """Per RGB frame ``(N, H, W, 3)``: the share of pixels within ``pixel_tolerance`` (0..255) of
    the median colour in every channel, and that median colour ``(N, 3)``."""
    n = len(frames)
    px = frames.reshape(n, -1, 3).astype(np.int16)
    median = np.median(px, axis=1)
    close = (np.abs(px - median[:, None, :]) <= pixel_tolerance).all(axis=2)
    return close.mean(axis=1), median


def solid_mask(frames: np.ndarray, pixel_tolerance: float, picture_threshold: float, min_luma: float) -> np.ndarray:
    """Which frames are one flat, non-black colour."""
    if len(frames) == 0:
        return np.zeros(0, bool)
    out = np.zeros(len(frames), bool)
    # Most frames are far from flat: with a share p of pixels within the tolerance, the others
    # anywhere in 0..255, no channel's std exceeds this bound, so only frames under it need the median.
    bound = np.sqrt(picture_threshold * pixel_tolerance ** 2 + (1 - picture_threshold) * 255.0 ** 2)
    # Screened on every other row and column (a quarter of the work), with room for the sample;
    # only frames that pass both screens are measured in full.
    sample = frames[:, ::2, ::2]
    cand = np.flatnonzero(sample.reshape(len(frames), -1, 3).astype(np.float32).std(axis=1).max(axis=1) <= 1.2 * bound)
    if len(cand):
        share_s, _ = uniformity(sample[cand], pixel_tolerance)
        cand = cand[share_s >= picture_threshold - 0.03]
    if len(cand):
        share, median = uniformity(frames[cand], pixel_tolerance)
        # Brighter than black by either matrix: black_frames reads the coded luma, which is BT.601's
        # for most streams, and pure blue (BT.709 luma 18, BT.601 29) fell between the two rules.
        luma = np.maximum(median @ LUMA_709, median @ LUMA_601)
        out[cand] = (share >= picture_threshold) & (luma > min_luma)
    return out


class SolidColorFrames(Detector):
    name = "solid_color_frames"
    defects = ("solid_color_frames",)
    video = NATIVE_RGB
    version = "3"
    defaults = {
        "pixel_tolerance": 10,  # 0..255 per channel: encoder noise on a flat colour stays well inside
        # Share of pixels at the colour (a small logo may remain). 0.98 took plain title cards with a
        # line of text (0.985-0.993 at 96x54) for solid frames: 2.7 false events a clean real hour.
        "picture_threshold": 0.995,
        "min_luma": 0.10 * 255,  # black_frames' pixel threshold: darker is black, not a colour
        "min_duration_s": 0.5,  # a flash or a fade through white is shorter
        "merge_gap_s": 0.1,
    }

    def detect(self, window: Window, info: ItemInfo) -> list[Hit]:
        v = window.video[self.video.key]
        if len(v.frames) == 0:
            return []
        p = self.params
        mask = solid_mask(v.frames, p["pixel_tolerance"], p["picture_threshold"], p["min_luma"])
        step = _frame_step(v.times_s, info)
        hits = []
        for a, b in runs(mask):
            seg = v.frames[a:b].reshape(-1, 3).astype(np.float64)
            share, _ = uniformity(v.frames[a:b], p["pixel_tolerance"])
            hits.append(Hit(
                "solid_color_frames", float(v.times_s[a]), float(v.times_s[b - 1] + step), float(share.min()),
                {"frame_index": int(v.frame_indices[a]), "mean_rgb": [round(float(c), 1) for c in seg.mean(axis=0)],
                 "std": round(float(seg.std(axis=0).max()), 2), "uniform_pixel_ratio": round(float(share.min()), 4)},
            ))
        return hits

    def combine_details(self, kept: dict, other: dict) -> dict:
        return {**kept, "frame_index": min(kept["frame_index"], other["frame_index"]),
                "std": max(kept["std"], other["std"]),
                "uniform_pixel_ratio": min(kept["uniform_pixel_ratio"], other["uniform_pixel_ratio"])}


def _frame_step(times_s: np.ndarray, info: ItemInfo) -> float:
    """One frame's display time: the declared rate's, else the sampled frames' spacing."""
    if info.fps:
        return 1.0 / min(info.fps, NATIVE_RGB.fps)
    if len(times_s) > 1:
        return float(np.median(np.diff(times_s)))
    return 1.0 / 25.0
