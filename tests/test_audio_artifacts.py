"""The audio-artifact detector: shipped weights, PANNs checkpoints, segments and merging, findings
in a real scan of AAC media made from held-out sources, awkward inputs, bad models, training."""

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
from rayqa.detectors.audio_artifacts import segment_starts
from rayqa.types import AudioSamples, ItemInfo, Window
from rayqa.nets import audio_artifacts as net_mod
from rayqa.pipeline import run_scan
from rayqa.registry import ModelRegistry, RegistryError
from rayqa.simulate import audio as A
from rayqa.simulate import real
from rayqa.simulate.pristine import audio_scene
from rayqa.synth import encode

SHIPPED = REPO / "models" / "audio_artifacts"


def test_shipped_weights_load_and_match_their_card():
    net, meta = net_mod.load(SHIPPED)
    assert meta["arch"] == net.name and meta["weights_sha256"] == net_mod.sha256(SHIPPED / "weights.pt")
    assert meta["classes"] == list(net_mod.CLASSES) and meta["sample_rate"] == 32000
    assert net.arch == "cnn6" and net.n_blocks == 4 and hasattr(net.conv_block4, "conv1")
    card = (SHIPPED / "MODEL_CARD.md").read_text()
    assert meta["weights_sha256"] in card and "Limits" in card
    # The card's validation metrics are the ones model.json carries, as the train command wrote them.
    assert f"{meta['metrics']['val_balanced_accuracy']:.3f}" in card
    assert meta["metrics"]["val_balanced_accuracy"] > 0.8
    with torch.inference_mode():
        assert net(torch.zeros(3, 32000)).shape == (3, 5)


def test_detector_classifies_with_batch_norm_folded_and_the_same_logits(tmp_path):
    net, _ = net_mod.load(SHIPPED)
    det = build(["audio_artifacts"])[0]
    load_detector(det, SHIPPED)
    assert det.net.fused and not any(isinstance(m, torch.nn.BatchNorm2d) for m in det.net.modules()
                                     if m is not det.net.bn0)  # bn0 (over mel bins) stays: it is cheap
    rng = np.random.default_rng(5)
    wave = torch.from_numpy((rng.standard_normal((6, 32000)) * 0.05).astype(np.float32))
    wave[3] += torch.from_numpy(0.1 * np.sin(2 * np.pi * 50 * np.arange(32000) / 32000).astype(np.float32))
    with torch.inference_mode():
        ref, got = net.eval()(wave), det.net(wave)
    torch.testing.assert_close(got, ref, atol=1e-4, rtol=1e-4)
    assert (got.argmax(1) == ref.argmax(1)).all()
    with pytest.raises(ValueError, match="fused for inference"):
        det.net.train()
    with pytest.raises(ValueError, match="fused for inference"):
        net_mod.save(det.net, tmp_path / "m", {})
    assert not (tmp_path / "m").exists()


def _panns_state(layout: str) -> dict:
    """A state dict with the published PANNs key names and shapes (audioset_tagging_cnn models.py,
    sample rate 32 kHz, window 1024, 64 mels, 527 AudioSet classes), filled with random numbers."""
    g = torch.Generator().manual_seed(0)
    s = {
        "spectrogram_extractor.stft.conv_real.weight": torch.randn(513, 1, 1024, generator=g),
        "spectrogram_extractor.stft.conv_imag.weight": torch.randn(513, 1, 1024, generator=g),
        "logmel_extractor.melW": torch.randn(513, 64, generator=g),
    }

    def bn(name, c):
        s.update({f"{name}.weight": torch.rand(c, generator=g), f"{name}.bias": torch.randn(c, generator=g),
                  f"{name}.running_mean": torch.randn(c, generator=g), f"{name}.running_var": torch.rand(c, generator=g),
                  f"{name}.num_batches_tracked": torch.tensor(7)})

    bn("bn0", 64)
    channels, k, convs, fc = {"Cnn6": ((64, 128, 256, 512), 5, 1, 512), "Cnn10": ((64, 128, 256, 512), 3, 2, 512),
                              "Cnn14": ((64, 128, 256, 512, 1024, 2048), 3, 2, 2048)}[layout]
    c_in = 1
    for i, c in enumerate(channels, start=1):
        s[f"conv_block{i}.conv1.weight"] = torch.randn(c, c_in, k, k, generator=g)
        bn(f"conv_block{i}.bn1", c)
        if convs == 2:
            s[f"conv_block{i}.conv2.weight"] = torch.randn(c, c, k, k, generator=g)
            bn(f"conv_block{i}.bn2", c)
        c_in = c
    s.update({"fc1.weight": torch.randn(fc, c_in, generator=g), "fc1.bias": torch.randn(fc, generator=g),
              "fc_audioset.weight": torch.randn(527, fc, generator=g), "fc_audioset.bias": torch.randn(527, generator=g)})
    return s


