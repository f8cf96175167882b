"""The block-corruption network: a ResNet18 trunk whose classifier is replaced by a 1x1 convolution
that gives a corruption probability per 32x32 region, plus a small learned decision head.

    frame (3, H, W) ──ResNet18 conv1..layer4──▶ (512, H/32, W/32) ──1x1 conv──▶ logit map (1, H/32, W/32)
        v1 ("area_ratio"): binarise sigmoid(map) at ``cell_threshold``; corrupted-area ratio =
                           positive cells / all cells; the frame is corrupted above ``area_threshold``
        v2 ("learned"):    statistics of the map → two small linear layers → frame probability,
                           trained jointly with the map

The map's size follows the input: 224x224 gives 7x7, 320x180 gives 6x10, 1920x1080 gives 34x60.
Both decisions come from one forward pass of one set of weights.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from rayqa.nets import files
from rayqa.nets.files import MODEL_FILE, WEIGHTS_FILE, ModelLoadError, pick_device, sha256  # noqa: F401  (this module's face)

STRIDE = 32
# Inputs are scaled to [0, 1] and normalised with these (ImageNet's constants; any fixed pair works).
MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)
ARCH = "resnet18-1x1map-v1"


def map_stats(logits: torch.Tensor) -> torch.Tensor:
    """Size-independent statistics of a logit map (B, 1, h, w) → (B, 5): mean, max and spread of
    the probabilities, the share of cells above one half, and a soft maximum of the logits."""
    p = torch.sigmoid(logits).flatten(1)
    flat = logits.flatten(1)
    lse = torch.logsumexp(flat, dim=1) - torch.log(torch.tensor(float(flat.shape[1]), device=flat.device))
    return torch.stack([p.mean(1), p.amax(1), p.std(1, unbiased=False), (p > 0.5).float().mean(1), lse], dim=1)


class BlockCorruptionNet(nn.Module):
    def __init__(self):
        super().__init__()
        from torchvision.models import resnet18

        trunk = resnet18(weights=None)  # the torchvision architecture; no pretrained download is possible
        self.trunk = nn.Sequential(trunk.conv1, trunk.bn1, trunk.relu, trunk.maxpool,
                                   trunk.layer1, trunk.layer2, trunk.layer3, trunk.layer4)
        self.map_head = nn.Conv2d(512, 1, kernel_size=1)
        self.decision = nn.Sequential(nn.Linear(5, 16), nn.ReLU(inplace=True), nn.Linear(16, 1))
        self.register_buffer("mean", torch.tensor(MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(STD).view(1, 3, 1, 1))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``x``: float (B, 3, H, W) in [0, 1]. Returns (logit map (B, 1, ceil(H/32), ceil(W/32)),
        frame logit (B,))."""
        logits = self.map_head(self.trunk((x - self.mean) / self.std))
        return logits, self.decision(map_stats(logits)).squeeze(1)


def to_input(frames: np.ndarray, device: str | torch.device = "cpu") -> torch.Tensor:
    """uint8 RGB frames (B, H, W, 3) → float (B, 3, H, W) in [0, 1] on ``device``."""
    t = torch.from_numpy(np.ascontiguousarray(frames)).to(device)
    return t.permute(0, 3, 1, 2).float().div_(255.0).contiguous(memory_format=torch.channels_last)


@torch.inference_mode()
def score_frames(net: BlockCorruptionNet, frames: np.ndarray, device: str = "cpu", batch: int = 32,
                 cell_threshold: float = 0.5) -> dict[str, np.ndarray]:
    """Per frame: ``area_ratio`` (v1: share of map cells above ``cell_threshold``), ``map_mean``
    (mean cell probability), ``learned`` (v2 probability) and the probability ``maps`` (N, h, w)."""
    out = {"area_ratio": [], "map_mean": [], "learned": [], "maps": []}
    for i in range(0, len(frames), batch):
        logits, frame_logit = net(to_input(frames[i:i + batch], device))
        p = torch.sigmoid(logits[:, 0].float())
        out["area_ratio"].append((p > cell_threshold).float().mean((1, 2)).cpu().numpy())
        out["map_mean"].append(p.mean((1, 2)).cpu().numpy())
        out["learned"].append(torch.sigmoid(frame_logit.float()).cpu().numpy())
        out["maps"].append(p.cpu().numpy())
    if not out["maps"]:
        return {"area_ratio": np.zeros(0), "map_mean": np.zeros(0), "learned": np.zeros(0), "maps": np.zeros((0, 0, 0))}
    return {k: np.concatenate(v) for k, v in out.items()}


def save(net: BlockCorruptionNet, folder: str | Path, meta: dict) -> dict:
    """Write ``weights.pt`` (float16 state dict) and ``model.json``."""
    return files.write(folder, net.state_dict(), {**meta, "arch": ARCH})


def load(folder: str | Path, device: str = "cpu") -> tuple[BlockCorruptionNet, dict]:
    """The network and its ``model.json`` from a model folder, checked: the file's hash, the
    architecture name, and every tensor's name and shape. Raises :class:`ModelLoadError`."""
    meta = files.read_meta(folder, "block_corruption")
    if meta.get("arch") != ARCH:
        raise ModelLoadError(f"{Path(folder) / MODEL_FILE}: architecture {meta.get('arch')!r} is not {ARCH!r}")
    state, weights = files.read_state(folder, meta)
    net = BlockCorruptionNet()
    files.load_into(net, state, weights, ARCH)
    return net.to(device).eval().to(memory_format=torch.channels_last), meta

