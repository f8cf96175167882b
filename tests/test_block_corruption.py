"""The block-corruption detector: shipped weights, the map, captures, findings in a real scan
(files cite the decoder, captures the map alone), bad models, the train command."""

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
from rayqa.simulate import real

SHIPPED = REPO / "models" / "block_corruption"
BENCH_WALLPAPERS = [p for p in real.split_files("photo", "bench") if "/wallpapers/" in str(p)] if real.find("photo") else []
needs_photo = pytest.mark.skipif(not BENCH_WALLPAPERS, reason="real photographs not installed: `make real-media-test` "
                                                              "(apt-get install plasma-workspace-wallpapers)")


def test_shipped_weights_load_and_match_their_card():
    net, meta = net_mod.load(SHIPPED)
    assert meta["arch"] == net_mod.ARCH and meta["weights_sha256"] == net_mod.sha256(SHIPPED / "weights.pt")
    assert meta["input_width"] == 320 and meta["input_height"] == 180 and meta["input"] == "luma"
    assert 0 < meta["threshold"] < 1
    card = (SHIPPED / "MODEL_CARD.md").read_text()
    assert meta["weights_sha256"] in card and "Limits" in card and str(meta["threshold"]) in card
    # The card's validation metrics are the ones model.json carries, as the train command wrote them.
    assert f"{meta['metrics']['val_auc']:.3f}" in card
    assert sum(p.numel() for p in net.parameters()) < 200_000  # a small network, not a ResNet


def test_detector_scores_with_batch_norm_folded_and_the_same_maps(tmp_path):
    net, _ = net_mod.load(SHIPPED)
    det = build(["block_corruption"])[0]
    load_detector(det, SHIPPED)
    assert det.net.fused and not any(isinstance(m, torch.nn.BatchNorm2d) for m in det.net.modules())
    frames = np.random.default_rng(3).integers(0, 256, (20, 180, 320), dtype=np.uint8)
    frames[:, 60:120, 100:200] = 128  # a flat block among the noise: cells far from the rest
    ref, got = net_mod.score_frames(net.eval(), frames), det.score(frames)
    np.testing.assert_allclose(got["maps"], ref["maps"], atol=1e-5)
    np.testing.assert_allclose(got["score"], ref["score"], atol=1e-5)
    assert (got["area_ratio"] == ref["area_ratio"]).all()
    with pytest.raises(ValueError, match="fused for inference"):
        det.net.train()
    with pytest.raises(ValueError, match="fused for inference"):
        net_mod.save(det.net, tmp_path / "m", {})
    assert not (tmp_path / "m").exists()


@pytest.mark.parametrize("hw,cells", [((180, 320), (23, 40)), ((360, 640), (45, 80)), ((1080, 1920), (135, 240)),
                                      ((100, 50), (13, 7))])
def test_map_has_one_cell_per_8x8_block(hw, cells):
    net = net_mod.BlockCorruptionNet().eval()
    with torch.inference_mode():
        logits = net(torch.rand(1, 1, *hw) - 0.5)
    assert tuple(logits.shape) == (1, 1, *cells)


def test_frame_score_and_flag_follow_the_map():
    """The frame score is the mean of the top 2 % of cells; a sample is flagged above the threshold."""
    net = net_mod.BlockCorruptionNet().eval()
    with torch.no_grad():
        net.map_head.weight.zero_()
        net.map_head.bias.fill_(-5.0)  # every cell clean
    s = net_mod.score_frames(net, np.zeros((3, 180, 320), np.uint8))
    assert s["maps"].shape == (3, 23, 40) and np.all(s["area_ratio"] == 0) and np.all(s["score"] < 0.01)
    with torch.no_grad():
        net.map_head.bias.fill_(5.0)  # every cell corrupted
    s = net_mod.score_frames(net, np.zeros((2, 180, 320, 3), np.uint8))  # RGB is converted to luma
    assert np.all(s["area_ratio"] == 1.0) and np.all(s["score"] > 0.99)
    p = torch.zeros(1, 10, 10)
    p[0, 0, :2] = 1.0  # 2 of 100 cells: the top 2 % are those
    assert float(net_mod.frame_score(p)[0]) == 1.0
    det = build(["block_corruption"], {"block_corruption": {"threshold": 0.6}})[0]
    assert det.flagged({"score": np.array([0.5, 0.6, 0.61])}).tolist() == [False, False, True]
    with pytest.raises(ValueError, match="threshold must be in"):
        build(["block_corruption"], {"block_corruption": {"threshold": 1.5}})


