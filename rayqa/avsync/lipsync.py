"""The built-in face scorer, for when no SyncNet weights are supplied: how much the mouth region
changes from frame to frame, cross-correlated with the voice-band energy of the speech, over
offsets of ±``max_offset_frames``. No learned weights; unmeasured on real talking faces (README)."""

from __future__ import annotations

import numpy as np

from rayqa.avsync.signal import LagScore, lag_curve_score
from rayqa.avsync.speech import speech_envelope


def mouth_motion(crops: np.ndarray) -> np.ndarray:
    """(T,) mean absolute change of the mouth crop into each frame (0 for the first); each crop is
    normalised for brightness first, so lighting drifts do not count."""
    if len(crops) < 2:
        return np.zeros(len(crops))
    c = crops - crops.mean(axis=(1, 2), keepdims=True)
    out = np.zeros(len(crops))
    out[1:] = np.abs(np.diff(c, axis=0)).mean(axis=(1, 2))
    return out


def score_mouth(frame_times_s: np.ndarray, crops: np.ndarray, audio: np.ndarray, audio_start_s: float,
                sample_rate: int, fps: float, max_offset_frames: int, min_valid_fraction: float = 0.6,
                tie_ratio: float = 0.9) -> LagScore | None:
    """Offset (s, positive when the sound is late) of one face track, or None when it cannot be judged.
    The mouth opens and closes with syllables, so its motion follows changes in the speech energy."""
    hop_s = 0.01
    frame_s = 1.0 / fps
    env = speech_envelope(audio, sample_rate, hop_s=hop_s, win_s=frame_s)
    if env.size < 3 or len(crops) < 5:
        return None
    motion = mouth_motion(crops)
    lags_s = np.arange(-max_offset_frames, max_offset_frames + 1) * frame_s

    def at(t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Voice-band log energy of the frame-long audio window centred on ``t``."""
        i = np.round((t - frame_s / 2 - audio_start_s) / hop_s).astype(np.int64)
        ok = (i >= 0) & (i < env.size)
        return np.where(ok, env[np.clip(i, 0, env.size - 1)], np.nan), ok

    # The mouth's change from frame k-1 to k against the sound's change over the same interval.
    now, ok_now = at(frame_times_s[None, :] + lags_s[:, None])
    before, ok_before = at(frame_times_s[None, :] - frame_s + lags_s[:, None])
    valid = ok_now & ok_before
    change = np.abs(now - before)
    return lag_curve_score(motion, change, valid, lags_s, frame_s, min_valid_fraction, tie_ratio)
