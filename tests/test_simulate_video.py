"""Pixel-domain video defect injectors: each label says what was done and the frames show it."""

import json

import numpy as np
import pytest

from rayqa.simulate import video
from rayqa.simulate.labels import SimulationError

FPS = 8.0
N, H, W = 24, 64, 96
SPAN = (1.0, 2.0)  # frames 8..15
A, B = 8, 16


def make_clip(n=N, h=H, w=W, seed=0) -> np.ndarray:
    """Textured content moving 3 px a frame over a gradient: every frame and every block differs."""
    rng = np.random.default_rng(seed)
    texture = rng.integers(0, 256, (h, w + 3 * n, 3), dtype=np.int32)
    ramp = np.linspace(0, 60, w, dtype=np.float32)[None, :, None]
    frames = [(0.7 * texture[:, 3 * i:3 * i + w] + ramp) for i in range(n)]
    return np.clip(np.stack(frames), 0, 255).astype(np.uint8)


CLIP = make_clip()


def rng(seed=1):
    return np.random.default_rng(seed)


# Every injector with the span SPAN; each returns (frames, labels[, masks]).
INJECTORS = {
    "black_frames": lambda f: video.black(f, FPS, *SPAN, level=16),
    "video_freeze": lambda f: video.freeze(f, FPS, *SPAN),
    "frame_stutter": lambda f: video.stutter(f, FPS, *SPAN, pattern="repeat", every_n=2),
    "video_tearing": lambda f: video.tearing(f, FPS, *SPAN, split_row_fraction=0.4),
    "blur": lambda f: video.blur(f, FPS, *SPAN, sigma=2.0),
    "interlacing": lambda f: video.interlace(f, FPS, *SPAN),
    "solid_color_frames": lambda f: video.solid_color(f, FPS, *SPAN, color=(0, 0, 255)),
    "block_corruption": lambda f: video.add_block_displacement(f, FPS, *SPAN, rng=rng()),
    "block_corruption_flat": lambda f: video.add_flat_blocks(f, FPS, *SPAN, rng=rng()),
    "letterbox_change": lambda f: video.letterbox(f, FPS, *SPAN, kind="pillarbox", bar_fraction=0.1),
    "flash_pse": lambda f: video.flashes(f, FPS, *SPAN, kind="red", flashes_per_s=4.0, area_ratio=0.5),
}


@pytest.mark.parametrize("name", INJECTORS)
def test_changes_only_the_span_and_labels_it(name):
    before = CLIP.copy()
    out, labels = INJECTORS[name](CLIP)[:2]
    assert np.array_equal(CLIP, before), "the input was modified"
    assert out.shape == CLIP.shape and out.dtype == np.uint8
    assert np.array_equal(out[:A], CLIP[:A]) and np.array_equal(out[B:], CLIP[B:])
    assert not np.array_equal(out[A:B], CLIP[A:B])
    assert len(labels) == 1
    label = labels[0]
    assert label.defect == name.removesuffix("_flat")
    assert (label.start_s, label.end_s) == SPAN
    json.dumps(label.details)  # plain JSON types, no numpy scalars
    assert label.row("item")["defect"] == label.defect


def test_span_snaps_to_frames():
    assert video.span_indices(N, FPS, 1.0, 2.0) == (8, 16)
    assert video.span_indices(N, FPS, 1.01, 2.01) == (9, 17)
    _, [label] = video.black(CLIP, FPS, 1.01, 2.01)
    assert (label.start_s, label.end_s) == (9 / FPS, 17 / FPS)


def test_black_frames_at_level():
    out, [label] = video.black(CLIP, FPS, *SPAN, level=16)
    assert (out[A:B] == 16).all()
    assert label.details["level"] == 16


def test_freeze_repeats_the_first_frame():
    out, [label] = video.freeze(CLIP, FPS, *SPAN)
    assert all(np.array_equal(out[i], CLIP[A]) for i in range(A, B))
    assert label.details == {"frame_index": A, "n_frames": B - A}


def _sources(out):
    """The original frame index each output frame shows (the test clip's frames are distinct)."""
    return [next(j for j in range(N) if np.array_equal(frame, CLIP[j])) for frame in out]