def test_the_decoders_report_lets_the_maps_area_decide():
    """Below the learned threshold a sample is flagged only where the decoder reported video damage
    in the lookback and the map's corrupted area exceeds ``decoder_area_ratio``; the finding says so."""
    from rayqa.types import Damage, ItemInfo, VideoFrames, Window

    det = build(["block_corruption"], {"block_corruption": {"threshold": 0.9}})[0]
    det.net = net_mod.BlockCorruptionNet().eval()
    with torch.no_grad():
        det.net.map_head.weight.zero_()
        det.net.map_head.bias.fill_(0.4)  # every cell p = sigmoid(0.4) = 0.599: area 1.0, score < 0.9
    det.top_fraction = net_mod.TOP_FRACTION
    info = ItemInfo(duration_s=4.0, has_video=True, has_audio=False)
    times = np.arange(20) / 5.0

    def window(damage):
        v = VideoFrames(times, np.zeros((20, 180, 320), np.uint8), np.arange(20) * 5)
        return Window("x", 0.0, 4.0, video={det.video.key: v}, damage=damage)

    report = Damage(1.0, 1.04, "video", "pyav", "concealing 120 DC, 120 AC, 120 MV errors in P frame")
    audio_only = Damage(1.0, 1.04, "audio", "pyav", "invalid data")
    gave_up = Damage(1.0, 4.0, "video", "pyav", "seek failed: Invalid data", gave_up=True)
    clean, damaged, *other = det([(window([]), info), (window([report]), info), (window([audio_only]), info),
                                  (window([gave_up]), info)])
    assert clean == [] and other == [[], []]
    # Flagged from the report (1.0 s) to the end of the lookback (2 s after it), not before it.
    assert [round(h.start_s, 1) for h in damaged] == [round(t, 1) for t in times if 1.0 <= t <= 3.04]
    d = damaged[0].details
    assert d["flagged_by"] == "area+decoder" and d["evidence"] == "map+decoder" and d["corrupted_area_ratio"] == 1.0
    assert d["decoder_report"][0]["message"].startswith("concealing") and abs(damaged[0].score - 1 / (1 + np.exp(-0.4))) < 1e-4
    (event,) = det.merge(damaged)
    assert event.details["flagged_by"] == "area+decoder" and event.details["frames_flagged"] == len(damaged)
    s = det.score(np.zeros((20, 180, 320), np.uint8))
    assert det.hits([(window([report]), info)], s, corroborate=False) == [[]]  # the learned threshold alone
    off = build(["block_corruption"], {"block_corruption": {"threshold": 0.9, "decoder_area_ratio": None}})[0]
    off.net, off.top_fraction = det.net, det.top_fraction
    assert off([(window([report]), info)]) == [[]]
    with torch.no_grad():
        det.net.map_head.bias.fill_(5.0)  # above the learned threshold: flagged by the score, decoder or not
    (hits,) = det([(window([]), info)])
    assert len(hits) == 20 and {h.details["flagged_by"] for h in hits} == {"score"}
    assert {h.details["evidence"] for h in hits} == {"map"}
    with pytest.raises(ValueError, match="decoder_area_ratio must be in"):
        build(["block_corruption"], {"block_corruption": {"decoder_area_ratio": 0}})


