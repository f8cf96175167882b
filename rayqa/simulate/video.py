"""Pixel-domain video defect injectors: pure functions over decoded frame arrays.

Frames are a ``uint8`` array of shape ``(n_frames, height, width, 3)`` (RGB) played at ``fps``.
Every injector damages the frames whose time ``i / fps`` lies in ``[start_s, end_s)``, never
touches its input, and returns ``(new_frames, labels)``; the block-corruption injectors also
return the per-frame block masks. A label's span is the damaged frames' display time, from the
first damaged frame's start to the last one's end, so it may differ slightly from the span asked
for when that span does not fall on frame boundaries. Randomness comes only from the ``rng``
passed in: the same seed gives the same output.
"""

from __future__ import annotations

import math

import numpy as np

from rayqa.simulate.labels import Label, SimulationError, check_span

Result = tuple[np.ndarray, list[Label]]
BlockResult = tuple[np.ndarray, list[Label], np.ndarray]

MAX_BLACK_LEVEL = 32  # above this a frame reads as dark programme, not as black
BLOCK_SIZES = (4, 8, 16, 32, 64)  # the block and coding-unit sizes real codecs use
# What a decoder shows for a block with no data: Y = U = V = 0 converted to RGB (BT.601).
DECODER_GREEN = (0, 135, 0)
FLAT_FILLS = ("mean", "green", "mixed")


# ---------------------------------------------------------------- the injectors


def black(frames: np.ndarray, fps: float, start_s: float, end_s: float, level: int = 0) -> Result:
    """Set every pixel in the span to ``level`` (0 is full black, 16 is video-range black)."""
    a, b = _span(frames, fps, start_s, end_s, "black")
    level = _int(level, "black: level")
    if not 0 <= level <= MAX_BLACK_LEVEL:
        raise SimulationError(f"black: level must be in 0..{MAX_BLACK_LEVEL}, got {level}")
    out = frames.copy()
    out[a:b] = level
    return out, [_label("black_frames", a, b, fps, level=level)]


def freeze(frames: np.ndarray, fps: float, start_s: float, end_s: float) -> Result:
    """Repeat the span's first frame over the whole span."""
    a, b = _span(frames, fps, start_s, end_s, "freeze")
    if b - a < 2:
        raise SimulationError("freeze: the span must cover at least 2 frames to show a freeze")
    out = frames.copy()
    out[a:b] = frames[a]
    return out, [_label("video_freeze", a, b, fps, frame_index=a, n_frames=b - a)]


def stutter(frames: np.ndarray, fps: float, start_s: float, end_s: float,
            pattern: str = "repeat", every_n: int = 2) -> Result:
    """Uneven motion inside the span, keeping the frame count.

    ``"repeat"`` shows every ``every_n``-th frame twice, so the content runs late through the
    span; ``"drop"`` skips every ``every_n``-th frame, so the content runs ahead, and the
    frames it runs out of at the end of the span repeat the span's last frame. After the span
    the original timeline resumes. ``details`` lists the output indices that repeat the frame
    before them (``repeated_frame_indices``), those where the content jumps over a frame
    (``skipped_frame_indices``), and both together (``frame_indices``).
    """
    a, b = _span(frames, fps, start_s, end_s, "stutter")
    if pattern not in ("repeat", "drop"):
        raise SimulationError(f"stutter: pattern must be 'repeat' or 'drop', got {pattern!r}")
    every_n = _int(every_n, "stutter: every_n")
    if every_n < 2:
        raise SimulationError(f"stutter: every_n must be >= 2, got {every_n}")

    n = b - a
    src: list[int] = []
    if pattern == "repeat":
        for j in range(a, b):
            src.append(j)
            if (j - a) % every_n == every_n - 1:
                src.append(j)
    else:
        src = [j for j in range(a, b) if (j - a) % every_n != every_n - 1]
    src = (src + [src[-1]] * n)[:n]

    prev = [a - 1, *src[:-1]]  # the source of the frame before: frame a follows a - 1 as usual
    repeated = [a + k for k in range(n) if src[k] == prev[k]]
    skipped = [a + k for k in range(n) if src[k] - prev[k] > 1]
    if not repeated and not skipped:
        raise SimulationError(
            f"stutter: a span of {n} frames is too short for every_n={every_n}; nothing would change")
    out = frames.copy()
    out[a:b] = frames[src]
    return out, [_label("frame_stutter", a, b, fps, pattern=pattern, every_n=every_n,
                        frame_indices=sorted(repeated + skipped),
                        repeated_frame_indices=repeated, skipped_frame_indices=skipped)]


