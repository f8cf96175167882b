"""rayqa scan --policy: a finding the policy calls intentional is kept, with suppressed = true and
the rule's name; the others are untouched; a bad policy is refused before any work."""

import pandas as pd

from conftest import write_manifest
from rayqa.cli import main
from rayqa.pipeline import run_scan


def test_policy_suppresses_what_it_names_and_keeps_it(ray_local, clips, tmp_path):
    rows = [{"item_id": "black", "uri": str(clips["black"]), "intentional_black": "true"},
            {"item_id": "silence", "uri": str(clips["silence"]), "intentional_black": "false"}]
    manifest = write_manifest(tmp_path / "m.csv", rows)
    policy = tmp_path / "policy.toml"
    policy.write_text('[[rules]]\nname = "marked black"\ndefects = ["black_frames"]\nwhen = { intentional_black = true }\n')
    run_scan(manifest, tmp_path / "out", detectors="black_frames,audio_silence", policy=policy)
    f = pd.read_parquet(tmp_path / "out" / "findings").set_index("defect")
    assert bool(f.loc["black_frames", "suppressed"]) and f.loc["black_frames", "suppressed_by"] == "marked black"
    assert not bool(f.loc["audio_silence", "suppressed"]) and pd.isna(f.loc["audio_silence", "suppressed_by"])


def test_a_bad_policy_is_refused_before_work(clips, tmp_path, capsys):
    manifest = write_manifest(tmp_path / "m.csv", [{"item_id": "black", "uri": str(clips["black"])}])
    policy = tmp_path / "bad.toml"
    policy.write_text('[[rules]]\nname = "x"\nedg = "head"\n')
    assert main(["scan", "--manifest", str(manifest), "--output", str(tmp_path / "out"), "--policy", str(policy)]) == 2
    assert "rules[0].edg" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