def test_stutter_repeat_duplicates_listed_frames():
    out, [label] = video.stutter(CLIP, FPS, *SPAN, pattern="repeat", every_n=2)
    repeated = label.details["repeated_frame_indices"]
    assert repeated == [10, 13] and label.details["frame_indices"] == repeated
    for i in range(A + 1, B):
        assert np.array_equal(out[i], out[i - 1]) == (i in repeated)
    src = _sources(out[A:B])
    assert src == sorted(src) and min(src) == A and max(src) < B  # content runs late, never ahead


def test_stutter_drop_skips_ahead_and_keeps_count():
    out, [label] = video.stutter(CLIP, FPS, *SPAN, pattern="drop", every_n=2)
    assert out.shape == CLIP.shape
    src = _sources(out)
    skipped, repeated = label.details["skipped_frame_indices"], label.details["repeated_frame_indices"]
    assert skipped and repeated
    assert sorted(skipped + repeated) == label.details["frame_indices"]
    for i in range(A, B):
        assert (src[i] - src[i - 1] > 1) == (i in skipped)
        assert np.array_equal(out[i], out[i - 1]) == (i in repeated)


def test_tearing_splits_between_two_frames():
    out, [label] = video.tearing(CLIP, FPS, *SPAN, split_row_fraction=0.4, offset=2)
    split = label.details["split_row"]
    assert split == round(0.4 * H) and label.details["offset"] == 2
    for i in range(A, B):
        assert np.array_equal(out[i, :split], CLIP[i, :split])
        assert np.array_equal(out[i, split:], CLIP[i + 2, split:])


def test_tearing_draws_its_split_from_the_rng():
    out1, [l1] = video.tearing(CLIP, FPS, *SPAN, rng=rng(5))
    out2, [l2] = video.tearing(CLIP, FPS, *SPAN, rng=rng(5))
    assert np.array_equal(out1, out2) and l1.details == l2.details
    assert 0.2 <= l1.details["split_row_fraction"] <= 0.8


def _laplacian_energy(frames):
    f = frames.astype(np.float32)
    lap = 4 * f[:, 1:-1, 1:-1] - f[:, :-2, 1:-1] - f[:, 2:, 1:-1] - f[:, 1:-1, :-2] - f[:, 1:-1, 2:]
    return float(np.abs(lap).mean())


@pytest.mark.parametrize("sigma", [1.0, 3.0, 6.0])
def test_blur_removes_detail_and_keeps_mean(sigma):
    out, [label] = video.blur(CLIP, FPS, *SPAN, sigma=sigma)
    assert label.details["sigma"] == sigma
    assert label.details["kernel_size"] == 2 * int(np.ceil(3 * sigma)) + 1
    assert _laplacian_energy(out[A:B]) < 0.5 * _laplacian_energy(CLIP[A:B])
    assert abs(out[A:B].mean() - CLIP[A:B].mean()) < 1.0


def test_blur_stronger_sigma_is_smoother():
    soft = video.blur(CLIP, FPS, *SPAN, sigma=1.0)[0]
    softer = video.blur(CLIP, FPS, *SPAN, sigma=4.0)[0]
    assert _laplacian_energy(softer[A:B]) < _laplacian_energy(soft[A:B])


def test_interlace_combs_two_frames():
    out, _ = video.interlace(CLIP, FPS, *SPAN)
    for i in range(A, B):
        assert np.array_equal(out[i, 0::2], CLIP[i, 0::2])
        assert np.array_equal(out[i, 1::2], CLIP[i + 1, 1::2])
        assert not np.array_equal(out[i, 1::2], CLIP[i, 1::2])


def test_interlace_last_frame_pairs_with_itself():
    out, _ = video.interlace(CLIP, FPS, 2.5, 3.0)
    assert np.array_equal(out[-1], CLIP[-1])
    assert np.array_equal(out[-2, 1::2], CLIP[-1, 1::2])


