"""Channel faults: a phase-inverted pair, a dead channel, dual mono presented as stereo, and a
swapped channel where the signal itself shows it.

Per block of ``block_s`` (0.1 s; gaps up to ``fill_gap_s`` bridged) of the multichannel audio (channel order as FFmpeg decodes it: stereo
L R; 5.1 FL FR FC LFE BL BR; 7.1 FL FR FC LFE BL BR SL SR):

- ``dead_channel``: a channel (never the LFE, which is often legitimately empty) below
  ``dead_level_db`` while another carries programme (above ``active_level_db``), for
  ``dead_min_duration_s``. A silent centre beside active front channels is reported the same way,
  with ``details.hint`` saying it may be a swapped or missing centre.
- ``phase_inverted``: both channels of a pair (L/R, the surround pairs) active and their
  correlation at or below ``max_phase_correlation``, for ``phase_min_duration_s``.
- ``dual_mono``: a pair that is mono presented as stereo: both channels active and the difference
  between them at least ``dual_mono_residual_db`` below their energy (bit-identical or
  near-identical) in stretches of ``dual_mono_min_duration_s`` (pauses where both are quiet do not
  break them) that cover at least ``dual_mono_min_share`` of the time the pair carries programme.
  One event per pair, from the first such stretch to the last, with ``details.share``. Stretches
  alone are not reported: centred mono dialogue over a mono ambience is near-identical too, and
  was a third of the false alarms on real programme. Often deliberate (mono programme delivered
  as stereo), so ``details.severity`` is ``dual_mono_severity`` ("low") and
  ``report_dual_mono = false`` turns it off.
- ``swapped``: on 5.1 / 7.1, an LFE channel carrying full-band content (more than
  ``lfe_max_high_share`` of its energy above ``lfe_cutoff_hz``), which an LFE that was swapped with
  a full-range channel does. A left/right (or surround pair) swap leaves no trace in the signal
  (no reference to compare with), so it is not detected; nor is a swap among full-range channels.
  FFmpeg's AAC encoder keeps a full-band LFE (measured in the tests); an encoder that low-passes
  the LFE hides the evidence.

``details``: ``kind``, ``channels`` (indices), ``channel_names``, and for pairs ``correlation`` (or
``residual_db`` for dual mono); ``level_db`` is the channels' level (dead: the dead channel's).
"""

from __future__ import annotations

import numpy as np

from rayqa.detectors.base import Detector, runs
from rayqa.types import AudioSpec, Hit, ItemInfo, Window

LAYOUT_NAMES = {
    1: ["C"], 2: ["L", "R"], 3: ["L", "R", "C"], 4: ["L", "R", "Ls", "Rs"], 5: ["L", "R", "C", "Ls", "Rs"],
    6: ["FL", "FR", "FC", "LFE", "BL", "BR"], 8: ["FL", "FR", "FC", "LFE", "BL", "BR", "SL", "SR"],
}
KINDS = ("phase_inverted", "dead_channel", "dual_mono", "swapped")


def channel_names(n: int) -> list[str]:
    return LAYOUT_NAMES.get(n, [f"ch{i}" for i in range(n)])


def lfe_index(n: int) -> int | None:
    return 3 if n in (6, 8) else None


def channel_pairs(n: int) -> list[tuple[int, int]]:
    """Left/right pairs by FFmpeg's order: front, then the surround pairs."""
    if n in (2, 3):
        return [(0, 1)]
    if n == 4:
        return [(0, 1), (2, 3)]
    if n == 5:
        return [(0, 1), (3, 4)]
    if n == 6:
        return [(0, 1), (4, 5)]
    if n == 8:
        return [(0, 1), (4, 5), (6, 7)]
    return []


