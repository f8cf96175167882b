"""Caption checks as pure functions of cues (and speech spans): timing, reading speed, and agreement
with the speech heard. Each returns :class:`~rayqa.types.Hit` events whose ``details`` are the
evidence: the cue index(es) and timing-line number, the cue's text (shortened), its times, the
measured value and the limit it broke.
"""

from __future__ import annotations

import re
from typing import Any, Iterable, Sequence

import numpy as np

from rayqa.captions.read import Cue, preview
from rayqa.types import Hit

# Reading-speed profiles (caption_reading_speed's `profile`): characters per second, characters
# per line, lines per cue. "adult": broadcast guidance for adult programmes (BBC, Ofcom: about
# 160-180 words a minute); "streaming": what some streaming services allow for adult content
# (Netflix's English style guide: 20 cps).
PROFILES: dict[str, dict[str, float]] = {
    "adult": {"max_cps": 17.0, "max_line_chars": 42, "max_lines": 2},
    "streaming": {"max_cps": 20.0, "max_line_chars": 42, "max_lines": 2},
}

_SOUND = re.compile(r"^\s*(?:[\[(].*[\])]|[♪♫#*\s]+|♪.*♪|♫.*♫)\s*$")
_SPEAKER = re.compile(r"^\s*(?:-\s*)?[A-Z][A-Z0-9 .'-]{0,30}:\s*")


def is_sound_cue(text: str) -> bool:
    """A cue that describes sound or music (``[door slams]``, ``(laughs)``, ``♪ ...``) rather than
    transcribing speech: no speech need be heard under it."""
    lines = [_SPEAKER.sub("", line) for line in text.split("\n") if line.strip()]
    return bool(lines) and all(_SOUND.match(line) for line in lines)


def _cue_details(c: Cue, **measured: Any) -> dict[str, Any]:
    return {"cue_index": c.index, "cue_line": c.line, "text": preview(c.text), "cue_start_s": round(c.start_s, 3),
            "cue_end_s": round(c.end_s, 3), **measured}


def _clip(t: float, duration_s: float | None) -> float:
    t = max(0.0, t)
    return min(t, duration_s) if duration_s else t


# -- timing -----------------------------------------------------------------------------------------

def timing_findings(cues: Sequence[Cue], duration_s: float | None, fps: float | None = None, min_cue_s: float = 5 / 6,
                    min_gap_frames: float = 2.0, allow_overlap: bool = False, end_tolerance_s: float = 0.04) -> list[Hit]:
    """``caption_timing`` events: cues that end before they start (``non_positive_duration``), last
    less than ``min_cue_s`` (``too_short``), run past the media's end (``past_end``), overlap the
    next cue (``overlap``), leave a gap to the next cue of more than nothing but less than
    ``min_gap_frames`` frames at ``fps`` (``short_gap``: a flicker; touching cues are fine), or start
    before the cue listed above them (``out_of_order``). Spans are clipped to the media."""
    out: list[Hit] = []
    fps = fps if fps and fps > 0 else 25.0
    min_gap_s = min_gap_frames / fps

    def add(kind: str, start: float, end: float, score: float, c: Cue, **measured):
        s, e = _clip(start, duration_s), _clip(end, duration_s)
        out.append(Hit("caption_timing", s, max(s, e), float(score), {"kind": kind, **_cue_details(c, **measured)}))

    for prev, c in zip([None, *cues[:-1]], cues):
        if prev is not None and c.start_s < prev.start_s - 1e-3:
            add("out_of_order", c.start_s, c.end_s, 0.8, c, previous_cue_index=prev.index,
                previous_cue_start_s=round(prev.start_s, 3))
        if c.duration_s <= 0:
            add("non_positive_duration", c.start_s, c.start_s, 1.0, c, duration_s=round(c.duration_s, 3), limit_s=0.0)
        elif c.duration_s < min_cue_s - 1e-6:
            add("too_short", c.start_s, c.end_s, min(1.0, 0.5 + 0.5 * (1 - c.duration_s / min_cue_s)), c,
                duration_s=round(c.duration_s, 3), limit_s=round(min_cue_s, 3))
        if duration_s and c.end_s > duration_s + end_tolerance_s:
            add("past_end", min(c.start_s, duration_s), duration_s, 1.0, c, media_duration_s=round(duration_s, 3),
                past_end_s=round(c.end_s - duration_s, 3))
    timed = sorted((c for c in cues if c.duration_s > 0), key=lambda c: (c.start_s, c.index))
    for a, b in zip(timed, timed[1:]):
        gap = b.start_s - a.end_s
        if gap < -1e-3 and not allow_overlap:
            add("overlap", b.start_s, min(a.end_s, b.end_s), 1.0, b, overlaps_cue_index=a.index,
                overlaps_cue_text=preview(a.text, 40), overlap_s=round(min(a.end_s, b.end_s) - b.start_s, 3))
        elif 1e-3 < gap < min_gap_s - 5e-4:
            add("short_gap", a.end_s, b.start_s, 0.7, b, previous_cue_index=a.index, gap_s=round(gap, 3),
                gap_frames=round(gap * fps, 2), limit_frames=min_gap_frames, fps=round(fps, 3))
    return out


