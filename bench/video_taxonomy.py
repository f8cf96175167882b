"""Cost and simulated detection figures of the video-taxonomy detectors.

    PYTHONPATH=. flock /tmp/rayqa-cpu.lock python bench/video_taxonomy.py [--items 12] [--sizes 320x180,1280x720]

Cost: a 60-s 25 fps H.264 clip of panning scenes with cuts is decoded (PyAV, one thread) once
with the specs black_frames and video_freeze ask for, once with these detectors' specs added,
and once more so with the RGB specs made from the YUV planes without swscale (the decode change
proposed for rayqa.media, patched in here only); then each detector's detect + merge is timed
over the decoded windows (those of the last decode). Figures are
milliseconds per second of content.

Simulated recall and false alarms: on synthetic decoded windows (no encoding) of 30-s items
(other seeds than the tests'), one defect per item at a random time; a hit is an event of the
right type within 0.2 s at both ends (0.25 s for blur's 5 fps sampling); false alarms are
events on the clean items, per hour of content.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from rayqa import media  # noqa: E402
from rayqa.detectors import REGISTRY  # noqa: E402
from rayqa.simulate import video as sv  # noqa: E402
from rayqa.synth import encode  # noqa: E402
from rayqa.types import ItemInfo  # noqa: E402
from video_taxonomy_media import scene_frames, windows  # noqa: E402

NEW = ("solid_color_frames", "letterbox_change", "blur", "flash_pse", "frame_stutter")
OLD = ("black_frames", "video_freeze")
FPS = 25


def rgb_from_planes(frame, width: int, height: int):
    """The decode change proposed for rayqa.media.frame_to_spec's RGB path: sample Y, U and V
    nearest-neighbour (as the gray path samples Y) and convert only those pixels (BT.601 or
    BT.709 matrix, limited or full range), instead of swscale converting the whole picture.
    None for formats it does not handle (swscale stays the fallback)."""
    name = frame.format.name
    if name not in ("yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p"):
        return None
    planes = [np.frombuffer(p, np.uint8).reshape(-1, p.line_size) for p in frame.planes[:3]]
    y = media.scale_nearest(planes[0][: frame.height, : frame.width], width, height).astype(np.float32)
    ch = frame.height // (2 if name.endswith("420p") else 1)
    cw = frame.width // (1 if name.endswith("444p") else 2)
    u = media.scale_nearest(planes[1][:ch, :cw], width, height).astype(np.float32) - 128.0
    v = media.scale_nearest(planes[2][:ch, :cw], width, height).astype(np.float32) - 128.0
    full = name.startswith("yuvj") or frame.color_range == 2
    if not full:
        y, u, v = (y - 16.0) * (255 / 219), u * (255 / 224), v * (255 / 224)
    kr, kb = (0.2126, 0.0722) if frame.colorspace == 1 else (0.299, 0.114)  # 1 = BT.709
    r = y + 2 * (1 - kr) * v
    b = y + 2 * (1 - kb) * u
    g = (y - kr * r - kb * b) / (1 - kr - kb)
    return np.clip(np.rint(np.stack([r, g, b], axis=-1)), 0, 255).astype(np.uint8)


def _patched_frame_to_spec(frame, spec):
    if not spec.gray:
        out = rgb_from_planes(frame, spec.width, spec.height)
        if out is not None:
            return out
    return _ORIGINAL_FRAME_TO_SPEC(frame, spec)


_ORIGINAL_FRAME_TO_SPEC = media.frame_to_spec


def cost(width: int, height: int) -> dict:
    frames = scene_frames(60, FPS, width=width, height=height, seed=99)
    with tempfile.TemporaryDirectory() as d:
        path = str(encode(Path(d) / "c.mp4", frames, FPS, width, height))
        info = media.probe(path)
        spans = media.plan_windows(info, 8.0)
        old_specs = sorted({REGISTRY[n].video for n in OLD}, key=lambda s: s.key)
        all_specs = sorted({REGISTRY[n].video for n in OLD + NEW}, key=lambda s: s.key)
        out = {}
        for label, specs, patched in (("decode_existing_specs", old_specs, False),
                                      ("decode_with_new_specs", all_specs, False),
                                      ("decode_new_specs_rgb_from_planes", all_specs, True)):
            media.frame_to_spec = _patched_frame_to_spec if patched else _ORIGINAL_FRAME_TO_SPEC
            try:
                t = time.perf_counter()
                ws = media.decode_windows(path, info, spans, specs, [])
                out[label] = (time.perf_counter() - t) / 60 * 1000
            finally:
                media.frame_to_spec = _ORIGINAL_FRAME_TO_SPEC
        for name in NEW + OLD:
            det = REGISTRY[name]()
            t = time.perf_counter()
            det.merge([h for w in ws for h in det.detect(w, info)])
            out[name] = (time.perf_counter() - t) / 60 * 1000
    return out


def _flashing(frames, a, b, period, bright, dark):
    out = frames.copy()
    for i in range(a, b):
        out[i] = bright if (i - a) % period < period // 2 else dark
    return out


def inject(name: str, frames: np.ndarray, rng: np.random.Generator):
    """(frames, start, end) with one defect of ``name`` at a random time."""
    dur = float(rng.uniform(2.0, 4.0))
    start = float(np.round(rng.uniform(2.0, 30 - dur - 2.0) * FPS) / FPS)
    end = start + dur
    a, b = int(round(start * FPS)), int(round(end * FPS))
    if name == "solid_color_frames":
        colour = tuple(int(c) for c in rng.integers(40, 256, 3))
        return sv.solid_color(frames, FPS, start, end, color=colour)[0], start, end
    if name == "letterbox_change":
        out = frames.copy()
        if rng.random() < 0.5:
            r = int(rng.integers(12, 40)); out[a:b, :r] = 0; out[a:b, -r:] = 0
        else:
            c = int(rng.integers(20, 60)); out[a:b, :, :c] = 0; out[a:b, :, -c:] = 0
        return out, start, end
    if name == "blur":
        return sv.blur(frames, FPS, start, end, sigma=float(rng.uniform(1.5, 3.0)))[0], start, end
    if name == "flash_pse":
        period = int(rng.choice([4, 5, 6]))
        if rng.random() < 0.5:
            return _flashing(frames, a, b, period, (255, 255, 255), (0, 0, 0)), start, end
        return _flashing(frames, a, b, period, (255, 0, 0), (30, 0, 0)), start, end
    if name == "frame_stutter":
        return sv.stutter(frames, FPS, start, end, pattern="repeat", every_n=int(rng.choice([2, 3, 4])))[0], start, end
    raise ValueError(name)


def simulated(n_items: int) -> dict:
    info = ItemInfo(duration_s=30.0, has_video=True, has_audio=False, fps=float(FPS), width=320, height=180)
    out = {}
    cleans = [scene_frames(30, FPS, seed=1000 + k) for k in range(n_items)]
    for name in NEW:
        det = REGISTRY[name]()
        tol = 0.25 if name == "blur" else 0.2
        rng = np.random.default_rng(hash(name) % 2**32)
        found = false = 0
        for clean in cleans:
            false += len(det.merge([h for w in windows(clean, FPS, det.video) for h in det.detect(w, info)]))
            bad, start, end = inject(name, clean, rng)
            evs = det.merge([h for w in windows(bad, FPS, det.video) for h in det.detect(w, info)])
            if any(abs(e.start_s - start) <= tol and abs(e.end_s - end) <= tol for e in evs):
                found += 1
        out[name] = {"recall": found / n_items, "false_alarms_per_hour": false / (n_items * 30 / 3600),
                     "items": n_items}
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--items", type=int, default=12)
    ap.add_argument("--sizes", default="320x180,1280x720")
    args = ap.parse_args()
    for size in args.sizes.split(","):
        w, h = (int(x) for x in size.split("x"))
        print(f"cost, 60 s 25 fps {w}x{h}, ms per content-second:")
        for k, v in cost(w, h).items():
            print(f"  {k:24s} {v:7.1f}")
    print(f"simulated, {args.items} items of 30 s per detector:")
    for k, v in simulated(args.items).items():
        print(f"  {k:20s} recall {v['recall']:.2f}  false alarms/h {v['false_alarms_per_hour']:.1f}")


if __name__ == "__main__":
    main()
