"""Media I/O: probe an item, and decode a run of windows of it through damage.

Video is decoded with PyAV by default: it decodes on through corrupt packets with FFmpeg's error
concealment and marks every frame it had to conceal (``frame.is_corrupt``), which is exactly the
evidence a ``decode_error`` finding needs. decord (``decode.video_backend = "decord"``) is the
alternative frame source; it reports no damage and aborts on some damaged streams, so when it gives
up the window is decoded again with PyAV and the damage says which decoder produced the frames.

Audio is always streamed with PyAV: decord's AudioReader decodes a whole track when opened.
Nothing here holds more than the windows asked for.
"""

from __future__ import annotations

import math
import re
import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import av
import numpy as np

from rayqa.types import AudioSamples, AudioSpec, Damage, ItemInfo, VideoFrames, VideoSpec, Window

# A window's decode starts this long before it, so that audio interleaved ahead of the
# video keyframe is not lost after a seek.
SEEK_PREROLL_S = 1.0
# A stream that ends this much earlier than its header says has been truncated: the decoder gave up.
TRUNCATION_TOLERANCE_S = 0.5


# FFmpeg opens almost anything: a text file is "ANSI art" video to its tty demuxer, a picture a
# one-frame video. None of these is a catalogue item.
NOT_AV_FORMATS = {"tty", "bin", "idf", "xbin", "adf", "image2", "lavfi"}
NOT_AV_VIDEO_CODECS = {"ansi", "bintext", "xbin", "idf"}


class MediaError(Exception):
    """The item cannot be opened as media at all. The message is one line, for the summary."""


def _one_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return text[0] if text else type(e).__name__


def open_container(uri: str) -> av.container.InputContainer:
    """Open a local path, ``file://``, ``http(s)://`` or any URI a pyarrow filesystem reads."""
    parsed = urlparse(uri)
    scheme = parsed.scheme if len(parsed.scheme) > 1 else ""
    try:
        if scheme in ("", "file"):
            path = Path(parsed.path if scheme == "file" else uri)
            if not path.exists():
                raise MediaError(f"file not found: {path}")
            if path.is_dir():
                raise MediaError(f"is a directory, not a media file: {path}")
            if path.stat().st_size == 0:
                raise MediaError(f"empty file (0 bytes): {path}")
            return av.open(str(path), metadata_errors="ignore")
        if scheme in ("http", "https"):
            return av.open(uri, metadata_errors="ignore", timeout=30.0)
        import pyarrow.fs as pafs

        fs, path = pafs.FileSystem.from_uri(uri)
        return av.open(fs.open_input_file(path), metadata_errors="ignore")
    except MediaError:
        raise
    except FileNotFoundError as e:
        raise MediaError(f"file not found: {uri}") from e
    except av.error.FFmpegError as e:
        raise MediaError(f"cannot open as media: {_one_line(e)}") from e
    except (OSError, ValueError) as e:
        raise MediaError(f"cannot read {uri}: {_one_line(e)}") from e


def _stream_duration(stream) -> float | None:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    return None


