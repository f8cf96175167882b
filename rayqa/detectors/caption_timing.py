"""Caption timing: overlapping cues, zero or negative durations, cues shorter than a minimum, cues
past the media's end, gaps shorter than two frames, cues out of order
(:func:`rayqa.captions.checks.timing_findings`). An unreadable file is ``caption_file``'s finding."""

from __future__ import annotations

from rayqa.captions.checks import timing_findings
from rayqa.detectors.caption_cues import CueCheck
from rayqa.types import Hit, ItemInfo


class CaptionTiming(CueCheck):
    name = "caption_timing"
    defects = ("caption_timing",)
    version = "1"
    defaults = {
        "min_cue_s": 5 / 6,  # 20 frames at 24 fps: the usual minimum display time
        "min_gap_frames": 2.0,  # a gap between cues is either none (touching) or at least this
        "default_fps": 25.0,  # frames are counted at the media's rate; this where it has none
        "allow_overlap": False,
        "max_findings": 500,
    }

    def check_cues(self, cues: list, info: ItemInfo) -> list[Hit]:
        return timing_findings(cues, info.duration_s, info.fps or self.params["default_fps"],
                               min_cue_s=float(self.params["min_cue_s"]), min_gap_frames=float(self.params["min_gap_frames"]),
                               allow_overlap=bool(self.params["allow_overlap"]))
