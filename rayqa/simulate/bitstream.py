"""Block corruption the way it happens in the field: a damaged H.264 bitstream, decoded.

A transmission or storage error hits the compressed P frames, not the pixels. The decoder meets
bad slice data, conceals what it cannot decode, and every later frame that predicts from the
concealed one carries the damage on, smeared and displaced by motion, until the next keyframe
resets the references. Painting blocks onto pixels reproduces none of that, so this injector
damages the packets of a real MP4 and lets FFmpeg (through PyAV) decode the result.

The labels come from the decode, not from the damage: the corrupt file is decoded in lockstep
with the clean one and compared block by block (macroblock-sized by default). A frame counts as
corrupted where some block differs by more than ``threshold`` (mean absolute difference, 0..255).
Decoding is bit-exact, so clean against clean differs nowhere. Concealment is not the same with
every decoder setting (FFmpeg conceals differently with slice threading on), so both files are
decoded single-threaded, as :mod:`rayqa.media` decodes them for a scan.

Three ways to damage a packet (``mode``), all on the non-key video packets of ``[start_s, end_s)``:

* ``"flip"``: XOR random bytes of the slice data with random non-zero values. Both detected
  errors (concealed, ``frame.is_corrupt``) and undetected ones (wrong blocks decoded as valid).
* ``"zero"``: zero one run of bytes of the slice data. FFmpeg reads ``00 00 00`` inside a NAL
  unit as its end, so the slice is cut short there, like a packet whose tail was lost.
* ``"drop"``: remove whole packets, by re-muxing every other packet (audio included, unchanged)
  into a new MP4 with PyAV. The decoder sees a frame-number gap, conceals it, and may withhold a
  few frames after it; the file is otherwise the same media, rewritten by the muxer.

``flip`` and ``zero`` edit the bytes in place, so the container is untouched and byte-identical
outside the damaged slices. Slice headers are never touched (see :data:`SLICE_HEADER_SKIP`):
a broken header makes the decoder drop the whole slice, which ``drop`` already covers.
Only H.264 in MP4/MOV (length-prefixed NAL units) is supported.
"""

from __future__ import annotations

import math
import os
from fractions import Fraction
from pathlib import Path
from typing import Iterator

import av
import numpy as np

from rayqa.simulate.labels import Label, SimulationError, check_span

MODES = ("flip", "zero", "drop")
DEFECT = "block_corruption"
# Bytes left alone at the start of each slice NAL unit, after its length prefix: the NAL header
# and the first bytes of the slice header (slice type, PPS id, frame number, ...).
SLICE_HEADER_SKIP = 8
# Block score (max over Y, U, V of the mean absolute difference, 0..255) above which a block is
# corrupted. Re-decoding is bit-exact (0); concealment drift below this is invisible.
DEFAULT_THRESHOLD = 3.0
DEFAULT_INTENSITY = 0.02
_SLICE_NAL_TYPES = (1, 5)  # coded slice of a non-IDR / IDR picture


# ---------------------------------------------------------------------------------------------
# Damage


