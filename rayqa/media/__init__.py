"""Media I/O: probe an item, and decode a run of windows of it through damage.

- :mod:`rayqa.media.probe`: open, probe (container header → ItemInfo), plan windows;
- :mod:`rayqa.media.convert`: pure frame conversion (luma plane, range, scaling, sample instants);
- :mod:`rayqa.media.pyav_source`: the default frame source, which reports damage; audio always;
- :mod:`rayqa.media.decord_source`: the alternative frame source, with a PyAV fallback.

Nothing here holds more than the windows asked for, and nothing imports the detectors.
"""

from __future__ import annotations

from collections.abc import Iterator

from rayqa.media import decord_source, pyav_source
from rayqa.media.convert import frame_to_spec, limited_to_full, luma_plane, sample_times, scale_nearest
from rayqa.media.probe import MediaError, local_path, one_line, open_container, plan_windows, probe
from rayqa.types import AudioSpec, ItemInfo, VideoSpec, Window

__all__ = ["MediaError", "decode_windows", "frame_to_spec", "iter_windows", "limited_to_full", "local_path", "luma_plane",
           "one_line", "open_container", "plan_windows", "probe", "sample_times", "scale_nearest"]


def decode_windows(
    uri: str,
    info: ItemInfo,
    spans: list[tuple[float, float]],
    video_specs: list[VideoSpec],
    audio_specs: list[AudioSpec],
    item_id: str = "",
    backend: str = "pyav",
) -> list[Window]:
    """Decode consecutive windows ``spans`` of one item in a single pass over the file.

    Damage (frames the decoder had to conceal, packets it could not decode, a stream that ends
    before its header says) is returned in each window's ``damage`` list; it never raises for
    damage inside a stream, only for an item that cannot be opened (:class:`MediaError`).
    """
    return list(iter_windows(uri, info, spans, video_specs, audio_specs, item_id, backend))


def iter_windows(
    uri: str,
    info: ItemInfo,
    spans: list[tuple[float, float]],
    video_specs: list[VideoSpec],
    audio_specs: list[AudioSpec],
    item_id: str = "",
    backend: str = "pyav",
) -> Iterator[Window]:
    """The windows of :func:`decode_windows`, one at a time as a single pass reaches them (PyAV:
    one seek for the run, about one window held at a time); the decord backend decodes the run
    at once and hands its windows out."""
    path = local_path(uri)
    if backend == "decord" and video_specs and info.has_video and path is not None:
        yield from decord_source.decode_with_fallback(path, info, spans, video_specs, audio_specs, item_id)
        return
    yield from pyav_source.iter_decode(uri, info, spans, video_specs, audio_specs, item_id)
