"""Frame conversion: pure functions from a decoded frame (or array) to what a detector asked for."""

from __future__ import annotations

import math

import av
import numpy as np

from rayqa.types import VideoSpec


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


_YUV8 = {"yuv420p": (2, 2), "yuvj420p": (2, 2), "yuv422p": (1, 2), "yuvj422p": (1, 2), "yuv444p": (1, 1),
         "yuvj444p": (1, 1)}  # 8-bit planar YUV: chroma subsampling (rows, columns)


def area_mean(plane: np.ndarray, width: int, height: int, k: int = 4) -> np.ndarray:
    """``plane`` scaled to ``width`` x ``height`` by averaging ``k`` x ``k`` nearest samples over
    each output pixel's footprint (close to swscale's area downscale at a tenth of an integral
    image's cost: 0.3 ms for 640x360 → 96x54 here; 2x2 samples were measured to alias enough on
    640x360 content for frame_stutter to see stutter in steady motion): float32."""
    samples = scale_nearest(plane, k * width, k * height).astype(np.float32)
    return samples.reshape(height, k, width, k).mean(axis=(1, 3))


def rgb_from_planes(frame: av.VideoFrame, width: int, height: int) -> np.ndarray | None:
    """RGB at ``width`` x ``height`` from the Y, U and V planes, each averaged over 4x4 samples per
    output pixel first (:func:`area_mean`), then only those pixels converted (BT.709 where the stream says so, else BT.601;
    limited or full range); None for other pixel formats (swscale then converts)."""
    sub = _YUV8.get(frame.format.name)
    if sub is None:
        return None
    planes = [np.frombuffer(p, np.uint8).reshape(-1, p.line_size) for p in frame.planes[:3]]
    ch, cw = -(-frame.height // sub[0]), -(-frame.width // sub[1])
    y = area_mean(planes[0][: frame.height, : frame.width], width, height)
    u = area_mean(planes[1][:ch, :cw], width, height) - 128.0
    v = area_mean(planes[2][:ch, :cw], width, height) - 128.0
    if not (frame.format.name.startswith("yuvj") or frame.color_range == 2):  # limited ("TV") range
        y, u, v = (y - 16.0) * (255 / 219), u * (255 / 224), v * (255 / 224)
    kr, kb = (0.2126, 0.0722) if frame.colorspace == 1 else (0.299, 0.114)  # 1: BT.709
    r = y + 2 * (1 - kr) * v
    b = y + 2 * (1 - kb) * u
    g = (y - kr * r - kb * b) / (1 - kr - kb)
    return np.clip(np.rint(np.stack([r, g, b], axis=-1)), 0, 255).astype(np.uint8)


def yuv_nearest(frame: av.VideoFrame, width: int, height: int) -> np.ndarray:
    """Stacked Y, U, V values as coded (no range conversion), nearest-neighbour sampled to
    ``width`` x ``height``: (height, width, 3) uint8. Other formats go through swscale to
    8-bit 4:4:4 first."""
    if frame.format.name not in _YUV8:
        frame = frame.reformat(format="yuv444p")
    sub = _YUV8[frame.format.name]
    planes = [np.frombuffer(p, np.uint8).reshape(-1, p.line_size) for p in frame.planes[:3]]
    ch, cw = -(-frame.height // sub[0]), -(-frame.width // sub[1])
    return np.stack([scale_nearest(planes[0][: frame.height, : frame.width], width, height),
                     scale_nearest(planes[1][:ch, :cw], width, height),
                     scale_nearest(planes[2][:ch, :cw], width, height)], axis=-1)


def luma_crop(frame: av.VideoFrame, width: int, height: int) -> np.ndarray:
    """The centre ``width`` x ``height`` of the luma plane at its own pixel pitch (smaller where
    the picture is), starting on an even row so the two fields keep their parity."""
    plane = luma_plane(frame)
    y = plane[0] if plane is not None else frame.reformat(format="gray").to_ndarray()
    h, w = y.shape
    ch, cw = min(height, h), min(width, w)
    top = ((h - ch) // 2) & ~1
    left = (w - cw) // 2
    return np.ascontiguousarray(y[top:top + ch, left:left + cw])


def frame_to_spec(frame: av.VideoFrame, spec: VideoSpec) -> np.ndarray:
    if spec.crop:
        return luma_crop(frame, spec.width, spec.height)
    if spec.raw:
        yuv = yuv_nearest(frame, spec.width, spec.height)
        return np.ascontiguousarray(yuv[..., 0]) if spec.gray else yuv
    if not spec.gray and spec.from_planes:
        rgb = rgb_from_planes(frame, spec.width, spec.height)
        if rgb is not None:
            return rgb
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
