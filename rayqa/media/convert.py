"""Frame conversion: pure functions from a decoded frame (or array) to what a detector asked for."""

from __future__ import annotations

import math

import av
import cv2
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


_LIMITED_TO_FULL = limited_to_full(np.arange(256, dtype=np.uint8))  # the same mapping as a table


def scale_nearest(img: np.ndarray, width: int, height: int) -> np.ndarray:
    """Nearest-neighbour resize, sampling pixel centres: cheap and enough for frame statistics."""
    h, w = img.shape[:2]
    ys = ((np.arange(height) + 0.5) * h / height).astype(np.intp)
    xs = ((np.arange(width) + 0.5) * w / width).astype(np.intp)
    return img[ys][:, xs]


_YUV8 = {"yuv420p": (2, 2), "yuvj420p": (2, 2), "yuv422p": (1, 2), "yuvj422p": (1, 2), "yuv444p": (1, 1),
         "yuvj444p": (1, 1)}  # 8-bit planar YUV: chroma subsampling (rows, columns)


class Scaler:
    """swscale with its context kept between frames. ``VideoFrame.reformat`` builds a new context
    for every frame (2.6 ms for 640x360 → 320x180 RGB here); a kept one gives the same pixels in
    0.28 ms. One thread: parallelism comes from Ray. One per decode: not shared across threads."""

    def __init__(self):
        from av.video.reformatter import VideoReformatter

        self._sws = VideoReformatter()
        self._picks: dict[tuple, np.ndarray] = {}

    def luma(self, frame: av.VideoFrame, width: int, height: int) -> np.ndarray | None:
        """Full-range gray at ``width`` x ``height``: nearest samples of the 8-bit luma plane (the
        pixels ``scale_nearest`` then ``limited_to_full`` give) and a range table; None where the
        luma plane cannot be sampled directly. Where the size divides the plane's, the samples are
        a strided view (no index gather); the table goes through OpenCV's LUT (a third of numpy's
        ``take``, which widens every uint8 index to intp first)."""
        plane = luma_plane(frame)
        if plane is None:
            return None
        y, limited = plane
        h, w = y.shape
        if h % height == 0 and w % width == 0:
            ry, rx = h // height, w // width  # centre of pixel i: (i + 0.5) * r, floored
            small = y[ry // 2::ry, rx // 2::rx]
        else:
            line = frame.planes[0].line_size
            key = (y.shape, line, width, height)
            pick = self._picks.get(key)
            if pick is None:
                ys = ((np.arange(height) + 0.5) * h / height).astype(np.intp)
                xs = ((np.arange(width) + 0.5) * w / width).astype(np.intp)
                pick = self._picks[key] = ys[:, None] * line + xs[None, :]
            small = np.frombuffer(frame.planes[0], np.uint8).take(pick)
        if limited:
            return cv2.LUT(small, _LIMITED_TO_FULL)
        return np.ascontiguousarray(small)

    def rgb(self, frame: av.VideoFrame, width: int, height: int) -> np.ndarray:
        """swscale's default (bilinear) RGB: the pixels ``frame.reformat(width, height, "rgb24")`` gives."""
        return self._sws.reformat(frame, width, height, "rgb24", threads=1).to_ndarray()

    def gray(self, frame: av.VideoFrame, width: int, height: int) -> np.ndarray:
        """swscale's gray: the pixels ``frame.reformat(width, height, "gray")`` gives (formats whose
        luma plane cannot be sampled directly)."""
        return self._sws.reformat(frame, width, height, "gray", threads=1).to_ndarray()

    def rgb_area(self, frame: av.VideoFrame, width: int, height: int) -> np.ndarray:
        """RGB averaged over each output pixel's footprint (swscale's area filter), from the stream's
        own matrix (BT.709 where it says so, else BT.601) and range: 0.14 ms for 640x360 → 96x54."""
        colorspace = "ITU709" if frame.colorspace == 1 else "ITU601"
        full = frame.format.name.startswith("yuvj") or frame.color_range == 2
        return self._sws.reformat(frame, width, height, "rgb24", src_colorspace=colorspace,
                                  interpolation="AREA", src_color_range="JPEG" if full else "MPEG",
                                  dst_color_range="JPEG", threads=1).to_ndarray()


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


def frame_to_spec(frame: av.VideoFrame, spec: VideoSpec, scaler: Scaler | None = None) -> np.ndarray:
    """``frame`` as ``spec`` asks; ``scaler`` keeps swscale's context between calls (made here when
    not given, which is slow for more than a frame)."""
    if spec.crop:
        return luma_crop(frame, spec.width, spec.height)
    if spec.raw:
        yuv = yuv_nearest(frame, spec.width, spec.height)
        return np.ascontiguousarray(yuv[..., 0]) if spec.gray else yuv
    scaler = scaler or Scaler()
    if not spec.gray and spec.from_planes:
        return scaler.rgb_area(frame, spec.width, spec.height)
    if spec.gray:
        small = scaler.luma(frame, spec.width, spec.height)  # scale first: convert few pixels
        return small if small is not None else scaler.gray(frame, spec.width, spec.height)
    return scaler.rgb(frame, spec.width, spec.height)


def sample_times(t0: float, t1: float, fps: float) -> np.ndarray:
    """The instants a detector asked to see in ``[t0, t1)``."""
    n = max(0, math.ceil((t1 - t0) * fps - 1e-9))
    return t0 + np.arange(n) / fps