def tearing(frames: np.ndarray, fps: float, start_s: float, end_s: float,
            split_row_fraction: float | None = None, rng: np.random.Generator | None = None,
            offset: int = 1) -> Result:
    """Split each frame horizontally: rows above the split from frame ``i``, rows from the
    split down from frame ``i + offset`` (clamped to the last frame).

    With no ``split_row_fraction``, one is drawn from ``rng`` in [0.2, 0.8].
    """
    a, b = _span(frames, fps, start_s, end_s, "tearing")
    offset = _int(offset, "tearing: offset")
    if offset < 1:
        raise SimulationError(f"tearing: offset must be >= 1 frame, got {offset}")
    if split_row_fraction is None:
        if rng is None:
            raise SimulationError("tearing: give split_row_fraction or an rng to draw it from")
        split_row_fraction = float(_rng(rng, "tearing").uniform(0.2, 0.8))
    split_row_fraction = _float(split_row_fraction, "tearing: split_row_fraction")
    if not 0 < split_row_fraction < 1:
        raise SimulationError(
            f"tearing: split_row_fraction must be in (0, 1), got {split_row_fraction}")
    h = frames.shape[1]
    split = min(h - 1, max(1, round(split_row_fraction * h)))

    n_frames = frames.shape[0]
    out = frames.copy()
    lower = np.minimum(np.arange(a, b) + offset, n_frames - 1)
    out[a:b, split:] = frames[lower, split:]
    return out, [_label("video_tearing", a, b, fps, split_row=split,
                        split_row_fraction=split_row_fraction, offset=offset)]


def blur(frames: np.ndarray, fps: float, start_s: float, end_s: float, sigma: float = 2.0,
         kernel_size: int | None = None) -> Result:
    """Gaussian blur of standard deviation ``sigma`` pixels (about 1 to 6 for realistic
    softness); the kernel spans ``2 * ceil(3 * sigma) + 1`` taps unless ``kernel_size`` (odd)
    says otherwise."""
    a, b = _span(frames, fps, start_s, end_s, "blur")
    sigma = _float(sigma, "blur: sigma")
    if not 0 < sigma <= 20:
        raise SimulationError(f"blur: sigma must be in (0, 20] pixels, got {sigma}")
    if kernel_size is None:
        kernel_size = 2 * math.ceil(3 * sigma) + 1
    kernel_size = _int(kernel_size, "blur: kernel_size")
    if kernel_size < 1 or kernel_size % 2 == 0:
        raise SimulationError(f"blur: kernel_size must be an odd number >= 1, got {kernel_size}")

    kernel = _gaussian_kernel(sigma, kernel_size)
    out = frames.copy()
    for i in range(a, b):  # one frame at a time keeps the float copies small
        img = _convolve_axis(frames[i].astype(np.float32), kernel, axis=0)
        img = _convolve_axis(img, kernel, axis=1)
        out[i] = np.clip(np.rint(img), 0, 255).astype(np.uint8)
    return out, [_label("blur", a, b, fps, sigma=sigma, kernel_size=kernel_size)]


def interlace(frames: np.ndarray, fps: float, start_s: float, end_s: float) -> Result:
    """Combing: even rows from frame ``i``, odd rows from frame ``i + 1`` (the last frame
    of the item pairs with itself)."""
    a, b = _span(frames, fps, start_s, end_s, "interlace")
    out = frames.copy()
    nxt = np.minimum(np.arange(a, b) + 1, frames.shape[0] - 1)
    out[a:b, 1::2] = frames[nxt, 1::2]
    return out, [_label("interlacing", a, b, fps, field_order="even_first")]


