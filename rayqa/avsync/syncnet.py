"""SyncNet (Chung & Zisserman, "Out of time", 2016) as published in joonson/syncnet_python: the
network, a loader for the original ``syncnet_v2.model`` file, and its offset search.

The weights cannot be downloaded here; a user who has ``syncnet_v2.model`` registers it (README,
"Supplying SyncNet"). The file is the network's state dict saved with ``torch.save``: keys such as
``netcnnaud.0.weight`` ... ``netfclip.3.bias``. :func:`load_syncnet` accepts exactly that layout
(optionally under a ``__S__.`` prefix or a ``state_dict`` key) and refuses anything else, saying why.

Inputs as in the original: 5-frame windows of 224x224 face crops at 25 fps, and 13 MFCCs at 100
frames/s (``python_speech_features.mfcc`` defaults at 16 kHz), 20 MFCC frames per 5 video frames.
For each video frame the audio embedding is compared at offsets of ±``vshift`` frames; the mean
distance per offset gives the offset (argmin) and the confidence (median − min).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

FPS = 25.0
SAMPLE_RATE = 16000


class SyncNetLoadError(ValueError):
    """A file that is not a SyncNet (syncnet_v2) state dict."""


def build_syncnet(embedding: int = 1024):
    import torch.nn as nn

    class S(nn.Module):
        def __init__(self):
            super().__init__()
            self.netcnnaud = nn.Sequential(
                nn.Conv2d(1, 64, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1)), nn.BatchNorm2d(64), nn.ReLU(inplace=True),
                nn.MaxPool2d(kernel_size=(1, 1), stride=(1, 1)),
                nn.Conv2d(64, 192, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1)), nn.BatchNorm2d(192), nn.ReLU(inplace=True),
                nn.MaxPool2d(kernel_size=(3, 3), stride=(1, 2)),
                nn.Conv2d(192, 384, kernel_size=(3, 3), padding=(1, 1)), nn.BatchNorm2d(384), nn.ReLU(inplace=True),
                nn.Conv2d(384, 256, kernel_size=(3, 3), padding=(1, 1)), nn.BatchNorm2d(256), nn.ReLU(inplace=True),
                nn.Conv2d(256, 256, kernel_size=(3, 3), padding=(1, 1)), nn.BatchNorm2d(256), nn.ReLU(inplace=True),
                nn.MaxPool2d(kernel_size=(3, 3), stride=(2, 2)),
                nn.Conv2d(256, 512, kernel_size=(5, 4), padding=(0, 0)), nn.BatchNorm2d(512), nn.ReLU(),
            )
            self.netfcaud = nn.Sequential(nn.Linear(512, 512), nn.BatchNorm1d(512), nn.ReLU(), nn.Linear(512, embedding))
            self.netfclip = nn.Sequential(nn.Linear(512, 512), nn.BatchNorm1d(512), nn.ReLU(), nn.Linear(512, embedding))
            self.netcnnlip = nn.Sequential(
                nn.Conv3d(3, 96, kernel_size=(5, 7, 7), stride=(1, 2, 2), padding=0), nn.BatchNorm3d(96), nn.ReLU(inplace=True),
                nn.MaxPool3d(kernel_size=(1, 3, 3), stride=(1, 2, 2)),
                nn.Conv3d(96, 256, kernel_size=(1, 5, 5), stride=(1, 2, 2), padding=(0, 1, 1)), nn.BatchNorm3d(256), nn.ReLU(inplace=True),
                nn.MaxPool3d(kernel_size=(1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1)),
                nn.Conv3d(256, 256, kernel_size=(1, 3, 3), padding=(0, 1, 1)), nn.BatchNorm3d(256), nn.ReLU(inplace=True),
                nn.Conv3d(256, 256, kernel_size=(1, 3, 3), padding=(0, 1, 1)), nn.BatchNorm3d(256), nn.ReLU(inplace=True),
                nn.Conv3d(256, 256, kernel_size=(1, 3, 3), padding=(0, 1, 1)), nn.BatchNorm3d(256), nn.ReLU(inplace=True),
                nn.MaxPool3d(kernel_size=(1, 3, 3), stride=(1, 2, 2)),
                nn.Conv3d(256, 512, kernel_size=(1, 6, 6), padding=0), nn.BatchNorm3d(512), nn.ReLU(inplace=True),
            )

        def forward_aud(self, x):  # (N, 1, 13, 20)
            return self.netfcaud(self.netcnnaud(x).flatten(1))

        def forward_lip(self, x):  # (N, 3, 5, 224, 224)
            return self.netfclip(self.netcnnlip(x).flatten(1))

    return S()


def load_syncnet(path: str | Path, device: str = "cpu"):
    """The network with the weights in ``path`` (the original ``syncnet_v2.model``), in eval mode."""
    import torch

    path = Path(path)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise SyncNetLoadError(f"{path} is not a torch state dict: {type(e).__name__}: {e}") from e
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise SyncNetLoadError(f"{path} holds a {type(state).__name__}, not a state dict of tensors")
    state = {k.removeprefix("__S__.").removeprefix("module."): v for k, v in state.items()}
    emb = state.get("netfcaud.3.weight")
    net = build_syncnet(int(emb.shape[0]) if emb is not None and emb.ndim == 2 else 1024)
    expected = net.state_dict()
    missing = sorted(set(expected) - set(state))
    extra = sorted(set(state) - set(expected))
    if missing or extra:
        raise SyncNetLoadError(f"{path} is not a syncnet_v2 state dict: missing {missing[:4]}{'...' if len(missing) > 4 else ''}, "
                               f"unexpected {extra[:4]}{'...' if len(extra) > 4 else ''}")
    bad = [k for k in expected if tuple(state[k].shape) != tuple(expected[k].shape)]
    if bad:
        raise SyncNetLoadError(f"{path}: shapes differ from syncnet_v2 at {bad[:4]}, "
                               f"e.g. {bad[0]} {tuple(state[bad[0]].shape)} vs {tuple(expected[bad[0]].shape)}")
    net.load_state_dict(state)
    return net.eval().to(device)


# -- MFCC as python_speech_features.mfcc computes it (winlen 25 ms, step 10 ms, 26 filters, 13 ceps,
#    nfft 512, preemphasis 0.97, lifter 22, first coefficient replaced by log frame energy) --------
def _mel(hz):
    return 2595 * np.log10(1 + hz / 700.0)


def _hz(mel):
    return 700 * (10 ** (mel / 2595.0) - 1)


def mfcc(signal: np.ndarray, sample_rate: int = SAMPLE_RATE, numcep: int = 13, nfilt: int = 26, nfft: int = 512) -> np.ndarray:
    """(frames, 13) MFCCs at 100 frames/s."""
    from scipy.fft import dct

    x = np.asarray(signal, np.float64).reshape(-1)
    x = np.append(x[:1], x[1:] - 0.97 * x[:-1])
    flen, step = int(round(0.025 * sample_rate)), int(round(0.01 * sample_rate))
    n = 1 if x.size <= flen else 1 + int(np.ceil((x.size - flen) / step))
    pad = np.zeros((n - 1) * step + flen)
    pad[: x.size] = x
    frames = pad[np.arange(flen)[None, :] + step * np.arange(n)[:, None]]
    power = np.abs(np.fft.rfft(frames, nfft)) ** 2 / nfft
    energy = np.where(power.sum(1) == 0, np.finfo(float).eps, power.sum(1))
    pts = np.floor((nfft + 1) * _hz(np.linspace(_mel(0), _mel(sample_rate / 2), nfilt + 2)) / sample_rate).astype(int)
    fb = np.zeros((nfilt, nfft // 2 + 1))
    for j in range(nfilt):
        a, b, c = pts[j], pts[j + 1], pts[j + 2]
        fb[j, a:b] = (np.arange(a, b) - a) / max(1, b - a)
        fb[j, b:c] = (c - np.arange(b, c)) / max(1, c - b)
    feat = power @ fb.T
    feat = np.log(np.where(feat == 0, np.finfo(float).eps, feat))
    ceps = dct(feat, type=2, axis=1, norm="ortho")[:, :numcep]
    ceps *= 1 + (22 / 2.0) * np.sin(np.pi * np.arange(numcep) / 22)
    ceps[:, 0] = np.log(energy)
    return ceps


def score_track(net, face_crops: np.ndarray, audio_16k: np.ndarray, audio_offset_frames: int = 0, vshift: int = 15,
                device: str = "cpu", batch: int = 20) -> tuple[int, float, np.ndarray]:
    """SyncNet's offset search for one face track. ``face_crops``: (T, 224, 224, 3) RGB at 25 fps;
    ``audio_16k``: the audio for the same frames, starting ``audio_offset_frames`` video frames
    before the first crop (audio context). Returns (offset in frames, positive when the sound is
    late; confidence = median − min of the mean distance; the mean distance per offset)."""
    import torch

    T = len(face_crops)
    if T < 6 + 2 * vshift // 3:
        raise ValueError("face track too short for SyncNet")
    # original: BGR frames; syncnet_python feeds cv2-read images, so swap to BGR
    im = torch.from_numpy(np.ascontiguousarray(face_crops[..., ::-1])).float()  # T, H, W, C
    im = im.permute(3, 0, 1, 2)[None]  # 1, C, T, H, W
    cc = torch.from_numpy(mfcc(audio_16k).T.astype(np.float32))[None, None]  # 1, 1, 13, M
    lastframe = T - 5
    lip, aud = [], []
    with torch.inference_mode():
        for i in range(0, lastframe, batch):
            vf = range(i, min(lastframe, i + batch))
            lip.append(net.forward_lip(torch.cat([im[:, :, v:v + 5] for v in vf]).to(device)).cpu())
        n_audio = (cc.shape[-1] - 20) // 4 + 1
        for i in range(0, n_audio, batch):
            af = range(i, min(n_audio, i + batch))
            aud.append(net.forward_aud(torch.cat([cc[..., a * 4:a * 4 + 20] for a in af]).to(device)).cpu())
    lip_f, aud_f = torch.cat(lip), torch.cat(aud)
    offsets = np.arange(-vshift, vshift + 1)
    dists = np.full((len(lip_f), len(offsets)), np.nan)
    for i in range(len(lip_f)):
        for j, o in enumerate(offsets):
            a = i + audio_offset_frames + o  # audio frame showing sound late by o frames
            if 0 <= a < len(aud_f):
                dists[i, j] = float(torch.nn.functional.pairwise_distance(lip_f[i:i + 1], aud_f[a:a + 1]))
    mdist = np.nanmean(dists, axis=0)
    j = int(np.nanargmin(mdist))
    return int(offsets[j]), float(np.nanmedian(mdist) - mdist[j]), mdist
