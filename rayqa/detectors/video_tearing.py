"""Video tearing: a horizontal split where the rows above come from one picture and the rows below
from another (a buffer swapped mid-scan, a broken frame-rate conversion or capture).

A torn stretch shows itself where it starts and where it ends, in how the picture changes from
frame to frame on either side of the split row. Where the rows below the split run ``k``
frames ahead of the rows above, the first torn frame's lower part *jumps* ``k + 1`` frames'
motion while its upper part moves one frame's; and the first frame after the stretch *repeats*
its lower part from ``k`` frames before while its upper part moves ``k`` frames' (rows running
behind swap the two). Each row's change from the frame ``j`` before (``j`` = 1 to
``max_offset``), in ``bands`` column bands, is measured against the same row's usual change
over the frames around it (a textured row changes more than a sky): about 1 everywhere in
ordinary motion, whatever its speed; a cut or a flash changes every row at once.

A frame is a *split candidate* at a row when the rows on one side keep their usual change (within
``max_normal_ratio``) while those on the other change ``min_jump_ratio`` times more (a jump) or
``min_repeat_ratio`` times less (a repeat), both sides moving (``min_motion``), in at least
``min_band_fraction`` of the bands (a tear crosses the whole width; a moving object, a few
bands). An event is a jump and a repeat at the same split row, in either order, at most
``max_duration_s`` apart: one alone is a lower third appearing, a person stopping or a wipe.
A clear repeat's jump may be faint (fast motion saturates the change): it is looked for at the
repeat's row with looser limits, in the same window and in the last ``tail_s`` of the one before.
Its times are the first torn frame and the first frame after; no tear can be seen where nothing
moves, and a change in a window's first frame (whose frame before is in another window) is not
seen.
"""

from __future__ import annotations

import numpy as np

from rayqa.detectors.base import Detector
from rayqa.types import Hit, ItemInfo, VideoSpec, Window

LUMA_709 = np.array([0.2126, 0.7152, 0.0722], np.float32)


def to_luma(frames: np.ndarray) -> np.ndarray:
    """Float32 luma ``(N, H, W)`` of gray ``(N, H, W)`` or RGB ``(N, H, W, 3)`` uint8 frames."""
    f = frames.astype(np.float32)
    return f @ LUMA_709 if f.ndim == 4 else f


def band_means(values: np.ndarray, bands: int) -> np.ndarray:
    """Mean over each of ``bands`` equal column bands of ``(..., W)``: ``(..., bands)``."""
    w = values.shape[-1]
    edges = np.linspace(0, w, bands + 1).astype(int)
    return np.add.reduceat(values, edges[:-1], axis=-1) / np.diff(edges)


def _nanmedian_around(x: np.ndarray, context: int, first_valid: int = 0) -> np.ndarray:
    """Median along axis 0 of the ``context`` values on each side, the value itself left out,
    NaNs (the padding, and ``x[:first_valid]``) ignored."""
    n = len(x)
    pad = np.concatenate([np.full((context,) + x.shape[1:], np.nan, x.dtype), x,
                          np.full((context,) + x.shape[1:], np.nan, x.dtype)])
    win = np.stack([pad[i : i + n] for i in range(2 * context + 1) if i != context])
    # Only windows that reach a NaN need nanmedian (several times slower than median).
    lo, hi = min(n, first_valid + context), max(0, n - context)
    out = np.empty(x.shape, np.float64)
    if lo < hi:
        out[lo:hi] = np.median(win[:, lo:hi], axis=0)
    edge = np.r_[0:min(lo, n), max(hi, lo):n]
    if len(edge):
        out[edge] = np.nanmedian(win[:, edge], axis=0)
    return out


def relative_change(luma: np.ndarray, max_offset: int, bands: int, noise: float,
                    context: int) -> tuple[np.ndarray, np.ndarray]:
    """``(max_offset, N, H, bands)`` log of each row band's change from the frame ``j`` before
    (``j`` = 1 .. max_offset; NaN where there is none) over that row band's usual one (the median
    over the ``context`` frames on each side), both plus ``noise`` grey levels; and the usual
    change one frame apart ``(N, H, bands)`` (grey levels)."""
    n, h, _ = luma.shape
    out = np.full((max_offset, n, h, bands), np.nan, np.float32)
    usual1 = np.zeros((n, h, bands), np.float32)
    for j in range(1, max_offset + 1):
        if j >= n:
            break
        d = np.full((n, h, bands), np.nan, np.float32)
        d[j:] = band_means(np.abs(luma[j:] - luma[:-j]), bands)
        with np.errstate(all="ignore"):
            usual = _nanmedian_around(d, context, j)
            out[j - 1] = np.log((d + noise) / (usual + noise))
        if j == 1:
            usual1 = np.nan_to_num(usual).astype(np.float32)
    return out, usual1


