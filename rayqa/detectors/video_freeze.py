"""Frozen video: a stretch of frames that all repeat one picture.

FFmpeg's freezedetect compares each frame with the one before against a mean-difference floor;
on real content that cannot tell a repeated picture from a slow camera move over a still
photograph (a pan of 0.05 px per frame changes each frame by far less than an encoder's noise).
Here a frame belongs to a freeze only when it matches its neighbour AND the frame ``lag_s``
before it (motion accumulates over the lag, a repeated picture stays the same), where "matches"
is judged by the most-changed 8x8 block, not the mean (a pan moves edges, which are few pixels).
A lossy encoder keeps refining a frozen picture for a few frames and re-sends it at keyframes:
that noise stays under ``max_block_difference`` (measured at 320x180: at most about 3.2 grey
levels at crf 23, against 6.7 or more for a 0.05 px/frame zoom over 0.8 s).
"""

from __future__ import annotations

import numpy as np

from rayqa.detectors.base import Detector, combine_edge, item_edge, runs
from rayqa.types import Hit, ItemInfo, VideoSpec, Window


def frame_differences(frames: np.ndarray) -> np.ndarray:
    """Mean absolute difference between each frame and the one before, as a fraction of full scale."""
    if len(frames) < 2:
        return np.zeros(0)
    f = frames.reshape(len(frames), -1).astype(np.int16)
    return np.abs(np.diff(f, axis=0)).mean(axis=1) / 255.0


