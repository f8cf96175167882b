"""Pure pieces on synthetic arrays: detectors' signal code, merging, windows, config, collector."""

import json

from fractions import Fraction

import numpy as np
import pandas as pd
import pytest

from rayqa import media
from rayqa.config import ConfigError, ScanConfig
from rayqa.detectors import build
from rayqa.detectors.audio_silence import block_peak_db
from rayqa.detectors.base import runs
from rayqa.types import AudioSamples, Hit, ItemInfo, VideoFrames, Window
from rayqa.detectors.black_frames import black_ratio
from rayqa.detectors.video_freeze import frame_differences
from rayqa.stages import DetectStage, _contiguous_groups, keep_media, kept_stage

INFO = ItemInfo(duration_s=8.0, has_video=True, has_audio=True, fps=25.0, width=160, height=90,
                video_duration_s=8.0, audio_duration_s=8.0)


def _video_window(frames, fps=10.0, t0=0.0):
    times = t0 + np.arange(len(frames)) / fps
    return Window("x", t0, t0 + len(frames) / fps,
                  video={"video_10fps_160x90_gray": VideoFrames(times, frames, np.round(times * 25).astype(int))})


def test_runs():
    assert runs(np.array([0, 1, 1, 0, 1], bool)) == [(1, 3), (4, 5)]
    assert runs(np.zeros(0, bool)) == []


def test_black_ratio_and_detector():
    rng = np.random.default_rng(0)
    frames = rng.integers(60, 255, (40, 90, 160), dtype=np.uint8)
    frames[10:35] = rng.integers(0, 20, (25, 90, 160), dtype=np.uint8)  # near black, with noise
    assert black_ratio(frames[10:11], 0.10)[0] == 1.0 and black_ratio(frames[:1], 0.10)[0] == 0.0
    det = build(["black_frames"])[0]
    hits = det.detect(_video_window(frames), INFO)
    events = det.merge(hits)
    assert [(e.defect, e.start_s, round(e.end_s, 2)) for e in events] == [("black_frames", 1.0, 3.5)]


def test_freeze_ignores_flat_frames_and_finds_frozen_detail():
    rng = np.random.default_rng(1)
    frames = rng.integers(0, 255, (50, 90, 160), dtype=np.uint8)
    frames[5:30] = frames[5]  # frozen detail for 2.5 s
    frames[35:50] = 0  # black: not a freeze
    diffs = frame_differences(frames)
    assert diffs.shape == (49,) and diffs[5:29].max() == 0
    det = build(["video_freeze"])[0]
    events = det.merge(det.detect(_video_window(frames), INFO))
    assert [(e.start_s, round(e.end_s, 2)) for e in events] == [(0.5, 3.0)]


def test_silence_block_levels_and_min_duration():
    sr = 16000
    x = (0.3 * np.sin(np.arange(8 * sr) / sr * 2 * np.pi * 300)).astype(np.float32)
    x[sr : 4 * sr] = 0.0  # 3 s silent
    x[5 * sr : int(6.5 * sr)] = 0.0  # 1.5 s: shorter than the 2 s minimum asked for here
    levels = block_peak_db(x, 320)
    assert levels[100] < -150 and levels[0] > -20
    det = build(["audio_silence"], {"audio_silence": {"min_duration_s": 2.0}})[0]
    w = Window("x", 0, 8, audio={"audio_16000hz_mono": AudioSamples(0.0, sr, x[None, :])})
    events = det.merge(det.detect(w, INFO))
    assert [(round(e.start_s, 2), round(e.end_s, 2)) for e in events] == [(1.0, 4.0)]
    assert json.loads(json.dumps(events[0].details))["level_db"] < -60


def test_merge_joins_across_windows_and_keeps_evidence():
    det = build(["audio_silence"])[0]
    hits = [Hit("audio_silence", 6.0, 8.0, 0.9, {"level_db": -70.0}),
            Hit("audio_silence", 8.0, 9.5, 1.0, {"level_db": -90.0})]
    (event,) = det.merge(hits)
    assert (event.start_s, event.end_s, event.score) == (6.0, 9.5, 1.0)
    assert event.details["level_db"] == -70.0  # the loudest part, checkable against the threshold


