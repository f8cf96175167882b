"""The scan's Ray Data stages: the item runner's pieces over pandas batches of window rows.

A row is one window of one item: ``item_id, uri, info, window_index, n_windows, t0, t1, media,
hits, error, work_s, profile`` (``profile``: seconds of this window's work by phase, for the scan's
profile in run.json). Inside a stage a row holds objects (``info`` an ItemInfo, ``media`` a
Window, ``hits`` a list of ``(detector, Hit)``); :func:`to_frame` serialises them (pickle) only
where a batch leaves the stage, and :func:`from_frame` reads them back. The last detector stage
drops ``media``, so only hits reach the driver.
"""

from __future__ import annotations

import dataclasses
import pickle
import time
from collections.abc import Iterator

import pandas as pd

from rayqa import faults, runner
from rayqa.detectors import build
from rayqa.loading import load_detector, use_cv2_share
from rayqa.types import AudioSpec, ItemInfo, VideoSpec

ROW_COLUMNS = ("item_id", "uri", "info", "window_index", "n_windows", "t0", "t1", "media", "hits", "error", "work_s",
               "profile")
_PICKLED = ("info", "media", "hits", "profile")


def _row(item_id: str, uri: str, info: ItemInfo | None = None, window_index: int = 0, n_windows: int = 1,
         t0: float = 0.0, t1: float = 0.0, error: str = "", work_s: float = 0.0) -> dict:
    return {"item_id": item_id, "uri": uri, "info": info, "window_index": window_index, "n_windows": n_windows,
            "t0": t0, "t1": t1, "media": None, "hits": [], "error": error, "work_s": work_s, "profile": {}}


def plan_item(item: dict, window_s: float, max_windows: int) -> list[dict]:
    """Probe one item and cut it into window rows (serialised: a flat_map's output). An item that
    cannot be opened becomes one error row."""
    p = runner.plan(item["item_id"], item["uri"], window_s, max_windows, item.get("captions_uri"))
    if p.error:
        rows = [_row(p.item_id, p.uri, p.info, error=p.error, work_s=p.work_s)]
    else:
        work = p.work_s / len(p.spans)
        rows = [_row(p.item_id, p.uri, p.info, i, len(p.spans), t0, t1, work_s=work) for i, (t0, t1) in enumerate(p.spans)]
    for r in rows:
        r["profile"] = {"probe": r["work_s"]}
    return [_serialised(r) for r in rows]


def _add(profile: dict, phase: str, seconds: float) -> None:
    profile[phase] = profile.get(phase, 0.0) + seconds


def _serialised(row: dict) -> dict:
    started = time.perf_counter()
    out = {**row, **{k: pickle.dumps(row[k], protocol=5) if row[k] is not None else b"" for k in _PICKLED[:-1]}}
    profile = dict(row.get("profile") or {})
    _add(profile, "serialise", time.perf_counter() - started)  # what moving this window between tasks costs here
    out["profile"] = pickle.dumps(profile, protocol=5)
    return out


def to_frame(rows: list[dict]) -> pd.DataFrame:
    """Rows as a batch for the next stage: objects travel pickled."""
    return pd.DataFrame([_serialised(r) for r in rows], columns=ROW_COLUMNS)


def from_frame(batch: pd.DataFrame) -> list[dict]:
    rows = batch.to_dict("records")
    for r in rows:
        started = time.perf_counter()
        for k in _PICKLED:
            v = r.get(k)
            r[k] = pickle.loads(v) if isinstance(v, (bytes, bytearray)) and v else ([] if k == "hits" else None)
        r["profile"] = r["profile"] or {}
        _add(r["profile"], "serialise", time.perf_counter() - started)
    return rows


def _contiguous_groups(rows: list[dict]) -> list[list[dict]]:
    """Runs of rows of the same item with consecutive window indices (decoded in one pass)."""
    groups: list[list[dict]] = []
    for r in sorted(rows, key=lambda r: (r["item_id"], r["window_index"])):
        g = groups[-1] if groups else None
        if g and g[-1]["item_id"] == r["item_id"] and g[-1]["window_index"] + 1 == r["window_index"] and not r["error"]:
            g.append(r)
        else:
            groups.append([r])
    return groups


def keep_media(rows: list[dict], keep: tuple[list[str], list[str]] | None) -> None:
    """Trim each row's decoded window to the video and audio spec keys in ``keep`` (what the stages
    after this one read), before it is pickled for them; None keeps everything. The scan's decode
    tasks run the signal-processing detectors on every spec they decoded, then ship the learned
    pools only their frames: 3 of a window's ~20 MB with the default detectors beside the learned
    ones, instead of the whole window through the object store to every pool in turn."""
    if keep is None:
        return
    video, audio = set(keep[0]), set(keep[1])
    for r in rows:
        w = r["media"]
        if w is not None:
            r["media"] = dataclasses.replace(w, video={k: v for k, v in w.video.items() if k in video},
                                             audio={k: v for k, v in w.audio.items() if k in audio})


def hand_on(rows: list[dict], drop: bool, keep: tuple[list[str], list[str]] | None) -> None:
    """What a stage passes on of each row's window: nothing (``drop``: no stage after it reads
    them), else what ``keep`` names (:func:`keep_media`)."""
    if drop:
        for r in rows:
            r["media"] = None
    else:
        keep_media(rows, keep)


