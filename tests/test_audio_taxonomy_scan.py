"""The audio taxonomy detectors through one real Ray scan of AAC-in-MP4 clips: each defect
injected at a known time is found with the right type and time, clean programme at the EBU R128
target gives nothing, and the loudness columns reach the item summary."""

import json

import numpy as np
import pandas as pd
import pytest

from conftest import write_manifest
from rayqa.pipeline import run_scan
from rayqa.synth import audio_signal, encode

TOL_S = 0.2
SEGMENT_S = 1.0  # "or one segment": the dual-mono and swap checks span whole items
NAMES = ["audio_clipping", "loudness_out_of_range", "audio_channel_fault", "dc_offset", "test_tone"]
DUR = 12.0


def _prog(sr=48000, seed=0, dur=DUR):
    return audio_signal(int(dur * sr), sr, seed).astype(np.float64)


def _span(sr, a, b):
    return slice(int(a * sr), int(b * sr))


def _tone(sr, dur, f, peak_db):
    return 10 ** (peak_db / 20) * np.sin(2 * np.pi * f * np.arange(int(dur * sr)) / sr)


def _clipped(sr):
    x = _prog(sr, seed=1)
    s = _span(sr, 4.0, 7.0)
    x[0, s] = np.clip(x[0, s] * 20.0, -1, 1)  # +26 dB into the limit: hard clipping
    return x, sr


def _five_one_swapped():
    sr = 48000
    st = _prog(sr, seed=5)
    lfe = 0.1 * np.sin(2 * np.pi * 45 * np.arange(st.shape[1]) / sr)
    six = np.vstack([st, 0.7 * st[:1], lfe[None], 0.3 * st])  # FL FR FC LFE BL BR
    six[[2, 3]] = six[[3, 2]]  # centre and LFE swapped
    return six, sr


def _make():
    """(name -> (audio, rate), truths): truth = (defect, start, end, tolerance, check)."""
    sr = 48000
    items, truth, ignore = {}, {}, {}
    items["clean"] = (_prog(sr), sr)
    items["clean_44k"] = (_prog(44100, seed=2), 44100)
    truth["clean"] = truth["clean_44k"] = []

    for name, rate in (("clipped", 48000), ("clipped_44k", 44100)):
        items[name] = _clipped(rate)
        truth[name] = [("audio_clipping", 4.0, 7.0, TOL_S, lambda d: d["channel"] == 0 and d["runs"] >= 10)]
        ignore[name] = {"loudness_out_of_range"}  # a 26 dB louder passage: too loud, true peak over

    x = _prog(sr, seed=3) * 10 ** (9 / 20)  # -14 LUFS
    items["loud"] = (x, sr)
    truth["loud"] = [("loudness_out_of_range", 0.0, DUR, TOL_S,
                      lambda d: d["limit"] == "integrated_loudness" and abs(d["level_db"] + 14.0) < 1.0)]

    x = _prog(sr, seed=4)
    x[1, _span(sr, 3.0, 7.0)] += 0.05
    items["dc"] = (x, sr)
    truth["dc"] = [("dc_offset", 3.0, 7.0, TOL_S, lambda d: d["channel"] == 1 and abs(d["level_db"] + 26.0) < 1.0)]

    x = _prog(sr, seed=6)
    x[:, _span(sr, 4.0, 6.5)] = _tone(sr, 2.5, 1000.0, -21.0)
    items["tone"] = (x, sr)
    truth["tone"] = [("test_tone", 4.0, 6.5, TOL_S, lambda d: abs(d["frequency_hz"] - 1000.0) < 3.0)]

    x = _prog(sr, seed=7)
    x[0, _span(sr, 2.0, 5.0)] = 0.0
    x[1, _span(sr, 7.0, 10.0)] = -x[0, _span(sr, 7.0, 10.0)]
    items["channels"] = (x, sr)
    truth["channels"] = [
        ("audio_channel_fault", 2.0, 5.0, SEGMENT_S, lambda d: d["kind"] == "dead_channel" and d["channels"] == [0]),
        ("audio_channel_fault", 7.0, 10.0, SEGMENT_S, lambda d: d["kind"] == "phase_inverted" and d["correlation"] < -0.9),
    ]

    x = _prog(sr, seed=8)
    x[1] = x[0]
    items["dual_mono"] = (x, sr)
    truth["dual_mono"] = [("audio_channel_fault", 0.0, DUR, SEGMENT_S,
                           lambda d: d["kind"] == "dual_mono" and d["severity"] == "low")]

    items["five_one_swapped"] = _five_one_swapped()
    truth["five_one_swapped"] = [("audio_channel_fault", 0.0, DUR, SEGMENT_S,
                                  lambda d: d["kind"] == "swapped" and d["channels"] == [3])]
    ignore["five_one_swapped"] = {"loudness_out_of_range"}  # five full channels: louder than stereo
    return items, truth, ignore


@pytest.fixture(scope="module")
def scan(ray_local, tmp_path_factory):
    folder = tmp_path_factory.mktemp("audio_taxonomy")
    items, truth, ignore = _make()
    rows = []
    for name, (audio, rate) in items.items():
        path = encode(folder / f"{name}.mp4", None, 25, 320, 180, audio.astype(np.float32), rate)
        rows.append({"item_id": name, "uri": str(path)})
    manifest = write_manifest(folder / "manifest.csv", rows)
    run_scan(manifest, folder / "out", detectors=NAMES)
    return (pd.read_parquet(folder / "out" / "items").set_index("item_id"), pd.read_parquet(folder / "out" / "findings"),
            truth, ignore)


ITEMS = ["clean", "clean_44k", "clipped", "clipped_44k", "loud", "dc", "tone", "channels", "dual_mono",
         "five_one_swapped"]


@pytest.mark.parametrize("item_id", ITEMS)
def test_defects_at_their_times_and_nothing_else(scan, item_id):
    items, findings, truth, ignore = scan
    assert items.loc[item_id, "status"] == "ok"
    f = findings[(findings["item_id"] == item_id) & ~findings["defect"].isin(ignore.get(item_id, set()))]
    rows = [(r.defect, r.start_s, r.end_s, json.loads(r.details)) for r in f.itertuples()]
    assert len(rows) == len(truth[item_id]), rows
    for defect, start, end, tol, check in truth[item_id]:
        match = [r for r in rows if r[0] == defect and abs(r[1] - start) <= tol and abs(r[2] - end) <= tol and check(r[3])]
        assert len(match) == 1, (defect, start, end, rows)
    assert ((f["score"] >= 0) & (f["score"] <= 1)).all() and (f["model"] == "dsp").all()


def test_loudness_columns_in_the_item_summary(scan):
    items, _, _, _ = scan
    for col in ("loudness_lufs", "loudness_range_lu", "true_peak_dbtp"):
        assert str(items[col].dtype) == "float64"
    assert items.loc["clean", "loudness_lufs"] == pytest.approx(-23.0, abs=0.5)
    assert items.loc["clean_44k", "loudness_lufs"] == pytest.approx(-23.0, abs=0.5)
    assert items.loc["loud", "loudness_lufs"] == pytest.approx(-14.0, abs=0.5)
    assert items.loc["clean", "true_peak_dbtp"] < -10.0 and items.loc["clipped", "true_peak_dbtp"] > -1.0
    assert 0.0 <= items.loc["clean", "loudness_range_lu"] < 5.0