def test_duration_mismatch_threshold():
    det = build(["duration_mismatch"], {"duration_mismatch": {"max_difference_s": 1.0}})[0]
    ok = ItemInfo(10.0, True, True, video_duration_s=10.0, audio_duration_s=9.5)
    bad = ItemInfo(10.0, True, True, video_duration_s=10.0, audio_duration_s=8.0)
    assert det.check_item(ok) == []
    (hit,) = det.check_item(bad)
    assert (hit.start_s, hit.end_s, hit.details["longer"]) == (8.0, 10.0, "video")


def test_unknown_detector_parameter_refused():
    with pytest.raises(ValueError, match="unknown parameter"):
        build(["black_frames"], {"black_frames": {"pixel_treshold": 0.2}})


def test_windows_and_sampling():
    info = ItemInfo(duration_s=17.5, has_video=True, has_audio=False)
    assert media.plan_windows(info, 8.0) == [(0.0, 8.0), (8.0, 16.0), (16.0, 17.5)]
    assert np.allclose(media.sample_times(8.0, 9.0, 4), [8.0, 8.25, 8.5, 8.75])
    img = np.arange(360 * 640, dtype=np.uint32).reshape(360, 640)
    assert media.scale_nearest(img, 160, 90).shape == (90, 160)


def test_config_fits_two_cpus_and_refuses_what_cannot_run(tmp_path):
    cfg = ScanConfig().merged({"resources": {"model_pool": "actor"}})
    pools = cfg.plan_pools(["black_frames"], ["block_corruption", "audio_artifacts"], 2, 0, use_gpu=False)
    assert [p.names for p in pools] == [("block_corruption",), ("audio_artifacts",)]
    assert all(p.num_gpus == 0 and p.min_size == 1 and p.max_size == 4 for p in pools)  # 2 CPUs / 0.5
    greedy = cfg.merged({"resources": {"dsp_pool": "actor", "dsp_num_cpus": 1.0, "model_num_cpus": 1.0}})
    with pytest.raises(ConfigError, match="do not fit"):
        greedy.plan_pools(["black_frames"], ["block_corruption"], 2, 0, use_gpu=False)
    # Inside the decode tasks the dsp detectors reserve nothing of their own.
    greedy.merged({"resources": {"dsp_pool": "decode"}}).plan_pools(["black_frames"], ["block_corruption"], 2, 0, False)
    (tmp_path / "c.toml").write_text("[decode]\nwindow_s = 4\n[detectors.black_frames]\npixel_threshold = 0.2\n")
    loaded = ScanConfig.load(tmp_path / "c.toml")
    assert loaded.decode.window_s == 4.0 and loaded.detectors["black_frames"]["pixel_threshold"] == 0.2
    with pytest.raises(ConfigError, match="expected float"):
        cfg.merged({"decode": {"window_s": "long"}})


def test_pools_scale_with_the_cluster_and_take_per_detector_overrides(tmp_path):
    cfg = ScanConfig.load(_toml(tmp_path, "[pools.block_corruption]\nnum_gpus = 1.0\nbatch_windows = 16\n"
                                          "[pools.audio_artifacts]\nnum_cpus = 1.0\nmax_size = 2\n"))
    # A GPU cluster of 64 CPUs and 4 GPUs: block_corruption takes whole GPUs, up to 4 actors;
    # audio_artifacts is capped at 2 and keeps its default fractional GPU.
    bc, aa = cfg.plan_pools([], ["block_corruption", "audio_artifacts"], 64, 4, use_gpu=True)
    assert (bc.num_gpus, bc.batch_windows, bc.max_size) == (1.0, 16, 4)
    assert (aa.num_cpus, aa.num_gpus, aa.max_size, aa.batch_windows) == (1.0, 0.5, 2, 4)
    # The same config on a CPU-only cluster asks for no GPU and sizes pools by CPUs.
    bc, aa = cfg.plan_pools([], ["block_corruption", "audio_artifacts"], 16, 0, use_gpu=False)
    assert (bc.num_gpus, bc.max_size, aa.max_size) == (0.0, 32, 2)
    with pytest.raises(ConfigError, match="GPU pools need"):
        cfg.merged({"pools": {"block_corruption": {"min_size": 5}}}).plan_pools([], ["block_corruption"], 64, 4, True)
    with pytest.raises(ConfigError, match=r"unknown key\(s\) in \[pools.block_corruption\]: gpus"):
        cfg.merged({"pools": {"block_corruption": {"gpus": 1}}})
    with pytest.raises(ConfigError, match="batch_windows"):
        cfg.merged({"pools": {"audio_artifacts": {"batch_windows": 0}}})
    with pytest.raises(ConfigError, match="max_task_retries"):
        cfg.merged({"resources": {"max_task_retries": -1}})


