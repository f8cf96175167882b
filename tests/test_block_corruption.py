"""The block-corruption detector: shipped weights, the map, findings in a real scan, bad models."""

import json
import shutil

import numpy as np
import pandas as pd
import pytest
import torch

from conftest import REPO, write_manifest
from rayqa.loading import load_detector
from rayqa.cli import main
from rayqa.detectors import build
from rayqa.nets import block_corruption as net_mod
from rayqa.pipeline import run_scan
from rayqa.registry import ModelRegistry, RegistryError

SHIPPED = REPO / "models" / "block_corruption"


def test_shipped_weights_load_and_match_their_card():
    net, meta = net_mod.load(SHIPPED)
    assert meta["arch"] == net_mod.ARCH and meta["weights_sha256"] == net_mod.sha256(SHIPPED / "weights.pt")
    assert meta["area_threshold"] == 0.07 and meta["input_width"] == 320 and meta["input_height"] == 180
    card = (SHIPPED / "MODEL_CARD.md").read_text()
    assert meta["weights_sha256"] in card and "Limits" in card
    # The card's validation metrics are the ones model.json carries, as the train command wrote them.
    assert f"{meta['metrics']['val_v1_auc']:.3f}" in card
    assert sum(p.numel() for p in net.parameters()) > 11_000_000  # a whole ResNet18 trunk


@pytest.mark.parametrize("hw,cells", [((224, 224), (7, 7)), ((180, 320), (6, 10)), ((1080, 1920), (34, 60)),
                                      ((100, 50), (4, 2))])
def test_map_size_follows_input_size(hw, cells):
    net = net_mod.BlockCorruptionNet().eval()
    with torch.inference_mode():
        logits, frame_logit = net(torch.rand(1, 3, *hw))
    assert tuple(logits.shape) == (1, 1, *cells) and tuple(frame_logit.shape) == (1,)


def test_area_ratio_decision_follows_the_map():
    """v1: the share of map cells over cell_threshold; a frame is flagged above area_threshold."""
    net = net_mod.BlockCorruptionNet().eval()
    with torch.no_grad():
        net.map_head.weight.zero_()
        net.map_head.bias.fill_(-5.0)  # every cell clean
    s = net_mod.score_frames(net, np.zeros((3, 180, 320, 3), np.uint8))
    assert s["maps"].shape == (3, 6, 10) and np.all(s["area_ratio"] == 0)
    with torch.no_grad():
        net.map_head.bias.fill_(5.0)  # every cell corrupted
    s = net_mod.score_frames(net, np.zeros((2, 180, 320, 3), np.uint8))
    assert np.all(s["area_ratio"] == 1.0)
    det = build(["block_corruption"], {"block_corruption": {"cell_threshold": 0.5, "learned_threshold": 0.5}})[0]
    assert det.flagged({"area_ratio": np.array([0.05, 0.07, 0.08]), "learned": np.zeros(3)}).tolist() == [False, False, True]
    det2 = build(["block_corruption"], {"block_corruption": {"decision": "learned", "learned_threshold": 0.5}})[0]
    assert det2.flagged({"area_ratio": np.ones(2), "learned": np.array([0.4, 0.6])}).tolist() == [False, True]
    with pytest.raises(ValueError, match="decision must be one of"):
        build(["block_corruption"], {"block_corruption": {"decision": "vote"}})


@pytest.fixture(scope="module")
def corrupted_pair(tmp_path_factory):
    """A held-out-source scene encoded clean, and the same file with H.264 P-frame damage at 4.0-4.3 s."""
    from rayqa.simulate.bitstream import inject_block_corruption
    from rayqa.simulate.pristine import video_scene
    from rayqa.synth import encode

    d = tmp_path_factory.mktemp("blockc")
    rng = np.random.default_rng(7)
    frames = video_scene("shapes", 8.0, 25, 320, 180, rng, split="heldout")
    clean = encode(d / "clean.mp4", frames, 25, 320, 180, None, 48000, 50)
    labels, masks, times = inject_block_corruption(clean, d / "corrupt.mp4", 4.0, 4.3, 3, mode="flip", intensity=0.02)
    return d, labels, masks, times


def test_scan_finds_bitstream_corruption_at_its_time_and_nothing_on_the_clean_file(corrupted_pair, ray_local):
    d, labels, masks, times = corrupted_pair
    assert labels, "the injector must have damaged something visible"
    truth = max(labels, key=lambda l: l.end_s - l.start_s)
    manifest = write_manifest(d / "m.csv", [{"item_id": "clean", "uri": str(d / "clean.mp4")},
                                            {"item_id": "corrupt", "uri": str(d / "corrupt.mp4")}])
    run_scan(manifest, d / "out", detectors=["block_corruption", "decode_error"])
    f = pd.read_parquet(d / "out" / "findings")
    items = pd.read_parquet(d / "out" / "items").set_index("item_id")
    assert (items["status"] == "ok").all()
    bc = f[f["defect"] == "block_corruption"]
    assert bc[bc["item_id"] == "clean"].empty, bc[bc["item_id"] == "clean"].to_dict("records")
    hits = bc[bc["item_id"] == "corrupt"]
    assert len(hits) >= 1
    # The finding lies inside the damaged stretch (which outlives the packets up to the next keyframe).
    first = hits.sort_values("start_s").iloc[0]
    assert truth.start_s - 0.25 <= first["start_s"] <= truth.start_s + 0.5
    assert all(truth.start_s - 0.25 <= s and e <= truth.end_s + 0.25 for s, e in zip(hits["start_s"], hits["end_s"]))
    details = json.loads(first["details"])
    assert 0.07 < details["corrupted_area_ratio"] <= 1.0 and details["frame_index"] >= int(truth.start_s * 25) - 1
    assert len(details["map_cells"].split("/")) == 6
    assert first["model"] == "rayqa-block_corruption" and first["model_version"] == "1"
    assert 0 < first["score"] <= 1