@pytest.mark.parametrize("layout,arch", [("Cnn6", "cnn6"), ("Cnn10", "cnn10"), ("Cnn14", "cnn14")])
def test_published_panns_checkpoint_trunk_is_loaded(tmp_path, layout, arch):
    state = _panns_state(layout)
    path = tmp_path / f"{layout}_mAP=0.343.pth"
    torch.save({"model": state, "iteration": 540000}, path)
    net = net_mod.AudioArtifactNet(arch, 1.0)
    head_before = net.fc_artifacts.weight.detach().clone()
    report = net_mod.load_panns_checkpoint(net, path)
    trunk = [k for k in state if k.startswith(("bn0.", "conv_block", "fc1."))]
    assert sorted(report["loaded"]) == sorted(trunk)
    assert set(report["skipped"]) == {k for k in state if k.startswith(("spectrogram_extractor.", "logmel_extractor.",
                                                                        "fc_audioset."))}
    assert report["missing"] == ["fc_artifacts.bias", "fc_artifacts.weight"]
    assert torch.equal(net.conv_block1.conv1.weight, state["conv_block1.conv1.weight"])
    assert torch.equal(net.bn0.running_var, state["bn0.running_var"]) and torch.equal(net.fc1.bias, state["fc1.bias"])
    assert torch.equal(net.fc_artifacts.weight, head_before)
    net.eval()
    with torch.inference_mode():
        assert net(torch.randn(2, 32000) * 0.1).shape == (2, 5)


