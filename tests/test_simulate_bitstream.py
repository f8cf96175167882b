"""Block corruption from a damaged H.264 bitstream: the labels say what the decode shows."""

from __future__ import annotations

import av
import numpy as np
import pytest

from rayqa.simulate.bitstream import (
    DEFAULT_THRESHOLD,
    block_labels,
    block_masks,
    corrupt_bitstream,
    inject_block_corruption,
)
from rayqa.simulate.labels import SimulationError
from rayqa.synth import ClipSpec, write_clip

FPS = 25
START, END = 2.4, 2.8  # keyframes every 2 s (gop 50 at 25 fps): the damage lasts until 4.0
NEXT_KEYFRAME = 4.0


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    return write_clip(tmp_path_factory.mktemp("bitstream") / "clean.mp4",
                      ClipSpec(duration_s=6, width=320, height=180, fps=FPS, gop=50))


@pytest.fixture(scope="module")
def flipped(clean):
    """One packet (2.40 s) with one byte in 500 flipped: a partly corrupted first frame."""
    dst = clean.with_name("flipped.mp4")
    labels, masks, times = inject_block_corruption(clean, dst, START, START + 0.04, 5, mode="flip", intensity=0.002)
    return dst, labels, masks, times


def _yuv(path, times):
    """{time: [Y, U, V]} for the frames of ``path`` at ``times`` (4:2:0 planes, int16)."""
    want, out = {round(t, 3) for t in times}, {}
    with av.open(str(path)) as c:
        c.streams.video[0].thread_count = 1  # concealment differs with threads; rayqa decodes with one
        for f in c.decode(video=0):
            t = round(float(f.pts * f.time_base), 3)
            if t in want:
                a = f.to_ndarray()  # yuv420p: Y rows, then U and V packed as half-width rows
                h, w = f.height, f.width
                out[t] = [a[:h].astype(np.int16), a[h : h + h // 4].reshape(h // 2, w // 2).astype(np.int16),
                          a[h + h // 4 :].reshape(h // 2, w // 2).astype(np.int16)]
    return out


def _block_mad(a, b, block):
    """Mean absolute difference per block; the bottom row of blocks may be partial."""
    d = np.abs(a - b).astype(np.float64)
    rows = -(-d.shape[0] // block)
    heights = np.minimum(block, d.shape[0] - np.arange(rows) * block)
    sums = np.pad(d, ((0, rows * block - d.shape[0]), (0, 0))).reshape(rows, block, -1, block).sum(axis=(1, 3))
    return sums / (heights[:, None] * block)


def test_mask_marks_exactly_the_blocks_that_differ(clean, flipped):
    dst, labels, masks, times = flipped
    ratios = masks.mean(axis=(1, 2))
    partial = np.flatnonzero((ratios > 0) & (ratios < 1))
    assert partial.size, "expected a frame with only part of it corrupted"
    frames = [int(partial[0]), labels[0].details["frame_index"]]
    a, b = _yuv(clean, times[frames]), _yuv(dst, times[frames])
    for i in frames:
        t = round(float(times[i]), 3)
        score = np.maximum.reduce([_block_mad(p, q, s) for p, q, s in zip(a[t], b[t], (16, 8, 8))])
        assert score.shape == masks[i].shape
        assert (score[masks[i]] > DEFAULT_THRESHOLD).all()
        assert (score[~masks[i]] <= DEFAULT_THRESHOLD).all()
    # The peak frame is corrupted in the picture, not only marked so.
    t = round(float(times[frames[1]]), 3)
    assert np.abs(a[t][0] - b[t][0]).max() > 50


def test_corruption_starts_in_the_span_and_lasts_until_the_next_keyframe(clean, flipped):
    dst, labels, masks, times = flipped
    any_bad = masks.any(axis=(1, 2))
    assert not any_bad[times < START - 1e-6].any()
    assert any_bad[np.isclose(times, START)].all()
    assert not any_bad[times >= NEXT_KEYFRAME - 1e-6].any()
    # One damaged packet, but the decode carries it on through every frame up to the keyframe.
    assert any_bad[(times >= START - 1e-6) & (times < NEXT_KEYFRAME - 1e-6)].all()
    assert len(labels) == 1
    assert labels[0].end_s == pytest.approx(NEXT_KEYFRAME)
    # Before the damage the decode is bit-identical, not merely below the threshold.
    before = times[(times < START - 1e-6) & (times > START - 0.5)]
    a, b = _yuv(clean, before), _yuv(dst, before)
    assert len(a) == len(before) and all(np.array_equal(p, q) for t in a for p, q in zip(a[t], b[t]))


def test_clean_against_clean_finds_nothing(clean):
    times, masks, ratios = block_masks(clean, clean)
    assert masks.shape == (150, 12, 20)  # ceil(180 / 16) rows: the bottom blocks are partial
    assert not masks.any() and not ratios.any()
    assert np.allclose(np.diff(times), 1 / FPS)
    assert block_labels(times, masks, FPS) == []


def test_label_details_follow_the_masks(clean, tmp_path):
    dst = tmp_path / "zero.mp4"
    labels, masks, times = inject_block_corruption(clean, dst, START, END, 3, mode="zero", intensity=0.1)
    damaged = corrupt_bitstream(clean, tmp_path / "again.mp4", START, END, 3, mode="zero", intensity=0.1)
    assert (tmp_path / "again.mp4").read_bytes() == dst.read_bytes()
    assert len(labels) == 1
    label = labels[0]
    d = label.details
    assert label.defect == "block_corruption"
    assert abs(label.start_s - damaged[0]) <= 1 / FPS + 1e-9
    assert d["mode"] == "zero" and d["intensity"] == 0.1 and d["block_size"] == 16
    assert d["packets_damaged"] == len(damaged) == 10
    idx = d["frame_indices"]
    assert idx == list(range(idx[0], idx[-1] + 1))
    assert label.start_s == pytest.approx(times[idx[0]]) and label.end_s == pytest.approx(times[idx[-1]] + 1 / FPS)
    assert d["corrupted_area_ratio"] == [float(masks[i].mean()) for i in idx]
    assert d["peak_corrupted_area_ratio"] == max(d["corrupted_area_ratio"])
    assert d["peak_corrupted_area_ratio"] == float(masks[d["frame_index"]].mean())
    label.row("item")  # JSON-able


def test_drop_removes_packets_and_the_decode_shows_it(clean, tmp_path):
    dst = tmp_path / "drop.mp4"
    labels, masks, times = inject_block_corruption(clean, dst, START, END, 0, mode="drop", intensity=0.5)
    assert labels[0].details["packets_damaged"] == 5

    def n_video_packets(path):
        with av.open(str(path)) as c:
            return sum(1 for p in c.demux(video=0) if p.size)

    assert n_video_packets(dst) == n_video_packets(clean) - 5
    assert len(times) == 150  # the clean timeline: missing frames are compared as held over
    assert labels[0].start_s >= START - 1e-6 and labels[-1].end_s == pytest.approx(NEXT_KEYFRAME)


def test_heavy_damage_decodes_through(clean, tmp_path):
    """Every byte of slice data flipped: the decoder refuses or conceals, and nothing raises."""
    labels, masks, times = inject_block_corruption(clean, tmp_path / "heavy.mp4", 1.0, 5.0, 1, intensity=1.0)
    assert len(times) == 150
    assert not masks[times < 1.0 - 1e-6].any() and masks[times >= 1.0 - 1e-6].all(axis=(1, 2)).sum() > 50


def test_seed_decides_the_bytes(clean, tmp_path):
    for mode, intensity in (("flip", 0.02), ("zero", 0.05), ("drop", 0.5)):
        out = {}
        for name, seed in (("a", 7), ("b", 7), ("c", 8)):
            corrupt_bitstream(clean, tmp_path / f"{mode}{name}.mp4", START, END, np.random.default_rng(seed),
                              mode=mode, intensity=intensity)
            out[name] = (tmp_path / f"{mode}{name}.mp4").read_bytes()
        assert out["a"] == out["b"], mode
        assert out["a"] != out["c"], mode
    # flip and zero edit bytes in place; drop re-muxes without the dropped packets
    assert (tmp_path / "flipa.mp4").stat().st_size == clean.stat().st_size
    assert (tmp_path / "zeroa.mp4").stat().st_size == clean.stat().st_size
    assert (tmp_path / "dropa.mp4").stat().st_size < clean.stat().st_size


@pytest.mark.parametrize("kwargs, message", [
    (dict(start_s=3.0, end_s=2.0), "start_s < end_s"),
    (dict(start_s=-1.0, end_s=2.0), "start_s < end_s"),
    (dict(start_s=5.0, end_s=7.0), "after the item's end"),
    (dict(intensity=0.0), "intensity"),
    (dict(intensity=1.5), "intensity"),
    (dict(mode="smear"), "mode"),
    (dict(start_s=2.0, end_s=2.02), "no non-key video packet"),
])
def test_bad_parameters(clean, tmp_path, kwargs, message):
    args = dict(start_s=START, end_s=END, rng=0, mode="flip", intensity=0.02) | kwargs
    with pytest.raises(SimulationError, match=message):
        corrupt_bitstream(clean, tmp_path / "out.mp4", **args)
    assert not (tmp_path / "out.mp4").exists()


def test_refuses_audio_only_and_missing_files(tmp_path):
    audio = write_clip(tmp_path / "audio.mp4", ClipSpec(duration_s=2, video=False))
    with pytest.raises(SimulationError, match="no video stream"):
        corrupt_bitstream(audio, tmp_path / "out.mp4", 0.5, 1.0, 0)
    with pytest.raises(SimulationError, match="no such file"):
        corrupt_bitstream(tmp_path / "nope.mp4", tmp_path / "out.mp4", 0.5, 1.0, 0)
    with pytest.raises(SimulationError, match="block must be"):
        block_masks(audio, audio, block=15)
