"""Model folders as rayqa ships them: ``model.json`` + ``weights.pt`` (a float16 state dict) with
its sha256, read back with every check a damaged download or a wrong file could fail."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import torch

WEIGHTS_FILE = "weights.pt"
MODEL_FILE = "model.json"


class ModelLoadError(RuntimeError):
    """Weights that cannot be read or do not fit the architecture; the message says which file and why."""


def sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def write(folder: str | Path, state: dict, meta: dict) -> dict:
    """Write ``state`` as float16 ``weights.pt`` (half the size, same decisions) and ``meta`` plus
    the weights' name and sha256 as ``model.json``; returns that meta."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    torch.save({k: (v.half() if v.is_floating_point() else v) for k, v in state.items()}, folder / WEIGHTS_FILE)
    meta = {**meta, "weights": WEIGHTS_FILE, "weights_sha256": sha256(folder / WEIGHTS_FILE)}
    (folder / MODEL_FILE).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
    return meta


def read_meta(folder: str | Path, kind: str) -> dict:
    meta_path = Path(folder) / MODEL_FILE
    if not meta_path.is_file():
        raise ModelLoadError(f"{meta_path} is missing: not a {kind} model folder")
    try:
        return json.loads(meta_path.read_text())
    except (OSError, ValueError) as e:
        raise ModelLoadError(f"{meta_path} is not readable JSON: {e}") from e


def read_state(folder: str | Path, meta: dict) -> tuple[dict, Path]:
    """The state dict (floats as float32) the meta names, after checking its sha256."""
    weights = Path(folder) / str(meta.get("weights", WEIGHTS_FILE))
    if not weights.is_file():
        raise ModelLoadError(f"{weights} is missing")
    expected = meta.get("weights_sha256")
    if expected and sha256(weights) != expected:
        raise ModelLoadError(f"{weights} is damaged: sha256 differs from model.json's weights_sha256")
    try:
        state = torch.load(weights, map_location="cpu", weights_only=True)
    except Exception as e:  # pickle errors, zip errors, truncated files
        raise ModelLoadError(f"{weights} is not a readable checkpoint: {type(e).__name__}: {e}") from e
    if not isinstance(state, dict):
        raise ModelLoadError(f"{weights} does not hold a state dict")
    return {k: v.float() if torch.is_tensor(v) and v.is_floating_point() else v for k, v in state.items()}, weights


def load_into(net: torch.nn.Module, state: dict, weights: Path, arch: str) -> None:
    try:
        net.load_state_dict(state)
    except (RuntimeError, AttributeError) as e:
        raise ModelLoadError(f"{weights} does not fit {arch}: {str(e).splitlines()[0]}") from e


def pick_device(requested: str = "auto") -> str:
    """``auto``: CUDA where usable, else CPU; a CUDA request on a node without usable CUDA gets the
    CPU (a GPU pool scheduled there still works, slower)."""
    if requested == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if requested.startswith("cuda") and not torch.cuda.is_available():
        return "cpu"
    return requested


def fuse_conv_bn(conv: torch.nn.Conv2d, bn: torch.nn.BatchNorm2d) -> torch.nn.Conv2d:
    """``conv`` followed by ``bn`` (its running statistics, as in eval mode) as one convolution:
    the same arithmetic to float rounding, one pass over the activations instead of two."""
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    return fuse_conv_bn_eval(conv.eval(), bn.eval())


class Fusable(torch.nn.Module):
    """A network that can be fused for scoring: :meth:`fuse_for_inference` folds its batch norms
    into their convolutions (``_fuse``, each network's own), goes to eval mode and channels-last
    weights (oneDNN's fast layout on a CPU, cuDNN's on a GPU) and sets ``fused``, which
    :func:`refuse_fused` checks before a save or a training step (``kind`` names the network)."""

    kind = "network"
    fused = False

    def _fuse(self) -> None:
        raise NotImplementedError

    def fuse_for_inference(self):
        """In place, for scoring only (the same outputs to float rounding); idempotent."""
        if not self.fused:
            self._fuse()
            self.eval()
            self.to(memory_format=torch.channels_last)
            self.fused = True
        return self

    def train(self, mode: bool = True):
        if mode:
            refuse_fused(self, f"{self.kind} train")
        return super().train(mode)


def refuse_fused(net: torch.nn.Module, what: str) -> None:
    """A network whose batch norms were folded into its convolutions for inference has lost the
    tensors a saved model or a training step needs."""
    if getattr(net, "fused", False):
        raise ValueError(f"{what}: this network was fused for inference (batch norm folded into its convolutions); "
                         "load it again to train or save it")