def corrupt_bitstream(src: str | Path, dst: str | Path, start_s: float, end_s: float,
                      rng: np.random.Generator | int | None, mode: str = "flip",
                      intensity: float = DEFAULT_INTENSITY) -> list[float]:
    """Copy ``src`` to ``dst`` with the non-key video packets whose pts is in ``[start_s, end_s)`` damaged.

    ``intensity`` in (0, 1]: for ``flip`` the share of each packet's slice-data bytes XORed, for
    ``zero`` the length of the zeroed run as a share of the slice data (at least one byte either
    way), for ``drop`` the share of the span's packets dropped (at least one), chosen by ``rng``.
    One bad byte usually ruins the rest of its slice, so the area hit depends more on where the
    damage lands than on how much there is. ``rng``: a Generator or a seed (None: not reproducible).
    Returns the presentation times (s) of the damaged packets, ascending.
    """
    if mode not in MODES:
        raise SimulationError(f"block corruption: mode must be one of {MODES}, got {mode!r}")
    if not (isinstance(intensity, (int, float)) and 0 < intensity <= 1):
        raise SimulationError(f"block corruption: intensity must be in (0, 1], got {intensity!r}")
    rng = np.random.default_rng(rng)
    src, dst = Path(src), Path(dst)
    candidates = _span_packets(src, start_s, end_s)  # (time, pos, size, stream-relative index)

    if mode == "drop":
        k = max(1, int(round(intensity * len(candidates))))
        chosen = sorted(rng.choice(len(candidates), size=k, replace=False).tolist())
        dropped = {candidates[i][3] for i in chosen}
        _remux_without(src, dst, dropped)
        return sorted(candidates[i][0] for i in chosen)

    data = bytearray(src.read_bytes())
    buf = np.frombuffer(data, dtype=np.uint8)  # a writable view: edits land in ``data``
    nal_len_size = _nal_length_size(src)
    damaged = []
    for t, pos, size, _ in candidates:
        idx = _slice_data_positions(data, pos, size, nal_len_size)
        if idx.size == 0:
            continue  # slices too short to damage without touching their headers
        n = max(1, int(round(intensity * idx.size)))
        if mode == "flip":
            at = idx[rng.choice(idx.size, size=n, replace=False)]
            buf[at] ^= rng.integers(1, 256, size=n, dtype=np.uint8)
        else:  # zero
            first = int(rng.integers(0, idx.size - n + 1))
            buf[idx[first : first + n]] = 0
        damaged.append(t)
    if not damaged:
        raise SimulationError(f"block corruption: no slice in {start_s}..{end_s} s is long enough to damage")
    _write_atomic(dst, data)
    return sorted(damaged)


def _span_packets(src: Path, start_s: float, end_s: float) -> list[tuple[float, int, int, int]]:
    """Validate the file and the span; the non-key video packets of ``[start_s, end_s)``."""
    if not src.is_file():
        raise SimulationError(f"block corruption: no such file: {src}")
    container, vs = _open_video(src)
    with container:
        if vs.codec_context.name != "h264" or not _is_avcc(vs.codec_context.extradata):
            raise SimulationError(f"block corruption: needs H.264 in MP4/MOV, {src.name} has "
                                  f"{vs.codec_context.name} ({container.format.name})")
        if vs.duration is not None and vs.time_base is not None:
            duration = float(vs.duration * vs.time_base)
        else:
            duration = (container.duration or 0) / 1e6
        check_span(start_s, end_s, duration, "block corruption")
        out, i = [], -1
        for p in container.demux(vs):
            if p.dts is None:
                continue  # the demuxer's flush packet; numbered as :func:`_remux_without` counts
            i += 1
            if p.pts is None or p.size == 0 or p.pos is None or p.pos < 0 or p.is_keyframe:
                continue
            t = float(p.pts * p.time_base)
            if start_s <= t < end_s:
                out.append((t, int(p.pos), int(p.size), i))
    if not out:
        raise SimulationError(f"block corruption: no non-key video packet in {start_s}..{end_s} s "
                              "(only a keyframe, or nothing, there)")
    return out


def _is_avcc(extradata: bytes | None) -> bool:
    # An avcC record starts with version 1; Annex B extradata starts with a 00 00 (00) 01 start code.
    return bool(extradata) and extradata[0] == 1


def _nal_length_size(src: Path) -> int:
    with av.open(str(src), metadata_errors="ignore") as c:
        return (c.streams.video[0].codec_context.extradata[4] & 0x03) + 1


def _slice_data_positions(data: bytearray, pos: int, size: int, nal_len_size: int) -> np.ndarray:
    """File offsets of the slice data in one packet: its slice NAL units, less length and header."""
    spans, off, end = [], pos, pos + size
    while off + nal_len_size < end:
        n = int.from_bytes(data[off : off + nal_len_size], "big")
        start = off + nal_len_size
        stop = min(start + n, end)
        if (data[start] & 0x1F) in _SLICE_NAL_TYPES and stop > start + SLICE_HEADER_SKIP:
            spans.append(np.arange(start + SLICE_HEADER_SKIP, stop))
        off = start + n
    return np.concatenate(spans) if spans else np.zeros(0, np.intp)


