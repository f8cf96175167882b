"""rayqa diff: appeared, disappeared and moved findings between two scan folders (Parquet written
directly with the real schemas: no media scan needed)."""

import json

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from rayqa.cli import main
from rayqa.columns import FINDINGS_SCHEMA, item_column_names, items_schema
from rayqa.diff import diff_findings, diff_scans, format_diff


def f(item, defect, s, e, score=0.9):
    return {"run_id": "r", "item_id": item, "detector": defect, "defect": defect, "start_s": s, "end_s": e,
            "score": score, "model": "dsp", "model_version": "1", "details": "{}"}


def write_scan(folder, run_id, item_ids, findings):
    (folder / "items").mkdir(parents=True)
    (folder / "findings").mkdir(parents=True)
    rows = [{**{c: None for c in item_column_names()}, "run_id": run_id, "item_id": i, "uri": f"/m/{i}.mp4",
             "status": "ok", "duration_s": 60.0, "n_findings": 0} for i in item_ids]
    pq.write_table(pa.Table.from_pylist(rows, schema=items_schema()), folder / "items" / "part-0.parquet")
    pq.write_table(pa.Table.from_pylist([{**x, "run_id": run_id} for x in findings], schema=FINDINGS_SCHEMA),
                   folder / "findings" / "part-0.parquet")
    (folder / "run.json").write_text(json.dumps({"run_id": run_id}))
    return folder


def test_pairs_moves_and_tolerance():
    a = pd.DataFrame([f("x", "black_frames", 3.0, 6.0), f("x", "black_frames", 20.0, 25.0),
                      f("x", "audio_silence", 2.0, 5.0), f("y", "video_freeze", 1.0, 4.0)])
    b = pd.DataFrame([f("x", "black_frames", 3.4, 6.5),  # within 0.5 s both ends: unchanged
                      f("x", "black_frames", 20.0, 26.0),  # end moved by 1 s
                      f("x", "audio_silence", 2.0, 5.0), f("x", "audio_silence", 40.0, 42.0),  # a new one
                      ])  # y's freeze is gone
    changes, by_defect = diff_findings(a, b)
    got = sorted((r.change, r.item_id, r.defect, None if pd.isna(r.start_s_a) else r.start_s_a,
                  None if pd.isna(r.start_s_b) else r.start_s_b) for r in changes.itertuples())
    assert got == [("appeared", "x", "audio_silence", None, 40.0), ("disappeared", "y", "video_freeze", 1.0, None),
                   ("moved", "x", "black_frames", 20.0, 20.0)]
    moved = changes[changes["change"] == "moved"].iloc[0]
    assert moved["delta_start_s"] == 0.0 and moved["delta_end_s"] == pytest.approx(1.0)
    table = by_defect.set_index("defect")
    assert table.loc["black_frames", "moved"] == 1 and table.loc["black_frames", "unchanged"] == 1
    assert table.loc["audio_silence", "appeared"] == 1 and table.loc["audio_silence", "unchanged"] == 1
    assert table.loc["video_freeze", "disappeared"] == 1


def test_far_apart_is_gone_and_new_not_moved():
    a = pd.DataFrame([f("x", "black_frames", 3.0, 6.0)])
    b = pd.DataFrame([f("x", "black_frames", 30.0, 33.0)])
    changes, _ = diff_findings(a, b)
    assert sorted(changes["change"]) == ["appeared", "disappeared"]


def test_closest_pairs_first():
    # Two findings close together in both scans: each pairs with its own, not crosswise.
    a = pd.DataFrame([f("x", "black_frames", 10.0, 12.0), f("x", "black_frames", 12.2, 14.0)])
    b = pd.DataFrame([f("x", "black_frames", 10.1, 12.1), f("x", "black_frames", 12.3, 14.1)])
    changes, by_defect = diff_findings(a, b)
    assert changes.empty and by_defect.iloc[0]["unchanged"] == 2


def test_identical_scans_have_no_changes():
    a = pd.DataFrame([f("x", "black_frames", 3.0, 6.0)])
    changes, by_defect = diff_findings(a, a.copy())
    assert changes.empty and by_defect.iloc[0]["unchanged"] == 1


def test_scans_only_compare_items_both_hold(tmp_path):
    a = write_scan(tmp_path / "a", "run-a", ["x", "old"], [f("x", "black_frames", 3, 6), f("old", "black_frames", 1, 4)])
    b = write_scan(tmp_path / "b", "run-b", ["x", "new"], [f("x", "black_frames", 4, 7), f("new", "audio_silence", 1, 4)])
    d = diff_scans(a, b)
    assert d.items_compared == 1 and d.items_only_a == ["old"] and d.items_only_b == ["new"]
    assert d.changes[["change", "item_id"]].values.tolist() == [["moved", "x"]]
    text = format_diff(d)
    assert "run-a → run-b" in text and "1 items only in A, 1 only in B" in text and "+1.00" in text


def test_cli_prints_and_writes(tmp_path, capsys):
    a = write_scan(tmp_path / "a", "run-a", ["x"], [f("x", "black_frames", 3, 6)])
    b = write_scan(tmp_path / "b", "run-b", ["x"], [f("x", "audio_silence", 1, 3)])
    out = tmp_path / "changes.csv"
    assert main(["diff", str(a), str(b), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "appeared" in printed and "disappeared" in printed
    table = pd.read_csv(out)
    assert sorted(table["change"]) == ["appeared", "disappeared"]
    assert main(["diff", str(a), str(tmp_path / "nope")]) == 2
    assert "not a scan folder" in capsys.readouterr().err
    assert main(["diff", str(a), str(b), "--out", str(tmp_path / "x.txt")]) == 2
