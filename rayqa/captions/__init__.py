"""Caption sidecars (SRT, WebVTT, TTML/IMSC, ASS/SSA): reading them safely and checking them.

Pure functions, no Ray and no media decoding: :mod:`rayqa.captions.read` turns a ``captions_uri``
into cues and the problems met on the way (absent, unreadable, wrong encoding, unparsable, too
big); :mod:`rayqa.captions.checks` measures timing, reading speed and agreement with speech. The
caption detectors (``rayqa/detectors/caption_*.py``) are thin shells around them.
"""

from rayqa.captions.read import CaptionFile, Cue, Problem, load, parse_bytes

__all__ = ["CaptionFile", "Cue", "Problem", "load", "parse_bytes"]
