"""Cost of the audio taxonomy detectors per content-second, on 60 s of 48 kHz stereo
programme-like audio cut into the scan's 8 s windows (the detectors' own work, not decoding).

    PYTHONPATH=. flock /tmp/rayqa-cpu.lock python bench/audio_taxonomy.py
"""

from __future__ import annotations

import time

import numpy as np

from rayqa.detectors import build
from rayqa.synth import audio_signal
from rayqa.types import AudioSamples, ItemInfo, Window

SR = 48000
NAMES = ["audio_clipping", "loudness_out_of_range", "audio_channel_fault", "dc_offset", "test_tone"]


def music_like(seconds: float, seed: int = 0) -> np.ndarray:
    """Notes with harmonics and decaying envelopes over noise, stereo, about -20 dBFS RMS."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    t = np.arange(n) / SR
    x = np.zeros((2, n))
    for start in np.arange(0, seconds, 0.25):
        f0 = rng.choice([110, 147, 196, 262, 330, 392, 523])
        a = int(start * SR)
        b = min(n, a + SR)
        tt = t[a:b] - start
        note = sum(0.6 ** h * np.sin(2 * np.pi * f0 * (h + 1) * tt) for h in range(5)) * np.exp(-tt * 4)
        pan = rng.uniform(0.2, 0.8)
        x[0, a:b] += (1 - pan) * note
        x[1, a:b] += pan * note
    x += 0.05 * rng.standard_normal(x.shape)
    return (x * 0.1 / np.sqrt(np.mean(x ** 2))).astype(np.float32)


def windows(x: np.ndarray, win_s: float = 8.0) -> list[Window]:
    step = int(win_s * SR)
    out = []
    for a in range(0, x.shape[1], step):
        w = Window("bench", a / SR, min(x.shape[1], a + step) / SR)
        w.audio["audio_48000hz_multi"] = AudioSamples(a / SR, SR, np.ascontiguousarray(x[:, a : a + step]))
        out.append(w)
    return out


def cost(det, ws, info, repeats: int = 3) -> float:
    best = float("inf")
    for _ in range(repeats):
        started = time.process_time()
        hits = [h for w in ws for h in det.detect(w, info)]
        det.merge(hits)
        det.summarise(hits)
        best = min(best, time.process_time() - started)
    return best


def main() -> None:
    seconds = 60.0
    info = ItemInfo(duration_s=seconds, has_video=False, has_audio=True, audio_sample_rate=SR, audio_channels=2)
    signals = {"music-like": music_like(seconds), "synth programme": audio_signal(int(seconds * SR), SR, 0)}
    print(f"CPU seconds per content-second (60 s, 48 kHz stereo, 8 s windows; best of 3):")
    print(f"{'detector':24s}" + "".join(f"{k:>18s}" for k in signals))
    total = {k: 0.0 for k in signals}
    for det in build(NAMES):
        row = f"{det.name:24s}"
        for k, x in signals.items():
            c = cost(det, windows(x), info) / seconds
            total[k] += c
            row += f"{c * 1000:15.2f} ms"
        print(row)
    print(f"{'all five':24s}" + "".join(f"{total[k] * 1000:15.2f} ms" for k in signals))


if __name__ == "__main__":
    main()