# -- reading speed ------------------------------------------------------------------------------------

def reading_speed_findings(cues: Sequence[Cue], max_cps: float, max_line_chars: int, max_lines: int,
                           profile: str | None = None) -> list[Hit]:
    """``caption_reading_speed`` events: cues whose text needs more than ``max_cps`` characters per
    second of display (line breaks not counted; cues without a positive duration are left to the
    timing check), lines longer than ``max_line_chars``, cues of more than ``max_lines`` lines."""
    out: list[Hit] = []
    for c in cues:
        extra = {"profile": profile} if profile else {}
        if c.duration_s > 0 and c.chars:
            cps = c.chars / c.duration_s
            if cps > max_cps + 1e-9:
                out.append(Hit("caption_reading_speed", c.start_s, c.end_s, float(min(1.0, 0.5 + (cps - max_cps) / (2 * max_cps))),
                               {"kind": "cps", **_cue_details(c, chars=c.chars, duration_s=round(c.duration_s, 3),
                                                              cps=round(cps, 2), limit_cps=max_cps), **extra}))
        lines = c.lines
        longest = max((len(line) for line in lines), default=0)
        if longest > max_line_chars:
            at = next(i for i, line in enumerate(lines, 1) if len(line) == longest)
            out.append(Hit("caption_reading_speed", max(0.0, c.start_s), max(0.0, c.end_s), 0.8,
                           {"kind": "line_too_long", **_cue_details(c, line_in_cue=at, line_chars=longest,
                                                                    limit_chars=max_line_chars), **extra}))
        if len(lines) > max_lines:
            out.append(Hit("caption_reading_speed", max(0.0, c.start_s), max(0.0, c.end_s), 0.8,
                           {"kind": "too_many_lines", **_cue_details(c, lines=len(lines), limit_lines=max_lines), **extra}))
    return out


# -- speech ----------------------------------------------------------------------------------------------

Span = tuple[float, float]


def union(spans: Iterable[Span], gap_s: float = 0.0) -> list[Span]:
    """Sorted, non-overlapping spans; spans closer than ``gap_s`` join."""
    out: list[list[float]] = []
    for a, b in sorted((float(a), float(b)) for a, b in spans if b > a):
        if out and a <= out[-1][1] + gap_s:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return [(a, b) for a, b in out]


def overlap_s(spans: Sequence[Span], a: float, b: float) -> float:
    """Seconds of ``[a, b)`` covered by (disjoint) ``spans``."""
    return float(sum(max(0.0, min(b, y) - max(a, x)) for x, y in spans if y > a and x < b))


def subtract(spans: Sequence[Span], minus: Sequence[Span]) -> list[Span]:
    """Parts of disjoint ``spans`` outside disjoint ``minus``."""
    out: list[Span] = []
    for a, b in spans:
        cur = a
        for x, y in minus:
            if y <= cur or x >= b:
                continue
            if x > cur:
                out.append((cur, x))
            cur = max(cur, y)
            if cur >= b:
                break
        if cur < b:
            out.append((cur, b))
    return out


def speech_coverage(speech: Sequence[Span], cues: Sequence[Cue]) -> float | None:
    """Share of detected speech covered by cues (None when no speech was detected)."""
    speech = union(speech)
    total = sum(b - a for a, b in speech)
    if total <= 0:
        return None
    shown = union((c.start_s, c.end_s) for c in cues)
    return float(sum(overlap_s(shown, a, b) for a, b in speech) / total)


def _activity(spans: Iterable[Span], n: int, step_s: float) -> np.ndarray:
    x = np.zeros(n, np.float64)
    for a, b in spans:
        i, j = max(0, int(round(a / step_s))), min(n, int(round(b / step_s)))
        if j > i:
            x[i:j] = 1.0
    return x


def _matched(starts: np.ndarray, onsets: np.ndarray, tolerance_s: float) -> np.ndarray:
    """For each cue start: is a speech onset within ``tolerance_s``?"""
    if not len(onsets):
        return np.zeros(len(starts), bool)
    j = np.clip(np.searchsorted(onsets, starts), 1, len(onsets) - 1) if len(onsets) > 1 else np.zeros(len(starts), int)
    near = np.minimum(np.abs(onsets[j] - starts), np.abs(onsets[np.maximum(j - 1, 0)] - starts))
    return near <= tolerance_s


