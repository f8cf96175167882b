"""Where one-second segments fall in a stretch of audio: shared by the detector and its training
(plain Python, no torch)."""

from __future__ import annotations


def segment_starts(n_samples: int, segment: int, hop: int) -> list[int]:
    """Start indices of ``segment``-long segments every ``hop`` samples over ``n_samples``; the last
    segment ends at the end. Shorter input gives one segment at 0 (to be padded)."""
    if n_samples <= segment:
        return [0]
    starts = list(range(0, n_samples - segment + 1, hop))
    if starts[-1] + segment < n_samples:
        starts.append(n_samples - segment)
    return starts
