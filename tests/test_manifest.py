"""Manifests: three formats, validation before any work, pass-through columns."""

import json

import pandas as pd
import pytest

from rayqa.cli import main
from rayqa.manifest import ManifestError, read_manifest


def test_formats_and_item_id_stays_string(tmp_path):
    rows = [{"item_id": "007", "uri": "a.mp4", "title": "A"}, {"item_id": "10", "uri": "/abs/b.mp4", "title": "B"}]
    pd.DataFrame(rows).to_csv(tmp_path / "m.csv", index=False)
    pd.DataFrame(rows).to_parquet(tmp_path / "m.parquet")
    (tmp_path / "m.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    for name in ["m.csv", "m.parquet", "m.jsonl"]:
        df = read_manifest(tmp_path / name)
        assert list(df["item_id"]) == ["007", "10"], name
        assert df["uri"].iloc[0] == str(tmp_path / "a.mp4")  # relative to the manifest's folder
        assert df["uri"].iloc[1] == "/abs/b.mp4"
        assert list(df["title"]) == ["A", "B"]


def test_uri_schemes_kept(tmp_path):
    pd.DataFrame({"item_id": ["a", "b", "c"], "uri": ["s3://bucket/a.mp4", "https://host/b.mp4", "file:///x/c.mp4"]}
                 ).to_csv(tmp_path / "m.csv", index=False)
    assert list(read_manifest(tmp_path / "m.csv")["uri"]) == ["s3://bucket/a.mp4", "https://host/b.mp4", "/x/c.mp4"]


def test_colliding_columns_are_prefixed(tmp_path):
    pd.DataFrame({"item_id": ["a"], "uri": ["a.mp4"], "status": ["draft"], "duration_s": [3.0]}).to_csv(tmp_path / "m.csv", index=False)
    df = read_manifest(tmp_path / "m.csv")
    assert "manifest_status" in df.columns and "manifest_duration_s" in df.columns and "status" not in df.columns


@pytest.mark.parametrize("content,message", [
    ("uri\na.mp4\n", "lacks required column(s) item_id"),
    ("item_id,uri\n", "has no rows"),
    ("item_id,uri\na,a.mp4\nb,b.mp4\na,c.mp4\n", "duplicate item_id 'a' at rows 1, 3"),
    ("item_id,uri\na,a.mp4\n,b.mp4\n", "empty item_id at row 2"),
    ("item_id,uri\na,a.mp4\nb,\n", "empty uri at row 2"),
])
def test_malformed_manifest_refused(tmp_path, content, message):
    (tmp_path / "m.csv").write_text(content)
    with pytest.raises(ManifestError, match=message.replace("(", r"\(").replace(")", r"\)")):
        read_manifest(tmp_path / "m.csv")


def test_refusals_exit_2_with_message(tmp_path, capsys):
    (tmp_path / "m.csv").write_text("item_id,uri\na,a.mp4\na,b.mp4\n")
    assert main(["scan", "--manifest", str(tmp_path / "m.csv"), "--output", str(tmp_path / "o")]) == 2
    assert "duplicate item_id" in capsys.readouterr().err
    assert main(["scan", "--manifest", str(tmp_path / "nope.csv"), "--output", str(tmp_path / "o")]) == 2
    assert "manifest not found" in capsys.readouterr().err
    (tmp_path / "ok.csv").write_text("item_id,uri\na,a.mp4\n")
    assert main(["scan", "--manifest", str(tmp_path / "ok.csv"), "--output", str(tmp_path / "o"),
                 "--detectors", "black_frames,nonsense"]) == 2
    assert "unknown detector(s) nonsense" in capsys.readouterr().err
    (tmp_path / "bad.toml").write_text("[resources]\nno_such_key = 1\n")
    assert main(["scan", "--manifest", str(tmp_path / "ok.csv"), "--output", str(tmp_path / "o"),
                 "--config", str(tmp_path / "bad.toml")]) == 2
    assert "unknown config key resources.no_such_key" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        main(["scan", "--manifest"])
    assert e.value.code == 2


def test_a_folder_or_glob_of_media_is_a_manifest(tmp_path):
    from rayqa.manifest import ManifestError, read_manifest

    (tmp_path / "season1").mkdir()
    for name in ("season1/ep1.mp4", "season1/ep2.mkv", "trailer.mov", "notes.txt", "season1/ep1.srt",
                 "trailer.en.vtt"):
        (tmp_path / name).write_bytes(b"x")
    df = read_manifest(tmp_path)
    assert list(df["item_id"]) == ["season1/ep1.mp4", "season1/ep2.mkv", "trailer.mov"]
    captions = dict(zip(df["item_id"], df["captions_uri"]))
    assert captions["season1/ep1.mp4"] == str((tmp_path / "season1" / "ep1.srt").resolve())
    assert captions["trailer.mov"] == str((tmp_path / "trailer.en.vtt").resolve())
    assert captions["season1/ep2.mkv"] is None
    globbed = read_manifest(str(tmp_path / "season1" / "*.mp4"))
    assert list(globbed["item_id"]) == ["ep1.mp4"] and globbed["uri"][0] == str((tmp_path / "season1" / "ep1.mp4").resolve())
    (tmp_path / "empty").mkdir()
    with pytest.raises(ManifestError, match="no media files"):
        read_manifest(tmp_path / "empty")
