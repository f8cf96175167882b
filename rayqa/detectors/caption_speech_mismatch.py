"""Captions against the speech heard: cues over speechless stretches, speech with no cue, and a
constant offset between the cues and the speech (a sync error, ``offset_ms``: positive when the
captions come late). Fills ``caption_speech_coverage``.

Per window, silero-vad finds speech in 16 kHz mono audio (``detect``; the same audio the
``audio_silence`` detector decodes, so a scan with both decodes it once); the cues are read once
per item (``check_item``); ``merge`` on the driver compares all of an item's speech with all of its
cues (:func:`rayqa.captions.checks.speech_mismatch_findings`). It applies only to items with a
caption file and audio, so VAD costs nothing on the rest of a catalogue.
"""

from __future__ import annotations

from typing import Any

from rayqa.captions.checks import capped, speech_coverage, speech_mismatch_findings, union
from rayqa.captions.read import Cue, load
from rayqa.captions.speech import vad_spans
from rayqa.detectors.base import Detector
from rayqa.types import AudioSpec, Column, Hit, ItemInfo, Window

SPEECH, HEARD, CUES = "_speech", "_analysed", "_cues"  # internal hits (never findings)


class CaptionSpeechMismatch(Detector):
    name = "caption_speech_mismatch"
    defects = ("caption_speech_mismatch",)
    audio = AudioSpec(sample_rate=16000, mono=True)
    version = "1"
    defaults = {
        "vad_threshold": 0.5,  # silero-vad's speech probability threshold
        "min_speech_s": 0.25,  # shorter detections are not speech
        "max_offset_ms": 300.0,  # a constant offset beyond this is a finding
        "max_search_s": 5.0,  # offsets are searched within ±this
        "min_offset_gain": 0.0,  # the offset must raise cue/speech overlap by this share (0: not lower it)
        "min_matched_cues": 2,  # cues that start at a speech onset once the offset is taken out
        "min_matched_fraction": 0.5,
        "onset_tolerance_ms": 150.0,  # a cue start "at" a speech onset
        "slack_s": 0.5,  # cues are widened by this when compared with speech
        "min_cue_check_s": 1.0,  # shorter cues are not judged for missing speech
        "min_cue_speech_fraction": 0.1,
        "min_uncaptioned_s": 1.0,  # speech without a cue for at least this long is a finding
        "max_findings": 500,
    }
    item_columns = (Column("caption_speech_coverage", "float64",
                           "share of detected speech (silero-vad) during which a cue is shown; null without captions, "
                           "audio or detected speech"),)

    def applies_to(self, info: ItemInfo) -> bool:
        return bool(info.captions_uri) and info.has_audio

    def detect(self, window: Window, info: ItemInfo) -> list[Hit]:
        a = window.audio[self.audio.key]
        x = a.samples[0]
        hits = [Hit(SPEECH, a.start_s + s, a.start_s + e, 1.0) for s, e in
                vad_spans(x, float(self.params["vad_threshold"]), float(self.params["min_speech_s"]))]
        hits.append(Hit(HEARD, a.start_s, a.start_s + x.size / a.sample_rate, 0.0))
        return hits

    def check_item(self, info: ItemInfo) -> list[Hit]:
        f = load(info.captions_uri)
        if not f.readable:
            return []
        cues = [[c.index, round(c.start_s, 3), round(c.end_s, 3), c.text[:200], c.line] for c in f.cues]
        return [Hit(CUES, 0.0, 0.0, 0.0, {"cues": cues})]

    @staticmethod
    def _parts(hits: list[Hit]) -> tuple[list[Cue] | None, list[tuple[float, float]], list[tuple[float, float]]]:
        carrier = next((h for h in hits if h.defect == CUES), None)
        cues = None if carrier is None else [Cue(int(i), float(s), float(e), str(t), line)
                                              for i, s, e, t, line in carrier.details["cues"]]
        speech = union(((h.start_s, h.end_s) for h in hits if h.defect == SPEECH), gap_s=0.05)
        heard = union(((h.start_s, h.end_s) for h in hits if h.defect == HEARD), gap_s=0.05)
        return cues, speech, heard

    def merge(self, hits: list[Hit]) -> list[Hit]:
        cues, speech, heard = self._parts(hits)
        if not cues or not heard:
            return []
        p = self.params
        events = speech_mismatch_findings(
            cues, speech, heard, max(e for _, e in heard), max_offset_ms=float(p["max_offset_ms"]),
            max_search_s=float(p["max_search_s"]), min_offset_gain=float(p["min_offset_gain"]),
            min_matched_cues=int(p["min_matched_cues"]), min_matched_fraction=float(p["min_matched_fraction"]),
            onset_tolerance_ms=float(p["onset_tolerance_ms"]), slack_s=float(p["slack_s"]),
            min_cue_check_s=float(p["min_cue_check_s"]), min_cue_speech_fraction=float(p["min_cue_speech_fraction"]),
            min_uncaptioned_s=float(p["min_uncaptioned_s"]))
        return capped(events, int(p["max_findings"]), "caption_speech_mismatch")

    def summarise(self, hits: list[Hit]) -> dict[str, Any]:
        cues, speech, heard = self._parts(hits)
        if cues is None or not heard:
            return {}
        coverage = speech_coverage(speech, cues)
        return {"caption_speech_coverage": None if coverage is None else round(coverage, 4)}