def test_solid_color_fills_the_span():
    out, [label] = video.solid_color(CLIP, FPS, *SPAN, color=(10, 200, 30))
    assert (out[A:B] == np.array([10, 200, 30], np.uint8)).all()
    assert label.details["color"] == [10, 200, 30]


BLOCK_INJECTORS = {
    "displacement": lambda f, seed, **kw: video.add_block_displacement(f, FPS, *SPAN, rng=rng(seed), **kw),
    "flat": lambda f, seed, **kw: video.add_flat_blocks(f, FPS, *SPAN, rng=rng(seed), **kw),
}


def _check_masks(frames, out, masks, label, block):
    gh, gw = frames.shape[1] // block, frames.shape[2] // block
    assert masks.shape == (frames.shape[0], gh, gw) and masks.dtype == bool
    assert not masks[:A].any() and not masks[B:].any()
    pixel_mask = np.zeros(frames.shape[:3], bool)
    pixel_mask[:, :gh * block, :gw * block] = masks.repeat(block, axis=1).repeat(block, axis=2)
    assert np.array_equal(out[~pixel_mask], frames[~pixel_mask])
    for i, r, c in zip(*np.nonzero(masks)):
        tile = np.s_[i, r * block:(r + 1) * block, c * block:(c + 1) * block]
        assert not np.array_equal(out[tile], frames[tile]), f"masked block {(i, r, c)} unchanged"
    d = label.details
    assert d["block_size"] == block and d["frame_indices"] == list(range(A, B))
    assert d["corrupted_area_ratio"] == [float(masks[i].mean()) for i in range(A, B)]


@pytest.mark.parametrize("kind", BLOCK_INJECTORS)
@pytest.mark.parametrize("area_ratio,block", [(0.1, 16), (0.3, 16), (0.05, 8), (1.0, 16)])
def test_block_masks_match_frames_and_area(kind, area_ratio, block):
    out, [label], masks = BLOCK_INJECTORS[kind](CLIP, 3, block=block, area_ratio=area_ratio)
    _check_masks(CLIP, out, masks, label, block)
    assert label.details["area_ratio"] == area_ratio
    for ratio in label.details["corrupted_area_ratio"]:
        assert abs(ratio - area_ratio) <= 0.05


@pytest.mark.parametrize("kind", BLOCK_INJECTORS)
def test_block_damage_comes_in_clumps(kind):
    _, _, masks = BLOCK_INJECTORS[kind](CLIP, 4, block=8, area_ratio=0.3)
    for i in range(A, B):
        flat = masks[i].ravel()
        runs = int(flat[0]) + int(np.count_nonzero(flat[1:] & ~flat[:-1]))
        assert runs <= 8, f"frame {i}: {runs} separate runs of blocks"


@pytest.mark.parametrize("kind", BLOCK_INJECTORS)
def test_block_damage_shows_on_flat_content(kind):
    # Uniform decoder green: no shift, mean fill or green fill changes it by itself.
    flat = np.empty((N, H, W, 3), np.uint8)
    flat[:] = video.DECODER_GREEN
    out, [label], masks = BLOCK_INJECTORS[kind](flat, 0, area_ratio=0.3)
    _check_masks(flat, out, masks, label, 16)


@pytest.mark.parametrize("fill", ["mean", "green"])
def test_flat_block_fills(fill):
    out, [label], masks = video.add_flat_blocks(CLIP, FPS, *SPAN, area_ratio=0.2, fill=fill, rng=rng())
    assert label.details["fill"] == fill
    i, r, c = (int(v[0]) for v in np.nonzero(masks))
    tile = out[i, r * 16:(r + 1) * 16, c * 16:(c + 1) * 16].reshape(-1, 3)
    assert (tile == tile[0]).all()
    if fill == "green":
        assert tuple(tile[0]) == video.DECODER_GREEN
    else:
        orig = CLIP[i, r * 16:(r + 1) * 16, c * 16:(c + 1) * 16].reshape(-1, 3)
        assert np.abs(tile[0].astype(float) - orig.mean(axis=0)).max() <= 0.5