def estimate_offset(cues: Sequence[Cue], speech: Sequence[Span], max_offset_s: float = 5.0, step_s: float = 0.01,
                    match_window_s: float = 0.6, onset_tolerance_s: float = 0.15) -> dict[str, Any] | None:
    """A constant offset between cues and speech: positive when the captions come late.

    The cue activity (1 while a speech cue is shown) is cross-correlated with speech activity over
    lags within ``±max_offset_s``; the best lag is then refined to the median difference between
    each cue's start and the speech onset nearest to it after the shift (within ``match_window_s``).
    Returns ``offset_ms``, ``lag_ms`` (the correlation's), ``gain`` (overlap at the best lag over
    overlap at zero lag, minus one), ``matched_cues`` (cues whose start, shifted back by the offset,
    lies within ``onset_tolerance_s`` of a speech onset), ``matched_at_zero`` (the same without the
    shift), ``cues``, ``spread_ms`` (median absolute deviation of the matched differences); None
    when there is nothing to compare."""
    spoken = [c for c in cues if c.duration_s > 0 and not is_sound_cue(c.text)]
    speech = union(speech, gap_s=0.05)
    if not spoken or not speech:
        return None
    end = max(max(c.end_s for c in spoken), speech[-1][1]) + max_offset_s + 1.0
    n = int(np.ceil(end / step_s))
    a = _activity(((c.start_s, c.end_s) for c in spoken), n, step_s)
    b = _activity(speech, n, step_s)
    size = 1 << int(np.ceil(np.log2(2 * n)))
    corr = np.fft.irfft(np.fft.rfft(a, size) * np.conj(np.fft.rfft(b, size)), size)
    k = int(round(max_offset_s / step_s))
    lags = np.arange(-k, k + 1)
    values = corr[lags % size]
    best = int(lags[int(np.argmax(values))])
    at_zero = float(corr[0])
    peak = float(values.max())
    onsets = np.array([s for s, _ in speech])
    starts = np.array([c.start_s for c in spoken])
    diffs = []
    for t in starts:
        target = t - best * step_s
        j = int(np.argmin(np.abs(onsets - target)))
        if abs(onsets[j] - target) <= match_window_s:
            diffs.append(t - onsets[j])
    offset = float(np.median(diffs)) if diffs else best * step_s
    spread = float(np.median(np.abs(np.asarray(diffs) - offset))) if diffs else None
    matched = int(_matched(starts - offset, onsets, onset_tolerance_s).sum())
    at_zero_matched = int(_matched(starts, onsets, onset_tolerance_s).sum())
    return {"offset_ms": round(offset * 1000.0, 1), "lag_ms": round(best * step_s * 1000.0, 1),
            "gain": round(peak / at_zero - 1.0, 3) if at_zero > 0 else None,
            "overlap_at_lag_s": round(peak * step_s, 3), "overlap_at_zero_s": round(at_zero * step_s, 3),
            "matched_cues": matched, "matched_at_zero": at_zero_matched, "cues": len(spoken),
            "spread_ms": round(spread * 1000.0, 1) if spread is not None else None}


def shifted(cues: Sequence[Cue], by_s: float) -> list[Cue]:
    return [Cue(c.index, c.start_s + by_s, c.end_s + by_s, c.text, c.line) for c in cues]


