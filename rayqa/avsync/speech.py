"""Speech: where someone talks (silero-vad, whose wheel ships its model), and the speech envelope
the built-in mouth-motion scorer correlates with."""

from __future__ import annotations

import threading

import numpy as np

_MODEL: list = []
_LOCK = threading.Lock()


def load_vad():
    with _LOCK:
        if not _MODEL:
            from silero_vad import load_silero_vad

            _MODEL.append(load_silero_vad())
        return _MODEL[0]


def speech_spans(audio_16k: np.ndarray, min_speech_s: float = 0.25) -> list[tuple[float, float]]:
    """Speech spans (seconds from the array's start) in 16 kHz mono audio."""
    import torch
    from silero_vad import get_speech_timestamps

    x = np.asarray(audio_16k, np.float32).reshape(-1)
    if x.size < 16000 * 0.1:
        return []
    with torch.inference_mode():
        ts = get_speech_timestamps(torch.from_numpy(x), load_vad(), sampling_rate=16000,
                                   min_speech_duration_ms=int(min_speech_s * 1000))
    return [(t["start"] / 16000.0, t["end"] / 16000.0) for t in ts]


def speech_envelope(audio: np.ndarray, sample_rate: int, hop_s: float = 0.01, win_s: float = 0.04) -> np.ndarray:
    """Amplitude (root of the energy) in the voice band (300-3000 Hz), one value per ``hop_s`` for the
    window starting there. Amplitude, not log energy: the mouth opens with loudness, and on a log
    scale the flicker of near-silence would weigh as much as a syllable."""
    x = np.asarray(audio, np.float32).reshape(-1)
    hop, win = int(round(hop_s * sample_rate)), int(round(win_s * sample_rate))
    if x.size < win:
        return np.zeros(0)
    n = 1 + (x.size - win) // hop
    idx = np.arange(win)[None, :] + hop * np.arange(n)[:, None]
    spec = np.abs(np.fft.rfft(x[idx] * np.hanning(win)[None, :], axis=1)) ** 2
    f = np.fft.rfftfreq(win, 1.0 / sample_rate)
    band = spec[:, (f >= 300) & (f <= 3000)].sum(axis=1)
    return np.sqrt(band)
