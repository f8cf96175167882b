"""Frame stutter: repeated and dropped frames in moving content, from the pictures and from the
presentation times against the declared frame rate.

From content (frames at the native rate, every frame up to 60 fps): the mean absolute difference
of each frame from the one before, against the median of its neighbours' (``context`` pairs on
each side). A *repeat* is a pair nearly still (under ``repeat_ratio`` of the local motion) in a
run of at most ``max_repeat_frames``, with motion on both sides: a long still run is a freeze
(``video_freeze``) and is not reported here. A *drop* is a pair that looks like two frames' motion (the local
median of two-frame differences) rather than one's, but under ``cut_ratio`` times the local
motion, with motion on both sides: a skipped picture doubles the step, while a cut changes far
more. Where motion is too fast for the picture's detail (one- and two-frame differences alike)
no drop can be told from content. From timestamps: consecutive frames more than 1.5 frame periods apart
(outside spans the decoder reported damaged, which are ``decode_error``'s).

Footage converted from another frame rate by repeating or dropping pictures (15 or 20 fps shown
at 25, 30 shown at 25) has a steady cadence: near-still pairs (under ``cadence_still_ratio`` of
the larger neighbour) or jumps (``cadence_jump_ratio`` times it) in a share of every second (at
least ``cadence_share``) for as long as the shot lasts. That is the source, not stutter: content anomalies inside such a cadence lasting at
least ``cadence_min_s`` (joined across windows) are not reported. Stutter is a change that
comes and goes within ``cadence_min_s``; a longer one reads as the source's cadence and is missed.
(Real footage retimed so made 214 false events a clean hour on the real-content benchmark
before this rule.)

Anomalies closer than ``merge_gap_s`` form one event, reported when it holds at least
``min_anomalies``; a pair across a window boundary is not seen.
"""

from __future__ import annotations

import numpy as np

from rayqa.detectors.base import Detector, runs
from rayqa.types import Hit, ItemInfo, VideoSpec, Window

LUMA_709 = np.array([0.2126, 0.7152, 0.0722], np.float32)


def _luma(frames: np.ndarray) -> np.ndarray:
    f = frames.astype(np.float32)
    if f.ndim == 4:
        f = f @ LUMA_709
    return f.reshape(len(f), -1)


def pair_differences(frames: np.ndarray, step: int = 1) -> np.ndarray:
    """Mean absolute luma difference of each frame from the one ``step`` before (N - step,), 0..1;
    frames are gray ``(N, H, W)`` or RGB ``(N, H, W, 3)`` uint8."""
    if len(frames) <= step:
        return np.zeros(0)
    f = _luma(frames)
    return np.abs(f[step:] - f[:-step]).mean(axis=1) / 255.0


def local_motion(d: np.ndarray, context: int) -> np.ndarray:
    """Median of the ``context`` values on each side of each value, the value itself left out."""
    n = len(d)
    if n == 0:
        return d.copy()
    pad = np.pad(d.astype(np.float64), context, mode="constant", constant_values=np.nan)
    win = np.lib.stride_tricks.sliding_window_view(pad, 2 * context + 1).copy()
    win[:, context] = np.nan
    out = np.full(n, np.nan)
    ok = (~np.isnan(win)).sum(axis=1) >= 2
    out[ok] = np.nanmedian(win[ok], axis=1)
    return out


