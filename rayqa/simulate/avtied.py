"""Audio-video content for the AV-sync evaluation: scenes whose picture and sound are *causally tied*
(each sound is made by a visible event), and scenes with *no tie* (music over a landscape).

Neither stream is derived from the other: each generator first draws a list of physical events
(a flash with its beep, a ball hitting the floor, a clapperboard closing) in continuous time, then
renders the picture from the event list at the frame instants and the sound from the same list at
the audio sample instants, as a camera and a microphone would record them. An event between two
frame instants is seen only in the next frame, as in a real recording.

Shift the audio with :func:`rayqa.simulate.audio.shift_audio` to make an item with a known offset.

* :func:`tied_scene` -- ``kind`` in :data:`TIED_KINDS`: ``flash_beep`` (a test pattern: a white
  disc flashes for two frames with a 1 kHz-ish beep, at irregular intervals), ``impact`` (a ball
  bouncing on a floor, a thud at every contact), ``clapper`` (a clapperboard's stick swinging shut
  with a clack, then slowly reopening).
* :func:`untied_scene` -- ``kind`` in :data:`UNTIED_KINDS`: a pan-and-zoom over a still photo
  or drifting shapes, with synthesised music or a noise bed that has nothing to do with it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rayqa.simulate.labels import SimulationError

TIED_KINDS = ("flash_beep", "impact", "clapper")
UNTIED_KINDS = ("landscape_music", "shapes_music", "landscape_noise")


def _check(duration_s: float, fps: float, width: int, height: int, sample_rate: int) -> int:
    if not (duration_s > 0 and fps > 0 and width >= 32 and height >= 32 and sample_rate >= 8000):
        raise SimulationError("duration_s > 0, fps > 0, a size of at least 32x32 and sample_rate >= 8000 are required")
    return int(round(duration_s * fps))


def _event_times(rng: np.random.Generator, duration_s: float, gap_s: tuple[float, float], first_s: float = 0.4) -> list[float]:
    """Irregular event instants (continuous time): irregular so that no lag but the true one lines
    every event up, as with real action."""
    times, t = [], first_s + float(rng.uniform(0, 0.3))
    while t < duration_s - 0.3:
        times.append(round(t, 6))
        t += float(rng.uniform(*gap_s))
    return times


def _background(rng: np.random.Generator, h: int, w: int, level: float) -> np.ndarray:
    """A dim, textured backdrop (so frames are not flat) in float RGB."""
    y = np.linspace(0, 1, h)[:, None, None]
    x = np.linspace(0, 1, w)[None, :, None]
    tint = rng.uniform(0.6, 1.0, 3)[None, None, :]
    base = level * (0.7 + 0.3 * y) * (0.8 + 0.2 * x) * tint * 255
    return base + rng.normal(0, 3, (h, w, 3))


def _grain(rng: np.random.Generator, img: np.ndarray, sigma: float = 2.0) -> np.ndarray:
    """Sensor noise, fresh every frame."""
    return np.clip(img + rng.normal(0, sigma, img.shape), 0, 255).astype(np.uint8)


def _room(rng: np.random.Generator, n: int, level_dbfs: float) -> np.ndarray:
    """A quiet room-tone bed under the events."""
    x = rng.standard_normal(n)
    x = np.convolve(x, np.ones(8) / 8, mode="same")
    return x / (np.std(x) + 1e-12) * 10 ** (level_dbfs / 20)


def _place(track: np.ndarray, sound: np.ndarray, at_s: float, sample_rate: int) -> None:
    a = int(round(at_s * sample_rate))
    if a >= track.size:
        return
    b = min(track.size, a + sound.size)
    track[a:b] += sound[: b - a]


def _beep(rng, sr: int) -> np.ndarray:
    n = int(0.08 * sr)
    t = np.arange(n) / sr
    env = np.minimum(1.0, t / 0.001) * np.minimum(1.0, (0.08 - t) / 0.005)
    return 0.5 * env * np.sin(2 * np.pi * float(rng.uniform(800, 1200)) * t)


def _thud(rng, sr: int) -> np.ndarray:
    n = int(0.25 * sr)
    t = np.arange(n) / sr
    body = np.sin(2 * np.pi * float(rng.uniform(70, 140)) * t) * np.exp(-t / 0.06)
    slap = rng.standard_normal(n) * np.exp(-t / 0.008)
    return 0.6 * np.minimum(1.0, t / 0.0005) * (body + 0.5 * slap)


def _clack(rng, sr: int) -> np.ndarray:
    n = int(0.12 * sr)
    t = np.arange(n) / sr
    crack = rng.standard_normal(n) * np.exp(-t / 0.004)
    wood = np.sin(2 * np.pi * float(rng.uniform(900, 1500)) * t) * np.exp(-t / 0.02)
    return 0.7 * (crack + 0.6 * wood)


def tied_scene(kind: str, duration_s: float, fps: float, width: int, height: int, sample_rate: int,
               channels: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Frames ``(n, height, width, 3)`` uint8, audio ``(channels, samples)`` float32 and an info
    dict with the event instants (``event_times_s``), for a scene whose sounds come from what is seen."""
    if kind not in TIED_KINDS:
        raise SimulationError(f"unknown tied kind {kind!r}; expected one of {TIED_KINDS}")
    n = _check(duration_s, fps, width, height, sample_rate)
    n_audio = int(round(duration_s * sample_rate))
    frame_t = np.arange(n) / fps
    frames = np.empty((n, height, width, 3), np.uint8)
    track = _room(rng, n_audio, float(rng.uniform(-55, -45)))
    bg = _background(rng, height, width, float(rng.uniform(0.15, 0.35)))
    yy, xx = np.mgrid[0:height, 0:width]
    info: dict[str, Any] = {"kind": kind, "tied": True}

    if kind == "flash_beep":
        # Test-pattern style: the flash starts on a frame and the beep starts with it.
        events = [round(np.ceil(t * fps) / fps, 6) for t in _event_times(rng, duration_s, (0.9, 1.9))]
        cy, cx, r = height * rng.uniform(0.35, 0.65), width * rng.uniform(0.35, 0.65), min(width, height) * rng.uniform(0.15, 0.3)
        disc = ((yy - cy) ** 2 + (xx - cx) ** 2 <= r * r)[..., None]
        lit = set()
        for t in events:
            k = int(round(t * fps))
            lit.update({k, k + 1})
            _place(track, _beep(rng, sample_rate), t, sample_rate)
        for i in range(n):
            frames[i] = _grain(rng, np.where(disc, 250.0, bg) if i in lit else bg)
    elif kind == "impact":
        # A ball thrown up again at every bounce to a random height: contacts at irregular instants,
        # rarely on a frame instant.
        floor_y, radius = height * 0.85, max(4.0, height * 0.06)
        g = 9.81 * height / 1.5  # px/s^2: the frame is 1.5 m tall
        t = float(rng.uniform(0.3, 0.6))  # the first contact
        h0 = float(rng.uniform(0.3, 0.7)) * (floor_y - radius * 2)
        v0 = np.sqrt(2 * g * h0)
        arcs = [(t - 2 * v0 / g, t, v0)]  # (launch, contact, launch speed); the first is a drop from rest
        events = []
        while t < duration_s:
            events.append(round(t, 6))
            v = np.sqrt(2 * g * float(rng.uniform(0.15, 0.75)) * (floor_y - radius * 2))
            arcs.append((t, t + 2 * v / g, v))
            t += 2 * v / g
        x0, vx = width * rng.uniform(0.2, 0.4), width * rng.uniform(0.03, 0.08)
        for i, ft in enumerate(frame_t):
            a, _, v = next((arc for arc in arcs if arc[0] <= ft < arc[1]), arcs[0])
            dt = max(ft, a + v / g) - a if a == arcs[0][0] else ft - a  # held at the apex before the drop
            height_px = max(0.0, v * dt - 0.5 * g * dt * dt)
            cy = floor_y - radius - height_px
            u = ((x0 + vx * ft) / (0.7 * width)) % 2.0  # to and fro across the frame
            cx = width * (0.15 + 0.7 * (u if u < 1 else 2 - u))
            ball = ((yy - cy) ** 2 + (xx - cx) ** 2 <= radius * radius)[..., None]
            img = bg.copy()
            img[int(floor_y):] = 90
            frames[i] = _grain(rng, np.where(ball, np.array([230.0, 120.0, 40.0]), img))
        for t in events:
            _place(track, _thud(rng, sample_rate), t, sample_rate)
    else:  # clapper
        # The stick swings shut (accelerating, 0.2-0.35 s), claps, rests, then reopens slowly.
        close_times = _event_times(rng, duration_s, (1.4, 2.6), first_s=0.7)
        events = [round(t, 6) for t in close_times]
        pivot = np.array([height * 0.45, width * 0.25])
        length = width * 0.5
        board = (yy > pivot[0] + 6) & (yy < pivot[0] + height * 0.4) & (xx > pivot[1]) & (xx < pivot[1] + length)
        open_angle = np.deg2rad(float(rng.uniform(25, 40)))
        swings = rng.uniform(0.2, 0.35, len(events))

        def angle(ft: float) -> float:
            for j, tc in enumerate(events):
                swing = swings[j]
                if tc - swing <= ft < tc:
                    u = (ft - tc + swing) / swing
                    return open_angle * (1.0 - u * u)  # accelerating shut
                nxt = events[j + 1] if j + 1 < len(events) else duration_s + 10
                nxt_swing_start = nxt - 0.35
                if tc <= ft < nxt_swing_start:
                    hold = 0.3
                    if ft < tc + hold:
                        return 0.0
                    return open_angle * min(1.0, (ft - tc - hold) / 0.6)  # slow reopen, no sound
            return open_angle

        for i, ft in enumerate(frame_t):
            a = angle(ft)
            # the stick: a bar from the pivot at angle a above the board's top edge
            dy, dx = yy - pivot[0], xx - pivot[1]
            along = dx * np.cos(a) - dy * np.sin(a)
            across = dx * np.sin(a) + dy * np.cos(a)
            stick = (along >= 0) & (along <= length) & (across >= -6) & (across <= 0)
            stripes = ((along // 12).astype(int) % 2 == 0)
            img = bg.copy()
            img[board] = 35
            img[stick & stripes] = 240
            img[stick & ~stripes] = 20
            frames[i] = _grain(rng, img)
        for t in events:
            _place(track, _clack(rng, sample_rate), t, sample_rate)

    info["event_times_s"] = events
    audio = np.repeat(track[None, :], channels, axis=0).astype(np.float32)
    audio *= 0.9 / max(1e-9, float(np.abs(audio).max()))
    return frames, audio, info


def untied_scene(kind: str, duration_s: float, fps: float, width: int, height: int, sample_rate: int,
                 channels: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Picture and sound drawn independently (no event in one causes anything in the other)."""
    from rayqa.simulate.pristine import audio_scene, video_scene

    if kind not in UNTIED_KINDS:
        raise SimulationError(f"unknown untied kind {kind!r}; expected one of {UNTIED_KINDS}")
    _check(duration_s, fps, width, height, sample_rate)
    video_kind = {"landscape_music": "photo_pan_zoom", "shapes_music": "shapes", "landscape_noise": "photo_pan_zoom"}[kind]
    audio_kind = "noise_bed" if kind == "landscape_noise" else "music"
    frames, vinfo = video_scene(video_kind, duration_s, fps, width, height, rng, return_info=True)
    audio, ainfo = audio_scene(audio_kind, duration_s, sample_rate, channels, rng, return_info=True)
    return frames, audio, {"kind": kind, "tied": False, "video_source": vinfo, "audio_source": ainfo}
