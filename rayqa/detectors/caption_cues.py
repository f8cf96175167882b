"""What the per-cue caption detectors share (not a detector itself): they apply to items with a
caption sidecar, read it once per item (window 0; :func:`rayqa.captions.read.load` caches it),
check its cues when it could be read (``caption_file`` reports when it could not), and cap their
events at ``max_findings`` per item."""

from __future__ import annotations

from rayqa.captions.checks import capped
from rayqa.captions.read import load
from rayqa.detectors.base import Detector
from rayqa.types import Hit, ItemInfo


class CueCheck(Detector):
    def applies_to(self, info: ItemInfo) -> bool:
        return bool(info.captions_uri)

    def check_cues(self, cues: list, info: ItemInfo) -> list[Hit]:
        """The findings over a readable file's cues."""
        raise NotImplementedError

    def check_item(self, info: ItemInfo) -> list[Hit]:
        f = load(info.captions_uri)
        return self.check_cues(f.cues, info) if f.readable else []

    def merge(self, hits: list[Hit]) -> list[Hit]:
        # One event per cue problem: two problems at the same time are two cues' evidence.
        return capped([Hit(h.defect, h.start_s, h.end_s, h.score, dict(h.details)) for h in hits if not h.defect.startswith("_")],
                      int(self.params["max_findings"]), self.name)
