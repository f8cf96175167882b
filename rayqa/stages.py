"""The pipeline's stages as plain functions and classes over pandas batches of window rows.

A row is one window of one item: ``item_id, uri, info, window_index, n_windows, t0, t1, media,
hits, error, work_s``. ``media`` carries the decoded window (pickled) between the decode tasks and
the detector actors; the last detector stage drops it, so only hits reach the driver.
"""

from __future__ import annotations

import json
import pickle
import time
import traceback

import pandas as pd

from rayqa import faults, media
from rayqa.detectors import build
from rayqa.detectors.base import Detector
from rayqa.types import AudioSpec, Hit, ItemInfo, VideoSpec, Window

ROW_COLUMNS = ("item_id", "uri", "info", "window_index", "n_windows", "t0", "t1", "media", "hits", "error", "work_s")


def _row(item_id: str, uri: str, info: str = "", window_index: int = 0, n_windows: int = 1,
         t0: float = 0.0, t1: float = 0.0, error: str = "", work_s: float = 0.0) -> dict:
    return {"item_id": item_id, "uri": uri, "info": info, "window_index": window_index, "n_windows": n_windows,
            "t0": t0, "t1": t1, "media": b"", "hits": "[]", "error": error, "work_s": work_s}


def plan_item(item: dict, window_s: float, max_windows: int) -> list[dict]:
    """Probe one item and cut it into windows. An item that cannot be opened becomes one error row."""
    started = time.perf_counter()
    item_id, uri = item["item_id"], item["uri"]
    try:
        info = media.probe(uri)
    except media.MediaError as e:
        return [_row(item_id, uri, error=str(e), work_s=time.perf_counter() - started)]
    except Exception as e:  # a bug or an exotic container: fail the item, not the run
        return [_row(item_id, uri, error=f"probe failed: {type(e).__name__}: {media._one_line(e)}",
                     work_s=time.perf_counter() - started)]
    spans = media.plan_windows(info, window_s)
    if len(spans) > max_windows:
        return [_row(item_id, uri, info.to_json(), error=f"item too long: {len(spans)} windows > {max_windows}")]
    info_json = info.to_json()
    work = (time.perf_counter() - started) / len(spans)
    return [_row(item_id, uri, info_json, i, len(spans), t0, t1, work_s=work) for i, (t0, t1) in enumerate(spans)]


def input_specs(detectors: list[Detector]) -> tuple[list[VideoSpec], list[AudioSpec]]:
    video = sorted({d.video for d in detectors if d.video is not None}, key=lambda s: s.key)
    audio = sorted({d.audio for d in detectors if d.audio is not None}, key=lambda s: s.key)
    return video, audio


class DecodeStage:
    """Decode consecutive windows of an item in one pass (a Ray Data task, CPU)."""

    def __init__(self, video_specs: list[VideoSpec], audio_specs: list[AudioSpec], backend: str = "pyav"):
        self.video_specs, self.audio_specs, self.backend = video_specs, audio_specs, backend

    def __call__(self, batch: pd.DataFrame) -> pd.DataFrame:
        return to_frame(self.decode_rows(batch.to_dict("records")))

    def decode_rows(self, rows: list[dict]) -> list[dict]:
        """Set each row's ``media`` to its decoded :class:`Window` (serialised only by :func:`to_frame`)."""
        faults.inject("decode", {r["item_id"] for r in rows})
        for group in _contiguous_groups(rows):
            first = group[0]
            if first["error"] or not first["info"]:
                continue
            started = time.perf_counter()
            info = ItemInfo.from_json(first["info"])
            try:
                windows = media.decode_windows(
                    first["uri"], info, [(r["t0"], r["t1"]) for r in group], self.video_specs, self.audio_specs,
                    item_id=first["item_id"], backend=self.backend,
                )
            except media.MediaError as e:
                for r in group:
                    r["error"] = f"cannot decode: {e}"
                continue
            except Exception as e:
                for r in group:
                    r["error"] = f"decode failed: {type(e).__name__}: {media._one_line(e)}"
                continue
            per = (time.perf_counter() - started) / len(group)
            for r, w in zip(group, windows):
                r["media"] = w
                r["work_s"] += per
        return rows


def to_frame(rows: list[dict]) -> pd.DataFrame:
    """Rows as a batch for the next stage; decoded windows travel pickled."""
    for r in rows:
        if isinstance(r["media"], Window):
            r["media"] = pickle.dumps(r["media"], protocol=5)
    return pd.DataFrame(rows, columns=ROW_COLUMNS)


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


class DetectStage:
    """Run a group of detectors on decoded windows (a Ray Data actor: weights load once)."""

    def __init__(self, names: list[str], overrides: dict, resolved: dict | None = None, drop_media: bool = True,
                 device: str = "cpu"):
        self.detectors = build(names, overrides)
        for d in self.detectors:
            d.load((resolved or {}).get(d.name), device=device)
        self.drop_media = drop_media

    def __call__(self, batch: pd.DataFrame) -> pd.DataFrame:
        return to_frame(self.detect_rows(batch.to_dict("records")))

    def detect_rows(self, rows: list[dict]) -> list[dict]:
        """Add each detector's hits to the rows; ``media`` is a Window, its pickle, or empty."""
        faults.inject("detect", {r["item_id"] for r in rows})
        ready = []
        for r in rows:
            if r["error"] or not r["info"]:
                continue
            info = ItemInfo.from_json(r["info"])
            window = r["media"]
            if isinstance(window, bytes):
                window = pickle.loads(window) if window else None
            ready.append((r, window, info))
        for det in self.detectors:
            started = time.perf_counter()
            todo = [(r, w, info) for r, w, info in ready if not r["error"] and det.applies_to(info)]
            results = self._run(det, todo)
            share = (time.perf_counter() - started) / max(1, len(todo))
            for (r, _, _), res in zip(todo, results):
                r["work_s"] += share
                if isinstance(res, str):
                    r["error"] = res
                elif res:
                    hits = json.loads(r["hits"])
                    hits.extend({"detector": det.name, **h.to_json()} for h in res)
                    r["hits"] = json.dumps(hits)
        if self.drop_media:
            for r in rows:
                r["media"] = b""
        return rows

    @staticmethod
    def _run(det: Detector, todo: list) -> list:
        """Hits per window, or an error string for the windows whose detector failed."""
        out: list = []
        windowed = [(w, info) for _, w, info in todo if w is not None]
        try:
            batch_hits = iter(det(windowed)) if windowed else iter(())
        except Exception as e:
            return [f"detector {det.name} failed: {type(e).__name__}: {media._one_line(e)}"] * len(todo)
        for r, w, info in todo:
            try:
                hits = next(batch_hits) if w is not None else []
                if r["window_index"] == 0:
                    hits = list(hits) + det.check_item(info)
                out.append(hits)
            except Exception as e:
                traceback.print_exc()
                out.append(f"detector {det.name} failed: {type(e).__name__}: {media._one_line(e)}")
        return out


def hits_of(row_hits: str) -> list[tuple[str, Hit]]:
    return [(h.pop("detector"), Hit.from_json(h)) for h in json.loads(row_hits)]