def _toml(folder, text):
    path = folder / "pools.toml"
    path.write_text(text)
    return path


def test_windows_travel_on_with_only_what_later_stages_read():
    from rayqa.types import Damage

    frames = VideoFrames(np.array([0.0, 0.5]), np.zeros((2, 4, 4), np.uint8), np.array([0, 1]))
    audio = AudioSamples(0.0, 16, np.zeros((1, 8), np.float32))
    damage = [Damage(0.0, 0.5, "video", "pyav", "concealed")]
    w = Window("a", 0.0, 1.0, video={"v1": frames, "v2": frames}, audio={"a1": audio, "a2": audio}, damage=damage)
    rows = [{"media": w}, {"media": None}]
    keep_media(rows, None)
    assert rows[0]["media"] is w
    keep_media(rows, (["v2"], ["a1", "missing"]))
    kept = rows[0]["media"]
    assert list(kept.video) == ["v2"] and list(kept.audio) == ["a1"] and kept.damage == damage
    assert kept.video["v2"] is frames and rows[1]["media"] is None
    assert list(w.video) == ["v1", "v2"]  # the decoded window itself is not changed


def test_decode_tasks_keep_their_detectors_loaded_between_batches():
    from rayqa import stages

    stages._KEPT.clear()
    a = kept_stage({"names": ["black_frames"], "overrides": {}, "drop_media": True})
    assert kept_stage({"names": ["black_frames"], "overrides": {}, "drop_media": True}) is a
    b = kept_stage({"names": ["black_frames"], "overrides": {"black_frames": {"pixel_threshold": 0.2}},
                    "drop_media": True})
    assert b is not a and b.detectors[0].params["pixel_threshold"] == 0.2
    kept_stage({"names": ["audio_silence"], "overrides": {}, "drop_media": True})
    assert len(stages._KEPT) == stages.KEPT_STAGES  # bounded: the oldest is let go
    assert kept_stage({"names": ["black_frames"], "overrides": {}, "drop_media": True}) is not a


def test_contiguous_groups():
    rows = [{"item_id": "a", "window_index": i, "error": ""} for i in (2, 0, 1, 4)]
    rows.append({"item_id": "b", "window_index": 0, "error": ""})
    assert [[r["window_index"] for r in g] for g in _contiguous_groups(rows)] == [[0, 1, 2], [4], [0]]


def test_detector_failure_fails_the_item_not_the_batch(monkeypatch):
    import pickle

    stage = DetectStage(["black_frames", "audio_silence"], {})

    def boom(window, info):
        raise RuntimeError("bad weights")

    monkeypatch.setattr(stage.detectors[0], "detect", boom)
    w = _video_window(np.zeros((80, 90, 160), np.uint8))
    w.audio["audio_16000hz_mono"] = AudioSamples(0.0, 16000, np.zeros((1, 8 * 16000), np.float32))
    batch = pd.DataFrame([{"item_id": "x", "uri": "u", "info": pickle.dumps(INFO), "window_index": 0, "n_windows": 1,
                           "t0": 0.0, "t1": 8.0, "media": pickle.dumps(w), "hits": pickle.dumps([]), "error": "",
                           "work_s": 0.0}])
    out = stage(batch).iloc[0]
    assert out["error"] == "detector black_frames failed: RuntimeError: bad weights"
    assert out["media"] == b""


