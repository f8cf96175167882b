"""The PyAV frame source: decodes a run of windows in one pass, through damage, and reports it.

FFmpeg decodes on through corrupt packets with error concealment and marks every frame it had to
conceal (``frame.is_corrupt``); refused packets raise; a stream that stops before its header says
was truncated. Each becomes a :class:`~rayqa.types.Damage` span on the windows it touches: the
evidence a ``decode_error`` finding needs. Audio is always streamed from here.
"""

from __future__ import annotations

import bisect
import itertools
import time
from collections.abc import Iterator
from dataclasses import dataclass

import av
import numpy as np

from rayqa.media.convert import Scaler, frame_to_spec, sample_times
from rayqa.media.probe import one_line, open_container
from rayqa.types import RECENT_DAMAGE_S, AudioSamples, AudioSpec, Damage, VideoFrames, VideoSpec, Window

# A window's decode starts this long before it, so that audio interleaved ahead of the
# video keyframe is not lost after a seek.
SEEK_PREROLL_S = 1.0
# A stream that ends this much earlier than its header says has been truncated: the decoder gave up.
TRUNCATION_TOLERANCE_S = 0.5
# A window is handed out once the pass is this far past its end on every stream (or over): room
# for frames a decoder delivers late and for the 1.5-frame gap that joins concealed frames into
# one run, so it leaves with all its frames, samples and damage.
EMIT_SLACK_S = 0.5


@dataclass
class _VideoAcc:
    spec: VideoSpec
    targets: list  # sample instants wanted, ascending (floats: compared once per decoded frame)
    next_i: int = 0
    times: list = None
    frames: list = None
    indices: list = None
    convert_s: float = 0.0
    scaler: Scaler = None

    def __post_init__(self):
        self.times, self.frames, self.indices = [], [], []
        self.scaler = Scaler()


class _AudioAcc:
    """One audio spec's samples over a pass. Decoded frames are kept as they come and converted at
    the next join, a run of them at once: per frame, PyAV's ``to_ndarray`` and one resampler call
    cost ~40 µs each in Python around a few µs of arithmetic. The samples are those frame-by-frame
    conversion gives (the resampler streams: one call on a run equals calls on its frames)."""

    def __init__(self, spec: AudioSpec, channels: int, joins: "_Joins | None" = None):
        self.spec = spec
        self.joins = joins if joins is not None else _Joins()  # shared by a pass's specs
        layout = "mono" if spec.mono else None
        self.resampler = av.AudioResampler(format="flt", layout=layout, rate=spec.sample_rate)
        self.chunks: list[np.ndarray] = []
        self.start_s: float | None = None
        self.convert_s = 0.0
        self._data: np.ndarray | None = None
        self._dropped = 0  # samples released from the front of _data
        self._direct: bool | None = None
        self._frames: list[av.AudioFrame] = []  # decoded, not converted yet

    def add(self, frame: av.AudioFrame, t: float) -> None:
        # Already what was asked (every channel, float planar, this rate): swresample would copy it
        # sample for sample (same values), so the planes are taken as they are. Decided on the
        # first frame, so a stream never mixes the two paths.
        if self._direct is None:
            self._direct = (not self.spec.mono and frame.format.name == "fltp"
                            and frame.sample_rate == self.spec.sample_rate)
        if self.start_s is None:
            self.start_s = t
        self._frames.append(frame)

    def _convert(self) -> None:
        """The kept frames into ``chunks``, (channels, n) float32 each: runs of frames already as
        asked taken as decoded, the others through the resampler a run of one format at a time."""
        if not self._frames:
            return
        started = time.perf_counter()
        frames, self._frames = self._frames, []
        rate = self.spec.sample_rate
        as_asked = (lambda f: f.format.name == "fltp" and f.sample_rate == rate) if self._direct else (lambda f: False)
        for taken, run in itertools.groupby(frames, key=lambda f: (as_asked(f), _format_key(f))):
            run = list(run)
            if taken[0]:
                self.chunks.append(self.joins.planes(run, np.float32))
                continue
            for src in self.joins.frame(run) if len(run) > 1 else run:
                for out in self.resampler.resample(src):
                    arr = out.to_ndarray()  # packed flt: (1, n*channels)
                    ch = out.layout.nb_channels
                    self.chunks.append(arr.reshape(-1, ch).T if ch > 1 else arr.reshape(1, -1))
        self.convert_s += time.perf_counter() - started

    def cut(self, t0: float, t1: float) -> AudioSamples:
        sr = self.spec.sample_rate
        if self.start_s is None or (not self.chunks and not self._frames and self._data is None):
            return AudioSamples(t0, sr, np.zeros((1, 0), np.float32))
        self._join()
        a = max(0, int(round((t0 - self.start_s) * sr)))
        b = max(a, int(round((t1 - self.start_s) * sr)))
        start = self.start_s + a / sr
        data = self._data[:, max(0, a - self._dropped):max(0, b - self._dropped)]
        return AudioSamples(start, sr, np.ascontiguousarray(data, dtype=np.float32))

    def _join(self) -> None:
        """Append the samples decoded since the last join to ``_data`` (once per hand-out, not once
        per window)."""
        self._convert()
        if self.chunks:
            parts = ([self._data] if self._data is not None else []) + self.chunks
            self._data = np.concatenate(parts, axis=1) if len(parts) > 1 else parts[0]
            self.chunks = []

    def release(self, t: float) -> None:
        """Forget the samples before ``t`` (every window before it has been handed out)."""
        self._join()
        if self.start_s is None or self._data is None:
            return
        keep_from = max(0, int(round((t - self.start_s) * self.spec.sample_rate)) - self._dropped)
        keep_from = min(keep_from, self._data.shape[1])
        self._data = self._data[:, keep_from:].copy() if keep_from else self._data
        self._dropped += keep_from