def content_anomalies(d: np.ndarray, d2: np.ndarray | None = None, context: int = 4, min_motion: float = 0.004,
                      repeat_ratio: float = 0.15, jump_fraction: float = 0.6, min_separation: float = 1.4,
                      cut_ratio: float = 4.0, max_repeat_frames: int = 3,
                      max_motion: float = 0.12) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per pair of frames: repeats, drops (bool) and the pair's difference over its local motion.
    Motion is judged between ``min_motion`` and ``max_motion`` (above it are cuts and flashing).

    ``d`` are one-frame differences, ``d2`` two-frame ones (``d2[k]`` spans frames ``k`` to
    ``k + 2``). A skipped picture makes a one-frame pair look like a two-frame one, so a drop is a
    pair at least ``jump_fraction`` of the way from the local one-frame motion to the local
    two-frame motion, judged only where the two are told apart (two-frame motion at least
    ``min_separation`` times one-frame: fast motion over fine texture saturates both)."""
    n = len(d)
    m = local_motion(d, context)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(m > 0, d / m, np.nan)
    m = np.nan_to_num(m)
    moving = (m >= min_motion) & (m <= max_motion)
    repeat = np.zeros(n, bool)
    for a, b in runs(moving & (np.nan_to_num(ratio, nan=1.0) <= repeat_ratio)):
        # Motion on both sides: a still run that goes on (a freeze) or ends the window says nothing.
        # Ordinary motion on both sides, not cuts: a strobe or flashing repeats pictures on purpose.
        before_ok = a > 0 and 0.5 * m[a] <= d[a - 1] <= cut_ratio * m[a]
        after_ok = b < n and 0.5 * m[b - 1] <= d[b] <= cut_ratio * m[b - 1]
        if b - a <= max_repeat_frames and before_ok and after_ok:
            repeat[a:b] = True
    drop = np.zeros(n, bool)
    if d2 is not None and n >= 3:
        # Two-frame motion around pair k: the d2 values that do not include pair k itself.
        m2 = np.zeros(n)
        m2[1:] = np.nan_to_num(local_motion(d2, context))  # d2[k - 1] spans pairs k - 1 and k
        sep = m2 >= min_separation * m
        level = m + jump_fraction * (m2 - m)
        both = np.zeros(n, bool)
        both[1:-1] = (d[:-2] >= 0.5 * m[1:-1]) & (d[2:] >= 0.5 * m[1:-1])
        drop = moving & sep & both & (d >= level) & (d <= cut_ratio * m)
    return repeat, drop, ratio


def cadence_seconds(times_s: np.ndarray, d: np.ndarray, still_ratio: float, jump_ratio: float, share: float,
                    min_motion: float) -> list[float]:
    """The whole seconds of item time (``floor(t)``) in which at least ``share`` of the pairs are
    near-still against their larger neighbour (under ``still_ratio`` of it: a picture shown
    twice) or jump over it (``jump_ratio`` times it or more: a picture left out), in moving
    content: the regular pattern of footage converted from another frame rate."""
    if len(d) < 3:
        return []
    nb = np.maximum(np.r_[d[1:2], d[:-1]], np.r_[d[1:], d[-2:-1]])  # the larger neighbour of each pair
    moving = nb >= min_motion
    odd = moving & ((d < still_ratio * nb) | (d >= jump_ratio * nb))
    sec = np.floor(times_s[1:] + 1e-6)
    return [float(s) for s in np.unique(sec) if odd[sec == s].mean() >= share]


def timestamp_gaps(times_s: np.ndarray, fps: float, tolerance: float = 1.5) -> list[tuple[int, int]]:
    """``(i, frames missing)`` where frame ``i`` comes more than ``tolerance`` periods after frame ``i - 1``."""
    if len(times_s) < 2 or not fps:
        return []
    steps = np.diff(times_s) * fps
    return [(int(i) + 1, int(round(steps[i])) - 1) for i in np.flatnonzero(steps > tolerance)]


class FrameStutter(Detector):
    name = "frame_stutter"
    defects = ("frame_stutter",)
    # Every frame up to 60 fps, small RGB: shared with solid_color_frames and flash_pse.
    video = VideoSpec(fps=60.0, width=96, height=54, gray=False, from_planes=True)
    version = "4"  # 4: damage reported before the window (recent_damage) excuses its repeats too
    # On the real-content benchmark's clean programme the cadence rule took false events from 214
    # to about a sixth of that on its worst items, still tens an hour (short retimed shots, fast
    # pans): runs only when named until that is under 1 an hour.
    experimental = True
    defaults = {
        "context": 4,  # pairs on each side that set the local motion
        "min_motion": 0.004,  # local motion (mean |difference|, 0..1) under which nothing is judged
        "max_motion": 0.12,  # local motion over this is cuts or flashing, not motion to judge
        "repeat_ratio": 0.15,  # a pair this still against the local motion repeats a picture
        "max_repeat_frames": 3,  # longer still runs are freezes (video_freeze)
        "jump_fraction": 0.6,  # a pair this far from one-frame towards two-frame motion skipped a picture ...
        "min_separation": 1.4,  # ... where two-frame motion is this much larger (else undecidable) ...
        "cut_ratio": 3.0,  # ... unless it is this far above the local motion: a cut (or bars appearing)
        "timestamps": True,  # also report gaps in the presentation times
        "min_anomalies": 2,  # an event holds at least this many repeats / drops
        "merge_gap_s": 1.0,
        "cadence_still_ratio": 0.35,  # a pair this still against its larger neighbour repeats a picture ...
        "cadence_jump_ratio": 1.35,  # ... one this much above it leaves one out ...
        "cadence_share": 0.12,  # ... together in this share of a second's pairs: a cadence second ...
        "cadence_min_s": 4.0,  # ... and this many in a row are the source's frame rate, not stutter
    }

    def detect(self, window: Window, info: ItemInfo) -> list[Hit]:
        v = window.video[self.video.key]
        if len(v.frames) < 3:
            return []
        p = self.params
        native = float(info.fps) if info.fps else 0.0
        frame_s = 1.0 / native if native else float(np.median(np.diff(v.times_s)))
        d = pair_differences(v.frames)
        d2 = pair_differences(v.frames, 2)
        repeat, jump, ratio = content_anomalies(d, d2, int(p["context"]), p["min_motion"], p["repeat_ratio"],
                                                p["jump_fraction"], p["min_separation"], p["cut_ratio"],
                                                int(p["max_repeat_frames"]), p["max_motion"])
        # Concealed damage repeats and smears pictures: that is decode_error's finding.
        damaged = [(dm.start_s, dm.end_s) for dm in window.video_reports()]
        hits = [Hit("frame_stutter", s, s + 1.0, 0.0, {"kind": "_cadence"})
                for s in cadence_seconds(v.times_s, d, p["cadence_still_ratio"], p["cadence_jump_ratio"],
                                                 p["cadence_share"], p["min_motion"])]
        for kind, mask in (("repeat", repeat), ("drop", jump)):
            for k in np.flatnonzero(mask):
                i = int(k) + 1  # pair k compares frames k and k + 1: the anomaly is frame k + 1
                t = float(v.times_s[i])
                if any(a - frame_s <= t <= b + frame_s for a, b in damaged):
                    continue
                score = 1.0 - float(ratio[k]) if kind == "repeat" else min(1.0, (float(ratio[k]) - 1.0) / 2.0)
                hits.append(Hit("frame_stutter", t, t + frame_s, max(0.0, score), {
                    "kind": kind, "cause": "content", "frame_index": int(v.frame_indices[i]),
                    "motion_ratio": round(float(ratio[k]), 3)}))
        if p["timestamps"] and native and native <= self.video.fps:
            for i, missing in timestamp_gaps(v.times_s, native):
                t = float(v.times_s[i])
                if any(a - frame_s <= t <= b + frame_s for a, b in damaged):
                    continue
                hits.append(Hit("frame_stutter", float(v.times_s[i - 1]) + frame_s, t + frame_s, 1.0, {
                    "kind": "drop", "cause": "timestamps", "frame_index": int(v.frame_indices[i]),
                    "missing_frames": missing}))
        return hits

    def merge(self, hits: list[Hit]) -> list[Hit]:
        p = self.params
        cadence: list[list[float]] = []  # runs of cadence seconds, joined across windows
        for s in sorted({h.start_s for h in hits if h.details["kind"] == "_cadence"}):
            if cadence and s <= cadence[-1][1] + 1e-6:
                cadence[-1][1] = s + 1.0
            else:
                cadence.append([s, s + 1.0])
        source = [(a, b) for a, b in cadence if b - a >= p["cadence_min_s"] - 1e-6]
        hits = [h for h in hits if h.details["kind"] != "_cadence"
                and not (h.details["cause"] == "content" and any(a <= h.start_s < b for a, b in source))]
        events: list[tuple[Hit, list[Hit]]] = []
        for h in sorted(hits, key=lambda h: h.start_s):
            if events and h.start_s <= events[-1][0].end_s + p["merge_gap_s"] + 1e-6:
                ev, members = events[-1]
                ev.end_s = max(ev.end_s, h.end_s)
                members.append(h)
            else:
                events.append((Hit("frame_stutter", h.start_s, h.end_s, 0.0), [h]))
        out = []
        for ev, members in events:
            repeats = sum(1 for h in members if h.details["kind"] == "repeat")
            drops = sum(h.details.get("missing_frames", 1) for h in members if h.details["kind"] == "drop")
            by_ts = any(h.details["cause"] == "timestamps" for h in members)
            if len(members) < p["min_anomalies"] and not by_ts:
                continue
            ev.score = float(max(h.score for h in members))
            ev.details = {"frame_index": min(h.details["frame_index"] for h in members),
                          "repeated_frames": repeats, "dropped_frames": drops,
                          "causes": sorted({h.details["cause"] for h in members}),
                          "frame_indices": sorted(h.details["frame_index"] for h in members)[:50]}
            out.append(ev)
        return out
