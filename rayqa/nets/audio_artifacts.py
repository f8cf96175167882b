"""The audio-artifact network: a CNN over log-mel spectrograms in the layout of the pretrained
audio neural networks (PANNs, Kong et al. 2020, github.com/qiuqiangkong/audioset_tagging_cnn).

    waveform (B, 32000) at 32 kHz ──torchaudio log-mel (n_fft 1024, hop 320, 64 mels, 50-14000 Hz, dB)──▶
        (B, 1, 101, 64) ──bn0 over mel bins──▶ conv blocks (2x2 average pooling after each) ──▶
        mean over mel, max + mean over time ──▶ fc1 (ReLU) ─┐
                                                            concat ──▶ fc_artifacts: 5 logits
    waveform + log-mel ──AuxFeatures (v2 models)──▶ aux_fc ─┘   (no_defect, hum, hiss, distortion, clicks)

Auxiliary features (``aux``, models from v2 on) give the classifier what a 1-second log-mel at
31 Hz resolution hides: a 1 Hz spectrum's peaks at the 50/60 Hz mains harmonics (hum), the noise
floor of each band against its median (hiss), and the waveform's peak statistics (clipping,
clicks). They are computed in the network from the same segment, so they run on its device too.

Context head (``ctx``, models from v3 on): one second is ambiguous (steady programme noise or added
hiss? loud mastered music or overdrive?), so a v3 network decides from the segment *and its
neighbours*: each segment's vector (``fc1``'s output, the auxiliary features and the trunk's own
5 logits) is set beside the element-wise median of the vectors of the other segments of its
group (the detector's decode window: by default the 8 s around it) and the difference between
the two, standardised, into a small MLP (``context_head``) that gives the 5 logits. Segments
carry a group id; a forward pass never lets groups see each other.

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


AUX_HIDDEN = 128


CTX_HIDDEN = 128


def arch_name(arch: str, width: float, aux: bool = False, context: bool = False) -> str:
    """``panns-cnn6``, ``panns-cnn6-w0.5``, ``panns-cnn6-w0.5-aux`` (with :class:`AuxFeatures`),
    ``panns-cnn6-w0.5-aux-ctx`` (with the context head)."""
    return (("panns-{}" if width == 1.0 else "panns-{}-w{:g}").format(arch, width) + ("-aux" if aux else "")
            + ("-ctx" if context else ""))


def group_median(x: torch.Tensor, groups: torch.Tensor | None) -> torch.Tensor:
    """Per row, the element-wise median of the rows of its group (``groups``: (B,) ids; None: one
    group). (B, D) → (B, D)."""
    if groups is None:
        return x.median(dim=0, keepdim=True).values.expand_as(x)
    out = torch.empty_like(x)
    for g in torch.unique(groups):
        m = groups == g
        out[m] = x[m].median(dim=0, keepdim=True).values
    return out


class ContextHead(nn.Module):
    """Segment vector, its group's median vector and their difference, standardised (statistics of
    the training set, stored with the weights) → an MLP → logits. ``residual``: the MLP corrects
    the trunk's own logits (the segment vector's last ``classes`` values) instead of replacing
    them, starting from zero, so that what the trunk knew is the starting point."""

    def __init__(self, dim: int, classes: int, residual: bool = False):
        super().__init__()
        self.dim, self.classes, self.residual = dim, classes, bool(residual)
        self.register_buffer("mean", torch.zeros(3 * dim))
        self.register_buffer("std", torch.ones(3 * dim))
        self.fc1 = nn.Linear(3 * dim, CTX_HIDDEN)
        self.fc2 = nn.Linear(CTX_HIDDEN, classes)
        if self.residual:
            nn.init.zeros_(self.fc2.weight)
            nn.init.zeros_(self.fc2.bias)

    @staticmethod
    def inputs(seg: torch.Tensor, groups: torch.Tensor | None) -> torch.Tensor:
        ctx = group_median(seg, groups)
        return torch.cat([seg, seg - ctx, ctx], dim=1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        base = z[:, self.dim - self.classes:self.dim] if self.residual else 0.0
        z = (z - self.mean) / self.std
        return base + self.fc2(F.dropout(F.relu(self.fc1(z)), p=0.3, training=self.training))


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


MAINS_HZ = (50.0, 60.0)
MAINS_HARMONICS = 12
FLOOR_BANDS = 16  # mel bins averaged in groups for the noise-floor features
PEAK_FRACTIONS = (0.999, 0.99, 0.95, 0.9, 0.8)


class AuxFeatures(nn.Module):
    """Hand-made features of a one-second segment; (B, N) waveform and its log-mel → (B, AUX_DIM).

    * mains comb (48): for 50 and 60 Hz and each of 12 harmonics, the peak power within ±1 Hz of
      the harmonic (1 Hz bins, Hann window over the whole segment) over the median 4-12 Hz either
      side, and over the segment's total power, both in dB;
    * noise floor (49): per group of 4 mel bins, the 10th percentile over frames against the
      segment's mean level, the median over that floor and the 90th percentile over the median;
      and the mean level itself (dBFS-like, /10);
    * waveform (7): share of samples above 99.9/99/95/90/80 % of the segment's peak (flat tops of
      clipping), the crest factor in dB, and log kurtosis of the first difference (clicks).
    Every value is clamped to a sane range, so digital silence gives finite numbers."""

    def __init__(self, n_samples: int = SEGMENT_SAMPLES):
        super().__init__()
        self.n_samples = n_samples
        bin_hz = SAMPLE_RATE / n_samples
        peaks, sides = [], []
        for f0 in MAINS_HZ:
            for k in range(1, MAINS_HARMONICS + 1):
                b = int(round(k * f0 / bin_hz))
                peaks.append([b - 1, b, b + 1])
                sides.append(list(range(b - 12, b - 3)) + list(range(b + 4, b + 13)))
        self.register_buffer("peak_idx", torch.tensor(peaks), persistent=False)
        self.register_buffer("side_idx", torch.tensor(sides), persistent=False)
        self.register_buffer("window", torch.hann_window(n_samples, periodic=False), persistent=False)
        self.dim = 2 * len(peaks) + 3 * FLOOR_BANDS + 1 + len(PEAK_FRACTIONS) + 2

    def forward(self, wave: torch.Tensor, logmel: torch.Tensor) -> torch.Tensor:
        wave = wave.float()
        b = wave.shape[0]
        spec = torch.fft.rfft(wave * self.window, dim=1).abs().square() + 1e-20
        peak = spec[:, self.peak_idx].amax(dim=2)  # (B, 24)
        side = spec[:, self.side_idx].median(dim=2).values
        total = spec.sum(dim=1, keepdim=True)
        comb = torch.cat([10 * torch.log10(peak / side), 10 * torch.log10(peak / total) + 30], dim=1).clamp(-30, 60) / 10

        x = logmel[:, 0]  # (B, frames, mels) in dB
        level = x.mean(dim=(1, 2))
        q = torch.quantile(x, torch.tensor([0.1, 0.5, 0.9], device=x.device), dim=1)  # (3, B, mels)
        q = q.reshape(3, b, FLOOR_BANDS, -1).mean(dim=3)
        floor = torch.cat([q[0] - level[:, None], q[1] - q[0], q[2] - q[1]], dim=1).clamp(-60, 60) / 10

        peak_abs = wave.abs().amax(dim=1, keepdim=True).clamp(min=1e-8)
        u = wave.abs() / peak_abs
        flat = torch.stack([(u >= f).float().mean(dim=1) for f in PEAK_FRACTIONS], dim=1)
        flat = torch.log10(flat + 1e-5) + 5  # 0 .. 5
        rms = wave.square().mean(dim=1).sqrt().clamp(min=1e-8)
        crest = (20 * torch.log10(peak_abs[:, 0] / rms)).clamp(0, 60) / 10
        d = torch.diff(wave, dim=1)
        d = d - d.mean(dim=1, keepdim=True)
        kurt = d.pow(4).mean(dim=1) / d.square().mean(dim=1).square().clamp(min=1e-30)
        kurt = torch.log10(kurt.clamp(min=1.0, max=1e6))
        return torch.cat([comb, floor, (level / 10).clamp(-12, 2)[:, None], flat, crest[:, None], kurt[:, None]], dim=1)


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

    def fuse(self) -> None:
        """Each batch norm folded into its convolution (eval mode only: see ``AudioArtifactNet.fuse_for_inference``)."""
        self.conv1, self.bn1 = files.fuse_conv_bn(self.conv1, self.bn1), nn.Identity()
        if self.convs == 2:
            self.conv2, self.bn2 = files.fuse_conv_bn(self.conv2, self.bn2), nn.Identity()

    def forward(self, x: torch.Tensor, pool: tuple[int, int]) -> torch.Tensor:
        x = F.relu_(self.bn1(self.conv1(x)))
        if self.convs == 2:
            x = F.relu_(self.bn2(self.conv2(x)))
        return F.avg_pool2d(x, kernel_size=pool) if pool != (1, 1) else x


class AudioArtifactNet(files.Fusable):
    kind = "audio_artifacts"

    def __init__(self, arch: str = "cnn6", width: float = 1.0, classes: int = len(CLASSES), aux: bool = False,
                 context: bool = False, context_residual: bool = False):
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
        self.aux = bool(aux)
        if self.aux:
            self.aux_features = AuxFeatures()
            self.aux_bn = nn.BatchNorm1d(self.aux_features.dim)
            self.aux_fc = nn.Linear(self.aux_features.dim, AUX_HIDDEN)
        self.fc_artifacts = nn.Linear(fc + (AUX_HIDDEN if self.aux else 0), classes)
        self.context = bool(context)
        if self.context:
            if not self.aux:
                raise ValueError("the context head needs the auxiliary features (aux=True)")
            self.segment_dim = fc + self.aux_features.dim + classes
            self.context_head = ContextHead(self.segment_dim, classes, residual=context_residual)

    def _fuse(self) -> None:
        """The conv blocks' batch norms folded into their convolutions (``fuse_for_inference``)."""
        for i in range(1, self.n_blocks + 1):
            getattr(self, f"conv_block{i}").fuse()

    @property
    def name(self) -> str:
        return arch_name(self.arch, self.width, self.aux, self.context)

    def logmel(self, wave: torch.Tensor) -> torch.Tensor:
        """(B, N) float waveform at 32 kHz → (B, 1, frames, 64) log-mel in dB."""
        return self.frontend(wave)

    def forward_logmel(self, x: torch.Tensor, aux: torch.Tensor | None = None) -> torch.Tensor:
        """The trunk's logits (B, classes) from log-mel (B, 1, frames, mels) and, for a network with
        ``aux``, the :class:`AuxFeatures` of the same segments (no context)."""
        return self.trunk(x, aux)[1]

    def trunk(self, x: torch.Tensor, aux: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(``fc1``'s output, the trunk's logits) from log-mel and auxiliary features."""
        if self.aux and aux is None:
            raise ValueError(f"{self.name} needs the auxiliary features: call it with the waveform")
        x = self.bn0(x.transpose(1, 3)).transpose(1, 3)
        if self.fused:
            x = x.contiguous(memory_format=torch.channels_last)
        for i, pool in enumerate(self.pools, start=1):
            x = getattr(self, f"conv_block{i}")(x, pool)
            x = F.dropout(x, p=0.2, training=self.training)
        x = x.mean(dim=3)  # over mel bins
        x = x.amax(dim=2) + x.mean(dim=2)  # over time: PANNs' max + mean pooling
        x = F.dropout(x, p=0.5, training=self.training)
        emb = F.relu_(self.fc1(x))
        x = emb
        if self.aux:
            a = F.relu_(self.aux_fc(self.aux_bn(aux)))
            x = torch.cat([x, F.dropout(a, p=0.2, training=self.training)], dim=1)
        x = F.dropout(x, p=0.5, training=self.training)
        return emb, self.fc_artifacts(x)

    def segment_vector(self, wave: torch.Tensor) -> torch.Tensor:
        """What the context head sees of one segment: ``fc1``'s output, the auxiliary features and
        the trunk's logits, (B, segment_dim)."""
        logmel = self.logmel(wave)
        aux = self.aux_features(wave, logmel)
        emb, logits = self.trunk(logmel, aux)
        return torch.cat([emb, aux, logits], dim=1)

    def forward(self, wave: torch.Tensor, groups: torch.Tensor | None = None) -> torch.Tensor:
        """Logits (B, classes) of one-second segments (B, 32000); with the context head, each
        segment is judged beside the other segments of its group (``groups``: (B,) ids, None: all one)."""
        if self.context:
            return self.context_head(ContextHead.inputs(self.segment_vector(wave), groups))
        logmel = self.logmel(wave)
        return self.forward_logmel(logmel, self.aux_features(wave, logmel) if self.aux else None)


def trunk_state(net: AudioArtifactNet) -> dict[str, torch.Tensor]:
    """The trained tensors: everything but the front end's fixed window and filterbank."""
    return {k: v for k, v in net.state_dict().items() if not k.startswith("frontend.")}


def group_batches(groups: np.ndarray, batch: int) -> list[tuple[int, int]]:
    """``[a, b)`` row ranges of about ``batch`` rows that never split a group (rows of a group are
    contiguous; a group larger than ``batch`` is one range of its own)."""
    n = len(groups)
    if n == 0:
        return []
    starts = np.flatnonzero(np.concatenate([[True], groups[1:] != groups[:-1]])).tolist() + [n]
    out, a = [], 0
    for s, e in zip(starts[:-1], starts[1:]):
        if e - a > batch and s > a:
            out.append((a, s))
            a = s
    out.append((a, n))
    return out


@torch.inference_mode()
def classify(net: AudioArtifactNet, segments: np.ndarray, device: str = "cpu", batch: int = 256,
             groups: np.ndarray | None = None) -> np.ndarray:
    """Class probabilities (N, 5) for one-second mono segments (N, 32000) float32 at 32 kHz.
    ``groups`` (N,) ids, contiguous: which segments are one another's context (one window's);
    None: each call's batch of ``batch`` segments is one group, for a network with the context head."""
    n = len(segments)
    if groups is None:
        groups = np.arange(n) // max(1, batch)
    groups = np.asarray(groups)
    out = []
    for a, b in group_batches(groups, batch):
        x = torch.from_numpy(np.ascontiguousarray(segments[a:b], dtype=np.float32)).to(device)
        g = torch.from_numpy(groups[a:b].astype(np.int64)).to(device)
        out.append(torch.softmax(net(x, g).float(), dim=1).cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, len(CLASSES)), np.float32)


