"""Loudness: integrated loudness (ITU-R BS.1770-4 / EBU R128), loudness range (EBU Tech 3342) and
true peak of the whole item, against a delivery profile.

Windows are decoded independently (in parallel, on any node), and gating must run over the whole
item, not per window. So :meth:`LoudnessOutOfRange.detect` only *measures*: per channel, the
K-weighted sum of squares of every 100 ms sub-block on a grid fixed to the item's start (``k`` is
the sub-block index, its time ``k * 0.1`` s) and the window's 4x-oversampled true peak, in one
measurement hit per window (a few KB; a 2-hour item's are about 3 MB on the driver).
:meth:`~LoudnessOutOfRange.merge` puts the item's sub-blocks back in time order and computes:

- integrated loudness: 400 ms blocks every 100 ms (75 % overlap, four sub-blocks), channel weights
  per BS.1770 (1.0 front, 1.41 surround, LFE excluded), absolute gate −70 LUFS, relative gate
  −10 LU below the absolute-gated mean;
- loudness range: 3 s short-term blocks every 100 ms, absolute gate −70 LUFS, relative gate −20 LU,
  the 10th to 95th percentile spread;
- true peak: the largest 4x-oversampled sample (BS.1770-4 Annex 2), in dBTP.

It drops the measurement hits and emits at most one finding per violated limit, spanning the
item. A block that a missing window (a decode failure) cuts into is not used. An item whose
audio stays below the absolute gate has no integrated loudness (null columns, no finding).

The K-weighting filter coefficients are pyloudnorm's (a maintained BS.1770 implementation),
designed for the actual sample rate; the tests check the streamed result against
``pyloudnorm.Meter(rate).integrated_loudness`` over the whole signal and against EBU Tech 3341 /
3342 test signals.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np

from rayqa.detectors.base import Detector
from rayqa.types import AudioSpec, Column, Hit, ItemInfo, Window

SUB_BLOCK_S = 0.1
ABSOLUTE_GATE_LUFS = -70.0
RELATIVE_GATE_LU = -10.0
LRA_RELATIVE_GATE_LU = -20.0
LRA_PERCENTILES = (10.0, 95.0)
TRUE_PEAK_OVERSAMPLING = 4

# target LUFS, tolerance LU, max true peak dBTP, max loudness range LU (None: no limit)
PROFILES: dict[str, dict[str, float | None]] = {
    "ebu_r128": {"target_lufs": -23.0, "tolerance_lu": 1.0, "max_true_peak_dbtp": -1.0, "max_loudness_range_lu": None},
    "atsc_a85": {"target_lufs": -24.0, "tolerance_lu": 2.0, "max_true_peak_dbtp": -2.0, "max_loudness_range_lu": None},
    "streaming_-14": {"target_lufs": -14.0, "tolerance_lu": 1.0, "max_true_peak_dbtp": -1.0, "max_loudness_range_lu": None},
    "streaming_-16": {"target_lufs": -16.0, "tolerance_lu": 1.0, "max_true_peak_dbtp": -1.0, "max_loudness_range_lu": None},
}


# -- pure functions ------------------------------------------------------------------------------

@functools.lru_cache(maxsize=8)
def k_weighting_sos(sample_rate: int) -> np.ndarray:
    """The K-weighting filter (pre-filter shelf, then RLB high-pass) as second-order sections,
    from pyloudnorm's BS.1770 filter design at ``sample_rate``."""
    import pyloudnorm

    filters = pyloudnorm.Meter(sample_rate)._filters
    sos = []
    for stage in ("high_shelf", "high_pass"):
        f = filters[stage]
        b = np.asarray(f.b, float) * f.passband_gain
        a = np.asarray(f.a, float)
        sos.append(np.concatenate([b / a[0], a / a[0]]))
    return np.array(sos)


