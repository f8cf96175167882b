"""Pristine (defect-free) sources for simulation: video scenes, programme audio, a user's own folder.

Injectors damage pristine media at known places; this module supplies that media. Everything is
a deterministic function of the ``np.random.Generator`` passed in and returns numpy arrays:

* :func:`video_scene` -- uint8 RGB frames ``(n, height, width, 3)``: procedural scenes (smooth
  gradients, fine texture, scrolling text, high-motion noise, a crowd, geometric shapes) and
  slow pan-and-zoom over still photos shipped inside the scikit-image wheel.
* :func:`audio_scene` -- float32 ``(channels, n)``: speech (espeak-ng), synthesised music,
  ambient noise beds and plain tones, peak-normalised to a level drawn from a range so that
  quiet and loud programmes both occur.
* :func:`iter_pristine_dir` -- media files from a studio's own catalogue folder.

Sources are split into ``"train"`` and ``"heldout"`` (:data:`SPLITS`): photos, voices,
sentences, chord progressions, noise beds, tone frequencies and colour palettes of one split
never appear in the other, so a held-out evaluation set is built from sources training never
saw. ``rayqa/simulate/SOURCES.md`` lists every source, its licence and its split.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
import tempfile
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from rayqa.simulate.labels import SimulationError

VIDEO_KINDS = ("gradient_pan", "texture", "text", "high_motion_noise", "crowd", "shapes", "photo_pan_zoom")
AUDIO_KINDS = ("speech", "music", "noise_bed", "tone_mix")
SPLITS = ("train", "heldout")

# Photos from skimage.data whose files ship inside the scikit-image 0.26 wheel (no download) and
# whose docstrings state public domain, CC0 or "no known copyright restrictions". Dark or
# low-contrast ones (hubble_deep_field, moon) are left out: a pan over them looks black or frozen.
PHOTOS = {
    "train": ("astronaut", "camera", "coffee", "chelsea", "coins", "grass", "brick", "clock"),
    "heldout": ("rocket", "immunohistochemistry", "retina", "gravel", "cell"),
}

# Colour palettes for the procedural scenes: four RGB colours, none dark, so no frame reads black.
PALETTES = {
    "train": {
        "sunset": ((250, 170, 90), (200, 80, 90), (120, 60, 130), (250, 220, 150)),
        "ocean": ((40, 110, 170), (60, 180, 200), (200, 230, 240), (30, 70, 120)),
        "forest": ((60, 110, 50), (140, 170, 80), (200, 190, 130), (90, 70, 50)),
        "studio": ((90, 90, 100), (180, 180, 190), (230, 225, 210), (130, 110, 100)),
    },
    "heldout": {
        "neon": ((240, 60, 200), (60, 240, 220), (250, 240, 80), (90, 40, 160)),
        "desert": ((220, 170, 110), (180, 110, 70), (240, 215, 170), (120, 90, 70)),
        "ice": ((180, 210, 240), (110, 150, 200), (240, 245, 250), (70, 100, 140)),
    },
}

# espeak-ng voices: language x variant. Languages and variants are both disjoint between splits.
VOICES = {
    "train": ("en-us", "de", "fr", "es"),
    "heldout": ("en-gb", "it", "nl", "pt"),
}
VOICE_VARIANTS = {
    "train": ("m1", "m3", "f1", "f3"),
    "heldout": ("m2", "m4", "f2", "f4"),
}

# Sentences by split and language (English is spoken by one voice in each split, with its own
# sentences). Broadcast-like text: news, documentary, announcements.
SENTENCES = {
    "train": {
        "en": (
            "Good evening, and welcome to the programme.",
            "Tonight we travel to the northern coast, where the winter storms have arrived early.",
            "The river rises quickly after heavy rain in the hills.",
            "Engineers say the new bridge will open to traffic next spring.",
            "Markets closed slightly higher after a quiet day of trading.",
            "In the kitchen, the chef prepares a simple dish of fresh vegetables.",
            "Scientists have counted more birds on the island than ever before.",
            "The match was stopped twice because of the weather.",
            "After the break, we look at the history of the old railway.",
            "Thank you for joining us, and see you tomorrow.",
            "The museum reopens on Saturday with a new exhibition of paintings.",
            "Local farmers expect a good harvest this year.",
        ),
        "de": (
            "Guten Abend und herzlich willkommen zu unserer Sendung.",
            "Heute sprechen wir über das Wetter in den Bergen.",
            "Der Zug nach Berlin fährt in zehn Minuten ab.",
            "Die Stadt plant einen neuen Park am Fluss.",
            "Vielen Dank fürs Zuschauen, bis morgen.",
        ),
        "fr": (
            "Bonsoir et bienvenue dans notre émission.",
            "Ce soir, nous partons à la découverte des Alpes.",
            "La pluie continuera demain sur tout le pays.",
            "Le musée présente une nouvelle exposition de photographies.",
            "Merci de nous avoir suivis, à demain.",
        ),
        "es": (
            "Buenas noches y bienvenidos al programa.",
            "Hoy hablamos del tiempo en la costa.",
            "El tren hacia Madrid sale en diez minutos.",
            "Los científicos estudian los bosques del norte.",
            "Gracias por acompañarnos, hasta mañana.",
        ),
    },
    "heldout": {
        "en": (
            "Here is the news at six o'clock.",
            "A lighthouse has stood on these cliffs for almost two hundred years.",
            "Volunteers planted a thousand trees along the valley this weekend.",
            "The orchestra rehearsed the final movement until late at night.",
            "Traffic is moving slowly on the main road into the city.",
            "The old mill was restored by a group of local craftsmen.",
            "Our reporter has been following the expedition across the glacier.",
            "That is all from us for now, good night.",
        ),
        "it": (
            "Buonasera e benvenuti al nostro programma.",
            "Oggi parliamo del tempo in montagna.",
            "Il treno per Roma parte tra dieci minuti.",
            "Grazie per averci seguito, a domani.",
        ),
        "nl": (
            "Goedenavond en welkom bij ons programma.",
            "Vandaag praten we over het weer aan de kust.",
            "De trein naar Amsterdam vertrekt over tien minuten.",
            "Bedankt voor het kijken, tot morgen.",
        ),
        "pt": (
            "Boa noite e bem-vindos ao nosso programa.",
            "Hoje falamos sobre o tempo no litoral.",
            "O comboio para Lisboa parte daqui a dez minutos.",
            "Obrigado pela companhia, até amanhã.",
        ),
    },
}

# Chord progressions: (semitones above the key's tonic, "maj" | "min") per bar.
PROGRESSIONS = {
    "train": {
        "I-V-vi-IV": ((0, "maj"), (7, "maj"), (9, "min"), (5, "maj")),
        "ii-V-I-I": ((2, "min"), (7, "maj"), (0, "maj"), (0, "maj")),
        "I-IV-V-IV": ((0, "maj"), (5, "maj"), (7, "maj"), (5, "maj")),
        "i-iv-v-i": ((0, "min"), (5, "min"), (7, "min"), (0, "min")),
    },
    "heldout": {
        "i-bVII-bVI-V": ((0, "min"), (10, "maj"), (8, "maj"), (7, "maj")),
        "I-iii-IV-iv": ((0, "maj"), (4, "min"), (5, "maj"), (5, "min")),
        "vi-ii-V-I": ((9, "min"), (2, "min"), (7, "maj"), (0, "maj")),
        "I-bVII-IV-I": ((0, "maj"), (10, "maj"), (5, "maj"), (0, "maj")),
    },
}

NOISE_BEDS = {"train": ("pink", "brown", "room_tone"), "heldout": ("rain", "wind")}
TONES_HZ = {
    "train": (220.0, 330.0, 440.0, 550.0, 660.0, 880.0, 1000.0),
    "heldout": (261.63, 392.0, 523.25, 700.0, 1200.0, 1500.0),
}

# Peak level drawn when ``level_dbfs`` is None: a wide range so quiet and loud programmes exist;
# ambient beds sit lower, as they do under a programme.
LEVEL_RANGE_DBFS = {"speech": (-20.0, -1.0), "music": (-20.0, -1.0), "noise_bed": (-30.0, -14.0),
                    "tone_mix": (-20.0, -1.0)}

MEDIA_SUFFIXES = frozenset({
    ".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".mxf", ".ts", ".mts", ".m2ts", ".mpg", ".mpeg",
    ".wmv", ".flv", ".wav", ".flac", ".aif", ".aiff", ".m4a", ".aac", ".mp3", ".ogg", ".opus", ".wma",
})

_MIN_SIDE = 16
_MAX_VIDEO_BYTES = 4 << 30  # arrays are returned whole: refuse what would not fit in memory
_ESPEAK_RATE = 22050  # espeak-ng always writes 22.05 kHz mono 16-bit


def split_sources(split: str) -> dict[str, tuple]:
    """Names of every source in ``split`` by category (photos, voices, sentences, ...)."""
    _check_split(split)
    return {
        "photos": PHOTOS[split],
        "palettes": tuple(PALETTES[split]),
        "voices": VOICES[split],
        "voice_variants": VOICE_VARIANTS[split],
        "sentences": tuple(s for lang in SENTENCES[split].values() for s in lang),
        "progressions": tuple(PROGRESSIONS[split]),
        "noise_beds": NOISE_BEDS[split],
        "tones_hz": TONES_HZ[split],
    }


# --------------------------------------------------------------------------------------------
# Parameter checks


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise SimulationError(f"split must be one of {SPLITS}, got {split!r}")


def _check_rng(rng: Any) -> None:
    if not isinstance(rng, np.random.Generator):
        raise SimulationError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")


def _positive(value: Any, name: str) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise SimulationError(f"{name} must be a number, got {value!r}") from None
    if not np.isfinite(v) or v <= 0:
        raise SimulationError(f"{name} must be a positive finite number, got {value!r}")
    return v


def _size(value: Any, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise SimulationError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


# --------------------------------------------------------------------------------------------
# Video


def video_scene(kind: str, duration_s: float, fps: float, width: int, height: int,
                rng: np.random.Generator, split: str = "train", return_info: bool = False):
    """Frames ``(n, height, width, 3)`` uint8 RGB of a pristine scene of ``kind`` (see VIDEO_KINDS).

    ``n = round(duration_s * fps)``. With ``return_info`` the result is ``(frames, info)``, where
    ``info`` (JSON-able) names the sources used (palette or photo) and the motion parameters.
    """
    if kind not in VIDEO_KINDS:
        raise SimulationError(f"unknown video kind {kind!r}; expected one of {VIDEO_KINDS}")
    duration_s = _positive(duration_s, "duration_s")
    fps = _positive(fps, "fps")
    width = _size(width, "width", _MIN_SIDE)
    height = _size(height, "height", _MIN_SIDE)
    _check_split(split)
    _check_rng(rng)
    n = int(round(duration_s * fps))
    if n < 1:
        raise SimulationError(f"{duration_s} s at {fps} fps is less than one frame")
    if n * width * height * 3 > _MAX_VIDEO_BYTES:
        raise SimulationError(f"{n} frames of {width}x{height} would need more than 4 GiB; ask for a shorter clip")
    info: dict[str, Any] = {"kind": kind, "split": split}
    frames = _VIDEO[kind](n, fps, width, height, rng, split, info)
    assert frames.shape == (n, height, width, 3) and frames.dtype == np.uint8
    return (frames, info) if return_info else frames


def _pick_palette(rng: np.random.Generator, split: str, info: dict) -> np.ndarray:
    names = sorted(PALETTES[split])
    name = names[int(rng.integers(len(names)))]
    info["palette"] = name
    colours = np.asarray(PALETTES[split][name], np.float32)
    return colours[rng.permutation(len(colours))]


def _grid(width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel coordinates in units of the longer side, so patterns keep their shape at any aspect."""
    s = float(max(width, height))
    return np.arange(width, dtype=np.float32)[None, :] / s, np.arange(height, dtype=np.float32)[:, None] / s