def decode(uri, info, spans, video_specs, audio_specs, item_id) -> list[Window]:
    """The windows ``spans`` of one item, decoded in one pass (see :func:`iter_decode`)."""
    return list(iter_decode(uri, info, spans, video_specs, audio_specs, item_id))


def iter_decode(uri, info, spans, video_specs, audio_specs, item_id) -> Iterator[Window]:
    """The windows ``spans`` of one item in one pass over the file (one seek), each handed out as
    soon as the pass is ``EMIT_SLACK_S`` past its end on every stream, with everything it holds
    then forgotten: a long run of windows costs one seek, and holds about one window at a time.
    Windows, their frames, samples and damage are those a decode of the whole run at once gives."""
    windows = [Window(item_id, t0, t1, decoder="pyav") for t0, t1 in spans]
    # Handing out early (and forgetting) needs windows in time order, none overlapping the next.
    ordered = all(a[0] <= a[1] <= b[0] for a, b in zip(spans, spans[1:]))
    start, end = spans[0][0], spans[-1][1]
    container = open_container(uri)
    try:
        vs = container.streams.video[0] if (video_specs and container.streams.video) else None
        aus = container.streams.audio[0] if (audio_specs and container.streams.audio) else None
        if vs is None and aus is None:
            yield from windows
            return
        if vs is not None:
            vs.thread_count = 1  # parallelism comes from Ray: one decoder thread per task
        vacc = []
        if vs is not None:
            native = info.fps or 1000.0
            for spec in video_specs:
                vacc.append(_VideoAcc(spec, sample_times(start, end, min(spec.fps, native)).tolist()))
        joins = _Joins()  # every audio spec converts the same runs of frames at the same cuts: joined once
        aacc = [_AudioAcc(s, info.audio_channels or 1, joins) for s in audio_specs] if aus is not None else []

        seek_took = 0.0
        if start > 0:
            seek_s = max(0.0, start - SEEK_PREROLL_S)
            t_seek = time.perf_counter()
            try:
                container.seek(int(seek_s * 1e6), any_frame=False, backward=True)
                seek_took = time.perf_counter() - t_seek
            except av.error.FFmpegError as e:
                _damage(windows, start, end, "video" if vs else "audio", f"seek failed: {one_line(e)}", gave_up=True)
                yield from windows
                return

        streams = [s for s in (vs, aus) if s is not None]
        done = {s.index: False for s in streams}
        last_t = {s.index: None for s in streams}
        bad_video: list[float] = []
        fps = info.fps or 25.0
        pending = list(windows)  # not handed out yet
        spent = {"video": 0.0, "audio": 0.0}  # conversion seconds already given to handed-out windows

        def passed(w: Window) -> bool:
            return all(done[i] or (t is not None and t >= w.t1 + EMIT_SLACK_S) for i, t in last_t.items())

        def hand_out(ws: list[Window]) -> list[Window]:
            for t0, t1 in _runs_of_times(bad_video, 1.5 / fps):
                _damage(ws, t0, t1 + 1 / fps, "video", "frames decoded with error concealment (corrupt bitstream)")
            for w in ws:
                for acc in vacc:
                    # times ascend (a frame is kept only past every instant the last one took)
                    a, b = bisect.bisect_left(acc.times, w.t0), bisect.bisect_left(acc.times, w.t1)
                    frames = np.stack(acc.frames[a:b]) if b > a else np.zeros((0, acc.spec.height, acc.spec.width) + (() if acc.spec.gray else (3,)), np.uint8)
                    w.video[acc.spec.key] = VideoFrames(np.array(acc.times[a:b], dtype=np.float64), frames,
                                                        np.array(acc.indices[a:b], dtype=np.int64))
                for acc in aacc:
                    w.audio[acc.spec.key] = acc.cut(w.t0, w.t1)
            joins.clear()  # the runs just converted are let go (their ids may be reused)
            converted = {"video": sum(a.convert_s for a in vacc), "audio": sum(a.convert_s for a in aacc)}
            for w in ws:
                w.timing = {"seek": seek_took / len(windows),
                            "convert_video": (converted["video"] - spent["video"]) / len(ws),
                            "resample_audio": (converted["audio"] - spent["audio"]) / len(ws)}
            spent.update(converted)
            if ordered:  # nothing before the last window's end is wanted again
                cut = ws[-1].t1
                for acc in vacc:
                    k = bisect.bisect_left(acc.times, cut)
                    del acc.times[:k], acc.frames[:k], acc.indices[:k]
                for acc in aacc:
                    acc.release(cut)
            del pending[:len(ws)]
            return ws

        try:
            for packet in container.demux(streams):
                st = packet.stream
                if done.get(st.index, True):
                    if all(done.values()):
                        break
                    continue
                try:
                    frames = packet.decode()
                except av.error.FFmpegError as e:
                    # The decoder refused the packet; note where and go on with the next one.
                    t = float(packet.pts * packet.time_base) if packet.pts is not None else (last_t[st.index] or start)
                    if start - RECENT_DAMAGE_S <= t < end:  # before start: only windows' recent_damage
                        kind = "video" if st is vs else "audio"
                        _damage(pending, t, t + (1 / fps if st is vs else 0.05), kind, f"undecodable packet: {one_line(e)}")
                    continue
                for frame in frames:
                    t = frame.time  # pts × time_base, None without a pts
                    if t is None:
                        continue
                    last_t[st.index] = t
                    if st is vs:
                        if t >= end:
                            done[st.index] = True
                            continue
                        if frame.is_corrupt and t >= start - RECENT_DAMAGE_S:
                            bad_video.append(t)  # before start (the preroll): recent_damage only
                        if t < start:
                            continue
                        for acc in vacc:
                            if acc.next_i < len(acc.targets) and acc.targets[acc.next_i] <= t + _HALF:
                                _take_video(acc, frame, t, fps)
                    else:
                        if t >= end:
                            done[st.index] = True
                        for acc in aacc:
                            acc.add(frame, t)
                if ordered and len(pending) > 1 and passed(pending[0]):
                    n = 1
                    while n < len(pending) - 1 and passed(pending[n]):
                        n += 1
                    yield from hand_out(pending[:n])  # the last window waits for the end of the pass
        except av.error.FFmpegError as e:
            # The demuxer itself gave up (broken container structure) part-way through.
            where = max([t for t in last_t.values() if t is not None], default=start)
            _damage(pending, max(where, start), end, "video" if vs else "audio", f"demuxer gave up: {one_line(e)}", gave_up=True)

        # A stream that stops before its header says (and before this span's end) was truncated.
        for st, declared in ((vs, info.video_duration_s), (aus, info.audio_duration_s)):
            if st is None or done[st.index]:
                continue
            reached = last_t[st.index] if last_t[st.index] is not None else start
            limit = min(end, declared if declared is not None else end)
            if reached + TRUNCATION_TOLERANCE_S < limit:
                kind = "video" if st is vs else "audio"
                _damage(pending, max(reached, start), limit, kind,
                        f"{kind} stream ended at {reached:.2f} s, header says {declared:.2f} s", gave_up=True)

        if pending:
            yield from hand_out(list(pending))
    finally:
        container.close()