def _remux_without(src: Path, dst: Path, dropped: set[int]) -> None:
    """Re-mux the video and audio packets of ``src`` into ``dst``, less the video packets numbered
    ``dropped`` (other streams, subtitles or data, are not carried over)."""
    tmp = dst.with_name(dst.name + ".part")
    with av.open(str(src), metadata_errors="ignore") as inp:
        vs = inp.streams.video[0]
        with av.open(str(tmp), "w", format="mp4") as out:
            streams = {s.index: out.add_stream_from_template(s) for s in inp.streams if s.type in ("video", "audio")}
            n_video = 0
            for p in inp.demux(*[inp.streams[i] for i in streams]):
                if p.dts is None:
                    continue  # the demuxer's flush packets
                if p.stream.index == vs.index:
                    n_video += 1
                    if n_video - 1 in dropped:
                        continue
                p.stream = streams[p.stream.index]
                out.mux(p)
    os.replace(tmp, dst)


def _write_atomic(dst: Path, data: bytes) -> None:
    # Through a temporary name, so src == dst works and a failure leaves no half-written file.
    tmp = dst.with_name(dst.name + ".part")
    tmp.write_bytes(bytes(data))
    os.replace(tmp, dst)


# ---------------------------------------------------------------------------------------------
# Measurement


