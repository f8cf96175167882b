"""Giving a learned detector its weights: registry resolution, download, device and CPU threads.

Detectors only know how to load a model *folder* onto a *device*
(:meth:`rayqa.detectors.base.Detector.load`); which folder (the registry version a scan resolved,
a local folder, or the champion), which device (CUDA where usable) and how many CPU threads
(this actor's share of the node) are decided here, by the scan's actors, the service's replicas,
the CLI and the tests alike.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rayqa.detectors.base import Detector
from rayqa.registry import ModelRegistry, RegistryError, ResolvedModel


@contextmanager
def fetched(detector: str, model=None) -> Iterator[tuple[Path, str, str]]:
    """``(folder, model name, version)`` for ``model`` while the block runs: a :class:`ResolvedModel`
    (downloaded into a temporary folder, removed after the block: every load of a registry version,
    the plan's check and each process's, writes one), a local model folder (version
    ``file:<folder name>``), or None for the registry's champion (the registry is filled from
    ``models/`` when empty)."""
    if model is None:
        model = ModelRegistry().resolve(detector)
    if isinstance(model, ResolvedModel):
        with model.downloaded() as folder:
            yield folder, model.name, model.version
        return
    folder = Path(os.fspath(model))
    yield folder, f"rayqa-{detector}", f"file:{folder.name}"


def cpu_share() -> int | None:
    """The CPUs this process may use: Ray sets OMP_NUM_THREADS from the CPUs a task or actor reserved
    (None outside Ray, where nothing has been reserved)."""
    try:
        return max(1, int(os.environ["OMP_NUM_THREADS"]))
    except (KeyError, ValueError):
        return None


def use_cv2_share() -> None:
    """OpenCV's own thread pool to this process's share: it starts a thread per core, so two
    one-CPU tasks on two cores would each split every small resize and table lookup across both
    (the decode stage's conversions took ~15 % longer that way here)."""
    share = cpu_share()
    if share is not None:
        import cv2

        if cv2.getNumThreads() != share:
            cv2.setNumThreads(share)


def use_cpu_share() -> None:
    """On the CPU, use only this process's share of the node: torch and OpenCV would otherwise start
    a thread per core."""
    import torch

    torch.set_num_threads(cpu_share() or torch.get_num_threads())
    use_cv2_share()


def load_detector(det: Detector, model=None, device: str = "cpu") -> Detector:
    """Load ``det``'s weights (see :func:`fetched`) onto ``device``; sets ``det.model_name`` and
    ``det.model_version`` to what was loaded. A model that does not load is a RegistryError naming
    the version. Signal-processing detectors have nothing to load."""
    if det.pool != "model":
        return det
    from rayqa.nets.files import ModelLoadError, pick_device

    device = pick_device(device)
    with fetched(det.name, model) as (folder, name, version):
        try:
            det.load(folder, device)  # reads what it needs: the folder is not looked at again
        except ModelLoadError as e:
            raise RegistryError(f"{name} version {version} cannot be loaded: {e}") from e
    if device == "cpu":
        use_cpu_share()
    det.model_name, det.model_version = name, version
    return det


def verify(det: Detector, model=None) -> None:
    """Check, before any work starts, that ``model`` loads for ``det`` (raises RegistryError saying
    why); the weights are dropped again, the driver keeps only the name and version."""
    if det.pool == "model":
        load_detector(det, model, device="cpu")
        det.unload()
