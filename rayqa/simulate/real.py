"""Real pristine programme made from media that Debian packages install (photographs, footage,
recorded music, recorded voices), for `rayqa simulate --sources real` and bench/real_content.py.

Nothing is downloaded: ``make real-media`` installs :data:`PACKAGES` with apt-get, and this module
finds their files under /usr/share. Licences and the photo selection are in SOURCES.md. Every
source kind is split into ``train`` and ``bench`` files that share no file (:func:`split_files`).

An item is a sequence of shots joined by cuts (photo camera moves of every speed, still title
cards, footage clips), optionally faded in from / out to black at its head and tail, under a
programme sound track (music, dialogue over music, dialogue over ambience) mixed to about
-23 LUFS. Frames are produced lazily (an iterable for :func:`rayqa.synth.encode`): a 2-minute item
never sits in memory whole.
"""

from __future__ import annotations

import gzip
import hashlib
import shutil
import tempfile
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Iterator

import numpy as np

from rayqa.simulate.labels import SimulationError

# Debian package → what it gives. `make real-media` installs exactly these.
PACKAGES = {
    "plasma-workspace-wallpapers": "photographs",
    "opencv-doc": "photographs, footage",
    "asc-music": "music",
    "frozen-bubble-data": "music",
    "lincity-ng-data": "music, ambience",
    "hedgewars-data": "music, voices",
}
# Train-only packages: more recorded music (and a recorded rain bed) for the learned detectors to
# learn from. Their files are always ``train``'s, never a bench's: the bench files stay every third
# file of PACKAGES' (ranked as before), so adding these changes no benchmark's media.
TRAIN_ONLY_PACKAGES = {
    "warzone2100-music": "music",
    "supertux-data": "music, ambience",
    "extremetuxracer-data": "music",
    "neverball-data": "music",
}
# More photographs a trainer may add to its train split (`rayqa train block_corruption
# --more-photos`): never a bench's, and not in split_files, so no dataset made without the option
# changes (release 2 of block_corruption was trained without them).
MORE_PHOTO_PACKAGES = {"lomiri-wallpapers-16.04": "photographs"}
_BACKGROUNDS = Path("/usr/share/backgrounds")
# Its photographs (umang_by_Abhishek_Mudgal, a render, is left out), chosen by looking at each.
LOMIRI_PHOTOS = ("Bridge_by_Sander_Klootwijk", "Dragonfly_by_Bolly", "Picture_0B_by_freespace",
                 "Picture_1A_by_freespace", "Wine_by_Jakkub_Mede", "aitzgorri_by_Aitzol_Berasategi",
                 "analogpattern_by_Peter_Nerlich", "free_by_Peter_Nerlich", "friends_by_Aitzol_Berasategi",
                 "greentock_by_Peter_Nerlich", "life_by_Aitzol_Berasategi", "picosdeeuropa_by_Aitzol_Berasategi",
                 "seeding_by_Clements_Engelhardt", "sunset_by_Aitzol_Berasategi")
# The one package the test suite needs (tests/test_real_content.py's photo).
TEST_PACKAGES = ("plasma-workspace-wallpapers",)

_PLASMA = Path("/usr/share/wallpapers")
_OPENCV = Path("/usr/share/doc/opencv-doc/examples/data")
_OPENCV_HTML = Path("/usr/share/doc/opencv-doc/opencv4/html")
# Photographs only, chosen by looking at each picture: the other plasma wallpapers, all of
# ukui-wallpapers, sway-backgrounds and gnome-backgrounds are abstract art, renders or logos.
PLASMA_PHOTOS = ("BytheWater", "ColdRipple", "ColorfulCups", "DarkestHour", "EveningGlow", "FallenLeaf", "Grey",
                 "Kite", "OneStandsOut", "Path", "summer_1am")
OPENCV_PHOTOS = ("baboon.jpg", "fruits.jpg", "building.jpg", "home.jpg", "aero1.jpg", "aero3.jpg", "leuvenA.jpg",
                 "leuvenB.jpg", "graf1.png", "messi5.jpg", "orange.jpg", "apple.jpg", "butterfly.jpg",
                 "squirrel_cls.jpg", "board.jpg", "aloeL.jpg", "basketball1.png", "rubberwhale1.png",
                 "chicky_512.png", "ela_original.jpg", "stuff.jpg", "box_in_scene.png")