def test_training_tone_jitter_keeps_block_edges_and_targets():
    """The training crops' tone change is a monotonic curve (a block edge stays an edge, in the same
    direction) plus small noise; the crop's shape, dtype and the batch's targets are unchanged."""
    from rayqa.train.block_corruption import TrainConfig, crop_batch, tone_jitter

    img = np.tile(np.repeat(np.arange(0, 240, 12, dtype=np.uint8), 8)[None, :], (96, 1))  # 8-px steps
    rng = np.random.default_rng(3)
    outs = [tone_jitter(img, rng) for _ in range(60)]
    assert all(o.shape == img.shape and o.dtype == np.uint8 for o in outs)
    assert any(not np.array_equal(o, img) for o in outs)
    for o in outs:
        means = o.reshape(96, 20, 8).mean(axis=(0, 2))  # one value per 8-px block
        assert np.all(np.diff(means) >= -1.0)  # never reversed (noise aside); flat only where clipped
    data = {"frames": np.full((6, 180, 320), 128, np.uint8), "scores": np.zeros((6, 23, 40), np.float16),
            "damaged_idx": np.array([0, 1]), "clean_idx": np.array([2, 3, 4, 5]), "hardness": None}
    data["scores"][:2, 4:8, 4:8] = 20
    cfg = TrainConfig(batch=8, augment=1.0)
    a = crop_batch(data, np.random.default_rng(0), cfg)
    x, t, y, idx = a
    assert x.dtype == np.uint8 and x.shape == (8, cfg.crop_h, cfg.crop_w)
    assert np.all(np.isin(t[~np.isnan(t)], (0.0, 1.0)))
    same = crop_batch(data, np.random.default_rng(0), cfg)
    assert all(np.array_equal(u, v, equal_nan=True) for u, v in zip(a, same))  # the seed fixes the augmentation
    plain = crop_batch(data, np.random.default_rng(0), TrainConfig(batch=8))
    assert np.array_equal(plain[3], a[3]) and not np.array_equal(plain[0], a[0])  # same crops, other tones


def test_mined_crops_hold_their_most_probable_cell_and_come_last():
    """With mining on, ``mine_share`` of a batch are crops of mined (clean) frames that hold the
    frame's most probable cell, all-clean targets; without a mining round yet, none."""
    from rayqa.train.block_corruption import INPUT_H, INPUT_W, TrainConfig, _focus_offset, crop_batch

    rng = np.random.default_rng(1)
    for cell, size, full in [(0, 96, 180), (21, 96, 180), (22, 96, 180), (39, 160, 320), (10, 160, 320)]:
        for _ in range(20):
            o = _focus_offset(cell, size, full, rng)
            assert o % 8 == 0 and 0 <= o <= full - size
            assert o // 8 <= cell < (o + size) // 8 or cell == 22  # the partial last row is in no crop
    data = {"frames": np.zeros((4, 180, 320), np.uint8), "scores": np.zeros((4, 23, 40), np.float16),
            "damaged_idx": np.array([0]), "clean_idx": np.array([1, 2, 3]), "hardness": None}
    data["scores"][0, 4:8, 4:8] = 20
    frames = np.zeros((3, INPUT_H, INPUT_W), np.uint8)
    for j, (r, c) in enumerate([(2, 3), (15, 30), (20, 38)]):
        frames[j, r * 8:(r + 1) * 8, c * 8:(c + 1) * 8] = 255  # the one bright cell marks the focus
    mined = {"frames": frames, "hardness": None, "focus": None}
    cfg = TrainConfig(batch=16, mine_share=0.25)
    x, t, y, idx = crop_batch(data, np.random.default_rng(0), cfg, mined)
    assert (idx >= 0).all()  # no mining round yet: no mined crops
    mined.update(hardness=np.array([1.0, 1.0, 2.0]), focus=np.array([[2, 3], [15, 30], [20, 38]]))
    x, t, y, idx = crop_batch(data, np.random.default_rng(0), cfg, mined)
    assert (idx[:-4] >= 0).all() and (idx[-4:] < 0).all()
    assert all((x[k] == 255).sum() == 64 for k in range(12, 16))  # the whole focus cell is in the crop
    assert np.all(t[12:] == 0) and np.all(y[12:] == 0)
    with pytest.raises(ValueError, match="mine_share"):
        TrainConfig(mine_share=0.7).check()


def test_train_augment_flag_is_checked(capsys):
    assert main(["train", "block_corruption", "--augment", "1.5", "--no-register"]) == 2
    assert "augment is a share of crops" in capsys.readouterr().err
    assert main(["train", "audio_artifacts", "--augment", "0.5", "--no-register"]) == 2
    assert "--augment is not supported for audio_artifacts" in capsys.readouterr().err
    assert main(["train", "block_corruption", "--width", "8.5", "--no-register"]) == 2
    assert "--width is a whole number of channels" in capsys.readouterr().err
    assert main(["train", "block_corruption", "--width", "2", "--no-register"]) == 2
    assert "width is the first layer's channels, 4 to 64" in capsys.readouterr().err
    from rayqa.train.block_corruption import _augment_flag

    assert _augment_flag({"width": 24}) == " --width 24" and _augment_flag({"width": 16}) == ""


