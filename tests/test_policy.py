"""Policies: each rule kind suppresses what it says and nothing else; bad policy files are refused
with the key's path (exit 2 from the command line)."""

import json

import pandas as pd
import pytest

from rayqa.cli import main
from rayqa.config import ConfigError
from rayqa.policy import Policy, PolicyError, apply_policy, load_policy, value_matches


def finding(item_id="a", defect="black_frames", start=5.0, end=8.0, score=1.0, detector=None, **details):
    return {"run_id": "r", "item_id": item_id, "detector": detector or defect, "defect": defect, "start_s": start,
            "end_s": end, "score": score, "model": "dsp", "model_version": "1", "details": json.dumps(details)}


ITEMS = pd.DataFrame({"item_id": ["a", "b", "c"], "duration_s": [60.0, 60.0, 60.0],
                      "intentional_black": ["false", "true", None], "policy_profile": [None, "music_video", "film"]})


def run(rules=None, findings=(), items=ITEMS, **top):
    pol = Policy.from_dict({"rules": rules or [], **top})
    return apply_policy(pd.DataFrame(list(findings)), items, pol)


def test_no_policy_suppresses_nothing():
    f = pd.DataFrame([finding(), finding(defect="audio_silence", start=0.0, end=3.0)])
    out = apply_policy(f, ITEMS, None)
    assert list(out["suppressed"]) == [False, False] and out["suppressed_by"].isna().all()
    assert out["suppressed"].dtype == bool
    assert list(f.columns) == [c for c in out.columns if c not in ("suppressed", "suppressed_by")]


def test_edge_head_and_tail_by_times_and_by_details_edge():
    rules = [{"name": "head black", "defects": ["black_frames"], "edge": "head", "within_s": 3.0},
             {"name": "tail", "edge": "tail", "within_s": 2.0}]
    out = run(rules, [
        finding(start=0.0, end=4.0),  # at the head
        finding(start=2.5, end=6.0),  # starts within 3 s of the head
        finding(start=3.5, end=6.0),  # too far in
        finding(start=55.0, end=59.0),  # ends within 2 s of the 60 s item's end: the tail rule, any defect
        finding(defect="audio_silence", start=20.0, end=25.0, edge="tail"),  # the detector said so
        finding(defect="audio_silence", start=1.0, end=4.0),  # head, but the head rule is black only
    ])
    assert list(out["suppressed_by"]) == ["head black", "head black", None, "tail", "tail", None]


def test_edge_either_needs_the_items_duration_for_the_tail():
    rules = [{"name": "edges", "defects": ["audio_silence"], "edge": "either", "within_s": 1.0}]
    f = [finding("a", "audio_silence", 58.5, 60.0), finding("z", "audio_silence", 58.5, 60.0)]  # z: no summary
    out = run(rules, f)
    assert list(out["suppressed"]) == [True, False]


def test_fades_by_length():
    rules = [{"name": "fades", "defects": ["black_frames"], "max_duration_s": 1.5},
             {"name": "long", "defects": ["video_freeze"], "min_duration_s": 30}]
    out = run(rules, [finding(start=10, end=11.2), finding(start=10, end=12.0),
                      finding(defect="video_freeze", start=0, end=31), finding(defect="video_freeze", start=0, end=5)])
    assert list(out["suppressed_by"]) == ["fades", None, "long", None]


def test_per_defect_per_detector_per_item_and_score_rules():
    rules = [{"name": "no hum", "defects": ["audio_hum"]},
             {"name": "artifacts on b", "detectors": ["audio_artifacts"], "item_ids": ["b"]},
             {"name": "weak", "below_score": 0.6}]
    out = run(rules, [finding(defect="audio_hum", detector="audio_artifacts"),
                      finding("b", "audio_clicks", detector="audio_artifacts"),
                      finding("a", "audio_clicks", detector="audio_artifacts"),
                      finding("a", "video_freeze", score=0.55), finding("a", "video_freeze", score=0.65)])
    assert list(out["suppressed_by"]) == ["no hum", "artifacts on b", None, "weak", None]


def test_manifest_column_override_and_first_rule_wins():
    rules = [{"name": "marked", "defects": ["black_frames"], "when": {"intentional_black": True}},
             {"name": "any black", "defects": ["black_frames"], "item_ids": ["b", "c"]}]
    out = run(rules, [finding("a"), finding("b"), finding("c")])
    assert list(out["suppressed_by"]) == [None, "marked", "any black"]


def test_manifest_column_that_collided_is_found_under_its_prefix():
    items = pd.DataFrame({"item_id": ["a"], "duration_s": [60.0], "manifest_status": ["archive"], "status": ["ok"]})
    out = run([{"name": "archived", "when": {"status": "archive"}}], [finding("a")], items=items)
    assert out["suppressed_by"].tolist() == ["archived"]