def _side_medians(change: np.ndarray, rows: int, guard: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each split row ``s`` (the first row below): the median over the ``rows`` rows above
    (``s - guard - rows .. s - guard``) and below (``s + guard .. s + guard + rows``) of ``change``
    ``(..., H, bands)``, as ``(..., S, bands)`` each, and the split rows ``S``."""
    h = change.shape[-2]
    splits = np.arange(rows + guard, h - rows - guard + 1)
    win = np.lib.stride_tricks.sliding_window_view(change, rows, axis=-2)  # (..., H - rows + 1, bands, rows)
    med = np.median(win, axis=-1)  # NaNs fill whole frames (those with no frame j before): NaN stays NaN
    above = med[..., splits - guard - rows, :]
    below = med[..., splits + guard, :]
    return above, below, splits


SIDES = ("below", "above")
KINDS = ("jump", "repeat")


def split_steps(luma: np.ndarray, max_offset: int = 3, bands: int = 8, noise: float = 0.6, context: int = 4,
                rows: int = 4, guard: int = 1, max_normal_ratio: float = 1.5,
                edge_rows: int = 2, min_motion: float = 0.5) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """For luma frames ``(N, H, W)``: per side (below / above: the side that departs), offset
    ``j``, frame and split row, the median over the bands of the log step (departing side's
    relative change minus the other's) ``(2, J, N, S)``, each band's step where the other side
    keeps its usual change (else NaN) ``(2, J, N, S, bands)``, and the split rows ``(S,)`` (the
    first row below each split). None when there are too few frames or rows."""
    n, h = luma.shape[:2]
    if n < 2 or h < 2 * (rows + guard + edge_rows) + 1:
        return None
    change, usual = relative_change(luma, max_offset, bands, noise, context)  # (J, N, H, B), (N, H, B)
    above, below, splits = _side_medians(change, rows, guard)  # (J, N, S, B)
    # Both sides must be moving pictures: a still side (a locked-off background, a static sky)
    # keeps its "usual" change of nothing while a moving side's change comes and goes (footage
    # at a lower frame rate repeats its frames).
    u_above, u_below, _ = _side_medians(usual[None], rows, guard)
    moving = (u_above[0] >= min_motion) & (u_below[0] >= min_motion)  # (N, S, B)
    keep = (splits >= edge_rows + rows) & (splits <= h - edge_rows - rows)
    above, below, splits = above[..., keep, :], below[..., keep, :], splits[keep]
    moving = moving[:, keep, :]
    normal_max = np.log(max_normal_ratio)
    steps, banded = [], []
    with np.errstate(invalid="ignore"):
        for moved, still in ((below, above), (above, below)):
            step = moved - still
            steps.append(np.median(step, axis=-1))  # NaN only where the whole frame is
            banded.append(np.where((np.abs(still) <= normal_max) & moving, step, np.nan))
    return np.stack(steps), np.stack(banded), splits


def candidates(steps: np.ndarray, banded: np.ndarray, splits: np.ndarray, min_jump_ratio: float,
               min_repeat_ratio: float, min_band_fraction: float, frames: np.ndarray | None = None,
               side: int | None = None, rows: tuple[int, int] | None = None) -> list[dict]:
    """The strongest split per frame where one side jumps (changes ``min_jump_ratio`` times its
    usual change or more) or repeats (``min_repeat_ratio`` times less) in at least
    ``min_band_fraction`` of the bands while the other side keeps its usual change:
    ``{"index", "row", "side", "kind", "offset", "step", "band_fraction"}``; optionally only over
    ``frames`` (indices), one ``side`` and split rows in ``rows`` [lo, hi]."""
    best: dict[int, dict] = {}
    s_sel = np.ones(len(splits), bool) if rows is None else (splits >= rows[0]) & (splits <= rows[1])
    t_sel = np.arange(steps.shape[2]) if frames is None else np.asarray(frames, int)
    if not s_sel.any() or len(t_sel) == 0:
        return []
    for si in (range(2) if side is None else [side]):
        for kind, sign, ratio in (("jump", 1.0, min_jump_ratio), ("repeat", -1.0, min_repeat_ratio)):
            lim = np.log(ratio)
            st = sign * steps[si][:, t_sel][:, :, s_sel]  # (J, T, S')
            with np.errstate(invalid="ignore"):
                frac = (sign * banded[si][:, t_sel][:, :, s_sel] >= lim).mean(axis=-1)
            hit = (frac >= min_band_fraction) & (st >= lim)
            for j, ti, s in zip(*np.nonzero(hit)):
                t = int(t_sel[ti])
                strength = float(st[j, ti, s])
                if t not in best or strength > best[t]["step"]:
                    best[t] = {"index": t, "row": int(splits[s_sel][s]), "side": SIDES[si], "kind": kind,
                               "offset": int(j) + 1, "step": strength, "band_fraction": float(frac[j, ti, s])}
    return [best[t] for t in sorted(best)]


def tear_events(cands: list[dict], max_frames: int, row_tolerance: int) -> list[tuple[dict, dict]]:
    """(start, end) of each tear among split candidates (each with ``"frame"``: a frame number on
    one clock): chains of candidates on the same side of the same split row (within
    ``row_tolerance`` of the chain's first), within ``max_frames`` of its first, holding both a jump and
    a repeat. The start is the chain's first candidate; the end is the first frame of the chain's
    last run of the other kind (a change is seen again over the next ``offset`` frames: one run)."""
    out = []
    used = [False] * len(cands)
    for i, a in enumerate(cands):
        if used[i]:
            continue
        chain = [a]
        for k in range(i + 1, len(cands)):
            c = cands[k]
            if c["frame"] - a["frame"] > max_frames:
                break
            if not used[k] and c["side"] == a["side"] and abs(c["row"] - a["row"]) <= row_tolerance:
                chain.append(c)
                used[k] = True
        other = [c for c in chain if c["kind"] != a["kind"]]
        if not other:
            for c in chain[1:]:
                used[cands.index(c)] = False  # not a tear: its members may start another chain
            continue
        used[i] = True
        end = other[-1]
        for c in reversed(other[:-1]):
            if end["frame"] - c["frame"] <= max(1, c["offset"]) + 1:
                end = c
            else:
                break
        out.append((a, end))
    return out


class VideoTearing(Detector):
    name = "video_tearing"
    defects = ("video_tearing",)
    # Every frame up to 60 fps, small RGB: solid_color_frames', flash_pse's and frame_stutter's frames.
    video = VideoSpec(fps=60.0, width=96, height=54, gray=False, from_planes=True)
    version = "2"  # 2: damage reported before the window (recent_damage) excuses its tears too
    experimental = True
    defaults = {
        "bands": 8,  # column bands: a tear crosses them all, a moving object a few
        "max_offset": 3,  # frames the two parts of a torn picture may be apart
        "noise": 0.6,  # grey levels added to every change (encoder noise on still, flat areas)
        "min_motion": 0.5,  # grey levels of usual change both sides of a split need (moving pictures)
        "context": 4,  # frames on each side that set a row's usual change
        "rows": 4,  # rows on each side of a split that are compared (at 54 rows: a ninth of the picture each)
        "min_jump_ratio": 2.5,  # one side changes this many times more than usual (the start of rows ahead) ...
        "min_repeat_ratio": 3.0,  # ... or this many times less (the end: rows repeated from frames before) ...
        "max_normal_ratio": 1.5,  # ... while the other keeps within this of its usual change ...
        "min_band_fraction": 0.75,  # ... in this share of the column bands
        "search_jump_ratio": 1.3,  # the looser limits for the jump that goes with a clear repeat, at its row
        "search_band_fraction": 0.5,
        "row_tolerance": 2,  # rows (of 54) the start's and the end's split may differ by
        "max_duration_s": 5.0,  # a start and an end further apart are not paired
        "tail_s": 2.0,  # a window's faint starts this close to its end are kept for a clear end in the next
        "min_duration_s": 0.0,
    }

    def detect(self, window: Window, info: ItemInfo) -> list[Hit]:
        v = window.video[self.video.key]
        if len(v.frames) < 3:
            return []
        p = self.params
        frame_s = 1.0 / min(float(info.fps), self.video.fps) if info.fps else float(np.median(np.diff(v.times_s)))
        height = v.frames.shape[1]
        src_h = float(info.height) if info.height else float(height)
        got = split_steps(to_luma(v.frames), int(p["max_offset"]), int(p["bands"]), float(p["noise"]),
                          int(p["context"]), int(p["rows"]), 1, float(p["max_normal_ratio"]),
                          min_motion=float(p["min_motion"]))
        if got is None:
            return []
        steps, banded, splits = got
        strict = candidates(steps, banded, splits, p["min_jump_ratio"], p["min_repeat_ratio"], p["min_band_fraction"])
        found = {c["index"]: c for c in strict}
        # A clear start or end at a row: its other end may be fainter (fast motion saturates a
        # jump): look for it at that row only, before and after, with the looser limits.
        reach, tol = int(round(p["max_duration_s"] / frame_s)), int(p["row_tolerance"])
        for c in sorted(strict, key=lambda c: -c["step"]):
            mates = [d["index"] for d in found.values() if d["kind"] != c["kind"] and d["side"] == c["side"]
                     and abs(d["row"] - c["row"]) <= tol and abs(d["index"] - c["index"]) <= reach]
            lo = c["index"] - reach if not any(t < c["index"] for t in mates) else c["index"]
            hi = c["index"] + reach if not any(t > c["index"] for t in mates) else c["index"]
            near = [t for t in range(max(0, lo), min(len(v.frames), hi + 1)) if t not in found]
            # Only a jump is looked for: a repeat is an exact one (a part of an earlier picture), and
            # clear wherever there is motion to see it by.
            if c["kind"] != "repeat":
                continue
            other = [d for d in candidates(steps, banded, splits, p["search_jump_ratio"], np.inf,
                                           p["search_band_fraction"], near, SIDES.index(c["side"]),
                                           (c["row"] - tol, c["row"] + tol)) if d["kind"] == "jump"]
            for group in ([d for d in other if d["index"] < c["index"]], [d for d in other if d["index"] > c["index"]]):
                if group:  # the strongest before and the strongest after
                    d = max(group, key=lambda d: d["step"])
                    found[d["index"]] = {**d, "searched": True}
        # A tear that starts near the window's end and ends in the next window: its faint start
        # is kept for the merge to pair with a clear end there (see merge).
        tail = [t for t in range(max(0, len(v.frames) - int(round(p["tail_s"] / frame_s))), len(v.frames))
                if t not in found]
        for d in candidates(steps, banded, splits, p["search_jump_ratio"], np.inf, p["search_band_fraction"], tail):
            if d["kind"] == "jump":
                found[d["index"]] = {**d, "loose": True}
        damaged = [(dm.start_s, dm.end_s) for dm in window.video_reports()]
        hits = []
        for c in sorted(found.values(), key=lambda c: c["index"]):
            t = float(v.times_s[c["index"]])
            if any(a - 2 * frame_s <= t <= b + 2 * frame_s for a, b in damaged):  # concealment: decode_error's
                continue
            hits.append(Hit("video_tearing", t, t + frame_s, float(min(1.0, c["step"] / np.log(8.0))), {
                "kind": c["kind"], "side": c["side"], "frame_index": int(v.frame_indices[c["index"]]),
                "split_row": int(round(c["row"] * src_h / height)), "row": c["row"], "frame_s": frame_s,
                "offset_frames": c["offset"], "step_ratio": round(float(np.exp(c["step"])), 2),
                "band_fraction": round(c["band_fraction"], 2), "searched": bool(c.get("searched")),
                "loose": bool(c.get("loose"))}))
        return hits

    def merge(self, hits: list[Hit]) -> list[Hit]:
        p = self.params
        if not hits:
            return []
        frame_s = hits[0].details["frame_s"]
        cands = [{**h.details, "frame": h.details["frame_index"], "time": h.start_s, "score": h.score,
                  "offset": h.details["offset_frames"]} for h in sorted(hits, key=lambda h: h.start_s)]
        reach, tol = int(round(p["max_duration_s"] / frame_s)), int(p["row_tolerance"])
        kept = [c for c in cands if not c["loose"]]
        # A clear repeat with no start before it at its row (the start fell in the window before):
        # the strongest faint start the windows before kept there.
        for r in [c for c in kept if c["kind"] == "repeat"]:
            def near(c):
                return c["side"] == r["side"] and abs(c["row"] - r["row"]) <= tol and 0 < r["frame"] - c["frame"] <= reach
            if not any(c["kind"] == "jump" and near(c) for c in kept):
                loose = [c for c in cands if c["loose"] and near(c)]
                if loose:
                    kept.append(max(loose, key=lambda c: c["step_ratio"]))
        cands = sorted(kept, key=lambda c: c["time"])
        out = []
        for a, b in tear_events(cands, int(round(p["max_duration_s"] / frame_s)), int(p["row_tolerance"])):
            if b["time"] - a["time"] + 1e-6 < max(float(p["min_duration_s"]), frame_s):
                continue
            out.append(Hit("video_tearing", a["time"], b["time"], float(max(a["score"], b["score"])), {
                "frame_index": a["frame_index"], "end_frame_index": b["frame_index"],
                "split_row": int(round((a["split_row"] + b["split_row"]) / 2)), "side": a["side"],
                "start_kind": a["kind"], "offset_frames": max(a["offset_frames"], b["offset_frames"]),
                "start_step_ratio": a["step_ratio"], "end_step_ratio": b["step_ratio"],
                "band_fraction": min(a["band_fraction"], b["band_fraction"])}))
        return out