def test_more_photos_join_the_train_split_only_when_asked(tmp_path, monkeypatch, capsys):
    from rayqa.train import block_corruption as T

    plain, more = T.TrainConfig(), T.TrainConfig(more_photos=True)
    base = real.split_files("photo", "train")
    # Not installed: the option is refused before any data is made, saying what to install.
    monkeypatch.setattr(real, "_BACKGROUNDS", tmp_path)
    with pytest.raises(real.SimulationError, match="lomiri-wallpapers-16.04"):
        T.train_photos(more, "train")
    # Installed: the train split gains them; the bench split, and a set made without it, do not.
    for name in real.LOMIRI_PHOTOS:
        (tmp_path / f"{name}.jpg").write_bytes(b"jpeg")
    added = T.train_photos(more, "train")
    assert added[:len(base)] == base and set(added[len(base):]) == set(real.more_photos())
    assert len(real.more_photos()) == len(real.LOMIRI_PHOTOS) == 14
    assert T.train_photos(more, "bench") is None and T.train_photos(plain, "train") is None
    assert not set(real.more_photos()) & set(real.split_files("photo", "train") + real.split_files("photo", "bench"))
    # Its own dataset folder, and the card's command line names the option.
    assert T.dataset_dir(more, None).name.endswith("-morephotos") and not T.dataset_dir(plain, None).name.endswith("photos")
    assert T._augment_flag({"more_photos": True}) == " --more-photos" and T._augment_flag({}) == ""
    assert main(["train", "audio_artifacts", "--more-photos", "--no-register"]) == 2
    assert "--more-photos is not supported for audio_artifacts" in capsys.readouterr().err


@pytest.fixture(scope="module")
def damaged_real(tmp_path_factory):
    """A bench-split real photograph under a camera move (640x360, GOP 50), encoded clean; the same
    file with H.264 P-frame damage at 4.0-4.4 s; and a capture of that damaged decode."""
    from rayqa.simulate.bitstream import capture, inject_block_corruption
    from rayqa.synth import encode

    d = tmp_path_factory.mktemp("blockc")
    rng = np.random.default_rng(7)
    frames = list(real.camera_move(real.load_photo(str(BENCH_WALLPAPERS[0])), 200, 640, 360, 2.0, rng))
    clean = encode(d / "clean.mp4", frames, 25, 640, 360, None, 48000, 50)
    labels, masks, times = inject_block_corruption(clean, d / "file.mp4", 4.0, 4.4, 3, mode="flip", intensity=0.02)
    capture(clean, d / "file.mp4", d / "capture.mp4", crf=23)
    return d, labels, masks, times


@needs_photo
def test_capture_bakes_the_damage_into_a_clean_bitstream(damaged_real):
    from rayqa import media
    from rayqa.simulate.bitstream import block_score_maps
    from rayqa.types import VideoSpec

    d, labels, masks, times = damaged_real
    assert labels and max(lab.details["peak_corrupted_area_ratio"] for lab in labels) > 0.1
    spec = VideoSpec(5.0, 320, 180)
    damage = {}
    for name in ("file", "capture"):
        info = media.probe(str(d / f"{name}.mp4"))
        (w,) = media.decode_windows(str(d / f"{name}.mp4"), info, [(0.0, info.duration_s)], [spec], [])
        damage[name] = [x for x in w.damage if x.stream == "video"]
    assert damage["file"] and not damage["capture"]  # the decoder reports the file's damage, not the capture's
    # The capture shows what the corrupt decode showed, plus re-encoding noise: close to the corrupt
    # decode everywhere, far from the clean one where the damage is (and only there).
    t2, to_file = block_score_maps(d / "file.mp4", d / "capture.mp4")
    _, to_clean = block_score_maps(d / "clean.mp4", d / "capture.mp4")
    assert len(t2) == len(times)
    hit = masks.mean(axis=(1, 2)) > 0.5
    assert hit.sum() > 10 and to_file.mean(axis=(1, 2)).max() < 5.0
    assert to_clean.mean(axis=(1, 2))[hit].min() > 8.0 and to_clean.mean(axis=(1, 2))[: int(3.5 * 25)].max() < 5.0
    ts, scores = block_score_maps(d / "clean.mp4", d / "file.mp4")
    assert np.array_equal(scores > 3.0, masks) and np.allclose(ts, times)