# Megamind_bugy.avi is left out: it is damaged on purpose.
OPENCV_FOOTAGE = ("vtest.avi", "tree.avi", "Megamind.avi")
OPENCV_FOOTAGE_GZ = ("box.mp4.gz", "cup.mp4.gz")
_MUSIC_GLOBS = (("/usr/share/games/asc/music", "*.mp3"), ("/usr/share/games/frozen-bubble/snd", "*zik*.ogg"),
                ("/usr/share/games/lincity-ng/music/default", "*.ogg"), ("/usr/share/games/hedgewars/Data/Music", "*.ogg"))
_VOICE_ROOT = Path("/usr/share/games/hedgewars/Data/Sounds/voices")
# Train-only package → where its music is (root, pattern).
_MUSIC_TRAIN_ONLY_GLOBS = {"warzone2100-music": ("/usr/share/games/warzone2100/music", "**/*.opus"),
                           "supertux-data": ("/usr/share/games/supertux2/music", "*/*.ogg"),
                           "extremetuxracer-data": ("/usr/share/games/etr/music", "*.ogg"),
                           "neverball-data": ("/usr/share/games/neverball/bgm", "*.ogg")}
_AMBIENCE_TRAIN_ONLY = (Path("/usr/share/games/supertux2/sounds/rain.wav"),)
# Recorded city sounds (water, traffic, windmills) that run long enough for a bed under dialogue.
_AMBIENCE = ("Water", "TraficHigh", "TraficLow", "WindMill")
_AMBIENCE_ROOT = Path("/usr/share/games/lincity-ng/sounds")

KINDS = ("photo", "footage", "music", "voice", "ambience")
SPLITS = ("train", "bench")
SPEEDS = ("static", "slow", "normal", "fast")


# -- finding and splitting files ---------------------------------------------------------------------
def _plasma_photo(name: str) -> Path | None:
    """The largest landscape picture of a plasma wallpaper (its other sizes are the same photo)."""
    best = None
    for p in (_PLASMA / name / "contents" / "images").glob("*"):
        try:
            w, h = (int(v) for v in p.stem.split("x"))
        except ValueError:
            continue
        if w > h and p.stat().st_size > 1000 and (best is None or w > best[0]):
            best = (w, p)
    return best[1] if best else None


@lru_cache(maxsize=None)
def find(kind: str) -> tuple[Path, ...]:
    """Every installed file of ``kind`` (empty where its package is missing), sorted."""
    if kind == "photo":
        found = [_plasma_photo(n) for n in PLASMA_PHOTOS] + [_OPENCV / n for n in OPENCV_PHOTOS]
    elif kind == "footage":
        found = [_OPENCV / n for n in OPENCV_FOOTAGE] + [_OPENCV_HTML / n for n in OPENCV_FOOTAGE_GZ]
    elif kind == "music":
        found = [p for root, pattern in _MUSIC_GLOBS for p in Path(root).glob(pattern)]
    elif kind == "voice":
        found = list(_VOICE_ROOT.glob("*/*.ogg"))
    elif kind == "ambience":
        found = [p for p in _AMBIENCE_ROOT.glob("*.wav") if p.stem.rstrip("0123456789") in _AMBIENCE]
    else:
        raise SimulationError(f"unknown real source kind {kind!r}; known: {', '.join(KINDS)}")
    return tuple(sorted(p for p in found if p is not None and p.is_file()))


@lru_cache(maxsize=None)
def find_train_only(kind: str) -> tuple[Path, ...]:
    """Installed files of :data:`TRAIN_ONLY_PACKAGES` of ``kind`` (train split only), sorted."""
    if kind == "music":
        found = [p for root, pattern in _MUSIC_TRAIN_ONLY_GLOBS.values() for p in Path(root).glob(pattern)]
    elif kind == "ambience":
        found = list(_AMBIENCE_TRAIN_ONLY)
    elif kind in KINDS:
        found = []
    else:
        raise SimulationError(f"unknown real source kind {kind!r}; known: {', '.join(KINDS)}")
    return tuple(sorted(p for p in found if p.is_file()))


def more_photos() -> tuple[Path, ...]:
    """The installed photographs of :data:`MORE_PHOTO_PACKAGES` (train only, by choice), sorted."""
    return tuple(sorted(p for p in (_BACKGROUNDS / f"{n}.jpg" for n in LOMIRI_PHOTOS) if p.is_file()))


def missing_train_only() -> list[str]:
    """:data:`TRAIN_ONLY_PACKAGES` not installed (training on real recordings asks for them)."""
    return [pkg for pkg, (root, pattern) in _MUSIC_TRAIN_ONLY_GLOBS.items() if not any(Path(root).glob(pattern))]


