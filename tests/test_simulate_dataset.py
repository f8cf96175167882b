"""Dataset generation end to end: every recipe makes a real MP4 with a matching label; same seed,
same bytes; the Ray job writes labels and a manifest that a scan and the scorer consume."""

import json

import av
import numpy as np
import pandas as pd
import pytest

from rayqa.cli import main
from rayqa.simulate.dataset import RECIPES, SimConfig, make_dataset, make_item, plan_items
from rayqa.simulate.labels import SimulationError

SMALL = SimConfig(duration_s=4.0, width=96, height=64, fps=10, sample_rate=16000, gop=20)


@pytest.mark.parametrize("recipe", sorted(RECIPES))
def test_every_recipe_makes_a_labelled_item(recipe, tmp_path):
    row = make_item("it", recipe, seed=7, out_dir=tmp_path, cfg=SMALL)
    labels = json.loads(row["labels"])
    with av.open(str(tmp_path / row["uri"])) as c:
        assert c.streams.video and c.streams.audio
        v = c.streams.video[0]
        assert (v.codec_context.width, v.codec_context.height) == (96, 64)
    if recipe == "clean":
        assert labels == []
        return
    assert labels and {lab["defect"] for lab in labels} == {RECIPES[recipe].defect}
    for lab in labels:
        assert 0.0 <= lab["start_s"] < lab["end_s"] <= SMALL.duration_s + 1e-6
        assert json.loads(lab["details"])["recipe"] == recipe
    if RECIPES[recipe].defect == "block_corruption":
        masks = np.load(tmp_path / "masks" / "it.npz")
        assert masks["masks"].any() and masks["masks"].shape[0] == len(masks["times_s"])


def test_same_seed_same_bytes(tmp_path):
    for recipe in ("audio_hiss", "block_displacement", "block_corruption"):
        a = make_item("a", recipe, 11, tmp_path / "1", SMALL)
        b = make_item("a", recipe, 11, tmp_path / "2", SMALL)
        c = make_item("a", recipe, 12, tmp_path / "3", SMALL)
        data = [(tmp_path / d / a["uri"]).read_bytes() for d in ("1", "2", "3")]
        assert data[0] == data[1] and a["labels"] == b["labels"], recipe
        assert data[0] != data[2] and a["labels"] != c["labels"], recipe


def test_bad_parameters_refused(tmp_path):
    with pytest.raises(SimulationError, match="at least 2 s"):
        SimConfig(duration_s=1.0).check()
    with pytest.raises(SimulationError, match="unknown defect recipe"):
        plan_items(3, 0, ["no_such_defect"], 0.1, "train")
    with pytest.raises(SimulationError, match="items must be at least 1"):
        plan_items(0, 0, ["blur"], 0.1, "train")
    assert main(["simulate", "--output", str(tmp_path / "x"), "--items", "2", "--pristine", str(tmp_path / "nope")]) == 2


def test_plan_is_deterministic_and_split_aware():
    a = plan_items(20, 3, ["blur", "audio_hum"], 0.25, "train")
    assert a == plan_items(20, 3, ["blur", "audio_hum"], 0.25, "train")
    held = plan_items(20, 3, ["blur", "audio_hum"], 0.25, "heldout")
    assert {i["seed"] for i in a}.isdisjoint({i["seed"] for i in held})
    assert {i["recipe"] for i in a} <= {"blur", "audio_hum", "clean"}


def test_ray_job_writes_a_dataset_that_scans_and_scores(ray_local, tmp_path):
    from rayqa.evaluate import evaluate_scan
    from rayqa.pipeline import run_scan

    cfg = SimConfig(duration_s=8.0, width=160, height=96, fps=25, sample_rate=16000)
    labels = make_dataset(tmp_path / "ds", 6, seed=1, recipes=["black_frames", "audio_silence", "duration_mismatch"],
                          clean_fraction=0.0, cfg=cfg)
    manifest = pd.read_csv(tmp_path / "ds" / "manifest.csv")
    assert len(manifest) == 6 and set(labels["item_id"]) == set(manifest["item_id"])
    stored = pd.read_parquet(tmp_path / "ds" / "labels.parquet")
    assert list(stored.columns) == ["item_id", "defect", "start_s", "end_s", "details", "recipe", "split", "masks_uri"]
    assert stored["masks_uri"].isna().all()  # no block corruption in this set
    run_scan(tmp_path / "ds" / "manifest.csv", tmp_path / "scan",
             detectors="black_frames,audio_silence,duration_mismatch")
    table = evaluate_scan(tmp_path / "scan", tmp_path / "ds" / "labels.parquet").set_index("defect")
    # Simulated stretches shorter than a detector's 2 s minimum are not found by design; the
    # durations here are drawn from 0.5-4 s, so recall is a measured number, precision must be 1.
    assert table.loc["duration_mismatch", "recall"] == 1.0
    assert (table["precision"].dropna() == 1.0).all()