def _to_u8(img: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def _gradient_pan(n, fps, w, h, rng, split, info):
    """Two soft sinusoidal ramps travelling in different directions blend four palette colours."""
    c = _pick_palette(rng, split, info)
    x, y = _grid(w, h)
    angles = rng.uniform(0, 2 * np.pi, 2)
    freqs = rng.uniform(0.4, 1.2, 2)  # cycles per frame width: broad, smooth ramps
    speeds = rng.uniform(0.2, 0.4, 2) * rng.choice([-1, 1], 2)  # cycles per second
    phases = rng.uniform(0, 1, 2)
    info.update(speeds_cycles_per_s=speeds.round(3).tolist())
    # sin(2pi(k u - v t + p)) = sin(A) cos(B) - cos(A) sin(B): the spatial part is computed once.
    sin_a = [np.sin(2 * np.pi * (k * (np.cos(a) * x + np.sin(a) * y) + p)).astype(np.float32)
             for k, a, p in zip(freqs, angles, phases)]
    cos_a = [np.cos(2 * np.pi * (k * (np.cos(a) * x + np.sin(a) * y) + p)).astype(np.float32)
             for k, a, p in zip(freqs, angles, phases)]
    d1, d2, d12 = c[1] - c[0], c[2] - c[0], c[0] - c[1] - c[2] + c[3]
    out = np.empty((n, h, w, 3), np.uint8)
    for i in range(n):
        b = 2 * np.pi * speeds * (i / fps)
        f1 = (0.5 + 0.5 * (sin_a[0] * np.float32(np.cos(b[0])) - cos_a[0] * np.float32(np.sin(b[0]))))[..., None]
        f2 = (0.5 + 0.5 * (sin_a[1] * np.float32(np.cos(b[1])) - cos_a[1] * np.float32(np.sin(b[1]))))[..., None]
        out[i] = _to_u8(c[0] + d1 * f1 + d2 * f2 + d12 * (f1 * f2))  # bilinear blend of the 4 colours
    return out


def _shaped_noise_2d(rng: np.random.Generator, h: int, w: int, beta: float) -> np.ndarray:
    """Tileable noise with a 1/f^beta amplitude spectrum, scaled to unit standard deviation."""
    fy = np.fft.fftfreq(h)[:, None]
    fx = np.fft.rfftfreq(w)[None, :]
    f = np.sqrt(fx ** 2 + fy ** 2)
    f[0, 0] = 1.0
    spec = np.fft.rfft2(rng.standard_normal((h, w))) / f ** beta
    spec[0, 0] = 0.0
    img = np.fft.irfft2(spec, s=(h, w))
    return (img / (img.std() + 1e-12)).astype(np.float32)


def _wrap_pad(tile: np.ndarray, h: int, w: int) -> np.ndarray:
    """The periodic tile extended by one window (plus a pixel), so any window is a plain slice."""
    return np.pad(tile, ((0, h + 1), (0, w + 1), (0, 0)), mode="wrap")


def _sample_tile(padded: np.ndarray, period: tuple[int, int], oy: float, ox: float, h: int, w: int) -> np.ndarray:
    """An ``h x w`` window of a periodic tile (see _wrap_pad) at a sub-pixel offset, bilinear."""
    iy, ix = int(np.floor(oy)), int(np.floor(ox))
    fy, fx = np.float32(oy - iy), np.float32(ox - ix)
    y0, x0 = iy % period[0], ix % period[1]
    win = padded[y0:y0 + h + 1, x0:x0 + w + 1]
    top = win[:-1, :-1] * (1 - fx) + win[:-1, 1:] * fx
    bottom = win[1:, :-1] * (1 - fx) + win[1:, 1:] * fx
    return top * (1 - fy) + bottom * fy


def _texture(n, fps, w, h, rng, split, info):
    """A fine, tileable multi-scale texture panning at sub-pixel speed, with fresh film grain."""
    c = _pick_palette(rng, split, info)
    th, tw = 2 * h, 2 * w
    beta = rng.uniform(0.3, 0.7)  # low beta: fine detail dominates
    lum = _shaped_noise_2d(rng, th, tw, beta)
    tint = _shaped_noise_2d(rng, th, tw, beta + 0.8)  # slower colour variation
    base = c[0] * 0.6 + c[2] * 0.4
    tile = base + 38 * lum[..., None] + 18 * tint[..., None] * (c[1] - c[3]) / 128
    velocity = rng.uniform(0.06, 0.2, 2) * max(w, h) * rng.choice([-1, 1], 2)  # px per second
    grain = rng.uniform(3, 7)
    info.update(velocity_px_s=velocity.round(2).tolist(), grain_sigma=round(float(grain), 2))
    padded = _wrap_pad(tile.astype(np.float32), h, w)
    out = np.empty((n, h, w, 3), np.uint8)
    for i in range(n):
        t = i / fps
        img = _sample_tile(padded, (th, tw), velocity[1] * t, velocity[0] * t, h, w)
        img = img + grain * rng.standard_normal((h, w, 1), dtype=np.float32)  # grain is luma noise
        out[i] = _to_u8(img)
    return out


def _glyphs(rng: np.random.Generator, count: int) -> np.ndarray:
    """A random alphabet of 5x7 bitmaps with no empty column, so words read as text blocks."""
    g = rng.random((count, 7, 5)) < 0.38
    g[:, 3, :] |= ~g.any(axis=1)
    return g


def _text_canvas(rng, glyphs, width, height, scale, fg, bg, centred):
    """A canvas of lines of glyph 'words': 5x7 glyphs in 6x10 cells, scaled by ``scale``."""
    canvas = np.empty((height, width, 3), np.float32)
    canvas[:] = bg
    gh, gw = 7 * scale, 5 * scale
    line_h = 10 * scale
    for top in range(scale, height - gh + 1, line_h):
        if rng.random() < 0.15:  # a blank line between paragraphs
            continue
        words, length = [], 0
        limit = int(width * rng.uniform(0.55, 0.9)) // (6 * scale)
        while True:
            word = rng.integers(0, len(glyphs), rng.integers(2, 9))
            if length + len(word) > limit:
                break
            words.append(word)
            length += len(word) + 1
        if not words:
            continue
        left = (width - (length - 1) * 6 * scale) // 2 if centred else 2 * scale
        for word in words:
            for k in word:
                bitmap = np.kron(glyphs[k], np.ones((scale, scale), bool))
                canvas[top:top + gh, left:left + gw][bitmap] = fg
                left += 6 * scale
            left += 6 * scale
    return canvas


def _text(n, fps, w, h, rng, split, info):
    """Credits-like lines scrolling up over a dark (not black) card, plus a ticker band."""
    c = _pick_palette(rng, split, info)
    lum = c @ np.array([0.299, 0.587, 0.114], np.float32)
    bg = c[np.argmin(lum)] * 0.55 + 12  # dark card, luma well above black
    fg = np.minimum(c[np.argmax(lum)] * 1.1 + 30, 255)
    glyphs = _glyphs(rng, 48)
    scale = max(1, h // 90)
    line_h = 10 * scale
    # Integer pixel steps keep glyph edges crisp; at least one pixel per frame, so it never stalls.
    scroll = max(1.0, rng.uniform(0.08, 0.2) * h / fps)
    ticker_speed = max(1.0, rng.uniform(0.15, 0.35) * w / fps)
    info.update(scroll_px_per_frame=round(scroll, 3), ticker_px_per_frame=round(ticker_speed, 3))
    band_h = line_h + 2 * scale
    body_h = h - band_h
    page = _text_canvas(rng, glyphs, w, ((max(2 * body_h, 12 * line_h)) // line_h) * line_h,
                        scale, fg, bg, centred=True)
    band_bg = np.minimum(c[np.argsort(lum)[1]] * 0.8 + 20, 255)
    ticker = _text_canvas(rng, glyphs, 3 * w, band_h, scale, bg, band_bg, centred=False)
    out = np.empty((n, h, w, 3), np.uint8)
    for i in range(n):
        rows = (int(round(i * scroll)) + np.arange(body_h)) % page.shape[0]
        cols = (int(round(i * ticker_speed)) + np.arange(w)) % ticker.shape[1]
        out[i, :body_h] = _to_u8(page[rows])
        out[i, body_h:] = _to_u8(ticker[:, cols])
    return out


def _high_motion_noise(n, fps, w, h, rng, split, info):
    """Whip-pan jumps over coarse texture, dense per-pixel noise and confetti: hard for codecs and
    for signal-processing detectors, yet a legitimate picture (never black, never frozen)."""
    c = _pick_palette(rng, split, info)
    th, tw = 2 * h, 2 * w
    coarse = _shaped_noise_2d(rng, th, tw, 1.4)
    tile = 128 + 45 * coarse[..., None] * (c[rng.integers(4)] / 160)
    sigma = rng.uniform(22, 40)
    info.update(noise_sigma=round(float(sigma), 2))
    n_confetti = max(4, (w * h) // 600)
    padded = _wrap_pad(tile.astype(np.float32), h, w)
    out = np.empty((n, h, w, 3), np.uint8)
    oy, ox = 0.0, 0.0
    for i in range(n):
        oy += rng.uniform(0.1, 0.4) * h * rng.choice([-1, 1])
        ox += rng.uniform(0.1, 0.4) * w * rng.choice([-1, 1])
        img = _sample_tile(padded, (th, tw), oy, ox, h, w)
        img += sigma * rng.standard_normal((h, w, 3), dtype=np.float32)
        sizes = rng.integers(2, max(3, h // 12), (n_confetti, 2))
        corners = (rng.random((n_confetti, 2)) * ([h, w] - sizes + 1)).astype(int)
        colours = c[rng.integers(4, size=n_confetti)]
        for (bh, bw), (y0, x0), colour in zip(sizes, corners, colours):
            img[y0:y0 + bh, x0:x0 + bw] = colour
        out[i] = _to_u8(img)
    return out


def _crowd(n, fps, w, h, rng, split, info):
    """Many small walkers (head plus body) crossing a ground plane, wrapping around the edges."""
    c = _pick_palette(rng, split, info)
    lum = c @ np.array([0.299, 0.587, 0.114], np.float32)
    ground_top, ground_bottom = c[np.argsort(lum)[2]], c[np.argsort(lum)[1]]
    ramp = np.linspace(0, 1, h, dtype=np.float32)[:, None, None]
    background = ground_top * (1 - ramp) + ground_bottom * ramp
    background = background + 6 * _shaped_noise_2d(rng, h, w, 1.5)[..., None]  # paving texture
    background = np.broadcast_to(background, (h, w, 3)).astype(np.float32)
    count = int(np.clip(w * h // 800, 16, 150))
    skins = np.array([(240, 200, 170), (200, 150, 110), (150, 100, 70), (100, 70, 50)], np.float32)
    people = []
    for _ in range(count):
        y = rng.uniform(0, 1)
        size = max(5, int(round(h * (0.06 + 0.08 * y))))  # nearer (lower) walkers look bigger
        r = max(1, size // 6)
        head = _disc(2 * r + 1, 2 * r + 1, r, r, r)
        bw = max(2, size // 3)
        body = _ellipse(size - 2 * r, bw, (size - 2 * r - 1) / 2, (bw - 1) / 2, (size - 2 * r) / 2, bw / 2)
        people.append({
            "x": rng.uniform(0, w), "y": y * (h - size), "size": size, "r": r, "bw": bw,
            "head": head, "body": body, "skin": skins[rng.integers(len(skins))],
            "cloth": np.clip(rng.uniform(30, 230, 3), 0, 255).astype(np.float32),
            "vx": rng.uniform(0.08, 0.25) * w * rng.choice([-1, 1]), "vy": rng.uniform(-0.03, 0.03) * h,
            "step": rng.uniform(1.5, 2.5), "phase": rng.uniform(0, 2 * np.pi),
        })
    info.update(walkers=count)
    out = np.empty((n, h, w, 3), np.uint8)
    for i in range(n):
        t = i / fps
        img = background.copy()
        for p in sorted(people, key=lambda p: p["y"] + p["vy"] * t):  # far ones first
            x = (p["x"] + p["vx"] * t) % (w + 2 * p["bw"]) - p["bw"]
            y = np.clip(p["y"] + p["vy"] * t, 0, h - p["size"])
            y += abs(np.sin(2 * np.pi * p["step"] * t + p["phase"])) * max(1, p["size"] // 10)  # gait bob
            top, left = int(round(y)), int(round(x))
            _paste(img, p["body"], p["cloth"], top + 2 * p["r"], left)
            _paste(img, p["head"], p["skin"], top, left + p["bw"] // 2 - p["r"])
        out[i] = _to_u8(img)
    return out


def _disc(h, w, cy, cx, r):
    yy, xx = np.mgrid[:h, :w]
    return (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r + 0.5


def _ellipse(h, w, cy, cx, ry, rx):
    yy, xx = np.mgrid[:h, :w]
    return ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1.0


def _paste(img: np.ndarray, mask: np.ndarray, colour: np.ndarray, top: int, left: int) -> None:
    """Paint ``colour`` where ``mask`` is set, with the mask's corner at (top, left), clipped."""
    h, w = img.shape[:2]
    mh, mw = mask.shape
    y0, x0 = max(top, 0), max(left, 0)
    y1, x1 = min(top + mh, h), min(left + mw, w)
    if y0 >= y1 or x0 >= x1:
        return
    img[y0:y1, x0:x1][mask[y0 - top:y1 - top, x0 - left:x1 - left]] = colour


def _shapes(n, fps, w, h, rng, split, info):
    """Discs, rings and rotating polygons bouncing over a slowly turning two-colour gradient."""
    c = _pick_palette(rng, split, info)
    x, y = _grid(w, h)
    count = int(rng.integers(3, 9))
    side = min(w, h)
    shapes = []
    for _ in range(count):
        r = rng.uniform(0.1, 0.25) * side
        shapes.append({
            "kind": ("disc", "ring", "polygon")[int(rng.integers(3))],
            "sides": int(rng.integers(3, 7)), "r": r,
            "pos": np.array([rng.uniform(r, w - r), rng.uniform(r, h - r)]),
            "vel": rng.uniform(0.2, 0.5, 2) * max(w, h) * rng.choice([-1, 1], 2),
            "angle": rng.uniform(0, 2 * np.pi), "spin": rng.uniform(0.5, 2.0) * rng.choice([-1, 1]),
            "colour": np.clip(c[rng.integers(4)] * rng.uniform(0.6, 1.2) + rng.uniform(-40, 40, 3), 0, 255),
        })
    info.update(shapes=[s["kind"] for s in shapes])
    turn = rng.uniform(0.05, 0.15) * rng.choice([-1, 1])  # background turns, revolutions per second
    a0 = rng.uniform(0, 2 * np.pi)
    out = np.empty((n, h, w, 3), np.uint8)
    yy_full, xx_full = np.mgrid[:h, :w].astype(np.float32)
    for i in range(n):
        t = i / fps
        a = a0 + 2 * np.pi * turn * t
        g = np.clip(0.5 + (np.cos(a) * (x - 0.5) + np.sin(a) * (y - 0.5)), 0, 1)[..., None]
        img = c[0] * (1 - g) + c[1] * g
        for s in shapes:
            px, py = _bounce(s["pos"][0] + s["vel"][0] * t, s["r"], w), _bounce(s["pos"][1] + s["vel"][1] * t, s["r"], h)
            y0, y1 = max(int(py - s["r"]) - 1, 0), min(int(py + s["r"]) + 2, h)
            x0, x1 = max(int(px - s["r"]) - 1, 0), min(int(px + s["r"]) + 2, w)
            dy, dx = yy_full[y0:y1, x0:x1] - py, xx_full[y0:y1, x0:x1] - px
            d2 = dx * dx + dy * dy
            if s["kind"] == "disc":
                mask = d2 <= s["r"] ** 2
            elif s["kind"] == "ring":
                mask = (d2 <= s["r"] ** 2) & (d2 >= (0.6 * s["r"]) ** 2)
            else:
                mask = _polygon(dx, dy, s["r"], s["sides"], s["angle"] + s["spin"] * t)
            img[y0:y1, x0:x1][mask] = s["colour"]
        out[i] = _to_u8(img)
    return out


def _bounce(p: float, r: float, size: int) -> float:
    """Position bouncing between ``r`` and ``size - r`` (a triangle wave of the free path)."""
    span = max(size - 2 * r, 1e-6)
    q = (p - r) % (2 * span)
    return r + (q if q <= span else 2 * span - q)


def _polygon(dx: np.ndarray, dy: np.ndarray, r: float, sides: int, angle: float) -> np.ndarray:
    """Inside-test for a regular convex polygon (circumradius ``r``) centred at the origin."""
    theta = angle + 2 * np.pi * np.arange(sides) / sides
    vx, vy = r * np.cos(theta), r * np.sin(theta)
    mask = np.ones(dx.shape, bool)
    for k in range(sides):
        ex, ey = vx[(k + 1) % sides] - vx[k], vy[(k + 1) % sides] - vy[k]
        mask &= ex * (dy - vy[k]) - ey * (dx - vx[k]) >= 0
    return mask


@functools.lru_cache(maxsize=None)
def load_photo(name: str) -> np.ndarray:
    """An RGB uint8 photo from scikit-image's bundled data (offline; gray ones made RGB)."""
    if name not in PHOTOS["train"] + PHOTOS["heldout"]:
        raise SimulationError(f"unknown photo {name!r}; expected one of {PHOTOS['train'] + PHOTOS['heldout']}")
    try:
        import skimage.data
    except ImportError as e:  # pragma: no cover - the project installs it
        raise SimulationError("photo_pan_zoom needs scikit-image: pip install scikit-image==0.26.0") from e
    img = np.asarray(getattr(skimage.data, name)())
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=2)
    img = np.ascontiguousarray(img[..., :3].astype(np.uint8))
    img.setflags(write=False)  # shared by the cache
    return img


def _triangle(x: float) -> float:
    """Triangle wave with period 1 in [0, 1]: constant speed, so the camera never stops."""
    x %= 1.0
    return 2 * x if x < 0.5 else 2 - 2 * x


def _photo_pan_zoom(n, fps, w, h, rng, split, info):
    """A crop window panning and zooming across a still photo at constant, slow speed."""
    names = PHOTOS[split]
    name = names[int(rng.integers(len(names)))]
    photo = load_photo(name).astype(np.float32)
    ph, pw = photo.shape[:2]
    aspect = w / h
    fit_w = min(pw, ph * aspect)  # largest crop of the output's aspect that fits the photo
    s_lo, s_hi = rng.uniform(0.45, 0.6), rng.uniform(0.7, 0.9)  # crop scale range (zoom)
    # Shrink first by an integer box factor so bilinear sampling never skips many source pixels.
    f = max(1, int(s_lo * fit_w / (2 * w)))
    if f > 1:
        ph, pw = ph // f * f, pw // f * f
        photo = photo[:ph, :pw].reshape(ph // f, f, pw // f, f, 3).mean(axis=(1, 3))
        ph, pw, fit_w = ph // f, pw // f, fit_w / f
    s_mid = (s_lo + s_hi) / 2
    # Periods chosen so the pan moves ~15-30 % of the frame width per second in output pixels.
    speed = rng.uniform(0.15, 0.3) * w
    scale_out = w / (s_mid * fit_w)  # output pixels per photo pixel
    room_x = pw - s_mid * fit_w
    room_y = ph - s_mid * fit_w / aspect
    period_x = max(2 * room_x * scale_out / speed, 1.0)
    period_y = max(2 * room_y * scale_out / (0.6 * speed), 1.0)
    period_z = rng.uniform(8, 20)
    phase = rng.uniform(0, 1, 3)
    info.update(photo=name, zoom_range=[round(float(s_lo), 3), round(float(s_hi), 3)],
                pan_px_s=round(float(speed), 2))
    out = np.empty((n, h, w, 3), np.uint8)
    cols, rows = np.arange(w) + 0.5, np.arange(h) + 0.5
    for i in range(n):
        t = i / fps
        s = s_lo + (s_hi - s_lo) * _triangle(t / period_z + phase[2])
        cw, ch = s * fit_w, s * fit_w / aspect
        left = (pw - cw) * _triangle(t / period_x + phase[0])
        top = (ph - ch) * _triangle(t / period_y + phase[1])
        xs = np.clip(left + cols * cw / w - 0.5, 0, pw - 1.001)
        ys = np.clip(top + rows * ch / h - 0.5, 0, ph - 1.001)
        x0, y0 = xs.astype(np.int64), ys.astype(np.int64)
        fx = (xs - x0).astype(np.float32)[None, :, None]
        fy = (ys - y0).astype(np.float32)[:, None, None]
        r0, r1 = photo[y0], photo[y0 + 1]
        top = r0[:, x0] * (1 - fx) + r0[:, x0 + 1] * fx
        bottom = r1[:, x0] * (1 - fx) + r1[:, x0 + 1] * fx
        out[i] = _to_u8(top * (1 - fy) + bottom * fy)
    return out


_VIDEO = {
    "gradient_pan": _gradient_pan,
    "texture": _texture,
    "text": _text,
    "high_motion_noise": _high_motion_noise,
    "crowd": _crowd,
    "shapes": _shapes,
    "photo_pan_zoom": _photo_pan_zoom,
}


# --------------------------------------------------------------------------------------------
# Audio


def audio_scene(kind: str, duration_s: float, sample_rate: int, channels: int, rng: np.random.Generator,
                level_dbfs: float | None = None, split: str = "train", return_info: bool = False):
    """Programme audio ``(channels, round(duration_s * sample_rate))`` float32 of ``kind`` (AUDIO_KINDS).

    The result is peak-normalised to ``level_dbfs`` (<= 0), or to a level drawn from
    ``LEVEL_RANGE_DBFS[kind]`` when None. With ``return_info`` returns ``(audio, info)``.
    """
    if kind not in AUDIO_KINDS:
        raise SimulationError(f"unknown audio kind {kind!r}; expected one of {AUDIO_KINDS}")
    duration_s = _positive(duration_s, "duration_s")
    sample_rate = _size(sample_rate, "sample_rate", 8000)
    channels = _size(channels, "channels", 1)
    if channels > 16:
        raise SimulationError(f"channels must be at most 16, got {channels}")
    _check_split(split)
    _check_rng(rng)
    if level_dbfs is not None:
        level_dbfs = float(level_dbfs)
        if not np.isfinite(level_dbfs) or level_dbfs > 0:
            raise SimulationError(f"level_dbfs must be a finite level <= 0 dBFS, got {level_dbfs}")
    n = int(round(duration_s * sample_rate))
    if n < 1:
        raise SimulationError(f"{duration_s} s at {sample_rate} Hz is less than one sample")
    info: dict[str, Any] = {"kind": kind, "split": split}
    if level_dbfs is None:
        level_dbfs = float(rng.uniform(*LEVEL_RANGE_DBFS[kind]))
    x = _AUDIO[kind](n, sample_rate, channels, rng, split, info)
    # Short fades at both ends: a programme that starts or stops mid-waveform clicks.
    fade = min(n // 4, int(0.01 * sample_rate))
    if fade > 0:
        ramp = np.linspace(0, 1, fade, dtype=np.float64)
        x[:, :fade] *= ramp
        x[:, n - fade:] *= ramp[::-1]
    peak = float(np.max(np.abs(x)))
    if peak <= 0:  # cannot happen for these generators; guards the normalisation below
        raise SimulationError(f"{kind} generated digital silence")
    x *= 10 ** (level_dbfs / 20) / peak
    info["peak_dbfs"] = round(level_dbfs, 2)
    audio = x.astype(np.float32)
    return (audio, info) if return_info else audio


def _pan_gains(pan: float, channels: int) -> np.ndarray:
    """Constant-power gains placing a mono source at ``pan`` in [-1, 1] across the channels."""
    if channels == 1:
        return np.ones(1)
    if channels == 2:
        a = (pan + 1) * np.pi / 4
        return np.array([np.cos(a), np.sin(a)])
    # More channels: speakers spread evenly over [-1, 1], a source shared by its two neighbours,
    # plus a room bleed into every speaker: a channel that carries nothing is a defect.
    pos = np.linspace(-1, 1, channels)
    g = np.maximum(0.0, 1 - np.abs(pan - pos) * (channels - 1) / 2) + 0.25
    return g / np.sqrt(np.sum(g ** 2))


def _mix(stems: list[tuple[np.ndarray, float]], channels: int) -> np.ndarray:
    out = np.zeros((channels, len(stems[0][0])))
    for mono, pan in stems:
        out += _pan_gains(pan, channels)[:, None] * mono[None, :]
    return out


def _spectral_noise(rng: np.random.Generator, n: int, sr: int, shape) -> np.ndarray:
    """White noise filtered in the frequency domain by ``shape(f_hz)``; unit RMS."""
    spec = np.fft.rfft(rng.standard_normal(n))
    spec *= shape(np.fft.rfftfreq(n, 1 / sr))
    x = np.fft.irfft(spec, n)
    return x / (np.sqrt(np.mean(x ** 2)) + 1e-12)


def _band(lo: float, hi: float, slope: float = 0.0):
    """Band-pass with soft (raised-cosine, one octave) skirts, optionally tilted by f^slope."""
    def shape(f):
        f = np.maximum(f, 1.0)
        lo_edge = np.clip(np.log2(f / lo) + 1, 0, 1)
        hi_edge = np.clip(1 - np.log2(f / hi), 0, 1)
        return (0.5 - 0.5 * np.cos(np.pi * lo_edge)) * (0.5 - 0.5 * np.cos(np.pi * hi_edge)) * f ** slope
    return shape


def _smooth_random(rng: np.random.Generator, n: int, sr: int, rate_hz: float) -> np.ndarray:
    """A slowly varying random curve in [0, 1] (control-rate noise, linearly interpolated)."""
    points = max(2, int(n / sr * rate_hz) + 2)
    knots = rng.random(points)
    return np.interp(np.arange(n), np.linspace(0, n - 1, points), knots)


def _decorrelated(rng, n, sr, channels, shape, correlation):
    """Unit-RMS noise per channel with inter-channel ``correlation`` (a diffuse bed, not a point)."""
    common = _spectral_noise(rng, n, sr, shape)
    return np.stack([np.sqrt(correlation) * common + np.sqrt(1 - correlation) * _spectral_noise(rng, n, sr, shape)
                     for _ in range(channels)])


def _noise_bed(n, sr, channels, rng, split, info):
    """Ambient bed of the split's kinds: pink, brown, room tone / rain, wind."""
    beds = NOISE_BEDS[split]
    bed = beds[int(rng.integers(len(beds)))]
    info["bed"] = bed
    return _BEDS[bed](n, sr, channels, rng, info)


def _bed_pink(n, sr, channels, rng, info):
    return _decorrelated(rng, n, sr, channels, _band(20, 16000, -0.5), rng.uniform(0.3, 0.8))


def _bed_brown(n, sr, channels, rng, info):
    return _decorrelated(rng, n, sr, channels, _band(25, 8000, -1.0), rng.uniform(0.3, 0.8))


def _bed_room_tone(n, sr, channels, rng, info):
    """Air: low rumble plus ventilation band, with a faint mains hum and its harmonics."""
    t = np.arange(n) / sr
    air = _decorrelated(rng, n, sr, channels, _band(30, 400, -1.0), 0.7)
    vent = _decorrelated(rng, n, sr, channels, _band(150, 1200), 0.5) * 0.4
    vent *= 0.8 + 0.2 * _smooth_random(rng, n, sr, 0.3)
    mains = float(rng.choice([50.0, 60.0]))
    hum = sum(0.05 / k * np.sin(2 * np.pi * mains * k * t + rng.uniform(0, 2 * np.pi)) for k in (1, 2, 3))
    info["mains_hz"] = mains
    return air + vent + hum[None, :]


def _bed_rain(n, sr, channels, rng, info):
    """Hiss of distant rain plus near droplets: short decaying bursts at Poisson times."""
    hiss = _decorrelated(rng, n, sr, channels, _band(800, min(9000, sr / 2.2), -0.3), 0.4)
    hiss *= 0.85 + 0.15 * _smooth_random(rng, n, sr, 0.5)
    rate = rng.uniform(20, 80)
    drops = np.zeros((channels, n))
    count = rng.poisson(rate * n / sr)
    length = max(8, int(0.006 * sr))
    env = np.exp(-np.arange(length) / (0.0015 * sr))
    for start in rng.integers(0, max(1, n - length), count):
        burst = np.diff(rng.standard_normal(length + 1)) * env * rng.uniform(0.3, 1.2)  # diff: bright
        drops[:, start:start + length] += _pan_gains(rng.uniform(-1, 1), channels)[:, None] * burst[None, :]
    info["drops_per_s"] = round(float(rate), 1)
    return hiss + drops


def _bed_wind(n, sr, channels, rng, info):
    """Low roar and a whistling band, both swelling in slow gusts."""
    gust = 0.3 + 0.7 * _smooth_random(rng, n, sr, 0.25) ** 2
    roar = _decorrelated(rng, n, sr, channels, _band(40, 500, -1.0), 0.6) * gust
    whistle = _decorrelated(rng, n, sr, channels, _band(400, 1500), 0.4) * (0.3 * gust ** 2)
    return roar + whistle


_BEDS = {"pink": _bed_pink, "brown": _bed_brown, "room_tone": _bed_room_tone, "rain": _bed_rain, "wind": _bed_wind}


def _tone_mix(n, sr, channels, rng, split, info):
    """One to three steady sine tones from the split's frequency set, with a gentle tremolo."""
    freqs = rng.choice(TONES_HZ[split], int(rng.integers(1, 4)), replace=False)
    freqs = [f for f in freqs if f < sr / 2.2] or [min(TONES_HZ[split])]
    t = np.arange(n) / sr
    stems = []
    for f in freqs:
        trem = 1 + 0.15 * np.sin(2 * np.pi * rng.uniform(0.2, 1.0) * t + rng.uniform(0, 2 * np.pi))
        stems.append((rng.uniform(0.4, 1.0) * trem * np.sin(2 * np.pi * f * t + rng.uniform(0, 2 * np.pi)),
                      rng.uniform(-0.5, 0.5)))
    info["tones_hz"] = [float(f) for f in freqs]
    return _mix(stems, channels)


def _midi_hz(m: float) -> float:
    return 440.0 * 2 ** ((m - 69) / 12)


def _music(n, sr, channels, rng, split, info):
    """Pad chords over the split's progression, bass, arpeggio, synthesised drums and sweeps."""
    names = sorted(PROGRESSIONS[split])
    prog_name = names[int(rng.integers(len(names)))]
    prog = PROGRESSIONS[split][prog_name]
    tempo = float(rng.uniform(80, 140))
    key = int(rng.integers(45, 57))  # tonic between A2 and G#3
    beat = 60 / tempo
    nyquist = sr / 2
    info.update(progression=prog_name, tempo_bpm=round(tempo, 1), key_midi=key)

    pad_l, pad_r, bass, arp, kick_t, snare_t, hat_t, sweep = (np.zeros(n) for _ in range(8))

    def add(buf, start, sig):
        i = int(round(start * sr))
        if i < n:
            k = min(len(sig), n - i)
            buf[i:i + k] += sig[:k]

    def tone(freq, dur, harmonics, decay=None, attack=0.01, release=0.05, detune=0.0):
        m = max(1, int(dur * sr))
        tt = np.arange(m) / sr
        sig = np.zeros(m)
        for h, amp in enumerate(harmonics, start=1):
            if freq * h * (1 + detune) < nyquist:
                sig += amp * np.sin(2 * np.pi * freq * h * (1 + detune) * tt)
        env = np.minimum(1, tt / attack) * np.minimum(1, (dur - tt) / release).clip(0)
        if decay is not None:
            env *= np.exp(-tt / decay)
        return sig * env

    # Drum voices are synthesised once and re-triggered, like a drum machine's samples.
    kt = np.arange(int(0.35 * sr)) / sr
    kick = np.sin(2 * np.pi * (45 * kt + (120 - 45) * 0.03 * (1 - np.exp(-kt / 0.03)))) * np.exp(-kt / 0.12)
    st = np.arange(int(0.2 * sr)) / sr
    snare = (0.6 * np.diff(rng.standard_normal(len(st) + 1)) * np.exp(-st / 0.05)
             + 0.5 * np.sin(2 * np.pi * 190 * st) * np.exp(-st / 0.04))
    ht = np.arange(int(0.05 * sr)) / sr
    hat = np.diff(rng.standard_normal(len(ht) + 2), 2) * np.exp(-ht / 0.012) * 0.3
    hat_pattern = [(0, 1, 2, 3), (0, 0.5, 1, 1.5, 2, 2.5, 3, 3.5), (0.5, 1.5, 2.5, 3.5)][int(rng.integers(3))]
    bass_pattern = [(0, 2), (0, 1.5, 2), (0, 1, 2, 3), (0, 0.75, 2, 2.75)][int(rng.integers(4))]
    arp_order = rng.permutation(3)
    sweep_every = int(rng.choice([4, 8]))

    bar = 4 * beat
    n_bars = int(np.ceil(n / sr / bar))
    for b in range(n_bars):
        t0 = b * bar
        root_off, quality = prog[b % len(prog)]
        third = 4 if quality == "maj" else 3
        root = key + 12 + root_off  # pad voiced around middle C
        for iv in (0, third, 7):
            f = _midi_hz(root + iv)
            add(pad_l, t0, tone(f, bar, (1, 0.5, 0.3, 0.15), attack=0.08, release=0.3, detune=-0.002))
            add(pad_r, t0, tone(f, bar, (1, 0.5, 0.3, 0.15), attack=0.08, release=0.3, detune=0.002))
        for pos in bass_pattern:
            add(bass, t0 + pos * beat, tone(_midi_hz(key - 12 + root_off), 0.9 * beat, (1, 0.4, 0.1),
                                            decay=0.6 * beat))
        chord = (0, third, 7)
        for k in range(8):  # eighth-note arpeggio an octave above the pad
            note = root + 12 + chord[arp_order[k % 3]]
            add(arp, t0 + k * beat / 2, tone(_midi_hz(note), 0.45 * beat, (1, 0.2), decay=0.25 * beat))
        for pos in (0, 2):
            add(kick_t, t0 + pos * beat, kick)
        for pos in (1, 3):
            add(snare_t, t0 + pos * beat, snare)
        for pos in hat_pattern:
            add(hat_t, t0 + pos * beat, hat * rng.uniform(0.7, 1.0))
        if b % sweep_every == sweep_every - 1:  # a rising sweep leading into the next phrase
            m = int(bar * sr)
            tt = np.arange(m) / sr
            f = 200 * (min(4000, 0.4 * sr) / 200) ** (tt / bar)
            env = (tt / bar) ** 2 * np.minimum(1, (bar - tt) / (0.1 * bar))  # swell, then a quick fade
            add(sweep, t0, np.sin(2 * np.pi * np.cumsum(f) / sr) * env)

    stems = [(0.12 * pad_l, -0.5), (0.12 * pad_r, 0.5), (0.35 * bass, 0.0), (0.12 * arp, -0.25),
             (0.6 * kick_t, 0.0), (0.35 * snare_t, 0.1), (0.25 * hat_t, 0.35), (0.08 * sweep, 0.2)]
    return _mix(stems, channels)


def _resample(x: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    """Band-limited resampling through the FFT (exact for the utterance, which starts and ends quiet)."""
    if sr_in == sr_out:
        return x.astype(np.float64)
    m = int(round(len(x) * sr_out / sr_in))
    spec = np.fft.rfft(x)
    out = np.zeros(m // 2 + 1, complex)
    k = min(len(spec), len(out))
    out[:k] = spec[:k]
    return np.fft.irfft(out, m) * (m / len(x))


def espeak_path() -> str:
    """The espeak-ng executable; SimulationError saying how to install it when absent."""
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise SimulationError("speech needs the espeak-ng program, which is not on PATH: "
                              "install it (Debian/Ubuntu: apt-get install espeak-ng)")
    return exe


def _espeak(exe: str, text: str, voice: str, wpm: int, pitch: int, path: Path) -> np.ndarray:
    """Speak ``text`` into a wav at ``path`` and return it as float samples at 22.05 kHz."""
    cmd = [exe, "-v", voice, "-s", str(wpm), "-p", str(pitch), "-w", str(path), text]
    try:
        subprocess.run(cmd, check=True, capture_output=True, timeout=60)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as e:
        err = getattr(e, "stderr", b"") or b""
        raise SimulationError(f"espeak-ng failed for voice {voice}: {err.decode(errors='replace').strip()}") from e
    with wave.open(str(path), "rb") as wf:
        if wf.getsampwidth() != 2 or wf.getnchannels() != 1:
            raise SimulationError("espeak-ng wrote an unexpected wav format")
        rate = wf.getframerate()
        data = np.frombuffer(wf.readframes(wf.getnframes()), "<i2").astype(np.float64) / 32768
    if data.size == 0:
        raise SimulationError(f"espeak-ng produced no audio for voice {voice}")
    return _resample(data, rate, _ESPEAK_RATE) if rate != _ESPEAK_RATE else data


def _speech(n, sr, channels, rng, split, info):
    """One or two espeak-ng speakers taking turns, sentences separated by natural pauses."""
    exe = espeak_path()
    speakers = []
    for _ in range(int(rng.integers(1, 3))):
        lang = VOICES[split][int(rng.integers(len(VOICES[split])))]
        variant = VOICE_VARIANTS[split][int(rng.integers(len(VOICE_VARIANTS[split])))]
        speakers.append({"voice": f"{lang}+{variant}", "lang": lang.split("-")[0],
                         "wpm": int(rng.integers(140, 190)), "pitch": int(rng.integers(30, 71)),
                         "pan": float(rng.uniform(-0.3, 0.3)), "track": np.zeros(n)})
    used = []
    pos = int(rng.uniform(0.1, 0.4) * sr)
    k = 0
    with tempfile.TemporaryDirectory(prefix="rayqa-speech-") as tmp:
        while pos < n:
            spk = speakers[k % len(speakers)]
            pool = SENTENCES[split][spk["lang"]]
            picks = rng.choice(len(pool), min(len(pool), int(rng.integers(1, 3))), replace=False)
            text = " ".join(pool[i] for i in picks)
            utterance = _resample(_espeak(exe, text, spk["voice"], spk["wpm"], spk["pitch"], Path(tmp) / "u.wav"),
                                  _ESPEAK_RATE, sr)
            m = min(len(utterance), n - pos)
            spk["track"][pos:pos + m] += rng.uniform(0.7, 1.0) * utterance[:m]
            used.extend(pool[i] for i in picks)
            # Pauses stay under a second: longer ones read as a silence defect.
            pos += len(utterance) + int(rng.uniform(0.2, 0.8) * sr)
            k += 1
    info.update(voices=[s["voice"] for s in speakers], sentences=used)
    x = _mix([(s["track"], s["pan"]) for s in speakers], channels)
    # A faint room tone (RMS 55 dB under the voice's peak): real recordings never pause into
    # digital zero.
    floor = _decorrelated(rng, n, sr, channels, _band(40, 6000, -0.5), 0.5)
    return x + floor * np.max(np.abs(x)) * 10 ** (-55 / 20)


_AUDIO = {"speech": _speech, "music": _music, "noise_bed": _noise_bed, "tone_mix": _tone_mix}


# --------------------------------------------------------------------------------------------
# A studio's own pristine catalogue


def iter_pristine_dir(path: str | Path) -> Iterator[Path]:
    """Media files (by extension, see MEDIA_SUFFIXES) anywhere under ``path``, sorted by relative path.

    Hidden files and folders are skipped (e.g. macOS ``._clip.mov`` resource forks are not media).
    Checks eagerly: SimulationError when ``path`` is missing, not a folder, or holds no media.
    """
    root = Path(path)
    if not root.exists():
        raise SimulationError(f"pristine folder {root} does not exist")
    if not root.is_dir():
        raise SimulationError(f"pristine path {root} is not a folder")
    found = sorted(
        (p for p in root.rglob("*")
         if p.suffix.lower() in MEDIA_SUFFIXES and p.is_file()
         and not any(part.startswith(".") for part in p.relative_to(root).parts)),
        key=lambda p: p.relative_to(root).as_posix(),
    )
    if not found:
        raise SimulationError(f"pristine folder {root} holds no media files ({', '.join(sorted(MEDIA_SUFFIXES))})")
    return iter(found)
