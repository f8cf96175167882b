"""The audio-artifact network: a CNN over log-mel spectrograms in the layout of the pretrained
audio neural networks (PANNs, Kong et al. 2020, github.com/qiuqiangkong/audioset_tagging_cnn).

    waveform (B, 32000) at 32 kHz ──torchaudio log-mel (n_fft 1024, hop 320, 64 mels, 50-14000 Hz, dB)──▶
        (B, 1, 101, 64) ──bn0 over mel bins──▶ conv blocks (2x2 average pooling after each) ──▶
        mean over mel, max + mean over time ──▶ fc1 (ReLU) ──▶ fc_artifacts: 5 logits
        (no_defect, hum, hiss, distortion, clicks)

The front end is a module of the network, so it runs on whatever device the network is on. It
holds no trained weights (a fixed STFT window and mel filterbank): it is left out of the saved
file and rebuilt on load.

Layouts (``ARCHS``), block names as in PANNs so their checkpoints map one to one:
  * ``cnn6``:  4 blocks of one 5x5 convolution (64, 128, 256, 512 channels), fc1 512;
  * ``cnn10``: 4 blocks of two 3x3 convolutions (64 ... 512), fc1 512;
  * ``cnn14``: 6 blocks of two 3x3 convolutions (64 ... 2048), fc1 2048.
``width`` scales every channel count (the shipped model is a ``cnn6`` at ``width`` 0.5, see its
model card); only ``width`` 1.0 matches a published checkpoint.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from rayqa.nets import files
from rayqa.nets.files import MODEL_FILE, WEIGHTS_FILE, ModelLoadError, pick_device, sha256  # noqa: F401  (this module's face)

CLASSES = ("no_defect", "hum", "hiss", "distortion", "clicks")
SAMPLE_RATE = 32000
SEGMENT_SAMPLES = SAMPLE_RATE  # one second
N_FFT, HOP, N_MELS, FMIN, FMAX = 1024, 320, 64, 50.0, 14000.0
AMIN_DB = -100.0  # log floor (PANNs: amin 1e-10 on power)

ARCHS = {
    # name: (conv per block, kernel, channels per block, pooling per block, fc1 width)
    "cnn6": (1, 5, (64, 128, 256, 512), ((2, 2),) * 4, 512),
    "cnn10": (2, 3, (64, 128, 256, 512), ((2, 2),) * 4, 512),
    "cnn14": (2, 3, (64, 128, 256, 512, 1024, 2048), ((2, 2),) * 5 + ((1, 1),), 2048),
}


def arch_name(arch: str, width: float) -> str:
    return f"panns-{arch}" if width == 1.0 else f"panns-{arch}-w{width:g}"


class LogMel(nn.Module):
    """PANNs' front end with torchaudio: power mel spectrogram (Slaney mel scale and norm, as
    librosa, which PANNs used), in dB with a -100 dB floor. (B, N) → (B, 1, frames, mels)."""

    def __init__(self):
        super().__init__()
        import torchaudio

        self.mel = torchaudio.transforms.MelSpectrogram(
            sample_rate=SAMPLE_RATE, n_fft=N_FFT, win_length=N_FFT, hop_length=HOP, f_min=FMIN, f_max=FMAX,
            n_mels=N_MELS, power=2.0, norm="slaney", mel_scale="slaney", center=True, pad_mode="reflect")

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        power = self.mel(wave.float())  # (B, mels, frames)
        return (10.0 * torch.log10(power.clamp(min=1e-10))).transpose(1, 2).unsqueeze(1)


class ConvBlock(nn.Module):
    """PANNs' ConvBlock (two 3x3) or ConvBlock5x5 (one 5x5): conv, batch norm, ReLU, then pooling."""

    def __init__(self, c_in: int, c_out: int, convs: int, kernel: int):
        super().__init__()
        pad = kernel // 2
        self.conv1 = nn.Conv2d(c_in, c_out, kernel, padding=pad, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        if convs == 2:
            self.conv2 = nn.Conv2d(c_out, c_out, kernel, padding=pad, bias=False)
            self.bn2 = nn.BatchNorm2d(c_out)
        self.convs = convs

    def forward(self, x: torch.Tensor, pool: tuple[int, int]) -> torch.Tensor:
        x = F.relu_(self.bn1(self.conv1(x)))
        if self.convs == 2:
            x = F.relu_(self.bn2(self.conv2(x)))
        return F.avg_pool2d(x, kernel_size=pool) if pool != (1, 1) else x


class AudioArtifactNet(nn.Module):
    def __init__(self, arch: str = "cnn6", width: float = 1.0, classes: int = len(CLASSES)):
        super().__init__()
        if arch not in ARCHS:
            raise ValueError(f"arch must be one of {', '.join(ARCHS)}, got {arch!r}")
        if not 0 < width <= 1.0:
            raise ValueError(f"width must be in (0, 1], got {width}")
        convs, kernel, channels, pools, fc = ARCHS[arch]
        self.arch, self.width, self.pools = arch, float(width), pools
        chans = [max(8, int(round(c * width))) for c in channels]
        fc = max(8, int(round(fc * width)))
        self.frontend = LogMel()
        self.bn0 = nn.BatchNorm2d(N_MELS)
        c_in = 1
        for i, c in enumerate(chans, start=1):
            setattr(self, f"conv_block{i}", ConvBlock(c_in, c, convs, kernel))
            c_in = c
        self.n_blocks = len(chans)
        self.fc1 = nn.Linear(c_in, fc)
        self.fc_artifacts = nn.Linear(fc, classes)

    @property
    def name(self) -> str:
        return arch_name(self.arch, self.width)

    def logmel(self, wave: torch.Tensor) -> torch.Tensor:
        """(B, N) float waveform at 32 kHz → (B, 1, frames, 64) log-mel in dB."""
        return self.frontend(wave)

    def forward_logmel(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (B, classes) from log-mel (B, 1, frames, mels); training feeds this directly."""
        x = self.bn0(x.transpose(1, 3)).transpose(1, 3)
        for i, pool in enumerate(self.pools, start=1):
            x = getattr(self, f"conv_block{i}")(x, pool)
            x = F.dropout(x, p=0.2, training=self.training)
        x = x.mean(dim=3)  # over mel bins
        x = x.amax(dim=2) + x.mean(dim=2)  # over time: PANNs' max + mean pooling
        x = F.dropout(x, p=0.5, training=self.training)
        x = F.relu_(self.fc1(x))
        x = F.dropout(x, p=0.5, training=self.training)
        return self.fc_artifacts(x)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        return self.forward_logmel(self.logmel(wave))


def trunk_state(net: AudioArtifactNet) -> dict[str, torch.Tensor]:
    """The trained tensors: everything but the front end's fixed window and filterbank."""
    return {k: v for k, v in net.state_dict().items() if not k.startswith("frontend.")}


@torch.inference_mode()
def classify(net: AudioArtifactNet, segments: np.ndarray, device: str = "cpu", batch: int = 256) -> np.ndarray:
    """Class probabilities (N, 5) for one-second mono segments (N, 32000) float32 at 32 kHz."""
    out = []
    for i in range(0, len(segments), batch):
        x = torch.from_numpy(np.ascontiguousarray(segments[i:i + batch], dtype=np.float32)).to(device)
        out.append(torch.softmax(net(x).float(), dim=1).cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, len(CLASSES)), np.float32)


# ---------------------------------------------------------------------------------------------
# Files


def save(net: AudioArtifactNet, folder: str | Path, meta: dict) -> dict:
    """Write ``weights.pt`` (float16 state dict without the front end) and ``model.json``."""
    return files.write(folder, trunk_state(net), {
        **meta, "arch": net.name, "panns_layout": net.arch, "width": net.width, "classes": list(CLASSES),
        "sample_rate": SAMPLE_RATE, "segment_samples": SEGMENT_SAMPLES,
        "frontend": {"n_fft": N_FFT, "hop": HOP, "n_mels": N_MELS, "fmin": FMIN, "fmax": FMAX,
                     "mel": "slaney", "power_db": True}})


def _parse_arch(name: str) -> tuple[str, float]:
    """``panns-cnn6`` → ("cnn6", 1.0); ``panns-cnn6-w0.5`` → ("cnn6", 0.5)."""
    parts = str(name).split("-")
    if len(parts) not in (2, 3) or parts[0] != "panns" or parts[1] not in ARCHS:
        raise ValueError(name)
    width = float(parts[2][1:]) if len(parts) == 3 and parts[2].startswith("w") else 1.0
    if len(parts) == 3 and not parts[2].startswith("w"):
        raise ValueError(name)
    return parts[1], width


def load(folder: str | Path, device: str = "cpu") -> tuple[AudioArtifactNet, dict]:
    """The network and its ``model.json`` from a model folder, checked: the file's hash, the
    architecture name, the classes, and every tensor's name and shape. Raises :class:`ModelLoadError`."""
    meta_path = Path(folder) / MODEL_FILE
    meta = files.read_meta(folder, "audio_artifacts")
    try:
        arch, width = _parse_arch(meta.get("arch"))
    except (ValueError, TypeError):
        raise ModelLoadError(f"{meta_path}: architecture {meta.get('arch')!r} is not one of "
                             f"panns-{{{','.join(ARCHS)}}}[-w<width>]") from None
    if tuple(meta.get("classes", CLASSES)) != CLASSES:
        raise ModelLoadError(f"{meta_path}: classes {meta.get('classes')} are not {list(CLASSES)}")
    state, weights = files.read_state(folder, meta)
    net = AudioArtifactNet(arch, width)
    full = {**{k: v for k, v in net.state_dict().items() if k.startswith("frontend.")}, **state}
    files.load_into(net, full, weights, net.name)
    return net.to(device).eval(), meta


# ---------------------------------------------------------------------------------------------
# Published PANNs checkpoints (fine-tuning)

# Tensors of a published checkpoint that this network rebuilds or replaces instead of loading:
# the torchlibrosa front end (our log-mel comes from torchaudio) and the 527-class AudioSet head.
PANNS_SKIPPED_PREFIXES = ("spectrogram_extractor.", "logmel_extractor.", "fc_audioset.")


def load_panns_checkpoint(net: AudioArtifactNet, path: str | Path) -> dict[str, list[str]]:
    """Copy the trunk of a published PANNs checkpoint (``Cnn6_mAP=0.343.pth``,
    ``Cnn10_mAP=0.380.pth``, ``Cnn14_mAP=0.431.pth``: ``{"model": state_dict, ...}``) into ``net``,
    which must be the same layout at width 1.0: ``bn0``, every ``conv_block*`` and ``fc1``. The
    AudioSet head and the torchlibrosa front end are skipped; ``fc_artifacts`` keeps its fresh
    initialisation. Returns ``{"loaded": [...], "skipped": [...], "missing": [...]}`` (missing: the
    network's tensors the checkpoint did not supply). Raises :class:`ModelLoadError` when the file
    is unreadable, is not a PANNs checkpoint, or its shapes do not fit ``net``'s layout."""
    path = Path(path)
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise ModelLoadError(f"{path} is not a readable checkpoint: {type(e).__name__}: {e}") from e
    state = ckpt.get("model", ckpt) if isinstance(ckpt, dict) else None
    if not isinstance(state, dict) or not any(k.startswith("conv_block1.") for k in state):
        raise ModelLoadError(f"{path} is not a PANNs checkpoint: no 'model' state dict with conv_block1.* tensors")
    own = trunk_state(net)
    loaded, skipped, bad = [], [], []
    take = {}
    for k, v in state.items():
        if k.startswith(PANNS_SKIPPED_PREFIXES) or k not in own:
            skipped.append(k)
        elif tuple(v.shape) != tuple(own[k].shape):
            bad.append(f"{k} {tuple(v.shape)} vs {tuple(own[k].shape)}")
        else:
            take[k] = v
    if bad:
        raise ModelLoadError(f"{path} does not fit {net.name} (a PANNs checkpoint of another layout?): "
                             + "; ".join(bad[:3]) + (f" and {len(bad) - 3} more" if len(bad) > 3 else ""))
    trunk_blocks = [k for k in own if k.startswith("conv_block")]
    if not any(k in take for k in trunk_blocks):
        raise ModelLoadError(f"{path}: none of {net.name}'s convolution tensors are in the checkpoint")
    with torch.no_grad():
        for k, v in take.items():
            own[k].copy_(v.to(own[k].dtype))
            loaded.append(k)
    missing = [k for k in own if k not in take]
    return {"loaded": sorted(loaded), "skipped": sorted(skipped), "missing": sorted(missing)}

