"""The one face every detector has.

A detector says what it needs (video frames at a rate and size, audio at a rate), turns one
decoded window into *hits* (raw time spans), and merges an item's hits into *events* (findings).
The scan's actor pools and the HTTP service call the same class.
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

import numpy as np

from rayqa.types import AudioSpec, Column, Hit, ItemInfo, VideoSpec, Window


class Detector:
    """Base class. Subclasses set the class attributes and implement :meth:`detect`."""

    name: ClassVar[str]
    defects: ClassVar[tuple[str, ...]]
    video: ClassVar[VideoSpec | None] = None
    audio: ClassVar[AudioSpec | None] = None
    # A window must be a multiple of this (1 s audio segments, 4 s AV fragments).
    segment_s: ClassVar[float] = 1.0
    # "dsp" detectors share one cheap actor pool; "model" detectors get a pool each (GPU if any).
    pool: ClassVar[str] = "dsp"
    version: ClassVar[str] = "1"  # algorithm version for dsp detectors
    # Runs only when asked for by name (its model does not yet meet its acceptance tests).
    experimental: ClassVar[bool] = False
    # Parameters with documented defaults; a config's [detectors.<name>] table overrides them.
    defaults: ClassVar[dict[str, Any]] = {}
    # Item-summary columns this detector fills from :meth:`summarise` (null where it did not run).
    item_columns: ClassVar[tuple[Column, ...]] = ()

    def __init__(self, **params: Any):
        unknown = set(params) - set(self.defaults)
        if unknown:
            raise ValueError(f"{self.name}: unknown parameter(s) {', '.join(sorted(unknown))}")
        self.params = {**self.defaults, **params}
        # Learned detectors: the registry model; its version is known once resolved or loaded.
        self.model_name = f"rayqa-{self.name}" if self.pool == "model" else "dsp"
        self.model_version = "champion" if self.pool == "model" else self.version

    # -- lifecycle -----------------------------------------------------------------------------
    def load(self, folder, device: str = "cpu") -> None:
        """Load weights from a model ``folder`` (``model.json`` and its files) onto ``device``;
        raise :class:`rayqa.nets.files.ModelLoadError` saying why a folder does not load. Learned
        detectors implement this; which folder and device is :mod:`rayqa.loading`'s business."""

    def unload(self) -> None:
        """Drop loaded weights (the driver keeps only the names and versions)."""

    def applies_to(self, info: ItemInfo) -> bool:
        """Whether the item has the streams this detector needs."""
        if self.video is not None and not info.has_video:
            return False
        if self.audio is not None and not info.has_audio:
            return False
        return True

    # -- work ----------------------------------------------------------------------------------
    def detect(self, window: Window, info: ItemInfo) -> list[Hit]:
        """Hits in one window."""
        return []

    def check_item(self, info: ItemInfo) -> list[Hit]:
        """Hits decided from the item as a whole (stream lengths), once per item."""
        return []

    def __call__(self, batch: list[tuple[Window, ItemInfo]]) -> list[list[Hit]]:
        """Hits for a batch of windows; learned detectors override this to batch forward passes."""
        return [self.detect(w, info) if self.applies_to(info) else [] for w, info in batch]

    def merge(self, hits: list[Hit]) -> list[Hit]:
        """Merge an item's hits into events: spans closer than ``merge_gap_s`` join, and events
        shorter than ``min_duration_s`` are dropped, as are events its hits cover less than
        ``min_coverage`` of (where a detector sets it: a stretch joined across many gaps, such as
        a flashing picture's black frames, is not a black stretch). Score is the peak, details the
        peak's."""
        gap = float(self.params.get("merge_gap_s", 0.0))
        min_dur = float(self.params.get("min_duration_s", 0.0))
        min_cover = float(self.params.get("min_coverage", 0.0))
        events: list[Hit] = []
        covered: list[float] = []
        for h in sorted(hits, key=lambda h: (h.defect, h.start_s)):
            last = events[-1] if events else None
            if last is not None and last.defect == h.defect and h.start_s <= last.end_s + gap + 1e-6:
                covered[-1] += max(0.0, h.end_s - max(h.start_s, last.end_s))
                last.end_s = max(last.end_s, h.end_s)
                if h.score > last.score:
                    last.score, last.details = h.score, self.combine_details(dict(h.details), last.details)
                else:
                    last.details = self.combine_details(last.details, h.details)
                continue
            events.append(Hit(h.defect, h.start_s, h.end_s, h.score, dict(h.details)))
            covered.append(h.end_s - h.start_s)
        return [e for e, c in zip(events, covered)
                if e.end_s - e.start_s + 1e-6 >= min_dur and c + 1e-6 >= min_cover * (e.end_s - e.start_s)]

    def summarise(self, hits: list[Hit]) -> dict[str, Any]:
        """Item-summary columns this detector decides from all of an item's hits (its raw hits, not
        the merged events), e.g. ``av_sync_verdict`` / ``av_offset_ms``. Default: none. Columns
        must be declared in :attr:`item_columns`."""
        return {}

    def combine_details(self, kept: dict, other: dict) -> dict:
        """Details of a merged event: by default the peak hit's (``kept``)."""
        return kept

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "experimental": self.experimental,
            "defects": list(self.defects),
            "model": self.model_name,
            "model_version": self.model_version,
            "video": dataclasses.asdict(self.video) if self.video else None,
            "audio": dataclasses.asdict(self.audio) if self.audio else None,
            "params": self.params,
        }


def item_edge(start_s: float, end_s: float, duration_s: float | None, tolerance_s: float) -> str | None:
    """``"head"`` when a span starts within ``tolerance_s`` of the item's start, ``"tail"`` when it
    ends within it of the item's end (a fade from or to black, a silent lead-in), else None; a span
    that covers the whole item is ``"head"``."""
    if start_s <= tolerance_s:
        return "head"
    if duration_s is not None and duration_s > 0 and end_s >= duration_s - tolerance_s:
        return "tail"
    return None


def combine_edge(a: str | None, b: str | None) -> str | None:
    """The edge of an event merged from two spans: head wins over tail, either over none."""
    return "head" if "head" in (a, b) else ("tail" if "tail" in (a, b) else None)


def runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """Half-open index runs ``[a, b)`` where ``mask`` is true."""
    if mask.size == 0:
        return []
    m = np.concatenate([[False], mask.astype(bool), [False]])
    d = np.diff(m.astype(np.int8))
    starts = np.flatnonzero(d == 1)
    ends = np.flatnonzero(d == -1)
    return list(zip(starts.tolist(), ends.tolist()))
