"""The decord frame source (``decode.video_backend = "decord"``): reports no damage and aborts on some
damaged streams, so a span it gives up on is decoded again with PyAV and the damage says so.
Audio comes from PyAV either way (decord's AudioReader decodes a whole track when opened)."""

from __future__ import annotations

import re

import numpy as np

from rayqa.media import pyav_source
from rayqa.media.convert import sample_times
from rayqa.media.probe import one_line
from rayqa.types import Damage, VideoFrames, Window


def decode_with_fallback(path, info, spans, video_specs, audio_specs, item_id) -> list[Window]:
    """Frames from decord; a window decord gives up on is decoded again with PyAV, and the
    damage says so. Audio comes from PyAV either way."""
    # decord scales RGB itself (and refuses some sizes, e.g. 96x54); specs sampled from the coded
    # planes (raw levels, crops, RGB from the planes) come from PyAV, as with the default backend.
    own = [s for s in video_specs if not (s.raw or s.crop or s.from_planes)]
    planes = [s for s in video_specs if s.raw or s.crop or s.from_planes]
    windows = _decode_video(path, info, spans, own, item_id)
    good = [i for i, w in enumerate(windows) if not isinstance(w, str)]
    if good and ((audio_specs and info.has_audio) or planes):
        extra = pyav_source.decode(path, info, [spans[i] for i in good], planes, audio_specs if info.has_audio else [],
                                   item_id)
        for i, a in zip(good, extra):
            windows[i].audio, windows[i].damage = a.audio, windows[i].damage + a.damage
            windows[i].recent_damage = windows[i].recent_damage + a.recent_damage
            windows[i].video.update(a.video)
    for i, w in enumerate(windows):
        if isinstance(w, str):
            redo = pyav_source.decode(path, info, [spans[i]], video_specs, audio_specs, item_id)[0]
            redo.damage.insert(0, Damage(redo.t0, redo.t1, "video", "decord",
                                         f"decord gave up ({w}); frames decoded with pyav", gave_up=True))
            windows[i] = redo
    return windows


def _decode_video(path, info, spans, video_specs, item_id) -> list:
    """One Window per span, or, for a span decord cannot decode, the one-line reason."""
    import decord

    out: list = []
    readers = {}
    for t0, t1 in spans:
        w = Window(item_id, t0, t1, decoder="decord")
        try:
            for spec in video_specs:
                if spec.key not in readers:
                    readers[spec.key] = decord.VideoReader(path, width=spec.width, height=spec.height, num_threads=1)
                vr = readers[spec.key]
                native = float(vr.get_avg_fps()) or (info.fps or 25.0)
                times = sample_times(t0, t1, min(spec.fps, native))
                # The first frame at or after each sample instant, as the PyAV path takes it.
                idx = np.unique(np.clip(np.ceil(times * native - 1e-3).astype(int), 0, len(vr) - 1))
                idx = idx[idx / native < t1]
                arr = vr.get_batch(idx.tolist()).asnumpy() if len(idx) else np.zeros((0, spec.height, spec.width, 3), np.uint8)
                if spec.gray:
                    arr = (arr @ np.array([0.299, 0.587, 0.114])).astype(np.uint8)
                w.video[spec.key] = VideoFrames(idx / native, arr, idx)
            out.append(w)
        except Exception as e:  # decord raises DECORDError, RuntimeError, ...
            # decord prefixes its messages with timestamps and source paths; keep the reason.
            out.append(re.sub(r"\[[\d:]+\] \S+:\d+: ", "", one_line(e))[:200])
            readers.clear()  # a reader that failed may be left mid-stream
    return out
