"""Block corruption: a learned per-macroblock corruption map on sampled luma frames.

Frames are sampled at ``fps`` (default 5) as 320x180 luma, the very frames ``blur`` reads (one
decode for both), and batched through a small fully convolutional network
(:mod:`rayqa.nets.block_corruption`) that gives a corruption probability per 8x8 cell (one H.264
macroblock of a 640x360 picture). A sample is flagged when the frame score (the mean of its top
2 % of cells) exceeds ``threshold`` (the model's calibrated operating point), or, where the decoder
itself reported video damage in the ``decoder_lookback_s`` before it (a file whose bitstream is
damaged), when the map's corrupted-area ratio exceeds ``decoder_area_ratio`` (0.07, Prime Video's
published rule for the map): the decoder's report is the corroboration that lets the map's area
decide, while without one (captures, clean files) only the stricter learned score does. The
report may come from before the window (``Window.recent_damage``): window edges change nothing.
``min_samples`` flagged samples in a row (0.4 s at 5 fps) make a ``block_corruption`` event.

``details``: the peak sample's ``corrupted_area_ratio`` (cells above ``cell_threshold``), its
``frame_index`` and ``time_s``, the ``probability`` (frame score; with a model whose decision is learned, the head's, and
``map_score`` the top cells' mean beside it), the map (``map_cells``, one
string of 0/1 per row of cells), and ``evidence``: ``"map+decoder"`` with the decoder's own
report (``decoder_report``: where and what it concealed) when the decoder flagged video damage in
the ``decoder_lookback_s`` before the flagged frame (damage smears until the next keyframe), else
``"map"`` (a capture: the damage is in the picture, the bitstream is clean); ``flagged_by``:
``"score"`` or ``"area+decoder"`` (flagged by the area rule only, on the decoder's corroboration).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rayqa.detectors.base import Detector
from rayqa.nets.block_inputs import input_spec
from rayqa.types import RECENT_DAMAGE_S, Hit, ItemInfo, Window


class BlockCorruption(Detector):
    name = "block_corruption"
    defects = ("block_corruption",)
    pool = "model"
    # Runs only when named until every goal of issue 18 holds on real content (README).
    experimental = True
    segment_s = 1.0
    video = input_spec("luma", 5.0, 320, 180)
    defaults = {
        "fps": 5.0,  # frames sampled per second of content
        "width": 320,  # model input size: the luma plane is sampled to it (the size it was trained at)
        "height": 180,
        # what the model reads: "luma" (blur's frames, one decode for both) or "yuv" (Y, U and V as
        # coded, video_levels' kind of frames at this size); it must be the model's own input
        "input": "luma",
        "threshold": None,  # frame score above which a sample is flagged; None: the model's operating point
        "cell_threshold": 0.5,  # a map cell counts as corrupted (details) above this probability
        "batch_frames": 16,  # frames per forward pass (16 is faster than 64 on a CPU: cache)
        "merge_gap_s": None,  # flagged samples closer than this merge (default: one sample period)
        "min_samples": 2,  # an event needs this many flagged samples in a row (2 at 5 fps: 0.4 s)
        "min_duration_s": None,  # default: min_samples sample periods
        # the decoder's report this long before a flagged frame is cited (the previous window's too)
        "decoder_lookback_s": 2.0,
        # With such a report, a sample is also flagged when this share of its cells is corrupted
        # (Prime Video's map rule); None: the learned threshold alone, decoder or not.
        "decoder_area_ratio": 0.07,
    }

    def __init__(self, **params: Any):
        super().__init__(**params)
        p = self.params
        if not (float(p["fps"]) > 0 and int(p["width"]) >= 32 and int(p["height"]) >= 32):
            raise ValueError("block_corruption: fps > 0 and a size of at least 32x32 are required")
        if p["threshold"] is not None and not 0 < float(p["threshold"]) < 1:
            raise ValueError(f"block_corruption: threshold must be in (0, 1), got {p['threshold']!r}")
        if p["decoder_area_ratio"] is not None and not 0 < float(p["decoder_area_ratio"]) < 1:
            raise ValueError("block_corruption: decoder_area_ratio must be in (0, 1) or null, "
                             f"got {p['decoder_area_ratio']!r}")
        if not 0 <= float(p["decoder_lookback_s"]) <= RECENT_DAMAGE_S:
            raise ValueError(f"block_corruption: decoder_lookback_s must be in [0, {RECENT_DAMAGE_S:g}] (how far back "
                             f"a window carries the decoder's reports), got {p['decoder_lookback_s']!r}")
        self.video = input_spec(p["input"], float(p["fps"]), int(p["width"]), int(p["height"]))
        if p["merge_gap_s"] is None:
            p["merge_gap_s"] = round(1.0 / self.video.fps + 1e-3, 4)
        if p["min_duration_s"] is None:
            p["min_duration_s"] = round(max(0, int(p["min_samples"])) / self.video.fps - 1e-3, 4)
        self.net = None
        self.device = "cpu"
        self.top_fraction = None

    def load(self, folder, device: str = "cpu") -> None:
        from rayqa.nets import block_corruption as net_mod

        self.device = device
        net, meta = net_mod.load(folder, device)
        if net.input != self.params["input"]:
            raise net_mod.ModelLoadError(f"block_corruption: the model in {folder} reads {net.input!r} frames, but the "
                                         f"detector is set to decode {self.params['input']!r} (set input = "
                                         f"{net.input!r} in its parameters)")
        self.net = net.fuse_for_inference()  # batch norms folded, channels-last: same maps, half the CPU
        self.top_fraction = float(meta.get("top_fraction", net_mod.TOP_FRACTION))
        if self.params["threshold"] is None:
            self.params["threshold"] = float(meta.get("threshold", 0.5))

    @property
    def learned_decision(self) -> bool:
        """The loaded model's frame score is a learned head's over the map."""
        return self.net is not None and self.net.decision is not None

    def unload(self) -> None:
        self.net = None

    def score(self, frames: np.ndarray) -> dict[str, np.ndarray]:
        from rayqa.nets.block_corruption import TOP_FRACTION, score_frames

        if self.net is None:
            raise RuntimeError("block_corruption: load() the model before scoring")
        return score_frames(self.net, frames, self.device, int(self.params["batch_frames"]),
                            float(self.params["cell_threshold"]), self.top_fraction or TOP_FRACTION)

    def flagged(self, s: dict[str, np.ndarray]) -> np.ndarray:
        return s["score"] > float(self.params["threshold"])

    def decoder_report(self, window: Window, t: float) -> list[dict]:
        """The decoder's video damage reports in the ``decoder_lookback_s`` up to ``t``."""
        back = float(self.params["decoder_lookback_s"])
        step = 1.0 / self.video.fps
        return [{"start_s": round(d.start_s, 3), "end_s": round(d.end_s, 3), "decoder": d.decoder,
                 "message": d.message} for d in window.video_reports()
                if d.start_s <= t + step and d.end_s >= t - back][:3]

    def corroborated(self, window: Window, t: float) -> bool:
        """The decoder reported concealed or undecodable video at or before the sample at ``t``, in
        the ``decoder_lookback_s`` up to it (a gave-up report, a failed seek or a demuxer that
        stopped, says nothing about the picture)."""
        back = float(self.params["decoder_lookback_s"])
        return any(not d.gave_up and d.start_s <= t + 1e-3 and d.end_s >= t - back for d in window.video_reports())

    def _todo(self, batch: list[tuple[Window, ItemInfo]]) -> list[int]:
        key = self.video.key
        return [i for i, (w, info) in enumerate(batch)
                if self.applies_to(info) and key in w.video and len(w.video[key].frames)]

    def __call__(self, batch: list[tuple[Window, ItemInfo]]) -> list[list[Hit]]:
        todo = self._todo(batch)
        if not todo:
            return [[] for _ in batch]
        return self.hits(batch, self.score(np.concatenate([batch[i][0].video[self.video.key].frames for i in todo])))

    def hits(self, batch: list[tuple[Window, ItemInfo]], s: dict[str, np.ndarray],
             corroborate: bool = True) -> list[list[Hit]]:
        """The batch's hits from ``s``, the scores of its windows' frames in order (``score``);
        ``corroborate=False``: the map's learned threshold alone, whatever the decoder reported."""
        key = self.video.key
        out: list[list[Hit]] = [[] for _ in batch]
        by_score = self.flagged(s)
        area = self.params["decoder_area_ratio"] if corroborate else None
        step = 1.0 / self.video.fps
        cell = float(self.params["cell_threshold"])
        at = 0
        for i in self._todo(batch):
            w = batch[i][0]
            v = w.video[key]
            for j in range(len(v.frames)):
                k = at + j
                t = float(v.times_s[j])
                by_area = (area is not None and float(s["area_ratio"][k]) > float(area)
                           and self.corroborated(w, t))
                if not (by_score[k] or by_area):
                    continue
                hot = s["maps"][k] > cell
                report = self.decoder_report(w, t)
                out[i].append(Hit("block_corruption", t, t + step, float(s["score"][k]), {
                    "corrupted_area_ratio": round(float(s["area_ratio"][k]), 4),
                    "frame_index": int(v.frame_indices[j]),
                    "time_s": round(t, 3),
                    "probability": round(float(s["score"][k]), 4),
                    **({"map_score": round(float(s["map_score"][k]), 4)} if self.learned_decision else {}),
                    "map_cells": "/".join("".join("1" if c else "0" for c in row) for row in hot),
                    "frames_flagged": 1,
                    "evidence": "map+decoder" if report else "map",
                    "flagged_by": "score" if by_score[k] else "area+decoder",
                    **({"decoder_report": report} if report else {}),
                }))
            at += len(v.frames)
        return out

    def detect(self, window: Window, info: ItemInfo) -> list[Hit]:
        return self([(window, info)])[0]

    def combine_details(self, kept: dict, other: dict) -> dict:
        """The merged event shows the frame with the largest corrupted area, how many samples were
        flagged, and the decoder's report when any of its samples had one."""
        peak = kept if kept["corrupted_area_ratio"] >= other["corrupted_area_ratio"] else other
        merged = {**peak, "frames_flagged": kept["frames_flagged"] + other["frames_flagged"]}
        report = kept.get("decoder_report") or other.get("decoder_report")
        if report:
            merged["decoder_report"], merged["evidence"] = report, "map+decoder"
        if "score" in (kept.get("flagged_by"), other.get("flagged_by")):
            merged["flagged_by"] = "score"  # the event's learned score passed the threshold somewhere
        return merged
