"""Photosensitive flashing (ITU-R BT.1702, Ofcom guidance note, WCAG 2.x general and red flash).

A *transition* is a change of at least ``min_change_cd_m2`` (20 cd/m²) in a pixel's luminance
where the darker state is under ``max_darker_cd_m2`` (160 cd/m²); a *flash* is a pair of
opposing transitions. Luminance comes from a display model: 8-bit luma on a
``display_white_cd_m2`` (200 cd/m²) display with gamma 2.2, the display BT.1702 and Ofcom's
limits are set for (20 and 160 cd/m² are 10 % and 80 % of its white). A *red* transition is a
change of more than 20 in (R - G - B) x 320 (linear RGB, negative values 0) where a state is
saturated red (R / (R + G + B) >= 0.8).

Transitions are found per cell of a 16 x 9 grid (the cell's mean luminance: an area that changes
together, not texture sliding past) with hysteresis (from the extreme since the last transition,
so a ramp over several frames counts once), and become picture-level transitions when at least
``min_area`` (25 %) of the picture makes the same transition within two frames, net of cells
making the opposite one. Each window
reports its picture-level transitions; :meth:`FlashPse.merge` orders the item's transitions,
keeps them alternating, and reports every stretch where any one-second period holds more than
``max_flashes_per_s`` (3) flashes. Frames are needed at the native rate (every frame up to
60 fps); a transition across a window boundary is not seen.
"""

from __future__ import annotations

import functools

import numpy as np

from rayqa.detectors.base import Detector
from rayqa.types import Hit, ItemInfo, VideoSpec, Window

LUMA_709 = np.array([0.2126, 0.7152, 0.0722], np.float32)
KINDS = ("luminance", "red")


_LEVELS = np.arange(256) / 255.0
# sRGB's decoding of each 8-bit level (a table: a power per pixel cost more than the rest together)
_LINEAR = np.where(_LEVELS <= 0.04045, _LEVELS / 12.92, ((_LEVELS + 0.055) / 1.055) ** 2.4).astype(np.float32)


@functools.lru_cache(maxsize=8)
def _display_table(display_white_cd_m2: float, gamma: float) -> np.ndarray:
    return (display_white_cd_m2 * _LEVELS ** gamma).astype(np.float32)


def luminance_cd_m2(rgb: np.ndarray, display_white_cd_m2: float = 200.0, gamma: float = 2.2) -> np.ndarray:
    """Display luminance (cd/m²) of RGB frames ``(..., 3)`` uint8 through their 8-bit luma (BT.709
    weights in 1/256ths, rounded: within 1 cd/m² of the exact power)."""
    c = rgb.astype(np.uint16)
    y = (54 * c[..., 0] + 183 * c[..., 1] + 19 * c[..., 2] + 128) >> 8
    return _display_table(float(display_white_cd_m2), float(gamma))[y]


def red_value(rgb: np.ndarray, saturation: float = 0.8) -> np.ndarray:
    """WCAG's red measure ``max(0, R - G - B) x 320`` (linear sRGB) where a pixel is saturated red,
    0 elsewhere."""
    flat = rgb.reshape(-1, 3)
    out = np.zeros(len(flat), np.float32)
    # Saturated red (linear G + B under a quarter of R at 0.8) has 8-bit G and B well under R:
    # only pixels with both under 0.7 R are measured (most frames have few or none).
    r8 = flat[:, 0].astype(np.int16)
    cand = np.flatnonzero((10 * flat[:, 1] < 7 * r8) & (10 * flat[:, 2] < 7 * r8)) if saturation >= 0.5 else np.arange(len(flat))
    if len(cand):
        lin = _LINEAR[flat[cand]]
        r, g, b = lin[:, 0], lin[:, 1], lin[:, 2]
        sat = (r >= saturation * np.maximum(r + g + b, 1e-6)) & (r > 0)
        out[cand] = np.where(sat, np.maximum(0.0, r - g - b) * 320.0, 0.0)
    return out.reshape(rgb.shape[:-1])


