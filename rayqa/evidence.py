"""Evidence a person can judge a finding by without opening the video: a strip of thumbnails around
and inside a video finding (the block-corruption map drawn over its peak frame) and a spectrogram
snippet around an audio finding, as ``data:`` URIs.

Cost is bounded whatever the item's length: one open per item, a seek per far-apart instant, a few
frames decoded after each keyframe, and a few seconds of audio per snippet. Media that is gone or
unreadable gives a ``"media unavailable: <reason>"`` marker, never an exception.

The drawing (:func:`spectrogram_db`, :func:`spectrogram_image`, :func:`draw_block_map`,
:func:`thumbnail_times`) is pure numpy/Pillow, so a unit test can call it with a synthetic array.
"""

from __future__ import annotations

import base64
import io
import json
import math
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

import numpy as np
from PIL import Image, ImageDraw

from rayqa.defects import looks_at

UNAVAILABLE = "media unavailable"


@dataclass(frozen=True)
class EvidenceOptions:
    frames: int = 5  # thumbnails per video finding: one before, the rest inside, one after
    thumb_width: int = 192
    map_width: int = 320  # the frame with the block-corruption map drawn over it
    pad_s: float = 1.0  # the thumbnails before and after sit this far outside the finding
    jpeg_quality: int = 70
    spectrogram_pad_s: float = 3.0  # seconds of audio either side of an audio finding
    spectrogram_max_s: float = 20.0  # longer: one snippet at its start and one at its end
    spectrogram_width: int = 480
    spectrogram_height: int = 128
    sample_rate: int = 16000  # 0-8 kHz shown
    reseek_s: float = 2.0  # decode on to the next instant when it is this close, else seek
    max_decode_frames: int = 750  # per instant after a seek (30 s at 25 fps): bounded cost on long GOPs


def _details(finding: Mapping[str, Any]) -> dict:
    d = finding.get("details")
    if isinstance(d, str):
        try:
            d = json.loads(d)
        except ValueError:
            return {}
    return d if isinstance(d, dict) else {}


def data_uri(image: Image.Image, fmt: str = "JPEG", quality: int = 70) -> str:
    buf = io.BytesIO()
    if fmt == "JPEG":
        image.convert("RGB").save(buf, "JPEG", quality=quality, optimize=True)
    else:
        image.save(buf, fmt, optimize=True)
    return f"data:image/{fmt.lower()};base64,{base64.b64encode(buf.getvalue()).decode('ascii')}"


# -- pure drawing ------------------------------------------------------------------------------------

def thumbnail_times(start_s: float, end_s: float, duration_s: float | None, fps: float | None, frames: int = 5,
                    pad_s: float = 1.0, peak_s: float | None = None) -> list[tuple[float, str]]:
    """Instants for a finding's thumbnails, as (time_s, "before" / "inside" / "peak" / "after"):
    one ``pad_s`` before, ``frames - 2`` spread inside (centred in equal parts, away from the
    edges' transitions), one ``pad_s`` after; ``peak_s`` replaces the inside instant nearest to it.
    Instants are kept inside the item; one that falls off an edge is dropped."""
    frames = max(1, int(frames))
    last = None
    if duration_s is not None and duration_s > 0:
        last = max(0.0, duration_s - 1.0 / (fps or 25.0))
    end_s = max(end_s, start_s)
    n_inside = max(1, frames - 2)
    length = end_s - start_s
    inside = [start_s + length * (k + 0.5) / n_inside for k in range(n_inside)] if length > 0 else [start_s]
    out = [(t, "inside") for t in inside]
    if peak_s is not None:
        k = int(np.argmin([abs(t - peak_s) for t in inside]))
        out[k] = (float(peak_s), "peak")
    if frames >= 3:
        out = [(start_s - pad_s, "before")] + out + [(end_s + pad_s, "after")]
    kept = []
    for t, where in out:
        if t < 0 or (last is not None and t > last + 1e-6):
            if where in ("before", "after"):
                continue
            t = min(max(t, 0.0), last if last is not None else t)
        kept.append((round(float(t), 3), where))
    return kept


def parse_block_map(map_cells: str) -> np.ndarray:
    """``"0110/0010/..."`` (one string of 0/1 per row of cells) → bool array (rows, cols)."""
    rows = [r for r in str(map_cells).split("/") if r]
    if not rows or len({len(r) for r in rows}) != 1 or any(set(r) - {"0", "1"} for r in rows):
        raise ValueError(f"not a block map: {str(map_cells)[:40]!r}")
    return np.array([[c == "1" for c in r] for r in rows], dtype=bool)


