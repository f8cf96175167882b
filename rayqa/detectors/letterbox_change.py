"""Letterbox change: black bars (letterbox top/bottom, pillarbox left/right) that appear,
disappear or change size mid-programme (what FFmpeg's ``cropdetect`` measures frame by frame).

Per frame the bars are the leading and trailing rows and columns whose brightest pixel stays
at or under ``black_limit``. A frame that says nothing about its bars (all dark, an active area
under ``min_active_fraction``, or bars that are not symmetric, as a dark sky is not) keeps the
state before it; a short median filter removes single-frame flickers. Each window reports its
runs of one bar state; :meth:`LetterboxChange.merge` joins them over the whole item, drops
states shorter than ``min_duration_s``, takes the state that lasts longest as the programme's,
and reports every stable state that differs from it, with the bars before and after in pixels
of the source.
"""

from __future__ import annotations

import numpy as np

from rayqa.detectors.base import Detector
from rayqa.types import Hit, ItemInfo, VideoSpec, Window

SIDES = ("top", "bottom", "left", "right")


def frame_bars(frames: np.ndarray, black_limit: float, min_active_fraction: float = 0.3,
               symmetry_tolerance: int | None = 2) -> np.ndarray:
    """Bars per gray frame ``(N, H, W)`` as ``(N, 4)`` float (top, bottom, left, right, in rows or
    columns of the frame); NaN where the frame says nothing about its bars."""
    n, h, w = frames.shape
    out = np.full((n, 4), np.nan)
    if n == 0:
        return out
    row_on = frames.max(axis=2) > black_limit  # (N, H)
    col_on = frames.max(axis=1) > black_limit  # (N, W)
    for k, (on, size) in enumerate(((row_on, h), (col_on, w))):
        any_on = on.any(axis=1)
        first = np.where(any_on, on.argmax(axis=1), size)
        last = np.where(any_on, size - on[:, ::-1].argmax(axis=1), 0)
        a, b = first.astype(float), (size - last).astype(float)
        ok = any_on & ((last - first) >= min_active_fraction * size)
        if symmetry_tolerance is not None:
            ok &= np.abs(a - b) <= symmetry_tolerance
        out[:, 2 * k] = np.where(ok, a, np.nan)
        out[:, 2 * k + 1] = np.where(ok, b, np.nan)
    return out


def stable_bars(bars: np.ndarray, median_frames: int = 5) -> np.ndarray:
    """Fill undetermined frames with the state before (after, at the start) and median-filter
    each side over ``median_frames``; all NaN stays all NaN."""
    out = bars.copy()
    for k in range(out.shape[1]):
        col = out[:, k]
        good = ~np.isnan(col)
        if not good.any():
            continue
        idx = np.where(good, np.arange(len(col)), 0)
        np.maximum.accumulate(idx, out=idx)
        col = col[idx]
        first = int(np.argmax(good))
        col[:first] = col[first]
        if median_frames > 1 and len(col) >= median_frames:
            pad = median_frames // 2
            padded = np.pad(col, pad, mode="edge")
            col = np.median(np.lib.stride_tricks.sliding_window_view(padded, median_frames), axis=1)
        out[:, k] = col
    return out


def state_runs(bars: np.ndarray, tolerance: float) -> list[tuple[int, int, np.ndarray]]:
    """Runs ``[a, b)`` of frames whose bars stay within ``tolerance`` of the run's first frame,
    with each run's median bars. Undetermined (NaN) frames end no run and start none."""
    out: list[tuple[int, int, np.ndarray]] = []
    a = None
    for i in range(len(bars)):
        if np.isnan(bars[i]).any():
            continue
        if a is None:
            a = i
        elif np.abs(bars[i] - bars[a]).max() > tolerance:
            out.append((a, i, np.median(bars[a:i][~np.isnan(bars[a:i]).any(axis=1)], axis=0)))
            a = i
    if a is not None:
        out.append((a, len(bars), np.median(bars[a:][~np.isnan(bars[a:]).any(axis=1)], axis=0)))
    return out


def same_bars(x: list[float], y: list[float], tolerance: float) -> bool:
    return max(abs(a - b) for a, b in zip(x, y)) <= tolerance


