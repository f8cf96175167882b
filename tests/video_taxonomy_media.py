"""Clean, moving test pictures for the video-taxonomy tests: scenes of natural-looking (1/f)
texture that pan, with a moving object and hard cuts between scenes of different brightness.
Unlike rayqa.synth's gradients they have natural pictures' spread of detail over scales, which
the blur and flash measures assume; the defects come from rayqa.simulate.video's injectors."""

from __future__ import annotations

import numpy as np

from rayqa.media import scale_nearest
from rayqa.types import VideoFrames, VideoSpec, Window


def texture(rng: np.random.Generator, h: int, w: int, mean: float, std: float) -> np.ndarray:
    """An RGB picture of 1/f noise (natural pictures' spectrum) with a colour tint."""
    fy = np.fft.fftfreq(h)[:, None]
    fx = np.fft.rfftfreq(w)[None, :]
    f = np.sqrt(fx * fx + fy * fy)
    f[0, 0] = 1.0
    spec = (rng.standard_normal((h, w // 2 + 1)) + 1j * rng.standard_normal((h, w // 2 + 1))) / f
    spec[0, 0] = 0
    lum = np.fft.irfft2(spec, s=(h, w))
    lum = (lum - lum.mean()) / (lum.std() + 1e-9)
    tint = rng.uniform(0.8, 1.2, 3)
    img = mean + std * lum[..., None] * tint[None, None, :]
    return np.clip(img, 0, 255).astype(np.uint8)


def scene_frames(duration_s: float, fps: int = 25, width: int = 320, height: int = 180, seed: int = 0,
                 scene_s: tuple[float, float] = (1.5, 3.5), max_speed: int = 3) -> np.ndarray:
    """``(N, height, width, 3)`` uint8: panning scenes of texture cut every 1.5-3.5 s, each with a
    bright object moving across it; scene brightness alternates dark / bright; pans of whole
    pixels per frame up to ``max_speed``."""
    rng = np.random.default_rng(seed)
    n = int(round(duration_s * fps))
    out = np.empty((n, height, width, 3), np.uint8)
    i, k = 0, 0
    while i < n:
        length = int(rng.uniform(*scene_s) * fps)
        mean = rng.uniform(60, 100) if k % 2 else rng.uniform(130, 180)
        # Whole pixels per frame: a sub-pixel pan rounded to the grid would itself judder.
        speeds = [s for s in range(-max_speed, max_speed + 1) if s]
        vx, vy = int(rng.choice(speeds)), int(rng.integers(-1, 2))
        margin = int(max(abs(vx), abs(vy)) * length) + 8
        big = texture(rng, height + 2 * margin, width + 2 * margin, mean, rng.uniform(35, 55))
        bw, bh = width // 8, height // 6
        by = int(rng.uniform(0.2, 0.6) * height)
        for j in range(min(length, n - i)):
            ox, oy = margin + vx * j, margin + vy * j
            img = big[oy:oy + height, ox:ox + width].copy()
            bx = int((j * 4) % max(1, width - bw))
            img[by:by + bh, bx:bx + bw] = np.clip(img[by:by + bh, bx:bx + bw].astype(int) + 70, 0, 255)
            out[i + j] = img
        i += length
        k += 1
    return out


def area_resize(frames: np.ndarray, width: int, height: int) -> np.ndarray:
    """Mean over each output pixel's block of input pixels (about what swscale's filtered
    downscale gives RGB specs)."""
    n, h, w = frames.shape[:3]
    ys = np.linspace(0, h, height + 1).astype(int)
    xs = np.linspace(0, w, width + 1).astype(int)
    f = frames.astype(np.float32)
    rows = np.add.reduceat(f, ys[:-1], axis=1) / np.diff(ys)[None, :, None, None]
    cells = np.add.reduceat(rows, xs[:-1], axis=2) / np.diff(xs)[None, None, :, None]
    return np.clip(np.rint(cells), 0, 255).astype(np.uint8)


def to_spec(frames: np.ndarray, spec: VideoSpec) -> np.ndarray:
    """RGB frames as rayqa.media would give them to a detector: gray specs nearest-neighbour
    sampled from the luma (BT.601), RGB specs through a filtered downscale."""
    if spec.gray:
        small = np.stack([scale_nearest(f, spec.width, spec.height) for f in frames])
        return np.clip(small.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32), 0, 255).astype(np.uint8)
    return area_resize(frames, spec.width, spec.height)


def windows(frames: np.ndarray, fps: float, spec: VideoSpec, window_s: float = 8.0, item_id: str = "x") -> list[Window]:
    """Synthetic decoded windows of ``frames`` (played at ``fps``) sampled as ``spec`` asks."""
    n = len(frames)
    duration = n / fps
    step = max(1, int(round(fps / min(spec.fps, fps))))
    idx = np.arange(0, n, step)
    small = to_spec(frames[idx], spec)
    times = idx / fps
    out = []
    t0 = 0.0
    while t0 < duration - 1e-9:
        t1 = min(t0 + window_s, duration)
        sel = (times >= t0 - 1e-9) & (times < t1 - 1e-9)
        out.append(Window(item_id, t0, t1, video={spec.key: VideoFrames(times[sel], small[sel], idx[sel])}))
        t0 = t1
    return out


def encode_superwhite(path, frames_rgb: np.ndarray, superwhite: tuple[int, int] | None = None, fps: int = 25,
                      crf: int = 18):
    """H.264 (yuv420p, GOP 50) from RGB frames, with the top quarter of frames ``superwhite`` [a, b)
    coded at Y = 250 (super-white: outside the 16..235 broadcast range); returns ``path``."""
    import av

    container = av.open(str(path), "w", format="mp4")
    vs = container.add_stream("libx264", rate=fps)
    h, w = frames_rgb.shape[1:3]
    vs.width, vs.height, vs.pix_fmt = w, h, "yuv420p"
    vs.options = {"g": "50", "preset": "ultrafast", "crf": str(crf), "threads": "1"}
    for i, img in enumerate(frames_rgb):
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="rgb24").reformat(format="yuv420p")
        if superwhite and superwhite[0] <= i < superwhite[1]:
            planar = frame.to_ndarray()
            planar[: h // 4] = 250
            frame = av.VideoFrame.from_ndarray(planar, format="yuv420p")
        frame.pts = i
        for pkt in vs.encode(frame):
            container.mux(pkt)
    for pkt in vs.encode():
        container.mux(pkt)
    container.close()
    return path
