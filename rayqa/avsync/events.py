"""The event scorer: visual events (a flash, a motion that stops, a motion that reverses) against
audio onsets, for content without a talking face (a clapper, a drum hit, a ball on the floor, a
flash-and-beep test pattern).

Pure functions on arrays. The lag search works at audio resolution (2 ms steps): a visual event
seen at frame instant ``t_k`` happened somewhere within half a frame of it, so each frame looks
for an audio onset within ``[t_k + d - T/2, t_k + d + T/2]`` at lag ``d``, and the estimate is the
middle of the best plateau. Positive lags: the sound comes late.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from rayqa.avsync.signal import LagScore, lag_curve_score, to_gray

# Visual features; the one whose lag curve peaks highest speaks for the fragment.
FEATURES = ("flash", "stop", "reversal")


def _cells(gray: np.ndarray, grid: tuple[int, int]) -> np.ndarray:
    """(N, H, W) float → (N, gy, gx, h, w) blocks, cropping the remainder."""
    n, h, w = gray.shape
    gy, gx = grid
    bh, bw = h // gy, w // gx
    return gray[:, : bh * gy, : bw * gx].reshape(n, gy, bh, gx, bw).transpose(0, 1, 3, 2, 4)


def visual_features(frames: np.ndarray, grid: tuple[int, int] = (4, 4), size: tuple[int, int] = (96, 54),
                    noise_level: float = 1.5) -> dict[str, np.ndarray]:
    """Per-frame event strengths (N,) for each of :data:`FEATURES`, from frames of one shot.

    * ``flash``: cells getting brighter at once (a light switching on; switching off is not a sound).
    * ``stop``: cells whose motion energy drops after frame k (k is the last moving frame: a
      clapper shutting, a hand hitting a table).
    * ``reversal``: cells where the change into frame k and the change out of it oppose each other
      (a ball bouncing off the floor at k).

    Differences under ``noise_level`` grey levels are sensor noise and count as none.
    """
    gray = to_gray(frames, size)
    n = len(gray)
    out = {f: np.zeros(n) for f in FEATURES}
    if n < 3:
        return out
    d = np.diff(gray, axis=0)  # d[k-1] = F_k - F_{k-1}
    d = np.where(np.abs(d) > noise_level, d, 0.0)
    cd = _cells(d, grid)  # (N-1, gy, gx, bh, bw)
    mean_change = cd.mean(axis=(3, 4))  # signed
    energy = np.abs(cd).mean(axis=(3, 4))  # motion energy per cell
    # flash at k: brightening F_{k-1} -> F_k
    out["flash"][1:] = np.clip(mean_change, 0, None).sum(axis=(1, 2))
    # stop at k: energy into k exceeds energy out of k
    stop = np.clip(energy[:-1] - energy[1:], 0, None).sum(axis=(1, 2))
    out["stop"][1:-1] = stop
    # reversal at k: the diff into k and the diff out of k are anti-correlated
    dot = -(cd[:-1] * cd[1:]).mean(axis=(3, 4))
    out["reversal"][1:-1] = np.sqrt(np.clip(dot, 0, None)).sum(axis=(1, 2))
    return out


def onset_envelope(audio: np.ndarray, sample_rate: int, hop_s: float = 0.002, win_s: float = 0.008) -> tuple[np.ndarray, float]:
    """Log-spectral flux (half-wave rectified), one value every ``hop_s``; returns (envelope, hop_s).

    Value ``j`` belongs to the instant where window ``j`` ends, so a sound is dated by its first
    samples, not the middle of its first window."""
    x = np.asarray(audio, dtype=np.float32).reshape(-1)
    hop = max(1, int(round(hop_s * sample_rate)))
    win = max(8, int(round(win_s * sample_rate)))
    if x.size < win + hop:
        return np.zeros(0), hop / sample_rate
    n = 1 + (x.size - win) // hop
    idx = np.arange(win)[None, :] + hop * np.arange(n)[:, None]
    power = np.abs(np.fft.rfft(x[idx] * np.hanning(win)[None, :].astype(np.float32), axis=1)) ** 2
    # Broad log-spaced bands: a tone or a thud lifts its band by tens of dB, while noise, averaged
    # over a band's bins, hardly moves (single bins of noise flicker by several dB every hop).
    edges = np.unique(np.round(np.geomspace(1, power.shape[1], 13)).astype(int))
    bands = np.add.reduceat(power[:, 1:], edges[:-1] - 1, axis=1)
    logb = np.log(bands + 1e-9 * win)
    flux = np.zeros(n)
    flux[1:] = np.clip(np.diff(logb, axis=0), 0, None).sum(axis=1)
    # envelope[j] describes the window ending at (j * hop + win) samples; shift so index j is that instant
    lead = int(round(win / hop))
    env = np.concatenate([np.zeros(lead), flux])
    return env, hop / sample_rate


def max_filter(x: np.ndarray, half_width: int) -> np.ndarray:
    """Running maximum over ``[j - half_width, j + half_width]``."""
    if half_width <= 0 or x.size == 0:
        return x.copy()
    pad = np.concatenate([np.full(half_width, -np.inf), x, np.full(half_width, -np.inf)])
    from numpy.lib.stride_tricks import sliding_window_view

    return sliding_window_view(pad, 2 * half_width + 1).max(axis=1)


@dataclass
class EventResult:
    """What the event scorer made of one fragment."""

    offset_ms: float | None  # positive: sound late; None when there was nothing to judge
    confidence: float  # peak correlation minus the median over lags
    peak_corr: float
    z: float  # confidence in standard deviations of the curve away from the peak
    feature: str | None
    n_visual_events: int
    n_audio_onsets: int
    tie: bool = False
    matched: int = 0  # visual events with an audio onset within half a frame, at the estimated lag
    match_f1: float = 0.0  # F1 of that matching (visual events vs audio onsets)
    onset_recall: float = 0.0  # share of the fragment's onsets that a visual event explains
    reason: str = ""
    curves: dict = field(default_factory=dict, repr=False)

    def details(self) -> dict:
        return {"feature": self.feature, "peak_corr": round(self.peak_corr, 3), "z": round(self.z, 2), "visual_events": self.n_visual_events,
                "audio_onsets": self.n_audio_onsets, "tie": self.tie,
                "matched_events": self.matched, "match_f1": round(self.match_f1, 3),
                "onset_recall": round(self.onset_recall, 3), **({"reason": self.reason} if self.reason else {})}


def peak_indices(x: np.ndarray, rel: float = 0.3, min_abs: float = 0.0) -> np.ndarray:
    """Local maxima above ``rel`` of the largest (and ``min_abs``)."""
    if x.size < 3 or x.max() <= min_abs:
        return np.zeros(0, np.int64)
    thr = max(rel * x.max(), min_abs)
    core = x[1:-1]
    return np.flatnonzero((core >= thr) & (core >= x[:-2]) & (core > x[2:])) + 1


def count_peaks(x: np.ndarray, rel: float = 0.3, min_abs: float = 0.0) -> int:
    return int(peak_indices(x, rel, min_abs).size)


def onset_indices(env: np.ndarray, hop_s: float, min_abs: float, rel: float = 0.3, spacing_s: float = 0.03) -> np.ndarray:
    """Onsets: envelope peaks above ``rel`` of the largest and ``min_abs``, the largest within ``spacing_s``."""
    idx = peak_indices(env, rel, min_abs)
    return idx[env[idx] >= max_filter(env, int(round(spacing_s / hop_s)))[idx]]


def match_events(visual_s: np.ndarray, onset_s: np.ndarray, tolerance_s: float) -> tuple[int, float]:
    """Greedy one-to-one matching of visual event instants and onset instants; (matches, F1)."""
    if visual_s.size == 0 or onset_s.size == 0:
        return 0, 0.0
    used = np.zeros(onset_s.size, bool)
    hits = 0
    for t in np.sort(visual_s):
        d = np.abs(onset_s - t)
        d[used] = np.inf
        j = int(np.argmin(d))
        if d[j] <= tolerance_s:
            used[j] = True
            hits += 1
    return hits, 2.0 * hits / (visual_s.size + onset_s.size)


def score_events(frame_times_s: np.ndarray, frames: np.ndarray, audio: np.ndarray, audio_start_s: float,
                 sample_rate: int, fps: float, max_offset_s: float, min_visual_energy: float = 2.0,
                 min_onset_ratio: float = 6.0, tie_ratio: float = 0.9, min_valid_fraction: float = 0.6) -> EventResult:
    """Estimate the audio offset of one fragment (frames of one shot) from visual events and audio onsets.

    ``audio`` may reach beyond the fragment (the rest of the window): the search at lag ``d`` uses
    the frames whose ``t + d`` has audio, and needs at least ``min_valid_fraction`` of them.
    ``min_visual_energy``: the strongest visual event must move this many grey-level-cells, else
    there is nothing to see. ``min_onset_ratio``: the strongest onset must stand this far above the
    median flux, else there is nothing to hear."""
    n = len(frames)
    env, hop_s = onset_envelope(audio, sample_rate)
    feats = visual_features(frames)
    if n < 5 or env.size == 0:
        return EventResult(None, 0.0, 0.0, 0.0, None, 0, 0, reason="fragment too short")
    med = float(np.median(env)) + 1e-6
    n_onsets = int(onset_indices(env, hop_s, min_onset_ratio * med).size)
    strong = {f: v for f, v in feats.items() if v.max() >= min_visual_energy}
    n_events = max((count_peaks(v, rel=0.3, min_abs=min_visual_energy) for v in strong.values()), default=0)
    if not strong:
        return EventResult(None, 0.0, 0.0, 0.0, None, 0, n_onsets, reason="no visual events")
    if env.max() < min_onset_ratio * med or n_onsets == 0:
        return EventResult(None, 0.0, 0.0, 0.0, None, n_events, 0, reason="no audio onsets")
    frame_s = 1.0 / fps
    smooth = max_filter(env, int(round(frame_s / 2 / hop_s)))
    lags_s = np.arange(-max_offset_s, max_offset_s + hop_s / 2, hop_s)
    # audio index of frame k at lag d
    pos = (frame_times_s[None, :] + lags_s[:, None] - audio_start_s) / hop_s
    idx = np.round(pos).astype(np.int64)
    valid = (idx >= 0) & (idx < smooth.size)
    sampled = np.where(valid, smooth[np.clip(idx, 0, smooth.size - 1)], np.nan)
    best: tuple[LagScore, str] | None = None
    curves = {}
    for name, v in strong.items():
        s = lag_curve_score(v, sampled, valid, lags_s, frame_s, min_valid_fraction, tie_ratio)
        curves[name] = s
        if s is not None and (best is None or s.peak > best[0].peak):
            best = (s, name)
    if best is None:
        return EventResult(None, 0.0, 0.0, 0.0, None, n_events, n_onsets, reason="too little audio around the fragment")
    s, name = best
    # Evidence beyond the correlation: how many of the feature's events line up one to one with
    # onsets at the estimated lag (music over a pan lines up a few by chance, a clapper all).
    a_lo, a_hi = audio_start_s, audio_start_s + env.size * hop_s
    vis_t = frame_times_s[peak_indices(strong[name], rel=0.3, min_abs=min_visual_energy)]
    vis_t = vis_t[(vis_t + s.offset_s >= a_lo + frame_s) & (vis_t + s.offset_s < a_hi - frame_s)]
    on_i = onset_indices(env, hop_s, min_onset_ratio * med)
    on_t = audio_start_s + on_i * hop_s - s.offset_s  # onsets moved onto the picture's clock
    on_t = on_t[(on_t >= frame_times_s[0] - frame_s / 2) & (on_t <= frame_times_s[-1] + frame_s / 2)]
    matched, f1 = match_events(vis_t, on_t, frame_s / 2 + 2 * hop_s)
    recall = matched / on_t.size if on_t.size else 0.0
    return EventResult(s.offset_s * 1000.0, s.confidence, s.peak, s.z, name, n_events, n_onsets, tie=s.tie,
                       matched=matched, match_f1=f1, onset_recall=recall,
                       curves={k: (v.curve if v else None) for k, v in curves.items()})
