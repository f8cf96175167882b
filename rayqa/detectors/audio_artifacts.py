"""Audio artifacts: a no-reference classifier (PANNs-style CNN over log-mel) on one-second segments.

The audio arrives at the model's 32 kHz, mixed down to mono by the decoder (any source rate and
channel layout: a defect on one channel of several is diluted by the mix). Each window is cut into
one-second segments every ``hop_s`` (the last one ends at the window's end, so the whole window is
covered; segments never cross a window boundary). Every segment of every window in a batch goes
through the network in one forward pass (``batch_segments`` at most, never splitting a window), on
CUDA when the actor has a GPU. Context: the network (v3 on) judges each segment beside the other
segments of its window (their median: the programme's own noise floor, level and texture), so a
window is the unit of context; a network without the context head sees each segment alone. A segment whose most probable class is a defect with probability at least ``threshold``
is a hit ``audio_hum`` / ``audio_hiss`` / ``audio_distortion`` / ``audio_clicks``; the item-level
merge joins overlapping and touching hits of the same defect into one finding (kept when it spans
at least ``min_duration_s``: by default two overlapping segments) whose score is the
peak probability and whose details carry that segment's ``probabilities`` (class → p), its
``level_db`` (RMS, dBFS) and how many segments were flagged.

Short and silent audio: a window shorter than one segment (a short item, or an item's tail) is
padded with digital silence to one second when it holds at least ``min_audio_s`` of audio, and
skipped otherwise; a segment whose RMS is under ``silence_db`` (digital silence) is not classified.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rayqa.detectors.base import Detector
from rayqa.nets.segments import segment_starts
from rayqa.types import AudioSpec, Hit, ItemInfo, Window

CLASSES = ("no_defect", "hum", "hiss", "distortion", "clicks")
DEFECT_OF_CLASS = {"hum": "audio_hum", "hiss": "audio_hiss", "distortion": "audio_distortion", "clicks": "audio_clicks"}
SAMPLE_RATE = 32000


def rms_dbfs(x: np.ndarray) -> float:
    rms = float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) if x.size else 0.0
    return 20.0 * np.log10(rms) if rms > 0 else -200.0


class AudioArtifacts(Detector):
    name = "audio_artifacts"
    defects = ("audio_hum", "audio_hiss", "audio_distortion", "audio_clicks")
    pool = "model"
    # The shipped model (v4, with context) misses issue 17's goals (bench/audio_artifacts.py): 79
    # false events per hour of clean real programme (goal <= 2), real recall 0.60-0.95 per class
    # (goal 0.95), simulated balanced accuracy 0.895 (goal 0.986): it runs only when asked for by name.
    experimental = True
    segment_s = 1.0
    audio = AudioSpec(sample_rate=SAMPLE_RATE, mono=True)
    defaults = {
        "hop_s": 0.5,  # segments overlap by segment_s - hop_s
        "threshold": 0.5,  # a segment is a hit when its top class is a defect with at least this probability
        "batch_segments": 512,  # segments per forward pass
        "min_audio_s": 0.25,  # a window with less audio than this is skipped (shorter than 1 s: padded)
        "silence_db": -100.0,  # segments under this RMS (dBFS) are digital silence: not classified
        "merge_gap_s": 0.0,  # overlapping or touching hits of a defect merge into one finding
        "min_duration_s": 1.5,  # two overlapping segments at hop 0.5 s: a lone segment is not a finding
    }

    def __init__(self, **params: Any):
        super().__init__(**params)
        p = self.params
        if not 0 < float(p["hop_s"]) <= self.segment_s:
            raise ValueError(f"audio_artifacts: hop_s must be in (0, {self.segment_s:g}] s, got {p['hop_s']}")
        if not 0 < float(p["threshold"]) <= 1:
            raise ValueError(f"audio_artifacts: threshold must be in (0, 1], got {p['threshold']}")
        if int(p["batch_segments"]) < 1:
            raise ValueError("audio_artifacts: batch_segments must be at least 1")
        self.net = None
        self.device = "cpu"

    def load(self, folder, device: str = "cpu") -> None:
        from rayqa.nets import audio_artifacts as net_mod

        self.device = device
        self.net, self.meta = net_mod.load(folder, device)
        self.net.fuse_for_inference()  # batch norms folded, channels-last: same logits, ~1.6x less CPU

    def unload(self) -> None:
        self.net = None

    def classify(self, segments: np.ndarray, groups: np.ndarray | None = None) -> np.ndarray:
        """Class probabilities (N, 5) of one-second mono segments (N, 32000) at 32 kHz; ``groups``
        (N,) says which segments are one window's (one another's context; None: all one window)."""
        from rayqa.nets.audio_artifacts import classify

        if self.net is None:
            raise RuntimeError("audio_artifacts: load() the model before classifying")
        if groups is None:
            groups = np.zeros(len(segments), np.int64)
        return classify(self.net, segments, self.device, int(self.params["batch_segments"]), groups)

    def cut(self, samples: np.ndarray, sample_rate: int) -> tuple[np.ndarray, list[tuple[float, float, float]]]:
        """One-second segments (n, sr) of mono ``samples`` (zero-padded when shorter) and, for each,
        (offset_s, length_s of real audio, RMS dBFS). Digital silence and too-short input give none."""
        seg = int(round(self.segment_s * sample_rate))
        hop = max(1, int(round(float(self.params["hop_s"]) * sample_rate)))
        n = samples.shape[-1]
        if n < float(self.params["min_audio_s"]) * sample_rate:
            return np.zeros((0, seg), np.float32), []
        segs, spans = [], []
        for s in segment_starts(n, seg, hop):
            x = samples[s:s + seg]
            level = rms_dbfs(x)
            if level < float(self.params["silence_db"]):
                continue
            if len(x) < seg:
                x = np.pad(x, (0, seg - len(x)))
            segs.append(x)
            spans.append((s / sample_rate, min(seg, n - s) / sample_rate, level))
        return (np.stack(segs).astype(np.float32) if segs else np.zeros((0, seg), np.float32)), spans

    def hits_from(self, probs: np.ndarray, spans: list[tuple[float, float, float]], start_s: float) -> list[Hit]:
        """Hits for segments' class probabilities: top class a defect, at least ``threshold``."""
        thr = float(self.params["threshold"])
        hits = []
        for p, (offset, length, level) in zip(probs, spans):
            k = int(np.argmax(p))
            if CLASSES[k] == "no_defect" or p[k] < thr:
                continue
            t0 = start_s + offset
            hits.append(Hit(DEFECT_OF_CLASS[CLASSES[k]], round(t0, 4), round(t0 + length, 4), float(p[k]), {
                "probabilities": {c: round(float(v), 4) for c, v in zip(CLASSES, p)},
                "level_db": round(level, 1),
                "segments": 1,
            }))
        return hits

    def __call__(self, batch: list[tuple[Window, ItemInfo]]) -> list[list[Hit]]:
        key = self.audio.key
        out: list[list[Hit]] = [[] for _ in batch]
        cut = []
        for i, (w, info) in enumerate(batch):
            if not self.applies_to(info) or key not in w.audio:
                continue
            a = w.audio[key]
            mono = a.samples.mean(axis=0) if a.samples.shape[0] > 1 else a.samples[0]
            segs, spans = self.cut(mono, a.sample_rate)
            if len(spans):
                cut.append((i, a.start_s, segs, spans))
        if not cut:
            return out
        groups = np.concatenate([np.full(len(c[3]), k, np.int64) for k, c in enumerate(cut)])
        probs = self.classify(np.concatenate([c[2] for c in cut]), groups)  # every segment of the batch at once
        at = 0
        for i, start_s, segs, spans in cut:
            out[i] = self.hits_from(probs[at:at + len(spans)], spans, start_s)
            at += len(spans)
        return out

    def detect(self, window: Window, info: ItemInfo) -> list[Hit]:
        return self([(window, info)])[0]

    def combine_details(self, kept: dict, other: dict) -> dict:
        """The merged finding shows its most probable segment, and how many segments were flagged."""
        return {**kept, "segments": kept.get("segments", 1) + other.get("segments", 1)}
