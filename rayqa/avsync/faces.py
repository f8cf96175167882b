"""Faces: detection with OpenCV's bundled Haar cascade (ships inside opencv-python-headless, no
download), tracking by IoU linking across frames, and mouth-region / face crops per track."""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

_CASCADES: dict[str, object] = {}
_LOCK = threading.Lock()


def load_cascade(name: str = "haarcascade_frontalface_default.xml"):
    with _LOCK:
        if name not in _CASCADES:
            import cv2

            c = cv2.CascadeClassifier(cv2.data.haarcascades + name)
            if c.empty():
                raise RuntimeError(f"OpenCV's bundled cascade {name} did not load (opencv-python-headless<5 ships it)")
            _CASCADES[name] = c
        return _CASCADES[name]


def detect_faces(gray: np.ndarray, min_size_px: int = 24) -> np.ndarray:
    """Face boxes (x, y, w, h) in one uint8 grey frame."""
    boxes = load_cascade().detectMultiScale(gray, scaleFactor=1.1, minNeighbors=5, minSize=(min_size_px, min_size_px))
    return np.asarray(boxes, dtype=np.float64).reshape(-1, 4)


def iou(a: np.ndarray, b: np.ndarray) -> float:
    ax2, ay2, bx2, by2 = a[0] + a[2], a[1] + a[3], b[0] + b[2], b[1] + b[3]
    iw = max(0.0, min(ax2, bx2) - max(a[0], b[0]))
    ih = max(0.0, min(ay2, by2) - max(a[1], b[1]))
    inter = iw * ih
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


@dataclass
class Track:
    frames: np.ndarray  # frame indices (consecutive, gaps filled)
    boxes: np.ndarray  # (len, 4) x, y, w, h, interpolated over detection gaps


def track_faces(detections: dict[int, np.ndarray], n_frames: int, iou_threshold: float = 0.3,
                max_gap: int = 4, min_frames: int = 10) -> list[Track]:
    """Link per-frame boxes (``{frame_index: boxes}``, frames not sampled are absent) into tracks: a
    box joins the track whose last box overlaps it best (IoU above ``iou_threshold``) if that track
    was seen within ``max_gap`` frames. Gaps are filled by linear interpolation, and each track's
    boxes are smoothed over 5 frames (Haar boxes jitter)."""
    live: list[list[tuple[int, np.ndarray]]] = []
    done: list[list[tuple[int, np.ndarray]]] = []
    for k in sorted(detections):
        for t in [t for t in live if k - t[-1][0] > max_gap]:
            live.remove(t)
            done.append(t)
        for box in detections[k]:
            scores = [iou(t[-1][1], box) if t[-1][0] < k else 0.0 for t in live]
            j = int(np.argmax(scores)) if scores else -1
            if j >= 0 and scores[j] >= iou_threshold:
                live[j].append((k, box))
            else:
                live.append([(k, box)])
    done.extend(live)
    tracks = []
    for t in done:
        ks = np.array([k for k, _ in t])
        if ks[-1] - ks[0] + 1 < min_frames:
            continue
        frames = np.arange(ks[0], ks[-1] + 1)
        bx = np.stack([b for _, b in t])
        boxes = np.stack([np.interp(frames, ks, bx[:, c]) for c in range(4)], axis=1)
        if len(boxes) >= 5:
            kernel = np.ones(5) / 5
            pad = np.pad(boxes, ((2, 2), (0, 0)), mode="edge")
            boxes = np.stack([np.convolve(pad[:, c], kernel, mode="valid") for c in range(4)], axis=1)
        tracks.append(Track(frames[frames < n_frames], boxes[frames < n_frames]))
    return tracks


def find_tracks(frames: np.ndarray, every: int = 2, min_size_px: int = 24, min_frames: int = 10) -> list[Track]:
    """Detect faces in every ``every``-th frame of one shot and link them into tracks."""
    from rayqa.avsync.signal import to_gray

    gray = np.clip(to_gray(frames), 0, 255).astype(np.uint8)
    dets = {k: b for k in range(0, len(gray), max(1, every)) if len(b := detect_faces(gray[k], min_size_px))}
    # Haar misses a small face now and then: a track survives about half a second without a detection.
    return track_faces(dets, len(gray), max_gap=max(6, 4 * max(1, every)), min_frames=min_frames)


def _crop(img: np.ndarray, x0: float, y0: float, x1: float, y1: float, size: tuple[int, int]) -> np.ndarray:
    import cv2

    h, w = img.shape[:2]
    x0, y0 = int(max(0, round(x0))), int(max(0, round(y0)))
    x1, y1 = int(min(w, round(x1))), int(min(h, round(y1)))
    if x1 - x0 < 2 or y1 - y0 < 2:
        return np.zeros((size[1], size[0]) + img.shape[2:], img.dtype)
    return cv2.resize(img[y0:y1, x0:x1], size, interpolation=cv2.INTER_AREA)


def mouth_crops(gray: np.ndarray, track: Track, size: tuple[int, int] = (32, 16)) -> np.ndarray:
    """The mouth region (lower third of the face box, middle 60 % of its width) per track frame."""
    out = []
    for k, (x, y, w, h) in zip(track.frames, track.boxes):
        out.append(_crop(gray[k], x + 0.2 * w, y + 0.65 * h, x + 0.8 * w, y + 0.98 * h, size))
    return np.stack(out).astype(np.float32)


def face_crops(rgb: np.ndarray, track: Track, size: int = 224, scale: float = 0.4) -> np.ndarray:
    """Square face crops padded by ``scale`` of the box (SyncNet's own pipeline crops this way)."""
    out = []
    for k, (x, y, w, h) in zip(track.frames, track.boxes):
        cx, cy, half = x + w / 2, y + h / 2, max(w, h) / 2 * (1 + scale)
        out.append(_crop(rgb[k], cx - half, cy - half, cx + half, cy + half, (size, size)))
    return np.stack(out)