def block_masks(clean_path: str | Path, corrupt_path: str | Path, block: int = 16,
                threshold: float = DEFAULT_THRESHOLD) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Compare the decodes of two files frame by frame: which blocks of each frame differ.

    The clean decode sets the timeline. A clean frame is compared with the corrupt frame of the
    same pts; where the corrupt decode has none (the packet was dropped, refused, or the decoder
    withheld the frame), with the last corrupt frame before it, which is what a player keeps on
    screen; before any corrupt frame at all, the frame counts as fully corrupted. Blocks at the
    right and bottom edges may be partial: the grid is ceil(H / block) x ceil(W / block).

    Returns ``(times_s, masks, ratios)``: frame times (n,), bool masks (n, rows, cols) and the
    corrupted area ratio per frame, ``masks.mean(axis=(1, 2))``. Only the masks are kept.
    """
    if not (isinstance(block, int) and block >= 2 and block % 2 == 0):
        raise SimulationError(f"block corruption: block must be an even integer >= 2, got {block!r}")
    if not (np.isfinite(threshold) and threshold >= 0):
        raise SimulationError(f"block corruption: threshold must be >= 0, got {threshold!r}")
    times, masks = [], []
    corrupt = _decoded(Path(corrupt_path))
    pending = next(corrupt, None)
    held: tuple[Fraction, list[np.ndarray]] | None = None
    for t, clean_frame in _decoded(Path(clean_path)):
        while pending is not None and pending[0] <= t:
            held = (pending[0], _planes(pending[1]))
            pending = next(corrupt, None)
        ref = _planes(clean_frame)
        if held is None:
            mask = np.ones(_grid(ref[0].shape, block), bool)
        else:
            if held[1][0].shape != ref[0].shape:
                raise SimulationError(f"block corruption: frame sizes differ at {float(t):.3f} s: "
                                      f"{ref[0].shape} clean, {held[1][0].shape} corrupt")
            mask = _block_scores(ref, held[1], block) > threshold
        times.append(float(t))
        masks.append(mask)
    corrupt.close()
    if not masks:
        raise SimulationError(f"block corruption: no video frame decoded from {clean_path}")
    masks_arr = np.stack(masks)
    return np.asarray(times), masks_arr, masks_arr.mean(axis=(1, 2))


def _open_video(path: Path):
    """The open container and its first video stream, or a SimulationError saying why not."""
    try:
        container = av.open(str(path), metadata_errors="ignore")
    except av.error.FFmpegError as e:
        raise SimulationError(f"block corruption: cannot open {path} as media: {e}") from e
    if not container.streams.video:
        container.close()
        raise SimulationError(f"block corruption: {path.name} has no video stream")
    return container, container.streams.video[0]


def _decoded(path: Path) -> Iterator[tuple[Fraction, av.VideoFrame]]:
    """(time, frame) for every frame the decoder outputs, decoding on through any damage."""
    container, vs = _open_video(path)
    with container:
        vs.thread_count = 1  # as rayqa.media decodes: FFmpeg conceals differently with threads
        try:
            for packet in container.demux(vs):
                try:
                    frames = packet.decode()
                except av.error.FFmpegError:
                    continue  # the decoder refused this packet: its frame is missing, held over
                for frame in frames:
                    if frame.pts is not None:
                        yield Fraction(frame.pts) * frame.time_base, frame
        except av.error.FFmpegError:
            return  # the demuxer gave up: every later frame is missing


def _planes(frame: av.VideoFrame) -> list[np.ndarray]:
    """Y, U, V of a frame as 4:2:0 int16 arrays (frames in another format are converted)."""
    if frame.format.name != "yuv420p":
        frame = frame.reformat(format="yuv420p")
    out = []
    for plane in frame.planes:
        arr = np.frombuffer(plane, np.uint8).reshape(-1, plane.line_size)
        out.append(arr[: plane.height, : plane.width].astype(np.int16))
    return out


def _grid(shape: tuple[int, int], block: int) -> tuple[int, int]:
    return math.ceil(shape[0] / block), math.ceil(shape[1] / block)


def _block_scores(a: list[np.ndarray], b: list[np.ndarray], block: int) -> np.ndarray:
    """Per block, the largest of the Y, U and V mean absolute differences (chroma blocks are
    half size in 4:2:0, so each covers the same picture area as its luma block)."""
    scores = None
    for pa, pb, size in zip(a, b, (block, block // 2, block // 2)):
        d = np.abs(pa - pb).astype(np.int32)
        rows, cols = np.arange(0, d.shape[0], size), np.arange(0, d.shape[1], size)
        sums = np.add.reduceat(np.add.reduceat(d, rows, axis=0), cols, axis=1)
        counts = np.outer(np.diff(np.append(rows, d.shape[0])), np.diff(np.append(cols, d.shape[1])))
        mad = sums / counts
        scores = mad if scores is None else np.maximum(scores, mad)
    return scores


# ---------------------------------------------------------------------------------------------
# Labels


def block_labels(times_s: np.ndarray, masks: np.ndarray, fps: float, **details) -> list[Label]:
    """One ``block_corruption`` label per run of consecutive frames with a corrupted block."""
    ratios = masks.mean(axis=(1, 2))
    bad = np.flatnonzero(ratios > 0)
    labels = []
    for run in np.split(bad, np.flatnonzero(np.diff(bad) > 1) + 1) if bad.size else []:
        peak = int(run[np.argmax(ratios[run])])
        labels.append(Label(DEFECT, float(times_s[run[0]]), float(times_s[run[-1]] + 1.0 / fps), {
            **details,
            "peak_corrupted_area_ratio": float(ratios[peak]),
            "frame_index": peak,
            "frame_indices": [int(i) for i in run],
            "corrupted_area_ratio": [float(ratios[i]) for i in run],
        }))
    return labels


def inject_block_corruption(src: str | Path, dst: str | Path, start_s: float, end_s: float,
                            rng: np.random.Generator | int | None, mode: str = "flip",
                            intensity: float = DEFAULT_INTENSITY, block: int = 16,
                            threshold: float = DEFAULT_THRESHOLD) -> tuple[list[Label], np.ndarray, np.ndarray]:
    """Damage ``src`` into ``dst`` (see :func:`corrupt_bitstream`) and label what the decode shows.

    Corruption usually outlives ``[start_s, end_s)`` up to the next keyframe, and the labels say
    so. Returns ``(labels, masks, times_s)`` with the masks of every frame of the clean decode.
    """
    damaged = corrupt_bitstream(src, dst, start_s, end_s, rng, mode=mode, intensity=intensity)
    times, masks, _ = block_masks(src, dst, block=block, threshold=threshold)
    with av.open(str(src), metadata_errors="ignore") as c:
        vs = c.streams.video[0]
        rate = vs.average_rate or vs.guessed_rate or vs.base_rate
    fps = float(rate) if rate else 1.0 / float(np.median(np.diff(times)))
    labels = block_labels(times, masks, fps, mode=mode, intensity=float(intensity),
                          packets_damaged=len(damaged), block_size=block, threshold=float(threshold))
    return labels, masks, times


# ---------------------------------------------------------------------------------------------
# Captures and scores


def block_score_maps(clean_path: str | Path, corrupt_path: str | Path, block: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """Like :func:`block_masks`, but the block scores themselves (max over Y, U, V of the mean
    absolute difference, 0..255; 255 where no corrupt frame exists yet): ``(times_s, scores)``
    with scores (n, rows, cols) float32. ``scores > threshold`` is :func:`block_masks`' mask."""
    if not (isinstance(block, int) and block >= 2 and block % 2 == 0):
        raise SimulationError(f"block corruption: block must be an even integer >= 2, got {block!r}")
    times, scores = [], []
    for t, ref, held in _aligned(Path(clean_path), Path(corrupt_path)):
        if held is None:
            s = np.full(_grid(ref[0].shape, block), 255.0)
        else:
            s = _block_scores(ref, held, block)
        times.append(t)
        scores.append(s.astype(np.float32))
    if not scores:
        raise SimulationError(f"block corruption: no video frame decoded from {clean_path}")
    return np.asarray(times), np.stack(scores)