def solid_color(frames: np.ndarray, fps: float, start_s: float, end_s: float,
                color: tuple[int, int, int] = (0, 0, 255)) -> Result:
    """Fill the span with one RGB colour (a test card, a blue screen, a lost-input slate)."""
    a, b = _span(frames, fps, start_s, end_s, "solid_color")
    rgb = _color(color, "solid_color: color")
    out = frames.copy()
    out[a:b] = np.array(rgb, np.uint8)
    return out, [_label("solid_color_frames", a, b, fps, color=list(rgb))]


LETTERBOX_KINDS = ("letterbox", "pillarbox", "resize")


def letterbox(frames: np.ndarray, fps: float, start_s: float, end_s: float, kind: str = "letterbox",
              bar_fraction: float = 0.12) -> Result:
    """Black bars over the span: top and bottom rows (``letterbox``) or left and right columns
    (``pillarbox``), each ``bar_fraction`` of the height or width; ``resize`` letterboxes the whole
    item at half that and the span at ``bar_fraction`` (bars that change size). Bars cover the
    picture (what a wrong aspect-ratio conversion shows) at RGB 0, coded black."""
    a, b = _span(frames, fps, start_s, end_s, "letterbox")
    if kind not in LETTERBOX_KINDS:
        raise SimulationError(f"letterbox: kind must be one of {LETTERBOX_KINDS}, got {kind!r}")
    bar_fraction = _float(bar_fraction, "letterbox: bar_fraction")
    if not 0 < bar_fraction < 0.35:
        raise SimulationError(f"letterbox: bar_fraction must be in (0, 0.35), got {bar_fraction}")
    h, w = frames.shape[1:3]
    out = frames.copy()
    before = {"top": 0, "bottom": 0, "left": 0, "right": 0}
    if kind == "pillarbox":
        c = max(1, round(bar_fraction * w))
        out[a:b, :, :c] = 0
        out[a:b, :, w - c:] = 0
        after = {"top": 0, "bottom": 0, "left": c, "right": c}
    else:
        r = max(1, round(bar_fraction * h))
        if kind == "resize":
            r0 = max(1, round(bar_fraction * h / 2))
            out[:, :r0] = 0
            out[:, h - r0:] = 0
            before = {"top": r0, "bottom": r0, "left": 0, "right": 0}
        out[a:b, :r] = 0
        out[a:b, h - r:] = 0
        after = {"top": r, "bottom": r, "left": 0, "right": 0}
    return out, [_label("letterbox_change", a, b, fps, kind=kind, bar_fraction=bar_fraction,
                        bars_before=before, bars_after=after)]


FLASH_KINDS = ("luminance", "red")
FLASH_BRIGHT = {"luminance": (255, 255, 255), "red": (255, 0, 0)}
FLASH_DARK_GAIN = 0.2  # the dark state: the programme at a fifth of its level (well under 160 cd/m²)