@torch.inference_mode()
def segment_vectors(net: AudioArtifactNet, segments: np.ndarray, device: str = "cpu", batch: int = 256) -> np.ndarray:
    """:meth:`AudioArtifactNet.segment_vector` of (N, 32000) segments, (N, segment_dim) float32."""
    out = [net.segment_vector(torch.from_numpy(np.ascontiguousarray(segments[i:i + batch], dtype=np.float32))
                              .to(device)).float().cpu().numpy() for i in range(0, len(segments), batch)]
    return np.concatenate(out) if out else np.zeros((0, net.segment_dim), np.float32)


# ---------------------------------------------------------------------------------------------
# Files


def save(net: AudioArtifactNet, folder: str | Path, meta: dict) -> dict:
    """Write ``weights.pt`` (float16 state dict without the front end) and ``model.json``."""
    files.refuse_fused(net, "audio_artifacts save")
    return files.write(folder, trunk_state(net), {
        **meta, "arch": net.name, "panns_layout": net.arch, "width": net.width, "aux_features": net.aux,
        "context_head": net.context, "context_residual": bool(net.context and net.context_head.residual),
        "classes": list(CLASSES),
        "sample_rate": SAMPLE_RATE, "segment_samples": SEGMENT_SAMPLES,
        "frontend": {"n_fft": N_FFT, "hop": HOP, "n_mels": N_MELS, "fmin": FMIN, "fmax": FMAX,
                     "mel": "slaney", "power_db": True}})