def test_luma_is_full_range_for_limited_range_video(tmp_path):
    """A mid-gray and a white picture decode to their full-range luma (no wrap-around)."""
    import av

    from rayqa.types import VideoSpec

    path = tmp_path / "gray.mp4"
    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=25)
        s.width, s.height, s.pix_fmt = 320, 180, "yuv420p"
        for i, level in enumerate([128] * 25 + [255] * 25):
            f = av.VideoFrame.from_ndarray(np.full((180, 320, 3), level, np.uint8), format="rgb24")
            f.pts = i
            for p in s.encode(f):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    info = media.probe(str(path))
    spec = VideoSpec(10, 160, 90)
    for backend in ("pyav", "decord"):
        (w,) = media.decode_windows(str(path), info, [(0.0, 2.0)], [spec], [], backend=backend)
        means = w.video[spec.key].frames.mean(axis=(1, 2))
        assert abs(means[0] - 128) <= 3 and abs(means[-1] - 255) <= 3, (backend, means)


def test_config_refuses_unknown_backend():
    with pytest.raises(ConfigError, match="video_backend"):
        ScanConfig().merged({"decode": {"video_backend": "gstreamer"}})


def test_area_rgb_gives_the_colours_of_each_matrix_and_range_and_kept_swscale_the_same_pixels():
    """RGB by the area filter (``from_planes``) gives the colours put in, for limited-range BT.601
    and BT.709 and full-range frames; the kept swscale context gives exactly the pixels
    ``VideoFrame.reformat`` gives (what the learned detectors were trained on)."""
    import av

    from rayqa.media.convert import Scaler

    img = np.zeros((72, 128, 3), np.uint8)
    img[:, :32] = (200, 30, 40)
    img[:, 32:64] = (20, 180, 60)
    img[:, 64:96] = (30, 40, 210)
    img[:, 96:] = (128, 128, 128)
    scaler = Scaler()
    for fmt, colorspace in (("yuv420p", "ITU601"), ("yuv420p", "ITU709"), ("yuvj420p", "ITU601"), ("yuv444p", "ITU601")):
        frame = av.VideoFrame.from_ndarray(img, "rgb24").reformat(format=fmt, dst_colorspace=colorspace,
                                                                 dst_color_range="JPEG" if "j" in fmt else "MPEG")
        if colorspace == "ITU709":
            frame.colorspace = 1  # what a decoder reports for a BT.709 stream
        ours = scaler.rgb_area(frame, 32, 18).astype(int)
        for x, want in ((4, img[0, 0]), (12, img[0, 40]), (20, img[0, 70]), (28, img[0, 100])):
            assert np.abs(ours[9, x] - want.astype(int)).max() <= 4, (fmt, colorspace, x, ours[9, x], want)
        assert np.array_equal(scaler.rgb(frame, 32, 18), frame.reformat(32, 18, "rgb24").to_ndarray())