def flashes(frames: np.ndarray, fps: float, start_s: float, end_s: float, kind: str = "luminance",
            flashes_per_s: float = 5.0, area_ratio: float = 1.0) -> Result:
    """Photosensitive flashing over a centred rectangle of ``area_ratio`` of the picture: the
    rectangle alternates between a bright state (white, or saturated red for ``red``) and the
    programme darkened to a fifth, ``flashes_per_s`` flashes (bright-dark pairs) a second, the
    frame rate allowing (at most ``fps / 2``; ``details.flashes_per_s`` is the rate shown)."""
    a, b = _span(frames, fps, start_s, end_s, "flashes")
    if kind not in FLASH_KINDS:
        raise SimulationError(f"flashes: kind must be one of {FLASH_KINDS}, got {kind!r}")
    flashes_per_s = _float(flashes_per_s, "flashes: flashes_per_s")
    area_ratio = _float(area_ratio, "flashes: area_ratio")
    if flashes_per_s <= 0 or not 0 < area_ratio <= 1:
        raise SimulationError("flashes: flashes_per_s must be > 0 and area_ratio in (0, 1]")
    if b - a < 2:
        raise SimulationError("flashes: the span must cover at least 2 frames")
    rate = min(flashes_per_s, fps / 2.0)
    h, w = frames.shape[1:3]
    side = math.sqrt(area_ratio)
    rh, rw = max(1, round(side * h)), max(1, round(side * w))
    y0, x0 = (h - rh) // 2, (w - rw) // 2
    out = frames.copy()
    bright = np.array(FLASH_BRIGHT[kind], np.uint8)
    for i in range(a, b):
        region = out[i, y0:y0 + rh, x0:x0 + rw]
        if int(math.floor((i - a) * 2 * rate / fps + 1e-9)) % 2 == 0:
            region[:] = bright
        else:
            region[:] = np.rint(frames[i, y0:y0 + rh, x0:x0 + rw] * FLASH_DARK_GAIN).astype(np.uint8)
    return out, [_label("flash_pse", a, b, fps, kind=kind, flashes_per_s=round(rate, 3),
                        area_ratio=round(rh * rw / (h * w), 4))]


LEVEL_KINDS = ("super_white", "sub_black", "chroma_high", "chroma_low")
# Coded values well beyond the broadcast range (Y 16..235, U/V 16..240) and EBU R103's tolerance.
LEVELS = {"super_white": 252, "sub_black": 4, "chroma_high": 250, "chroma_low": 6}
LEVEL_TEXTURE = 0.03  # how much of the picture's own detail the out-of-range area keeps


