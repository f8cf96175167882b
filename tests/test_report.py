"""rayqa report, looked at as a person would: evidence cut from real media, and one small real scan's
report rendered in headless Chromium (Debian's `chromium`), checked from its DOM and screenshot."""

import base64
import io
import json
import re
import shutil

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from PIL import Image

from conftest import write_manifest
from rayqa.cli import main
from rayqa.evidence import (EvidenceOptions, draw_block_map, finding_evidence, item_evidence, parse_block_map,
                            spectrogram_db, spectrogram_image, thumbnail_times)
from rayqa.report.chromium import dump_dom, find_chromium, screenshot


def decode(uri: str) -> Image.Image:
    head, b64 = uri.split(",", 1)
    assert head.startswith("data:image/") and head.endswith(";base64")
    return Image.open(io.BytesIO(base64.b64decode(b64)))


# -- pure drawing ----------------------------------------------------------------------------------

def test_thumbnail_times_around_and_inside():
    assert thumbnail_times(3.0, 6.0, 12.0, 25, 5, 1.0) == [
        (2.0, "before"), (3.5, "inside"), (4.5, "inside"), (5.5, "inside"), (7.0, "after")]
    peak = thumbnail_times(3.0, 6.0, 12.0, 25, 5, 1.0, peak_s=5.2)
    assert (5.2, "peak") in peak and (5.5, "inside") not in peak
    # At the head nothing comes before; at the tail nothing after, and nothing past the last frame.
    assert [w for _, w in thumbnail_times(0.0, 2.0, 12.0, 25)] == ["inside"] * 3 + ["after"]
    tail = thumbnail_times(10.0, 12.0, 12.0, 25)
    assert [w for _, w in tail] == ["before"] + ["inside"] * 3 and max(t for t, _ in tail) <= 12.0 - 1 / 25


def test_block_map_drawn_over_its_cells():
    cells = parse_block_map("10/00")
    assert cells.tolist() == [[True, False], [False, False]]
    img = draw_block_map(Image.new("RGB", (100, 60), (128, 128, 128)), cells)
    a = np.asarray(img).astype(int)
    hot, cold = a[5:25, 5:45], a[35:55, 55:95]
    assert hot[..., 0].mean() > hot[..., 1].mean() + 40  # red over the corrupted cell
    assert np.abs(cold - 128).max() == 0  # the rest of the frame untouched
    with pytest.raises(ValueError):
        parse_block_map("10/0")


def test_spectrogram_of_a_tone_silence_and_no_audio():
    sr = 16000
    t = np.arange(sr) / sr
    tone = np.sin(2 * np.pi * 1000 * t)
    db = spectrogram_db(tone, sr)
    assert abs(int(np.argmax(db[:, 10])) - round(1000 / (sr / 512))) <= 1
    assert db[:, 10].max() == pytest.approx(0.0, abs=1.5)  # full-scale sine: 0 dB
    x = np.concatenate([tone, np.zeros(sr), np.full(sr, np.nan)])
    db = spectrogram_db(x, sr)
    img = spectrogram_image(db, 0.0, 160 / sr, width=300, height=64, marks_s=[1.0, 2.0])
    idx = np.asarray(img)
    levels = idx[:-4]  # above the second ticks
    loud, silent, missing = levels[:, 20:80], levels[:, 120:180], levels[:, 220:280]
    assert loud.max() > 200 and silent.max() < 40  # absolute scale: silence is dark
    assert (missing == 250).all()  # no audio: grey
    rgb = np.asarray(img.convert("RGB"))
    cyan = [x for x in range(300) if (rgb[::2, x] == (0, 255, 255)).all()]
    assert len(cyan) == 2 and abs(cyan[0] - 100) <= 2 and abs(cyan[1] - 200) <= 3  # start and end, dashed cyan


# -- evidence from real media ------------------------------------------------------------------------