def test_damaged_checkpoint_is_refused_before_the_scan_starts(tmp_path, monkeypatch, capsys, corrupted_pair, ray_local):
    d = corrupted_pair[0]
    monkeypatch.setenv("RAYQA_HOME", str(tmp_path / "home"))
    bad = tmp_path / "models" / "block_corruption"
    shutil.copytree(SHIPPED, bad)
    with open(bad / "weights.pt", "r+b") as fh:  # a truncated download
        fh.truncate(1000)
    with pytest.raises(net_mod.ModelLoadError, match="damaged"):
        net_mod.load(bad)
    meta = json.loads((bad / "model.json").read_text())
    meta.pop("weights_sha256")
    (bad / "model.json").write_text(json.dumps(meta))
    with pytest.raises(net_mod.ModelLoadError, match="not a readable checkpoint"):
        net_mod.load(bad)
    torch.save({"conv": torch.zeros(3)}, bad / "weights.pt")
    with pytest.raises(net_mod.ModelLoadError, match="does not fit"):
        net_mod.load(bad)

    # Through the registry and the command line: exit 2 with the reason, no output written.
    reg = ModelRegistry(models_dir=tmp_path / "models")
    reg.bootstrap()
    manifest = write_manifest(tmp_path / "m.csv", [{"item_id": "a", "uri": str(d / "clean.mp4")}])
    monkeypatch.setenv("RAYQA_MODELS_DIR", str(tmp_path / "models"))
    assert main(["scan", "--manifest", str(manifest), "--output", str(tmp_path / "o"),
                 "--detectors", "block_corruption"]) == 2
    assert "rayqa-block_corruption version 1 cannot be loaded" in capsys.readouterr().err
    assert not list((tmp_path / "o").glob("items/*.parquet"))


def test_missing_model_is_a_clear_refusal(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("RAYQA_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("RAYQA_MODELS_DIR", str(tmp_path / "no-models"))
    with pytest.raises(RegistryError, match="rayqa train block_corruption"):
        ModelRegistry().resolve("block_corruption")
    det = build(["block_corruption"])[0]
    with pytest.raises(RegistryError, match="no model rayqa-block_corruption@champion"):
        load_detector(det, None)


def test_train_command_writes_registers_and_the_detector_loads_it(tmp_path, monkeypatch, capsys):
    """`rayqa train` end to end at toy size: data simulated, model written, version registered."""
    monkeypatch.setenv("RAYQA_HOME", str(tmp_path / "home"))
    out = tmp_path / "trained"
    assert main(["train", "block_corruption", "--items", "10", "--steps", "2", "--batch", "4", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert '"version": "1"' in printed and str(out) in printed
    meta = json.loads((out / "model.json").read_text())
    assert meta["train_config"]["seed"] == 0 and len(meta["data_sha256"]) == 64
    assert set(meta["metrics"]) >= {"val_v1_auc", "val_v2_auc", "val_v1_precision", "val_v1_recall"}
    reg = ModelRegistry()
    resolved = reg.resolve("block_corruption", bootstrap=False)  # the trained version, champion of an empty registry
    run = reg.client.get_run(reg.client.get_model_version("rayqa-block_corruption", resolved.version).run_id)
    assert run.data.params["data_sha256"] == meta["data_sha256"] and "train_map_loss" in run.data.metrics
    # Same seed, same data → the same weights, byte for byte (on one machine and thread count).
    again = tmp_path / "again"
    data = tmp_path / "home" / "datasets" / "block_corruption-train-seed0-n10"
    assert main(["train", "block_corruption", "--items", "10", "--steps", "2", "--batch", "4", "--data", str(data),
                 "--out", str(again), "--no-register"]) == 0
    assert json.loads((again / "model.json").read_text())["weights_sha256"] == meta["weights_sha256"]
    det = build(["block_corruption"])[0]
    load_detector(det, resolved)
    assert (det.model_name, det.model_version) == ("rayqa-block_corruption", resolved.version)
    assert det.score(np.zeros((1, 180, 320, 3), np.uint8))["maps"].shape == (1, 6, 10)


def test_learned_detectors_run_only_when_named():
    """Experimental detectors (models short of their acceptance goals) stay out of default scans."""
    from rayqa.detectors import REGISTRY, parse_names

    default = parse_names(None)
    assert "block_corruption" not in default and "audio_artifacts" not in default and "black_frames" in default
    assert parse_names("block_corruption,black_frames") == ["block_corruption", "black_frames"]
    assert REGISTRY["block_corruption"].experimental and build(["block_corruption"])[0].describe()["experimental"]