def block_means(values: np.ndarray, grid: tuple[int, int]) -> np.ndarray:
    """Mean of each cell of a ``grid`` (rows, columns) over frames ``(N, H, W)``: ``(N, rows * cols)``.
    A flash is an area changing together; texture sliding past in a pan averages out in a cell."""
    n, h, w = values.shape
    gr, gc = grid
    ys = np.linspace(0, h, gr + 1).astype(int)
    xs = np.linspace(0, w, gc + 1).astype(int)
    rows = np.add.reduceat(values, ys[:-1], axis=1) / np.diff(ys)[None, :, None]
    cells = np.add.reduceat(rows, xs[:-1], axis=2) / np.diff(xs)[None, None, :]
    return cells.reshape(n, gr * gc)


def pixel_transitions(signal: np.ndarray, min_change: float, max_darker: float | None) -> tuple[np.ndarray, np.ndarray]:
    """Rising and falling transitions ``(N, P)`` bool of a signal ``(N, P)`` (frames x pixels).

    A pixel rises when it is ``min_change`` above its lowest value since its last transition (and
    that lowest value, the darker state, is under ``max_darker``), falls when it is ``min_change``
    under its highest; rises and falls alternate."""
    n, p = signal.shape
    rise = np.zeros((n, p), bool)
    fall = np.zeros((n, p), bool)
    if n == 0:
        return rise, fall
    last = np.zeros(p, np.int8)
    lo = signal[0].astype(np.float32).copy()
    hi = lo.copy()
    dark_ok = np.inf if max_darker is None else max_darker
    for t in range(1, n):
        v = signal[t]
        np.minimum(lo, v, out=lo)
        np.maximum(hi, v, out=hi)
        up = (last != 1) & (v - lo >= min_change) & (lo < dark_ok)
        down = (last != -1) & (hi - v >= min_change) & (v < dark_ok)
        down &= ~up
        rise[t], fall[t] = up, down
        moved = up | down
        last[up], last[down] = 1, -1
        lo[moved] = v[moved]
        hi[moved] = v[moved]
    return rise, fall


def picture_transitions(rise: np.ndarray, fall: np.ndarray, min_area: float) -> list[tuple[int, int, float]]:
    """Picture-level transitions ``(frame, +1 / -1, area share)``: at least ``min_area`` of the
    cells make the same transition within two frames, net of cells making the opposite one (a
    pan brightens some as it darkens others: no flash), counted once, at its first such frame."""
    def pair(m):
        share = m.mean(axis=1)
        return share + np.concatenate([[0.0], share[:-1]])  # a cell cannot rise twice in two frames

    up, down = pair(rise), pair(fall)
    out: list[tuple[int, int, float]] = []
    for direction, same, other in ((1, up, down), (-1, down, up)):
        on = same - other >= min_area
        starts = np.flatnonzero(on & ~np.concatenate([[False], on[:-1]]))
        out.extend((int(i), direction, float(same[i])) for i in starts)
    return sorted(out)


def flash_spans(times_s: np.ndarray, directions: np.ndarray, areas: np.ndarray, max_flashes_per_s: float,
                frame_s: float) -> list[tuple[float, float, float, float]]:
    """Spans ``(start, end, flashes per second, largest area)`` where a one-second period holds
    more than ``max_flashes_per_s`` flashes. Transitions are first made to alternate (a second
    rise before a fall is no new flash)."""
    order = np.argsort(times_s, kind="stable")
    t, d, a = times_s[order], directions[order], areas[order]
    keep = np.ones(len(t), bool)
    last = 0
    for i in range(len(t)):
        keep[i] = d[i] != last
        last = d[i] if keep[i] else last
    t, a = t[keep], a[keep]
    need = int(np.floor(2 * max_flashes_per_s)) + 2  # transitions for more than max flashes
    spans: list[list[float]] = []
    for i in range(len(t)):
        j = int(np.searchsorted(t, t[i] + 1.0 - 1e-9))  # transitions in [t_i, t_i + 1 s)
        count = j - i
        if count < need:
            continue
        start, end = float(t[i]), float(t[j - 1] + frame_s)
        rate, area = count / 2.0, float(a[i:j].max())
        if spans and start <= spans[-1][1] + 1e-6:
            spans[-1][1] = max(spans[-1][1], end)
            spans[-1][2] = max(spans[-1][2], rate)
            spans[-1][3] = max(spans[-1][3], area)
        else:
            spans.append([start, end, rate, area])
    return [tuple(s) for s in spans]


