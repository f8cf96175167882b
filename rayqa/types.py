"""The value types every part of rayqa shares: what a detector asks for (:class:`VideoSpec`,
:class:`AudioSpec`), what decoding gives it (:class:`Window` of :class:`VideoFrames` and
:class:`AudioSamples`, :class:`Damage`), what probing says (:class:`ItemInfo`), what a detector
returns (:class:`Hit`) and the item-summary columns a detector declares (:class:`Column`).

Plain data, no behaviour beyond (de)serialisation: media, detectors, the runner, the scan, the
service and training all import these, and none of them imports another for its types.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class VideoSpec:
    """Frames sampled at ``fps`` and scaled to ``width`` x ``height`` (gray or RGB).

    Gray frames are always nearest-neighbour samples of the luma plane. RGB frames are scaled by
    swscale (bilinear) unless ``from_planes``: then by swscale's area filter from the stream's own
    matrix and range, every coded pixel counted once (frame statistics: solid colour, flashes,
    stutter, which nearest or bilinear samples of a small size would alias); learned detectors keep
    the bilinear frames they were trained on."""

    fps: float
    width: int
    height: int
    gray: bool = True
    from_planes: bool = False
    # Levels as coded, no range conversion: gray gives the Y plane's values (16..235 in a limited-
    # range stream), RGB is replaced by stacked Y, U, V samples (N, H, W, 3) for levels checks.
    raw: bool = False
    # Gray only: a width x height crop from the centre of the luma plane at its own pixel pitch
    # (no scaling, which would blur away interlaced combing), levels as coded.
    crop: bool = False

    @property
    def key(self) -> str:
        if self.crop:
            kind = "graycrop"
        elif self.gray:
            kind = "grayraw" if self.raw else "gray"
        else:
            kind = "yuvraw" if self.raw else ("rgbpl" if self.from_planes else "rgb")
        return f"video_{self.fps:g}fps_{self.width}x{self.height}_{kind}"


@dataclass(frozen=True)
class AudioSpec:
    """Audio resampled to ``sample_rate``; mono mixes all channels down."""

    sample_rate: int
    mono: bool = True

    @property
    def key(self) -> str:
        return f"audio_{self.sample_rate}hz_{'mono' if self.mono else 'multi'}"


@dataclass
class VideoFrames:
    times_s: np.ndarray  # presentation time of each frame, seconds from the item's start
    frames: np.ndarray  # uint8, (N, H, W) gray or (N, H, W, 3) RGB
    frame_indices: np.ndarray  # index of each frame in the stream at its native rate


@dataclass
class AudioSamples:
    start_s: float
    sample_rate: int
    samples: np.ndarray  # float32 in [-1, 1], shape (channels, N)


@dataclass
class Damage:
    """A place where the decoder reported damage, or gave up."""

    start_s: float
    end_s: float
    stream: str  # "video" / "audio"
    decoder: str  # which decoder saw it ("pyav", "decord")
    message: str
    gave_up: bool = False


# A window also carries the decoder's reports from this long before its start (``recent_damage``),
# as far back as the pass decoded: the frames after a damaged one smear until the next keyframe.
RECENT_DAMAGE_S = 4.0


@dataclass
class Window:
    """One decoded span ``[t0, t1)`` of an item: everything a detector sees."""

    item_id: str
    t0: float
    t1: float
    video: dict[str, VideoFrames] = field(default_factory=dict)
    audio: dict[str, AudioSamples] = field(default_factory=dict)
    damage: list[Damage] = field(default_factory=list)
    decoder: str = ""  # who produced the frames ("decord", or "pyav" after a fallback)
    # Seconds this window's decode spent on parts of the work (seek, frame conversion, audio
    # resampling), its share of the pass that decoded it: the scan's profile adds them up.
    timing: dict[str, float] = field(default_factory=dict)
    # The decoder's reports from just before t0 (the same pass: the previous window, or the seek's
    # preroll from the keyframe), clipped to [t0 - RECENT_DAMAGE_S, t0): context for a
    # detector whose evidence outlives the damaged frame (concealment smears until the next
    # keyframe); not this window's damage, so decode_error does not report them again.
    recent_damage: list[Damage] = field(default_factory=list)

    def video_reports(self) -> list[Damage]:
        """The decoder's video reports a detector of pictures weighs: those just before the window
        (``recent_damage``), then the window's own."""
        return [d for d in self.recent_damage + self.damage if d.stream == "video"]


@dataclass
class Hit:
    """A raw span a detector saw in one window, before the item-level merge."""

    defect: str
    start_s: float
    end_s: float
    score: float
    details: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, d: dict) -> "Hit":
        return cls(**d)


@dataclass
class ItemInfo:
    """What probing the container told us about an item."""

    duration_s: float
    has_video: bool
    has_audio: bool
    fps: float | None = None
    width: int | None = None
    height: int | None = None
    video_duration_s: float | None = None
    audio_duration_s: float | None = None
    audio_sample_rate: int | None = None
    audio_channels: int | None = None
    video_codec: str | None = None
    audio_codec: str | None = None
    container: str | None = None
    color_range: str | None = None  # "limited" (16..235, "tv") or "full" ("pc", yuvj)
    video_profile: str | None = None
    audio_profile: str | None = None
    audio_layout: str | None = None  # FFmpeg's channel layout name: "stereo", "5.1(side)", ...
    field_order: str | None = None  # "progressive", "tff", "bff"; None where the stream does not say
    bit_depth: int | None = None  # bits per video sample (8, 10, 12)
    color_primaries: str | None = None
    color_transfer: str | None = None  # "bt709", "smpte2084" (PQ), "arib-std-b67" (HLG), ...
    dynamic_range: str | None = None  # "SDR", "HDR10" (PQ), "HLG"
    vfr: bool | None = None  # frame durations vary (from the first packets' timestamps)
    fps_min: float | None = None
    fps_max: float | None = None
    # The caption sidecar the manifest (or an upload) gives for the item; caption detectors read it.
    captions_uri: str | None = None

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, s: str) -> "ItemInfo":
        return cls(**json.loads(s))


@dataclass(frozen=True)
class Column:
    """One column of an output table: its name, its Arrow type name (``string``, ``float64``,
    ``float32``, ``int32``, ``bool``) and what it means."""

    name: str
    type: str
    doc: str = ""