def out_of_range_planes(planar: np.ndarray, kind: str, box: tuple[int, int, int, int], level: int) -> np.ndarray:
    """A yuv420p frame (``(3 h / 2, w)`` uint8, as PyAV lays it out) with the luma (or both chroma
    planes) inside ``box`` (y, x, height, width in luma pixels) moved to ``level``, keeping a trace
    of the picture's detail (3 % of its swing)."""
    h = planar.shape[0] * 2 // 3
    w = planar.shape[1]
    out = planar.copy()
    y, x, bh, bw = box
    if kind in ("super_white", "sub_black"):
        lum = out[:h].astype(np.float32)
        area = lum[y:y + bh, x:x + bw]
        if kind == "super_white":
            new = level - (235.0 - np.clip(area, 16, 235)) * LEVEL_TEXTURE
        else:
            new = level + (np.clip(area, 16, 235) - 16.0) * LEVEL_TEXTURE
        out[y:y + bh, x:x + bw] = np.clip(np.rint(new), 0, 255).astype(np.uint8)
        return out
    # chroma: U then V, each (h / 2, w / 2), stored row-major after the luma plane
    cy, cx, ch, cw = y // 2, x // 2, max(1, bh // 2), max(1, bw // 2)
    chroma = out[h:].reshape(2, h // 2, w // 2)
    for plane in chroma:
        area = plane[cy:cy + ch, cx:cx + cw].astype(np.float32) - 128.0
        plane[cy:cy + ch, cx:cx + cw] = np.clip(np.rint(level + area * LEVEL_TEXTURE), 0, 255).astype(np.uint8)
    out[h:] = chroma.reshape(out[h:].shape)
    return out


def levels(frames: np.ndarray, fps: float, start_s: float, end_s: float, kind: str = "super_white",
           area_ratio: float = 0.1, x_fraction: float = 0.5, y_fraction: float = 0.5,
           level: int | None = None):
    """Luma or chroma beyond the broadcast range over a rectangle of ``area_ratio`` of the picture
    (a graphic keyed in at full-range levels, a grade pushed past legal white): super-white
    (Y 252), sub-black (Y 4), or U and V above 240 / below 16. RGB cannot carry such values, so
    the frames come back unchanged with ``(frames, labels, yuv_edit)``: ``yuv_edit(i, planar)``
    gives frame ``i``'s yuv420p planes as they should be coded (None: as converted), for
    :func:`rayqa.synth.encode`'s ``yuv_edit``. The rectangle's top-left corner lies at
    ``x_fraction``, ``y_fraction`` of the room left around it."""
    a, b = _span(frames, fps, start_s, end_s, "levels")
    if kind not in LEVEL_KINDS:
        raise SimulationError(f"levels: kind must be one of {LEVEL_KINDS}, got {kind!r}")
    area_ratio = _float(area_ratio, "levels: area_ratio")
    if not 0 < area_ratio <= 1:
        raise SimulationError(f"levels: area_ratio must be in (0, 1], got {area_ratio}")
    level = LEVELS[kind] if level is None else _int(level, "levels: level")
    h, w = frames.shape[1:3]
    side = math.sqrt(area_ratio)
    bh, bw = max(2, 2 * round(side * h / 2)), max(2, 2 * round(side * w / 2))
    y = 2 * int(_float(y_fraction, "levels: y_fraction") * (h - bh) / 2)
    x = 2 * int(_float(x_fraction, "levels: x_fraction") * (w - bw) / 2)
    box = (y, x, bh, bw)

    def yuv_edit(i: int, planar: np.ndarray) -> np.ndarray | None:
        return out_of_range_planes(planar, kind, box, level) if a <= i < b else None

    return frames, [_label("video_levels", a, b, fps, kind=kind, level=level, box=list(box),
                           area_ratio=round(bh * bw / (h * w), 4))], yuv_edit


def add_block_displacement(frames: np.ndarray, fps: float, start_s: float, end_s: float,
                           block: int = 16, area_ratio: float = 0.1, max_shift: int = 32, *,
                           rng: np.random.Generator) -> BlockResult:
    """Macroblock damage from wrong motion: clumps of blocks (about ``area_ratio`` of each
    frame) show content copied from up to ``max_shift`` pixels away in the same frame.

    Returns ``(new_frames, labels, masks)``; ``masks[i, r, c]`` is True where block ``(r, c)``
    of frame ``i`` was corrupted.
    """
    a, b = _span(frames, fps, start_s, end_s, "add_block_displacement")
    block, area_ratio = _block_params(frames, block, area_ratio, "add_block_displacement")
    max_shift = _int(max_shift, "add_block_displacement: max_shift")
    if max_shift < 1:
        raise SimulationError(f"add_block_displacement: max_shift must be >= 1 pixel, got {max_shift}")
    rng = _rng(rng, "add_block_displacement")

    h, w = frames.shape[1:3]
    gh, gw = h // block, w // block
    out = frames.copy()
    masks = np.zeros((frames.shape[0], gh, gw), bool)
    for i in range(a, b):
        clumps = _clumps(gh, gw, area_ratio, rng)
        masks[i] = clumps > 0
        for c in range(1, int(clumps.max()) + 1):
            shift = _shift(rng, max_shift)  # one wrong motion vector per clump
            for r, col in zip(*np.nonzero(clumps == c)):
                y, x = r * block, col * block
                orig = frames[i, y:y + block, x:x + block]
                for _ in range(8):
                    sy = min(max(y + shift[0], 0), h - block)
                    sx = min(max(x + shift[1], 0), w - block)
                    new = frames[i, sy:sy + block, sx:sx + block]
                    if not np.array_equal(new, orig):
                        break
                    shift = _shift(rng, max_shift)
                else:
                    # Uniform surroundings: no shift shows, so invert to keep the mask truthful.
                    new = 255 - orig
                out[i, y:y + block, x:x + block] = new
    return out, [_block_label(masks, a, b, fps, block, area_ratio=area_ratio,
                              max_shift=max_shift, kind="displacement")], masks


def add_flat_blocks(frames: np.ndarray, fps: float, start_s: float, end_s: float,
                    block: int = 16, area_ratio: float = 0.1, fill: str = "mixed", *,
                    rng: np.random.Generator) -> BlockResult:
    """Macroblock damage from lost data: clumps of blocks (about ``area_ratio`` of each frame)
    filled flat, with each block's own mean (DC-only concealment, ``"mean"``), with the green
    a decoder shows for missing data (``"green"``), or one of the two per clump (``"mixed"``).

    Returns ``(new_frames, labels, masks)`` as :func:`add_block_displacement` does.
    """
    a, b = _span(frames, fps, start_s, end_s, "add_flat_blocks")
    block, area_ratio = _block_params(frames, block, area_ratio, "add_flat_blocks")
    if fill not in FLAT_FILLS:
        raise SimulationError(f"add_flat_blocks: fill must be one of {FLAT_FILLS}, got {fill!r}")
    rng = _rng(rng, "add_flat_blocks")

    h, w = frames.shape[1:3]
    gh, gw = h // block, w // block
    green = np.array(DECODER_GREEN, np.uint8)
    out = frames.copy()
    masks = np.zeros((frames.shape[0], gh, gw), bool)
    for i in range(a, b):
        clumps = _clumps(gh, gw, area_ratio, rng)
        masks[i] = clumps > 0
        for c in range(1, int(clumps.max()) + 1):
            use_green = fill == "green" or (fill == "mixed" and rng.random() < 0.5)
            for r, col in zip(*np.nonzero(clumps == c)):
                y, x = r * block, col * block
                orig = frames[i, y:y + block, x:x + block]
                colour = green if use_green else np.rint(orig.mean(axis=(0, 1))).astype(np.uint8)
                new = np.broadcast_to(colour, orig.shape)
                if np.array_equal(new, orig):
                    # The block was already that flat colour: invert it so the damage shows.
                    new = 255 - orig
                out[i, y:y + block, x:x + block] = new
    return out, [_block_label(masks, a, b, fps, block, area_ratio=area_ratio, fill=fill,
                              kind="flat")], masks


# ---------------------------------------------------------------- helpers


def span_indices(n_frames: int, fps: float, start_s: float, end_s: float) -> tuple[int, int]:
    """Frame index range ``[a, b)`` of the frames whose time ``i / fps`` is in ``[start_s, end_s)``."""
    # The tolerance keeps a span given in seconds on a frame boundary from losing that frame.
    a = max(0, math.ceil(start_s * fps - 1e-6))
    b = min(n_frames, math.ceil(end_s * fps - 1e-6))
    return a, b


def _span(frames: np.ndarray, fps: float, start_s: float, end_s: float, what: str) -> tuple[int, int]:
    _check_frames(frames, what)
    fps = _float(fps, f"{what}: fps")
    if fps <= 0:
        raise SimulationError(f"{what}: fps must be positive, got {fps}")
    start_s, end_s = _float(start_s, f"{what}: start_s"), _float(end_s, f"{what}: end_s")
    check_span(start_s, end_s, frames.shape[0] / fps, what)
    a, b = span_indices(frames.shape[0], fps, start_s, end_s)
    if b <= a:
        raise SimulationError(f"{what}: no frame starts within {start_s}..{end_s} s at {fps} fps")
    return a, b


def _check_frames(frames: np.ndarray, what: str) -> None:
    if not isinstance(frames, np.ndarray) or frames.dtype != np.uint8:
        raise SimulationError(f"{what}: frames must be a uint8 numpy array")
    if frames.ndim != 4 or frames.shape[3] != 3 or 0 in frames.shape:
        raise SimulationError(
            f"{what}: frames must have shape (n_frames, height, width, 3), got {frames.shape}")


def _block_params(frames: np.ndarray, block: int, area_ratio: float, what: str) -> tuple[int, float]:
    block = _int(block, f"{what}: block")
    if block not in BLOCK_SIZES:
        raise SimulationError(f"{what}: block must be one of {BLOCK_SIZES} pixels, got {block}")
    h, w = frames.shape[1:3]
    if block > min(h, w):
        raise SimulationError(f"{what}: block of {block} px does not fit a {w}x{h} frame")
    area_ratio = _float(area_ratio, f"{what}: area_ratio")
    if not 0 < area_ratio <= 1:
        raise SimulationError(f"{what}: area_ratio must be in (0, 1], got {area_ratio}")
    return block, area_ratio


def _clumps(gh: int, gw: int, area_ratio: float, rng: np.random.Generator) -> np.ndarray:
    """A ``(gh, gw)`` map of clump numbers (0 = clean) covering ``round(area_ratio * gh * gw)``
    blocks (at least one).

    Each clump starts at a random seed block and grows in raster order, along its row and on
    into the next, as damage spreads through the rest of a lost slice.
    """
    total = gh * gw
    target = min(total, max(1, round(area_ratio * total)))
    n_seeds = int(rng.integers(1, min(4, target) + 1))
    cuts = np.sort(rng.choice(np.arange(1, target), n_seeds - 1, replace=False)) if n_seeds > 1 else []
    lengths = [int(n) for n in np.diff([0, *cuts, target])]

    flat = np.zeros(total, np.int32)
    placed = 0
    clump = 0
    while placed < target:
        # A run stopped by the grid's end leaves its remainder to the next seed.
        length = lengths[clump] if clump < len(lengths) else target - placed
        clump += 1
        pos = int(rng.choice(np.flatnonzero(flat == 0)))
        grown = 0
        while grown < length and pos < total:
            if flat[pos] == 0:
                flat[pos] = clump
                grown += 1
                placed += 1
            pos += 1
    return flat.reshape(gh, gw)


def _shift(rng: np.random.Generator, max_shift: int) -> tuple[int, int]:
    while True:
        dy, dx = (int(v) for v in rng.integers(-max_shift, max_shift + 1, size=2))
        if dy or dx:
            return dy, dx


def _gaussian_kernel(sigma: float, size: int) -> np.ndarray:
    x = np.arange(size, dtype=np.float64) - size // 2
    k = np.exp(-0.5 * (x / sigma) ** 2)
    return (k / k.sum()).astype(np.float32)


def _convolve_axis(img: np.ndarray, kernel: np.ndarray, axis: int) -> np.ndarray:
    r = kernel.size // 2
    pad = [(0, 0)] * img.ndim
    pad[axis] = (r, r)
    padded = np.pad(img, pad, mode="reflect")
    n = img.shape[axis]
    out = np.zeros_like(img)
    window = [slice(None)] * img.ndim
    for k, wk in enumerate(kernel):
        window[axis] = slice(k, k + n)
        out += wk * padded[tuple(window)]
    return out


def _label(defect: str, a: int, b: int, fps: float, **details) -> Label:
    return Label(defect, a / fps, b / fps, details)


def _block_label(masks: np.ndarray, a: int, b: int, fps: float, block: int, **params) -> Label:
    ratios = [float(masks[i].mean()) for i in range(a, b)]
    return _label("block_corruption", a, b, fps, **params, block_size=block,
                  frame_indices=list(range(a, b)), corrupted_area_ratio=ratios)


def _rng(rng, what: str) -> np.random.Generator:
    if not isinstance(rng, np.random.Generator):
        raise SimulationError(f"{what}: rng must be a numpy Generator (np.random.default_rng(seed))")
    return rng


def _int(v, what: str) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
        raise SimulationError(f"{what} must be an integer, got {v!r}")
    return int(v)


def _float(v, what: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
        raise SimulationError(f"{what} must be a number, got {v!r}")
    v = float(v)
    if not math.isfinite(v):
        raise SimulationError(f"{what} must be finite, got {v}")
    return v


def _color(color, what: str) -> tuple[int, int, int]:
    try:
        rgb = tuple(color)
    except TypeError:
        raise SimulationError(f"{what} must be an (r, g, b) triple, got {color!r}") from None
    if len(rgb) != 3:
        raise SimulationError(f"{what} must be an (r, g, b) triple, got {color!r}")
    rgb = tuple(_int(c, what) for c in rgb)
    if not all(0 <= c <= 255 for c in rgb):
        raise SimulationError(f"{what} components must be in 0..255, got {rgb}")
    return rgb
