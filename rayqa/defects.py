"""The defect vocabulary (DESIGN.md), by what a person looks at to judge a finding.

Video defects are judged on frames, audio defects on a spectrogram; the audio-video ones on both.
Detectors may add names (their ``defects``): :func:`known_defects` is this list and theirs.
"""

from __future__ import annotations

VIDEO = ("block_corruption", "black_frames", "video_freeze", "frame_stutter", "video_tearing", "blur", "interlacing",
         "solid_color_frames", "flash_pse", "video_levels", "letterbox_change", "decode_error")
AUDIO = ("audio_silence", "audio_clicks", "audio_hum", "audio_hiss", "audio_distortion", "audio_clipping",
         "loudness_out_of_range", "audio_channel_fault", "dc_offset", "test_tone")
AUDIO_VIDEO = ("av_sync", "duration_mismatch")
CAPTIONS = ("caption_timing", "caption_reading_speed", "caption_speech_mismatch", "caption_missing",
            "caption_malformed")
VOCABULARY = VIDEO + AUDIO + AUDIO_VIDEO + CAPTIONS


def known_defects() -> tuple[str, ...]:
    """The vocabulary and every registered detector's defects, in that order."""
    from rayqa.detectors import REGISTRY

    extra = [d for cls in REGISTRY.values() for d in cls.defects if d not in VOCABULARY]
    return VOCABULARY + tuple(dict.fromkeys(extra))


def looks_at(defect: str, details: dict | None = None) -> tuple[bool, bool]:
    """(frames, spectrogram): what evidence shows a finding of ``defect``. A decode error is judged on
    the stream it hit (``details.stream``); a name outside the vocabulary by its prefix."""
    details = details or {}
    if defect == "decode_error":
        stream = details.get("stream")
        return stream != "audio", stream == "audio"
    if defect in VIDEO:
        return True, False
    if defect in AUDIO:
        return False, True
    if defect in AUDIO_VIDEO:
        return True, True
    if defect in CAPTIONS:
        return False, True  # captions are judged against speech
    if defect.startswith(("audio_", "loudness")):
        return False, True
    return True, False