class DecodeStage:
    """Decode consecutive windows of an item in one pass (a Ray Data task, CPU)."""

    def __init__(self, video_specs: list[VideoSpec], audio_specs: list[AudioSpec], backend: str = "pyav"):
        self.video_specs, self.audio_specs, self.backend = video_specs, audio_specs, backend
        use_cv2_share()

    def decode_chunks(self, rows: list[dict], chunk: int) -> Iterator[list[dict]]:
        """Decode each item's consecutive windows in one pass (one seek), handing out ``chunk``
        rows at a time with ``media`` set (or ``error``): a caller that is done with a chunk's
        frames before asking for the next holds a bounded amount however many rows there are."""
        faults.inject("decode", {r["item_id"] for r in rows})
        for group in _contiguous_groups(rows):
            first = group[0]
            if first["error"] or first["info"] is None:
                continue
            started = time.perf_counter()
            for at, windows in runner.decode_runs(first["item_id"], first["uri"], first["info"],
                                                  [(r["t0"], r["t1"]) for r in group], self.video_specs,
                                                  self.audio_specs, chunk, self.backend):
                part = group[at:at + (len(windows) if not isinstance(windows, str) else chunk)]
                if isinstance(windows, str):
                    for r in part:
                        r["error"] = windows
                    started = time.perf_counter()
                    continue
                per = (time.perf_counter() - started) / len(part)
                for r, w in zip(part, windows):
                    r["media"] = w
                    r["work_s"] += per
                    parts = {k: v for k, v in w.timing.items() if v}
                    for phase, sec in parts.items():
                        _add(r["profile"], phase, sec)
                    _add(r["profile"], "decode", max(0.0, per - sum(parts.values())))
                yield part
                started = time.perf_counter()


class DetectStage:
    """Run a group of detectors on decoded windows (a Ray Data actor: weights load once)."""

    def __init__(self, names: list[str], overrides: dict, resolved: dict | None = None, drop_media: bool = True,
                 device: str = "cpu", keep: tuple[list[str], list[str]] | None = None):
        """``drop_media``: nothing after this stage reads the windows; else ``keep``: the video and
        audio spec keys the stages after it read (:func:`keep_media`; None: all of them)."""
        self.detectors = [load_detector(d, (resolved or {}).get(d.name), device) for d in build(names, overrides)]
        use_cv2_share()
        self.drop_media = drop_media
        self.keep = keep

    def __call__(self, batch: pd.DataFrame) -> pd.DataFrame:
        return to_frame(self.detect_rows(from_frame(batch)))

    def detect_rows(self, rows: list[dict]) -> list[dict]:
        """Add each detector's hits to the rows (or the reason a detector failed on a window)."""
        faults.inject("detect", {r["item_id"] for r in rows})
        by_item: dict[str, list[dict]] = {}
        for r in rows:
            if not r["error"] and r["info"] is not None:
                by_item.setdefault(r["item_id"], []).append(r)
        for group in by_item.values():
            started = time.perf_counter()
            results, seconds = runner.detect(self.detectors, [r["media"] for r in group],
                                             [r["window_index"] for r in group], group[0]["info"])
            share = (time.perf_counter() - started) / len(group)
            for r, res in zip(group, results):
                r["work_s"] += share
                for name, sec in seconds.items():
                    _add(r["profile"], f"detect:{name}", sec / len(group))
                if isinstance(res, str):
                    r["error"] = res
                else:
                    r["hits"] = list(r["hits"]) + res
        hand_on(rows, self.drop_media, self.keep)
        return rows


_KEPT: dict[tuple, DetectStage] = {}
KEPT_STAGES = 2  # a worker process keeps this many detector groups loaded (a scan uses one)


def kept_stage(kwargs: dict) -> DetectStage:
    """The decode task's detectors, built once per worker process and kept for its later tasks:
    Ray reuses a task's worker process, and a learned detector's weights (resolved to one registry
    version per run) need loading only once per process, not once per batch of windows. Keyed by
    everything that builds them: a later scan with other settings or another version gets its own."""
    import json

    resolved = kwargs.get("resolved") or {}
    key = (json.dumps({k: v for k, v in kwargs.items() if k != "resolved"}, sort_keys=True, default=repr),
           tuple(sorted((n, repr(m)) for n, m in resolved.items())))  # a ResolvedModel's repr leaves its files out
    stage = _KEPT.get(key)
    if stage is None:
        while len(_KEPT) >= KEPT_STAGES:
            _KEPT.pop(next(iter(_KEPT)))
        stage = _KEPT[key] = DetectStage(**kwargs)
    return stage


def decode_batch(batch: pd.DataFrame, video_specs, audio_specs, backend: str, dsp: dict | None = None,
                 drop_media: bool = False, chunk_windows: int | None = None,
                 keep: tuple[list[str], list[str]] | None = None) -> pd.DataFrame:
    """Decode a batch of windows; with ``dsp`` (DetectStage arguments) also run the signal-processing
    detectors (and, on a CPU-only cluster, the learned ones) right here, where the frames already are. ``drop_media``: no detector runs, and the
    decoded windows are dropped here as the in-decode detectors drop theirs (decoding's own cost).
    ``chunk_windows``: the windows never leave this task (``dsp`` drops them, or ``drop_media``),
    so a whole block is decoded in one pass per item and handed to the detectors this many windows
    at a time, each chunk's frames dropped before the next is decoded (None: each item's windows
    of the batch at once). ``keep``: the spec keys the detector pools after this task read; the
    windows leave it with only those (:func:`keep_media`)."""
    rows = from_frame(batch)
    decoder = DecodeStage(video_specs, audio_specs, backend)
    detector = kept_stage(dsp) if dsp else None  # on the decoded windows, no pickling round trip
    for part in decoder.decode_chunks(rows, chunk_windows or max(1, len(rows))):
        if detector is not None:
            detector.detect_rows(part)
        hand_on(part, drop_media, keep)
    return to_frame(rows)