def test_kept_luma_sampling_gives_the_nearest_samples_and_range_conversion_it_replaced():
    """``Scaler.luma`` (indices and a table kept between frames) gives exactly the pixels of
    ``scale_nearest`` then ``limited_to_full`` on limited-range frames and the plane as it is on
    full-range ones, for sizes whose rows are padded; None where there is no 8-bit luma plane."""
    import av

    from rayqa.media.convert import Scaler

    rng = np.random.default_rng(0)
    scaler = Scaler()
    for fmt, (w, h) in (("yuv420p", (642, 362)), ("yuvj420p", (640, 360)), ("yuv444p", (321, 181)), ("gray", (200, 100))):
        for _ in range(2):  # the second frame reuses the kept indices
            frame = av.VideoFrame.from_ndarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8), "rgb24").reformat(format=fmt)
            y, limited = media.luma_plane(frame)
            want = media.scale_nearest(y, 160, 90)
            want = media.limited_to_full(want) if limited else want
            got = scaler.luma(frame, 160, 90)
            assert got.dtype == np.uint8 and np.array_equal(got, want), fmt
    # Sizes that divide the plane's (even and odd ratios) are a strided view, with the same pixels.
    for fmt, (w, h), (ow, oh) in (("yuv420p", (640, 360), (320, 180)), ("yuv420p", (640, 360), (160, 90)),
                                  ("yuv420p", (480, 270), (160, 90)), ("yuvj420p", (1280, 720), (320, 180))):
        frame = av.VideoFrame.from_ndarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8), "rgb24").reformat(format=fmt)
        y, limited = media.luma_plane(frame)
        want = media.scale_nearest(y, ow, oh)
        want = media.limited_to_full(want) if limited else want
        got = scaler.luma(frame, ow, oh)
        assert got.dtype == np.uint8 and got.flags.c_contiguous and np.array_equal(got, want), (fmt, w, ow)
    ten = av.VideoFrame.from_ndarray(np.zeros((90, 160, 3), np.uint8), "rgb24").reformat(format="yuv420p10le")
    assert scaler.luma(ten, 80, 45) is None


def test_audio_converted_a_run_of_frames_at_a_time_gives_the_samples_frame_by_frame_conversion_gives():
    """The accumulators convert the frames kept since the last cut in one resampler call, the specs
    of a pass sharing one join of each run (as a decode pass does); the samples are those of one
    call per frame, for packed 16-bit 44.1 kHz stereo (resampled for both specs) and 48 kHz
    float-planar 5.1 (taken as decoded for the multichannel spec), cut at uneven places."""
    import av

    from rayqa.media.pyav_source import _AudioAcc, _Joins
    from rayqa.types import AudioSpec

    rng = np.random.default_rng(4)

    def frames(fmt, layout, rate, n, size):
        ch = av.AudioLayout(layout).nb_channels
        out, pts = [], 0
        for _ in range(n):
            if fmt == "s16":
                data = rng.integers(-20000, 20000, (1, size * ch), dtype=np.int16)
            else:
                data = rng.uniform(-0.5, 0.5, (ch, size)).astype(np.float32)
            f = av.AudioFrame.from_ndarray(data, format=fmt, layout=layout)
            f.sample_rate, f.pts = rate, pts
            f.time_base = Fraction(1, rate)
            pts += size
            out.append(f)
        return out

    for fmt, layout, rate, size in (("s16", "stereo", 44100, 1152), ("fltp", "5.1", 48000, 1024)):
        specs = (AudioSpec(16000), AudioSpec(48000, mono=False))
        joins = _Joins()
        accs = [_AudioAcc(spec, av.AudioLayout(layout).nb_channels, joins) for spec in specs]
        references = [av.AudioResampler(format="flt", layout="mono" if s.mono else None, rate=s.sample_rate) for s in specs]
        want, got = [[] for _ in specs], [[] for _ in specs]
        cuts = iter([7, 8, 20, 41])  # frames after which a window is cut
        cut_at = next(cuts)
        for i, frame in enumerate(frames(fmt, layout, rate, 50, size)):
            for acc, reference, w in zip(accs, references, want):
                acc.add(frame, frame.time)
                if acc._direct:
                    w.append(frame.to_ndarray())
                else:
                    for out in reference.resample(frame):
                        arr = out.to_ndarray()
                        ch = out.layout.nb_channels
                        w.append(arr.reshape(-1, ch).T if ch > 1 else arr.reshape(1, -1))
            if i == cut_at:
                for acc, g in zip(accs, got):
                    g.append(acc.cut(0.0, 100.0).samples)
                joins.clear()
                cut_at = next(cuts, None)
        for spec, acc, w, g in zip(specs, accs, want, got):
            whole = acc.cut(0.0, 100.0).samples
            w = np.concatenate(w, axis=1)
            assert acc._direct == (fmt == "fltp" and not spec.mono)
            assert whole.shape[0] == (1 if spec.mono else av.AudioLayout(layout).nb_channels)
            assert whole.dtype == np.float32 and np.array_equal(whole, w), (fmt, spec)
            assert len(g) == 4 and all(np.array_equal(x, w[:, :x.shape[1]]) for x in g)