def block_stats(x: np.ndarray, block: int) -> dict[str, np.ndarray]:
    """Per block of ``block`` samples of (channels, n) ``x``: ``rms_db`` (channels, blocks), and per
    channel pair (in :func:`channel_pairs` order) ``corr`` and ``residual_db`` (pairs, blocks)."""
    c = x.shape[0]
    nb = x.shape[1] // block
    xb = x[:, : nb * block].reshape(c, nb, block).astype(np.float64)
    energy = np.einsum("cbn,cbn->cb", xb, xb)
    rms_db = 10 * np.log10(np.maximum(energy / block, 1e-20))
    pairs = channel_pairs(c)
    corr = np.zeros((len(pairs), nb))
    resid = np.zeros((len(pairs), nb))
    for p, (i, j) in enumerate(pairs):
        a, b = xb[i], xb[j]
        am, bm = a - a.mean(axis=1, keepdims=True), b - b.mean(axis=1, keepdims=True)
        num = np.einsum("bn,bn->b", am, bm)
        den = np.sqrt(np.einsum("bn,bn->b", am, am) * np.einsum("bn,bn->b", bm, bm))
        corr[p] = np.where(den > 0, num / np.maximum(den, 1e-30), 0.0)
        d = a - b
        resid[p] = 10 * np.log10(np.maximum(np.einsum("bn,bn->b", d, d), 1e-30) / np.maximum(energy[i] + energy[j], 1e-30))
    return {"rms_db": rms_db, "corr": corr, "residual_db": resid}