def draw_block_map(image: Image.Image, cells: np.ndarray) -> Image.Image:
    """The frame with each corrupted cell of the map filled translucent red and outlined."""
    base = image.convert("RGBA")
    overlay = Image.new("RGBA", base.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    rows, cols = cells.shape
    w, h = base.size
    for r, c in zip(*np.nonzero(cells)):
        x0, y0 = c * w / cols, r * h / rows
        x1, y1 = (c + 1) * w / cols - 1, (r + 1) * h / rows - 1
        draw.rectangle([x0, y0, x1, y1], fill=(255, 0, 0, 90), outline=(255, 40, 40, 230))
    return Image.alpha_composite(base, overlay).convert("RGB")


def spectrogram_db(samples: np.ndarray, sample_rate: int, n_fft: int = 512, hop: int = 160) -> np.ndarray:
    """Level per frequency bin and frame, dB relative to a full-scale sine: (n_fft // 2 + 1, frames).
    NaN samples (no audio there) give NaN frames."""
    x = np.asarray(samples, dtype=np.float64).reshape(-1)
    if len(x) < n_fft:
        x = np.concatenate([x, np.zeros(n_fft - len(x))])
    n = 1 + (len(x) - n_fft) // hop
    idx = np.arange(n_fft)[None, :] + hop * np.arange(n)[:, None]
    frames = x[idx]
    missing = np.isnan(frames).any(axis=1)
    window = np.hanning(n_fft)
    spec = np.abs(np.fft.rfft(np.nan_to_num(frames) * window, axis=1)) / (window.sum() / 2)
    db = 20.0 * np.log10(np.maximum(spec, 1e-12))
    db[missing] = np.nan
    return db.T


def _lut() -> np.ndarray:
    anchors = np.array([(0, 0, 4), (59, 15, 112), (140, 41, 129), (222, 73, 104), (254, 159, 109), (252, 253, 191)],
                       float)
    pos = np.linspace(0, 1, len(anchors))
    t = np.linspace(0, 1, 250)
    return np.stack([np.interp(t, pos, anchors[:, k]) for k in range(3)], axis=1).astype(np.uint8)


_PALETTE = np.concatenate([_lut(), np.array([(96, 96, 96), (0, 255, 255), (255, 255, 255)], np.uint8),
                           np.zeros((3, 3), np.uint8)])
_NO_AUDIO, _MARK, _TICK = 250, 251, 252


def spectrogram_image(db: np.ndarray, start_s: float, hop_s: float, width: int = 480, height: int = 128,
                      marks_s: Iterable[float] = (), floor_db: float = -110.0, top_db: float = 0.0,
                      levels: int = 32) -> Image.Image:
    """A palette PNG-ready image of ``db`` (bins x frames): low frequencies at the bottom, an
    absolute scale (``floor_db``..``top_db``) so silence is dark, where there was no audio grey;
    cyan lines at ``marks_s`` (the finding's start and end), white ticks every second. Each column
    is the loudest of the frames it covers, so a click stays visible. ``levels`` grey levels (32:
    a 3.4 dB step) keep the PNG small: noise at 250 levels does not compress."""
    bins, n = db.shape
    groups = np.linspace(0, n, width + 1).astype(int)
    groups = np.minimum(groups[:-1], n - 1)
    filled = np.where(np.isnan(db), -np.inf, db)
    cols = np.maximum.reduceat(filled, groups, axis=1)  # (bins, width)
    missing = np.isneginf(cols).all(axis=0)
    edges = np.linspace(0, bins, height + 1).astype(int)
    edges = np.minimum(edges[:-1], bins - 1)
    rows = np.maximum.reduceat(cols, edges, axis=0)[::-1]  # (height, width), high frequencies on top
    level = np.clip((np.nan_to_num(rows, neginf=floor_db) - floor_db) / (top_db - floor_db), 0, 1)
    steps = max(2, min(250, int(levels))) - 1
    index = (np.round(level * steps) * (249 / steps)).round().astype(np.uint8)
    index[:, missing] = _NO_AUDIO
    span_s = n * hop_s
    for s in range(int(math.ceil(start_s)), int(start_s + span_s) + 1):
        x = int(round((s - start_s) / span_s * width))
        if 0 <= x < width:
            index[-4:, x] = _TICK
    for t in marks_s:
        x = int(round((t - start_s) / span_s * width))
        if 0 <= x < width:
            index[::2, x] = _MARK  # dashed
    img = Image.fromarray(index, mode="P")
    img.putpalette(_PALETTE.reshape(-1).tolist())
    return img


# -- decoding ------------------------------------------------------------------------------------------

def _packets_frames(container, stream):
    """Frames of ``stream`` from here on, through packets the decoder refuses (a damaged span is
    exactly what a decode_error finding wants shown)."""
    import av

    for packet in container.demux(stream):
        try:
            frames = packet.decode()
        except av.error.FFmpegError:
            continue
        yield from frames


def grab_frames(container, times: list[float], width: int, opts: EvidenceOptions) -> dict[float, Image.Image]:
    """The frame shown at each instant (the first at or after it), scaled to ``width``. Decodes on
    from one instant to the next when they are close, seeks otherwise; never the whole item."""
    import av

    vs = container.streams.video[0]
    rate = vs.average_rate or vs.guessed_rate
    half = 0.5 / float(rate) if rate else 0.02
    out: dict[float, Image.Image] = {}
    it, last = None, None  # the frame iterator and the last frame it gave
    for t in sorted(set(times)):
        if it is None or last is None or t - last.time > opts.reseek_s:
            try:
                container.seek(int(max(0.0, t) * 1e6), backward=True, any_frame=False)
            except av.error.FFmpegError:
                continue
            it, last = _packets_frames(container, vs), None
        got = last if last is not None and last.time >= t - half else None
        n = 0
        try:
            while got is None and n < opts.max_decode_frames:
                frame = next(it, None)
                if frame is None:  # the stream ends before t: its last frame is what is shown
                    got, it = last, None
                    break
                if frame.time is None:
                    continue
                n += 1
                last = frame
                if frame.time >= t - half:
                    got = frame
        except av.error.FFmpegError:
            got, it = last, None
        if got is not None:
            h = max(2, int(round(width * got.height / max(1, got.width) / 2)) * 2)
            out[t] = got.to_image(width=width, height=h)
    return out


def grab_audio(container, start_s: float, end_s: float, sample_rate: int) -> np.ndarray:
    """Mono samples of [start_s, end_s) at ``sample_rate``; NaN where the stream has none."""
    import av

    aus = container.streams.audio[0]
    n_want = max(1, int(round((end_s - start_s) * sample_rate)))
    out = np.full(n_want, np.nan, np.float32)
    try:
        container.seek(int(max(0.0, start_s - 0.5) * 1e6), backward=True, any_frame=False)
    except av.error.FFmpegError:
        return out
    resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
    chunks, first = [], None
    try:
        for frame in _packets_frames(container, aus):
            if frame.time is None:
                continue
            if first is None:
                first = frame.time
            for o in resampler.resample(frame):
                chunks.append(o.to_ndarray().reshape(-1))
            if frame.time >= end_s:
                break
    except av.error.FFmpegError:
        pass
    if first is None or not chunks:
        return out
    data = np.concatenate(chunks)
    a = int(round((start_s - first) * sample_rate))
    src = data[max(0, a):max(0, a) + n_want - max(0, -a)]
    out[max(0, -a):max(0, -a) + len(src)] = src
    return out


def spectrogram_spans(start_s: float, end_s: float, duration_s: float | None, pad_s: float, max_s: float
                      ) -> list[tuple[float, float]]:
    """The audio to show around a finding: ``pad_s`` either side; a finding too long for one
    snippet of ``max_s`` gets one at its start and one at its end."""
    lo, hi = start_s - pad_s, end_s + pad_s
    top = duration_s if duration_s and duration_s > 0 else None
    spans = [(lo, hi)] if hi - lo <= max_s else [(lo, lo + max_s / 2), (hi - max_s / 2, hi)]
    out = []
    for a, b in spans:
        a = max(0.0, a)
        b = min(b, top) if top is not None else b
        if b - a > 0.05:
            out.append((round(a, 3), round(b, 3)))
    return out


# -- per finding ---------------------------------------------------------------------------------------

def _empty(reason: str | None = None) -> dict:
    return {"thumbnails": [], "spectrograms": [], "notes": [],
            "unavailable": f"{UNAVAILABLE}: {reason}" if reason else None}


def item_evidence(uri: str | None, findings: list[Mapping[str, Any]], duration_s: float | None = None,
                  options: EvidenceOptions | None = None) -> list[dict]:
    """Evidence for each of one item's findings (rows with defect, start_s, end_s, details as JSON
    text or an object), in their order. One open of the media for all of them.

    Each is ``{"thumbnails": [{"time_s", "where", "data_uri", "overlay"}], "spectrograms":
    [{"start_s", "end_s", "max_hz", "marks_s", "data_uri"}], "notes": [...], "unavailable": None}``,
    or with ``unavailable`` = ``"media unavailable: <reason>"`` when the media cannot be read.
    """
    import av

    from rayqa.media import MediaError, one_line, open_container

    opts = options or EvidenceOptions()
    if not findings:
        return []
    if not uri:
        return [_empty("the item has no uri") for _ in findings]
    try:
        container = open_container(str(uri))
    except MediaError as e:
        return [_empty(str(e)) for _ in findings]
    except Exception as e:  # whatever the media or its filesystem throws: say so, go on
        return [_empty(f"{type(e).__name__}: {one_line(e)}") for _ in findings]
    try:
        has_video, has_audio = bool(container.streams.video), bool(container.streams.audio)
        fps = None
        if has_video:
            rate = container.streams.video[0].average_rate or container.streams.video[0].guessed_rate
            fps = float(rate) if rate else None
        if duration_s is None or not (duration_s > 0):
            duration_s = container.duration / 1e6 if container.duration else None
        out = [_empty() for _ in findings]
        plans = []  # per finding: [(time, where, width, overlay cells or None)]
        for ev, f in zip(out, findings):
            d = _details(f)
            frames, spectro = looks_at(str(f.get("defect", "")), d)
            s, e = float(f.get("start_s") or 0.0), float(f.get("end_s") or f.get("start_s") or 0.0)
            plan = []
            if frames and not has_video:
                ev["notes"].append("no video stream in the media")
            elif frames:
                peak, cells = None, None
                if f.get("defect") == "block_corruption":
                    peak = d.get("time_s")
                    if peak is None and d.get("frame_index") is not None and fps:
                        peak = int(d["frame_index"]) / fps
                    if d.get("map_cells"):
                        try:
                            cells = parse_block_map(d["map_cells"])
                        except ValueError as err:
                            ev["notes"].append(f"block map unreadable: {err}")
                    elif "corrupted_area_ratio" in d:
                        ev["notes"].append(f"no block map in the details (corrupted area ratio "
                                           f"{float(d['corrupted_area_ratio']):.2f}); frames shown without it")
                for t, where in thumbnail_times(s, e, duration_s, fps, opts.frames, opts.pad_s, peak):
                    big = where == "peak" and cells is not None
                    plan.append((t, where, opts.map_width if big else opts.thumb_width, cells if big else None))
            plans.append(plan)
            if spectro and not has_audio:
                ev["notes"].append("no audio stream in the media")
            elif spectro:
                ev["_spans"] = (spectrogram_spans(s, e, duration_s, opts.spectrogram_pad_s, opts.spectrogram_max_s),
                                (s, e))
        # Video: every finding's instants in one pass over the item, in time order.
        wanted = sorted({t for plan in plans for t, *_ in plan})
        if wanted:
            try:
                got = grab_frames(container, wanted, opts.map_width, opts)
            except Exception as err:  # a stream the decoder cannot read at all
                got = {}
                for ev, plan in zip(out, plans):
                    if plan:
                        ev["notes"].append(f"video unreadable: {type(err).__name__}: {one_line(err)}")
            for ev, plan in zip(out, plans):
                for t, where, width, cells in plan:
                    img = got.get(t)
                    if img is None:
                        continue
                    if img.width != width:
                        img = img.resize((width, max(2, round(img.height * width / img.width))), Image.BILINEAR)
                    overlay = None
                    if cells is not None:
                        img = draw_block_map(img, cells)
                        overlay = f"block map: {int(cells.sum())} of {cells.size} cells corrupted"
                    ev["thumbnails"].append({"time_s": t, "where": where, "overlay": overlay,
                                             "data_uri": data_uri(img, "JPEG", opts.jpeg_quality)})
                if plan and not ev["thumbnails"]:
                    ev["notes"].append("no frame could be decoded at the finding")
        # Audio: a few seconds per snippet.
        hop = 160
        for ev in out:
            spans, (s, e) = ev.pop("_spans", ([], (0, 0)))
            for a, b in spans:
                try:
                    x = grab_audio(container, a, b, opts.sample_rate)
                except av.error.FFmpegError as err:
                    ev["notes"].append(f"audio unreadable at {a:.1f}-{b:.1f} s: {one_line(err)}")
                    continue
                if np.isnan(x).all():
                    ev["notes"].append(f"no audio decoded at {a:.1f}-{b:.1f} s")
                marks = [m for m in (s, e) if a <= m <= b]
                img = spectrogram_image(spectrogram_db(x, opts.sample_rate, hop=hop), a, hop / opts.sample_rate,
                                        opts.spectrogram_width, opts.spectrogram_height, marks)
                ev["spectrograms"].append({"start_s": a, "end_s": b, "max_hz": opts.sample_rate // 2,
                                           "marks_s": marks, "data_uri": data_uri(img, "PNG")})
        return out
    finally:
        container.close()


def finding_evidence(uri: str | None, finding: Mapping[str, Any], duration_s: float | None = None,
                     options: EvidenceOptions | None = None) -> dict:
    """Evidence for one finding (see :func:`item_evidence`)."""
    return item_evidence(uri, [finding], duration_s, options)[0]