def test_black_frames_evidence_shows_black_inside_only(clips):
    ev = finding_evidence(str(clips["black"]), {"defect": "black_frames", "start_s": 3.0, "end_s": 6.0,
                                                "details": "{}"}, 12.0)
    assert ev["unavailable"] is None and not ev["spectrograms"]
    where = {t["where"]: t for t in ev["thumbnails"]}
    assert [t["time_s"] for t in ev["thumbnails"]] == [2.0, 3.5, 4.5, 5.5, 7.0]
    for t in ev["thumbnails"]:
        img = decode(t["data_uri"])
        assert img.format == "JPEG" and img.width == EvidenceOptions().thumb_width
        luma = np.asarray(img.convert("L")).mean()
        assert (luma < 20) == (t["where"] == "inside"), (t["time_s"], luma)
    assert where["before"]["overlay"] is None


def test_block_corruption_evidence_has_the_map_on_its_peak_frame(clips):
    details = {"time_s": 8.2, "corrupted_area_ratio": 0.1, "map_cells": "/".join(["1100000000"] + ["0" * 10] * 5)}
    ev = finding_evidence(str(clips["clean"]), {"defect": "block_corruption", "start_s": 8.0, "end_s": 8.6,
                                                "details": json.dumps(details)}, 12.0)
    peak = [t for t in ev["thumbnails"] if t["where"] == "peak"]
    assert len(peak) == 1 and peak[0]["time_s"] == 8.2 and "2 of 60 cells" in peak[0]["overlay"]
    assert decode(peak[0]["data_uri"]).width == EvidenceOptions().map_width
    # Without a map in the details: frames, and a note that says so.
    ev = finding_evidence(str(clips["clean"]), {"defect": "block_corruption", "start_s": 8.0, "end_s": 8.6,
                                                "details": {"corrupted_area_ratio": 0.12}}, 12.0)
    assert ev["thumbnails"] and any("no block map" in n for n in ev["notes"])


def test_silence_evidence_is_a_dark_band_in_the_spectrogram(clips):
    ev = finding_evidence(str(clips["silence"]), {"defect": "audio_silence", "start_s": 2.0, "end_s": 5.0}, 12.0)
    assert not ev["thumbnails"] and len(ev["spectrograms"]) == 1
    s = ev["spectrograms"][0]
    assert (s["start_s"], s["end_s"], s["marks_s"]) == (0.0, 8.0, [2.0, 5.0])
    img = decode(s["data_uri"])
    assert img.format == "PNG"
    level = np.asarray(img.convert("L")).astype(float)[:-4]
    x = lambda t: int(t / 8.0 * img.width)
    assert level[:, x(2.5):x(4.5)].mean() < 15 < level[:, x(0.2):x(1.8)].mean()


def test_long_audio_finding_gets_two_bounded_snippets(clips):
    ev = finding_evidence(str(clips["clean"]), {"defect": "audio_hum", "start_s": 0.5, "end_s": 11.5}, 12.0,
                          EvidenceOptions(spectrogram_max_s=8.0))
    assert [(s["start_s"], s["end_s"]) for s in ev["spectrograms"]] == [(0.0, 1.5), (10.5, 12.0)] or \
        all(s["end_s"] - s["start_s"] <= 4.0 for s in ev["spectrograms"])
    assert len(ev["spectrograms"]) == 2


def test_media_gone_is_a_marker_not_an_error(clips, tmp_path):
    f = {"defect": "black_frames", "start_s": 1.0, "end_s": 2.0}
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    text = tmp_path / "notes.mp4"
    text.write_text("not media at all\n" * 50)
    for uri, why in [(tmp_path / "gone.mp4", "file not found"), (empty, "empty file"), (tmp_path, "directory"),
                     (text, "not a media file"), (None, "no uri")]:
        ev = item_evidence(None if uri is None else str(uri), [f, f])
        assert len(ev) == 2 and all(e["unavailable"].startswith("media unavailable: ") for e in ev)
        assert why in ev[0]["unavailable"] and not ev[0]["thumbnails"]
    ev = finding_evidence(str(clips["audio_only"]), f, 8.0)
    assert ev["unavailable"] is None and ev["notes"] == ["no video stream in the media"]


# -- one real scan, its report in Chromium -----------------------------------------------------------

POLICY = '[[rules]]\nname = "marked intentional"\ndefects = ["black_frames"]\nwhen = { intentional_black = true }\n'


