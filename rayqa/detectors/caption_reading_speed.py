"""Caption reading speed: cues that need more characters per second than a profile allows, lines
over the character limit, more lines than allowed (:func:`rayqa.captions.checks.reading_speed_findings`).

The limits come from a profile (:data:`rayqa.captions.checks.PROFILES`: ``adult`` 17 cps,
``streaming`` 20 cps; both 42 characters a line, 2 lines), and ``max_cps``, ``max_line_chars`` and
``max_lines`` override single limits::

    [detectors.caption_reading_speed]
    profile = "streaming"
    max_line_chars = 37
"""

from __future__ import annotations

from rayqa.captions.checks import PROFILES, reading_speed_findings
from rayqa.detectors.caption_cues import CueCheck
from rayqa.types import Hit, ItemInfo


class CaptionReadingSpeed(CueCheck):
    name = "caption_reading_speed"
    defects = ("caption_reading_speed",)
    version = "1"
    defaults = {
        "profile": "adult",  # one of rayqa.captions.checks.PROFILES
        "max_cps": None,  # characters per second; None: the profile's
        "max_line_chars": None,
        "max_lines": None,
        "max_findings": 500,
    }

    def __init__(self, **params):
        super().__init__(**params)
        profile = self.params["profile"]
        if profile not in PROFILES:
            raise ValueError(f"{self.name}: unknown profile {profile!r}; known: {', '.join(PROFILES)}")
        limits = dict(PROFILES[profile])
        for key, kind in (("max_cps", (int, float)), ("max_line_chars", int), ("max_lines", int)):
            value = self.params[key]
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, kind) or value <= 0:
                raise ValueError(f"{self.name}: {key} must be a positive {'number' if key == 'max_cps' else 'whole number'}, "
                                 f"got {value!r}")
            limits[key] = value
        self.limits = {"max_cps": float(limits["max_cps"]), "max_line_chars": int(limits["max_line_chars"]),
                       "max_lines": int(limits["max_lines"])}

    def check_cues(self, cues: list, info: ItemInfo) -> list[Hit]:
        return reading_speed_findings(cues, profile=self.params["profile"], **self.limits)


    def describe(self):
        return {**super().describe(), "limits": self.limits}