def test_multichannel_audio_at_its_own_rate_is_taken_as_decoded(tmp_path):
    """48 kHz float-planar AAC asked for as 48 kHz multichannel skips swresample and gives the
    samples it would have given; the mono 16 kHz spec still resamples."""
    import av

    from rayqa.media.pyav_source import _AudioAcc
    from rayqa.synth import ClipSpec, write_clip
    from rayqa.types import AudioSpec

    clip = tmp_path / "a.mp4"
    write_clip(clip, ClipSpec(duration_s=3, width=160, height=90, seed=2))
    multi, mono = AudioSpec(48000, mono=False), AudioSpec(16000)
    accs = [_AudioAcc(multi, 2), _AudioAcc(mono, 2)]
    reference = av.AudioResampler(format="flt", layout=None, rate=48000)
    ref_chunks = []
    with av.open(str(clip)) as c:
        for frame in c.decode(audio=0):
            assert frame.format.name == "fltp" and frame.sample_rate == 48000
            for acc in accs:
                acc.add(frame, frame.time)
            for out in reference.resample(frame):
                ref_chunks.append(out.to_ndarray().reshape(-1, out.layout.nb_channels).T)
    got = accs[0].cut(0.0, 3.0).samples
    want = np.concatenate(ref_chunks, axis=1)[:, : got.shape[1]]
    assert accs[0]._direct and not accs[1]._direct
    assert got.shape[0] == 2 and got.shape[1] >= 47000 and np.array_equal(got, want)
    assert accs[1].cut(0.0, 3.0).samples.shape[0] == 1


def test_decode_tasks_take_a_whole_cpu_unless_detector_pools_share_the_cluster():
    r = ScanConfig().resources
    assert r.decode_num_cpus == "auto" and r.decode_cpus(False) == 1.0 and r.decode_cpus(True) == 0.5
    assert ScanConfig().merged({"resources": {"decode_num_cpus": 0.25}}).resources.decode_cpus(False) == 0.25
    with pytest.raises(ConfigError, match="decode_num_cpus"):
        ScanConfig().merged({"resources": {"decode_num_cpus": "all"}})
    # Three learned pools on 2 CPUs still fit beside half-CPU decoders.
    actors = ScanConfig().merged({"resources": {"model_pool": "actor"}})
    assert len(actors.plan_pools([], ["block_corruption", "audio_artifacts", "av_sync"], 2, 0, use_gpu=False)) == 3


def test_learned_detectors_run_in_the_decode_tasks_on_cpu_clusters_unless_told(tmp_path):
    learned = ["block_corruption", "audio_artifacts"]
    cfg = ScanConfig()
    assert cfg.resources.model_pool == "auto"
    # A CPU-only cluster: no learned pool (the decode tasks load the models), decoders take a CPU.
    assert cfg.models_in_decode(learned, use_gpu=False) and cfg.plan_pools(["black_frames"], learned, 2, 0, False) == []
    # A cluster with GPUs: each learned detector in its own GPU pool.
    assert not cfg.models_in_decode(learned, use_gpu=True)
    assert [p.names for p in cfg.plan_pools([], learned, 8, 1, True)] == [("block_corruption",), ("audio_artifacts",)]
    # [pools.<detector>] for one of the scan's learned detectors asks for pools, GPU or not;
    # for a detector this scan does not run, it changes nothing.
    sized = ScanConfig.load(_toml(tmp_path, "[pools.audio_artifacts]\nmax_size = 1\n"))
    assert [p.names for p in sized.plan_pools([], learned, 2, 0, False)] == [("block_corruption",), ("audio_artifacts",)]
    assert sized.models_in_decode(["block_corruption"], use_gpu=False)
    # Said outright, either way.
    assert cfg.merged({"resources": {"model_pool": "decode"}}).plan_pools([], learned, 8, 1, True) == []
    assert len(cfg.merged({"resources": {"model_pool": "actor"}}).plan_pools([], learned, 2, 0, False)) == 2
    with pytest.raises(ConfigError, match="model_pool"):
        cfg.merged({"resources": {"model_pool": "gpu"}})