@needs_photo
def test_scan_finds_damage_in_files_and_captures_and_nothing_on_the_clean_file(damaged_real, ray_local):
    d, labels, masks, times = damaged_real
    truth = max(labels, key=lambda l: l.end_s - l.start_s)
    manifest = write_manifest(d / "m.csv", [{"item_id": k, "uri": str(d / f"{k}.mp4")} for k in ("clean", "file", "capture")])
    run_scan(manifest, d / "out", detectors=["block_corruption", "decode_error"])
    f = pd.read_parquet(d / "out" / "findings")
    items = pd.read_parquet(d / "out" / "items").set_index("item_id")
    assert (items["status"] == "ok").all()
    bc = f[f["defect"] == "block_corruption"]
    assert bc[bc["item_id"] == "clean"].empty, bc[bc["item_id"] == "clean"].to_dict("records")
    assert f[(f["item_id"] == "capture") & (f["defect"] == "decode_error")].empty  # no decoder flag in a capture
    assert not f[(f["item_id"] == "file") & (f["defect"] == "decode_error")].empty
    for item, evidence in (("file", "map+decoder"), ("capture", "map")):
        hits = bc[bc["item_id"] == item].sort_values("start_s")
        assert len(hits) >= 1, item
        first = hits.iloc[0]
        # The finding lies inside the damaged stretch (which outlives the packets up to the next keyframe).
        assert truth.start_s - 0.25 <= first["start_s"] <= truth.start_s + 0.6, (item, first["start_s"], truth)
        assert all(truth.start_s - 0.25 <= s and e <= truth.end_s + 0.5 for s, e in zip(hits["start_s"], hits["end_s"]))
        details = json.loads(first["details"])
        assert details["evidence"] == evidence, (item, details["evidence"])
        assert ("decoder_report" in details) == (item == "file")
        if item == "file":
            assert details["decoder_report"][0]["message"]
        assert 0 < details["corrupted_area_ratio"] <= 1.0 and details["frame_index"] >= int(truth.start_s * 25) - 1
        assert len(details["map_cells"].split("/")) == 23 and len(details["map_cells"].split("/")[0]) == 40
        assert first["model"] == "rayqa-block_corruption" and first["model_version"] == "1"
        assert 0 < first["score"] <= 1


def test_damaged_checkpoint_is_refused_before_the_scan_starts(tmp_path, monkeypatch, capsys, ray_local):
    from rayqa.synth import encode

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
    old = dict(meta, arch="resnet18-1x1map-v1")
    (bad / "model.json").write_text(json.dumps(old))
    with pytest.raises(net_mod.ModelLoadError, match="architecture"):
        net_mod.load(bad)
    (bad / "model.json").write_text(json.dumps(meta))

    clip = encode(tmp_path / "a.mp4", [np.full((180, 320, 3), 90, np.uint8)] * 25, 25, 320, 180)
    # Through the registry and the command line: exit 2 with the reason, no output written.
    reg = ModelRegistry(models_dir=tmp_path / "models")
    reg.bootstrap()
    manifest = write_manifest(tmp_path / "m.csv", [{"item_id": "a", "uri": str(clip)}])
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


