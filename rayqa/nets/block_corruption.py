"""The block-corruption network: a small fully convolutional net on luma (or luma and the coded
chroma) that gives a corruption probability per 8x8 region of its input (one H.264 macroblock of a
640x360 frame scaled to 320x180).

    luma (1, H, W) or Y, U, V (3, H, W) ──pad to a multiple of 8──▶ 2x2/2 conv ▶ 3x3 ▶ 2x2/2 ▶ 3x3 ▶ 2x2/2 (stride 8)
        ──▶ 3x3 dilated 2 ▶ 3x3 dilated 4 (context: about 100 px at 320x180) ──1x1──▶ logit map (1, H/8, W/8)

The 2x2 stride-2 convolutions tile the picture exactly, so every map cell is one aligned 8x8 block
of the input (a macroblock's footprint when the decode is scaled by two). The frame score is the
mean of the ``top_fraction`` most probable cells: a soft "this much of the frame is corrupt".
About 0.19 GMAC per 320x180 frame (a ResNet18 trunk at that size is about 2.2); 107 k parameters.

Two inputs (``INPUTS``, each its own architecture name): ``luma``, the scan's full-range luma
samples (``blur``'s frames), and ``yuv``, the Y, U and V planes as coded, sampled to the same grid
(``VideoSpec(raw=True)``: at 640x360 4:2:0 every chroma sample of the picture), so damage whose
colour is wrong (concealed chroma, a green or magenta block) is in the input too.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from rayqa.nets import files
from rayqa.nets.block_inputs import INPUTS, check_input
from rayqa.nets.files import MODEL_FILE, WEIGHTS_FILE, ModelLoadError, pick_device, sha256  # noqa: F401  (this module's face)

STRIDE = 8
ARCH = INPUTS["luma"][1]
TOP_FRACTION = 0.02  # the frame score: mean probability of the top 2 % of cells
DECISION_ARCH = "map-decision-v1"  # the learned frame decision over the map (model.json "decision")
DECISION_READS = ("map", "features")  # what it reads: the logit map alone, or the trunk's features too


def _cbr(cin: int, cout: int, k: int, stride: int = 1, dilation: int = 1) -> nn.Sequential:
    pad = 0 if k == stride else dilation * (k // 2)
    return nn.Sequential(nn.Conv2d(cin, cout, k, stride, pad, dilation=dilation, bias=False), nn.BatchNorm2d(cout),
                         nn.ReLU(inplace=True))


class BlockCorruptionNet(files.Fusable):
    kind = "block_corruption"

    def __init__(self, width: int = 16, input: str = "luma"):
        super().__init__()
        check_input(input)
        w = width
        self.input = input
        self.width = w
        self.channels, self.arch = INPUTS[input]
        self.features = nn.Sequential(
            _cbr(self.channels, w, 2, 2), _cbr(w, int(1.5 * w), 3),
            _cbr(int(1.5 * w), 2 * w, 2, 2), _cbr(2 * w, 3 * w, 3),
            _cbr(3 * w, 4 * w, 2, 2),
            _cbr(4 * w, 4 * w, 3, dilation=2), _cbr(4 * w, 4 * w, 3, dilation=4))
        self.map_head = nn.Conv2d(4 * w, 1, kernel_size=1)

        self.decision: DecisionHead | None = None  # a learned frame decision over the map, when trained

    def trunk(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The map's features (B, 4w, h, w) and its logits (B, 1, h, w)."""
        h, w = x.shape[-2:]
        ph, pw = (-h) % STRIDE, (-w) % STRIDE
        if ph or pw:
            x = nn.functional.pad(x, (0, pw, 0, ph), mode="replicate")
        if self.fused:
            x = x.contiguous(memory_format=torch.channels_last)
        f = self.features(x)
        return f, self.map_head(f)

    def _fuse(self) -> None:
        """Each convolution's batch norm folded into it (``fuse_for_inference``: about half the CPU
        time per frame here, the same maps to float rounding)."""
        for block in self.features:
            block[0], block[1] = files.fuse_conv_bn(block[0], block[1]), nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x``: float (B, C, H, W), each plane scaled to [-0.5, 0.5]. Returns the logit map
        (B, 1, ceil(H/8), ceil(W/8)); the input is padded (edge-replicated) to a multiple of 8."""
        return self.trunk(x)[1]


class DecisionHead(nn.Module):
    """A frame's damage logit learned over the whole map (Prime Video's later version learns the
    decision instead of thresholding the corrupted area): the trunk's features and the logit map
    through three small convolutions (one of stride 2, one dilated: about 80 px of context at
    320x180), max- and mean-pooled over the frame, with the map's own summary (top-fraction score,
    corrupted-area ratio, mean probability), into a linear decision. 21 k parameters."""

    def __init__(self, cin: int = 64, width: int = 32, top_fraction: float = TOP_FRACTION):
        super().__init__()
        w = width
        self.cin = cin  # 0: the logit map alone (no trunk features)
        self.top_fraction = top_fraction
        self.body = nn.Sequential(
            nn.Conv2d(cin + 1, w, 1 if cin else 3, 1, 0 if cin else 1), nn.ReLU(inplace=True),
            nn.Conv2d(w, w, 3, 2, 1), nn.ReLU(inplace=True),
            nn.Conv2d(w, w, 3, 1, 2, dilation=2), nn.ReLU(inplace=True))
        self.out = nn.Linear(2 * w + 3, 1)

    def forward(self, feats: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
        """(B, cin, h, w) features and (B, 1, h, w) logits → (B,) decision logits."""
        p = torch.sigmoid(logits[:, 0])
        m = logits.clamp(-20, 20) / 10
        x = self.body(torch.cat([feats, m], 1) if self.cin else m)
        stats = torch.stack([frame_score(p, self.top_fraction), (p > 0.5).float().mean((1, 2)), p.mean((1, 2))], 1)
        return self.out(torch.cat([x.amax((2, 3)), x.mean((2, 3)), stats], 1))[:, 0]


def to_input(frames: np.ndarray, device: str | torch.device = "cpu", channels: int = 1) -> torch.Tensor:
    """uint8 frames → float (B, channels, H, W) in [-0.5, 0.5] on ``device``. One channel: luma
    (B, H, W) (or RGB (B, H, W, 3), converted with BT.601 weights); three: Y, U, V as coded
    (B, H, W, 3)."""
    if channels == 3:
        if frames.ndim != 4 or frames.shape[-1] != 3:
            raise ValueError(f"block_corruption: a yuv model takes (B, H, W, 3) Y, U, V frames, got shape {frames.shape}")
        t = torch.from_numpy(np.ascontiguousarray(frames)).to(device)
        return t.permute(0, 3, 1, 2).float().div_(255.0).sub_(0.5).contiguous()
    if frames.ndim == 4:
        frames = (frames[..., 0] * 0.299 + frames[..., 1] * 0.587 + frames[..., 2] * 0.114).round().astype(np.uint8)
    t = torch.from_numpy(np.ascontiguousarray(frames)).to(device)
    return t.unsqueeze(1).float().div_(255.0).sub_(0.5)


def frame_score(p: torch.Tensor, top_fraction: float = TOP_FRACTION) -> torch.Tensor:
    """Mean of the ``top_fraction`` most probable cells of each map (B, h, w) → (B,)."""
    flat = p.flatten(1)
    k = max(1, int(round(top_fraction * flat.shape[1])))
    return flat.topk(k, dim=1).values.mean(1)


@torch.inference_mode()
def score_frames(net: BlockCorruptionNet, frames: np.ndarray, device: str = "cpu", batch: int = 32,
                 cell_threshold: float = 0.5, top_fraction: float = TOP_FRACTION) -> dict[str, np.ndarray]:
    """Per frame: ``score`` (mean of the top ``top_fraction`` cell probabilities), ``area_ratio``
    (share of cells above ``cell_threshold``), ``map_mean`` and the probability ``maps`` (N, h, w)."""
    out = {"score": [], "area_ratio": [], "map_mean": [], "maps": [], "map_score": []}
    for i in range(0, len(frames), batch):
        feats, logits = net.trunk(to_input(frames[i:i + batch], device, net.channels))
        p = torch.sigmoid(logits[:, 0].float())
        by_map = frame_score(p, top_fraction)
        out["map_score"].append(by_map.cpu().numpy())
        by_decision = by_map if net.decision is None else torch.sigmoid(net.decision(feats, logits).float())
        out["score"].append(by_decision.cpu().numpy())
        out["area_ratio"].append((p > cell_threshold).float().mean((1, 2)).cpu().numpy())
        out["map_mean"].append(p.mean((1, 2)).cpu().numpy())
        out["maps"].append(p.cpu().numpy())
    if not out["maps"]:
        return {"score": np.zeros(0), "area_ratio": np.zeros(0), "map_mean": np.zeros(0), "maps": np.zeros((0, 0, 0)),
                "map_score": np.zeros(0)}
    return {k: np.concatenate(v) for k, v in out.items()}


def save(net: BlockCorruptionNet, folder: str | Path, meta: dict) -> dict:
    """Write ``weights.pt`` (float16 state dict) and ``model.json``."""
    files.refuse_fused(net, "block_corruption save")
    extra = {} if net.decision is None else {"decision": DECISION_ARCH,
                                              "decision_reads": "features" if net.decision.cin else "map"}
    return files.write(folder, net.state_dict(), {**meta, "arch": net.arch, "input": net.input, **extra})


def load(folder: str | Path, device: str = "cpu") -> tuple[BlockCorruptionNet, dict]:
    """The network and its ``model.json`` from a model folder, checked: the file's hash, the
    architecture name, and every tensor's name and shape. Raises :class:`ModelLoadError`."""
    meta = files.read_meta(folder, "block_corruption")
    by_arch = {arch: name for name, (_, arch) in INPUTS.items()}
    if meta.get("arch") not in by_arch:
        raise ModelLoadError(f"{Path(folder) / MODEL_FILE}: architecture {meta.get('arch')!r} is not one of "
                             f"{sorted(by_arch)}")
    state, weights = files.read_state(folder, meta)
    net = BlockCorruptionNet(int(meta.get("width", 16)), by_arch[meta["arch"]])
    if meta.get("decision") is not None:
        if meta["decision"] != DECISION_ARCH:
            raise ModelLoadError(f"{Path(folder) / MODEL_FILE}: decision {meta['decision']!r} is not {DECISION_ARCH!r}")
        reads = meta.get("decision_reads", "map")
        if reads not in DECISION_READS:
            raise ModelLoadError(f"{Path(folder) / MODEL_FILE}: decision_reads {reads!r} is not one of {list(DECISION_READS)}")
        net.decision = DecisionHead(4 * net.width if reads == "features" else 0,
                                    top_fraction=float(meta.get("top_fraction", TOP_FRACTION)))
    files.load_into(net, state, weights, meta["arch"])
    return net.to(device).eval(), meta