class FlashPse(Detector):
    name = "flash_pse"
    defects = ("flash_pse",)
    # Every frame up to 60 fps, small RGB: shared with solid_color_frames and frame_stutter.
    video = VideoSpec(fps=60.0, width=96, height=54, gray=False, from_planes=True)
    version = "2"  # 2: luminance and red from tables (luma in 1/256ths: within 1 cd/m²)
    defaults = {
        "min_change_cd_m2": 20.0,  # a transition: this change in luminance ...
        "max_darker_cd_m2": 160.0,  # ... where the darker state is under this
        "display_white_cd_m2": 200.0,  # the display model's white (gamma 2.2)
        "min_red_change": 20.0,  # a red transition: this change in (R - G - B) x 320
        "red_saturation": 0.8,  # R / (R + G + B) of a saturated red
        "min_area": 0.25,  # share of the picture that must flash together
        "grid_rows": 9,  # the picture is judged in cells of this grid (each about 0.7 % of it)
        "grid_cols": 16,
        "max_flashes_per_s": 3.0,  # more than this in any one-second period fails
    }

    def detect(self, window: Window, info: ItemInfo) -> list[Hit]:
        v = window.video[self.video.key]
        if len(v.frames) < 2:
            return []
        p = self.params
        grid = (int(p["grid_rows"]), int(p["grid_cols"]))
        signals = {
            "luminance": (block_means(luminance_cd_m2(v.frames, p["display_white_cd_m2"]), grid),
                          p["min_change_cd_m2"], p["max_darker_cd_m2"]),
            "red": (block_means(red_value(v.frames, p["red_saturation"]), grid), p["min_red_change"], None),
        }
        hits = []
        for kind, (sig, change, darker) in signals.items():
            if kind == "red" and not sig.any():
                continue
            rise, fall = pixel_transitions(sig, change, darker)
            for i, direction, area in picture_transitions(rise, fall, p["min_area"]):
                t = float(v.times_s[i])
                hits.append(Hit("flash_pse", t, t, 0.0, {"kind": "transition", "flash_kind": kind,
                                                         "direction": direction, "area_fraction": round(area, 4),
                                                         "frame_index": int(v.frame_indices[i])}))
        return hits

    def merge(self, hits: list[Hit]) -> list[Hit]:
        p = self.params
        trans = [h for h in hits if h.details.get("kind") == "transition"]
        frame_s = self._frame_s(trans)
        events = []
        for kind in KINDS:
            ts = [h for h in trans if h.details["flash_kind"] == kind]
            if not ts:
                continue
            times = np.array([h.start_s for h in ts])
            for a, b, rate, area in flash_spans(times, np.array([h.details["direction"] for h in ts]),
                                                np.array([h.details["area_fraction"] for h in ts]),
                                                p["max_flashes_per_s"], frame_s):
                first = min((h for h in ts if h.start_s >= a - 1e-6), key=lambda h: h.start_s)
                events.append(Hit("flash_pse", a, b, float(min(1.0, rate / (2 * p["max_flashes_per_s"]))), {
                    "kind": kind, "flashes_per_second": rate, "area_fraction": round(area, 4),
                    "frame_index": first.details["frame_index"]}))
        return sorted(events, key=lambda e: e.start_s)

    @staticmethod
    def _frame_s(trans: list[Hit]) -> float:
        """One frame's duration, from the transitions' times and frame indices (1/25 s if unknown)."""
        pts = sorted({(h.details["frame_index"], h.start_s) for h in trans})
        if len(pts) >= 2 and pts[-1][0] != pts[0][0]:
            return (pts[-1][1] - pts[0][1]) / (pts[-1][0] - pts[0][0])
        return 1.0 / 25.0