def train_sources_digest(kinds=("music", "voice", "ambience")) -> str:
    """SHA-256 over the paths of the train files of ``kinds``: what a training cache was made from."""
    h = hashlib.sha256()
    for kind in kinds:
        for p in split_files(kind, "train"):
            h.update(f"{kind}:{p.as_posix()}\n".encode())
    return h.hexdigest()


def _file_key(path: Path) -> str:
    # The voice pack and file name together ("British/Amazing.ogg" is not "Pirate/Amazing.ogg");
    # a plasma wallpaper by its name (its files are all called by their size).
    if path.parent.parent == _VOICE_ROOT:
        return f"{path.parent.name}/{path.name}"
    if _PLASMA in path.parents:
        return path.relative_to(_PLASMA).parts[0]
    return path.name


def _hash(path: Path) -> int:
    return int.from_bytes(hashlib.sha256(_file_key(Path(path)).encode()).digest()[:8], "big")


@lru_cache(maxsize=None)
def _assignment(kind: str) -> dict[Path, str]:
    """File → split: files ranked by a hash of their name, every third one (from the first) is
    ``bench``'s, the rest ``train``'s; so each split gets its share even of a kind with few files."""
    ranked = sorted(find(kind), key=_hash)
    out = {p: ("bench" if i % 3 == 0 else "train") for i, p in enumerate(ranked)}
    out.update((p, "train") for p in find_train_only(kind) if p not in out)
    return out


def split_of(path: Path, kind: str) -> str:
    return _assignment(kind)[Path(path)]


def split_files(kind: str, split: str) -> tuple[Path, ...]:
    """The files of ``kind`` in ``split`` (``train`` or ``bench``); the two share no file."""
    if split not in SPLITS:
        raise SimulationError(f"real split must be one of {', '.join(SPLITS)}, got {split!r}")
    return tuple(p for p, s in _assignment(kind).items() if s == split)


def missing(kinds=KINDS) -> list[str]:
    """Source kinds with no installed file in one of the splits (their packages are missing)."""
    return [k for k in kinds if not split_files(k, "train") or not split_files(k, "bench")]


def require(kinds=KINDS) -> None:
    gone = missing(kinds)
    if gone:
        raise SimulationError(f"real sources missing: {', '.join(gone)}; install them with `make real-media` "
                              f"(apt-get install {' '.join(PACKAGES)})")


