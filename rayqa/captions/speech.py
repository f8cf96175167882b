"""Speech spans for the caption checks: silero-vad (its wheel ships the model) on 16 kHz mono."""

from __future__ import annotations

import numpy as np


def vad_spans(audio_16k: np.ndarray, threshold: float = 0.5, min_speech_s: float = 0.25) -> list[tuple[float, float]]:
    """Speech spans (seconds from the array's start) in 16 kHz mono audio. Runs on one torch thread:
    the model steps through 32 ms chunks one after another, so more threads only contend (on this
    machine one thread was 7x faster than two)."""
    import torch
    from silero_vad import get_speech_timestamps

    from rayqa.avsync.speech import load_vad

    x = np.asarray(audio_16k, np.float32).reshape(-1)
    if x.size < 1600:  # under 0.1 s
        return []
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with torch.inference_mode():
            ts = get_speech_timestamps(torch.from_numpy(np.ascontiguousarray(x)), load_vad(), sampling_rate=16000,
                                       threshold=threshold, min_speech_duration_ms=int(min_speech_s * 1000))
    finally:
        torch.set_num_threads(before)
    return [(t["start"] / 16000.0, t["end"] / 16000.0) for t in ts]
