"""Cost and simulated detection figures of the video-taxonomy detectors.

    PYTHONPATH=. flock /tmp/rayqa-cpu.lock python bench/video_taxonomy.py [--items 12] [--sizes 320x180,1280x720]
        [--tearing-items 40 --tearing-clean-minutes 10] [--ffmpeg-items 8 [--ffmpeg-sources real]] [--json F]

Cost: a 60-s 25 fps H.264 clip of panning scenes with cuts is decoded (PyAV, one thread) once
with the specs black_frames and video_freeze ask for and once with these detectors' specs added
(the 96x54 RGB frames from the YUV planes that solid_color_frames, flash_pse, frame_stutter and
video_tearing share, blur's 5 fps gray); then each detector's detect + merge is timed over the
decoded windows of the second decode. Figures are milliseconds per second of content.

Simulated recall and false alarms: on synthetic decoded windows (no encoding) of 30-s items
(other seeds than the tests'), one defect per item at a random time; a hit is an event of the
right type within 0.2 s at both ends (0.25 s for blur's 5 fps sampling); false alarms are
events on the clean items, per hour of content.

Tearing on real content (``--tearing-items``): real programme pictures (photographs moved by a
camera at every speed, title cards, footage, cuts: rayqa.simulate.real, bench split) at 640x360
through H.264, the simulator's tearing at a random time in each torn item; false alarms on
``--tearing-clean-minutes`` of clean programme.

FFmpeg on the same files (``--ffmpeg-items``): see :func:`ffmpeg_compare`.
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
from video_taxonomy_media import encode_superwhite, scene_frames, windows  # noqa: E402

NEW = ("solid_color_frames", "letterbox_change", "blur", "flash_pse", "frame_stutter", "video_tearing")
OLD = ("black_frames", "video_freeze")
FPS = 25


def cost(width: int, height: int) -> dict:
    frames = scene_frames(60, FPS, width=width, height=height, seed=99)
    with tempfile.TemporaryDirectory() as d:
        path = str(encode(Path(d) / "c.mp4", frames, FPS, width, height))
        info = media.probe(path)
        spans = media.plan_windows(info, 8.0)
        old_specs = sorted({REGISTRY[n].video for n in OLD}, key=lambda s: s.key)
        all_specs = sorted({REGISTRY[n].video for n in OLD + NEW}, key=lambda s: s.key)
        out = {}
        for label, specs in (("decode_existing_specs", old_specs), ("decode_with_new_specs", all_specs)):
            t = time.perf_counter()
            ws = media.decode_windows(path, info, spans, specs, [])
            out[label] = (time.perf_counter() - t) / 60 * 1000
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
    if name == "video_tearing":  # the simulator's recipe: 0.2-1.5 s, split at 0.2-0.8 of the height, 1-3 frames
        end = start + float(np.round(rng.uniform(0.2, 1.5) * FPS) / FPS)
        return sv.tearing(frames, FPS, start, end, split_row_fraction=float(rng.uniform(0.2, 0.8)),
                          offset=int(rng.integers(1, 4)))[0], start, end
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


# -- video_tearing on real content ----------------------------------------------------------------
def _real_frames(seconds: float, rng: np.random.Generator, split: str, width: int = 640, height: int = 360) -> np.ndarray:
    """Clean real programme pictures: photographs moved by a camera at every speed, title cards and
    footage, joined by cuts (rayqa.simulate.real, the ``split``'s files only)."""
    from rayqa.simulate import real

    return np.stack(list(real.render(real.plan_shots(seconds, rng, split), FPS, width, height, rng)))


def _events(det, path: str, info=None) -> list:
    info = info or media.probe(path)
    ws = media.decode_windows(path, info, media.plan_windows(info, 8.0), [det.video], [])
    return det.merge([h for w in ws for h in det.detect(w, info)])


def tearing_real(items: int, clean_minutes: float, split: str = "bench", seed: int = 19) -> dict:
    """Recall of video_tearing on real programme pictures (640x360 25 fps H.264) with the
    simulator's tearing at a random time (0.2-1.5 s, split at 0.2-0.8 of the height, the lower
    part 1-3 frames ahead), and its false alarms on ``clean_minutes`` of clean real programme.
    A tear is *visible* where the torn rows differ from the clean ones by 2 grey levels or more on
    average (a tear over a still shot or a title card changes nothing)."""
    det = REGISTRY["video_tearing"]()
    rng = np.random.default_rng(seed)
    out = {"items": items, "found": 0, "found_visible": 0, "visible": 0, "misses": [], "clean_s": 0.0,
           "clean_false_alarms": [], "edges_within_0.2s": 0}
    with tempfile.TemporaryDirectory() as d:
        for k in range(items):
            frames = _real_frames(12.0, rng, split)
            start = float(np.round(rng.uniform(2.0, 8.5) * FPS) / FPS)
            end = start + float(np.round(rng.uniform(0.2, 1.5) * FPS) / FPS)
            frac, off = float(rng.uniform(0.2, 0.8)), int(rng.integers(1, 4))
            torn, _ = sv.tearing(frames, FPS, start, end, split_row_fraction=frac, offset=off)
            a, b, row = int(round(start * FPS)), int(round(end * FPS)), int(round(frac * frames.shape[1]))
            change = float(np.abs(torn[a:b, row:].astype(np.float32) - frames[a:b, row:]).mean())
            path = str(encode(Path(d) / f"t{k}.mp4", torn, FPS, frames.shape[2], frames.shape[1]))
            evs = _events(det, path)
            hit = any(e.start_s < end and e.end_s > start for e in evs)
            exact = any(abs(e.start_s - start) <= 0.2 and abs(e.end_s - end) <= 0.2 for e in evs)
            visible = change >= 2.0
            out["found"] += hit
            out["edges_within_0.2s"] += exact
            out["visible"] += visible
            out["found_visible"] += hit and visible
            if not hit:
                out["misses"].append({"start_s": start, "end_s": end, "offset": off, "split": round(frac, 2),
                                      "mean_change": round(change, 2)})
        k = 0
        while out["clean_s"] < clean_minutes * 60 - 1e-6:
            frames = _real_frames(20.0, rng, split)
            path = str(encode(Path(d) / f"c{k}.mp4", frames, FPS, frames.shape[2], frames.shape[1]))
            out["clean_false_alarms"] += [{"item": k, "start_s": e.start_s, "end_s": e.end_s, **e.details}
                                          for e in _events(det, path)]
            out["clean_s"] += len(frames) / FPS
            Path(path).unlink()
            k += 1
    out["recall"] = out["found"] / max(1, items)
    out["recall_visible"] = out["found_visible"] / max(1, out["visible"])
    out["false_alarms_per_hour"] = len(out["clean_false_alarms"]) / max(out["clean_s"] / 3600, 1e-9)
    return out


# -- FFmpeg's filters against rayqa's detectors on the same encoded clips ---------------------------
FFMPEG_PAIRS = {"interlacing": "idet", "blur": "blurdetect", "letterbox_change": "cropdetect",
                "video_levels": "signalstats"}


def _encode_yuv(path: Path, frames: np.ndarray, superwhite: tuple[int, int] | None) -> Path:
    """H.264 (as rayqa.synth.encode, crf 23) with the top quarter of frames ``superwhite`` [a, b)
    coded at Y = 250 (super-white: outside the 16..235 broadcast range)."""
    return encode_superwhite(path, frames, superwhite, FPS, crf=23)


def _inject_ffmpeg_set(name: str, frames: np.ndarray, rng: np.random.Generator, seconds: float):
    """(frames, superwhite span or None, start, end) with one defect of ``name`` at a random time."""
    dur = float(rng.uniform(2.0, 4.0))
    start = float(np.round(rng.uniform(2.0, seconds - dur - 2.0) * FPS) / FPS)
    end = start + dur
    a, b = int(round(start * FPS)), int(round(end * FPS))
    if name == "interlacing":
        return sv.interlace(frames, FPS, start, end)[0], None, start, end
    if name == "video_levels":
        return frames, (a, b), start, end
    return _inject_span(name, frames, rng, start, end)


def _inject_span(name: str, frames: np.ndarray, rng: np.random.Generator, start: float, end: float):
    a, b = int(round(start * FPS)), int(round(end * FPS))
    h, w = frames.shape[1:3]
    if name == "blur":
        return sv.blur(frames, FPS, start, end, sigma=float(rng.uniform(1.5, 3.0)) * w / 320)[0], None, start, end
    if name == "letterbox_change":
        out = frames.copy()
        if rng.random() < 0.5:
            r = int(rng.uniform(0.07, 0.22) * h); out[a:b, :r] = 0; out[a:b, -r:] = 0
        else:
            c = int(rng.uniform(0.06, 0.19) * w); out[a:b, :, :c] = 0; out[a:b, :, -c:] = 0
        return out, None, start, end
    raise ValueError(name)


def _ffmpeg_metadata(path: str, vf: str) -> list[tuple[float, dict]]:
    """Per frame (pts_time, {key: value}) from ``-vf <vf>,metadata=mode=print``."""
    import subprocess

    with tempfile.NamedTemporaryFile("r", suffix=".txt") as f:
        subprocess.run(["ffmpeg", "-hide_banner", "-nostats", "-loglevel", "error", "-threads", "1", "-i", path,
                        "-vf", f"{vf},metadata=mode=print:file={f.name}", "-an", "-f", "null", "-"], check=True)
        rows: list[tuple[float, dict]] = []
        for line in f.read().splitlines():
            if line.startswith("frame:"):
                rows.append((float(line.split("pts_time:")[1].split()[0]), {}))
            elif "=" in line and rows:
                k, v = line.split("=", 1)
                rows[-1][1][k.strip()] = v.strip()
    return rows


def _spans(times: np.ndarray, mask: np.ndarray, frame_s: float, merge_gap_s: float, min_duration_s: float):
    from rayqa.detectors.base import runs

    spans: list[list[float]] = []
    for a, b in runs(mask):
        s, e = float(times[a]), float(times[b - 1] + frame_s)
        if spans and s <= spans[-1][1] + merge_gap_s + 1e-6:
            spans[-1][1] = e
        else:
            spans.append([s, e])
    return [(s, e) for s, e in spans if e - s + 1e-6 >= min_duration_s]


def _ffmpeg_events(kind: str, rows: list[tuple[float, dict]], threshold, width: int, height: int):
    """Events from one FFmpeg filter's per-frame values under the same duration rules as rayqa's
    detector (minimum duration, merge gap)."""
    t = np.array([r[0] for r in rows])
    if len(t) == 0:
        return []
    if kind == "idet":  # a frame the filter calls tff / bff (with its history: "multiple")
        mask = np.array([r[1].get("lavfi.idet.multiple.current_frame") in ("tff", "bff") for r in rows])
        return _spans(t, mask, 1 / FPS, 0.3, 1.0)
    if kind == "blurdetect":
        v = np.array([float(r[1].get("lavfi.blur", "nan")) for r in rows])
        if threshold[0] == "relative":  # against the item's own median blur, as rayqa's blur detector does
            v = v / np.nanmedian(v)
        return _spans(t, v >= threshold[1], 1 / FPS, 0.4, 1.0)
    if kind == "cropdetect":
        box = np.array([[float(r[1].get(f"lavfi.cropdetect.{k}", "nan")) for k in ("x", "y", "w", "h")] for r in rows])
        bars = np.stack([box[:, 1], height - box[:, 1] - box[:, 3], box[:, 0], width - box[:, 0] - box[:, 2]], axis=1)
        values, counts = np.unique(bars, axis=0, return_counts=True)
        mode = values[np.argmax(counts)]
        tol = np.array([height, height, width, width]) * 0.025
        mask = (np.abs(bars - mode) > tol).any(axis=1)
        return _spans(t, mask, 1 / FPS, 0.4, 2.0)
    if kind == "signalstats":
        v = np.array([float(r[1].get("lavfi.signalstats.BRNG", "nan")) for r in rows])
        return _spans(t, v > threshold, 1 / FPS, 0.4, 1.0)
    if kind == "photosensitivity":  # its own decision: frames it dims (factor < 1); or badness over a threshold
        if threshold is None:
            mask = np.array([float(r[1].get("lavfi.photosensitivity.factor", "1")) < 0.999 for r in rows])
        else:
            mask = np.array([float(r[1].get("lavfi.photosensitivity.badness", "0")) >= threshold for r in rows])
        return _spans(t, mask, 1 / FPS, 0.0, 1.0)
    raise ValueError(kind)


def _score(events_by_item: dict, labels: dict, hours: float, clean: dict | None = None, tolerance_s: float = 0.2) -> dict:
    """Event scores of ``events_by_item`` (item → [(start, end)]) against ``labels`` (item → (start,
    end)): recall by overlap and with both edges within ``tolerance_s``, precision, false alarms per
    ``hours``; with ``clean`` (item → seconds of the clean items), false alarms on those per hour."""
    found = total = false = exact = 0
    for item, evs in events_by_item.items():
        lab = labels.get(item)
        if lab is not None:
            total += 1
            found += any(s < lab[1] and e > lab[0] for s, e in evs)
            exact += any(abs(s - lab[0]) <= tolerance_s and abs(e - lab[1]) <= tolerance_s for s, e in evs)
        false += sum(1 for s, e in evs if lab is None or not (s < lab[1] and e > lab[0]))
    findings = sum(len(v) for v in events_by_item.values())
    prec = (findings - false) / findings if findings else float("nan")
    rec = found / total if total else float("nan")
    out = {"labels": total, "recall": rec, "edges_within_0.2s": exact, "findings": findings, "false": false,
           "precision": prec, "false_alarms_per_hour": false / hours,
           "f1": 0.0 if not findings or not found else 2 * prec * rec / (prec + rec)}
    if clean is not None:
        clean_false = sum(len(events_by_item.get(i, [])) for i in clean)
        out.update(recall_within_tolerance=exact / total if total else float("nan"), tolerance_s=tolerance_s,
                   clean_false=clean_false, false_alarms_per_clean_hour=clean_false / max(sum(clean.values()) / 3600, 1e-9))
    return out


# Each filter as it runs on a file (the key names its rows in :func:`ffmpeg_rows`' answer; idet
# runs as ``idet_<intl_thres>``).
FFMPEG_FILTERS = {
    "blurdetect": "blurdetect", "cropdetect": "cropdetect",
    "cropdetect_reset1": "cropdetect=reset=1:round=2", "signalstats": "signalstats=stat=brng",
    "photosensitivity": "photosensitivity",
}
IDET_GRID = (1.04, 1.2, 1.5, 2.0)  # intl_thres; 1.04 is the default


def ffmpeg_rows(path: str, keys) -> dict[str, list]:
    """FFmpeg's per-frame output for the filters ``keys`` name (FFMPEG_FILTERS, or ``idet_<thres>``)."""
    out = {}
    for key in keys:
        if key.startswith("idet_"):
            thr = float(key.split("_", 1)[1])
            out[key] = _ffmpeg_metadata(path, "idet" if thr == 1.04 else f"idet=intl_thres={thr}")
        else:
            out[key] = _ffmpeg_metadata(path, FFMPEG_FILTERS[key])
    return out


def score_ffmpeg(ff_rows: dict[str, dict], labels: dict[str, dict], seconds: dict[str, float], width: int, height: int,
                 clean: dict | None = None) -> dict:
    """Each FFmpeg filter at its defaults and at the setting of a small grid that scores best (F1),
    over the items that have its rows (``ff_rows[item][key]``); ``labels[defect][item] = (start,
    end)``; ``seconds[item]``: each item's length (false alarms per hour over the filter's items);
    ``clean``: item → seconds of the clean items, for false alarms per clean hour."""
    def over(key):
        items = [i for i in ff_rows if key in ff_rows[i]]
        return items, sum(seconds[i] for i in items) / 3600

    def sc(key, kind, threshold, defect, rows_key=None):
        items, hours = over(rows_key or key)
        cl = None if clean is None else {i: clean[i] for i in items if i in clean}
        return _score({i: _ffmpeg_events(kind, ff_rows[i][rows_key or key], threshold, width, height) for i in items},
                      labels[defect], hours, cl)

    out: dict = {}
    if over("idet_1.04")[0]:
        grid = {thr: sc(f"idet_{thr}", "idet", None, "interlacing") for thr in IDET_GRID if over(f"idet_{thr}")[0]}
        best = max(grid, key=lambda t: grid[t]["f1"])
        out["idet"] = {"default": {"setting": "intl_thres=1.04", **grid[1.04]},
                       "best": {"setting": f"intl_thres={best}", **grid[best]}}
    if over("blurdetect")[0]:
        items, _ = over("blurdetect")
        allv = np.array([float(r[1].get("lavfi.blur", "nan")) for i in items for r in ff_rows[i]["blurdetect"]])
        grid = [("absolute", float(q)) for q in np.nanpercentile(allv, [50, 70, 80, 90, 95, 98])] + \
               [("relative", r) for r in (1.1, 1.2, 1.3, 1.5, 1.8, 2.2)]
        g = {x: sc("blurdetect", "blurdetect", x, "blur") for x in grid}
        best = max(g, key=lambda x: g[x]["f1"])
        out["blurdetect"] = {"default": {"setting": "none: the filter measures, it does not decide"},
                             "best": {"setting": f"{best[0]} blur >= {best[1]:.3g}", **g[best]}}
    if over("cropdetect")[0]:
        # defaults (limit 24, round 16, reset 0: the largest picture so far) and per frame (reset 1)
        out["cropdetect"] = {"default": {"setting": "limit=24:round=16:reset=0",
                                         **sc("cropdetect", "cropdetect", None, "letterbox_change")},
                             "best": {"setting": "limit=24:round=2:reset=1",
                                      **sc("cropdetect_reset1", "cropdetect", None, "letterbox_change")}}
    if over("signalstats")[0]:
        # BRNG: any pixel out of range (its own measure) and a grid of shares
        g = {x: sc("signalstats", "signalstats", x, "video_levels") for x in (0.0, 0.001, 0.005, 0.01, 0.02, 0.05, 0.1)}
        best = max(g, key=lambda x: g[x]["f1"])
        out["signalstats"] = {"default": {"setting": "BRNG > 0", **g[0.0]}, "best": {"setting": f"BRNG > {best}", **g[best]}}
    if over("photosensitivity")[0]:
        # its own decision (the frames it would dim, threshold 1) and badness over a grid
        g = {x: sc("photosensitivity", "photosensitivity", x, "flash_pse") for x in (None, 1.0, 1.5, 2.0, 3.0, 5.0, 8.0)}
        best = max((x for x in g if x is not None), key=lambda x: g[x]["f1"])
        out["photosensitivity"] = {"default": {"setting": "factor < 1 (threshold 1: frames it would dim)", **g[None]},
                                   "best": {"setting": f"badness >= {best}", **g[best]}}
    return out


def ffmpeg_compare(items: int, seconds: float = 20.0, sources: str = "synthetic", width: int = 640,
                   height: int = 360, seed: int = 23) -> dict:
    """rayqa's interlacing, blur, letterbox_change and video_levels against FFmpeg's idet,
    blurdetect, cropdetect and signalstats (BRNG) on the same encoded clips: ``items`` per defect
    and ``items`` clean, each ``seconds`` long, 25 fps H.264 (crf 23), one defect each, 2-4 s at a
    random time. Event level: a finding overlapping its item's label is found; every other finding
    is a false alarm. FFmpeg's per-frame output goes through the duration rules of rayqa's
    detector for that defect (minimum duration, merge gap); each filter is scored at its default
    parameters and at the threshold of a small grid that scores best (F1) on this very set."""
    from rayqa.simulate import real  # noqa: F401 (sources="real")

    rng = np.random.default_rng(seed)
    names = list(FFMPEG_PAIRS)
    dets = {n: REGISTRY[n]() for n in names}
    labels: dict[str, dict[str, tuple[float, float]]] = {n: {} for n in names}
    rayqa_events: dict[str, dict[str, list]] = {n: {} for n in names}
    ff_rows: dict[str, dict[str, list]] = {}
    files: dict[str, str] = {}
    hours = 0.0
    with tempfile.TemporaryDirectory() as d:
        k = 0
        for kind in names + ["clean"]:
            for _ in range(items):
                k += 1
                if sources == "real":
                    clean = _real_frames(seconds, rng, "bench", width, height)
                else:
                    clean = scene_frames(seconds, FPS, width=width, height=height, seed=5000 + k)
                item = f"{kind}_{k}"
                superwhite = None
                if kind == "clean":
                    frames = clean
                elif kind in ("interlacing", "video_levels"):
                    frames, superwhite, start, end = _inject_ffmpeg_set(kind, clean, rng, seconds)
                    labels[kind][item] = (start, end)
                else:
                    dur = float(rng.uniform(2.0, 4.0))
                    start = float(np.round(rng.uniform(2.0, seconds - dur - 2.0) * FPS) / FPS)
                    frames, superwhite, start, end = _inject_span(kind, clean, rng, start, start + dur)
                    labels[kind][item] = (start, end)
                path = str(_encode_yuv(Path(d) / f"{item}.mp4", frames, superwhite))
                files[item] = path
                hours += len(frames) / FPS / 3600
                info = media.probe(path)
                ws = media.decode_windows(path, info, media.plan_windows(info, 8.0),
                                          sorted({det.video for det in dets.values()}, key=lambda s: s.key), [])
                for n, det in dets.items():
                    rayqa_events[n][item] = [(e.start_s, e.end_s) for e in
                                             det.merge([h for w in ws for h in det.detect(w, info) if det.applies_to(info)])]
                ff_rows[item] = ffmpeg_rows(path, [f"idet_{t}" for t in IDET_GRID] + ["blurdetect", "cropdetect",
                                                                                  "cropdetect_reset1", "signalstats"])
    out = {"items_per_defect": items, "clean_items": items, "seconds": seconds, "sources": sources,
           "size": f"{width}x{height}", "content_hours": hours, "rayqa": {}, "ffmpeg": {}}
    for n in names:
        out["rayqa"][n] = _score(rayqa_events[n], labels[n], hours)
    out["ffmpeg"] = score_ffmpeg(ff_rows, labels, {i: seconds for i in files}, width, height)
    return out


def _print_compare(res: dict) -> None:
    print(f"FFmpeg vs rayqa on the same clips: {res['items_per_defect']} per defect + {res['clean_items']} clean, "
          f"{res['seconds']:.0f} s {res['size']} 25 fps H.264, {res['sources']} pictures, {res['content_hours']:.2f} h")
    for n, f in FFMPEG_PAIRS.items():
        r = res["rayqa"][n]
        print(f"  {n:18s} recall {r['recall']:.2f} (edges <= 0.2 s {r['edges_within_0.2s']}/{r['labels']}) "
              f"precision {r['precision']:.2f} false alarms/h {r['false_alarms_per_hour']:.1f}")
        for which in ("default", "best"):
            x = res["ffmpeg"][f][which]
            if "recall" in x:
                print(f"    {f:12s} {which:7s} [{x['setting']}] recall {x['recall']:.2f} precision {x['precision']:.2f} "
                      f"false alarms/h {x['false_alarms_per_hour']:.1f}")
            else:
                print(f"    {f:12s} {which:7s} [{x['setting']}]")


def main() -> None:
    import json

    ap = argparse.ArgumentParser()
    ap.add_argument("--items", type=int, default=12)
    ap.add_argument("--sizes", default="320x180,1280x720")
    ap.add_argument("--skip-cost", action="store_true")
    ap.add_argument("--skip-simulated", action="store_true")
    ap.add_argument("--tearing-items", type=int, default=0, help="real-content tearing items (0: skip)")
    ap.add_argument("--tearing-clean-minutes", type=float, default=10.0)
    ap.add_argument("--ffmpeg-items", type=int, default=0, help="items per defect for the FFmpeg comparison (0: skip)")
    ap.add_argument("--ffmpeg-sources", default="synthetic", choices=["synthetic", "real"])
    ap.add_argument("--json", default=None, help="also write the figures to this file")
    args = ap.parse_args()
    results: dict = {}
    if not args.skip_cost:
        for size in args.sizes.split(","):
            w, h = (int(x) for x in size.split("x"))
            print(f"cost, 60 s 25 fps {w}x{h}, ms per content-second:")
            results[f"cost_{size}"] = c = cost(w, h)
            for k, v in c.items():
                print(f"  {k:24s} {v:7.1f}")
    if not args.skip_simulated:
        print(f"simulated, {args.items} items of 30 s per detector:")
        results["simulated"] = sim = simulated(args.items)
        for k, v in sim.items():
            print(f"  {k:20s} recall {v['recall']:.2f}  false alarms/h {v['false_alarms_per_hour']:.1f}")
    if args.tearing_items:
        t = results["tearing_real"] = tearing_real(args.tearing_items, args.tearing_clean_minutes)
        print(f"video_tearing on real content (bench split, 640x360 H.264): recall {t['recall']:.2f} "
              f"({t['found']}/{t['items']}; edges within 0.2 s {t['edges_within_0.2s']}), on visible tears "
              f"{t['recall_visible']:.2f} ({t['found_visible']}/{t['visible']}); false alarms "
              f"{len(t['clean_false_alarms'])} on {t['clean_s'] / 60:.1f} clean minutes "
              f"({t['false_alarms_per_hour']:.1f}/h)")
    if args.ffmpeg_items:
        results["ffmpeg_compare"] = res = ffmpeg_compare(args.ffmpeg_items, sources=args.ffmpeg_sources)
        _print_compare(res)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(results, indent=1, default=str))


if __name__ == "__main__":
    main()
