"""Probing: open an item (local path, ``file://``, ``http(s)://`` or any pyarrow filesystem URI),
read its container header into an :class:`~rayqa.types.ItemInfo`, and cut it into windows."""

from __future__ import annotations

import math
import os
import re
from pathlib import Path
from urllib.parse import urlparse

import av

from rayqa.types import ItemInfo

# FFmpeg opens almost anything: a text file is "ANSI art" video to its tty demuxer, a picture a
# one-frame video. None of these is a catalogue item.
NOT_AV_FORMATS = {"tty", "bin", "idf", "xbin", "adf", "image2", "lavfi"}
NOT_AV_VIDEO_CODECS = {"ansi", "bintext", "xbin", "idf"}


class MediaError(Exception):
    """The item cannot be opened as media at all. The message is one line, for the summary."""


def one_line(e: BaseException) -> str:
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
        head = _head(uri) if scheme in ("", "file") else b""
        raise MediaError(describe_open_failure(head, e)) from e
    except PermissionError as e:
        raise MediaError(f"permission denied: {uri}") from e
    except (OSError, ValueError) as e:
        raise MediaError(f"cannot read {uri}: {without_errno(one_line(e))}") from e


def without_errno(text: str) -> str:
    """FFmpeg's and the OS's messages without ``[Errno N]`` and the quoted path they end with."""
    text = re.sub(r"\[Errno -?\d+\]\s*", "", text)
    return re.sub(r":\s*'[^']*'$", "", text).strip()


def _head(uri: str, n: int = 1 << 16) -> bytes:
    parsed = urlparse(uri)
    try:
        with open(parsed.path if parsed.scheme == "file" else uri, "rb") as f:
            return f.read(n)
    except OSError:
        return b""