@pytest.fixture(scope="module")
def report(ray_local, clips, tmp_path_factory):
    from rayqa.pipeline import run_scan

    root = tmp_path_factory.mktemp("report")
    gone = root / "gone.mp4"
    shutil.copy(clips["black"], gone)
    manifest = write_manifest(root / "manifest.csv", [
        {"item_id": "black", "uri": str(clips["black"]), "intentional_black": False},
        {"item_id": "silence", "uri": str(clips["silence"]), "intentional_black": False},
        {"item_id": "gone", "uri": str(gone), "intentional_black": True},
        {"item_id": "missing", "uri": str(root / "no_such.mp4"), "intentional_black": False}])
    scan = root / "scan"
    run_scan(manifest, scan, detectors=["black_frames", "audio_silence"])
    gone.unlink()  # media moved since the scan: the report must say so and go on
    # An "earlier scan": the black finding 1 s later, no silence found.
    before = root / "before"
    shutil.copytree(scan, before)
    for part in (before / "findings").glob("part-*.parquet"):
        t = pq.read_table(part).to_pandas()
        t = t[t["defect"] != "audio_silence"]
        t.loc[t["item_id"] == "black", "start_s"] += 1.0
        t.to_parquet(part, index=False)
    policy = root / "policy.toml"
    policy.write_text(POLICY)
    out = root / "report.html"
    assert main(["report", str(scan), "--out", str(out), "--policy", str(policy), "--diff", str(before)]) == 0
    return out, scan


def test_report_is_one_self_contained_file(report):
    out, scan = report
    text = out.read_text()
    from plotly.offline import get_plotlyjs

    js = get_plotlyjs()
    assert text.count(js[len(js) // 2:len(js) // 2 + 200]) == 1  # plotly.js inlined, once
    assert not re.search(r"<(script|link|img|iframe)[^>]+(src|href)=[\"']https?:", text)
    findings = pd.read_parquet(scan / "findings")
    assert set(findings["defect"]) == {"black_frames", "audio_silence"}  # what the page is about


@pytest.fixture(scope="module")
def dom(report):
    if find_chromium() is None:
        pytest.skip("chromium is not installed (apt-get install -y chromium; `make system-deps`)")
    text, _ = dump_dom(report[0])
    return text


def test_dom_has_overview_timeline_and_evidence(dom):
    assert 'id="overview"' in dom and "Items by status" in dom
    assert 'data-rayqa-ready="1"' in dom  # the page's script ran
    assert 'id="timeline-figure"' in dom and "main-svg" in dom  # plotly drew the timeline figure
    rows = re.findall(r'<div class="timeline" title="[^"\'+]*">(.*?)</div>', dom)  # drawn rows, not the script
    assert len(rows) == 4 and sum(r.count("<span") for r in rows) == 3  # every item, its findings placed on it
    assert re.search(r'<img class="thumb"[^>]*src="data:image/jpeg;base64,', dom)
    assert re.search(r'<img class="spectrogram"[^>]*src="data:image/png;base64,', dom)
    assert "media unavailable: file not found" in dom  # gone.mp4, deleted after the scan
    for section in ("av-sync", "items", "findings", "suppressed", "diff"):
        assert f'id="{section}"' in dom


def test_dom_sets_suppressed_findings_apart(dom):
    sup = dom.split('id="suppressed"', 1)[1].split("</section>", 1)[0]
    assert "marked intentional" in sup and ">gone<" in sup
    table = dom.split('id="findings-table"', 1)[1].split("</section>", 1)[0]
    assert ">black<" in table and ">silence<" in table and ">gone<" not in table


def test_dom_has_the_diff(dom):
    diff = dom.split('id="diff"', 1)[1].split("</section>", 1)[0]
    assert "moved" in diff and "appeared" in diff and "+1.00" not in diff and "-1.00" in diff


def test_screenshot_is_not_blank(report, tmp_path):
    if find_chromium() is None:
        pytest.skip("chromium is not installed (apt-get install -y chromium; `make system-deps`)")
    png = tmp_path / "report.png"
    screenshot(report[0], png, 1400, 2000)
    img = Image.open(png).convert("RGB")
    assert img.size == (1400, 2000)
    a = np.asarray(img)
    assert a.std() > 20 and len(np.unique(a.reshape(-1, 3)[::7], axis=0)) > 100
    shutil.copy(png, report[0].with_suffix(".png"))  # beside the report, for a person to look at