@pytest.mark.parametrize("kind", BLOCK_INJECTORS)
def test_block_injectors_are_seeded(kind):
    out1, [l1], m1 = BLOCK_INJECTORS[kind](CLIP, 7)
    out2, [l2], m2 = BLOCK_INJECTORS[kind](CLIP, 7)
    assert np.array_equal(out1, out2) and np.array_equal(m1, m2) and l1.details == l2.details
    _, _, m3 = BLOCK_INJECTORS[kind](CLIP, 8)
    assert not np.array_equal(m1, m3)


BAD = [
    (lambda: video.black(CLIP, FPS, 2.0, 1.0), "start_s < end_s"),
    (lambda: video.black(CLIP, FPS, -1.0, 1.0), "start_s < end_s"),
    (lambda: video.black(CLIP, FPS, 2.0, 9.0), "after the item's end"),
    (lambda: video.black(CLIP, FPS, float("nan"), 1.0), "finite"),
    (lambda: video.black(CLIP, FPS, 1.01, 1.1), "no frame starts"),
    (lambda: video.black(CLIP, 0, *SPAN), "fps must be positive"),
    (lambda: video.black(CLIP.astype(np.float32), FPS, *SPAN), "uint8"),
    (lambda: video.black(CLIP[..., 0], FPS, *SPAN), "shape"),
    (lambda: video.black(CLIP, FPS, *SPAN, level=40), "level must be in"),
    (lambda: video.black(CLIP, FPS, *SPAN, level=-1), "level must be in"),
    (lambda: video.freeze(CLIP, FPS, 1.0, 1.1), "at least 2 frames"),
    (lambda: video.stutter(CLIP, FPS, *SPAN, pattern="skip"), "pattern must be"),
    (lambda: video.stutter(CLIP, FPS, *SPAN, every_n=1), "every_n must be >= 2"),
    (lambda: video.stutter(CLIP, FPS, *SPAN, every_n=2.5), "every_n must be an integer"),
    (lambda: video.stutter(CLIP, FPS, 1.0, 1.2, every_n=4), "too short"),
    (lambda: video.tearing(CLIP, FPS, *SPAN, split_row_fraction=0.0), "split_row_fraction must be in"),
    (lambda: video.tearing(CLIP, FPS, *SPAN, split_row_fraction=1.5), "split_row_fraction must be in"),
    (lambda: video.tearing(CLIP, FPS, *SPAN, split_row_fraction=0.5, offset=0), "offset must be"),
    (lambda: video.tearing(CLIP, FPS, *SPAN), "split_row_fraction or an rng"),
    (lambda: video.blur(CLIP, FPS, *SPAN, sigma=0), "sigma must be in"),
    (lambda: video.blur(CLIP, FPS, *SPAN, sigma=-2), "sigma must be in"),
    (lambda: video.blur(CLIP, FPS, *SPAN, kernel_size=0), "kernel_size must be an odd number >= 1"),
    (lambda: video.blur(CLIP, FPS, *SPAN, kernel_size=4), "kernel_size must be an odd number >= 1"),
    (lambda: video.solid_color(CLIP, FPS, *SPAN, color=(300, 0, 0)), "0..255"),
    (lambda: video.solid_color(CLIP, FPS, *SPAN, color=(1, 2)), "triple"),
    (lambda: video.add_block_displacement(CLIP, FPS, *SPAN, block=12, rng=rng()), "block must be one of"),
    (lambda: video.add_block_displacement(CLIP, FPS, *SPAN, block=0, rng=rng()), "block must be one of"),
    (lambda: video.add_flat_blocks(CLIP[:, :32, :32], FPS, *SPAN, block=64, rng=rng()), "does not fit"),
    (lambda: video.add_block_displacement(CLIP, FPS, *SPAN, area_ratio=0, rng=rng()), r"area_ratio must be in \(0, 1\]"),
    (lambda: video.add_flat_blocks(CLIP, FPS, *SPAN, area_ratio=1.5, rng=rng()), r"area_ratio must be in \(0, 1\]"),
    (lambda: video.add_block_displacement(CLIP, FPS, *SPAN, max_shift=0, rng=rng()), "max_shift must be >= 1"),
    (lambda: video.add_block_displacement(CLIP, FPS, *SPAN, rng=None), "rng must be a numpy Generator"),
    (lambda: video.add_flat_blocks(CLIP, FPS, *SPAN, rng=np.random.RandomState(0)), "rng must be a numpy Generator"),
    (lambda: video.add_flat_blocks(CLIP, FPS, *SPAN, fill="blue", rng=rng()), "fill must be one of"),
]