def probe(uri: str) -> ItemInfo:
    """Read the container header. Raises :class:`MediaError` when there is no media to scan."""
    container = open_container(uri)
    try:
        fmt = container.format.name
        if fmt in NOT_AV_FORMATS or fmt.endswith("_pipe"):
            raise MediaError(f"not an audio/video file (FFmpeg reads it as {fmt!r})")
        vs = container.streams.video[0] if container.streams.video else None
        aus = container.streams.audio[0] if container.streams.audio else None
        if vs is not None and vs.codec_context.name in NOT_AV_VIDEO_CODECS:
            raise MediaError(f"not an audio/video file (FFmpeg reads it as {vs.codec_context.name!r} text art)")
        if vs is None and aus is None:
            raise MediaError("no audio or video stream in the container")
        whole = container.duration / 1e6 if container.duration is not None else None
        vdur = _stream_duration(vs) if vs is not None else None
        adur = _stream_duration(aus) if aus is not None else None
        if vs is not None and vdur is None:
            vdur = whole
        if aus is not None and adur is None:
            adur = whole
        duration = max(d for d in (vdur, adur, whole, 0.0) if d is not None)
        if duration <= 0:
            raise MediaError("the container reports no duration and no stream length")
        fps = None
        if vs is not None:
            rate = vs.average_rate or vs.guessed_rate or vs.base_rate
            fps = float(rate) if rate else None
        return ItemInfo(
            duration_s=float(duration),
            has_video=vs is not None,
            has_audio=aus is not None,
            fps=fps,
            width=int(vs.codec_context.width) if vs is not None else None,
            height=int(vs.codec_context.height) if vs is not None else None,
            video_duration_s=vdur,
            audio_duration_s=adur,
            audio_sample_rate=int(aus.codec_context.sample_rate) if aus is not None else None,
            audio_channels=int(aus.codec_context.channels) if aus is not None else None,
            video_codec=vs.codec_context.name if vs is not None else None,
            audio_codec=aus.codec_context.name if aus is not None else None,
            container=container.format.name,
        )
    finally:
        container.close()


def plan_windows(info: ItemInfo, window_s: float) -> list[tuple[float, float]]:
    """Cut ``[0, duration)`` into windows of ``window_s``; the last one may be shorter."""
    n = max(1, math.ceil(info.duration_s / window_s - 1e-9))
    return [(i * window_s, min((i + 1) * window_s, info.duration_s)) for i in range(n)]


# ---------------------------------------------------------------------------------------------
# Frame conversion (pure functions)


def luma_plane(frame: av.VideoFrame) -> tuple[np.ndarray, bool] | None:
    """The Y plane of an 8-bit planar YUV frame without a colour conversion, and whether it is
    limited ("TV", 16..235) range; None for other formats."""
    name = frame.format.name
    if not (name.startswith("yuv") or name in ("nv12", "nv21", "gray")):
        return None
    if any(tag in name for tag in ("p10", "p12", "p14", "p16")):
        return None
    plane = frame.planes[0]
    y = np.frombuffer(plane, np.uint8).reshape(-1, plane.line_size)[: frame.height, : frame.width]
    limited = not (name.startswith("yuvj") or name == "gray") and frame.color_range != 2
    return y, limited