def centred_sum(x: np.ndarray, span: int) -> np.ndarray:
    """Sum of ``x`` over ``span`` values centred on each (fewer at the ends), as long as ``x``
    whatever ``span`` (``np.convolve(..., "same")`` returns ``span`` values when ``x`` is shorter)."""
    c = np.concatenate([[0.0], np.cumsum(x, dtype=np.float64)])
    i = np.arange(len(x))
    lo = np.clip(i - span // 2, 0, len(x))
    hi = np.clip(i - span // 2 + span, 0, len(x))
    return c[hi] - c[lo]


def smoothed_residual_db(a: np.ndarray, b: np.ndarray, block: int, span: int) -> np.ndarray:
    """Per block: the energy of ``a - b`` against that of ``a`` and ``b`` (dB), both summed over
    ``span`` blocks centred on it."""
    nb = len(a) // block
    a = a[: nb * block].reshape(nb, block).astype(np.float64)
    b = b[: nb * block].reshape(nb, block).astype(np.float64)
    d = np.einsum("bn,bn->b", a - b, a - b)
    e = np.einsum("bn,bn->b", a, a) + np.einsum("bn,bn->b", b, b)
    return 10 * np.log10(np.maximum(centred_sum(d, span), 1e-30) / np.maximum(centred_sum(e, span), 1e-30))


def close_gaps(mask: np.ndarray, max_gap: int) -> np.ndarray:
    """``mask`` with false stretches of at most ``max_gap`` between two true ones filled."""
    out = mask.copy()
    r = runs(mask)
    for (_, b), (a, _) in zip(r[:-1], r[1:]):
        if a - b <= max_gap:
            out[b:a] = True
    return out


def high_share(x: np.ndarray, sample_rate: int, cutoff_hz: float) -> float:
    """Share of mono ``x``'s energy above ``cutoff_hz``."""
    spec = np.abs(np.fft.rfft(x.astype(np.float64))) ** 2
    freqs = np.fft.rfftfreq(len(x), 1.0 / sample_rate)
    total = spec[1:].sum()
    return float(spec[freqs > cutoff_hz].sum() / total) if total > 0 else 0.0


class AudioChannelFault(Detector):
    name = "audio_channel_fault"
    defects = ("audio_channel_fault",)
    audio = AudioSpec(sample_rate=48000, mono=False)
    version = "2"
    defaults = {
        "block_s": 0.1,
        "fill_gap_s": 0.3,  # a fault interrupted for at most this long is one stretch
        "active_level_db": -50.0,  # a channel above this (dBFS RMS) carries programme
        "dead_level_db": -70.0,  # a channel below this is dead (AAC leaves -75 dB next to programme)
        "dead_min_duration_s": 2.0,
        "max_phase_correlation": -0.8,
        "phase_min_duration_s": 1.0,
        "report_dual_mono": True,
        # L-R energy this far below L+R. Lossy codecs do not keep L == R exact: FFmpeg's AAC leaves
        # the difference of a dual-mono pair at about -27 dB; stereo programme is near -5..-15 dB.
        "dual_mono_residual_db": -22.0,
        "dual_mono_min_duration_s": 5.0,
        "dual_mono_min_share": 0.8,  # of the time the pair carries programme
        "dual_mono_severity": "low",
        "lfe_cutoff_hz": 200.0,
        "lfe_max_high_share": 0.5,
        "swapped_min_duration_s": 2.0,
    }

    def applies_to(self, info: ItemInfo) -> bool:
        # one channel has no pair and nothing to compare with
        return super().applies_to(info) and (info.audio_channels is None or info.audio_channels >= 2)

    def detect(self, window: Window, info: ItemInfo) -> list[Hit]:
        a = window.audio.get(self.audio.key)
        if a is None or a.samples.shape[0] < 2:
            return []
        p = self.params
        sr = a.sample_rate
        block = max(1, int(round(float(p["block_s"]) * sr)))
        x = a.samples
        if x.shape[1] < block:
            return []
        st = block_stats(x, block)
        n_ch, nb = st["rms_db"].shape
        names = channel_names(n_ch)
        lfe = lfe_index(n_ch)
        full = [c for c in range(n_ch) if c != lfe]
        active = st["rms_db"] > p["active_level_db"]
        step = block / sr
        hits: list[Hit] = []

        fill = int(round(float(p["fill_gap_s"]) / step))

        def add(kind: str, mask: np.ndarray, channels: list[int], details_of, score: float) -> None:
            for i, j in runs(close_gaps(mask, fill)):
                hits.append(Hit(self.name, a.start_s + i * step, a.start_s + j * step, score, {
                    "kind": kind, "channels": channels, "channel_names": [names[c] for c in channels],
                    **details_of(i, j)}))

        any_active = active[full].any(axis=0)
        for c in full:
            others = np.array([o for o in full if o != c])
            dead = (st["rms_db"][c] < p["dead_level_db"]) & active[others].any(axis=0)
            hint = {}
            if names[c] == "FC" or (n_ch in (3, 5) and c == 2):
                hint = {"hint": "centre silent while the front pair carries programme: a missing or swapped centre"}
            add("dead_channel", dead, [c], lambda i, j, c=c, hint=hint: {
                "level_db": round(float(st["rms_db"][c, i:j].max()), 1),
                "others_level_db": round(float(st["rms_db"][full, i:j].max()), 1), "severity": "high", **hint}, 0.9)
        for k, (ci, cj) in enumerate(channel_pairs(n_ch)):
            both = active[ci] & active[cj]
            add("phase_inverted", both & (st["corr"][k] <= p["max_phase_correlation"]), [ci, cj],
                lambda i, j, k=k, ci=ci, cj=cj: {
                    "correlation": round(float(np.median(st["corr"][k, i:j])), 3),
                    "level_db": round(float(st["rms_db"][[ci, cj], i:j].max()), 1), "severity": "high"}, 0.9)
            if p["report_dual_mono"]:
                # how long the pair carries programme here: dual mono is judged on the item's share
                hits.append(Hit(self.name, a.start_s, a.start_s + nb * step, 0.0, {
                    "kind": "_active", "channels": [ci, cj], "active_s": float(both.sum() * step)}))
                # the difference's share over about a second: codec noise varies block to block
                span = max(1, int(round(1.0 / step)))
                resid = smoothed_residual_db(x[ci], x[cj], block, span)
                thr = p["dual_mono_residual_db"]
                smooth = resid <= thr
                # the smoothing blurs the edges: blocks next to a dual-mono stretch whose own
                # difference is below the level belong to it
                near = centred_sum(smooth.astype(float), 2 * (span // 2) + 1) > 0
                mono = both & (smooth | (near & (st["residual_db"][k] <= thr)))
                # pauses (both channels quiet) do not break a dual-mono stretch; it starts and ends
                # on dual-mono programme
                quiet = ~active[ci] & ~active[cj]
                stretch = np.zeros(nb, bool)
                for i, j in runs(mono | quiet):
                    hit = np.flatnonzero(mono[i:j])
                    if hit.size:
                        stretch[i + hit[0] : i + hit[-1] + 1] = True
                add("dual_mono", stretch, [ci, cj],
                    lambda i, j, k=k, ci=ci, cj=cj: {
                        "correlation": round(float(np.median(st["corr"][k, i:j])), 4),
                        "residual_db": round(float(np.median(resid[i:j])), 1),
                        "bit_identical": bool(np.max(st["residual_db"][k, i:j]) < -200),
                        "level_db": round(float(st["rms_db"][[ci, cj], i:j].max()), 1),
                        "severity": p["dual_mono_severity"]}, 0.3)
        if lfe is not None:
            # per block: is the LFE active and mostly above the cutoff?
            share = np.zeros(nb)
            for b in np.flatnonzero(st["rms_db"][lfe] > p["active_level_db"]):
                share[b] = high_share(x[lfe, b * block : (b + 1) * block], sr, float(p["lfe_cutoff_hz"]))
            add("swapped", (share > p["lfe_max_high_share"]) & any_active, [lfe], lambda i, j: {
                "lfe_high_share": round(float(np.median(share[i:j])), 3),
                "level_db": round(float(st["rms_db"][lfe, i:j].max()), 1),
                "hint": "the LFE carries full-band content: swapped with a full-range channel", "severity": "high"}, 0.8)
        return hits

    def min_duration(self, kind: str) -> float:
        return float(self.params[{"phase_inverted": "phase_min_duration_s", "dead_channel": "dead_min_duration_s",
                                  "dual_mono": "dual_mono_min_duration_s",
                                  "swapped": "swapped_min_duration_s"}[kind]])

    def merge(self, hits: list[Hit]) -> list[Hit]:
        """Per kind and channels: touching hits join (the event keeps the first hit's details, with
        the strongest correlation / level seen); events shorter than the kind's minimum are dropped;
        a pair's dual-mono stretches become one event where they cover ``dual_mono_min_share`` of
        the time it carries programme, and none otherwise."""
        active: dict[tuple, float] = {}
        for h in hits:
            if h.details["kind"] == "_active":
                key_ = tuple(h.details["channels"])
                active[key_] = active.get(key_, 0.0) + float(h.details["active_s"])
        events: list[Hit] = []
        key = lambda h: (h.details["kind"], tuple(h.details["channels"]))
        for h in sorted((h for h in hits if h.details["kind"] != "_active"), key=lambda h: (key(h), h.start_s)):
            last = events[-1] if events else None
            if last is not None and key(last) == key(h) and h.start_s <= last.end_s + 1e-3:
                last.end_s = max(last.end_s, h.end_s)
                d, o = last.details, h.details
                d["level_db"] = max(d["level_db"], o["level_db"])
                if d["kind"] == "phase_inverted":
                    d["correlation"] = min(d["correlation"], o["correlation"])
                if d["kind"] == "dual_mono":
                    d["residual_db"] = max(d["residual_db"], o["residual_db"])
                    d["bit_identical"] = d["bit_identical"] and o["bit_identical"]
                continue
            events.append(Hit(h.defect, h.start_s, h.end_s, h.score, dict(h.details)))
        out = [e for e in events if e.end_s - e.start_s + 1e-6 >= self.min_duration(e.details["kind"])
               and e.details["kind"] != "dual_mono"]
        for pair, programme_s in active.items():
            mono = [e for e in events if e.details["kind"] == "dual_mono" and tuple(e.details["channels"]) == pair
                    and e.end_s - e.start_s + 1e-6 >= self.min_duration("dual_mono")]
            mono_s = sum(e.end_s - e.start_s for e in mono)
            if mono and programme_s > 0 and mono_s >= float(self.params["dual_mono_min_share"]) * programme_s - 1e-6:
                first = mono[0]
                out.append(Hit(first.defect, first.start_s, max(e.end_s for e in mono), first.score, {
                    **first.details, "share": round(min(1.0, mono_s / programme_s), 3),
                    "level_db": max(e.details["level_db"] for e in mono),
                    "residual_db": max(e.details["residual_db"] for e in mono),
                    "bit_identical": all(e.details["bit_identical"] for e in mono)}))
        return sorted(out, key=lambda e: (e.start_s, e.details["kind"]))
