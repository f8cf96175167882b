"""Caption detectors in a real scan and through the HTTP service: an MP4 with speech (recorded voice
clips and espeak-ng at known times, rayqa/simulate/captions.py) and caption sidecars named by the
manifest (or uploaded in the multipart field ``captions``): true cues, the same cues late by 1 s,
a cue overlapping the next, a cue over silence, an absent file and random bytes."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import requests

from conftest import write_manifest
from rayqa.simulate.captions import SimCue, caption_scene, to_srt, to_vtt
from rayqa.synth import encode

CAPTION_DETECTORS = ["caption_file", "caption_timing", "caption_reading_speed", "caption_speech_mismatch"]


@pytest.fixture(scope="module")
def captioned(tmp_path_factory):
    """One 12-s item with speech, its true cues, and caption files with known defects."""
    root = tmp_path_factory.mktemp("captioned")
    rng = np.random.default_rng(3)
    speech, truth, _ = caption_scene(12.0, 48000, rng, "train", needs=("long", "pause"))
    assert len(truth) >= 3
    fps, w, h = 25, 160, 96
    t = np.arange(int(12.0 * fps))
    frames = np.stack([np.full((h, w, 3), 40 + (i % 50) * 3, np.uint8) for i in t])
    frames[:, :, :, 1] = (np.arange(w)[None, None, :] + t[:, None, None] * 2) % 256
    media = encode(root / "talk.mp4", frames, fps, w, h, np.repeat(speech[None, :], 2, axis=0), 48000, 50)
    # a cue over the longest speechless stretch, and a cue run into the next one
    edges = [0.0] + [x for c in truth for x in (c.start_s, c.end_s)] + [12.0]
    a, b = max(((edges[k], edges[k + 1]) for k in range(0, len(edges), 2)), key=lambda g: g[1] - g[0])
    assert b - a >= 2.5
    ghost = SimCue(round(a + 0.5, 3), round(a + 2.0, 3), "Nobody says this.", a + 0.5, a + 0.5, "test")
    late = [replace(c, start_s=c.start_s + 1.0, end_s=c.end_s + 1.0) for c in truth]
    late = [c for c in late if c.end_s <= 11.9]  # none past the end: one defect in this file
    overlap = list(truth)
    overlap[0] = replace(truth[0], end_s=round(truth[1].start_s + 0.4, 3))
    files = {
        "true.srt": to_srt(truth).encode(),
        "late.vtt": to_vtt(late).encode(),
        "overlap.srt": to_srt(overlap, crlf=True).encode("utf-8-sig"),
        "ghost.srt": to_srt(sorted(truth + [ghost], key=lambda c: c.start_s)).encode(),
        "noise.srt": np.random.default_rng(0).bytes(4000),
    }
    for name, data in files.items():
        (root / name).write_bytes(data)
    return {"root": root, "media": media, "truth": truth, "late": late, "ghost": ghost,
            "overlap_span": (truth[1].start_s, overlap[0].end_s)}


@pytest.fixture(scope="module")
def scanned(captioned, ray_local):
    from rayqa.pipeline import run_scan

    root = captioned["root"]
    names = ["true", "late", "overlap", "ghost", "noise", "gone", "none"]
    sidecar = {"true": "true.srt", "late": "late.vtt", "overlap": "overlap.srt", "ghost": "ghost.srt",
               "noise": "noise.srt", "gone": "gone.srt", "none": ""}
    rows = [{"item_id": n, "uri": str(captioned["media"]), "captions_uri": sidecar[n]} for n in names]
    manifest = write_manifest(root / "m.csv", rows)  # captions_uri relative to the manifest
    result = run_scan(manifest, root / "scan", detectors=CAPTION_DETECTORS + ["audio_silence"])
    assert result.counts == {"ok": len(names)}
    found = pd.read_parquet(root / "scan" / "findings")
    items = pd.read_parquet(root / "scan" / "items", dtype_backend="numpy_nullable").set_index("item_id")
    return found, items


def of(found, item):
    f = found[(found["item_id"] == item) & found["defect"].str.startswith("caption")]
    return [(r.defect, json.loads(r.details), r.start_s, r.end_s) for r in f.itertuples()]


def test_true_captions_give_no_finding_and_fill_the_columns(scanned, captioned):
    found, items = scanned
    assert of(found, "true") == []
    row = items.loc["true"]
    assert row["caption_cues"] == len(captioned["truth"]) and row["captions_uri"].endswith("true.srt")
    assert 0.8 <= row["caption_speech_coverage"] <= 1.0
    none = items.loc["none"]  # no sidecar: the caption detectors do not apply
    assert pd.isna(none["caption_cues"]) and pd.isna(none["caption_speech_coverage"]) and of(found, "none") == []


def test_late_captions_are_one_offset_finding(scanned, captioned):
    found, items = scanned
    (defect, details, start, end), = of(found, "late")
    assert defect == "caption_speech_mismatch" and details["kind"] == "offset"
    assert abs(details["offset_ms"] - 1000) <= 150 and details["direction"] == "captions late"
    late = captioned["late"]
    assert abs(start - late[0].start_s) <= 0.2 and abs(end - late[-1].end_s) <= 0.2
    assert items.loc["late", "caption_speech_coverage"] < items.loc["true", "caption_speech_coverage"]


def test_overlap_and_cue_over_silence_found_where_they_are(scanned, captioned):
    found, _ = scanned
    (defect, details, start, end), = of(found, "overlap")
    a, b = captioned["overlap_span"]
    assert defect == "caption_timing" and details["kind"] == "overlap" and details["cue_index"] == 2
    assert abs(start - a) <= 0.2 and abs(end - b) <= 0.2
    (defect, details, start, end), = of(found, "ghost")
    ghost = captioned["ghost"]
    assert defect == "caption_speech_mismatch" and details["kind"] == "cue_without_speech"
    assert details["text"] == "Nobody says this." and abs(start - ghost.start_s) <= 0.2 and abs(end - ghost.end_s) <= 0.2


def test_absent_and_random_files_are_findings_not_failures(scanned):
    found, items = scanned
    assert [(d, x["reason"]) for d, x, _, _ in of(found, "gone")] == [("caption_missing", "not_found")]
    assert [(d, x["reason"]) for d, x, _, _ in of(found, "noise")] == [("caption_malformed", "binary")]
    assert (items.loc[["gone", "noise"], "status"] == "ok").all() and items.loc["noise", "caption_cues"] == 0
    assert pd.isna(items.loc["gone", "caption_cues"]) and items.loc["gone", "has_audio"]


def test_the_service_scores_an_uploaded_caption_file_like_the_scan(scanned, captioned, ray_local):
    from ray import serve

    from rayqa.serve import deploy
    from test_serve import free_port

    found, _ = scanned
    url = deploy(port=free_port(), settings={"max_upload_mb": 5}, detectors=CAPTION_DETECTORS)
    try:
        root = captioned["root"]
        with open(captioned["media"], "rb") as media, open(root / "late.vtt", "rb") as caps:
            r = requests.post(f"{url}/v1/score", files={"file": ("talk.mp4", media, "video/mp4"),
                                                         "captions": ("late.vtt", caps, "text/vtt")},
                              data={"detectors": ",".join(CAPTION_DETECTORS)}, timeout=300)
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["item"]["captions_uri"] == "late.vtt" and body["item"]["caption_cues"] == len(captioned["late"])
        got = [(f["defect"], f["details"]["kind"], f["start_s"], f["end_s"]) for f in body["findings"]]
        want = [(d, x["kind"], s, e) for d, x, s, e in of(found, "late")]
        assert got == want
        with open(captioned["media"], "rb") as media:  # no captions: the caption detectors do not apply
            r = requests.post(f"{url}/v1/score", files={"file": ("talk.mp4", media, "video/mp4")}, timeout=300)
        assert r.status_code == 200 and r.json()["findings"] == [] and r.json()["item"]["caption_cues"] is None
    finally:
        serve.shutdown()