def test_panns_checkpoint_of_another_layout_or_not_panns_is_refused(tmp_path):
    torch.save({"model": _panns_state("Cnn14")}, tmp_path / "cnn14.pth")
    with pytest.raises(net_mod.ModelLoadError, match="does not fit panns-cnn6"):
        net_mod.load_panns_checkpoint(net_mod.AudioArtifactNet("cnn6", 1.0), tmp_path / "cnn14.pth")
    with pytest.raises(net_mod.ModelLoadError, match="does not fit"):  # the half-width shipped layout
        net_mod.load_panns_checkpoint(net_mod.AudioArtifactNet("cnn6", 0.5), tmp_path / "cnn14.pth")
    torch.save({"model": {"encoder.weight": torch.zeros(3)}}, tmp_path / "other.pth")
    with pytest.raises(net_mod.ModelLoadError, match="not a PANNs checkpoint"):
        net_mod.load_panns_checkpoint(net_mod.AudioArtifactNet("cnn6", 1.0), tmp_path / "other.pth")
    (tmp_path / "junk.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(net_mod.ModelLoadError, match="not a readable checkpoint"):
        net_mod.load_panns_checkpoint(net_mod.AudioArtifactNet("cnn6", 1.0), tmp_path / "junk.pth")


def test_front_end_is_the_network_s_own_and_follows_its_device():
    net = net_mod.AudioArtifactNet("cnn6", 0.5)
    assert any(name.startswith("frontend.") for name, _ in net.named_buffers())
    assert not any(k.startswith("frontend.") for k in net_mod.trunk_state(net))
    t = torch.arange(32000) / 32000
    lm = net.logmel(torch.sin(2 * np.pi * 1000 * t)[None])
    assert lm.shape == (1, 1, 101, 64)
    # Slaney mels are linear to 1 kHz (15 mel) then logarithmic: 50 Hz-14 kHz is 0.75-53.4 mel over 64
    # bins, so 1 kHz peaks in bin 17; its level is well above the floor.
    assert int(lm[0, 0, 50].argmax()) == 17 and float(lm[0, 0, 50].max()) > 0
    assert float(net.logmel(torch.zeros(1, 32000)).max()) == pytest.approx(net_mod.AMIN_DB)


def test_auxiliary_features_see_mains_hum_and_stay_finite_on_silence():
    aux = net_mod.AuxFeatures()
    rng = np.random.default_rng(3)
    t = np.arange(32000) / 32000
    noise = 0.05 * rng.standard_normal(32000)
    hum = noise + 0.005 * sum(np.sin(2 * np.pi * 60 * k * t) / k for k in (1, 2, 3))  # ~25 dB under the noise
    x = torch.from_numpy(np.stack([noise, hum, np.zeros(32000)]).astype(np.float32))
    with torch.inference_mode():
        f = aux(x, net_mod.LogMel()(x))
    assert f.shape == (3, aux.dim) and torch.isfinite(f).all()
    h = net_mod.MAINS_HARMONICS
    # Prominence (dB / 10) of the 60 Hz fundamental and 2nd harmonic: plain noise has none (< 10 dB),
    # the hum stands 15+ dB (fundamental) and 10+ dB (2nd, at half the amplitude) over its
    # neighbourhood at 1 Hz resolution; 50 Hz stays flat.
    assert float(f[0, h:h + 2].max()) < 1.0 and float(f[1, h]) > 1.5 and float(f[1, h + 1]) > 1.0
    assert float(f[1, 0]) < 1.0
    assert torch.equal(f[2, :2 * h], torch.zeros(2 * h))  # digital silence: no peak over no floor


def test_network_with_auxiliary_features_saves_and_loads_by_name(tmp_path):
    net = net_mod.AudioArtifactNet("cnn6", 0.25, aux=True).eval()
    assert net.name == "panns-cnn6-w0.25-aux"
    meta = net_mod.save(net, tmp_path / "m", {"detector": "audio_artifacts"})
    assert meta["aux_features"] is True
    again, _ = net_mod.load(tmp_path / "m")
    assert again.aux and again.name == net.name
    x = torch.randn(2, 32000) * 0.1
    with torch.inference_mode():
        assert torch.allclose(net(x), again(x), atol=0.05)  # float16 on disk
    with pytest.raises(ValueError, match="auxiliary features"):
        net.forward_logmel(net.logmel(x))


def test_training_crops_stay_inside_one_class_and_every_clicks_crop_holds_a_click():
    from rayqa.train import audio_artifacts as T

    classes = T.CLASSES
    slots = np.array([[0, 0, 4, 4, 1, 2, 2, 3]])
    data = {"wave": np.zeros((1, 8 * 32000), np.float32), "slots": slots,
            "click_times": np.array([2.5]), "click_scene": np.array([0])}
    sc, st, y = T.crops(data, np.array([0]), aligned=True)
    assert st.tolist() == [k * 32000 for k in range(8)] and y.tolist() == slots[0].tolist()
    sc, st, y = T.crops(data, np.array([0]), aligned=False)
    t0 = st / 32000
    for a, cls in zip(t0, y):
        covered = slots[0, int(np.floor(a)):int(np.ceil(a + 1 - 1e-9))]
        assert (covered == cls).all()
        if classes[cls] == "clicks":
            assert a + 0.005 < 2.5 < a + 0.995
    assert sorted(t0[y == 0].tolist()) == [0.0, 0.125, 0.25, 0.375, 0.5, 0.625, 0.75, 0.875, 1.0]
    # The clicks run is 2-4 s with one click at 2.5 s: only crops from 2.0 to 2.375 s hold it.
    assert t0[y == classes.index("clicks")].tolist() == [2.0, 2.125, 2.25, 2.375]
    assert t0[y == classes.index("hum")].tolist() == [4.0] and t0[y == classes.index("distortion")].tolist() == [7.0]
    assert len(t0[y == classes.index("hiss")]) == 9
    ramp = {**data, "wave": np.arange(8 * 32000, dtype=np.float32)[None]}
    g = T.gather(ramp, sc[:3], st[:3])
    assert g.shape == (3, 32000) and (g[:, 0] == st[:3]).all() and (g[:, -1] == st[:3] + 31999).all()


def test_random_eq_keeps_the_peak_and_tilts_the_spectrum():
    from rayqa.train.audio_artifacts import random_eq

    rng = np.random.default_rng(0)
    x = (0.3 * rng.standard_normal((2, 48000))).astype(np.float32)
    same, info = random_eq(x, 48000, rng, share=0.0)
    assert same is x and info == {"eq": "none"}
    seen = set()
    for seed in range(12):
        y, info = random_eq(x, 48000, np.random.default_rng(seed), share=1.0)
        seen.add(info["eq"])
        assert y.shape == x.shape and y.dtype == np.float32
        assert float(np.abs(y).max()) == pytest.approx(float(np.abs(x).max()), rel=1e-4)
        spec = np.abs(np.fft.rfft(y[0])) ** 2
        ref = np.abs(np.fft.rfft(x[0])) ** 2
        f = np.fft.rfftfreq(48000, 1 / 48000)
        if info["eq"] == "lowpass":
            assert spec[f > info["cutoff_hz"] * 1.5].mean() < 0.01 * spec[f < info["cutoff_hz"] / 2].mean()
        else:  # the shelf's gain, between the band it lifts and the band it leaves, within 2 dB
            fc = info["corner_hz"]
            low, high = (f > 10) & (f < fc / 4), (f > fc * 3) & (f < 23000)
            if info["eq"] == "high_shelf":
                low, high = high, low
            tilt = 10 * np.log10(spec[low].mean() / spec[high].mean() * ref[high].mean() / ref[low].mean())
            assert tilt == pytest.approx(info["gain_db"], abs=2.0)
    assert seen == {"low_shelf", "high_shelf", "lowpass"}


def test_segments_cover_the_window_and_merge_into_one_finding():
    assert segment_starts(32000 * 3, 32000, 16000) == [0, 16000, 32000, 48000, 64000]
    assert segment_starts(int(32000 * 2.3), 32000, 16000) == [0, 16000, 32000, int(32000 * 1.3)]
    assert segment_starts(1000, 32000, 16000) == [0]
    det = build(["audio_artifacts"])[0]
    rng = np.random.default_rng(0)
    x = (0.1 * rng.standard_normal(32000 * 2)).astype(np.float32)
    segs, spans = det.cut(x, 32000)
    assert segs.shape == (3, 32000) and [s[0] for s in spans] == [0.0, 0.5, 1.0]
    short, sp = det.cut(x[:16000], 32000)  # half a second: padded to one, spans only the real audio
    assert short.shape == (1, 32000) and sp[0][1] == 0.5 and not short[0, 16000:].any()
    assert det.cut(x[:4000], 32000)[1] == []  # under min_audio_s
    assert det.cut(np.zeros(64000, np.float32), 32000)[1] == []  # digital silence is not classified
    hum = np.array([0.05, 0.9, 0.02, 0.02, 0.01])
    clean = np.array([0.9, 0.05, 0.02, 0.02, 0.01])
    hits = det.hits_from(np.stack([hum, hum * 0.9 + clean * 0.1, clean]), spans, start_s=8.0)
    assert [h.defect for h in hits] == ["audio_hum", "audio_hum"] and hits[0].start_s == 8.0
    (event,) = det.merge(hits)
    assert det.merge(hits[:1]) == []  # one flagged segment alone (1 s) is under min_duration_s (1.5 s)
    assert (event.defect, event.start_s, event.end_s) == ("audio_hum", 8.0, 9.5)
    assert event.score == pytest.approx(0.9) and event.details["segments"] == 2
    assert event.details["probabilities"]["hum"] == 0.9 and set(event.details["probabilities"]) == set(net_mod.CLASSES)
    assert det.hits_from(np.array([[0.3, 0.45, 0.25, 0, 0]]), spans[:1], 0.0) == []  # top class under threshold
    with pytest.raises(ValueError, match="hop_s"):
        build(["audio_artifacts"], {"audio_artifacts": {"hop_s": 1.5}})


def test_every_segment_of_every_window_goes_through_one_forward_pass():
    det = build(["audio_artifacts"])[0]
    load_detector(det, SHIPPED)
    calls = []
    det.net.register_forward_hook(lambda m, i, o: calls.append(i[0].shape[0]))
    rng = np.random.default_rng(1)
    info = ItemInfo(duration_s=16.0, has_video=False, has_audio=True)
    wins = [(Window("a", t, t + 8.0, audio={det.audio.key: AudioSamples(t, 32000, (0.05 * rng.standard_normal(
        (1, 256000))).astype(np.float32))}), info) for t in (0.0, 8.0)]
    out = det(wins)
    assert calls == [30] and len(out) == 2  # 15 segments per 8 s window at hop 0.5 s


def test_context_head_judges_each_window_against_its_own_segments_only():
    """A segment's decision depends on the other segments of its window (its context), never on
    another window's, however the segments are batched."""
    net, meta = net_mod.load(SHIPPED)
    assert net.context and meta["context_head"] and net.name.endswith("-ctx")
    rng = np.random.default_rng(3)
    a = (0.05 * rng.standard_normal((15, 32000))).astype(np.float32)
    b = (0.2 * rng.standard_normal((15, 32000))).astype(np.float32)
    b2 = (0.01 * rng.standard_normal((15, 32000))).astype(np.float32)
    groups = np.repeat([0, 1], 15)
    p_ab = net_mod.classify(net, np.concatenate([a, b]), groups=groups)
    p_ab2 = net_mod.classify(net, np.concatenate([a, b2]), groups=groups, batch=16)  # a batch never splits a window
    assert np.allclose(p_ab[:15], p_ab2[:15], atol=1e-5)
    assert np.allclose(p_ab[:15], net_mod.classify(net, a), atol=1e-5)
    # The same segment in another context is judged differently: the context is used.
    mixed = np.concatenate([a[:1], b[1:]])
    assert not np.allclose(net_mod.classify(net, mixed)[0], p_ab[0], atol=1e-3)
    assert net_mod.group_batches(np.repeat(np.arange(5), [15, 15, 15, 11, 3]), 30) == [(0, 30), (30, 59)]
    assert net_mod.group_batches(np.repeat([0, 1], [40, 2]), 30) == [(0, 40), (40, 42)]


# ---------------------------------------------------------------------------------------------
# Real media through a real scan

SR = 48000
CASES = {
    # item: (programme kind, defect, injector, kwargs), defect over 4.0-7.0 s of a 10 s item
    "hum": ("speech", "audio_hum", A.add_hum, {"frequency_hz": 60, "level_dbfs": -30.0, "harmonics": 4}),
    "hiss": ("music", "audio_hiss", A.add_hiss, {"snr_db": 12.0, "color": "white"}),
    "clicks": ("speech", "audio_clicks", A.add_clicks, {"rate_per_s": 8.0}),
    "distortion": ("music", "audio_distortion", A.add_distortion, {"kind": "hard", "gain": 8.0}),
}
TRUTH = (4.0, 7.0)
# Real recordings (the bench files of rayqa/simulate/real.py, which training never heard): the
# same defects over 4-7 s of recorded music and of recorded dialogue over music, at -23 LUFS.
HAVE_REAL = not real.missing(("music", "voice", "ambience"))
REAL_CASES = {
    "real_hiss": ("music", "audio_hiss", A.add_hiss, {"snr_db": 15.0, "color": "white"}),
    "real_distortion": ("music", "audio_distortion", A.add_distortion, {"kind": "hard", "gain": 8.0}),
    "real_hum": ("dialogue_music", "audio_hum", A.add_hum, {"frequency_hz": 50, "level_dbfs": -35.0, "harmonics": 3}),
    "real_clicks": ("dialogue_music", "audio_clicks", A.add_clicks, {"rate_per_s": 8.0}),
} if HAVE_REAL else {}
REAL_CLEAN = ("real_clean_music", "real_clean_dialogue") if HAVE_REAL else ()


def _programme(kind: str, seed: int, duration_s: float = 10.0, sr: int = SR, channels: int = 2, level=-6.0):
    return audio_scene(kind, duration_s, sr, channels, np.random.default_rng(seed), level_dbfs=level, split="heldout")


def _real_programme(kind: str, seed: int, duration_s: float = 10.0):
    """Recorded programme from the bench files (never used in training), stereo at 48 kHz, -23 LUFS."""
    rng = np.random.default_rng(seed)
    for _ in range(10):
        try:
            return real.programme_audio(kind, duration_s, SR, rng, "bench")[0]
        except Exception:  # a draw with a quiet stretch: draw again
            continue
    raise RuntimeError("no real programme drawn")


@pytest.fixture(scope="module")
def catalogue(tmp_path_factory, ray_local):
    """AAC/MP4 items from held-out pristine audio: one per defect at 4-7 s, clean ones, and
    awkward inputs (silent, 0.6 s long, mono, 5.1, 8 kHz)."""
    d = tmp_path_factory.mktemp("audio_artifacts")
    rows = []
    for i, (item, (kind, _, injector, kwargs)) in enumerate(CASES.items()):
        audio = _programme(kind, 10 + i)
        extra = {"rng": np.random.default_rng(i)} if injector in (A.add_hiss, A.add_clicks) else {}
        audio, _ = injector(audio, SR, *TRUTH, **kwargs, **extra)
        rows.append({"item_id": item, "uri": str(encode(d / f"{item}.mp4", None, 25, 320, 180, audio, SR))})
    for item, kind, seed in (("clean_speech", "speech", 30), ("clean_music", "music", 31)):
        rows.append({"item_id": item, "uri": str(encode(d / f"{item}.mp4", None, 25, 320, 180, _programme(kind, seed), SR))})
    for i, (item, (kind, _, injector, kwargs)) in enumerate(REAL_CASES.items()):
        audio = _real_programme(kind, 60 + i)
        extra = {"rng": np.random.default_rng(i)} if injector in (A.add_hiss, A.add_clicks) else {}
        audio, _ = injector(audio, SR, *TRUTH, **kwargs, **extra)
        rows.append({"item_id": item, "uri": str(encode(d / f"{item}.mp4", None, 25, 320, 180, audio, SR))})
    for item, kind, seed in zip(REAL_CLEAN, ("music", "dialogue_music"), (70, 71)):
        rows.append({"item_id": item, "uri": str(encode(d / f"{item}.mp4", None, 25, 320, 180,
                                                        _real_programme(kind, seed, 30.0), SR))})
    awkward = {
        "silent": np.zeros((2, 5 * SR), np.float32),
        "short": _programme("speech", 40, duration_s=0.6),
        "mono": _programme("music", 41, channels=1),
        "surround": _programme("music", 42, channels=6),
        "narrowband": _programme("speech", 43, sr=8000, channels=1),
    }
    for item, audio in awkward.items():
        sr = 8000 if item == "narrowband" else SR
        rows.append({"item_id": item, "uri": str(encode(d / f"{item}.mp4", None, 25, 320, 180, audio, sr))})
    manifest = write_manifest(d / "m.csv", rows)
    run_scan(manifest, d / "out", detectors=["audio_artifacts"])
    return pd.read_parquet(d / "out" / "findings"), pd.read_parquet(d / "out" / "items").set_index("item_id")


# Since v3 (a context head over v2's frozen trunk) the model trades simulated accuracy for real
# recordings: v4 has 79 false events per clean real hour (v3 102, v2 606) but held-out simulated
# balanced accuracy 0.895 (v3 0.900, v2 0.944; bench/results/audio_artifacts.json); on this
# synthetic music with hiss at 4-7 s it adds hum events at 0-2 s and 6.5-8 s, outside the defect
# (v3 a hiss event at 0-2 s, v2 none). Strict: a model without such events must drop the mark.
SIMULATED_HISS_REGRESSION = pytest.mark.xfail(strict=True, reason="audio_artifacts v4: false hum events at 0-2 s and "
                                              "6.5-8 s on synthetic music (v2 had none; simulated balanced accuracy 0.895)")


@pytest.mark.parametrize("item", [pytest.param(i, marks=SIMULATED_HISS_REGRESSION) if i == "hiss" else i
                                  for i in list(CASES) + list(REAL_CASES)])
def test_scan_finds_each_injected_defect_within_one_segment_of_truth(catalogue, item):
    findings, items = catalogue
    defect = {**CASES, **REAL_CASES}[item][1]
    f = findings[findings["item_id"] == item]
    hits = f[f["defect"] == defect]
    assert len(hits) >= 1, f.to_dict("records")
    main_hit = hits.loc[(hits["end_s"] - hits["start_s"]).idxmax()]
    assert abs(main_hit["start_s"] - TRUTH[0]) <= 1.0 and abs(main_hit["end_s"] - TRUTH[1]) <= 1.0, main_hit.to_dict()
    # Nothing more than a segment away from the defect.
    assert ((f["start_s"] >= TRUTH[0] - 1.0) & (f["end_s"] <= TRUTH[1] + 1.0)).all(), f.to_dict("records")
    details = json.loads(main_hit["details"])
    p = details["probabilities"]
    assert set(p) == set(net_mod.CLASSES) and max(p, key=p.get) == defect.removeprefix("audio_")
    assert main_hit["score"] == pytest.approx(p[defect.removeprefix("audio_")], abs=1e-3)
    assert -60 < details["level_db"] < 0 and details["segments"] >= 2
    assert main_hit["model"] == "rayqa-audio_artifacts" and main_hit["detector"] == "audio_artifacts"


# The shipped v4 misses issue 17's false-alarm goal on real recordings (bench/audio_artifacts.py:
# 79 false events per clean hour against <= 2): on this real music item it reports a hiss event
# (v3 two). Strict: when a model meets the goal, this test must pass and the mark go.
REAL_CLEAN_MISSED = pytest.mark.xfail(strict=True, reason="audio_artifacts v4: 79 false events per hour of clean "
                                      "real programme (goal <= 2); a false hiss event on this item")
@pytest.mark.parametrize("item", ["clean_speech", "clean_music", "silent", "short", "mono",
                                  "surround", "narrowband",
                                  *[pytest.param(i, marks=REAL_CLEAN_MISSED) if i == "real_clean_music" else i
                                    for i in REAL_CLEAN]])
def test_clean_and_awkward_inputs_are_scanned_without_error_or_finding(catalogue, item):
    findings, items = catalogue
    row = items.loc[item]
    assert row["status"] == "ok" and pd.isna(row["error"]) and row["has_audio"], row.to_dict()
    assert findings[findings["item_id"] == item].empty, findings[findings["item_id"] == item].to_dict("records")


def test_defect_in_surround_and_narrowband_audio_is_found(tmp_path, ray_local):
    """5.1 (mixed down to mono by the decoder) and 8 kHz (resampled to 32 kHz) still show hum."""
    rows = []
    for item, sr, ch in (("surround", SR, 6), ("narrowband", 8000, 1)):
        audio = _programme("music", 50, sr=sr, channels=ch)
        audio, _ = A.add_hum(audio, sr, *TRUTH, frequency_hz=50, level_dbfs=-25.0, harmonics=3)
        rows.append({"item_id": item, "uri": str(encode(tmp_path / f"{item}.mp4", None, 25, 320, 180, audio, sr))})
    run_scan(write_manifest(tmp_path / "m.csv", rows), tmp_path / "out", detectors=["audio_artifacts"])
    f = pd.read_parquet(tmp_path / "out" / "findings")
    for item in ("surround", "narrowband"):
        hum = f[(f["item_id"] == item) & (f["defect"] == "audio_hum")]
        assert len(hum) >= 1 and abs(hum["start_s"].min() - TRUTH[0]) <= 1.0, f.to_dict("records")


# ---------------------------------------------------------------------------------------------
# Bad models, training


def test_damaged_checkpoint_is_a_clear_registry_error(tmp_path):
    bad = tmp_path / "audio_artifacts"
    shutil.copytree(SHIPPED, bad)
    with open(bad / "weights.pt", "r+b") as fh:  # a truncated download
        fh.truncate(1000)
    with pytest.raises(net_mod.ModelLoadError, match="damaged"):
        net_mod.load(bad)
    det = build(["audio_artifacts"])[0]
    with pytest.raises(RegistryError, match="rayqa-audio_artifacts version file:audio_artifacts cannot be loaded"):
        load_detector(det, bad)
    meta = json.loads((bad / "model.json").read_text())
    meta.pop("weights_sha256")
    (bad / "model.json").write_text(json.dumps(meta))
    with pytest.raises(net_mod.ModelLoadError, match="not a readable checkpoint"):
        net_mod.load(bad)
    torch.save({"conv": torch.zeros(3)}, bad / "weights.pt")
    with pytest.raises(net_mod.ModelLoadError, match="does not fit"):
        net_mod.load(bad)
    meta["arch"] = "resnet18"
    (bad / "model.json").write_text(json.dumps(meta))
    with pytest.raises(net_mod.ModelLoadError, match="architecture 'resnet18'"):
        net_mod.load(bad)


def test_train_command_writes_registers_and_the_detector_loads_it(tmp_path, monkeypatch, capsys):
    """`rayqa train audio_artifacts` end to end at toy size: data simulated, model written, version registered."""
    monkeypatch.setenv("RAYQA_HOME", str(tmp_path / "home"))
    out = tmp_path / "trained"
    assert main(["train", "audio_artifacts", "--items", "10", "--steps", "2", "--batch", "10", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert '"version": "1"' in printed and str(out) in printed
    meta = json.loads((out / "model.json").read_text())
    assert meta["train_config"]["seed"] == 0 and len(meta["data_sha256"]) == 64
    assert set(meta["metrics"]) >= {"val_balanced_accuracy", "val_recall_hum", "val_clean_false_alarm_rate"}
    reg = ModelRegistry()
    resolved = reg.resolve("audio_artifacts", bootstrap=False)  # the trained version, champion of an empty registry
    run = reg.client.get_run(reg.client.get_model_version("rayqa-audio_artifacts", resolved.version).run_id)
    assert run.data.params["data_sha256"] == meta["data_sha256"] and "train_loss" in run.data.metrics
    det = build(["audio_artifacts"])[0]
    load_detector(det, resolved)
    assert (det.model_name, det.model_version) == ("rayqa-audio_artifacts", resolved.version)
    assert det.classify(np.zeros((2, 32000), np.float32)).shape == (2, 5)
    # Same seed, same simulated data: the hash is reproducible.
    assert main(["train", "audio_artifacts", "--items", "10", "--steps", "1", "--batch", "10", "--no-register",
                 "--out", str(tmp_path / "again"), "--data", str(tmp_path / "fresh")]) == 0
    assert json.loads((tmp_path / "again" / "model.json").read_text())["data_sha256"] == meta["data_sha256"]
    assert main(["train", "audio_artifacts", "--steps", "0"]) == 2


def test_train_can_start_from_a_published_panns_checkpoint(tmp_path, monkeypatch, capsys):
    """`--init-panns` builds the checkpoint's layout at width 1.0, loads its trunk and says so in
    model.json; a file that is not a PANNs checkpoint is refused with the reason."""
    monkeypatch.setenv("RAYQA_HOME", str(tmp_path / "home"))
    ckpt = tmp_path / "Cnn6_mAP=0.343.pth"
    torch.save({"model": _panns_state("Cnn6")}, ckpt)
    out = tmp_path / "tuned"
    assert main(["train", "audio_artifacts", "--items", "10", "--steps", "1", "--batch", "10", "--no-register",
                 "--init-panns", str(ckpt), "--out", str(out)]) == 0
    meta = json.loads((out / "model.json").read_text())
    assert meta["arch"] == "panns-cnn6-aux-ctx" and meta["init_panns"] == ckpt.name and meta["width"] == 1.0
    assert "tensors loaded" in capsys.readouterr().out
    net, _ = net_mod.load(out)
    assert net.conv_block4.conv1.weight.shape == (512, 256, 5, 5)
    (tmp_path / "junk.pth").write_bytes(b"not a checkpoint")
    assert main(["train", "audio_artifacts", "--init-panns", str(tmp_path / "junk.pth")]) == 2
    assert "not a readable checkpoint" in capsys.readouterr().err


def test_finetune_trains_the_trunk_on_real_training_windows_but_never_held_back_ones(tmp_path, monkeypatch):
    """`--finetune N`: the trunk (not only the context head) learns from crops of the real training
    windows beside simulated ones; the held-back real windows stay unseen; the card gives the
    command; a detector whose training has no such option refuses it."""
    if real.missing(("music", "voice", "ambience")) or real.missing_train_only():
        pytest.skip("real recordings not installed (make real-media)")
    from rayqa.train.audio_artifacts import TrainConfig, real_val_windows

    monkeypatch.setenv("RAYQA_HOME", str(tmp_path / "home"))
    data = tmp_path / "data"
    common = ["train", "audio_artifacts", "--items", "10", "--steps", "1", "--batch", "10", "--no-register",
              "--data", str(data)]
    assert main(common + ["--out", str(tmp_path / "plain")]) == 0
    assert main(common + ["--finetune", "2", "--out", str(tmp_path / "tuned")]) == 0
    meta = json.loads((tmp_path / "tuned" / "model.json").read_text())
    ft = meta["finetune"]
    assert ft["steps"] == 2 and ft["real_crops"] > 0
    windows = int(round(10 * TrainConfig().real_per_item))
    assert ft["real_windows"] == windows - int(real_val_windows(windows, TrainConfig(items=10)).sum())
    assert meta["train_config"]["finetune"] == 2
    assert "--finetune 2" in (tmp_path / "tuned" / "MODEL_CARD.md").read_text()
    plain, _ = net_mod.load(tmp_path / "plain")
    tuned, _ = net_mod.load(tmp_path / "tuned")
    assert not torch.equal(plain.conv_block1.conv1.weight, tuned.conv_block1.conv1.weight)
    assert not torch.equal(plain.fc_artifacts.weight, tuned.fc_artifacts.weight)
    probs = net_mod.classify(tuned, np.random.default_rng(0).normal(0, 0.1, (3, 32000)).astype(np.float32))
    assert probs.shape == (3, 5) and np.allclose(probs.sum(axis=1), 1.0, atol=1e-4)
    assert main(["train", "block_corruption", "--finetune", "2"]) == 2
    assert main(common + ["--finetune", "-1"]) == 2
