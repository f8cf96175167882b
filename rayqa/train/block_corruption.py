"""``rayqa train block_corruption``: train the block-corruption network on simulated data.

1. Data: ``rayqa.simulate`` items (train-split pristine sources only) with H.264 bitstream
   corruption (most), pixel-domain block displacement and flat blocks, and clean items; the
   pristine kinds include the hard negatives (high-motion noise, crowds, fine texture, film-grain
   photo pans). Region masks (16x16 blocks) come from comparing each corrupt decode with the clean
   one. The same seed gives the same bytes, and the data's hash is logged.
2. Frames are decoded the way the scan decodes them (:mod:`rayqa.media`, RGB at the model's
   input size) and a per-item sample of damaged and undamaged frames is kept in memory.
3. Training on 128x128 crops at macroblock-aligned offsets (the map is then 4x4, each cell the
   mean of 2x2 mask blocks): binary cross-entropy on the map against the soft mask targets, plus
   the learned decision against "crop area ratio >= ``area_threshold``" (crops with less damage
   than that but some are left out of the decision loss). Fixed seed, fixed number of steps.
4. Validation on whole frames of held-back training items (v1 and v2 decisions), then the
   weights (float16), ``model.json`` and ``MODEL_CARD.md`` are written, everything is logged to
   MLflow, and a version of ``rayqa-block_corruption`` is registered.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import platform
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

DETECTOR = "block_corruption"
INPUT_W, INPUT_H = 320, 180
BLOCK = 16
# Item mix of the training set; `clean_fraction` more are left clean.
RECIPE_MIX = ["block_corruption", "block_corruption", "block_displacement", "block_corruption", "flat_blocks"]


@dataclass
class TrainConfig:
    seed: int = 0
    items: int = 320
    clean_fraction: float = 0.3
    val_fraction: float = 0.15
    steps: int = 1600
    batch: int = 32
    crop: int = 128
    lr: float = 2e-3
    weight_decay: float = 1e-4
    damaged_frames_per_item: int = 24
    clean_frames_per_item: int = 12
    area_threshold: float = 0.07
    # Operating points are calibrated on the validation frames: the lowest cell threshold (v1) and
    # learned threshold (v2) whose false-positive rate on undamaged frames is at most this.
    target_fpr: float = 0.02
    decision_loss_weight: float = 0.5
    threads: int = 0  # 0: every core

    def check(self) -> None:
        if self.crop % 32 or self.crop < 64 or self.crop > INPUT_H or not 0 < self.target_fpr < 1:
            raise ValueError(f"crop must be a multiple of 32 in [64, {INPUT_H}] and target_fpr in (0, 1)")
        if self.items < 10 or self.steps < 1 or self.batch < 2:
            raise ValueError("items >= 10, steps >= 1 and batch >= 2 are required")


# ---------------------------------------------------------------------------------------------
# Data


def dataset_dir(cfg: TrainConfig, data: str | os.PathLike | None) -> Path:
    from rayqa.registry import rayqa_home

    if data:
        return Path(data).resolve()
    return rayqa_home() / "datasets" / f"{DETECTOR}-train-seed{cfg.seed}-n{cfg.items}"


def make_data(folder: Path, cfg: TrainConfig, log=print) -> Path:
    """Simulate the training items into ``folder`` unless a complete set is already there."""
    from rayqa.simulate.dataset import SimConfig, make_dataset

    if (folder / "manifest.csv").is_file() and (folder / "labels.parquet").is_file():
        log(f"training data: reusing {folder}")
        return folder
    log(f"training data: simulating {cfg.items} items into {folder} (seed {cfg.seed})")
    started = time.perf_counter()
    make_dataset(folder, cfg.items, seed=cfg.seed, recipes=RECIPE_MIX, clean_fraction=cfg.clean_fraction,
                 cfg=SimConfig(width=INPUT_W, height=INPUT_H, split="train"))
    log(f"training data: {cfg.items} items in {time.perf_counter() - started:.0f} s")
    return folder


def data_hash(folder: Path) -> str:
    """sha256 over every media file and mask file of the set, in name order."""
    h = hashlib.sha256()
    for sub in ("media", "masks"):
        for p in sorted((folder / sub).glob("*")):
            h.update(p.name.encode())
            with open(p, "rb") as f:
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    h.update(chunk)
    return h.hexdigest()


def frame_masks(folder: Path, item_id: str, times: np.ndarray, shape_hw: tuple[int, int]) -> np.ndarray:
    """Block masks (n, rows, cols) for decoded frames at ``times``: from masks/<item>.npz when the
    item has one (nearest mask frame in time), otherwise all clear."""
    rows, cols = math.ceil(shape_hw[0] / BLOCK), math.ceil(shape_hw[1] / BLOCK)
    path = folder / "masks" / f"{item_id}.npz"
    if not path.is_file():
        return np.zeros((len(times), rows, cols), bool)
    with np.load(path) as z:
        mt, mm = z["times_s"], z["masks"].astype(bool)
    if mm.shape[1] in (rows - 1, rows) and mm.shape[2] in (cols - 1, cols):
        # Pixel-domain recipes cover whole blocks only (floor grid); the partial edge blocks are clear.
        mm = np.pad(mm, ((0, 0), (0, rows - mm.shape[1]), (0, cols - mm.shape[2])))
    else:
        raise ValueError(f"{path}: masks {mm.shape[1:]} do not fit frames {shape_hw}")
    idx = np.clip(np.searchsorted(mt, times - 1e-3), 0, len(mt) - 1)
    return mm[idx]


def decode_item(folder: str, item_id: str, uri: str, seed: int, n_damaged: int, n_clean: int) -> dict:
    """Decode one item as the scan would and keep a sample of its frames with their masks."""
    from rayqa import media
    from rayqa.types import VideoSpec

    folder = Path(folder)
    path = str(folder / uri)
    info = media.probe(path)
    spec = VideoSpec(fps=float(info.fps or 25.0), width=INPUT_W, height=INPUT_H, gray=False)
    (window,) = media.decode_windows(path, info, [(0.0, info.duration_s)], [spec], [], item_id=item_id)
    v = window.video[spec.key]
    masks = frame_masks(folder, item_id, v.times_s, (INPUT_H, INPUT_W))
    ratio = masks.mean(axis=(1, 2))
    rng = np.random.default_rng([seed, int(hashlib.sha1(item_id.encode()).hexdigest()[:8], 16)])

    def pick(idx: np.ndarray, k: int) -> np.ndarray:
        return np.sort(rng.choice(idx, size=min(k, len(idx)), replace=False)) if len(idx) else idx

    damaged = pick(np.flatnonzero(ratio > 0), n_damaged)
    clean = pick(np.flatnonzero(ratio == 0), n_clean if len(damaged) else n_clean * 2)
    keep = np.concatenate([damaged, clean]).astype(int)
    return {"item_id": item_id, "frames": v.frames[keep], "masks": masks[keep], "times": v.times_s[keep]}


def load_frames(folder: Path, cfg: TrainConfig, log=print) -> tuple[dict, dict]:
    """(train, val) frame sets: frames (N, H, W, 3) uint8, masks (N, rows, cols) bool, item ids."""
    manifest = pd.read_csv(folder / "manifest.csv", dtype={"item_id": str})
    ids = sorted(manifest["item_id"])
    rng = np.random.default_rng(cfg.seed)
    val_ids = set(rng.choice(ids, size=max(1, int(round(len(ids) * cfg.val_fraction))), replace=False))
    started = time.perf_counter()
    results = []
    with ProcessPoolExecutor(max_workers=max(1, min(4, os.cpu_count() or 1))) as pool:
        futures = [pool.submit(decode_item, str(folder), r.item_id, r.uri, cfg.seed, cfg.damaged_frames_per_item,
                               cfg.clean_frames_per_item) for r in manifest.itertuples()]
        results = [f.result() for f in futures]
    sets = {}
    for name, chosen in (("train", [r for r in results if r["item_id"] not in val_ids]),
                         ("val", [r for r in results if r["item_id"] in val_ids])):
        sets[name] = {
            "frames": np.concatenate([r["frames"] for r in chosen]),
            "masks": np.concatenate([r["masks"] for r in chosen]),
            "item_id": np.concatenate([[r["item_id"]] * len(r["frames"]) for r in chosen]),
        }
    log(f"frames: {len(sets['train']['frames'])} train, {len(sets['val']['frames'])} val "
        f"from {len(results)} items in {time.perf_counter() - started:.0f} s")
    return sets["train"], sets["val"]


# ---------------------------------------------------------------------------------------------
# Training


def crop_batch(data: dict, rng: np.random.Generator, cfg: TrainConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A batch of macroblock-aligned crops: half from damaged frames, half from undamaged ones.
    Returns frames (B, c, c, 3), map targets (B, c/32, c/32) and decision targets (B,) where
    NaN means "left out" (some damage, under the area threshold)."""
    damaged, clean = data["damaged_idx"], data["clean_idx"]
    c, cells = cfg.crop, cfg.crop // 32
    n_dmg = cfg.batch // 2 if len(damaged) else 0
    idx = np.concatenate([rng.choice(damaged, n_dmg), rng.choice(clean, cfg.batch - n_dmg)])
    xs, ts, ys = [], [], []
    for i in idx:
        oy = int(rng.integers(0, (INPUT_H - c) // BLOCK + 1)) * BLOCK
        ox = int(rng.integers(0, (INPUT_W - c) // BLOCK + 1)) * BLOCK
        img = data["frames"][i, oy:oy + c, ox:ox + c]
        m = data["masks"][i, oy // BLOCK:(oy + c) // BLOCK, ox // BLOCK:(ox + c) // BLOCK].astype(np.float32)
        if rng.random() < 0.5:
            img, m = img[:, ::-1], m[:, ::-1]
        t = m.reshape(cells, 2, cells, 2).mean(axis=(1, 3))
        area = float(m.mean())
        xs.append(img)
        ts.append(t)
        ys.append(1.0 if area >= cfg.area_threshold else (0.0 if area == 0 else np.nan))
    return np.stack(xs), np.stack(ts), np.asarray(ys, np.float32)


def auc(y: np.ndarray, s: np.ndarray) -> float:
    """ROC AUC by the rank-sum formula (ties count half)."""
    y = np.asarray(y, bool)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    order = np.argsort(s, kind="mergesort")
    ranks = np.empty(len(s))
    sorted_s = np.asarray(s)[order]
    # average ranks over ties
    _, first, counts = np.unique(sorted_s, return_index=True, return_counts=True)
    avg = first + (counts - 1) / 2.0 + 1
    ranks[order] = np.repeat(avg, counts)
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def decision_metrics(true_ratio: np.ndarray, scores: np.ndarray, flagged: np.ndarray,
                     area_threshold: float) -> dict:
    """AUC of ``scores`` and precision/recall/false-positive rate of ``flagged``; positives are
    frames with true area ratio >= area_threshold, negatives frames without damage."""
    pos, neg = true_ratio >= area_threshold, true_ratio == 0
    keep = pos | neg
    tp = int((flagged & pos).sum())
    fp = int((flagged & neg).sum())
    return {
        "auc": auc(pos[keep], scores[keep]),
        "precision": tp / max(1, tp + fp),
        "recall": tp / max(1, int(pos.sum())),
        "false_positive_rate": fp / max(1, int(neg.sum())),
        "positives": int(pos.sum()), "negatives": int(neg.sum()), "left_out": int((~keep).sum()),
    }


def calibrate(s: dict, true_ratio: np.ndarray, cfg: TrainConfig) -> tuple[float, float]:
    """Cell threshold (v1) and learned threshold (v2) at the validation false-positive target:
    the lowest threshold (most recall) whose rate of flagged undamaged frames is <= target_fpr."""
    neg = true_ratio == 0
    cell = 0.99
    for c in np.round(np.arange(0.50, 0.991, 0.01), 2):
        ratio = (s["maps"][neg] > c).mean(axis=(1, 2))
        if (ratio > cfg.area_threshold).mean() <= cfg.target_fpr:
            cell = float(c)
            break
    learned = float(max(0.5, np.quantile(s["learned"][neg], 1 - cfg.target_fpr))) if neg.any() else 0.5
    return cell, round(learned, 4)


def evaluate_frames(net, frames: np.ndarray, masks: np.ndarray, cfg: TrainConfig, device: str = "cpu",
                    thresholds: tuple[float, float] | None = None) -> tuple[dict, tuple[float, float]]:
    """v1 and v2 metrics on whole frames at ``thresholds`` (cell, learned), calibrated here when None."""
    from rayqa.nets.block_corruption import score_frames

    s = score_frames(net, frames, device=device, cell_threshold=0.5)
    true_ratio = masks.mean(axis=(1, 2))
    cell, learned = thresholds or calibrate(s, true_ratio, cfg)
    area = (s["maps"] > cell).mean(axis=(1, 2))
    v1 = decision_metrics(true_ratio, area + 1e-3 * s["map_mean"], area > cfg.area_threshold, cfg.area_threshold)
    v2 = decision_metrics(true_ratio, s["learned"], s["learned"] > learned, cfg.area_threshold)
    return {**{f"v1_{k}": v for k, v in v1.items()}, **{f"v2_{k}": v for k, v in v2.items()}}, (cell, learned)


def _log(msg: str) -> None:
    print(msg, flush=True)


def train(cfg: TrainConfig, data: str | os.PathLike | None = None, out: str | os.PathLike | None = None,
          register: bool = True, promote: bool = False, log=_log, weights: str | os.PathLike | None = None) -> dict:
    """The whole command; returns the metrics and where the model went.

    With ``weights`` (a model folder trained earlier, here or elsewhere) the training steps are
    skipped and those weights are validated, calibrated, written and registered like new ones."""
    import torch

    from rayqa.nets import block_corruption as net_mod
    from rayqa.registry import rayqa_home
    from rayqa.tracking import TrackedRun

    cfg.check()
    started = time.perf_counter()
    folder = make_data(dataset_dir(cfg, data), cfg, log)
    digest = data_hash(folder)
    train_set, val_set = load_frames(folder, cfg, log)
    for s in (train_set, val_set):
        s["ratio"] = s["masks"].mean(axis=(1, 2))
        s["damaged_idx"] = np.flatnonzero(s["ratio"] > 0)
        s["clean_idx"] = np.flatnonzero(s["ratio"] == 0)

    torch.manual_seed(cfg.seed)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    net = net_mod.BlockCorruptionNet().to(memory_format=torch.channels_last)
    if weights is not None:
        net, prior = net_mod.load(weights)
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=cfg.steps, pct_start=0.15)
    bce = torch.nn.BCEWithLogitsLoss(reduction="none")
    rng = np.random.default_rng(cfg.seed)

    run = TrackedRun(f"rayqa-train-{DETECTOR}", f"train-{DETECTOR}-seed{cfg.seed}") if register else None
    if run is not None:
        run.log_params({
            **asdict(cfg), "data_dir": str(folder), "data_sha256": digest, "train_frames": len(train_set["frames"]),
            "val_frames": len(val_set["frames"]), "torch": torch.__version__,
            **({"weights_from": str(weights)} if weights is not None else {})})

    history = []
    net.train()
    t_train = time.perf_counter()
    for step in range(1, cfg.steps + 1 if weights is None else 1):
        x, t, y = crop_batch(train_set, rng, cfg)
        logits, frame_logit = net(net_mod.to_input(x))
        target = torch.from_numpy(t).unsqueeze(1)
        map_loss = bce(logits, target).mean()
        yt = torch.from_numpy(y)
        w = (~torch.isnan(yt)).float()
        dec_loss = (bce(frame_logit, torch.nan_to_num(yt)) * w).sum() / w.sum().clamp(min=1)
        loss = map_loss + cfg.decision_loss_weight * dec_loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        history.append((map_loss.item(), dec_loss.item()))
        if step % 50 == 0 or step == cfg.steps:
            m, d = np.mean(history[-50:], axis=0)
            rate = step * cfg.batch / (time.perf_counter() - t_train)
            log(f"step {step}/{cfg.steps}: map loss {m:.4f}, decision loss {d:.4f}, {rate:.1f} crops/s")
            if run is not None:
                run.log_metrics({"train_map_loss": m, "train_decision_loss": d}, step)
    train_s = time.perf_counter() - t_train if weights is None else float(prior.get("train_seconds", 0.0))

    out = Path(out) if out else rayqa_home() / "models" / DETECTOR
    meta = net_mod.save(net, out, {
        "detector": DETECTOR, "input_width": INPUT_W, "input_height": INPUT_H, "block": BLOCK,
        "area_threshold": cfg.area_threshold,
        "train_config": asdict(cfg), "data_sha256": digest, "data_items": cfg.items,
        "torch": torch.__version__, "python": platform.python_version(), "train_seconds": round(train_s, 1),
    })
    # Metrics of the weights as shipped (float16 on disk), not of the float32 ones in memory.
    shipped, _ = net_mod.load(out)
    raw, (cell, learned) = evaluate_frames(shipped, val_set["frames"], val_set["masks"], cfg)
    meta["cell_threshold"], meta["learned_threshold"] = cell, learned
    meta["calibration"] = {"target_fpr": cfg.target_fpr, "on": "validation frames (held-back training items)"}
    metrics = {k: round(v, 4) if isinstance(v, float) else v for k, v in raw.items()}
    meta["metrics"] = {f"val_{k}": v for k, v in metrics.items() if isinstance(v, float)}
    meta["val_counts"] = {k: v for k, v in metrics.items() if not isinstance(v, float)}
    (out / net_mod.MODEL_FILE).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
    (out / "MODEL_CARD.md").write_text(model_card(meta))
    log("validation (whole frames of held-back training items): " + ", ".join(f"{k} {v}" for k, v in metrics.items()))

    version = None
    if run is not None:
        version = run.registry.register_trained(DETECTOR, out, run.run_id, meta["metrics"], cfg.steps, digest, promote, log)
    log(f"model written to {out} in {time.perf_counter() - started:.0f} s")
    return {"out": str(out), "metrics": meta["metrics"], "version": version, "data_sha256": digest,
            "train_seconds": train_s}


def model_card(meta: dict) -> str:
    m = meta.get("metrics", {})
    cfg = meta.get("train_config", {})

    def f(k):
        v = m.get(k)
        return "n/a" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.3f}"

    counts = meta.get("val_counts", {})
    return f"""# Model card: rayqa-block_corruption ({meta['arch']})

Produced by `rayqa train block_corruption --seed {cfg.get('seed')} --items {cfg.get('items')} --steps {cfg.get('steps')}`
(torch {meta.get('torch')}, {meta.get('train_seconds')} s of training on the machine that made it).
Weights: `{meta['weights']}` (float16), sha256 `{meta['weights_sha256']}`.

## What it does
A ResNet18 trunk (torchvision architecture, trained from scratch: no pretrained weights can be
downloaded) whose classifier is replaced by a 1x1 convolution: a corruption probability for every
32x32 region of the frame. The map follows the input size ({meta['input_width']}x{meta['input_height']} → 6x10,
224x224 → 7x7, 1920x1080 → 34x60).
- v1 decision (`decision = "area_ratio"`): cells above {meta['cell_threshold']} count as corrupted;
  the frame is flagged when the corrupted-area ratio exceeds {meta['area_threshold']}. The cell
  threshold is calibrated on the validation frames for at most {round(100 * cfg.get('target_fpr', 0), 1)} % flagged undamaged frames.
- v2 decision (`decision = "learned"`): a small head (5 map statistics → 16 → 1) trained jointly
  with the map; flagged above {meta['learned_threshold']} (calibrated the same way).

## Data
Simulated with `rayqa simulate` code, train-split pristine sources only (procedural scenes,
scikit-image photos; see rayqa/simulate/SOURCES.md), {meta.get('data_items')} items of 10 s at
320x180, 25 fps, H.264 GOP 50: H.264 bitstream damage in P-frames (flip/zero/drop, decoded and
masked against the clean decode), pixel-domain block displacement and flat blocks, and clean
items; the pristine kinds include high-motion noise, crowds, fine texture and grainy photo pans
as hard negatives. Training data sha256 `{meta.get('data_sha256')}`.
Trained on {cfg.get('crop')}x{cfg.get('crop')} crops at macroblock-aligned offsets, {cfg.get('steps')} steps of {cfg.get('batch')}.

## Metrics (whole frames of {round(100 * cfg.get('val_fraction', 0))}% of the training items held back, at the calibrated thresholds)
Positives: frames with at least {meta['area_threshold']} of their area damaged ({counts.get('v1_positives')});
negatives: frames with no damage ({counts.get('v1_negatives')}); {counts.get('v1_left_out')} frames with less damage left out.

| decision | ROC AUC | precision | recall | false-positive rate |
|---|---|---|---|---|
| v1 area ratio | {f('val_v1_auc')} | {f('val_v1_precision')} | {f('val_v1_recall')} | {f('val_v1_false_positive_rate')} |
| v2 learned | {f('val_v2_auc')} | {f('val_v2_precision')} | {f('val_v2_recall')} | {f('val_v2_false_positive_rate')} |

The held-out evaluation (pristine sources training never saw, side by side with FFmpeg's
`blockdetect`, a high-motion/crowd subset, event recall by sampling rate) is
`python bench/block_corruption.py`; its figures are in the README.

## Limits
- Trained at 320x180, where an H.264 macroblock is 16 pixels. The scan scales every frame to
  the model's input size, so on HD content a macroblock shrinks to 3-5 pixels: large smeared
  corruption is still visible, isolated single-macroblock errors are not. Accuracy on real
  (not simulated) corruption and on HD content is unmeasured.
- Only H.264 damage and pixel-domain block faults are simulated; HEVC/AV1 artefacts differ.
- Synthetic content only: no film, animation or broadcast graphics were in the training data.
- Reproducibility: the same seed, data and software on the same machine and thread count give
  the same weights byte for byte (checked at toy size by `tests/test_block_corruption.py`);
  on other CPUs or thread counts floating-point differences accumulate over the steps, so expect
  the metrics above to move by a few hundredths (not measured at full size).
- Validation frames come from the training distribution; calibration there is optimistic about
  the false-positive rate on new content (see the held-out benchmark).
"""