def speech_mismatch_findings(cues: Sequence[Cue], speech: Sequence[Span], analysed: Sequence[Span],
                             duration_s: float | None, max_offset_ms: float = 300.0, max_search_s: float = 5.0,
                             min_offset_gain: float = 0.0, min_matched_cues: int = 2, min_matched_fraction: float = 0.5,
                             onset_tolerance_ms: float = 150.0, slack_s: float = 0.5, min_cue_check_s: float = 1.0,
                             min_cue_speech_fraction: float = 0.1, min_uncaptioned_s: float = 1.0) -> list[Hit]:
    """``caption_speech_mismatch`` events, given the cues, the detected speech spans and the parts
    of the item whose audio was analysed:

    - ``offset``: the cues as a whole are shifted from the speech by more than ``max_offset_ms``
      (:func:`estimate_offset`): with the offset taken out, at least ``min_matched_cues`` cues and
      ``min_matched_fraction`` of them must start within ``onset_tolerance_ms`` of a speech onset,
      more than without it, and the cue/speech overlap must not fall (rise by at least
      ``min_offset_gain``). One event over the captioned span, ``offset_ms``
      positive when the captions are late. The checks below then look at the cues with the offset
      taken out, so one sync error is one finding, not one per cue.
    - ``cue_without_speech``: a speech cue of at least ``min_cue_check_s`` under which (widened by
      ``slack_s``) speech is heard for less than ``min_cue_speech_fraction`` of its length. Cues
      that describe sound (``[music]``, ``(laughs)``, ``♪``) are exempt.
    - ``speech_without_cue``: at least ``min_uncaptioned_s`` of continuous speech that no cue
      (widened by ``slack_s``) covers.
    """
    out: list[Hit] = []
    speech = union(speech, gap_s=0.05)
    analysed = union(analysed, gap_s=0.05)
    spoken = [c for c in cues if c.duration_s > 0 and not is_sound_cue(c.text)]
    correction = 0.0
    est = (estimate_offset(cues, speech, max_offset_s=max_search_s, onset_tolerance_s=onset_tolerance_ms / 1000.0)
           if spoken and speech else None)
    if est is not None:
        enough = (est["matched_cues"] >= min_matched_cues
                  and est["matched_cues"] >= min_matched_fraction * est["cues"]
                  and est["matched_cues"] > est["matched_at_zero"]
                  and est["gain"] is not None and est["gain"] >= min_offset_gain)
        if enough and abs(est["offset_ms"]) > max_offset_ms:
            correction = est["offset_ms"] / 1000.0
            first, last = min(c.start_s for c in spoken), max(c.end_s for c in spoken)
            s, e = _clip(first, duration_s), _clip(last, duration_s)
            score = min(1.0, 0.5 + 0.5 * min(1.0, est["gain"]))
            out.append(Hit("caption_speech_mismatch", s, max(s, e), float(score), {
                "kind": "offset", "offset_ms": est["offset_ms"], "limit_ms": max_offset_ms,
                "direction": "captions late" if correction > 0 else "captions early",
                "matched_cues": est["matched_cues"], "matched_at_zero": est["matched_at_zero"], "cues": est["cues"],
                "spread_ms": est["spread_ms"],
                "overlap_gain": est["gain"], "overlap_at_offset_s": est["overlap_at_lag_s"],
                "overlap_at_zero_s": est["overlap_at_zero_s"]}))
    aligned = shifted(spoken, -correction)
    for c, orig in zip(aligned, spoken):
        if c.duration_s < min_cue_check_s:
            continue
        if overlap_s(analysed, c.start_s, c.end_s) < c.duration_s - 1e-3:
            continue  # part of it was not listened to
        heard = overlap_s(speech, c.start_s - slack_s, c.end_s + slack_s)
        if heard < min_cue_speech_fraction * c.duration_s:
            s, e = _clip(orig.start_s, duration_s), _clip(orig.end_s, duration_s)
            out.append(Hit("caption_speech_mismatch", s, max(s, e), float(min(1.0, 0.6 + 0.1 * c.duration_s)), {
                "kind": "cue_without_speech", **_cue_details(orig, speech_s=round(heard, 3),
                                                             limit_fraction=min_cue_speech_fraction,
                                                             offset_corrected_ms=round(correction * 1000.0, 1))}))
    covered = union((c.start_s - slack_s, c.end_s + slack_s) for c in shifted(cues, -correction) if c.duration_s > 0)
    for a, b in subtract(speech, covered):
        if b - a >= min_uncaptioned_s:
            out.append(Hit("caption_speech_mismatch", _clip(a, duration_s), _clip(b, duration_s),
                           float(min(1.0, 0.5 + 0.1 * (b - a))), {
                               "kind": "speech_without_cue", "speech_start_s": round(a, 3), "speech_end_s": round(b, 3),
                               "uncaptioned_s": round(b - a, 3), "limit_s": min_uncaptioned_s,
                               "offset_corrected_ms": round(correction * 1000.0, 1)}))
    return sorted(out, key=lambda h: (h.start_s, h.end_s))


def capped(events: list[Hit], max_findings: int, defect: str) -> list[Hit]:
    """At most ``max_findings`` events in time order; the rest become one ``and_more`` event that
    spans them and says how many there were (a broken file of 20,000 overlapping cues is one
    screenful of evidence, not 20,000 rows)."""
    events = sorted(events, key=lambda h: (h.start_s, h.end_s))
    if max_findings < 1 or len(events) <= max_findings:
        return events
    keep, rest = events[: max_findings - 1], events[max_findings - 1:]
    kinds: dict[str, int] = {}
    for h in rest:
        kinds[h.details.get("kind", "?")] = kinds.get(h.details.get("kind", "?"), 0) + 1
    more = Hit(defect, rest[0].start_s, max(h.end_s for h in rest), max(h.score for h in rest),
               {"kind": "and_more", "events": len(rest), "by_kind": kinds, "limit": max_findings})
    return keep + [more]
