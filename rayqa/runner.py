"""One item, start to finish, without Ray: plan → decode → detect → merge → rows.

The scan's Ray stages call these pieces on their share of an item (a planning task plans, a decode
task decodes a run of windows, an actor detects, the driver finishes), and the service calls them
for one uploaded file, plugging in its remote learned-detector calls. Hits stay
:class:`~rayqa.types.Hit` objects here; only the Ray edge (:mod:`rayqa.stages`) serialises them.

    plan(item_id, uri)                       → ItemPlan (info + window spans, or the reason it fails)
    decode_batches(plan, specs, n)           → windows, ``n`` at a time from one pass (bounded memory)
    detect(detectors, windows, info)         → per window: [(detector, Hit)] or an error string
    finish(...)                              → finding rows + one summary row (rayqa.columns)
"""

from __future__ import annotations

import time
import traceback
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from rayqa import media
from rayqa.columns import finding_row, summary_row
from rayqa.detectors.base import Detector
from rayqa.types import AudioSpec, Hit, ItemInfo, VideoSpec, Window

# One detector's hits on one window, or why the detector failed there.
WindowHits = list[tuple[str, Hit]] | str


@dataclass
class ItemPlan:
    item_id: str
    uri: str
    info: ItemInfo | None
    spans: list[tuple[float, float]] = field(default_factory=list)
    error: str | None = None
    work_s: float = 0.0


def plan(item_id: str, uri: str, window_s: float, max_windows: int, captions_uri: str | None = None) -> ItemPlan:
    """Probe one item and cut it into windows; an item that cannot be opened gets the reason. The
    caption sidecar (if any) travels in the item's info, for the caption detectors."""
    started = time.perf_counter()
    try:
        info = media.probe(uri)
        info.captions_uri = captions_uri or None
    except media.MediaError as e:
        return ItemPlan(item_id, uri, None, error=str(e), work_s=time.perf_counter() - started)
    except Exception as e:  # a bug or an exotic container: fail the item, not the run
        return ItemPlan(item_id, uri, None, error=f"probe failed: {type(e).__name__}: {media.one_line(e)}",
                        work_s=time.perf_counter() - started)
    spans = media.plan_windows(info, window_s)
    if len(spans) > max_windows:
        return ItemPlan(item_id, uri, info, error=f"item too long: {len(spans)} windows > {max_windows}")
    return ItemPlan(item_id, uri, info, spans, work_s=time.perf_counter() - started)


def input_specs(detectors: list[Detector]) -> tuple[list[VideoSpec], list[AudioSpec]]:
    """What to decode for ``detectors``: each distinct video and audio spec once."""
    video = sorted({d.video for d in detectors if d.video is not None}, key=lambda s: s.key)
    audio = sorted({d.audio for d in detectors if d.audio is not None}, key=lambda s: s.key)
    return video, audio


def decode(item_id: str, uri: str, info: ItemInfo, spans: list[tuple[float, float]], video_specs: list[VideoSpec],
           audio_specs: list[AudioSpec], backend: str = "pyav") -> list[Window] | str:
    """Consecutive windows of one item in one pass, or the one-line reason decoding failed."""
    try:
        return media.decode_windows(uri, info, spans, video_specs, audio_specs, item_id=item_id, backend=backend)
    except media.MediaError as e:
        return f"cannot decode: {e}"
    except Exception as e:
        return f"decode failed: {type(e).__name__}: {media.one_line(e)}"


def decode_runs(item_id: str, uri: str, info: ItemInfo, spans: list[tuple[float, float]],
                video_specs: list[VideoSpec], audio_specs: list[AudioSpec], chunk: int,
                backend: str = "pyav") -> Iterator[tuple[int, list[Window] | str]]:
    """``(index of the first window, windows)`` ``chunk`` windows at a time from one pass over the
    run (one seek, not one per chunk), so a caller holding one chunk holds a bounded amount. If
    the pass fails part-way, what is left is decoded chunk by chunk on fresh seeks, as
    :func:`decode` would, and a chunk that fails again yields its reason instead of windows."""
    done = 0
    try:
        buf: list[Window] = []
        for w in media.iter_windows(uri, info, spans, video_specs, audio_specs, item_id=item_id, backend=backend):
            buf.append(w)
            if len(buf) == chunk:
                yield done, buf
                done, buf = done + len(buf), []
        if buf:
            yield done, buf
            done += len(buf)
        return
    except Exception:  # noqa: BLE001 - the chunks left are decoded again below, each reporting its own failure
        pass
    for at in range(done, len(spans), chunk):
        yield at, decode(item_id, uri, info, spans[at:at + chunk], video_specs, audio_specs, backend)


def decode_batches(p: ItemPlan, video_specs: list[VideoSpec], audio_specs: list[AudioSpec], batch_windows: int,
                   backend: str = "pyav") -> Iterator[tuple[int, list[Window] | str]]:
    """``(index of the first window, windows)`` for ``batch_windows`` windows at a time from one
    pass over the item (:func:`decode_runs`), so a caller holding one batch holds a bounded amount
    whatever the item's length; a failed batch yields its reason instead of windows."""
    yield from decode_runs(p.item_id, p.uri, p.info, p.spans, video_specs, audio_specs, batch_windows, backend)