def test_decode_and_detector_tasks_keep_opencv_to_their_cpu_share(ray_local):
    """OpenCV starts a thread per core; in a one-CPU Ray task the decode and detector stages keep it
    to one thread (two tasks on two cores would otherwise split every small conversion across both)."""

    @ray_local.remote(num_cpus=1)
    def threads_in_task() -> tuple[int, int]:
        import cv2

        from rayqa.stages import DecodeStage

        cv2.setNumThreads(4)  # as a fresh process on a 4-core node starts (this worker may be reused)
        DecodeStage([], [])
        after_decode = cv2.getNumThreads()
        cv2.setNumThreads(4)
        DetectStage(["black_frames"], {})
        return after_decode, cv2.getNumThreads()

    assert ray_local.get(threads_in_task.remote()) == (1, 1)


def test_probe_reads_the_metadata_a_qc_engineer_filters_on(tmp_path):
    from rayqa.media import probe
    from rayqa.synth import ClipSpec, write_clip

    info = probe(str(write_clip(tmp_path / "c.mp4", ClipSpec(duration_s=3, width=64, height=48))))
    assert (info.video_codec, info.audio_codec, info.audio_layout, info.audio_channels) == ("h264", "aac", "stereo", 2)
    assert info.field_order == "progressive" and info.bit_depth == 8 and info.dynamic_range == "SDR"
    assert info.vfr is False and info.fps_min == info.fps_max == 25.0
    assert info.video_profile and info.audio_profile == "LC" and "mp4" in info.container


def test_frame_rate_range_tells_variable_from_constant():
    from rayqa.media.probe import frame_rate_range

    constant = [i / 25 for i in range(100)]
    assert frame_rate_range(constant) == (False, 25.0, 25.0)
    assert frame_rate_range([t + 0.0001 * (i % 2) for i, t in enumerate(constant)])[0] is False  # tick rounding
    mixed = [i / 25 for i in range(51)] + [2 + i / 30 for i in range(1, 50)]
    vfr, lo, hi = frame_rate_range(mixed)
    assert vfr and lo == 25.0 and hi == 30.0
    assert frame_rate_range([0.0, 0.04]) == (False, None, None)


def test_a_window_carries_the_decoders_reports_from_just_before_it(tmp_path):
    """Concealment smears until the next keyframe, so a window carries the decoder's reports from
    the RECENT_DAMAGE_S before its start (``recent_damage``): from the previous window of the same
    pass, and from the seek's preroll when it is decoded alone. They are not its damage:
    decode_error reports each place once, and block_corruption's corroboration reads them."""
    from rayqa.synth import ClipSpec, corrupt_video_packets, write_clip
    from rayqa.types import RECENT_DAMAGE_S, VideoSpec

    clean = write_clip(tmp_path / "clean.mp4", ClipSpec(duration_s=14, width=160, height=90, seed=5, faststart=True))
    damaged = tmp_path / "damaged.mp4"
    corrupt_video_packets(clean, damaged, 5.0, 5.9)  # P-frames before the keyframe at 6 s (GOP 50 at 25 fps)
    info = media.probe(str(damaged))
    spec = VideoSpec(5, 80, 45, gray=True)
    run = media.decode_windows(str(damaged), info, [(0.0, 3.0), (3.0, 6.0), (6.0, 10.0), (10.0, 14.0)], [spec], [])
    before, at6 = run[1], run[2]
    assert [d.stream for d in before.damage] and all(d.start_s >= 5.0 - 0.05 for d in before.damage)
    assert at6.damage == [] and run[3].damage == [] and run[0].recent_damage == []
    # The reports before 6 s, clipped to [6 - RECENT_DAMAGE_S, 6): the previous window's, as they are there.
    assert [(d.start_s, d.end_s, d.message) for d in at6.recent_damage] == \
        [(d.start_s, d.end_s, d.message) for d in before.damage if d.end_s > 6.0 - RECENT_DAMAGE_S]
    assert run[3].recent_damage == []  # it starts more than RECENT_DAMAGE_S after them
    (alone,) = media.decode_windows(str(damaged), info, [(6.0, 10.0)], [spec], [])  # the seek's preroll
    assert alone.damage == [] and alone.recent_damage and \
        {d.message for d in alone.recent_damage} <= {d.message for d in before.damage}
    assert max(d.end_s for d in alone.recent_damage) <= 6.0 and min(d.start_s for d in alone.recent_damage) >= 2.0
    (clean_alone,) = media.decode_windows(str(clean), media.probe(str(clean)), [(6.0, 10.0)], [spec], [])
    assert clean_alone.recent_damage == [] and clean_alone.damage == []
    de, bc = build(["decode_error", "block_corruption"])
    assert de.detect(at6, info) == [] and de.detect(alone, info) == []  # reported once, by the window it is in
    assert bc.corroborated(alone, 6.2) and not bc.corroborated(alone, 8.5) and not bc.corroborated(clean_alone, 6.2)
    assert bc.decoder_report(alone, 6.2)[0]["end_s"] <= 6.0
    with pytest.raises(ValueError, match="decoder_lookback_s must be in"):
        build(["block_corruption"], {"block_corruption": {"decoder_lookback_s": RECENT_DAMAGE_S + 1}})