def _parse_arch(name: str) -> tuple[str, float, bool, bool]:
    """``panns-cnn6`` → ("cnn6", 1.0, False, False); ``panns-cnn6-w0.5-aux`` → ("cnn6", 0.5, True,
    False); ``panns-cnn6-w0.5-aux-ctx`` → ("cnn6", 0.5, True, True)."""
    parts = str(name).split("-")
    context = parts[-1] == "ctx"
    if context:
        parts = parts[:-1]
    aux = parts[-1] == "aux"
    if aux:
        parts = parts[:-1]
    if context and not aux:
        raise ValueError(name)
    if len(parts) not in (2, 3) or parts[0] != "panns" or parts[1] not in ARCHS:
        raise ValueError(name)
    width = float(parts[2][1:]) if len(parts) == 3 and parts[2].startswith("w") else 1.0
    if len(parts) == 3 and not parts[2].startswith("w"):
        raise ValueError(name)
    return parts[1], width, aux, context


def load(folder: str | Path, device: str = "cpu") -> tuple[AudioArtifactNet, dict]:
    """The network and its ``model.json`` from a model folder, checked: the file's hash, the
    architecture name, the classes, and every tensor's name and shape. Raises :class:`ModelLoadError`."""
    meta_path = Path(folder) / MODEL_FILE
    meta = files.read_meta(folder, "audio_artifacts")
    try:
        arch, width, aux, context = _parse_arch(meta.get("arch"))
    except (ValueError, TypeError):
        raise ModelLoadError(f"{meta_path}: architecture {meta.get('arch')!r} is not one of "
                             f"panns-{{{','.join(ARCHS)}}}[-w<width>][-aux[-ctx]]") from None
    if tuple(meta.get("classes", CLASSES)) != CLASSES:
        raise ModelLoadError(f"{meta_path}: classes {meta.get('classes')} are not {list(CLASSES)}")
    state, weights = files.read_state(folder, meta)
    net = AudioArtifactNet(arch, width, aux=aux, context=context,
                           context_residual=bool(meta.get("context_residual", False)))
    full = {**{k: v for k, v in net.state_dict().items() if k.startswith("frontend.")}, **state}
    files.load_into(net, full, weights, net.name)
    return net.to(device).eval(), meta