class LetterboxChange(Detector):
    name = "letterbox_change"
    defects = ("letterbox_change",)
    video = VideoSpec(fps=10.0, width=160, height=90, gray=True)  # black_frames' frames: decoded once
    version = "1"
    defaults = {
        "black_limit": 24,  # full-range luma a bar's brightest pixel stays at or under (cropdetect limit)
        "min_active_fraction": 0.3,  # less active picture than this: a dark frame, not bars
        "symmetric": True,  # bars must be symmetric (letterbox and pillarbox are; a dark sky is not)
        "tolerance_fraction": 0.025,  # bars within this share of the height/width are the same state
        "median_frames": 5,  # temporal median over this many samples (0.5 s at 10 fps)
        "min_duration_s": 2.0,  # a bar state must last this long to count
    }

    def detect(self, window: Window, info: ItemInfo) -> list[Hit]:
        v = window.video[self.video.key]
        if len(v.frames) == 0:
            return []
        p = self.params
        h, w = v.frames.shape[1:3]
        sym = max(1, round(p["tolerance_fraction"] * h)) if p["symmetric"] else None
        bars = stable_bars(frame_bars(v.frames, p["black_limit"], p["min_active_fraction"], sym), p["median_frames"])
        scale = np.array([(info.height or h) / h] * 2 + [(info.width or w) / w] * 2)
        step = 1.0 / self.video.fps
        tol = max(1.0, p["tolerance_fraction"] * min(h, w))
        hits = []
        for a, b, state in state_runs(bars, tol):
            hits.append(Hit("letterbox_change", float(v.times_s[a]), float(v.times_s[b - 1] + step), 0.0,
                            {"kind": "state", "bars": [round(float(x), 1) for x in state * scale],
                             "frame_height": int(info.height or h), "frame_width": int(info.width or w)}))
        return hits

    def merge(self, hits: list[Hit]) -> list[Hit]:
        states = sorted((h for h in hits if h.details.get("kind") == "state"), key=lambda h: h.start_s)
        if not states:
            return []
        p = self.params
        fh, fw = states[0].details["frame_height"], states[0].details["frame_width"]
        tol = max(1.0, p["tolerance_fraction"] * min(fh, fw))
        # Join neighbouring runs of the same bars (a window edge, a brief undetermined stretch).
        joined: list[list] = []  # [start, end, bars]
        for h in states:
            if joined and same_bars(joined[-1][2], h.details["bars"], tol):
                joined[-1][1] = max(joined[-1][1], h.end_s)
            else:
                joined.append([h.start_s, h.end_s, h.details["bars"]])
        stable = [s for s in joined if s[1] - s[0] + 1e-6 >= p["min_duration_s"]]
        if len(stable) < 2:
            return []
        # Short states in between were flicker: the stable ones meet, and equal ones join again.
        merged: list[list] = []
        for s in stable:
            if merged and same_bars(merged[-1][2], s[2], tol):
                merged[-1][1] = s[1]
            else:
                if merged:
                    merged[-1][1] = max(merged[-1][1], s[0])
                merged.append(list(s))
        totals: list[tuple[float, list]] = []
        for s in merged:
            for k, (tot, bars) in enumerate(totals):
                if same_bars(bars, s[2], tol):
                    totals[k] = (tot + s[1] - s[0], bars)
                    break
            else:
                totals.append((s[1] - s[0], s[2]))
        programme = max(totals, key=lambda t: t[0])[1]
        item_start, item_end = states[0].start_s, max(h.end_s for h in states)
        events = []
        for k, s in enumerate(merged):
            if same_bars(s[2], programme, tol):
                continue
            before = merged[k - 1][2] if k > 0 else programme
            change = max(abs(a - b) for a, b in zip(before, s[2]))
            edge = "head" if s[0] <= item_start + 1e-6 else ("tail" if s[1] >= item_end - 1e-6 else None)
            events.append(Hit("letterbox_change", s[0], s[1], min(1.0, change / (0.1 * min(fh, fw))), {
                "bars_before": dict(zip(SIDES, before)), "bars_after": dict(zip(SIDES, s[2])),
                "programme_bars": dict(zip(SIDES, programme)), "edge": edge,
            }))
        return events