@needs_photo
def test_train_command_writes_registers_and_the_detector_loads_it(tmp_path, monkeypatch, capsys):
    """`rayqa train` end to end at toy size: real data simulated, model written, version registered."""
    monkeypatch.setenv("RAYQA_HOME", str(tmp_path / "home"))
    out = tmp_path / "trained"
    assert main(["train", "block_corruption", "--items", "4", "--steps", "2", "--batch", "4", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert '"version": "1"' in printed and str(out) in printed
    meta = json.loads((out / "model.json").read_text())
    assert meta["train_config"]["seed"] == 0 and len(meta["data_sha256"]) == 64
    assert set(meta["metrics"]) >= {"val_auc", "val_recall", "val_false_positive_rate", "calib_false_events"}
    reg = ModelRegistry()
    resolved = reg.resolve("block_corruption", bootstrap=False)  # the trained version, champion of an empty registry
    run = reg.client.get_run(reg.client.get_model_version("rayqa-block_corruption", resolved.version).run_id)
    assert run.data.params["data_sha256"] == meta["data_sha256"] and "train_map_loss" in run.data.metrics
    # Same seed, same data → the same weights, byte for byte (on one machine and thread count).
    again = tmp_path / "again"
    data = tmp_path / "home" / "datasets" / "block_corruption-real-train-seed0-n4"
    assert main(["train", "block_corruption", "--items", "4", "--steps", "2", "--batch", "4", "--data", str(data),
                 "--out", str(again), "--no-register"]) == 0
    assert json.loads((again / "model.json").read_text())["weights_sha256"] == meta["weights_sha256"]
    det = build(["block_corruption"])[0]
    load_detector(det, resolved)
    assert (det.model_name, det.model_version) == ("rayqa-block_corruption", resolved.version)
    assert det.score(np.zeros((1, 180, 320), np.uint8))["maps"].shape == (1, 23, 40)
    # Hard-negative mining: a further clean minute (here 10 s) is simulated beside the same data,
    # scored by the net every `mine_every` steps, and enters the data's hash and the model card.
    from rayqa.train.block_corruption import TrainConfig, train

    logs = []
    mined = train(TrainConfig(items=4, steps=3, batch=8, mine_items=1, mine_every=1), data=data,
                  out=tmp_path / "mined", register=False, log=logs.append)
    assert (data / "mine" / "000.npz").exists() and mined["data_sha256"] != meta["data_sha256"]
    assert sum(m.startswith("mining: ") and "frames scored" in m for m in logs) == 2  # before steps 2 and 3
    assert "--mine-items 1" in (tmp_path / "mined" / "MODEL_CARD.md").read_text()


@needs_photo
def test_yuv_input_trains_loads_and_is_refused_by_a_luma_detector(tmp_path, monkeypatch):
    """`--input yuv` at toy size: the net reads Y, U, V as coded, the model says so, a detector set
    to decode luma refuses it with the setting to change, and one set to yuv decodes and scores."""
    from rayqa.nets import block_corruption as net_mod
    from rayqa.train.block_corruption import TrainConfig, dataset_dir, train

    monkeypatch.setenv("RAYQA_HOME", str(tmp_path / "home"))
    cfg = TrainConfig(items=4, steps=2, batch=4, input="yuv")
    assert dataset_dir(cfg, None).name.endswith("-n4-yuv")  # never the luma set's frames
    out = tmp_path / "yuv"
    train(cfg, out=out, register=False, log=lambda m: None)
    meta = json.loads((out / "model.json").read_text())
    assert (meta["input"], meta["arch"]) == ("yuv", "yuv-s8-map-v2")
    assert "--input yuv" in (out / "MODEL_CARD.md").read_text()
    with np.load(dataset_dir(cfg, None) / "items" / "0000.npz") as z:
        assert z["frames"].shape[1:] == (180, 320, 3) and z["frames"].dtype == np.uint8
    with pytest.raises(net_mod.ModelLoadError, match="set input = 'yuv'"):
        build(["block_corruption"])[0].load(out)
    det = build(["block_corruption"], {"block_corruption": {"input": "yuv"}})[0]
    det.load(out)
    assert det.video.raw and not det.video.gray
    assert det.score(np.full((2, 180, 320, 3), 128, np.uint8))["maps"].shape == (2, 23, 40)
    with pytest.raises(ValueError, match=r"\(B, H, W, 3\)"):
        det.score(np.zeros((1, 180, 320), np.uint8))
    with pytest.raises(ValueError, match="input must be"):
        build(["block_corruption"], {"block_corruption": {"input": "rgb"}})


@needs_photo
def test_learned_decision_trains_on_pictures_the_map_never_saw(tmp_path, monkeypatch, capsys):
    """`--decision-items` at toy size: the map stays as trained, a head learns the frame decision on
    items drawn only from the more-photos pictures (here stand-ins: bench photographs under the
    package's file names), the model says so, and the detector's score is the head's, with the map's
    own beside it in the evidence."""
    from rayqa.train import block_corruption as T
    from rayqa.types import ItemInfo, VideoFrames, Window

    monkeypatch.setenv("RAYQA_HOME", str(tmp_path / "home"))
    with pytest.raises(ValueError, match="not with --more-photos"):
        T.TrainConfig(decision_items=4, more_photos=True).check()
    monkeypatch.setattr(real, "_BACKGROUNDS", tmp_path / "none")
    assert main(["train", "block_corruption", "--items", "4", "--steps", "1", "--decision-items", "4",
                 "--no-register", "--out", str(tmp_path / "refused")]) != 0
    pics = tmp_path / "backgrounds"
    pics.mkdir()
    for name, src in zip(real.LOMIRI_PHOTOS, list(BENCH_WALLPAPERS) * 14):
        shutil.copy(src, pics / f"{name}.jpg")
    monkeypatch.setattr(real, "_BACKGROUNDS", pics)
    out = tmp_path / "decided"
    cfg = T.TrainConfig(items=4, steps=2, batch=4, decision_items=4, decision_steps=3)
    r = T.train(cfg, out=out, register=False, log=lambda m: None)
    meta = json.loads((out / "model.json").read_text())
    assert meta["decision"] == net_mod.DECISION_ARCH and len(meta["decision_data_sha256"]) == 64
    assert {"decision_val_auc", "decision_val_auc_map", "decision_train_frames"} <= set(r["metrics"])
    assert T.decision_dir(cfg, None).name.endswith("-decision-n4")
    assert len(list((T.decision_dir(cfg, None) / "items").glob("*.npz"))) == 4
    card = (out / "MODEL_CARD.md").read_text()
    assert "--decision-items 4" in card and "Learned decision" in card
    net, _ = net_mod.load(out)
    assert net.decision is not None and any(k.startswith("decision.") for k in net.state_dict())
    # The map is the same network: a model without the head gives the same map.
    plain = net_mod.BlockCorruptionNet(net.width)
    plain.load_state_dict({k: v for k, v in net.state_dict().items() if not k.startswith("decision.")})
    frames = np.random.default_rng(0).integers(0, 256, (2, 180, 320), dtype=np.uint8)
    with_head, without = net_mod.score_frames(net, frames), net_mod.score_frames(plain.eval(), frames)
    assert np.allclose(with_head["maps"], without["maps"]) and np.allclose(with_head["map_score"], without["score"])
    assert not np.allclose(with_head["score"], with_head["map_score"])
    det = build(["block_corruption"], {"block_corruption": {"threshold": 1e-6}})[0]
    det.load(out)
    v = VideoFrames(np.asarray([0.0, 0.2]), frames, np.asarray([0, 5]))
    hits = det.detect(Window("x", 0.0, 2.0, video={det.video.key: v}),
                      ItemInfo(duration_s=2.0, has_video=True, has_audio=False))
    assert len(hits) == 2 and all(abs(h.details["map_score"] - m) < 1e-3 for h, m in zip(hits, without["score"]))
    # A model.json naming a decision this version does not know is refused.
    meta["decision"] = "map-decision-v9"
    (out / "model.json").write_text(json.dumps(meta))
    with pytest.raises(net_mod.ModelLoadError, match="map-decision-v9"):
        net_mod.load(out)


def test_learned_detectors_run_only_when_named():
    """Experimental detectors (models short of their acceptance goals) stay out of default scans."""
    from rayqa.detectors import REGISTRY, parse_names

    default = parse_names(None)
    assert "block_corruption" not in default and "audio_artifacts" not in default and "black_frames" in default
    assert parse_names("block_corruption,black_frames") == ["block_corruption", "black_frames"]
    assert REGISTRY["block_corruption"].experimental and build(["block_corruption"])[0].describe()["experimental"]
    # It reads blur's frames: one decode for both.
    assert build(["block_corruption"])[0].video.key == build(["blur"])[0].video.key
