"""Real encoded test media with defects at known times (H.264/AAC MP4 written with PyAV).

Used by the demo catalogue, the tests and the benchmarks. Content is procedural and never
static (moving gradients, a moving box, a tone over noise), so a clean clip has no black,
frozen or silent stretch unless one is asked for.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import av
import numpy as np

Span = tuple[float, float]


@dataclass
class ClipSpec:
    duration_s: float = 10.0
    fps: int = 25
    width: int = 320
    height: int = 180
    sample_rate: int = 48000
    video: bool = True
    audio: bool = True
    black: list[Span] = field(default_factory=list)
    freeze: list[Span] = field(default_factory=list)
    silence: list[Span] = field(default_factory=list)
    audio_duration_s: float | None = None  # differs from duration_s for a duration mismatch
    gop: int = 50
    seed: int = 0
    faststart: bool = False  # index (moov) at the front: a truncated file still opens


def _in(t: float, spans: list[Span]) -> bool:
    return any(a <= t < b for a, b in spans)


def video_frame(i: int, fps: int, width: int, height: int, rng_offset: int = 0) -> np.ndarray:
    """A moving, textured RGB frame: every frame differs from the one before."""
    x = np.arange(width, dtype=np.int32)[None, :]
    y = np.arange(height, dtype=np.int32)[:, None]
    img = np.empty((height, width, 3), np.uint8)
    img[..., 0] = (x * 2 + i * 5 + rng_offset) % 256
    img[..., 1] = (y * 3 + i * 3) % 256
    img[..., 2] = ((x + y + i * 7) // 4) % 256
    bx = (i * 6) % max(1, width - width // 6)
    by = height // 3
    img[by : by + height // 4, bx : bx + width // 6] = 255
    return img


# Brings the programme audio (about -14 LUFS before 0.5) to -23 LUFS.
PROGRAMME_GAIN = 0.358


def audio_signal(n: int, sample_rate: int, seed: int) -> np.ndarray:
    """Stereo programme audio: two tones with a slow tremolo over a noise bed, peaks about -17 dBFS
    and about -23 LUFS integrated (EBU R128's target, so clean media passes loudness QC)."""
    t = np.arange(n) / sample_rate
    rng = np.random.default_rng(seed)
    tone = 0.25 * np.sin(2 * np.pi * 220 * t) + 0.12 * np.sin(2 * np.pi * 660 * t + 1.0)
    tone *= 0.75 + 0.25 * np.sin(2 * np.pi * 0.5 * t)
    noise = 0.02 * rng.standard_normal(n)
    mono = (PROGRAMME_GAIN * (tone + noise)).astype(np.float32)
    return np.stack([mono, np.roll(mono, 7)])


def _clip_frames(spec: ClipSpec):
    frozen = None
    for i in range(int(round(spec.duration_s * spec.fps))):
        t = i / spec.fps
        if _in(t, spec.black):
            yield np.zeros((spec.height, spec.width, 3), np.uint8)
        elif _in(t, spec.freeze):
            if frozen is None:
                frozen = video_frame(i, spec.fps, spec.width, spec.height, spec.seed)
            yield frozen
        else:
            frozen = None
            yield video_frame(i, spec.fps, spec.width, spec.height, spec.seed)


def write_clip(path: str | Path, spec: ClipSpec) -> Path:
    """Encode ``spec`` to an MP4 at ``path``."""
    audio = None
    if spec.audio:
        dur = spec.audio_duration_s if spec.audio_duration_s is not None else spec.duration_s
        audio = audio_signal(int(round(dur * spec.sample_rate)), spec.sample_rate, spec.seed)
        for a, b in spec.silence:
            audio[:, int(a * spec.sample_rate) : int(b * spec.sample_rate)] = 0.0
    return encode(path, _clip_frames(spec) if spec.video else None, spec.fps, spec.width, spec.height,
                  audio, spec.sample_rate, gop=spec.gop, faststart=spec.faststart)


AUDIO_LAYOUTS = {1: "mono", 2: "stereo", 6: "5.1", 8: "7.1"}


def encode(path: str | Path, frames, fps: float, width: int, height: int, audio: np.ndarray | None = None,
           sample_rate: int = 48000, gop: int = 50, faststart: bool = False, yuv_edit=None) -> Path:
    """Encode RGB frames (any iterable of (h, w, 3) uint8, or None for no video) and float audio
    (channels, n) in [-1, 1] (or None) to an H.264/AAC MP4. Deterministic: one encoder thread.

    ``yuv_edit(i, planar)``, where given, sees frame ``i`` as yuv420p planes (``(3 h / 2, w)``
    uint8, converted as the encoder would) and returns the planes to code instead, or None to
    keep them: how values RGB cannot carry (luma beyond 16..235) get into a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    options = {"movflags": "faststart"} if faststart else {}
    container = av.open(str(path), "w", format="mp4", options=options)
    try:
        vs = aus = None
        if frames is not None:
            vs = container.add_stream("libx264", rate=fps)
            vs.width, vs.height, vs.pix_fmt = width, height, "yuv420p"
            vs.options = {"g": str(gop), "preset": "ultrafast", "crf": "23", "threads": "1"}
        if audio is not None:
            if audio.shape[0] not in AUDIO_LAYOUTS:
                raise ValueError(f"no audio layout for {audio.shape[0]} channels")
            aus = container.add_stream("aac", rate=sample_rate)
            aus.layout = AUDIO_LAYOUTS[audio.shape[0]]
        if vs is not None:
            for i, img in enumerate(frames):
                frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="rgb24")
                if yuv_edit is not None:
                    edited = yuv_edit(i, frame.reformat(format="yuv420p").to_ndarray())
                    if edited is not None:
                        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(edited), format="yuv420p")
                frame.pts = i
                for p in vs.encode(frame):
                    container.mux(p)
            for p in vs.encode():
                container.mux(p)
        if aus is not None:
            layout = AUDIO_LAYOUTS[audio.shape[0]]
            sig = np.clip(audio, -1.0, 1.0).astype(np.float32)
            for k in range(0, sig.shape[1], 1024):
                frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(sig[:, k : k + 1024]), format="fltp", layout=layout)
                frame.sample_rate = sample_rate
                frame.pts = k
                for p in aus.encode(frame):
                    container.mux(p)
            for p in aus.encode():
                container.mux(p)
    finally:
        container.close()
    return path


def corrupt_video_packets(src: str | Path, dst: str | Path, start_s: float, end_s: float,
                          flips_per_packet: int = 8, seed: int = 1) -> list[float]:
    """Copy ``src`` to ``dst`` with bytes flipped inside the non-key video packets of ``[start_s, end_s)``.

    The container stays intact, so a player decodes on with error concealment; returns the
    presentation times of the packets that were damaged.
    """
    data = bytearray(Path(src).read_bytes())
    rng = np.random.default_rng(seed)
    damaged = []
    with av.open(str(src)) as c:
        for p in c.demux(c.streams.video[0]):
            if p.pts is None or p.size <= 16 or p.pos is None or p.pos < 0:
                continue
            t = float(p.pts * p.time_base)
            if start_s <= t < end_s and not p.is_keyframe:
                for _ in range(flips_per_packet):
                    data[p.pos + 8 + int(rng.integers(0, p.size - 8))] ^= 0xFF
                damaged.append(t)
    Path(dst).write_bytes(bytes(data))
    return sorted(damaged)


def concat_copies(parts: list[str | Path], dst: str | Path) -> Path:
    """Join encoded clips end to end without re-encoding (packets copied, timestamps shifted).

    The parts must come from the same encoder settings (``write_clip`` with the same size, rate and
    sample rate), as ``ClipSpec``s that differ only in content do. A 2-hour item made of one encoded
    minute repeated takes seconds instead of minutes to write.
    """
    from fractions import Fraction

    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    first = av.open(str(parts[0]))
    out = av.open(str(dst), "w", format="mp4")
    try:
        streams = [out.add_stream_from_template(s) for s in first.streams if s.type in ("video", "audio")]
        first.close()
        offset = Fraction(0)  # seconds where the next part starts
        last_dts: dict[int, Fraction] = {}
        for part in parts:
            with av.open(str(part)) as src:
                ins = [s for s in src.streams if s.type in ("video", "audio")]
                if [s.type for s in ins] != [s.type for s in streams]:
                    raise ValueError(f"{part}: streams {[s.type for s in ins]} differ from the first part's")
                for packet in src.demux(*ins):
                    if packet.dts is None:
                        continue
                    k = ins.index(packet.stream)
                    tb = packet.time_base
                    shift = int(round(offset / tb))
                    pts = packet.pts if packet.pts is not None else packet.dts
                    dts = packet.dts + shift
                    if k in last_dts and dts * tb <= last_dts[k]:  # AAC priming overlaps the seam
                        dts = int(last_dts[k] / tb) + 1
                    packet.pts, packet.dts = max(pts + shift, dts), dts
                    last_dts[k] = dts * tb
                    packet.stream = streams[k]
                    out.mux(packet)
                offset += Fraction(src.duration, av.time_base)
    finally:
        out.close()
    return dst