# ---------------------------------------------------------------------------------------------
# Published PANNs checkpoints (fine-tuning)

# Tensors of a published checkpoint that this network rebuilds or replaces instead of loading:
# the torchlibrosa front end (our log-mel comes from torchaudio) and the 527-class AudioSet head.
PANNS_SKIPPED_PREFIXES = ("spectrogram_extractor.", "logmel_extractor.", "fc_audioset.")


def _read_panns_state(path: Path) -> dict:
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise ModelLoadError(f"{path} is not a readable checkpoint: {type(e).__name__}: {e}") from e
    state = ckpt.get("model", ckpt) if isinstance(ckpt, dict) else None
    if not isinstance(state, dict) or not any(k.startswith("conv_block1.") for k in state):
        raise ModelLoadError(f"{path} is not a PANNs checkpoint: no 'model' state dict with conv_block1.* tensors")
    return state


def panns_layout_of(path: str | Path) -> str:
    """Which of :data:`ARCHS` a published PANNs checkpoint is (by its blocks' tensors), so that
    ``rayqa train --init-panns`` builds the matching network. Raises :class:`ModelLoadError`."""
    state = _read_panns_state(Path(path))
    for arch in ARCHS:
        own = trunk_state(AudioArtifactNet(arch, 1.0))
        blocks = [k for k in state if k.startswith("conv_block")]
        if blocks and all(k in own and tuple(state[k].shape) == tuple(own[k].shape) for k in blocks):
            return arch
    raise ModelLoadError(f"{path}: its convolution blocks match none of the PANNs layouts {', '.join(ARCHS)}")


def load_panns_checkpoint(net: AudioArtifactNet, path: str | Path) -> dict[str, list[str]]:
    """Copy the trunk of a published PANNs checkpoint (``Cnn6_mAP=0.343.pth``,
    ``Cnn10_mAP=0.380.pth``, ``Cnn14_mAP=0.431.pth``: ``{"model": state_dict, ...}``) into ``net``,
    which must be the same layout at width 1.0: ``bn0``, every ``conv_block*`` and ``fc1``. The
    AudioSet head and the torchlibrosa front end are skipped; ``fc_artifacts`` keeps its fresh
    initialisation. Returns ``{"loaded": [...], "skipped": [...], "missing": [...]}`` (missing: the
    network's tensors the checkpoint did not supply). Raises :class:`ModelLoadError` when the file
    is unreadable, is not a PANNs checkpoint, or its shapes do not fit ``net``'s layout."""
    path = Path(path)
    state = _read_panns_state(path)
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