# -- the rest of the taxonomy: recipes run only when named ------------------------------------------
TAXONOMY_CFG = SimConfig(duration_s=10.0, width=320, height=180, fps=25, master_loudness=True)


def _detect(path, name):
    """What a scan's windows and merge make of one file for one detector, without Ray."""
    from rayqa import runner
    from rayqa.detectors import REGISTRY

    return runner.events_of_file(str(path), REGISTRY[name]())[0]


def test_taxonomy_recipes_run_only_when_named_and_leave_the_default_plan_alone():
    from rayqa.simulate.dataset import ALL_RECIPES, TAXONOMY_RECIPES

    assert set(TAXONOMY_RECIPES).isdisjoint(RECIPES) and set(TAXONOMY_RECIPES) <= set(ALL_RECIPES)
    assert {name: r.defect for name, r in TAXONOMY_RECIPES.items()} == {n: n for n in TAXONOMY_RECIPES}
    # The plan with no --defects cycles through RECIPES alone, as before these recipes.
    assert [r for r in RECIPES if r != "clean"][-3:] == ["av_sync", "av_drift", "duration_mismatch"]


@pytest.mark.parametrize("recipe", ["letterbox_change", "flash_pse", "video_levels", "dc_offset", "test_tone",
                                    "loudness_out_of_range"])
def test_taxonomy_recipe_found_at_its_label_and_not_on_its_clean_counterpart(recipe, tmp_path):
    """Each recipe's item carries one label of its defect; its detector finds it there (within
    0.3 s at both ends: a window edge can cut a tone short by a frame), and finds nothing on the
    clean item of the same seed (the same pristine content, mastered to R128)."""
    from rayqa.simulate.dataset import TAXONOMY_RECIPES

    row = make_item("bad", recipe, seed=4, out_dir=tmp_path, cfg=TAXONOMY_CFG)
    clean = make_item("ok", "clean", seed=4, out_dir=tmp_path, cfg=TAXONOMY_CFG)
    (label,) = json.loads(row["labels"])
    details = json.loads(label["details"])
    assert label["defect"] == TAXONOMY_RECIPES[recipe].defect == recipe and details["recipe"] == recipe
    assert details["audio_source"]["mastered"]["loudness_lufs"] == pytest.approx(-23.0, abs=0.05)
    if recipe == "loudness_out_of_range":
        assert (label["start_s"], label["end_s"]) == (0.0, TAXONOMY_CFG.duration_s)
    else:
        assert 0.1 * TAXONOMY_CFG.duration_s <= label["start_s"] < label["end_s"] <= 0.9 * TAXONOMY_CFG.duration_s
    found = _detect(tmp_path / row["uri"], recipe)
    assert len(found) >= 1 and all(f.defect == recipe for f in found)
    assert abs(found[0].start_s - label["start_s"]) <= 0.3 and abs(found[0].end_s - label["end_s"]) <= 0.3, found
    assert _detect(tmp_path / clean["uri"], recipe) == []


def test_master_loudness_is_off_by_default_and_keeps_existing_bytes(tmp_path):
    assert SimConfig().master_loudness is False
    a = make_item("a", "audio_hiss", 11, tmp_path / "1", SMALL)
    b = make_item("a", "audio_hiss", 11, tmp_path / "2", SimConfig(**{**SMALL.__dict__, "master_loudness": False}))
    assert (tmp_path / "1" / a["uri"]).read_bytes() == (tmp_path / "2" / b["uri"]).read_bytes()
