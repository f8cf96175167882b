"""Pieces both scorers share: frames to small grey images, and reading a correlation-over-lags curve
(best lag, confidence, ties), SyncNet's way: the offset is the best lag, the confidence how far the
best stands above the median over all lags."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def to_gray(frames: np.ndarray, size: tuple[int, int] | None = None) -> np.ndarray:
    """(N, H, W[, 3]) uint8 → (N, h, w) float32 luma, area-resized to ``size`` = (w, h) when given."""
    import cv2

    f = np.asarray(frames)
    if f.ndim == 4:
        f = np.stack([cv2.cvtColor(x, cv2.COLOR_RGB2GRAY) for x in f]) if len(f) else f[..., 0]
    f = f.astype(np.float32)
    if size is None or len(f) == 0 or (f.shape[2], f.shape[1]) == tuple(size):
        return f
    return np.stack([cv2.resize(x, tuple(size), interpolation=cv2.INTER_AREA) for x in f])


@dataclass
class LagScore:
    offset_s: float  # the middle of the best plateau of lags
    peak: float  # correlation at the best lag
    confidence: float  # peak minus median over lags
    tie: bool  # another lag, two frames or more away, nearly as good
    z: float  # (peak - median) in standard deviations of the curve two frames or more away
    curve: np.ndarray


def pearson_rows(x: np.ndarray, y: np.ndarray, valid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Correlation of ``x`` (N,) with each row of ``y`` (L, N) over the ``valid`` entries; and counts."""
    m = valid.astype(np.float64)
    yy = np.where(valid, y, 0.0)
    cnt = m.sum(axis=1)
    safe = np.maximum(cnt, 1)
    mx = (m * x[None, :]).sum(axis=1) / safe
    my = yy.sum(axis=1) / safe
    dx = (x[None, :] - mx[:, None]) * m
    dy = (yy - my[:, None]) * m
    num = (dx * dy).sum(axis=1)
    den = np.sqrt((dx * dx).sum(axis=1) * (dy * dy).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.where(den > 1e-12, num / den, np.nan)
    return r, cnt


def lag_curve_score(x: np.ndarray, y: np.ndarray, valid: np.ndarray, lags_s: np.ndarray, frame_s: float,
                    min_valid_fraction: float, tie_ratio: float) -> LagScore | None:
    """Score ``x`` against ``y`` at every lag (rows of ``y``); None when no lag has enough valid frames
    or the signals are flat."""
    r, cnt = pearson_rows(np.asarray(x, np.float64), y, valid)
    r[cnt < max(3, min_valid_fraction * len(x))] = np.nan
    if not np.isfinite(r).any():
        return None
    i = int(np.nanargmax(r))
    peak = float(r[i])
    median = float(np.nanmedian(r))
    conf = peak - median
    # the plateau of near-equal lags around the best: its middle is the estimate
    tol = 0.02 * max(conf, 1e-6)
    a = i
    while a > 0 and np.isfinite(r[a - 1]) and r[a - 1] >= peak - tol:
        a -= 1
    b = i
    while b < len(r) - 1 and np.isfinite(r[b + 1]) and r[b + 1] >= peak - tol:
        b += 1
    offset = float((lags_s[a] + lags_s[b]) / 2)
    far = np.abs(lags_s - offset) >= 2 * frame_s
    rest = r[far & np.isfinite(r)]
    tie = bool(rest.size and rest.max() >= tie_ratio * peak and peak > 0)
    z = conf / max(float(rest.std()) if rest.size > 2 else 0.0, 0.02)
    return LagScore(offset, peak, conf, tie, z, r)