# Container signatures: (name, test on the first bytes).
_SIGNATURES = (
    ("MP4/MOV", lambda b: b[4:8] in (b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip")),
    ("Matroska/WebM", lambda b: b[:4] == b"\x1a\x45\xdf\xa3"),
    ("AVI", lambda b: b[:4] == b"RIFF" and b[8:12] == b"AVI "),
    ("WAV", lambda b: b[:4] == b"RIFF" and b[8:12] == b"WAVE"),
    ("MPEG-TS", lambda b: len(b) > 376 and b[0] == 0x47 and b[188] == 0x47 and b[376] == 0x47),
    ("MPEG-PS", lambda b: b[:4] == b"\x00\x00\x01\xba"),
    ("FLV", lambda b: b[:3] == b"FLV"),
    ("Ogg", lambda b: b[:4] == b"OggS"),
    ("FLAC", lambda b: b[:4] == b"fLaC"),
    ("MP3", lambda b: b[:3] == b"ID3"),
)


def _mp4_boxes(head: bytes) -> list[bytes]:
    """Top-level box types found in the first bytes of an MP4/MOV file."""
    out, at = [], 0
    while at + 8 <= len(head):
        size = int.from_bytes(head[at:at + 4], "big")
        kind = head[at + 4:at + 8]
        if size == 1 and at + 16 <= len(head):
            size = int.from_bytes(head[at + 8:at + 16], "big")
        out.append(kind)
        if size < 8:
            break
        at += size
    return out


def describe_open_failure(head: bytes, e: BaseException) -> str:
    """Why FFmpeg could not open a file, in words: a truncated or damaged file of a known container,
    a file that is not media at all, or FFmpeg's own reason without errno numbers."""
    kind = next((name for name, test in _SIGNATURES if head and test(head)), None)
    if kind == "MP4/MOV":
        boxes = _mp4_boxes(head)
        if b"moov" not in boxes:
            return ("truncated or unfinished MP4/MOV file: its index (moov box) is missing, so FFmpeg cannot read it "
                    "(the file was cut off, or never finalised by the encoder)")
        return "damaged MP4/MOV file: FFmpeg cannot read its index (moov box)"
    if kind is not None:
        return f"truncated or damaged {kind} file: FFmpeg cannot read its header ({without_errno(one_line(e))})"
    if head and all(32 <= c < 127 or c in (9, 10, 13) for c in head[:4096]):
        return "not a media file: it is text"
    if isinstance(e, av.error.InvalidDataError):
        return "not a media file: FFmpeg recognises no audio/video format in it"
    return f"cannot open as media: {without_errno(one_line(e))}"


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
            raise MediaError(f"not a media file: FFmpeg reads it only as {fmt!r} (text, pictures or raw bytes)")
        vs = container.streams.video[0] if container.streams.video else None
        aus = container.streams.audio[0] if container.streams.audio else None
        if vs is not None and vs.codec_context.name in NOT_AV_VIDEO_CODECS:
            raise MediaError(f"not a media file: FFmpeg reads it only as {vs.codec_context.name!r} text art")
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
            audio_profile=_profile(aus), audio_layout=aus.codec_context.layout.name if aus is not None else None,
            **(_video_metadata(container, vs) if vs is not None else {}),
        )
    finally:
        container.close()


# FFmpeg's enums (libavutil/pixfmt.h, libavcodec/defs.h) as the names FFmpeg prints.
_FIELD_ORDER = {1: "progressive", 2: "tff", 5: "tff", 3: "bff", 4: "bff"}  # by display order of the fields
_TRANSFER = {1: "bt709", 4: "bt470m", 5: "bt470bg", 6: "smpte170m", 7: "smpte240m", 8: "linear", 11: "iec61966-2-4",
             13: "iec61966-2-1", 14: "bt2020-10", 15: "bt2020-12", 16: "smpte2084", 18: "arib-std-b67"}
_PRIMARIES = {1: "bt709", 4: "bt470m", 5: "bt470bg", 6: "smpte170m", 7: "smpte240m", 9: "bt2020", 11: "smpte431",
              12: "smpte432"}
VFR_PACKETS = 300  # video packets whose timestamps the probe reads (demuxed, not decoded)


def _profile(stream) -> str | None:
    if stream is None:
        return None
    try:
        return stream.codec_context.profile or None
    except (AttributeError, ValueError):
        return None


def frame_rate_range(pts_s: list[float]) -> tuple[bool, float | None, float | None]:
    """(variable?, lowest, highest frame rate) from presentation times of consecutive frames: the
    rate varies when frame durations differ by more than 10 % (a 1-tick rounding does not count)."""
    times = sorted(set(pts_s))
    if len(times) < 3:
        return False, None, None
    durations = [b - a for a, b in zip(times, times[1:]) if b > a]
    lo, hi = min(durations), max(durations)
    return hi > lo * 1.1 + 1e-4, round(1.0 / hi, 3), round(1.0 / lo, 3)


def _video_metadata(container, vs) -> dict:
    cc = vs.codec_context
    trc, prim = _TRANSFER.get(int(cc.color_trc or 2)), _PRIMARIES.get(int(cc.color_primaries or 2))
    try:
        bits = av.video.format.VideoFormat(cc.pix_fmt).components[0].bits if cc.pix_fmt else None
    except (ValueError, TypeError):
        bits = None
    fmt = cc.pix_fmt or ""
    color_range = "full" if fmt.startswith("yuvj") or int(cc.color_range or 0) == 2 else "limited"
    out = {"color_range": color_range, "video_profile": _profile(vs), "field_order": _FIELD_ORDER.get(int(cc.field_order or 0)), "bit_depth": bits,
           "color_primaries": prim, "color_transfer": trc,
           # An unspecified transfer is SDR in practice; only PQ and HLG are HDR.
           "dynamic_range": {"smpte2084": "HDR10", "arib-std-b67": "HLG"}.get(trc, "SDR")}
    pts = []
    tb = vs.time_base  # the demuxer's packets carry their stream's; one Fraction, not one per packet
    try:
        for packet in container.demux(vs):
            if packet.pts is not None and tb is not None:
                pts.append(packet.pts * tb.numerator / tb.denominator)  # as float(pts * tb): one rounding
            if len(pts) >= VFR_PACKETS:
                break
    except av.error.FFmpegError:
        pass  # damage is the decoder's to report; the rate stays unknown
    vfr, lo, hi = frame_rate_range(pts)
    if lo is not None:
        out.update(vfr=vfr, fps_min=lo, fps_max=hi)
    return out


def plan_windows(info: ItemInfo, window_s: float) -> list[tuple[float, float]]:
    """Cut ``[0, duration)`` into windows of ``window_s``; the last one may be shorter."""
    n = max(1, math.ceil(info.duration_s / window_s - 1e-9))
    return [(i * window_s, min((i + 1) * window_s, info.duration_s)) for i in range(n)]


def local_path(uri: str) -> str | None:
    parsed = urlparse(uri)
    if parsed.scheme == "file":
        return parsed.path
    if len(parsed.scheme) <= 1:
        return os.fspath(uri)
    return None
