"""Blur: loss of detail against the item's own baseline (what FFmpeg's ``blurdetect`` scores).

Sharpness is measured scale against scale: the energy of the Laplacian at the sampled size over
its energy one octave down (after a 2x2 mean). Natural pictures have about the same energy per
octave whatever their contrast, so the ratio hardly moves through fades, dissolves and changes
of scene brightness, while a blur takes the top octave away and the ratio falls. Dark and flat
frames (too little detail for a ratio to mean anything) are left out.

Windows are decoded apart, so :meth:`Blur.detect` returns each window's per-frame sharpness and
:meth:`Blur.merge` compares the whole item: frames under ``ratio_threshold`` times the item's
median sharpness, in runs of at least ``min_duration_s``, are ``blur`` events.
"""

from __future__ import annotations

import numpy as np

from rayqa.detectors.base import Detector, runs
from rayqa.types import Hit, ItemInfo, VideoSpec, Window


def _laplacian_energy(img: np.ndarray) -> np.ndarray:
    """Mean square 4-neighbour Laplacian of each frame ``(N, H, W)`` float, borders left out."""
    c = img[:, 1:-1, 1:-1]
    lap = img[:, :-2, 1:-1] + img[:, 2:, 1:-1] + img[:, 1:-1, :-2] + img[:, 1:-1, 2:] - 4 * c
    return (lap * lap).mean(axis=(1, 2))


def sharpness(frames: np.ndarray, min_std: float = 8.0, min_mean: float = 20.0) -> np.ndarray:
    """Fine-over-coarse Laplacian energy per gray frame ``(N, H, W)`` uint8; NaN for frames too
    dark (mean under ``min_mean``) or too flat (std under ``min_std``) to say."""
    if len(frames) == 0:
        return np.zeros(0)
    f = frames.astype(np.float32)
    n, h, w = f.shape
    h2, w2 = h // 2 * 2, w // 2 * 2
    half = f[:, :h2, :w2].reshape(n, h2 // 2, 2, w2 // 2, 2).mean(axis=(2, 4))
    fine = _laplacian_energy(f)
    coarse = _laplacian_energy(half)
    flat = f.reshape(n, -1)
    ok = (flat.std(axis=1) >= min_std) & (flat.mean(axis=1) >= min_mean) & (coarse > 1e-3)
    return np.where(ok, fine / np.maximum(coarse, 1e-3), np.nan)


def blurred_runs(times_s: np.ndarray, values: np.ndarray, baseline: float, ratio_threshold: float,
                 step_s: float, max_gap_s: float) -> list[tuple[float, float, float]]:
    """Spans ``(start, end, worst ratio to baseline)`` where sharpness is under ``ratio_threshold``
    x ``baseline``; spans closer than ``max_gap_s`` (unmeasured frames or a sharper moment) join."""
    order = np.argsort(times_s)
    t, v = times_s[order], values[order]
    spans: list[list[float]] = []
    for a, b in runs(v < ratio_threshold * baseline):
        worst = float(np.min(v[a:b])) / baseline
        if spans and t[a] - spans[-1][1] <= max_gap_s + 1e-6:
            spans[-1][1] = float(t[b - 1] + step_s)
            spans[-1][2] = min(spans[-1][2], worst)
        else:
            spans.append([float(t[a]), float(t[b - 1] + step_s), worst])
    return [(a, b, w) for a, b, w in spans]


class Blur(Detector):
    name = "blur"
    defects = ("blur",)
    video = VideoSpec(fps=5.0, width=320, height=180, gray=True)
    version = "2"  # 2: the decoder's reports from before the window (recent_damage) excuse smeared frames too
    # On the real-content benchmark's clean programme, 109 false events an hour: photographs and
    # footage differ in their own sharpness (and fast pans blur by motion), so softer shots read as
    # blurred against the item's median. Runs only when named until it has a per-shot baseline.
    experimental = True
    defaults = {
        "ratio_threshold": 0.55,  # sharpness under this share of the item's median is blurred
        "min_duration_s": 1.0,
        "merge_gap_s": 0.4,  # blurred stretches this close join
        "min_frame_std": 8.0,  # flatter frames (0..255 luma std) are not measured
        "min_frame_mean": 20.0,  # darker frames are not measured
        "min_measured_s": 10.0,  # an item with less measured content has no baseline
    }

    def detect(self, window: Window, info: ItemInfo) -> list[Hit]:
        v = window.video[self.video.key]
        if len(v.frames) == 0:
            return []
        s = sharpness(v.frames, self.params["min_frame_std"], self.params["min_frame_mean"])
        for dm in window.video_reports():  # concealed damage smears pictures: decode_error's finding
            s[(v.times_s >= dm.start_s - 0.2) & (v.times_s <= dm.end_s + 0.2)] = np.nan
        # One measurement hit per window: merge needs the whole item's values for its baseline.
        return [Hit("blur", float(window.t0), float(window.t1), 0.0, {
            "kind": "sharpness", "times_s": [round(float(t), 3) for t in v.times_s],
            "frame_indices": [int(i) for i in v.frame_indices],
            "sharpness": [None if np.isnan(x) else round(float(x), 5) for x in s]})]

    def merge(self, hits: list[Hit]) -> list[Hit]:
        p = self.params
        meas = [h for h in hits if h.details.get("kind") == "sharpness"]
        if not meas:
            return []
        t = np.array([x for h in meas for x in h.details["times_s"]], dtype=np.float64)
        idx = np.array([x for h in meas for x in h.details["frame_indices"]], dtype=np.int64)
        v = np.array([np.nan if x is None else x for h in meas for x in h.details["sharpness"]], dtype=np.float64)
        step = 1.0 / self.video.fps
        good = ~np.isnan(v)
        if good.sum() * step < p["min_measured_s"]:
            return []
        baseline = float(np.median(v[good]))
        if baseline <= 0:
            return []
        events = []
        for a, b, worst in blurred_runs(t, v, baseline, p["ratio_threshold"], step, p["merge_gap_s"]):
            if b - a + 1e-6 < p["min_duration_s"]:
                continue
            first = int(idx[np.argmin(np.abs(t - a))])
            events.append(Hit("blur", a, b, float(min(1.0, max(0.0, 1.0 - worst))), {
                "frame_index": first, "sharpness_ratio": round(worst, 3), "baseline_sharpness": round(baseline, 5)}))
        return events
