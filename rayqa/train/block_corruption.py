"""``rayqa train block_corruption``: train the block-corruption network on real pristine video.

1. Data (train split of :mod:`rayqa.simulate.real` only: real photographs under camera moves,
   real footage, title cards; 640x360, 25 fps, H.264 GOP 50). From each rendered item:
   * ``file``: H.264 bitstream damage in P-frames (flip / zero / drop, one or two spans), decoded
     as the scan decodes it; per-macroblock scores from comparing with the clean decode;
   * ``capture``: that corrupt decode re-encoded cleanly (x264, crf 17-30): the damage is in the
     picture only, the bitstream is intact (:func:`rayqa.simulate.bitstream.capture`);
   * ``pixel``: pixel-domain block displacement or flat blocks, encoded;
   * hard negatives: the clean encode, the encoder's own blocking at a low bitrate (crf 36-48)
     or film grain; the programme itself brings high motion (fast hand-held pans, real footage),
     text and graphics (title cards).
   Plus a few minutes of clean train-split programme sampled at the detector's rate, for the
   operating point. The same seed gives the same bytes, and the data's hash is logged.
2. Frames are the scan's (:mod:`rayqa.media`, 320x180 luma, nearest samples), a per-variant
   sample of damaged and undamaged frames is kept.
3. Training on 96x160 crops at 8-pixel-aligned offsets: per-cell binary cross-entropy against the
   macroblock scores (a cell is damaged above ``pos_score``, clean at or below ``neg_score``,
   left out between), plus the frame score (top 2 % of cells) against "the crop has damage".
4. Validation on whole frames of held-back items (AUC of the frame score), the operating point
   (the lowest threshold that flags at most ``target_fpr`` of undamaged validation frames and no
   ``min_samples``-long run on the clean calibration programme), then the weights (float16),
   ``model.json`` and ``MODEL_CARD.md``, MLflow logging and a registered version.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import platform
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

DETECTOR = "block_corruption"
W, H, FPS, GOP = 640, 360, 25, 50  # the rendered items
INPUT_W, INPUT_H = 320, 180  # the model's input (the scan's frames)
BLOCK = 16  # macroblock at 640x360 = one 8x8 map cell at 320x180
CELLS = (math.ceil(INPUT_H / 8), INPUT_W // 8)  # (23, 40)
RELEASE = 2  # the shipped model's generation: 1 was 0.2.0-0.5.0's ResNet18 map on synthetic scenes
VARIANTS = ("clean", "file", "capture", "pixel", "lowrate", "grain")


@dataclass
class TrainConfig:
    seed: int = 0
    items: int = 120
    duration_s: float = 10.0
    calib_items: int = 0  # clean programme items (60 s each) for the operating point; 0: items // 10
    val_fraction: float = 0.15
    steps: int = 3000
    batch: int = 64
    crop_h: int = 96
    crop_w: int = 160
    lr: float = 3e-3
    weight_decay: float = 1e-4
    width: int = 16
    input: str = "luma"  # what the net reads: "luma" (the shipped release 2) or "yuv" (Y, U, V as coded)
    pos_score: float = 6.0  # a cell is damaged when its macroblock's mean difference exceeds this
    neg_score: float = 2.0  # and clean at or below this (between: left out of the loss)
    frame_loss_weight: float = 0.5
    clean_frames: int = 40  # undamaged frames kept per item from the clean encode
    hard_frames: int = 24  # and from its low-bitrate or grainy encode
    damaged_share: float = 0.4  # of each batch, crops from damaged frames (the rest: undamaged, hardest first)
    more_photos: bool = False  # add real.MORE_PHOTO_PACKAGES' photographs to the train split's (not release 2)
    augment: float = 0.0  # share of crops given a random tone change (gain, offset, gamma) and sensor noise
    mine_items: int = 0  # clean train-split programme items (60 s each, apart from calibration) mined for hard negatives
    mine_every: int = 750  # steps between mining rounds (the first after this many steps)
    mine_share: float = 0.25  # of each batch, crops of mined frames, centred on their most probable cell
    # A learned frame decision over the frozen map (DecisionHead), trained on items drawn from
    # photographs the map never saw (real.MORE_PHOTO_PACKAGES'): 0 items, none (release 2).
    decision_items: int = 0
    decision_steps: int = 1500
    decision_lr: float = 1e-3
    decision_reads: str = "map"  # the logit map alone, or "features": the trunk's features too
    target_fpr: float = 0.005
    fps: float = 5.0  # the detector's sampling rate (calibration)
    min_samples: int = 2  # the detector's event rule (calibration)
    threads: int = 0  # 0: every core
    workers: int = 2  # data simulation processes

    def check(self) -> None:
        if self.crop_h % 8 or self.crop_w % 8 or self.crop_h > INPUT_H or self.crop_w > INPUT_W or self.crop_h < 32:
            raise ValueError(f"crops must be multiples of 8, at least 32 and at most {INPUT_H}x{INPUT_W}")
        if self.items < 4 or self.steps < 1 or self.batch < 2 or not 0 < self.target_fpr < 1:
            raise ValueError("items >= 4, steps >= 1, batch >= 2 and target_fpr in (0, 1) are required")
        if not 4 <= self.width <= 64:
            raise ValueError(f"width is the first layer's channels, 4 to 64, got {self.width}")
        from rayqa.nets.block_inputs import check_input

        check_input(self.input)
        if not 0 <= self.augment <= 1:
            raise ValueError("augment is a share of crops, in [0, 1]")
        if self.mine_items < 0 or self.mine_every < 1 or not 0 <= self.mine_share <= 1 - self.damaged_share:
            raise ValueError(f"mine_items >= 0, mine_every >= 1 and mine_share in [0, {1 - self.damaged_share:g}] "
                             "(the batch's undamaged share) are required")
        if self.decision_items and (self.decision_items < 4 or self.decision_steps < 1):
            raise ValueError("decision_items is 0 (no learned decision) or at least 4, with decision_steps >= 1")
        if self.decision_reads not in ("map", "features"):
            raise ValueError(f"decision_reads is 'map' or 'features', got {self.decision_reads!r}")
        if self.decision_items and self.more_photos:
            raise ValueError("--decision-items trains the decision on the more-photos pictures, so the map must not "
                             "have seen them: not with --more-photos")


# ---------------------------------------------------------------------------------------------
# Data


def dataset_dir(cfg: TrainConfig, data: str | os.PathLike | None) -> Path:
    from rayqa.registry import rayqa_home

    if data:
        return Path(data).resolve()
    kind = "" if cfg.input == "luma" else f"-{cfg.input}"  # the luma set's name is the shipped model's
    kind += "-morephotos" if cfg.more_photos else ""
    return rayqa_home() / "datasets" / f"{DETECTOR}-real-train-seed{cfg.seed}-n{cfg.items}{kind}"


def train_photos(cfg: TrainConfig, split: str):
    """The photographs a ``split`` item draws from: None (the split's own) unless ``more_photos``
    adds :data:`rayqa.simulate.real.MORE_PHOTO_PACKAGES`' to the train split's."""
    from rayqa.simulate import real

    if split != "train" or not cfg.more_photos:
        return None
    return real.split_files("photo", "train") + _more_photos("--more-photos")


def _more_photos(flag: str) -> tuple[Path, ...]:
    """:data:`rayqa.simulate.real.MORE_PHOTO_PACKAGES`' photographs; refused, saying what to install, without them."""
    from rayqa.simulate import real

    more = real.more_photos()
    if not more:
        raise real.SimulationError(f"{flag} needs {', '.join(real.MORE_PHOTO_PACKAGES)} installed "
                                   f"(`make real-media`, or apt-get install {' '.join(real.MORE_PHOTO_PACKAGES)})")
    return more


def decision_dir(cfg: TrainConfig, data: str | os.PathLike | None) -> Path:
    """The decision's own items (pictures the map never saw), beside the map's set."""
    maps = dataset_dir(cfg, data)
    return maps.with_name(f"{maps.name}-decision-n{cfg.decision_items}")


def decision_photos() -> tuple[Path, ...]:
    return _more_photos("--decision-items")


def encode_rgb(path: Path, frames, crf: float) -> Path:
    """RGB frames to H.264 at ``crf`` (GOP 50, ultrafast, one thread), as rayqa.synth.encode at crf 23."""
    from rayqa.simulate.bitstream import encode_yuv

    def planes():
        import cv2

        for f in frames:
            yuv = cv2.cvtColor(np.ascontiguousarray(f), cv2.COLOR_RGB2YUV_I420)
            h, w = f.shape[:2]
            yield [yuv[:h], yuv[h:h + h // 4].reshape(h // 2, w // 2), yuv[h + h // 4:].reshape(h // 2, w // 2)]

    return encode_yuv(path, planes(), FPS, crf=crf, gop=GOP)


def input_spec(fps: float, input: str = "luma"):
    """The scan's frames the net reads: 320x180 full-range luma, or Y, U and V as coded (``yuv``)."""
    from rayqa.nets.block_inputs import input_spec as spec

    return spec(input, fps, INPUT_W, INPUT_H)


def scan_frames(path: Path, fps: float, input: str = "luma") -> tuple[np.ndarray, np.ndarray, list]:
    """The scan's 320x180 frames of a file at ``fps`` (times, frames) and the decoder's damage."""
    from rayqa import media

    info = media.probe(str(path))
    spec = input_spec(fps, input)
    (w,) = media.decode_windows(str(path), info, [(0.0, info.duration_s)], [spec], [], item_id=path.stem)
    v = w.video[spec.key]
    return v.times_s, v.frames, w.damage


def cell_scores(scores: np.ndarray) -> np.ndarray:
    """Macroblock scores (n, rows, cols) at 640x360 → the map's cells (n, 23, 40), zero-padded."""
    n, r, c = scores.shape
    out = np.zeros((n, *CELLS), np.float32)
    out[:, : min(r, CELLS[0]), : min(c, CELLS[1])] = scores[:, : CELLS[0], : CELLS[1]]
    return out


def _sample(path: Path, times_s, scores, variant: str, rng, cfg: TrainConfig, n_damaged=24, n_clean=8) -> dict:
    t, frames, _ = scan_frames(path, FPS, cfg.input)
    if scores is None:
        sc = np.zeros((len(t), *CELLS), np.float32)
    else:
        idx = np.clip(np.searchsorted(times_s, t - 1e-3), 0, len(times_s) - 1)
        sc = cell_scores(scores)[idx]
    dmg = np.flatnonzero((sc > cfg.pos_score).any(axis=(1, 2)))
    clean = np.flatnonzero((sc <= cfg.neg_score).all(axis=(1, 2)))
    pick = lambda a, k: np.sort(rng.choice(a, size=min(k, len(a)), replace=False)) if len(a) else a  # noqa: E731
    keep = np.concatenate([pick(dmg, n_damaged), pick(clean, n_clean)]).astype(int)
    return {"frames": frames[keep], "scores": sc[keep].astype(np.float16), "variant": [variant] * len(keep)}


def simulate_item(folder: str, idx: int, cfg: TrainConfig, split: str = "train", decision: bool = False) -> str:
    """One training item's frames (every variant) into ``folder/items/NNNN.npz``; skipped when there.
    ``decision``: an item of the decision's set (its own seed stream, the more-photos pictures only)."""
    from rayqa.simulate import bitstream as B
    from rayqa.simulate import real
    from rayqa.simulate import video as V

    out = Path(folder) / "items" / f"{idx:04d}.npz"
    if out.exists():
        return str(out)
    rng = np.random.default_rng([cfg.seed, idx, 1820 if decision else 18])
    dur = cfg.duration_s
    shots = real.plan_shots(dur, rng, split, photos=decision_photos() if decision else train_photos(cfg, split))
    fade_in = float(rng.uniform(0.3, 1.0)) if rng.random() < 0.3 else 0.0
    frames = np.stack(list(real.render(shots, FPS, W, H, rng, fade_in, 0.0)))
    parts = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        clean = encode_rgb(tmp / "clean.mp4", frames, 23)
        parts.append(_sample(clean, None, None, "clean", rng, cfg, n_clean=cfg.clean_frames))
        # A corrupt file: one or two damaged spans, each smearing until the next keyframe.
        bad, src = tmp / "bad.mp4", clean
        for k in range(1 + int(rng.random() < 0.4)):
            start = float(rng.uniform(0.3, dur - 1.3)) if k == 0 else float(rng.uniform(0.3, dur - 1.3))
            length = float(rng.uniform(0.1, 1.0))
            mode = str(rng.choice(["flip", "flip", "zero", "drop"]))
            intensity = float(np.exp(rng.uniform(np.log(0.003), np.log(0.05))))
            try:
                B.corrupt_bitstream(src, bad, start, start + length, rng, mode=mode, intensity=intensity)
                src = bad
            except Exception:  # a span with only a keyframe in it: draw no damage there
                continue
        if src == bad:
            ts, sc = B.block_score_maps(clean, bad)
            parts.append(_sample(bad, ts, sc, "file", rng, cfg))
            cap = B.capture(clean, bad, tmp / "cap.mp4", crf=float(rng.uniform(17, 30)))
            parts.append(_sample(cap, ts, sc, "capture", rng, cfg))
        # Pixel-domain displacement or flat blocks.
        start = float(rng.uniform(0.3, dur - 1.8))
        span = (start, start + float(rng.uniform(0.2, 1.5)))
        area = float(rng.uniform(0.03, 0.4))
        if rng.random() < 0.5:
            new, _, masks = V.add_block_displacement(frames, FPS, *span, block=BLOCK, area_ratio=area,
                                                     max_shift=int(rng.integers(8, 49)), rng=rng)
        else:
            new, _, masks = V.add_flat_blocks(frames, FPS, *span, block=BLOCK, area_ratio=area,
                                              fill=str(rng.choice(["mean", "green", "mixed"])), rng=rng)
        px = encode_rgb(tmp / "pixel.mp4", new, 23)
        parts.append(_sample(px, np.arange(len(frames)) / FPS, masks.astype(np.float32) * 255, "pixel", rng, cfg))
        del new
        # Hard negatives: the encoder's own blocking at a low bitrate, or film grain.
        if idx % 2 == 0:
            low = encode_rgb(tmp / "low.mp4", frames, float(rng.uniform(36, 48)))
            parts.append(_sample(low, None, None, "lowrate", rng, cfg, n_clean=cfg.hard_frames))
        else:
            sigma = float(rng.uniform(2.0, 7.0))
            grain_rng = np.random.default_rng([cfg.seed, idx, 7])
            grainy = (np.clip(f + grain_rng.normal(0, sigma, f.shape[:2])[..., None], 0, 255).astype(np.uint8) for f in frames)
            g = encode_rgb(tmp / "grain.mp4", grainy, float(rng.uniform(18, 26)))
            parts.append(_sample(g, None, None, "grain", rng, cfg, n_clean=cfg.hard_frames))
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp_out = out.with_suffix(".part.npz")
    np.savez_compressed(tmp_out, frames=np.concatenate([p["frames"] for p in parts]),
                        scores=np.concatenate([p["scores"] for p in parts]),
                        variant=np.asarray(sum((p["variant"] for p in parts), [])))
    os.replace(tmp_out, out)
    return str(out)


def simulate_calibration(folder: str, idx: int, cfg: TrainConfig, seconds: float = 60.0, split: str = "train",
                         sub: str = "calib") -> str:
    """Clean programme sampled at the detector's rate into ``folder/<sub>/NNN.npz`` (frames only):
    ``calib`` for the operating point, ``mine`` (another seed stream) for hard-negative mining."""
    from rayqa.simulate import real

    out = Path(folder) / sub / f"{idx:03d}.npz"
    if out.exists():
        return str(out)
    rng = np.random.default_rng([cfg.seed, idx, 1818 if sub == "calib" else 1819])
    frames = real.render(real.plan_shots(seconds, rng, split, photos=train_photos(cfg, split)), FPS, W, H, rng,
                         float(rng.uniform(0.3, 1.0)), 0.0)
    with tempfile.TemporaryDirectory() as tmp:
        path = encode_rgb(Path(tmp) / "calib.mp4", frames, 23)
        _, f, _ = scan_frames(path, cfg.fps, cfg.input)
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out.with_suffix(".part.npz"), frames=f)
    os.replace(out.with_suffix(".part.npz"), out)
    return str(out)


def n_calib(cfg: TrainConfig) -> int:
    return cfg.calib_items or max(1, cfg.items // 10)


def make_data(folder: Path, cfg: TrainConfig, log=print) -> Path:
    """Simulate the training items into ``folder`` (items already there are kept)."""
    from rayqa.simulate import real

    real.require(("photo",))
    train_photos(cfg, "train")  # --more-photos without its package: refused before any work
    started = time.perf_counter()
    todo = [i for i in range(cfg.items) if not (folder / "items" / f"{i:04d}.npz").exists()]
    cal = [i for i in range(n_calib(cfg)) if not (folder / "calib" / f"{i:03d}.npz").exists()]
    mine = [i for i in range(cfg.mine_items) if not (folder / "mine" / f"{i:03d}.npz").exists()]
    if not todo and not cal and not mine:
        log(f"training data: reusing {folder}")
        return folder
    log(f"training data: simulating {len(todo)} items, {len(cal)} calibration and {len(mine)} mining minutes "
        f"into {folder} (seed {cfg.seed})")
    folder.mkdir(parents=True, exist_ok=True)
    with ProcessPoolExecutor(max_workers=max(1, cfg.workers)) as pool:
        futures = [pool.submit(simulate_item, str(folder), i, cfg) for i in todo]
        futures += [pool.submit(simulate_calibration, str(folder), i, cfg, 60.0 if cfg.items >= 20 else 10.0) for i in cal]
        futures += [pool.submit(simulate_calibration, str(folder), i, cfg, 60.0 if cfg.items >= 20 else 10.0, "train", "mine")
                    for i in mine]
        for k, f in enumerate(futures):
            f.result()
            if (k + 1) % 20 == 0:
                log(f"  {k + 1}/{len(futures)} in {time.perf_counter() - started:.0f} s")
    log(f"training data: done in {time.perf_counter() - started:.0f} s")
    return folder


def make_decision_data(folder: Path, cfg: TrainConfig, log=print) -> Path:
    """Simulate the decision's items into ``folder`` (items already there are kept)."""
    photos = decision_photos()
    todo = [i for i in range(cfg.decision_items) if not (folder / "items" / f"{i:04d}.npz").exists()]
    if not todo:
        log(f"decision data: reusing {folder}")
        return folder
    started = time.perf_counter()
    log(f"decision data: simulating {len(todo)} items from {len(photos)} pictures the map never saw "
        f"into {folder}")
    folder.mkdir(parents=True, exist_ok=True)
    with ProcessPoolExecutor(max_workers=max(1, cfg.workers)) as pool:
        for f in [pool.submit(simulate_item, str(folder), i, cfg, "train", True) for i in todo]:
            f.result()
    log(f"decision data: done in {time.perf_counter() - started:.0f} s")
    return folder


def data_hash(folder: Path, cfg: TrainConfig | None = None) -> str:
    """sha256 over the set's item and calibration files (and, with ``cfg.mine_items``, its first
    ``mine_items`` mining files), in name order."""
    h = hashlib.sha256()
    mine = sorted((folder / "mine").glob("*.npz"))[: cfg.mine_items] if cfg is not None and cfg.mine_items else []
    for sub in ("items", "calib", "mine"):
        paths = mine if sub == "mine" else sorted((folder / sub).glob("*.npz"))
        for p in paths:
            h.update(p.name.encode())
            with open(p, "rb") as f:
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    h.update(chunk)
    return h.hexdigest()


def load_frames(folder: Path, cfg: TrainConfig, log=print) -> tuple[dict, dict, np.ndarray]:
    """(train, val) frame sets (frames (N, 180, 320) uint8, scores (N, 23, 40), variant) and the
    calibration programme's frames (M, 180, 320), in item order."""
    ids = list(range(cfg.items))
    rng = np.random.default_rng(cfg.seed)
    val_ids = set(rng.choice(ids, size=max(1, int(round(len(ids) * cfg.val_fraction))), replace=False).tolist())
    sets = {"train": [], "val": []}
    for i in ids:
        with np.load(folder / "items" / f"{i:04d}.npz") as z:
            sets["val" if i in val_ids else "train"].append({k: z[k] for k in ("frames", "scores", "variant")})
    out = {}
    for name, parts in sets.items():
        out[name] = {k: np.concatenate([p[k] for p in parts]) for k in ("frames", "scores", "variant")}
    calib = []
    for i in range(n_calib(cfg)):
        with np.load(folder / "calib" / f"{i:03d}.npz") as z:
            calib.append(z["frames"])
    log(f"frames: {len(out['train']['frames'])} train, {len(out['val']['frames'])} val, "
        f"{sum(len(c) for c in calib)} calibration samples")
    return out["train"], out["val"], calib


def load_mining(folder: Path, cfg: TrainConfig) -> np.ndarray:
    """The mining programme's frames (N, 180, 320), in item order (empty without ``mine_items``)."""
    parts = []
    for i in range(cfg.mine_items):
        with np.load(folder / "mine" / f"{i:03d}.npz") as z:
            parts.append(z["frames"])
    return np.concatenate(parts) if parts else np.zeros((0, INPUT_H, INPUT_W) + ((3,) if cfg.input == "yuv" else ()), np.uint8)


def mine_round(net, mined: dict, log=print) -> None:
    """Score every mining frame with the net as it is now: its hardness becomes the frame loss of
    an undamaged frame at that score, and its crop centre the most probable cell."""
    from rayqa.nets.block_corruption import score_frames

    net.eval()
    r = score_frames(net, mined["frames"], batch=64)
    net.train()
    s = np.clip(r["score"].astype(np.float64), 1e-5, 1 - 1e-5)
    mined["hardness"] = -np.log1p(-s) + 0.05
    flat = r["maps"].reshape(len(s), -1).argmax(axis=1)
    mined["focus"] = np.stack(np.unravel_index(flat, r["maps"].shape[1:]), axis=1).astype(int)
    top = np.sort(s)[::-1]
    log(f"mining: {len(s)} clean programme frames scored; top scores {', '.join(f'{v:.3f}' for v in top[:5])}; "
        f"{int((s > 0.5).sum())} above 0.5, {int((s > 0.9).sum())} above 0.9")


# ---------------------------------------------------------------------------------------------
# Training


def crop_batch(data: dict, rng: np.random.Generator, cfg: TrainConfig, mined: dict | None = None) -> tuple:
    """A batch of 8-pixel-aligned crops, ``damaged_share`` from damaged frames, ``mine_share`` from
    the mined clean programme (once a mining round has scored it; drawn by hardness), the rest from
    undamaged frames by hardness: frames (B, ch, cw), cell targets (B, ch/8, cw/8) with NaN for
    left-out cells, frame targets (B,) (NaN: left out) and each crop's frame: its index in ``data``,
    or ``-1 - j`` for mined frame ``j`` (mined crops come last)."""
    damaged, clean = data["damaged_idx"], data["clean_idx"]
    ch, cw = cfg.crop_h, cfg.crop_w
    n_dmg = int(round(cfg.batch * cfg.damaged_share)) if len(damaged) else 0
    mined = mined if mined is not None and mined.get("hardness") is not None and len(mined["frames"]) else None
    n_mine = int(round(cfg.batch * cfg.mine_share)) if mined is not None else 0
    hard = data.get("hardness")
    p = None if hard is None else hard / hard.sum()
    idx = np.concatenate([rng.choice(damaged, n_dmg), rng.choice(clean, cfg.batch - n_dmg - n_mine, p=p)])
    if n_mine:
        idx = np.concatenate([idx, -1 - rng.choice(len(mined["frames"]), n_mine, p=mined["hardness"] / mined["hardness"].sum())])
    xs, ts, ys = [], [], []
    zero = np.zeros((ch // 8, cw // 8), np.float32)
    for i in idx.tolist():
        if i >= 0:
            oy = int(rng.integers(0, (INPUT_H - ch) // 8 + 1)) * 8
            ox = int(rng.integers(0, (INPUT_W - cw) // 8 + 1)) * 8
            img = data["frames"][i, oy:oy + ch, ox:ox + cw]
            s = data["scores"][i, oy // 8:(oy + ch) // 8, ox // 8:(ox + cw) // 8].astype(np.float32)
        else:  # a mined frame: an aligned crop that holds its most probable cell, undamaged throughout
            j = -1 - i
            r, c = (int(v) for v in mined["focus"][j])
            oy = _focus_offset(r, ch, INPUT_H, rng)
            ox = _focus_offset(c, cw, INPUT_W, rng)
            img = mined["frames"][j, oy:oy + ch, ox:ox + cw]
            s = zero
        if rng.random() < 0.5:
            img, s = img[:, ::-1], s[:, ::-1]
        if cfg.augment and rng.random() < cfg.augment:
            if img.ndim == 3:  # Y, U, V: the tone curve is the luma's
                img = np.concatenate([tone_jitter(img[..., 0], rng)[..., None], img[..., 1:]], axis=-1)
            else:
                img = tone_jitter(img, rng)
        t = np.where(s > cfg.pos_score, 1.0, np.where(s <= cfg.neg_score, 0.0, np.nan)).astype(np.float32)
        xs.append(img)
        ts.append(t)
        ys.append(1.0 if np.nansum(t) >= 2 else (0.0 if np.all(t == 0) else np.nan))
    return np.stack(xs), np.stack(ts), np.asarray(ys, np.float32), idx


def _focus_offset(cell: int, size: int, full: int, rng: np.random.Generator) -> int:
    """An 8-aligned crop offset along one axis whose ``size`` pixels hold cell ``cell`` (as far as
    the frame allows: the last, partial row of cells is in no crop)."""
    hi = (full - size) // 8
    lo_c, hi_c = max(0, cell - size // 8 + 1), min(hi, cell)
    if lo_c > hi_c:
        lo_c = hi_c = min(hi, max(0, cell - size // 8 + 1))
    return int(rng.integers(lo_c, hi_c + 1)) * 8


# The training crops' tone augmentation (``augment``), one place for the code and the model card.
JITTER_GAMMA, JITTER_GAIN, JITTER_OFFSET = (0.67, 1.5), (0.65, 1.5), 30.0  # log-uniform, log-uniform, +-grey levels
JITTER_NOISE_SHARE, JITTER_NOISE_SIGMA = 1 / 3, (1.0, 4.0)


def tone_jitter(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A luma crop through a random tone curve (``JITTER_GAMMA``, ``JITTER_GAIN``, offset within
    ``JITTER_OFFSET`` grey levels) and, for ``JITTER_NOISE_SHARE`` of crops, Gaussian noise: the
    train split's few photographs and clips under other exposures, grades and sensors, so the net
    learns what damage looks like rather than what those pictures look like. Damage stays damage
    under it (a monotonic curve keeps every block edge), so the targets are unchanged."""
    gamma = float(np.exp(rng.uniform(*np.log(JITTER_GAMMA))))
    gain = float(np.exp(rng.uniform(*np.log(JITTER_GAIN))))
    offset = float(rng.uniform(-JITTER_OFFSET, JITTER_OFFSET))
    lut = np.clip(255.0 * (np.arange(256) / 255.0) ** gamma * gain + offset, 0, 255)
    out = lut[img]
    if rng.random() < JITTER_NOISE_SHARE:
        out = out + rng.normal(0.0, float(rng.uniform(*JITTER_NOISE_SIGMA)), out.shape)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def auc(y: np.ndarray, s: np.ndarray) -> float:
    """ROC AUC by the rank-sum formula (ties count half)."""
    y = np.asarray(y, bool)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    order = np.argsort(s, kind="mergesort")
    ranks = np.empty(len(s))
    sorted_s = np.asarray(s)[order]
    _, first, counts = np.unique(sorted_s, return_index=True, return_counts=True)
    avg = first + (counts - 1) / 2.0 + 1
    ranks[order] = np.repeat(avg, counts)
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


AREA = 0.07  # a frame is a positive with at least this share of its macroblocks damaged (bench's rule too)


def frame_truth(scores: np.ndarray, threshold: float = 3.0) -> np.ndarray:
    """Damaged-area ratio per frame: cells above the injector's label threshold (3 grey levels)."""
    return (scores.astype(np.float32) > threshold).mean(axis=(1, 2))


def run_peak(score: np.ndarray, min_samples: int) -> float:
    """The highest threshold that ``min_samples`` consecutive samples all exceed (a false event's bar)."""
    if len(score) < min_samples or min_samples < 1:
        return 0.0
    win = np.lib.stride_tricks.sliding_window_view(score, min_samples).min(axis=1)
    return float(win.max())


def calibrate(val_score: np.ndarray, val_ratio: np.ndarray, calib_scores: list[np.ndarray], cfg: TrainConfig) -> float:
    """The operating point: at most ``target_fpr`` of undamaged validation frames flagged, and no
    run of ``min_samples`` flagged samples on the clean calibration programme."""
    neg = val_score[val_ratio == 0]
    by_fpr = float(np.quantile(neg, 1 - cfg.target_fpr)) if len(neg) else 0.5
    by_runs = max([run_peak(s, cfg.min_samples) for s in calib_scores] + [0.0])
    return round(min(0.99, max(0.3, by_fpr, by_runs + 0.01)), 4)


def evaluate(net, val: dict, calib: list[np.ndarray], cfg: TrainConfig, threshold: float | None = None) -> tuple[dict, float]:
    from rayqa.nets.block_corruption import score_frames

    s = score_frames(net, val["frames"])["score"]
    ratio = frame_truth(val["scores"])
    cal = [score_frames(net, c)["score"] for c in calib]
    thr = calibrate(s, ratio, cal, cfg) if threshold is None else threshold
    pos, neg = ratio >= AREA, ratio == 0
    m = {"val_auc": auc(pos[pos | neg], s[pos | neg]), "threshold": thr,
         "val_recall": float((s[pos] > thr).mean()) if pos.any() else float("nan"),
         "val_false_positive_rate": float((s[neg] > thr).mean()) if neg.any() else float("nan"),
         "calib_false_events": int(sum(_events(c > thr, cfg.min_samples) for c in cal)),
         "calib_seconds": round(sum(len(c) for c in cal) / cfg.fps, 1),
         "val_positives": int(pos.sum()), "val_negatives": int(neg.sum())}
    for v in ("file", "capture", "pixel"):
        k = (val["variant"] == v)
        if (k & pos).any() and (k & neg).any():
            sel = k & (pos | neg)
            m[f"val_auc_{v}"] = auc(pos[sel], s[sel])
    for v in ("lowrate", "grain", "clean"):
        k = (val["variant"] == v) & neg
        if k.any():
            m[f"val_fpr_{v}"] = float((s[k] > thr).mean())
    return m, thr


def _events(flags: np.ndarray, min_samples: int) -> int:
    """Runs of at least ``min_samples`` flagged samples (the detector's event rule; training
    imports nothing of the detectors)."""
    count = length = 0
    for flagged in [*np.asarray(flags, bool).tolist(), False]:
        if flagged:
            length += 1
        else:
            count += length >= min_samples
            length = 0
    return count


def _log(msg: str) -> None:
    print(msg, flush=True)


def train_decision(net, folder: Path, cfg: TrainConfig, log=_log) -> dict:
    """Give ``net`` a new learned decision (:class:`~rayqa.nets.block_corruption.DecisionHead`) over
    its frozen map, trained on the decision set's whole frames: damaged ones (at least ``AREA`` of
    the frame) against undamaged ones, drawn half and half. The set's pictures are ones the map never
    saw, so the head learns what the map does on new pictures (where the bench's are), not on the
    ones it was fitted to. Returns the head's and the map's frame AUC on the set's held-back items."""
    import torch

    from rayqa.nets import block_corruption as net_mod

    ids = list(range(cfg.decision_items))
    rng = np.random.default_rng([cfg.seed, 1820])
    val_ids = set(rng.choice(ids, size=max(1, int(round(len(ids) * cfg.val_fraction))), replace=False).tolist())
    net.eval()
    for q in net.parameters():
        q.requires_grad_(False)
    sets = {"train": {"f": [], "l": [], "y": [], "v": []}, "val": {"f": [], "l": [], "y": [], "v": []}}
    with torch.no_grad():
        for i in ids:
            with np.load(folder / "items" / f"{i:04d}.npz") as z:
                ratio = frame_truth(z["scores"])
                keep = np.flatnonzero((ratio >= AREA) | (ratio == 0))
                frames, variant = z["frames"][keep], z["variant"][keep]
            dst = sets["val" if i in val_ids else "train"]
            for b in range(0, len(frames), 64):
                f, lg = net.trunk(net_mod.to_input(frames[b:b + 64], channels=net.channels))
                dst["f"].append(f.half())
                dst["l"].append(lg.half())
            dst["y"].append(ratio[keep] >= AREA)
            dst["v"].append(variant)
    data = {}
    for name, d in sets.items():
        data[name] = {"f": torch.cat(d["f"]), "l": torch.cat(d["l"]), "y": np.concatenate(d["y"]),
                      "v": np.concatenate(d["v"])}
    tr = data["train"]
    pos, neg = np.flatnonzero(tr["y"]), np.flatnonzero(~tr["y"])
    log(f"decision: {len(tr['y'])} train frames ({len(pos)} damaged), {len(data['val']['y'])} held back, "
        f"from {cfg.decision_items} items")
    torch.manual_seed(cfg.seed)
    head = net_mod.DecisionHead(4 * net.width if cfg.decision_reads == "features" else 0)
    opt = torch.optim.AdamW(head.parameters(), lr=cfg.decision_lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, cfg.decision_steps)
    bce = torch.nn.BCEWithLogitsLoss()
    half = cfg.batch // 2
    losses = []
    started = time.perf_counter()
    for step in range(1, cfg.decision_steps + 1):
        idx = torch.from_numpy(np.concatenate([rng.choice(pos, half), rng.choice(neg, cfg.batch - half)]))
        y = torch.from_numpy(tr["y"][idx.numpy()].astype(np.float32))
        f, lg = tr["f"][idx].float(), tr["l"][idx].float()
        if rng.random() < 0.5:  # the map reads the frame left to right as right to left alike
            f, lg = f.flip(-1), lg.flip(-1)
        loss = bce(head(f, lg), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        losses.append(loss.item())
        if step % 250 == 0 or step == cfg.decision_steps:
            log(f"decision step {step}/{cfg.decision_steps}: loss {np.mean(losses[-250:]):.4f} "
                f"({time.perf_counter() - started:.0f} s)")
    head.eval()
    for q in net.parameters():
        q.requires_grad_(True)
    net.decision = head
    va = data["val"]
    with torch.no_grad():
        s = torch.cat([torch.sigmoid(head(va["f"][b:b + 256].float(), va["l"][b:b + 256].float()))
                       for b in range(0, len(va["y"]), 256)]).numpy()
        m = torch.cat([net_mod.frame_score(torch.sigmoid(va["l"][b:b + 256, 0].float()))
                       for b in range(0, len(va["y"]), 256)]).numpy()
    out = {"decision_val_auc": auc(va["y"], s), "decision_val_auc_map": auc(va["y"], m),
           "decision_train_frames": int(len(tr["y"])), "decision_seconds": round(time.perf_counter() - started, 1)}
    for v in ("file", "capture", "pixel"):
        k = (va["v"] == v) | ~va["y"]
        if (va["y"] & (va["v"] == v)).any():
            out[f"decision_val_auc_{v}"] = auc(va["y"][k], s[k])
            out[f"decision_val_auc_{v}_map"] = auc(va["y"][k], m[k])
    log("decision, held-back items of its set: " + ", ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}"
                                                             for k, v in out.items()))
    return out


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
    data_s = time.perf_counter() - started
    digest = data_hash(folder, cfg)
    train_set, val_set, calib = load_frames(folder, cfg, log)
    mined = None
    if cfg.mine_items:
        mined = {"frames": load_mining(folder, cfg), "hardness": None, "focus": None}
        log(f"mining: {len(mined['frames'])} clean programme frames, a round every {cfg.mine_every} steps")
    for s in (train_set, val_set):
        s["ratio"] = frame_truth(s["scores"])
        s["damaged_idx"] = np.flatnonzero((s["scores"] > cfg.pos_score).any(axis=(1, 2)))
        s["clean_idx"] = np.flatnonzero(s["ratio"] == 0)
        s["hardness"] = np.ones(len(s["clean_idx"]))

    torch.manual_seed(cfg.seed)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    net = net_mod.BlockCorruptionNet(cfg.width, cfg.input)
    prior = {}
    if weights is not None:
        net, prior = net_mod.load(weights)
        if net.input != cfg.input:
            raise ValueError(f"--weights {weights}: that model reads {net.input!r} frames, this training {cfg.input!r}")
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=cfg.steps, pct_start=0.1)
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
        if mined is not None and step > 1 and (step - 1) % cfg.mine_every == 0:
            mine_round(net, mined, log)
        x, t, y, idx = crop_batch(train_set, rng, cfg, mined)
        logits = net(net_mod.to_input(x, channels=net.channels))[:, 0]
        target = torch.from_numpy(t)
        wmap = (~torch.isnan(target)).float()
        map_loss = (bce(logits, torch.nan_to_num(target)) * wmap).sum() / wmap.sum().clamp(min=1)
        p = net_mod.frame_score(torch.sigmoid(logits)).clamp(1e-5, 1 - 1e-5)
        yt = torch.from_numpy(y)
        wf = (~torch.isnan(yt)).float()
        yt = torch.nan_to_num(yt)
        per_crop = -(yt * p.log() + (1 - yt) * (1 - p).log())
        frame_loss = (per_crop * wf).sum() / wf.sum().clamp(min=1)
        # Hard negatives: undamaged frames are drawn in proportion to how wrong the net was on them.
        n_tr = int((idx >= 0).sum())
        neg = np.flatnonzero(y[:n_tr] == 0)
        if len(neg):
            ci = train_set["clean_idx"]
            at = np.minimum(np.searchsorted(ci, idx[neg]), len(ci) - 1)
            ok = ci[at] == idx[neg]  # crops of undamaged frames (not clean corners of damaged ones)
            loss_now = per_crop.detach().numpy()[neg]
            train_set["hardness"][at[ok]] = 0.5 * train_set["hardness"][at[ok]] + 0.5 * (loss_now[ok] + 0.05)
        if n_tr < len(idx):  # the mined crops' hardness follows the net too (the same rule)
            j = -1 - idx[n_tr:]
            mined["hardness"][j] = 0.5 * mined["hardness"][j] + 0.5 * (per_crop.detach().numpy()[n_tr:] + 0.05)
        loss = map_loss + cfg.frame_loss_weight * frame_loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        history.append((map_loss.item(), frame_loss.item()))
        if step % 50 == 0 or step == cfg.steps:
            m, f = np.mean(history[-50:], axis=0)
            rate = step * cfg.batch / (time.perf_counter() - t_train)
            log(f"step {step}/{cfg.steps}: map loss {m:.4f}, frame loss {f:.4f}, {rate:.1f} crops/s")
            if run is not None:
                run.log_metrics({"train_map_loss": m, "train_frame_loss": f}, step)
    train_s = time.perf_counter() - t_train if weights is None else float(prior.get("train_seconds", 0.0))
    decision, decision_digest = {}, None
    if cfg.decision_items:
        net.decision = None  # a --weights model's own head, if any, is replaced
        dfolder = make_decision_data(decision_dir(cfg, data), cfg, log)
        decision_digest = data_hash(dfolder)
        decision = train_decision(net.eval(), dfolder, cfg, log)

    out = Path(out) if out else rayqa_home() / "models" / DETECTOR
    meta = net_mod.save(net.eval(), out, {
        "detector": DETECTOR, "release": RELEASE, "input_width": INPUT_W, "input_height": INPUT_H, "block": 8,
        "width": cfg.width, "top_fraction": net_mod.TOP_FRACTION,
        "train_config": asdict(cfg), "data_sha256": digest, "data_items": cfg.items,
        "torch": torch.__version__, "python": platform.python_version(), "train_seconds": round(train_s, 1),
        "data_seconds": round(data_s, 1) if weights is None else prior.get("data_seconds"),
        **({"decision_data_sha256": decision_digest} if decision_digest else {}),
    })
    # Metrics of the weights as shipped (float16 on disk), not of the float32 ones in memory.
    shipped, _ = net_mod.load(out)
    raw, thr = evaluate(shipped, val_set, calib, cfg)
    meta["threshold"] = thr
    meta["calibration"] = {"target_fpr": cfg.target_fpr, "min_samples": cfg.min_samples, "fps": cfg.fps,
                           "on": "undamaged validation frames and clean train-split calibration programme"}
    meta["metrics"] = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in {**raw, **decision}.items()}
    (out / net_mod.MODEL_FILE).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
    (out / "MODEL_CARD.md").write_text(model_card(meta))
    log("validation (whole frames of held-back training items): " + ", ".join(f"{k} {v}" for k, v in meta["metrics"].items()))

    version = None
    if run is not None:
        floats = {k: v for k, v in meta["metrics"].items() if isinstance(v, float) and not math.isnan(v)}
        version = run.registry.register_trained(DETECTOR, out, run.run_id, floats, cfg.steps, digest, promote, log)
    log(f"model written to {out} in {time.perf_counter() - started:.0f} s")
    return {"out": str(out), "metrics": meta["metrics"], "version": version, "data_sha256": digest,
            "train_seconds": train_s}


def _augment_flag(cfg: dict) -> str:
    flags = f" --width {cfg['width']}" if cfg.get("width", 16) != 16 else ""
    flags += f" --input {cfg['input']}" if cfg.get("input", "luma") != "luma" else ""
    flags += " --more-photos" if cfg.get("more_photos") else ""
    flags += f" --augment {cfg['augment']}" if cfg.get("augment") else ""
    flags += f" --decision-items {cfg['decision_items']}" if cfg.get("decision_items") else ""
    return flags + (f" --mine-items {cfg['mine_items']}" if cfg.get("mine_items") else "")


def _photos_note(cfg: dict) -> str:
    from rayqa.simulate import real

    if not cfg.get("more_photos"):
        return ""
    return (f", with the {len(real.LOMIRI_PHOTOS)} photographs of {', '.join(real.MORE_PHOTO_PACKAGES)} added to "
            "the train split's (train only, never a bench's)")


def _mine_note(cfg: dict) -> str:
    if not cfg.get("mine_items"):
        return ""
    return (f" Hard negatives mined from {cfg['mine_items']} further minutes of clean train-split programme (apart "
            f"from the calibration minutes): every {cfg.get('mine_every')} steps the net as it is scores every "
            f"frame of it, and {round(100 * cfg.get('mine_share', 0))} % of each later batch are crops of those frames "
            "around their most probable cell, drawn in proportion to the net's loss on them.")


def _augment_note(cfg: dict) -> str:
    share = cfg.get("augment", 0.0)
    if not share:
        return ""
    (g0, g1), (k0, k1), (n0, n1) = JITTER_GAMMA, JITTER_GAIN, JITTER_NOISE_SIGMA
    return (f"; {round(100 * share)} % of them through a random tone curve (gamma {g0}-{g1}, gain {k0}-{k1}, "
            f"offset -{JITTER_OFFSET:g}..{JITTER_OFFSET:g}) and {round(100 * JITTER_NOISE_SHARE)} % of those with "
            f"sensor noise (sigma {n0:g}-{n1:g}), so that the train split's photographs and clips stand for other "
            "exposures and grades")


def _decision_note(meta: dict) -> str:
    if not meta.get("decision"):
        return ""
    cfg, m = meta.get("train_config", {}), meta.get("metrics", {})
    return (f"\n\n**Learned decision** ({meta['decision']}): the frame score the operating point applies to is not "
            "the top cells' mean but a small head's (three convolutions over the map's features and logits, max- "
            "and mean-pooled, with the map's own summary, into a linear decision), trained with the map frozen "
            f"for {cfg.get('decision_steps')} steps on {cfg.get('decision_items')} further items drawn only from "
            f"the photographs of the more-photos package, which the map never saw (data sha256 "
            f"`{meta.get('decision_data_sha256')}`). On that set's held-back items its frame AUC is "
            f"{m.get('decision_val_auc', float('nan')):.3f} against the top cells' "
            f"{m.get('decision_val_auc_map', float('nan')):.3f}. `details.map_score` keeps the top cells' mean.")


def _input_note(meta: dict) -> str:
    size = f"{meta['input_width']}x{meta['input_height']}"
    if meta.get("input", "luma") == "yuv":
        return (f"Y, U and V as coded ({size}, the scan's nearest samples of each plane: at 640x360 4:2:0 every "
                "chroma sample of the picture; video_levels' kind of frames, not blur's)")
    return f"luma ({size}, the scan's nearest samples of the Y plane)"


def _chroma_limit(meta: dict) -> str:
    if meta.get("input", "luma") == "yuv":
        return ("Y is read as coded (limited range in nearly every file): a full-range file's picture is "
                "brighter and more contrasted to it than anything it was trained on.")
    return "Luma only: damage that shows in chroma alone (a colour cast over a block) is not seen."


def model_card(meta: dict) -> str:
    m = meta.get("metrics", {})
    cfg = meta.get("train_config", {})

    def f(k):
        v = m.get(k)
        return "n/a" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.3f}"

    return f"""# Model card: rayqa-block_corruption ({meta['arch']}, release {meta.get('release')})

Produced by `rayqa train block_corruption --seed {cfg.get('seed')} --items {cfg.get('items')} --steps {cfg.get('steps')}{_augment_flag(cfg)}`
(torch {meta.get('torch')}; on the machine that made it: {meta.get('data_seconds')} s of data simulation,
{meta.get('train_seconds')} s of training). Weights: `{meta['weights']}` (float16), sha256 `{meta['weights_sha256']}`.

## What it does
A small fully convolutional network on {_input_note(meta)}:
three 2x2 stride-2 convolutions (so each output cell is one aligned 8x8 block, an H.264 macroblock of
a 640x360 picture), 3x3 convolutions between them and two dilated 3x3 convolutions for context, then
a 1x1 convolution: a corruption probability per cell (23x40 at 320x180). The frame score is the mean
of the top {round(100 * meta.get('top_fraction', 0.02))} % of cells; a sample is flagged above {meta['threshold']} (the operating point,
calibrated for at most {round(100 * cfg.get('target_fpr', 0), 2)} % flagged undamaged validation frames and no run of
{cfg.get('min_samples')} flagged samples at {cfg.get('fps')} fps on {m.get('calib_seconds')} s of clean train-split programme).
Width {meta.get('width')}: about {0.19 * (meta.get('width', 16) / 16) ** 2:.2g} GMAC per frame.{_decision_note(meta)}

## Data
Real pristine programme from the train split of `rayqa/simulate/real.py` (photographs under camera
moves of every speed, real footage, title cards; see rayqa/simulate/SOURCES.md){_photos_note(cfg)}, {meta.get('data_items')} items of
{cfg.get('duration_s')} s at 640x360, 25 fps, H.264 GOP 50, each in six variants: the clean encode; H.264 bitstream damage
in P-frames (flip / zero / drop, decoded, per-macroblock scores against the clean decode); a capture
of that decode re-encoded cleanly (crf 17-30, no decoder flag left); pixel-domain block displacement
or flat blocks; and as hard negatives the encoder's own blocking at crf 36-48 or film grain (fast
hand-held pans, footage and title cards are in the programme itself). Training data sha256
`{meta.get('data_sha256')}`. {cfg.get('steps')} steps of {cfg.get('batch')} crops of {cfg.get('crop_h')}x{cfg.get('crop_w')}{_augment_note(cfg)}.{_mine_note(cfg)}

## Metrics (whole frames of {round(100 * cfg.get('val_fraction', 0))} % of the items held back, at the operating point)
Positives: frames with at least 7 % of their macroblocks damaged ({m.get('val_positives')}); negatives: frames with none ({m.get('val_negatives')}).

| ROC AUC | AUC files | AUC captures | AUC pixel | recall | false-positive rate | FPR low bitrate | FPR grain | false events on calibration programme |
|---|---|---|---|---|---|---|---|---|
| {f('val_auc')} | {f('val_auc_file')} | {f('val_auc_capture')} | {f('val_auc_pixel')} | {f('val_recall')} | {f('val_false_positive_rate')} | {f('val_fpr_lowrate')} | {f('val_fpr_grain')} | {m.get('calib_false_events')} |

The held-out evaluation on bench-split real content (files and captures, 2 clean hours, FFmpeg's
`blockdetect` on the same frames, cost) is `python bench/block_corruption.py`; its figures are in
`bench/results/block_corruption.json` and the README.

## Limits
- Trained at 640x360 sources scaled to 320x180 luma. On HD content the scan's 320x180 nearest
  samples make a macroblock 3-5 pixels: large smeared damage stays visible, single macroblocks do not.
- {_chroma_limit(meta)}
- Only H.264 damage and pixel-domain block faults are simulated; HEVC/AV1 artefacts differ.
- Reproducibility: the same seed, data and software on the same machine and thread count give the
  same weights byte for byte (checked at toy size by `tests/test_block_corruption.py`).
"""
