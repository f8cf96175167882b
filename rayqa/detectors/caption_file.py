"""Caption file: the item's caption sidecar is absent or unreadable (``caption_missing``), or its
content is bad: wrong encoding, broken timing lines, unparsable, binary, too big
(``caption_malformed``). Fills ``caption_cues``. Reading is :mod:`rayqa.captions.read`'s."""

from __future__ import annotations

from typing import Any

from rayqa.captions.read import load
from rayqa.detectors.base import Detector
from rayqa.types import Column, Hit, ItemInfo

CARRIER = "_caption_file"  # an internal hit: what was read, for summarise (never a finding)


class CaptionFileCheck(Detector):
    name = "caption_file"
    defects = ("caption_missing", "caption_malformed")
    version = "1"
    defaults = {
        # An item with no captions_uri at all: no finding (false), or caption_missing (true).
        "require_captions": False,
    }
    item_columns = (Column("caption_cues", "int32", "cues read from the caption sidecar (null: none given or it "
                                                    "could not be had; 0: a file with no readable cue)"),)

    def applies_to(self, info: ItemInfo) -> bool:
        return bool(info.captions_uri) or bool(self.params["require_captions"])

    def check_item(self, info: ItemInfo) -> list[Hit]:
        end = float(info.duration_s or 0.0)
        if not info.captions_uri:
            if not self.params["require_captions"]:
                return []
            return [Hit("caption_missing", 0.0, end, 1.0, {
                "reason": "not_given", "message": "no caption file is given for this item (require_captions = true)",
                "captions_uri": None})]
        f = load(info.captions_uri)
        hits = [Hit(p.defect, 0.0, end, 1.0, {"reason": p.reason, "message": p.message, "captions_uri": f.uri,
                                              "format": f.format, "encoding": f.encoding, "size_bytes": f.size_bytes,
                                              **p.details})
                for p in f.problems]
        if f.found:
            hits.append(Hit(CARRIER, 0.0, 0.0, 0.0, {"cues": len(f.cues), "format": f.format, "encoding": f.encoding}))
        return hits

    def merge(self, hits: list[Hit]) -> list[Hit]:
        # One event per problem, as found: problems of one file all span the item, and must not join.
        return sorted((Hit(h.defect, h.start_s, h.end_s, h.score, dict(h.details)) for h in hits
                       if not h.defect.startswith("_")), key=lambda h: (h.start_s, h.defect))

    def summarise(self, hits: list[Hit]) -> dict[str, Any]:
        read = [h for h in hits if h.defect == CARRIER]
        return {"caption_cues": int(read[0].details["cues"])} if read else {}