def test_a_run_decoded_in_one_pass_hands_out_each_window_final_and_as_a_whole_run_decode_gives_it(tmp_path):
    """``decode_runs`` decodes a run of windows in one pass (one seek) and hands them out a chunk
    at a time: every window, its frames, samples and damage (concealed frames across a window
    edge, a stream cut short) are what decoding the whole run at once gives, and a window handed
    out is not changed afterwards."""
    import copy

    from rayqa import runner
    from rayqa.synth import ClipSpec, corrupt_video_packets, write_clip
    from rayqa.types import AudioSpec, VideoSpec

    clean = write_clip(tmp_path / "clean.mp4", ClipSpec(duration_s=20, width=160, height=90, seed=3, faststart=True))
    damaged = tmp_path / "damaged.mp4"
    corrupt_video_packets(clean, damaged, 5.5, 6.6)  # across the window edge at 6 s
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(clean.read_bytes()[: clean.stat().st_size * 6 // 10])
    vspecs = [VideoSpec(10, 80, 45), VideoSpec(25, 32, 18, gray=False, from_planes=True)]
    aspecs = [AudioSpec(16000), AudioSpec(48000, mono=False)]
    for path in (clean, damaged, cut):
        info = media.probe(str(path))
        spans = [(t, min(t + 4.0, info.duration_s)) for t in np.arange(2.0, info.duration_s, 4.0)]  # a seek first
        whole = media.decode_windows(str(path), info, spans, vspecs, aspecs, item_id="x")
        handed, frozen = [], []
        for at, ws in runner.decode_runs("x", str(path), info, spans, vspecs, aspecs, chunk=1):
            assert not isinstance(ws, str) and at == len(handed)
            handed += ws
            frozen += copy.deepcopy(ws)
        assert len(handed) == len(whole) == len(spans)
        for w, f, ref in zip(handed, frozen, whole):
            assert [str(d) for d in w.damage] == [str(d) for d in f.damage] == [str(d) for d in ref.damage], path.name
            assert [str(d) for d in w.recent_damage] == [str(d) for d in ref.recent_damage], path.name
            for key, v in ref.video.items():
                for got in (w.video[key], f.video[key]):
                    assert np.array_equal(got.frames, v.frames) and np.array_equal(got.times_s, v.times_s)
            for key, a in ref.audio.items():
                assert w.audio[key].start_s == a.start_s and np.array_equal(w.audio[key].samples, a.samples)
        kinds = {d.message.split(":")[0] for w in whole for d in w.damage}
        if path == damaged:
            assert any("concealment" in k for k in kinds) and sum(bool(w.damage) for w in whole) >= 2
        if path == cut:
            assert any("stream ended" in d.message for w in whole for d in w.damage)