@pytest.mark.parametrize("call,match", BAD, ids=[m for _, m in BAD])
def test_bad_parameters_are_refused(call, match):
    with pytest.raises(SimulationError, match=match):
        call()


def test_letterbox_bars_in_the_span_and_resize_bars_throughout():
    out, [label] = video.letterbox(CLIP, FPS, *SPAN, kind="letterbox", bar_fraction=0.1)
    r = round(0.1 * H)
    assert (out[A:B, :r] == 0).all() and (out[A:B, H - r:] == 0).all() and np.array_equal(out[A:B, r:H - r], CLIP[A:B, r:H - r])
    assert label.details["bars_after"] == {"top": r, "bottom": r, "left": 0, "right": 0}
    out, [label] = video.letterbox(CLIP, FPS, *SPAN, kind="resize", bar_fraction=0.2)
    r0, r = round(0.1 * H), round(0.2 * H)
    assert (out[:, :r0] == 0).all() and not (out[:A, r0:r0 + 1] == 0).all() and (out[A:B, :r] == 0).all()
    assert label.details["bars_before"]["top"] == r0 and label.details["bars_after"]["top"] == r


@pytest.mark.parametrize("kind", ["luminance", "red"])
def test_flashes_alternate_bright_and_darkened_programme(kind):
    out, [label] = video.flashes(CLIP, FPS, *SPAN, kind=kind, flashes_per_s=4.0, area_ratio=1.0)
    bright = np.array(video.FLASH_BRIGHT[kind], np.uint8)
    states = [bool((out[i] == bright).all()) for i in range(A, B)]
    assert states == [True, False] * 4  # 4 flashes a second at 8 fps: bright and dark frames alternate
    assert (out[A + 1] <= np.rint(CLIP[A + 1] * 0.2) + 1).all()
    assert label.details == {"kind": kind, "flashes_per_s": 4.0, "area_ratio": 1.0}
    _, [label] = video.flashes(CLIP, FPS, *SPAN, flashes_per_s=6.0)
    assert label.details["flashes_per_s"] == FPS / 2  # no faster than the frame rate shows


@pytest.mark.parametrize("kind", video.LEVEL_KINDS)
def test_levels_edit_only_the_spans_yuv_planes_beyond_range(kind):
    import av

    frames, [label], edit = video.levels(CLIP, FPS, *SPAN, kind=kind, area_ratio=0.25, x_fraction=0.0, y_fraction=1.0)
    assert frames is CLIP and label.defect == "video_levels" and (label.start_s, label.end_s) == SPAN
    planar = av.VideoFrame.from_ndarray(np.ascontiguousarray(CLIP[A]), format="rgb24").reformat(format="yuv420p").to_ndarray()
    assert edit(A - 1, planar) is None and edit(B, planar) is None
    new = edit(A, planar)
    y, x, bh, bw = label.details["box"]
    assert (y + bh, x) == (H, 0) and bh * bw == pytest.approx(0.25 * H * W, rel=0.1)
    luma, chroma = new[:H], new[H:].reshape(2, H // 2, W // 2)
    if kind == "super_white":
        assert luma[y:y + bh, x:x + bw].min() > 241
    elif kind == "sub_black":
        assert luma[y:y + bh, x:x + bw].max() < 14
    elif kind == "chroma_high":
        assert chroma[:, y // 2:(y + bh) // 2, x // 2:(x + bw) // 2].min() > 240
    else:
        assert chroma[:, y // 2:(y + bh) // 2, x // 2:(x + bw) // 2].max() < 16
    outside = np.ones(H, bool)
    outside[y:y + bh] = False
    assert np.array_equal(new[:H][outside], planar[:H][outside])