_DTYPES = {name: np.dtype(code) for name, code in av.audio.frame.format_dtypes.items()}


def _format_key(frame: av.AudioFrame) -> tuple:
    return frame.format.name, frame.sample_rate, frame.layout.nb_channels, frame.layout.name


class _Joins:
    """Runs of decoded audio frames joined end to end, kept until the pass's next cut: every audio
    spec converts the same runs (the same frame objects) at the same cuts, so the planes are joined
    once, and a joined frame built once, for all of them."""

    def __init__(self):
        self._kept: dict[tuple, object] = {}

    def clear(self) -> None:
        self._kept.clear()

    def _get(self, frames: list, what: str, make):
        key = (what, id(frames[0]), id(frames[-1]), len(frames))
        got = self._kept.get(key)
        if got is None:
            got = self._kept[key] = make(frames)
        return got

    def planes(self, frames: list[av.AudioFrame], dtype) -> np.ndarray:
        """(planes, n) of consecutive planar frames: each plane's samples end to end."""
        return self._get(frames, np.dtype(dtype).str, lambda fs: _planes_joined(fs, dtype))

    def frame(self, frames: list[av.AudioFrame]) -> list[av.AudioFrame]:
        """Consecutive frames of one format as one frame (their samples end to end, the first's
        pts), or the frames as they are where PyAV cannot build one (a sample format or layout it
        has no name for)."""
        return self._get(frames, "frame", self._joined_frame)

    def _joined_frame(self, frames: list[av.AudioFrame]) -> list[av.AudioFrame]:
        try:
            return [self._join_frames(frames)]
        except (KeyError, ValueError, av.error.FFmpegError):
            return frames

    def _join_frames(self, frames: list[av.AudioFrame]) -> av.AudioFrame:
        first = frames[0]
        fmt, dtype = first.format, _DTYPES[first.format.name]
        if fmt.is_planar:
            data = self.planes(frames, dtype)
        else:
            ch = first.layout.nb_channels
            data = np.concatenate([np.frombuffer(f.planes[0], dtype, f.samples * ch) for f in frames]).reshape(1, -1)
        out = av.AudioFrame.from_ndarray(data, format=fmt.name, layout=first.layout.name)
        out.sample_rate, out.pts, out.time_base = first.sample_rate, first.pts, first.time_base
        return out