# -- loading -----------------------------------------------------------------------------------------
@lru_cache(maxsize=8)
def load_photo(path: str, max_width: int = 1600) -> np.ndarray:
    """RGB uint8, at most ``max_width`` wide (wallpapers are up to 5120 px: shrunk once, with area averaging)."""
    import cv2

    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise SimulationError(f"cannot read photo {path}")
    if img.shape[1] > max_width:
        h = int(round(img.shape[0] * max_width / img.shape[1]))
        img = cv2.resize(img, (max_width, h), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(img[..., ::-1])


def _open_path(path: Path) -> Path:
    """A readable media path: ``.mp4.gz`` files are unpacked once into the temp folder."""
    if path.suffix != ".gz":
        return path
    out = Path(tempfile.gettempdir()) / "rayqa-real" / path.name[:-3]
    if not out.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_suffix(".part")
        with gzip.open(path) as src, open(tmp, "wb") as dst:
            shutil.copyfileobj(src, dst)
        tmp.replace(out)
    return out


@lru_cache(maxsize=4)
def load_footage(path: str, width: int, height: int) -> tuple[np.ndarray, float]:
    """All frames of a footage file, cropped to the aspect and scaled to ``width`` x ``height``, and its fps."""
    import av
    import cv2

    frames = []
    with av.open(str(_open_path(Path(path)))) as c:
        s = c.streams.video[0]
        fps = float(s.average_rate or 25)
        for f in c.decode(s):
            img = f.to_ndarray(format="rgb24")
            frames.append(cv2.resize(_crop_to_aspect(img, width / height), (width, height), interpolation=cv2.INTER_AREA))
    if not frames:
        raise SimulationError(f"no frames in footage {path}")
    return np.stack(frames), fps


def _crop_to_aspect(img: np.ndarray, aspect: float) -> np.ndarray:
    h, w = img.shape[:2]
    if w / h > aspect:
        cw = int(round(h * aspect))
        return img[:, (w - cw) // 2 : (w - cw) // 2 + cw]
    ch = int(round(w / aspect))
    return img[(h - ch) // 2 : (h - ch) // 2 + ch]


def load_audio(path: Path, sample_rate: int, start_s: float = 0.0, duration_s: float | None = None) -> np.ndarray:
    """Stereo float32 (2, n) of ``path`` from ``start_s`` for ``duration_s`` (or to its end)."""
    import av

    chunks, need = [], None if duration_s is None else int(round(duration_s * sample_rate))
    with av.open(str(path)) as c:
        s = c.streams.audio[0]
        if start_s > 0:
            c.seek(int(start_s * 1_000_000), any_frame=False)
        resampler = av.AudioResampler(format="fltp", layout="stereo", rate=sample_rate)
        got, skip = 0, None
        for frame in c.decode(s):
            t = float(frame.pts * frame.time_base) if frame.pts is not None else start_s
            for r in resampler.resample(frame):
                a = r.to_ndarray()
                if skip is None:  # the seek lands on a packet at or before start_s
                    skip = max(0, int(round((start_s - t) * sample_rate)))
                if skip:
                    cut = min(skip, a.shape[1])
                    a, skip = a[:, cut:], skip - cut
                chunks.append(a)
                got += a.shape[1]
            if need is not None and got >= need:
                break
    if not chunks:
        return np.zeros((2, 0), np.float32)
    out = np.concatenate(chunks, axis=1).astype(np.float32)
    return out if need is None else out[:, :need]


@lru_cache(maxsize=None)
def audio_duration_s(path: str) -> float:
    import av

    with av.open(path) as c:
        s = c.streams.audio[0]
        if s.duration is not None:
            return float(s.duration * s.time_base)
        return float(c.duration or 0) / 1e6


# -- loudness (ITU-R BS.1770 integrated loudness, gated) ---------------------------------------------
def loudness_lufs(audio: np.ndarray, sample_rate: int) -> float:
    """Integrated loudness of (channels, n) float audio in LUFS (K-weighted, 400 ms blocks, gated)."""
    from scipy.signal import lfilter

    # K-weighting as two biquads (a +4 dB shelf above 1.5 kHz, a 38 Hz high-pass; RBJ cookbook forms).
    a_sh, w0 = 10 ** (4.0 / 40), 2 * np.pi * 1500.0 / sample_rate
    alpha, c = np.sin(w0) / (2 * (1 / np.sqrt(2))), np.cos(w0)
    b1 = [a_sh * ((a_sh + 1) + (a_sh - 1) * c + 2 * np.sqrt(a_sh) * alpha), -2 * a_sh * ((a_sh - 1) + (a_sh + 1) * c),
          a_sh * ((a_sh + 1) + (a_sh - 1) * c - 2 * np.sqrt(a_sh) * alpha)]
    a1 = [(a_sh + 1) - (a_sh - 1) * c + 2 * np.sqrt(a_sh) * alpha, 2 * ((a_sh - 1) - (a_sh + 1) * c),
          (a_sh + 1) - (a_sh - 1) * c - 2 * np.sqrt(a_sh) * alpha]
    w0 = 2 * np.pi * 38.0 / sample_rate
    alpha, c = np.sin(w0) / (2 * 0.5), np.cos(w0)
    b2, a2 = [(1 + c) / 2, -(1 + c), (1 + c) / 2], [1 + alpha, -2 * c, 1 - alpha]
    x = lfilter(b2, a2, lfilter(b1, a1, audio, axis=-1), axis=-1)
    block, hop = int(0.4 * sample_rate), int(0.1 * sample_rate)
    if x.shape[-1] < block:
        return -70.0
    power = np.stack([(x[:, i : i + block] ** 2).mean(axis=1).sum() for i in range(0, x.shape[-1] - block + 1, hop)])
    lk = -0.691 + 10 * np.log10(np.maximum(power, 1e-12))
    gated = power[lk > -70]
    if gated.size == 0:
        return -70.0
    rel = -0.691 + 10 * np.log10(gated.mean()) - 10
    gated = power[(lk > -70) & (lk > rel)]
    return float(-0.691 + 10 * np.log10(gated.mean())) if gated.size else -70.0


def _longest_quiet_s(audio: np.ndarray, sample_rate: int, level_db: float = -50.0) -> float:
    """Longest stretch whose 20 ms block peaks stay below ``level_db``: music tracks start and end quietly."""
    block = int(0.02 * sample_rate)
    n = audio.shape[-1] // block
    if n == 0:
        return 0.0
    peaks = np.abs(audio[:, : n * block]).reshape(audio.shape[0], n, block).max(axis=(0, 2))
    quiet = np.concatenate([[0], (peaks < 10 ** (level_db / 20)).astype(np.int8), [0]])
    d = np.diff(quiet)
    runs = np.flatnonzero(d == -1) - np.flatnonzero(d == 1)
    return float(runs.max() * block / sample_rate) if runs.size else 0.0


# -- pictures ----------------------------------------------------------------------------------------
@dataclass
class Shot:
    kind: str  # "photo", "title", "footage"
    duration_s: float
    source: str
    speed: str | None = None  # photo moves: static, slow, normal, fast
    px_per_frame: float = 0.0
    params: dict = field(default_factory=dict)

    def describe(self) -> dict:
        return {"kind": self.kind, "duration_s": round(self.duration_s, 3), "source": self.source, "speed": self.speed,
                "px_per_frame": round(self.px_per_frame, 4), **self.params}


def camera_move(photo: np.ndarray, n: int, width: int, height: int, px_per_frame: float, rng: np.random.Generator,
                zoom: bool = False, shake_px: float = 0.0, grain: float = 0.0) -> Iterator[np.ndarray]:
    """``n`` frames of a virtual camera over ``photo``: a pan (or a zoom whose frame edges move)
    at ``px_per_frame`` output pixels per frame, rendered with bilinear interpolation, so sub-pixel
    moves are smooth, plus optional hand-held shake and sensor grain (a locked-off camera still
    records noise)."""
    import cv2

    ph, pw = photo.shape[:2]
    margin = 4 * shake_px + 8
    angle = rng.uniform(0, 2 * np.pi)
    direction = np.array([np.cos(angle), np.sin(angle)])
    # Photo pixels per output pixel: room for the whole pan where the photo allows, but never
    # enlarged past 1.5x for it (a fast pan turns back instead, below).
    need = 0.0 if zoom else abs(px_per_frame) * n
    cover = min(pw / (width + need * abs(direction[0]) + margin), ph / (height + need * abs(direction[1]) + margin))
    cover = max(cover, min(1 / 1.5, pw / (width + margin), ph / (height + margin)))
    scale = 1.0 / cover  # output pixels per photo pixel (>1 enlarges)
    # Room to travel (photo pixels) along the direction; a pan that would leave the photo turns back
    # (only fast pans do: a slow one fits, so it never passes through a still turning point).
    fx, fy = pw - (width + margin) / scale, ph - (height + margin) / scale
    room = min(fx / max(abs(direction[0]), 1e-9), fy / max(abs(direction[1]), 1e-9))
    step = px_per_frame / scale
    cx0, cy0 = pw / 2, ph / 2
    shake = np.zeros((n, 2))
    if shake_px > 0:
        # Hand-held: smoothed random walk, a few pixels.
        raw = rng.standard_normal((n + 8, 2))
        kernel = np.ones(4) / 4
        shake = np.stack([np.convolve(raw[:, k], kernel, "same")[4 : 4 + n] for k in range(2)], axis=1) * shake_px
    half_diag = 0.5 * np.hypot(width, height)
    for i in range(n):
        if zoom:
            # The frame's corners move px_per_frame per frame (in when positive, out when negative).
            k = i if px_per_frame >= 0 else n - i
            z = scale * (1 + abs(px_per_frame) * k / half_diag)
            cx, cy = cx0, cy0
        else:
            z = scale
            travel = step * (i - n / 2)
            if abs(step) * n > room > 0:  # triangle wave within the room
                period = 2 * room
                u = (step * i) % period
                travel = (u if u <= room else period - u) - room / 2
            cx, cy = cx0 + direction[0] * travel, cy0 + direction[1] * travel
        sx, sy = shake[i] / z
        # Output pixel (x, y) samples photo at ((x - w/2) / z + cx, (y - h/2) / z + cy).
        m = np.array([[1 / z, 0, cx + sx - width / (2 * z)], [0, 1 / z, cy + sy - height / (2 * z)]])
        frame = cv2.warpAffine(photo, m, (width, height), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                               borderMode=cv2.BORDER_REFLECT)
        if grain > 0:
            frame = np.clip(frame + rng.normal(0, grain, frame.shape[:2])[..., None], 0, 255).astype(np.uint8)
        yield frame


def title_card(width: int, height: int, rng: np.random.Generator, background: np.ndarray | None) -> np.ndarray:
    """Text on a plain colour or on a darkened photo."""
    import cv2

    if background is None:
        card = np.empty((height, width, 3), np.uint8)
        card[:] = rng.integers(20, 200, 3)
    else:
        card = cv2.resize(_crop_to_aspect(background, width / height), (width, height), interpolation=cv2.INTER_AREA)
        card = (card * 0.45).astype(np.uint8)
    words = ["EVENING", "NEWS", "PART", "TWO", "THE", "CITY", "AT", "NIGHT", "CHAPTER", "ONE", "REPORT", "SPECIAL",
             "WEATHER", "LATE", "EDITION", "HARBOUR", "NORTH", "STORY", "FOREST", "LIVE"]
    lines = [" ".join(rng.choice(words, int(rng.integers(1, 4)))) for _ in range(int(rng.integers(1, 3)))]
    colour = tuple(int(v) for v in (255, 255, 255) if True) if card.mean() < 128 else (10, 10, 10)
    scale = width / 640 * float(rng.uniform(1.0, 1.6))
    for k, line in enumerate(lines):
        (tw, th), _ = cv2.getTextSize(line, cv2.FONT_HERSHEY_DUPLEX, scale, 2)
        y = int(height * (0.45 + 0.18 * k))
        cv2.putText(card, line, ((width - tw) // 2, y), cv2.FONT_HERSHEY_DUPLEX, scale, colour, 2, cv2.LINE_AA)
    return card


def footage_frames(path: Path, n: int, fps: float, width: int, height: int, rng: np.random.Generator) -> Iterator[np.ndarray]:
    """``n`` frames of real footage re-timed to ``fps`` (nearest source frame) from a random start,
    looped (the jump back is a cut; a back-and-forth loop would pass through still turning points)."""
    frames, src_fps = load_footage(str(path), width, height)
    m = len(frames)
    speed = float(rng.choice([1.0, 1.0, 0.8, 1.25]))
    start = float(rng.uniform(0, m))
    for i in range(n):
        yield frames[int(start + i * speed * src_fps / fps) % m]


def plan_shots(duration_s: float, rng: np.random.Generator, split: str, kinds: tuple[str, ...] | None = None,
               speeds: tuple[str, ...] = SPEEDS, photos: tuple[Path, ...] | None = None) -> list[Shot]:
    """Shots that fill ``duration_s``: photo moves (every speed), title cards and footage, joined by cuts.
    ``photos``: the photographs to draw from (default: the split's)."""
    photos = split_files("photo", split) if photos is None else photos
    footage = split_files("footage", split)
    if not photos:
        raise SimulationError("no real photos installed; run `make real-media`")
    kinds = kinds or (("photo",) * 6 + ("title",) + (("footage",) * 2 if footage else ()))
    shots, t = [], 0.0
    while t < duration_s - 1e-6:
        kind = kinds[int(rng.integers(len(kinds)))]
        last_still = bool(shots) and shots[-1].px_per_frame == 0.0 and shots[-1].kind != "footage"
        length = min(float(rng.uniform(3.0, 12.0)), duration_s - t)
        if duration_s - t - length < 2.0:  # no stub shot at the end
            length = duration_s - t
        if kind == "photo":
            speed = speeds[int(rng.integers(len(speeds)))]
            if speed == "static" and last_still:  # two still shots in a row would make one long still
                speed = "normal"
            if speed == "static":
                # A locked-off shot of a still photograph is a repeated picture: kept shorter than a
                # freeze's minimum (a cut-in), as the still title cards are.
                length = float(rng.uniform(0.4, 0.9))
            px = {"static": 0.0, "slow": float(rng.uniform(0.05, 0.5)), "normal": float(rng.uniform(1.0, 4.0)),
                  "fast": float(rng.uniform(8.0, 20.0))}[speed]
            zoom = speed in ("slow", "normal") and rng.random() < 0.35
            shots.append(Shot("photo", length, photos[int(rng.integers(len(photos)))].as_posix(), speed,
                              px * (1 if rng.random() < 0.7 or not zoom else -1),
                              {"zoom": bool(zoom), "shake_px": 3.0 if speed == "fast" else 0.0,
                               "grain": 2.0 if speed == "static" else 0.0}))
        elif kind == "title":
            # A still card is shorter than a freeze's minimum; a longer card creeps in slowly, as broadcast cards do.
            still = rng.random() < 0.5 and not last_still
            length = float(rng.uniform(0.4, 0.9)) if still else min(length, float(rng.uniform(2.0, 5.0)))
            if duration_s - t - length < 2.0:
                length = duration_s - t if not still else length
            bg = photos[int(rng.integers(len(photos)))].as_posix() if rng.random() < 0.5 else None
            shots.append(Shot("title", length, bg or "plain", "static" if still else "slow",
                              0.0 if still else float(rng.uniform(0.1, 0.4)), {"seed": int(rng.integers(1 << 30))}))
        else:
            shots.append(Shot("footage", length, footage[int(rng.integers(len(footage)))].as_posix()))
        shots[-1].duration_s = min(shots[-1].duration_s, duration_s - t)
        t += shots[-1].duration_s
    return shots


def render(shots: list[Shot], fps: int, width: int, height: int, rng: np.random.Generator,
           fade_in_s: float = 0.0, fade_out_s: float = 0.0) -> Iterator[np.ndarray]:
    """The frames of ``shots`` end to end (cuts), faded in from and out to black at the item's ends."""
    total = int(round(sum(s.duration_s for s in shots) * fps))
    n_in, n_out = int(round(fade_in_s * fps)), int(round(fade_out_s * fps))
    i = 0
    done = 0.0
    for shot in shots:
        done += shot.duration_s
        n = int(round(done * fps)) - i
        if shot.kind == "photo":
            frames = camera_move(load_photo(shot.source), n, width, height, shot.px_per_frame, rng,
                                 zoom=shot.params["zoom"], shake_px=shot.params["shake_px"], grain=shot.params["grain"])
        elif shot.kind == "title":
            card_rng = np.random.default_rng(shot.params["seed"])
            bg = None if shot.source == "plain" else load_photo(shot.source)
            card = title_card(int(width * 1.1) // 2 * 2, int(height * 1.1) // 2 * 2, card_rng, bg)
            frames = camera_move(card, n, width, height, shot.px_per_frame, rng, zoom=True)
        else:
            frames = footage_frames(Path(shot.source), n, fps, width, height, rng)
        for frame in frames:
            if i < n_in or i >= total - n_out:
                g = min(1.0, (i + 0.5) / n_in) if i < n_in else 1.0
                if i >= total - n_out:
                    g = min(g, (total - i - 0.5) / n_out)
                frame = (frame * g).astype(np.uint8)
            yield frame
            i += 1


# -- sound -------------------------------------------------------------------------------------------
AUDIO_KINDS = ("music", "dialogue_music", "dialogue_ambience")


def _excerpt(files: tuple[Path, ...], seconds: float, sample_rate: int, rng: np.random.Generator) -> tuple[np.ndarray, list]:
    """``seconds`` of audio from files of one kind, joined with short crossfades, skipping quiet
    intros and endings (a track's own silence is not programme audio)."""
    parts, used, have = [], [], 0
    need = int(round(seconds * sample_rate))
    for _ in range(400):
        if have >= need:
            break
        path = files[int(rng.integers(len(files)))]
        dur = audio_duration_s(str(path))
        if dur < 20.0:  # a short recording (city sounds) is used whole, joined to the next
            start, x = 0.0, load_audio(path, sample_rate)
        else:
            take = min(need - have + sample_rate, (dur - 10.0) * sample_rate)
            start = float(rng.uniform(5.0, max(5.0, dur - 5.0 - take / sample_rate)))
            x = load_audio(path, sample_rate, start, take / sample_rate)
        if x.shape[1] < 0.6 * sample_rate or _longest_quiet_s(x, sample_rate) > 0.3:
            continue
        parts.append(x)
        used.append({"file": path.as_posix(), "start_s": round(start, 2), "seconds": round(x.shape[1] / sample_rate, 2)})
        have += x.shape[1] - int(0.5 * sample_rate)  # less the crossfade into the next part
    if have < need:
        raise SimulationError(f"could not draw {seconds:.0f} s of programme audio from {len(files)} files")
    fade = int(min(0.5, 0.2 * min(x.shape[1] for x in parts) / sample_rate) * sample_rate)
    out = parts[0]
    for x in parts[1:]:
        ramp = np.linspace(0, 1, fade, dtype=np.float32)
        out = np.concatenate([out[:, :-fade], out[:, -fade:] * (1 - ramp) + x[:, :fade] * ramp, x[:, fade:]], axis=1)
    if out.shape[1] < need:
        raise SimulationError(f"could not draw {seconds:.0f} s of programme audio from {len(files)} files")
    return out[:, :need], used


def _normalise(x: np.ndarray, sample_rate: int, target_lufs: float) -> np.ndarray:
    gain = 10 ** ((target_lufs - loudness_lufs(x, sample_rate)) / 20)
    return x * np.float32(gain)


def _dialogue(duration_s: float, sample_rate: int, rng: np.random.Generator, split: str) -> tuple[np.ndarray, list]:
    """Recorded voice lines, one after another with pauses of 0.2-1.5 s, each panned a little."""
    voices = split_files("voice", split)
    n = int(round(duration_s * sample_rate))
    out = np.zeros((2, n), np.float32)
    t, used = int(rng.uniform(0.2, 1.0) * sample_rate), []
    while t < n - sample_rate // 2:
        path = voices[int(rng.integers(len(voices)))]
        line = load_audio(path, sample_rate)
        if line.shape[1] == 0:
            continue
        line = _normalise(line, sample_rate, -23.0) if line.shape[1] > 0.45 * sample_rate else line * np.float32(0.5)
        pan = float(rng.uniform(-0.3, 0.3))
        line = line.mean(axis=0, keepdims=True) * np.array([[np.sqrt(0.5 - pan / 2)], [np.sqrt(0.5 + pan / 2)]], np.float32)
        m = min(line.shape[1], n - t)
        out[:, t : t + m] += line[:, :m]
        used.append(_file_key(path))
        t += m + int(rng.uniform(0.2, 1.5) * sample_rate)
    return np.clip(out, -1, 1), used


def programme_audio(kind: str, duration_s: float, sample_rate: int, rng: np.random.Generator, split: str,
                    target_lufs: float = -23.0) -> tuple[np.ndarray, dict]:
    """Stereo programme sound of ``kind`` mixed to about ``target_lufs``."""
    if kind == "music":
        music, used = _excerpt(split_files("music", split), duration_s, sample_rate, rng)
        mix, info = _normalise(music, sample_rate, target_lufs), {"music": used}
    elif kind in ("dialogue_music", "dialogue_ambience"):
        bed_kind = "music" if kind == "dialogue_music" else "ambience"
        bed, used = _excerpt(split_files(bed_kind, split), duration_s, sample_rate, rng)
        speech, lines = _dialogue(duration_s, sample_rate, rng, split)
        bed = _normalise(bed, sample_rate, target_lufs - float(rng.uniform(10.0, 16.0)))  # a bed under the voices
        mix = _normalise(speech + bed, sample_rate, target_lufs)
        info = {bed_kind: used, "voice_lines": len(lines), "voices": lines[:20]}
    else:
        raise SimulationError(f"unknown real audio kind {kind!r}; known: {', '.join(AUDIO_KINDS)}")
    quiet = _longest_quiet_s(mix, sample_rate)
    if quiet > 0.5:  # programme sound has no dropout of its own: the caller draws again
        raise SimulationError(f"programme audio has a {quiet:.1f} s quiet stretch")
    peak = float(np.abs(mix).max()) if mix.size else 0.0
    if peak > 0.98:  # a true-peak-ish ceiling, as a broadcast limiter would
        mix = mix * np.float32(0.98 / peak)
    return mix.astype(np.float32), {"kind": kind, "lufs_target": target_lufs, **info}


# -- one item ----------------------------------------------------------------------------------------
def programme(duration_s: float, fps: int, width: int, height: int, sample_rate: int, rng: np.random.Generator,
              split: str, fades: bool = True) -> tuple[Iterator[np.ndarray], np.ndarray, dict]:
    """Lazy frames, audio (2, n) and a description of one clean real item."""
    require(("photo", "music", "voice", "ambience"))
    shots = plan_shots(duration_s, rng, split)
    fade_in = float(rng.uniform(0.3, 1.0)) if fades and rng.random() < 0.5 else 0.0
    fade_out = float(rng.uniform(0.3, 1.0)) if fades and rng.random() < 0.5 else 0.0
    akind = AUDIO_KINDS[int(rng.integers(len(AUDIO_KINDS)))]
    for attempt in range(10):
        try:
            audio, ainfo = programme_audio(akind, duration_s, sample_rate, rng, split)
            break
        except SimulationError:
            if attempt == 9:
                raise
    frames = render(shots, fps, width, height, rng, fade_in, fade_out)
    return frames, audio, {"shots": [s.describe() for s in shots], "fade_in_s": round(fade_in, 3),
                           "fade_out_s": round(fade_out, 3), "audio": ainfo}
