"""The detector registry: the scan, the service and the tests iterate over this one list.

A detector marked ``experimental`` runs only when named (``--detectors``, or a request's
``detectors``): it ships for trying out, but its model does not yet pass its acceptance tests, so a
scan with no ``--detectors`` leaves it out."""

from __future__ import annotations

from typing import Any

from rayqa.detectors.audio_artifacts import AudioArtifacts
from rayqa.detectors.audio_channel_fault import AudioChannelFault
from rayqa.detectors.audio_clipping import AudioClipping
from rayqa.detectors.audio_silence import AudioSilence
from rayqa.detectors.av_sync import AvSync
from rayqa.detectors.base import Detector
from rayqa.detectors.block_corruption import BlockCorruption
from rayqa.detectors.caption_file import CaptionFileCheck
from rayqa.detectors.caption_reading_speed import CaptionReadingSpeed
from rayqa.detectors.caption_speech_mismatch import CaptionSpeechMismatch
from rayqa.detectors.caption_timing import CaptionTiming
from rayqa.detectors.dc_offset import DcOffset
from rayqa.detectors.black_frames import BlackFrames
from rayqa.detectors.blur import Blur
from rayqa.detectors.decode_error import DecodeError
from rayqa.detectors.duration_mismatch import DurationMismatch
from rayqa.detectors.flash_pse import FlashPse
from rayqa.detectors.frame_stutter import FrameStutter
from rayqa.detectors.interlacing import Interlacing
from rayqa.detectors.letterbox_change import LetterboxChange
from rayqa.detectors.loudness_out_of_range import LoudnessOutOfRange
from rayqa.detectors.solid_color_frames import SolidColorFrames
from rayqa.detectors.test_tone import TestTone
from rayqa.detectors.video_freeze import VideoFreeze
from rayqa.detectors.video_levels import VideoLevels
from rayqa.detectors.video_tearing import VideoTearing

REGISTRY: dict[str, type[Detector]] = {
    cls.name: cls for cls in (BlackFrames, VideoFreeze, AudioSilence, DecodeError, DurationMismatch, BlockCorruption, AudioArtifacts,
                AvSync, AudioClipping, LoudnessOutOfRange, AudioChannelFault, DcOffset, TestTone, SolidColorFrames,
                LetterboxChange, Blur, FlashPse, FrameStutter, VideoTearing, Interlacing, VideoLevels, CaptionFileCheck, CaptionTiming,
                CaptionReadingSpeed, CaptionSpeechMismatch)
}


class UnknownDetector(ValueError):
    pass


def parse_names(names: str | list[str] | None) -> list[str]:
    """``None`` → every detector that is not experimental; otherwise the names given, checked
    against the registry."""
    if names is None or names == "" or names == []:
        return [n for n, cls in REGISTRY.items() if not cls.experimental]
    if isinstance(names, str):
        names = [n.strip() for n in names.split(",") if n.strip()]
    unknown = [n for n in names if n not in REGISTRY]
    if unknown:
        import difflib

        hints = [c[0] for n in unknown for c in [difflib.get_close_matches(n, list(REGISTRY), n=1, cutoff=0.6)] if c]
        raise UnknownDetector(f"unknown detector(s) {', '.join(unknown)}"
                              + (f" (did you mean {', '.join(hints)}?)" if hints else "")
                              + f"; known: {', '.join(REGISTRY)}")
    return list(dict.fromkeys(names))


def build(names: list[str], overrides: dict[str, dict[str, Any]] | None = None) -> list[Detector]:
    overrides = overrides or {}
    return [REGISTRY[n](**overrides.get(n, {})) for n in names]