def _planes_joined(frames: list[av.AudioFrame], dtype) -> np.ndarray:
    """(planes, n) of consecutive planar frames: each plane's samples end to end (each frame's
    planes read once: PyAV builds the tuple anew on every ``frame.planes``)."""
    if len(frames) == 1:
        f = frames[0]
        return np.stack([np.frombuffer(p, dtype, f.samples) for p in f.planes])
    planes = [f.planes for f in frames]
    counts = [f.samples for f in frames]
    out = np.empty((len(planes[0]), sum(counts)), dtype)
    for c in range(out.shape[0]):
        np.concatenate([np.frombuffer(p[c], dtype, n) for p, n in zip(planes, counts)], out=out[c])
    return out


_HALF = 1e-3  # float slack only: a sample instant takes the first frame at or after it


def _take_video(acc: _VideoAcc, frame, t: float, native_fps: float) -> None:
    """Keep this frame for every sample instant it is the first frame at or after."""
    took = False
    while acc.next_i < len(acc.targets) and acc.targets[acc.next_i] <= t + _HALF:
        acc.next_i += 1
        if not took:
            acc.times.append(t)
            t_conv = time.perf_counter()
            acc.frames.append(frame_to_spec(frame, acc.spec, acc.scaler))
            acc.convert_s += time.perf_counter() - t_conv
            acc.indices.append(int(round(t * native_fps)))
            took = True


def _runs_of_times(times: list[float], max_gap: float) -> list[tuple[float, float]]:
    out: list[tuple[float, float]] = []
    for t in sorted(times):
        if out and t - out[-1][1] <= max_gap:
            out[-1] = (out[-1][0], t)
        else:
            out.append((t, t))
    return out


def _damage(windows: list[Window], t0: float, t1: float, stream: str, message: str, gave_up: bool = False) -> None:
    """Attach a damage span to every window it overlaps, clipped to the window, and to the
    ``recent_damage`` of every window that starts up to ``RECENT_DAMAGE_S`` after it begins."""
    for w in windows:
        a, b = max(t0, w.t0), min(t1, w.t1)
        if a < b or (a == b and w.t0 <= t0 < w.t1):
            w.damage.append(Damage(a, max(b, a), stream, w.decoder or "pyav", message, gave_up))
        a, b = max(t0, w.t0 - RECENT_DAMAGE_S), min(t1, w.t0)
        if t0 < w.t0 and a <= b:
            w.recent_damage.append(Damage(a, b, stream, w.decoder or "pyav", message, gave_up))