def only(window: Window, det: Detector) -> Window:
    """The part of a decoded window one detector needs (less to ship to a remote replica)."""
    keep_v = {det.video.key: window.video[det.video.key]} if det.video is not None else {}
    keep_a = {det.audio.key: window.audio[det.audio.key]} if det.audio is not None else {}
    return Window(window.item_id, window.t0, window.t1, keep_v, keep_a, list(window.damage), window.decoder,
                  recent_damage=list(window.recent_damage))


def failure(det: Detector, e: BaseException) -> str:
    return f"detector {det.name} failed: {type(e).__name__}: {media.one_line(e)}"


def detect_one(det: Detector, windows: list[Window | None], indices: list[int], info: ItemInfo,
               call: Callable[[list[tuple[Window, ItemInfo]]], list[list[Hit]]] | None = None) -> list[WindowHits]:
    """One detector over windows of one item (``None`` for a window that was not decoded): its
    hits per window, with the item-level hits (:meth:`Detector.check_item`) on window 0; an error
    string for each window where it failed. ``call`` replaces the local batch call (the service's
    remote replicas)."""
    if not det.applies_to(info):
        return [[] for _ in windows]
    present = [w for w in windows if w is not None]
    try:
        batch_hits = iter((call or det)([(w, info) for w in present]) if present else ())
    except Exception as e:
        return [failure(det, e)] * len(windows)
    out: list[WindowHits] = []
    for w, index in zip(windows, indices):
        try:
            hits = list(next(batch_hits)) if w is not None else []
            if index == 0:
                hits += det.check_item(info)
            out.append([(det.name, h) for h in hits])
        except Exception as e:
            traceback.print_exc()
            out.append(failure(det, e))
    return out


def detect(detectors: list[Detector], windows: list[Window | None], indices: list[int],
           info: ItemInfo) -> tuple[list[WindowHits], dict[str, float]]:
    """Every detector over the same windows: per window all hits (or the first failure), and the
    seconds each detector took."""
    per_window: list[WindowHits] = [[] for _ in windows]
    seconds: dict[str, float] = {}
    for det in detectors:
        started = time.perf_counter()
        for i, res in enumerate(detect_one(det, windows, indices, info)):
            if isinstance(per_window[i], str):
                continue
            per_window[i] = res if isinstance(res, str) else per_window[i] + res
        seconds[det.name] = time.perf_counter() - started
    return per_window, seconds


def events_of_file(uri: str, det: Detector, window_s: float = 8.0, batch_windows: int = 4) -> tuple[list, ItemInfo]:
    """One detector over one file as a scan's windows and merge see it, without Ray: its events
    and the file's info (tests and benchmarks). A file that cannot be planned or decoded raises."""
    p = plan(Path(uri).stem, str(uri), window_s, 10_000)
    if p.error:
        raise ValueError(p.error)
    video, audio = input_specs([det])
    hits: list[Hit] = []
    for at, windows in decode_batches(p, video, audio, batch_windows):
        if isinstance(windows, str):
            raise ValueError(windows)
        per_window, _ = detect([det], windows, list(range(at, at + len(windows))), p.info)
        for res in per_window:
            if isinstance(res, str):
                raise ValueError(res)
            hits += [h for _name, h in res]
    return det.merge(hits), p.info


@dataclass
class ItemResult:
    findings: list[dict]
    summary: dict


def by_detector(hits: list[tuple[str, Hit]]) -> dict[str, list[Hit]]:
    out: dict[str, list[Hit]] = defaultdict(list)
    for name, hit in hits:
        out[name].append(hit)
    return out


def finish(run_id: str, item_id: str, uri: str, info: ItemInfo | None, error: str | None,
           hits: list[tuple[str, Hit]], detectors: dict[str, Detector], wall_s: float,
           captions_uri: str | None = None, versions: dict[str, tuple[str, str]] | None = None,
           extra: dict[str, Any] | None = None) -> ItemResult:
    """An item's hits merged per detector into events (rows of the findings schema, in time order)
    and its summary row; a failed item has no findings. ``versions`` (detector → (model, version))
    names the model that actually scored, where it differs from the detector's own."""
    findings: list[dict] = []
    values: dict[str, Any] = {}
    if error is None:
        grouped = by_detector(hits)
        for name, det in detectors.items():
            model, version = (versions or {}).get(name, (det.model_name, det.model_version))
            findings.extend(finding_row(run_id, item_id, name, model, version, ev)
                            for ev in det.merge(list(grouped.get(name, []))))
            values.update(det.summarise(list(grouped.get(name, []))))
        findings.sort(key=lambda f: (f["start_s"], f["detector"]))
    summary = summary_row(run_id, item_id, uri, info, error, len(findings), wall_s, values, captions_uri)
    return ItemResult(findings, {**summary, **(extra or {})})
