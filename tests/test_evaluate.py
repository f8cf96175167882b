"""The event-level scorer on hand-made findings and labels."""

import pandas as pd

from rayqa.cli import main
from rayqa.evaluate import score


def _df(rows):
    return pd.DataFrame(rows, columns=["item_id", "defect", "start_s", "end_s"])


def test_recall_and_precision_per_defect():
    labels = _df([("a", "black_frames", 3.0, 6.0), ("b", "black_frames", 1.0, 2.0), ("a", "audio_silence", 2.0, 5.0)])
    findings = _df([("a", "black_frames", 3.1, 5.9),       # matches
                    ("a", "black_frames", 9.0, 10.0),      # false alarm
                    ("b", "audio_silence", 1.0, 2.0),      # right time, wrong defect: no match
                    ("a", "audio_silence", 5.3, 6.0)])     # within the 0.5 s tolerance of the end
    t = score(findings, labels, tolerance_s=0.5).set_index("defect")
    assert t.loc["black_frames", "recall"] == 0.5 and t.loc["black_frames", "precision"] == 0.5
    assert t.loc["audio_silence", "recall"] == 1.0 and t.loc["audio_silence", "precision"] == 0.5
    strict = score(findings, labels, tolerance_s=0.0).set_index("defect")
    assert strict.loc["audio_silence", "labels_found"] == 0


def test_items_limit_and_empty_sides():
    labels = _df([("a", "video_freeze", 1.0, 3.0), ("zzz", "video_freeze", 1.0, 3.0)])
    t = score(_df([]), labels, items=["a"]).set_index("defect")
    assert t.loc["video_freeze", "labels"] == 1 and t.loc["video_freeze", "recall"] == 0.0
    assert pd.isna(t.loc["video_freeze", "precision"])


def test_cli_evaluate(tmp_path, capsys):
    (tmp_path / "scan" / "findings").mkdir(parents=True)
    _df([("a", "black_frames", 3.0, 6.0)]).to_parquet(tmp_path / "scan" / "findings" / "part-1.parquet")
    _df([("a", "black_frames", 3.0, 6.0)]).to_parquet(tmp_path / "labels.parquet")
    assert main(["evaluate", "--findings", str(tmp_path / "scan"), "--labels", str(tmp_path / "labels.parquet"),
                 "--json", str(tmp_path / "t.json")]) == 0
    out = capsys.readouterr().out
    assert "black_frames" in out and "1.000" in out
    assert pd.read_json(tmp_path / "t.json")["recall"].iloc[0] == 1.0
    assert main(["evaluate", "--findings", str(tmp_path / "nope"), "--labels", str(tmp_path / "labels.parquet")]) == 2