def k_weight(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """K-weighted ``samples`` (channels, n). The filter starts in the steady state of the first
    sample, so a window cut out of a longer item has no start-up transient of its own."""
    from scipy.signal import sosfilt, sosfilt_zi

    sos = k_weighting_sos(int(sample_rate))
    x = np.asarray(samples, dtype=np.float64)
    if x.shape[1] == 0:
        return x
    zi = sosfilt_zi(sos)[:, None, :] * x[None, :, :1]  # (sections, channels, 2)
    y, _ = sosfilt(sos, x, axis=1, zi=zi)
    return y


def sub_block_energy(samples: np.ndarray, sample_rate: int, start_s: float) -> tuple[int, np.ndarray, np.ndarray]:
    """Per 100 ms sub-block of the item's grid: ``(k0, sums, counts)`` where sub-block ``k0 + j``
    has ``sums[:, j]`` (per channel, sum of squares of the K-weighted signal) over
    ``counts[j]`` samples. Sub-blocks cut by the window's edges are partial; the merge adds the
    parts of the same ``k`` together."""
    y = k_weight(samples, sample_rate)
    n = y.shape[1]
    if n == 0:
        return 0, np.zeros((y.shape[0], 0)), np.zeros(0, np.int64)
    k0 = int(math.floor(start_s / SUB_BLOCK_S + 1e-6))
    end_s = start_s + n / sample_rate
    k_end = int(math.floor((end_s - 1e-9) / SUB_BLOCK_S + 1e-6))
    # first sample of each sub-block k0+1 .. k_end
    edges = np.round((np.arange(k0 + 1, k_end + 1) * SUB_BLOCK_S - start_s) * sample_rate).astype(np.int64)
    starts = np.concatenate([[0], np.clip(edges, 0, n)])
    counts = np.diff(np.concatenate([starts, [n]]))
    keep = counts > 0
    sums = np.add.reduceat(y * y, starts[keep], axis=1) if keep.any() else np.zeros((y.shape[0], 0))
    full = np.zeros((y.shape[0], len(counts)))
    full[:, keep] = sums
    return k0, full, counts


@functools.lru_cache(maxsize=4)
def _interpolator(oversampling: int) -> np.ndarray:
    """A 12-taps-per-phase interpolation low-pass (BS.1770-4 Annex 2 uses 48 taps for 4x)."""
    from scipy.signal import firwin

    taps = 12 * oversampling
    return (firwin(taps, 1.0 / oversampling, window=("kaiser", 5.0)) * oversampling).astype(np.float32)


def true_peak(samples: np.ndarray, oversampling: int = TRUE_PEAK_OVERSAMPLING) -> float:
    """Largest absolute value of ``samples`` (channels, n) oversampled ``oversampling`` times
    (polyphase FIR interpolation, BS.1770-4 Annex 2), linear full scale."""
    from scipy.signal import upfirdn

    x = np.asarray(samples, dtype=np.float32)
    if x.size == 0:
        return 0.0
    sample_peak = float(np.abs(x).max())
    if sample_peak == 0.0:
        return 0.0
    h = _interpolator(oversampling)
    delay = (len(h) - 1) // 2  # output samples
    # Inter-sample peaks stay within a few dB of their neighbours: oversample only the blocks
    # whose sample peak comes within 6 dB of the window's, each with the filter's context.
    block, ctx = 4096, 32
    n = x.shape[1]
    nb = -(-n // block)
    padded = np.zeros((x.shape[0], nb * block), np.float32)
    padded[:, :n] = x
    peaks = np.abs(padded).reshape(x.shape[0], nb, block).max(axis=(0, 2))
    best = sample_peak
    for run_a, run_b in _runs_of(peaks >= 0.5 * sample_peak):
        a, b = run_a * block, min(n, run_b * block)
        a0, b0 = max(0, a - ctx), min(n, b + ctx)
        y = upfirdn(h, x[:, a0:b0], oversampling, 1, axis=1)
        # keep the outputs for [a, b): the context's start-up ringing is not the signal's
        lo = (a - a0) * oversampling + delay
        hi = (b - a0) * oversampling + delay
        best = max(best, float(np.abs(y[:, lo:hi]).max()))
    return best


def _runs_of(mask: np.ndarray) -> list[tuple[int, int]]:
    from rayqa.detectors.base import runs

    return runs(mask)


def channel_weights(n_channels: int) -> np.ndarray:
    """BS.1770 channel weights by FFmpeg's channel order: 1.0 for front channels, 1.41 for the
    surrounds, 0 for the LFE. 4 channels: L R Ls Rs; 5: L R C Ls Rs; 6 (5.1): FL FR FC LFE BL BR;
    8 (7.1): FL FR FC LFE BL BR SL SR; otherwise all 1.0 (3 channels: L R C)."""
    if n_channels == 4:
        return np.array([1.0, 1.0, 1.41, 1.41])
    if n_channels == 5:
        return np.array([1.0, 1.0, 1.0, 1.41, 1.41])
    if n_channels == 6:
        return np.array([1.0, 1.0, 1.0, 0.0, 1.41, 1.41])
    if n_channels == 8:
        return np.array([1.0, 1.0, 1.0, 0.0, 1.41, 1.41, 1.41, 1.41])
    return np.ones(n_channels)


def _lufs(power: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return -0.691 + 10.0 * np.log10(power)


def block_powers(sums: np.ndarray, counts: np.ndarray, valid: np.ndarray, length: int) -> tuple[np.ndarray, np.ndarray]:
    """Channel-weighted mean square of every block of ``length`` consecutive sub-blocks (one per
    sub-block step), and whether the block lies wholly on valid (complete) sub-blocks.
    ``sums`` (n,) are the channel-weighted sums of squares per sub-block."""
    n = len(counts)
    if n < length:
        return np.zeros(0), np.zeros(0, bool)
    cs = np.concatenate([[0.0], np.cumsum(sums)])
    cc = np.concatenate([[0], np.cumsum(counts)])
    cv = np.concatenate([[0], np.cumsum(~valid)])
    s = cs[length:] - cs[:-length]
    c = cc[length:] - cc[:-length]
    ok = (cv[length:] - cv[:-length]) == 0
    return np.where(c > 0, s / np.maximum(c, 1), 0.0), ok


def gated_integrated(powers: np.ndarray) -> float:
    """BS.1770-4 gated integrated loudness from 400 ms block powers (NaN when nothing passes the
    absolute gate)."""
    lk = _lufs(powers)
    above = powers[lk >= ABSOLUTE_GATE_LUFS]
    if above.size == 0:
        return float("nan")
    gate = float(_lufs(np.array([above.mean()]))[0]) + RELATIVE_GATE_LU
    kept = powers[(lk >= ABSOLUTE_GATE_LUFS) & (lk > gate)]
    return float(_lufs(np.array([kept.mean()]))[0]) if kept.size else float("nan")


def loudness_range(short_term_powers: np.ndarray) -> float:
    """EBU Tech 3342 loudness range from 3 s short-term block powers (NaN when none is loud)."""
    lk = _lufs(short_term_powers)
    lk = lk[lk >= ABSOLUTE_GATE_LUFS]
    if lk.size == 0:
        return float("nan")
    gate = 10.0 * np.log10(np.mean(10.0 ** (lk / 10.0))) + LRA_RELATIVE_GATE_LU
    lk = lk[lk >= gate]
    if lk.size == 0:
        return float("nan")
    lo, hi = np.percentile(lk, LRA_PERCENTILES)
    return float(hi - lo)


def measure(sub_blocks: dict[int, tuple[np.ndarray, int]], sample_rate: int, peak: float) -> dict[str, float]:
    """Integrated loudness (LUFS), loudness range (LU) and true peak (dBTP) of an item from its
    sub-blocks ``k -> (per-channel sums of squares, sample count)``; NaN where undefined."""
    if not sub_blocks:
        return {"loudness_lufs": float("nan"), "loudness_range_lu": float("nan"), "true_peak_dbtp": float("nan")}
    ks = np.array(sorted(sub_blocks))
    k_lo, k_hi = int(ks[0]), int(ks[-1])
    n = k_hi - k_lo + 1
    n_ch = max(len(v[0]) for v in sub_blocks.values())
    w = channel_weights(n_ch)
    sums = np.zeros(n)
    counts = np.zeros(n, np.int64)
    for k, (s, c) in sub_blocks.items():
        s = np.asarray(s, float)
        sums[k - k_lo] = float(np.dot(w[: len(s)], s))
        counts[k - k_lo] = int(c)
    full = SUB_BLOCK_S * sample_rate
    valid = counts >= full - 2  # a sub-block a missing window cut into is not complete
    p400, ok400 = block_powers(sums, counts, valid, 4)
    p3s, ok3s = block_powers(sums, counts, valid, 30)
    return {
        "loudness_lufs": gated_integrated(p400[ok400]),
        "loudness_range_lu": loudness_range(p3s[ok3s]),
        "true_peak_dbtp": 20.0 * math.log10(peak) if peak > 0 else float("-inf"),
    }


# -- the detector --------------------------------------------------------------------------------

class LoudnessOutOfRange(Detector):
    name = "loudness_out_of_range"
    defects = ("loudness_out_of_range",)
    audio = AudioSpec(sample_rate=48000, mono=False)
    version = "1"
    item_columns = (
        Column("loudness_lufs", "float64", "integrated loudness, ITU-R BS.1770-4 gated over the whole item (LUFS)"),
        Column("loudness_range_lu", "float64", "loudness range, EBU Tech 3342 (LU)"),
        Column("true_peak_dbtp", "float64", "true peak, 4x oversampled (dBTP)"),
    )
    defaults = {
        "profile": "ebu_r128",  # ebu_r128 / atsc_a85 / streaming_-14 / streaming_-16
        # Explicit overrides of the profile's limits (None: the profile's).
        "target_lufs": None,
        "tolerance_lu": None,
        "max_true_peak_dbtp": None,
        "max_loudness_range_lu": None,  # no profile limits LRA by default
    }

    def __init__(self, **params: Any):
        super().__init__(**params)
        if self.params["profile"] not in PROFILES:
            raise ValueError(f"loudness_out_of_range: profile must be one of {', '.join(PROFILES)}, "
                             f"got {self.params['profile']!r}")
        self.limits = dict(PROFILES[self.params["profile"]])
        for key in self.limits:
            if self.params[key] is not None:
                self.limits[key] = float(self.params[key])
        if self.limits["tolerance_lu"] < 0:
            raise ValueError("loudness_out_of_range: tolerance_lu must be >= 0")

    def detect(self, window: Window, info: ItemInfo) -> list[Hit]:
        a = window.audio.get(self.audio.key)
        if a is None or a.samples.shape[1] == 0:
            return []
        k0, sums, counts = sub_block_energy(a.samples, a.sample_rate, a.start_s)
        end_s = a.start_s + a.samples.shape[1] / a.sample_rate
        return [Hit(self.name, a.start_s, end_s, 0.0, {
            "measurement": True,
            "sample_rate": int(a.sample_rate),
            "k0": k0,
            "sub_block_s": SUB_BLOCK_S,
            "counts": counts.tolist(),
            "sums": [[float(f"{v:.7g}") for v in ch] for ch in sums],
            "true_peak": float(f"{true_peak(a.samples):.7g}"),
        })]

    def item_measures(self, hits: list[Hit]) -> tuple[dict[str, float], float] | None:
        """The item's loudness measures and the end of its audio, from its measurement hits."""
        ms = [h for h in hits if h.details.get("measurement")]
        if not ms:
            return None
        blocks: dict[int, tuple[np.ndarray, int]] = {}
        peak = 0.0
        for h in sorted(ms, key=lambda h: h.start_s):
            d = h.details
            sums = np.asarray(d["sums"], float)
            for j, c in enumerate(d["counts"]):
                k = d["k0"] + j
                if k in blocks:  # a sub-block two windows share
                    s0, c0 = blocks[k]
                    if len(s0) == len(sums):
                        blocks[k] = (s0 + sums[:, j], c0 + int(c))
                else:
                    blocks[k] = (sums[:, j].copy(), int(c))
            peak = max(peak, float(d["true_peak"]))
        return measure(blocks, int(ms[0].details["sample_rate"]), peak), max(h.end_s for h in ms)

    def merge(self, hits: list[Hit]) -> list[Hit]:
        got = self.item_measures(hits)
        if got is None:
            return []
        m, end_s = got
        lim = self.limits
        details = {
            "profile": self.params["profile"],
            "loudness_lufs": _round(m["loudness_lufs"]), "loudness_range_lu": _round(m["loudness_range_lu"]),
            "true_peak_dbtp": _round(m["true_peak_dbtp"]),
            **{k: v for k, v in lim.items()},
        }
        out = []
        lufs = m["loudness_lufs"]
        if math.isfinite(lufs) and abs(lufs - lim["target_lufs"]) > lim["tolerance_lu"] + 1e-9:
            excess = abs(lufs - lim["target_lufs"]) - lim["tolerance_lu"]
            out.append(Hit(self.name, 0.0, end_s, _score(excess, 3.0), {
                **details, "limit": "integrated_loudness", "level_db": _round(lufs),
                "direction": "too_loud" if lufs > lim["target_lufs"] else "too_quiet"}))
        tp = m["true_peak_dbtp"]
        if math.isfinite(tp) and tp > lim["max_true_peak_dbtp"] + 1e-9:
            out.append(Hit(self.name, 0.0, end_s, _score(tp - lim["max_true_peak_dbtp"], 2.0), {
                **details, "limit": "true_peak", "level_db": _round(tp)}))
        lra = m["loudness_range_lu"]
        if lim["max_loudness_range_lu"] is not None and math.isfinite(lra) and lra > lim["max_loudness_range_lu"]:
            out.append(Hit(self.name, 0.0, end_s, _score(lra - lim["max_loudness_range_lu"], 5.0), {
                **details, "limit": "loudness_range", "level_db": _round(lra)}))
        return out

    def summarise(self, hits: list[Hit]) -> dict[str, Any]:
        got = self.item_measures(hits)
        if got is None:
            return {}
        m, _ = got
        return {k: (round(v, 2) if math.isfinite(v) else None) for k, v in m.items()}


def _round(v: float) -> float | None:
    return round(float(v), 2) if math.isfinite(v) else None


def _score(excess: float, scale: float) -> float:
    """0.5 at the limit, towards 1.0 as the excess grows to ``scale``."""
    return float(min(1.0, 0.5 + 0.5 * max(0.0, excess) / scale))