def test_profiles_apply_only_to_their_items():
    out = run([], [finding("a", "audio_silence"), finding("b", "audio_silence"), finding("c", "audio_silence")],
              profiles={"music_video": {"rules": [{"name": "mv silence", "defects": ["audio_silence"]}]}})
    assert list(out["suppressed_by"]) == [None, "mv silence", None]
    other = run([], [finding("c", "audio_silence")], profile_column="nope",
                profiles={"film": {"rules": [{"name": "film", "defects": ["audio_silence"]}]}})
    assert not other["suppressed"].any()  # no such column: the profile matches nothing


def test_reapplying_replaces_an_earlier_policy():
    f = run([{"name": "all black", "defects": ["black_frames"]}], [finding()])
    assert f["suppressed"].all()
    again = apply_policy(f, ITEMS, Policy.from_dict({"rules": [{"name": "hum", "defects": ["audio_hum"]}]}))
    assert not again["suppressed"].any() and again["suppressed_by"].isna().all()


@pytest.mark.parametrize("item_value,wanted,expect", [
    (True, True, True), ("true", True, True), ("True", True, True), (1, True, True), ("no", False, True),
    ("false", True, False), (None, True, False), (float("nan"), False, False), ("3", 3, True), (3.0, 3, True),
    ("music_video", "music_video", True), ("film", "music_video", False), (2, True, False),
])
def test_value_matches(item_value, wanted, expect):
    assert value_matches(item_value, wanted) is expect


@pytest.mark.parametrize("data,message", [
    ({"rules": [{"name": "x", "edg": "head"}]}, "unknown policy key rules[0].edg; did you mean edge?"),
    ({"rulez": []}, "unknown policy key rulez; did you mean rules?"),
    ({"profiles": {"mv": {"rule": []}}}, "unknown policy key profiles.mv.rule; did you mean rules?"),
    ({"rules": [{"name": "x", "defects": ["black_frame"]}]}, 'rules[0].defects: unknown defect "black_frame"; did you mean black_frames?'),
    ({"rules": [{"name": "x", "detectors": ["blackframes"]}]}, "rules[0].detectors: unknown detector"),
    ({"rules": [{"name": "x"}]}, 'rules[0]: rule "x" has no condition'),
    ({"rules": [{"name": "x", "edge": "top"}]}, 'rules[0].edge: expected "head", "tail" or "either", got "top"'),
    ({"rules": [{"name": "x", "defects": ["black_frames"], "within_s": 2}]}, "rules[0]: within_s needs edge"),
    ({"rules": [{"name": "x", "below_score": "0.5"}]}, 'rules[0].below_score: expected a number, got "0.5"'),
    ({"rules": [{"name": "x", "max_duration_s": -1}]}, "rules[0].max_duration_s: must be >= 0, got -1"),
    ({"rules": [{"name": "x", "min_duration_s": 3, "max_duration_s": 1}]}, "min_duration_s (3) is above max_duration_s (1)"),
    ({"rules": [{"name": "x", "when": {"col": [1]}}]}, "rules[0].when.col: expected a string, a number or true/false"),
    ({"rules": [{"name": "x", "defects": []}]}, "defects is empty"),
    ({"rules": [{"defects": ["black_frames"]}]}, "rules[0].name: required"),
    ({"rules": {"name": "x"}}, "rules: expected an array, got a table"),
    ({"rules": [{"name": "x", "defects": ["black_frames"]}],
      "profiles": {"mv": {"rules": [{"name": "x", "defects": ["audio_silence"]}]}}},
     'profiles.mv.rules[0]: rule name "x" is also used by rules[0]'),
])
def test_refused_with_the_keys_path(data, message):
    with pytest.raises(PolicyError) as e:
        Policy.from_dict(data)
    assert message in str(e.value)
    assert isinstance(e.value, ConfigError)


def test_load_toml_file(tmp_path):
    p = tmp_path / "policy.toml"
    p.write_text('[[rules]]\nname = "head/tail black"\ndefects = ["black_frames"]\nedge = "either"\nwithin_s = 2\n\n'
                 '[[profiles.music_video.rules]]\nname = "mv"\ndefects = ["audio_silence"]\n')
    pol = load_policy(p)
    assert [r.name for r in pol.rules] == ["head/tail black", "mv"]
    assert pol.describe_rules()[1]["profile"] == "music_video"
    assert load_policy(None) is None
    bad = tmp_path / "bad.toml"
    bad.write_text("[[rules]\n")
    with pytest.raises(PolicyError, match="not valid TOML"):
        load_policy(bad)
    with pytest.raises(PolicyError, match="not found"):
        load_policy(tmp_path / "none.toml")


def test_cli_refuses_a_bad_policy_before_any_work(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text('[[rules]]\nname = "x"\nedg = "head"\n')
    assert main(["report", str(tmp_path), "--policy", str(bad)]) == 2
    assert "unknown policy key rules[0].edg" in capsys.readouterr().err
    assert not (tmp_path / "report.html").exists()