def _aligned(clean: Path, corrupt: Path) -> Iterator[tuple[float, list[np.ndarray], list[np.ndarray] | None]]:
    """(time, clean planes, what a player shows of the corrupt decode at that time, or None)
    along the clean decode's timeline, as :func:`block_masks` pairs them."""
    frames = _decoded(corrupt)
    pending = next(frames, None)
    held = None
    try:
        for t, clean_frame in _decoded(clean):
            while pending is not None and pending[0] <= t:
                held = _planes(pending[1])
                pending = next(frames, None)
            ref = _planes(clean_frame)
            if held is not None and held[0].shape != ref[0].shape:
                raise SimulationError(f"block corruption: frame sizes differ at {float(t):.3f} s: "
                                      f"{ref[0].shape} clean, {held[0].shape} corrupt")
            yield float(t), ref, held
    finally:
        frames.close()


def encode_yuv(path: str | Path, planes: Iterator[list[np.ndarray]], fps: float, crf: float = 23,
               gop: int = 50, preset: str = "ultrafast") -> Path:
    """Encode 4:2:0 frames (lists of Y, U, V uint8 planes) to an H.264 MP4, one encoder thread."""
    path = Path(path)
    tmp = path.with_name(path.name + ".part.mp4")
    with av.open(str(tmp), "w", format="mp4") as out:
        vs = None
        for i, (y, u, v) in enumerate(planes):
            if vs is None:
                vs = out.add_stream("libx264", rate=Fraction(fps).limit_denominator(1001))
                vs.width, vs.height, vs.pix_fmt = y.shape[1], y.shape[0], "yuv420p"
                vs.options = {"g": str(gop), "preset": preset, "crf": f"{crf:g}", "threads": "1"}
            frame = av.VideoFrame(y.shape[1], y.shape[0], "yuv420p")
            for plane, arr in zip(frame.planes, (y, u, v)):
                buf = np.frombuffer(plane, np.uint8).reshape(-1, plane.line_size)
                buf[: arr.shape[0], : arr.shape[1]] = arr
            frame.pts = i
            for p in vs.encode(frame):
                out.mux(p)
        if vs is None:
            raise SimulationError(f"block corruption: no frame to encode into {path}")
        for p in vs.encode():
            out.mux(p)
    os.replace(tmp, path)
    return path


def capture(clean_path: str | Path, corrupt_path: str | Path, dst: str | Path, crf: float = 20,
            gop: int = 50, preset: str = "ultrafast") -> Path:
    """A *capture* of a corrupt file: what a player shows of its decode (the frame of each clean
    timestamp, held over where the decoder withheld or refused one, as :func:`block_masks` pairs
    them) re-encoded cleanly to ``dst`` at ``crf``. The damage is baked into the picture; the new
    bitstream is intact, so no decoder reports anything. Frames before the first corrupt one are
    the clean ones (a capture device shows the last good picture). The masks of
    :func:`block_masks` (clean, corrupt) are the capture's masks: same frames, same times."""
    with av.open(str(clean_path), metadata_errors="ignore") as c:
        vs = c.streams.video[0]
        rate = vs.average_rate or vs.guessed_rate or vs.base_rate or 25

    def shown():
        for _, ref, held in _aligned(Path(clean_path), Path(corrupt_path)):
            yield [np.clip(p, 0, 255).astype(np.uint8) for p in (held if held is not None else ref)]

    return encode_yuv(dst, shown(), float(rate), crf=crf, gop=gop, preset=preset)
