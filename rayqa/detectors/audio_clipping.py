"""Clipping: runs of consecutive samples at or near full scale, per channel.

A clipped source is flat at full scale; after lossy coding (AAC) and resampling (44.1 kHz sources
decoded at 48 kHz) the flat top comes back rippling around full scale, overshooting above 1.0
and dipping a little below it. So a *clip run* is a stretch of same-sign samples at or above
``clip_level_db`` (−0.1 dBFS by default) in which dips below the level last at most
``max_gap_samples``, and it must be ``min_run_samples`` long. Clip runs of one channel closer than
``merge_gap_s`` make one event, which needs ``min_runs`` runs: a single loud peak of a programme
normalised to 0 dBFS is not clipping, a clipped passage has a run on nearly every loud half-cycle.

Not covered: a signal clipped well below full scale (in an analogue chain, or clipped then
attenuated) has no samples near full scale; its flat tops are smeared by the codec, so this rule
does not see it (``audio_artifacts``' distortion class is the learned alternative).
"""

from __future__ import annotations

import numpy as np

from rayqa.detectors.base import Detector, runs
from rayqa.types import AudioSpec, Hit, ItemInfo, Window


def clip_runs(x: np.ndarray, level: float, max_gap: int, min_run: int) -> list[tuple[int, int]]:
    """Half-open sample runs ``[a, b)`` of mono ``x`` at or above ``level`` (linear) in magnitude,
    one sign at a time, bridging dips of at most ``max_gap`` samples; runs shorter than
    ``min_run`` are dropped. Sorted by start."""
    out: list[tuple[int, int]] = []
    for sign in (1.0, -1.0):
        r = runs(sign * x >= level)
        if not r:
            continue
        a = np.array(r)
        # join runs whose gap is short: a new run starts where the gap before it is too long
        gaps = a[1:, 0] - a[:-1, 1]
        new = np.concatenate([[True], gaps > max_gap])
        starts = a[new, 0]
        ends = a[np.concatenate([new[1:], [True]]), 1]
        keep = ends - starts >= min_run
        out.extend(zip(starts[keep].tolist(), ends[keep].tolist()))
    return sorted(out)


def cluster_runs(run_list: list[tuple[int, int]], gap: int) -> list[list[tuple[int, int]]]:
    """Group sorted runs whose distance is at most ``gap`` samples."""
    groups: list[list[tuple[int, int]]] = []
    for a, b in run_list:
        if groups and a - groups[-1][-1][1] <= gap:
            groups[-1].append((a, b))
        else:
            groups.append([(a, b)])
    return groups


class AudioClipping(Detector):
    name = "audio_clipping"
    defects = ("audio_clipping",)
    audio = AudioSpec(sample_rate=48000, mono=False)
    version = "1"
    defaults = {
        "clip_level_db": -0.1,  # near full scale: at or above this (dBFS)
        "min_run_samples": 4,  # shortest clip run (48 kHz samples)
        "max_gap_samples": 3,  # a dip below the level this short does not end a run (codec ripple)
        "min_runs": 3,  # an event needs this many clip runs
        "merge_gap_s": 0.5,  # clip runs of one channel closer than this make one event
    }

    def detect(self, window: Window, info: ItemInfo) -> list[Hit]:
        a = window.audio.get(self.audio.key)
        if a is None or a.samples.shape[1] == 0:
            return []
        p = self.params
        level = 10.0 ** (float(p["clip_level_db"]) / 20.0)
        x = a.samples
        # cheap skip: most windows have no sample near full scale at all
        if float(np.abs(x).max()) < level:
            return []
        sr = a.sample_rate
        gap = int(round(float(p["merge_gap_s"]) * sr))
        hits = []
        for ch in range(x.shape[0]):
            rl = clip_runs(x[ch], level, int(p["max_gap_samples"]), int(p["min_run_samples"]))
            for group in cluster_runs(rl, gap):
                s, e = group[0][0], group[-1][1]
                peak = float(np.abs(x[ch, s:e]).max())
                lengths = [b - a_ for a_, b in group]
                hits.append(Hit(self.name, a.start_s + s / sr, a.start_s + e / sr, 0.0, {
                    "channel": ch, "runs": len(group), "longest_run_samples": int(max(lengths)),
                    "clipped_samples": int(sum(lengths)), "level_db": round(float(20.0 * np.log10(peak)), 2),
                }))
        return hits

    def merge(self, hits: list[Hit]) -> list[Hit]:
        """Per channel: hits closer than ``merge_gap_s`` join (runs add up); an event needs
        ``min_runs`` clip runs."""
        gap = float(self.params["merge_gap_s"])
        events: list[Hit] = []
        for h in sorted(hits, key=lambda h: (h.details["channel"], h.start_s)):
            last = events[-1] if events else None
            if last is not None and last.details["channel"] == h.details["channel"] and h.start_s <= last.end_s + gap:
                last.end_s = max(last.end_s, h.end_s)
                d, o = last.details, h.details
                d["runs"] += o["runs"]
                d["clipped_samples"] += o["clipped_samples"]
                d["longest_run_samples"] = max(d["longest_run_samples"], o["longest_run_samples"])
                d["level_db"] = max(d["level_db"], o["level_db"])
                continue
            events.append(Hit(h.defect, h.start_s, h.end_s, 0.0, dict(h.details)))
        out = []
        for e in events:
            if e.details["runs"] < int(self.params["min_runs"]):
                continue
            # more runs, and longer ones, make it surer
            e.score = float(min(1.0, 0.5 + 0.05 * e.details["runs"] + 0.01 * e.details["longest_run_samples"]))
            out.append(e)
        return sorted(out, key=lambda e: (e.start_s, e.details["channel"]))