def block_max_difference(a: np.ndarray, b: np.ndarray, block: int = 8) -> np.ndarray:
    """For each pair of gray frames ``a[i]``, ``b[i]`` (n, h, w): the mean absolute difference of
    the most-changed ``block`` x ``block`` block, in grey levels (0..255)."""
    n, h, w = a.shape
    if n == 0:
        return np.zeros(0)
    hb, wb = max(1, h // block), max(1, w // block)
    bh, bw = min(block, h), min(block, w)
    a, b = a[:, : hb * bh, : wb * bw], b[:, : hb * bh, : wb * bw]
    if a.dtype == np.uint8 and b.dtype == np.uint8 and bh * bw <= 257:
        # |a - b| in uint8 and block sums in uint16 (at most 257 * 255): exact, and ~5x cheaper than int16.
        d = np.maximum(a, b) - np.minimum(a, b)
        sums = d.reshape(n, hb, bh, wb * bw).sum(axis=2, dtype=np.uint16).reshape(n, hb, wb, bw).sum(axis=3, dtype=np.uint16)
        return sums.max(axis=(1, 2)) / float(bh * bw)
    d = np.abs(a.astype(np.int16) - b.astype(np.int16))
    return d.reshape(n, hb, bh, wb, bw).mean(axis=(2, 4)).max(axis=(1, 2))


def frozen_frames(frames: np.ndarray, lag: int, limit: float, block: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """Which frames (n, h, w gray) belong to a freeze, and per frame the largest block difference
    seen by the tests that put it there. A frame is frozen when it and its neighbours match
    consecutively and the frames ``lag`` apart in that run match too. A still run that touches
    the window's first or last frame but is shorter than ``lag`` (its rest lies in the next
    window) is judged by its own first and last frame."""
    n = len(frames)
    covered = np.zeros(n, bool)
    worst = np.zeros(n)
    if n < 2:
        return covered, worst
    cons = block_max_difference(frames[1:], frames[:-1], block)
    lag = max(1, int(lag))
    for a, b in runs(cons <= limit):  # pairs a..b-1: frames a..b change little from one to the next
        if b - a >= lag:
            d = block_max_difference(frames[a + lag : b + 1], frames[a : b + 1 - lag], block)
            for p, q in runs(d <= limit):  # pairs (a+i, a+i+lag), i in p..q-1
                lo, hi = a + p, a + q - 1 + lag
                covered[lo : hi + 1] = True
                worst[lo : hi + 1] = np.maximum(worst[lo : hi + 1], max(float(d[p:q].max()), float(cons[lo:hi].max())))
        elif a == 0 or b == n - 1:
            d = float(block_max_difference(frames[b : b + 1], frames[a : a + 1], block)[0])
            if d <= limit:
                covered[a : b + 1] = True
                worst[a : b + 1] = max(d, float(cons[a:b].max()))
    return covered, worst


class VideoFreeze(Detector):
    name = "video_freeze"
    defects = ("video_freeze",)
    # 320x180, not the 160x90 black_frames looks at: thin detail (text on a title card creeping in)
    # aliases away at 160x90, and with it the motion that tells a slow move from a freeze.
    video = VideoSpec(fps=10.0, width=320, height=180, gray=True)
    version = "2"
    defaults = {
        # Grey levels: the mean absolute difference of the most-changed 8x8 block (of 320x180).
        # Measured on H.264 (crf 23): a re-encoded freeze stays within 3.2; a 0.05 px/frame zoom
        # over a photo, or a title card creeping in, reaches 6.7 or more over lag_s.
        "max_block_difference": 4.5,
        # Frames this far apart must match too: a slow pan or zoom accumulates motion over it. At
        # most min_duration_s less one sample, so that a freeze of exactly the minimum is seen.
        "lag_s": 0.8,
        "block": 8,
        # Flat frames (black, one colour) are the black/solid-colour detectors' findings, not a freeze.
        "min_frame_std": 2.0,
        "min_duration_s": 1.0,  # freezedetect's d is 2 s
        "merge_gap_s": 0.15,
        "edge_tolerance_s": 0.5,  # an event this close to the item's start or end says so in details.edge
    }

    def detect(self, window: Window, info: ItemInfo) -> list[Hit]:
        v = window.video.get(self.video.key)
        if v is None and len(window.video) == 1:
            # Gray frames decoded at another size (a caller's own window): the rule holds at any
            # size; the threshold is calibrated at 320x180.
            v = next(iter(window.video.values()))
        if v is None:
            raise KeyError(self.video.key)
        if len(v.frames) < 2:
            return []
        p = self.params
        step = 1.0 / self.video.fps
        lag = int(round(min(float(p["lag_s"]), float(p["min_duration_s"]) - step) * self.video.fps))
        limit = float(p["max_block_difference"])
        frozen, worst = frozen_frames(v.frames, max(1, lag), limit, int(p["block"]))
        detailed = np.zeros(len(v.frames), bool)
        idx = np.flatnonzero(frozen)  # only candidates: the std of every frame would cost more than the rest
        if idx.size:
            detailed[idx] = v.frames[idx].reshape(idx.size, -1).std(axis=1) >= p["min_frame_std"]
        hits = []
        for a, b in runs(frozen & detailed):
            if b - a < 2:
                continue
            w = float(worst[a:b].max())
            # A sample stands for the time up to the next one (frame times are the video's own,
            # not an exact 10 fps grid): the event ends where the first moving sample starts.
            start = float(v.times_s[a])
            end = float(v.times_s[b]) if b < len(v.times_s) else float(v.times_s[b - 1] + step)
            hits.append(Hit(
                "video_freeze", start, end, float(1.0 - min(1.0, w / limit) * 0.5),
                {"frame_index": int(v.frame_indices[a]), "max_block_difference": round(w, 3),
                 "edge": item_edge(start, end, info.duration_s, float(p["edge_tolerance_s"]))},
            ))
        return hits

    def combine_details(self, kept: dict, other: dict) -> dict:
        # The event starts at its first frozen frame; its evidence is its least-frozen pair.
        return {"frame_index": min(kept["frame_index"], other["frame_index"]),
                "max_block_difference": max(kept["max_block_difference"], other["max_block_difference"]),
                "edge": combine_edge(kept.get("edge"), other.get("edge"))}