def limited_to_full(y: np.ndarray) -> np.ndarray:
    """Limited-range luma (16..235) to full range, so a threshold means the same for every file."""
    return np.clip((y.astype(np.int32) - 16) * 255 // 219, 0, 255).astype(np.uint8)


def scale_nearest(img: np.ndarray, width: int, height: int) -> np.ndarray:
    """Nearest-neighbour resize, sampling pixel centres: cheap and enough for frame statistics."""
    h, w = img.shape[:2]
    ys = ((np.arange(height) + 0.5) * h / height).astype(np.intp)
    xs = ((np.arange(width) + 0.5) * w / width).astype(np.intp)
    return img[ys][:, xs]


def frame_to_spec(frame: av.VideoFrame, spec: VideoSpec) -> np.ndarray:
    if spec.gray:
        plane = luma_plane(frame)
        if plane is not None:
            small = scale_nearest(plane[0], spec.width, spec.height)  # scale first: convert few pixels
            return limited_to_full(small) if plane[1] else np.ascontiguousarray(small)
        return frame.reformat(spec.width, spec.height, "gray").to_ndarray()
    return frame.reformat(spec.width, spec.height, "rgb24").to_ndarray()


def sample_times(t0: float, t1: float, fps: float) -> np.ndarray:
    """The instants a detector asked to see in ``[t0, t1)``."""
    n = max(0, math.ceil((t1 - t0) * fps - 1e-9))
    return t0 + np.arange(n) / fps


# ---------------------------------------------------------------------------------------------
# Windowed decoding


@dataclass
class _VideoAcc:
    spec: VideoSpec
    targets: np.ndarray  # sample instants still wanted, ascending
    next_i: int = 0
    times: list = None
    frames: list = None
    indices: list = None

    def __post_init__(self):
        self.times, self.frames, self.indices = [], [], []


class _AudioAcc:
    def __init__(self, spec: AudioSpec, channels: int):
        self.spec = spec
        layout = "mono" if spec.mono else None
        self.resampler = av.AudioResampler(format="flt", layout=layout, rate=spec.sample_rate)
        self.chunks: list[np.ndarray] = []
        self.start_s: float | None = None

    def add(self, frame: av.AudioFrame, t: float) -> None:
        for out in self.resampler.resample(frame):
            arr = out.to_ndarray()  # packed flt: (1, n*channels)
            ch = out.layout.nb_channels
            arr = arr.reshape(-1, ch).T if ch > 1 else arr.reshape(1, -1)
            if self.start_s is None:
                self.start_s = t
            self.chunks.append(arr)

    def cut(self, t0: float, t1: float) -> AudioSamples:
        sr = self.spec.sample_rate
        if not self.chunks or self.start_s is None:
            return AudioSamples(t0, sr, np.zeros((1, 0), np.float32))
        data = np.concatenate(self.chunks, axis=1)
        a = max(0, int(round((t0 - self.start_s) * sr)))
        b = max(a, int(round((t1 - self.start_s) * sr)))
        start = self.start_s + a / sr
        return AudioSamples(start, sr, np.ascontiguousarray(data[:, a:b], dtype=np.float32))


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
    path = local_path(uri)
    if backend == "decord" and video_specs and info.has_video and path is not None:
        return _decode_decord_with_fallback(path, info, spans, video_specs, audio_specs, item_id)
    return _decode_pyav(uri, info, spans, video_specs, audio_specs, item_id)


def _decode_decord_with_fallback(path, info, spans, video_specs, audio_specs, item_id) -> list[Window]:
    """Frames from decord; a window decord gives up on is decoded again with PyAV, and the
    damage says so. Audio comes from PyAV either way."""
    windows = _decode_video_decord(path, info, spans, video_specs, item_id)
    good = [i for i, w in enumerate(windows) if not isinstance(w, str)]
    if good and audio_specs and info.has_audio:
        audio = _decode_pyav(path, info, [spans[i] for i in good], [], audio_specs, item_id)
        for i, a in zip(good, audio):
            windows[i].audio, windows[i].damage = a.audio, windows[i].damage + a.damage
    for i, w in enumerate(windows):
        if isinstance(w, str):
            redo = _decode_pyav(path, info, [spans[i]], video_specs, audio_specs, item_id)[0]
            redo.damage.insert(0, Damage(redo.t0, redo.t1, "video", "decord",
                                         f"decord gave up ({w}); frames decoded with pyav", gave_up=True))
            windows[i] = redo
    return windows


def _decode_video_decord(path, info, spans, video_specs, item_id) -> list:
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
            out.append(re.sub(r"\[[\d:]+\] \S+:\d+: ", "", _one_line(e))[:200])
            readers.clear()  # a reader that failed may be left mid-stream
    return out


def _decode_pyav(uri, info, spans, video_specs, audio_specs, item_id) -> list[Window]:
    windows = [Window(item_id, t0, t1, decoder="pyav") for t0, t1 in spans]
    start, end = spans[0][0], spans[-1][1]
    container = open_container(uri)
    try:
        vs = container.streams.video[0] if (video_specs and container.streams.video) else None
        aus = container.streams.audio[0] if (audio_specs and container.streams.audio) else None
        if vs is None and aus is None:
            return windows
        if vs is not None:
            vs.thread_count = 1  # parallelism comes from Ray: one decoder thread per task
        vacc = []
        if vs is not None:
            native = info.fps or 1000.0
            for spec in video_specs:
                vacc.append(_VideoAcc(spec, sample_times(start, end, min(spec.fps, native))))
        aacc = [_AudioAcc(s, info.audio_channels or 1) for s in audio_specs] if aus is not None else []

        if start > 0:
            seek_s = max(0.0, start - SEEK_PREROLL_S)
            try:
                container.seek(int(seek_s * 1e6), any_frame=False, backward=True)
            except av.error.FFmpegError as e:
                _damage(windows, start, end, "video" if vs else "audio", f"seek failed: {_one_line(e)}", gave_up=True)
                return windows

        streams = [s for s in (vs, aus) if s is not None]
        done = {s.index: False for s in streams}
        last_t = {s.index: None for s in streams}
        bad_video: list[float] = []
        fps = info.fps or 25.0
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
                    if start <= t < end:
                        kind = "video" if st is vs else "audio"
                        _damage(windows, t, t + (1 / fps if st is vs else 0.05), kind, f"undecodable packet: {_one_line(e)}")
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
                        if t < start:
                            continue
                        if frame.is_corrupt:
                            bad_video.append(t)
                        for acc in vacc:
                            _take_video(acc, frame, t, fps)
                    else:
                        if t >= end:
                            done[st.index] = True
                        for acc in aacc:
                            acc.add(frame, t)
        except av.error.FFmpegError as e:
            # The demuxer itself gave up (broken container structure) part-way through.
            where = max([t for t in last_t.values() if t is not None], default=start)
            _damage(windows, max(where, start), end, "video" if vs else "audio", f"demuxer gave up: {_one_line(e)}", gave_up=True)

        # A stream that stops before its header says (and before this span's end) was truncated.
        for st, declared in ((vs, info.video_duration_s), (aus, info.audio_duration_s)):
            if st is None or done[st.index]:
                continue
            reached = last_t[st.index] if last_t[st.index] is not None else start
            limit = min(end, declared if declared is not None else end)
            if reached + TRUNCATION_TOLERANCE_S < limit:
                kind = "video" if st is vs else "audio"
                _damage(windows, max(reached, start), limit, kind,
                        f"{kind} stream ended at {reached:.2f} s, header says {declared:.2f} s", gave_up=True)

        for t0, t1 in _runs_of_times(bad_video, 1.5 / fps):
            _damage(windows, t0, t1 + 1 / fps, "video", "frames decoded with error concealment (corrupt bitstream)")

        for w in windows:
            for acc in vacc:
                sel = [i for i, t in enumerate(acc.times) if w.t0 <= t < w.t1]
                frames = np.stack([acc.frames[i] for i in sel]) if sel else np.zeros((0, acc.spec.height, acc.spec.width) + (() if acc.spec.gray else (3,)), np.uint8)
                w.video[acc.spec.key] = VideoFrames(
                    np.array([acc.times[i] for i in sel], dtype=np.float64), frames,
                    np.array([acc.indices[i] for i in sel], dtype=np.int64),
                )
            for acc in aacc:
                w.audio[acc.spec.key] = acc.cut(w.t0, w.t1)
        return windows
    finally:
        container.close()


def _take_video(acc: _VideoAcc, frame, t: float, native_fps: float) -> None:
    """Keep this frame for every sample instant it is the first frame at or after."""
    took = False
    half = 1e-3  # float slack only: a sample instant takes the first frame at or after it
    while acc.next_i < len(acc.targets) and acc.targets[acc.next_i] <= t + half:
        acc.next_i += 1
        if not took:
            acc.times.append(t)
            acc.frames.append(frame_to_spec(frame, acc.spec))
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
    """Attach a damage span to every window it overlaps, clipped to the window."""
    for w in windows:
        a, b = max(t0, w.t0), min(t1, w.t1)
        if a < b or (a == b and w.t0 <= t0 < w.t1):
            w.damage.append(Damage(a, max(b, a), stream, w.decoder or "pyav", message, gave_up))


def local_path(uri: str) -> str | None:
    parsed = urlparse(uri)
    if parsed.scheme == "file":
        return parsed.path
    if len(parsed.scheme) <= 1:
        return os.fspath(uri)
    return None
