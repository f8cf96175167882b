"""Labelled datasets: pristine content + one injected defect per item, written as real MP4 files
with a labels Parquet in the findings' own terms.

``rayqa simulate`` and ``jobs/make_dataset.py`` both run :func:`make_dataset`, a Ray Data job:
one task per item, each deterministic given the dataset seed and the item's index, so the same
seed gives the same bytes whatever the scheduling.

Output folder::

    media/<item_id>.mp4       the items (H.264/AAC)
    labels.parquet            item_id, defect, start_s, end_s, details (JSON), recipe, split, masks_uri
    masks/<item_id>.npz       per-frame block masks for block-corruption items (times_s, masks, block)
    manifest.csv              item_id, uri, recipe, split, seed, video_kind, audio_kind: scan it with `rayqa scan`
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

from rayqa.simulate import audio as A
from rayqa.simulate import captions as C
from rayqa.simulate import video as V
from rayqa.simulate.labels import Label, SimulationError


@dataclass(frozen=True)
class Recipe:
    """How to make one kind of defective item: the defect, its parameter ranges, its span length."""

    defect: str  # the label's defect name ("clean" for none)
    stream: str  # "video", "audio", "av" or "bitstream"
    params: dict[str, Any]  # name → (low, high) range, or a list of choices
    span_s: tuple[float, float] = (1.0, 3.0)
    doc: str = ""
    max_span_share: float = 0.5  # a span is at most this share of the item


RECIPES: dict[str, Recipe] = {
    "clean": Recipe("clean", "none", {}, (0, 0), "no defect: pristine content as it is"),
    # video, pixel domain
    "black_frames": Recipe("black_frames", "video", {"level": [0, 8, 16]}, (0.5, 3.0), "every pixel at black level"),
    "video_freeze": Recipe("video_freeze", "video", {}, (1.0, 4.0), "the span repeats its first frame"),
    "frame_stutter": Recipe("frame_stutter", "video", {"pattern": ["repeat", "drop"], "every_n": (2, 4)}, (1.0, 3.0),
                            "repeated or dropped frames"),
    "video_tearing": Recipe("video_tearing", "video", {"split_row_fraction": (0.2, 0.8), "offset": (1, 3)}, (0.2, 1.5),
                            "top and bottom of the picture from different frames"),
    "blur": Recipe("blur", "video", {"sigma": (1.0, 6.0)}, (1.0, 3.0), "Gaussian blur"),
    "interlacing": Recipe("interlacing", "video", {}, (1.0, 3.0), "combing: even and odd rows from successive frames"),
    "solid_color_frames": Recipe("solid_color_frames", "video", {"color": [(0, 0, 255), (0, 255, 0), (128, 128, 128), (255, 255, 255)]},
                                 (0.5, 2.0), "one flat colour"),
    "block_displacement": Recipe("block_corruption", "video", {"area_ratio": (0.03, 0.4), "max_shift": (8, 48)}, (0.2, 1.5),
                                 "clumps of 16x16 blocks copied from displaced positions (pixel domain)"),
    "flat_blocks": Recipe("block_corruption", "video", {"area_ratio": (0.03, 0.4), "fill": ["mean", "green", "mixed"]},
                          (0.2, 1.5), "clumps of 16x16 blocks filled flat (pixel domain)"),
    "block_corruption": Recipe("block_corruption", "bitstream", {"mode": ["flip", "zero", "drop"], "intensity": (0.005, 0.05)},
                               (0.1, 1.0), "H.264 bitstream damage in P-frames, decoded: smears until the next keyframe; "
                                           "labels and masks from comparing with the clean decode"),
    # audio
    "audio_clicks": Recipe("audio_clicks", "audio", {"rate_per_s": (1.0, 30.0)}, (1.0, 4.0), "impulses, random count and amplitude"),
    "audio_hum": Recipe("audio_hum", "audio", {"frequency_hz": [50, 60], "level_dbfs": (-45.0, -20.0), "harmonics": (1, 6)},
                        (2.0, 6.0), "mains hum with harmonics"),
    "audio_hiss": Recipe("audio_hiss", "audio", {"snr_db": (5.0, 30.0), "color": ["white", "pink"]}, (2.0, 6.0),
                         "white or pink noise at an SNR"),
    "audio_distortion": Recipe("audio_distortion", "audio", {"kind": ["soft", "hard", "bitcrush"], "gain": (2.0, 16.0)},
                               (1.0, 4.0), "overdrive (soft/hard clipping) or bit-crush"),
    "audio_silence": Recipe("audio_silence", "audio", {}, (2.0, 4.0), "a dropout to digital silence"),
    "audio_clipping": Recipe("audio_clipping", "audio", {"run_length_samples": (3, 40), "runs_per_s": (2.0, 40.0)},
                             (1.0, 4.0), "runs of samples pinned at digital full scale"),
    "audio_channel_fault": Recipe("audio_channel_fault", "audio", {"kind": ["phase_inversion", "dead_channel"]},
                                  (2.0, 6.0), "one channel inverted or dead"),
    # audio-video
    "av_sync": Recipe("av_sync", "av", {"offset_ms": [-400, -200, -120, -80, -40, 40, 80, 120, 200, 400]}, (0, 0),
                      "the whole audio track shifted (positive: sound late)"),
    "av_drift": Recipe("av_sync", "av", {"drift_ms_per_min": (-300.0, 300.0)}, (0, 0), "audio offset growing linearly"),
    "duration_mismatch": Recipe("duration_mismatch", "av", {"audio_short_s": (0.6, 3.0)}, (0, 0),
                                "the audio track ends before the video"),
}

# Caption recipes run only when named (`--defects captions` names them all): their items carry a
# caption sidecar, need at least CAPTION_MIN_S of content, and leave every other recipe's seeds and
# bytes as they were.
CAPTION_MIN_S = 8.0
CAPTION_RECIPES: dict[str, Recipe] = {
    # captions: speech (recorded voice clips and espeak-ng) with a caption sidecar; the true cues are
    # captions/<item>.truth.srt, the scanned copy captions/<item>.srt|vtt (rayqa/simulate/captions.py)
    "caption_offset": Recipe("caption_speech_mismatch", "captions",
                             {"offset_ms": [-1200, -800, -500, 500, 800, 1200]}, (0, 0),
                             "every cue shifted by a constant offset (positive: captions late)"),
    "caption_dropped": Recipe("caption_speech_mismatch", "captions", {}, (0, 0),
                              "one cue of at least 1.6 s of speech left out: speech with no cue"),
    "caption_spurious": Recipe("caption_speech_mismatch", "captions", {}, (0, 0),
                               "a cue added over a speechless stretch"),
    "caption_overlap": Recipe("caption_timing", "captions", {"overlap_s": (0.2, 0.8)}, (0, 0),
                              "a cue runs into the next one"),
    "caption_timing": Recipe("caption_timing", "captions", {"kind": list(C.TIMING_KINDS)}, (0, 0),
                             "a cue too short, of zero or negative duration, past the media's end, or a gap under 2 frames"),
    "caption_fast": Recipe("caption_reading_speed", "captions", {}, (0, 0),
                           "a sentence spoken at 300-380 words a minute, captioned verbatim: too many characters a second"),
    "caption_layout": Recipe("caption_reading_speed", "captions", {"kind": list(C.LAYOUT_KINDS)}, (0, 0),
                             "a cue's line over 42 characters, or three lines"),
    "caption_broken": Recipe("caption_malformed", "captions", {"kind": list(C.BROKEN_KINDS)}, (0, 0),
                             "a broken caption file: random bytes, one huge line, a broken timing line, cp1252, "
                             "UTF-16 without BOM, empty, not captions at all"),
    "caption_missing": Recipe("caption_missing", "captions", {}, (0, 0), "the manifest names a caption file that does not exist"),
}
# The rest of the taxonomy, added after datasets were made from the list above: they run only
# when named (`--defects flash_pse,...`), so a dataset made with no --defects, which cycles
# through RECIPES, keeps its items. Spans start at the detector's minimum duration (a shorter
# stretch is no such defect by its definition).
TAXONOMY_RECIPES: dict[str, Recipe] = {
    "letterbox_change": Recipe("letterbox_change", "video", {"kind": list(V.LETTERBOX_KINDS), "bar_fraction": (0.07, 0.2)},
                               (2.5, 6.0), "black bars that appear mid-programme (top/bottom or left/right) or, on an item "
                                           "letterboxed throughout, change size",
                               max_span_share=0.4),  # the programme's own bars are the ones that last longest
    "flash_pse": Recipe("flash_pse", "video", {"kind": list(V.FLASH_KINDS), "flashes_per_s": (4.0, 6.0),
                                               "area_ratio": (0.4, 1.0)}, (1.5, 4.0),
                        "flashing over a share of the picture: white or saturated red against the programme darkened, "
                        "4-6 flashes a second"),
    "video_levels": Recipe("video_levels", "video", {"kind": list(V.LEVEL_KINDS), "area_ratio": (0.05, 0.3),
                                                     "x_fraction": (0.0, 1.0), "y_fraction": (0.0, 1.0)}, (1.5, 4.0),
                           "a rectangle coded beyond the broadcast range: super-white (Y 252), sub-black (Y 4), "
                           "chroma above 240 or below 16 (YUV planes, not RGB)"),
    "dc_offset": Recipe("dc_offset", "audio", {"offset": (0.015, 0.1), "sign": [-1, 1], "channel": [0, 1]}, (1.5, 5.0),
                        "a constant offset on one channel"),
    "test_tone": Recipe("test_tone", "audio", {"frequency_hz": [1000, 440], "level_dbfs": (-30.0, -12.0)}, (1.5, 5.0),
                        "the programme replaced by a line-up tone on every channel"),
    "loudness_out_of_range": Recipe("loudness_out_of_range", "audio", {"kind": list(A.LOUDNESS_KINDS),
                                                                       "offset_lu": (2.0, 8.0), "peak_dbtp": (-0.7, -0.2)},
                                    (0, 0), "the whole item off EBU R128: mastered offset_lu above or below -23 LUFS, or "
                                            "at -23 LUFS with its loudest peak lifted to peak_dbtp (label: the item)"),
}
ALL_RECIPES: dict[str, Recipe] = {**RECIPES, **CAPTION_RECIPES, **TAXONOMY_RECIPES}


def expand_recipes(names: list[str] | None) -> list[str] | None:
    """``captions`` stands for every caption recipe."""
    if names is None:
        return None
    out: list[str] = []
    for n in names:
        out.extend(CAPTION_RECIPES if n == "captions" else [n])
    return list(dict.fromkeys(out))


@dataclass
class SimConfig:
    duration_s: float = 10.0
    width: int = 320
    height: int = 180
    fps: int = 25
    sample_rate: int = 48000
    channels: int = 2
    gop: int = 50
    split: str = "train"
    pristine_dir: str | None = None
    # Clean items get speech and true captions (a caption set's negatives) instead of plain content.
    clean_captions: bool = False
    # "synthetic" (procedural scenes, scikit-image photos, espeak-ng) or "real" (Debian-packaged
    # photographs, footage, music and voices: rayqa.simulate.real; the heldout split uses its bench files).
    sources: str = "synthetic"
    # Master every item's programme sound to EBU R128 (-23 LUFS, true peak <= -2 dBTP) before any
    # defect, so a clean item is in spec for loudness_out_of_range. Off by default: real programme is
    # mixed to about -23 LUFS under a sample-peak ceiling, and existing datasets keep their bytes.
    master_loudness: bool = False

    def check(self) -> None:
        if self.duration_s < 2.0:
            raise SimulationError(f"duration_s must be at least 2 s, got {self.duration_s}")
        if self.width < 32 or self.height < 32 or self.width % 2 or self.height % 2:
            raise SimulationError(f"size must be even and at least 32x32, got {self.width}x{self.height}")
        if self.fps < 1 or self.sample_rate < 8000 or self.channels not in (1, 2, 6):
            raise SimulationError("fps >= 1, sample_rate >= 8000 and channels in 1, 2, 6 are required")
        if self.split not in ("train", "heldout"):
            raise SimulationError(f"split must be 'train' or 'heldout', got {self.split!r}")
        if self.sources not in ("synthetic", "real"):
            raise SimulationError(f"sources must be 'synthetic' or 'real', got {self.sources!r}")
        if self.sources == "real":
            from rayqa.simulate import real

            if self.channels not in (1, 2):
                raise SimulationError("real sources are stereo: channels must be 1 or 2")
            real.require(("photo", "music", "voice", "ambience"))
        if self.pristine_dir is not None:
            from rayqa.simulate.pristine import iter_pristine_dir

            iter_pristine_dir(self.pristine_dir)  # refuses a missing or empty folder before any work


def draw(params: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    """One value per parameter: ints from int ranges, floats from float ranges, one of a list."""
    out = {}
    for name, spec in params.items():
        if isinstance(spec, list):
            value = spec[int(rng.integers(len(spec)))]
            out[name] = list(value) if isinstance(value, tuple) else value
        elif isinstance(spec[0], int) and isinstance(spec[1], int):
            out[name] = int(rng.integers(spec[0], spec[1] + 1))
        else:
            out[name] = round(float(rng.uniform(spec[0], spec[1])), 3)
    return out


def _span(recipe: Recipe, duration_s: float, rng: np.random.Generator) -> tuple[float, float]:
    length = float(rng.uniform(*recipe.span_s))
    length = min(length, duration_s * recipe.max_span_share)
    start = float(rng.uniform(0.1 * duration_s, duration_s - length - 0.1 * duration_s))
    return round(start, 3), round(start + length, 3)


def _pristine(cfg: SimConfig, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, dict]:
    """Pristine frames (n, h, w, 3) and audio (channels, n) for one item, and where they came from."""
    from rayqa.simulate import pristine as P

    if cfg.pristine_dir:
        files = list(P.iter_pristine_dir(cfg.pristine_dir))
        path = files[int(rng.integers(len(files)))]
        frames, audio = _decode_user_file(path, cfg)
        return frames, audio, {"pristine": str(path)}
    if cfg.sources == "real":
        from rayqa.simulate import real

        frames, audio, desc = real.programme(cfg.duration_s, cfg.fps, cfg.width, cfg.height, cfg.sample_rate, rng,
                                             "train" if cfg.split == "train" else "bench")
        frames = np.stack(list(frames))
        if cfg.channels == 1:
            audio = audio.mean(axis=0, keepdims=True)
        return frames, audio, {"video_source": {"kind": "real", "shots": desc["shots"]},
                               "audio_source": {**desc["audio"], "kind": f"real_{desc['audio']['kind']}"}}
    vkind = P.VIDEO_KINDS[int(rng.integers(len(P.VIDEO_KINDS)))]
    akind = P.AUDIO_KINDS[int(rng.integers(len(P.AUDIO_KINDS)))]
    frames, vinfo = P.video_scene(vkind, cfg.duration_s, cfg.fps, cfg.width, cfg.height, rng, split=cfg.split,
                                  return_info=True)
    audio, ainfo = P.audio_scene(akind, cfg.duration_s, cfg.sample_rate, cfg.channels, rng, split=cfg.split,
                                 return_info=True)
    return frames, audio, {"video_source": vinfo, "audio_source": ainfo}


def _decode_user_file(path: Path, cfg: SimConfig) -> tuple[np.ndarray, np.ndarray]:
    """The first ``duration_s`` of a user's own file, at the dataset's size and rate."""
    import av

    n_frames = int(round(cfg.duration_s * cfg.fps))
    frames, chunks = [], []
    with av.open(str(path)) as c:
        if not c.streams.video or not c.streams.audio:
            raise SimulationError(f"pristine file {path} needs both a video and an audio stream")
        layout = {1: "mono", 2: "stereo", 6: "5.1"}[cfg.channels]
        resampler = av.AudioResampler(format="fltp", layout=layout, rate=cfg.sample_rate)
        for frame in c.decode(c.streams.video[0], c.streams.audio[0]):
            if isinstance(frame, av.VideoFrame):
                if len(frames) < n_frames:
                    frames.append(frame.reformat(cfg.width, cfg.height, "rgb24").to_ndarray())
            else:
                chunks.extend(r.to_ndarray() for r in resampler.resample(frame))
            if len(frames) >= n_frames and sum(x.shape[1] for x in chunks) >= cfg.duration_s * cfg.sample_rate:
                break
    if len(frames) < n_frames:
        raise SimulationError(f"pristine file {path} is shorter than {cfg.duration_s} s")
    audio = np.concatenate(chunks, axis=1)[:, : int(round(cfg.duration_s * cfg.sample_rate))]
    return np.stack(frames), audio.astype(np.float32)


VIDEO_INJECTORS: dict[str, Callable] = {
    "black_frames": V.black, "video_freeze": V.freeze, "frame_stutter": V.stutter, "video_tearing": V.tearing,
    "blur": V.blur, "interlacing": V.interlace, "solid_color_frames": V.solid_color,
    "block_displacement": V.add_block_displacement, "flat_blocks": V.add_flat_blocks,
    "letterbox_change": V.letterbox, "flash_pse": V.flashes, "video_levels": V.levels,
}
# Injectors whose third result is an edit of the coded YUV planes (values RGB cannot carry), not masks.
YUV_INJECTORS = {"video_levels"}
AUDIO_INJECTORS: dict[str, Callable] = {
    "audio_clicks": A.add_clicks, "audio_hum": A.add_hum, "audio_hiss": A.add_hiss, "audio_distortion": A.add_distortion,
    "audio_silence": A.add_dropout, "audio_clipping": A.add_clipping, "audio_channel_fault": A.channel_fault,
    "dc_offset": A.add_dc_offset, "test_tone": A.add_test_tone,
}
RANDOM_INJECTORS = {"video_tearing", "block_displacement", "flat_blocks", "audio_clicks", "audio_hiss", "audio_clipping"}


def make_item(item_id: str, recipe_name: str, seed: int, out_dir: str | Path, cfg: SimConfig) -> dict:
    """Generate one item: pristine content, the recipe's defect, the MP4, its labels (and masks)."""
    if recipe_name not in ALL_RECIPES:
        raise SimulationError(f"unknown defect recipe {recipe_name!r}; known: {', '.join(ALL_RECIPES)}")
    recipe = ALL_RECIPES[recipe_name]
    if recipe.stream == "captions" and cfg.duration_s < CAPTION_MIN_S:
        raise SimulationError(f"caption recipes need items of at least {CAPTION_MIN_S:g} s, got {cfg.duration_s:g}")
    rng = np.random.default_rng(seed)
    out_dir = Path(out_dir)
    media_path = out_dir / "media" / f"{item_id}.mp4"
    frames, audio, source = _pristine(cfg, rng)
    if cfg.master_loudness:
        audio, mastered = A.master_loudness(audio, cfg.sample_rate)
        source = {**source, "audio_source": {**source.get("audio_source", {}), "mastered": mastered}}
    params = draw(recipe.params, rng)
    labels: list[Label] = []
    masks = None
    yuv_edit = None
    captions_uri = None
    if recipe.stream == "captions" or (recipe_name == "clean" and cfg.clean_captions):
        # A drawn scene may not suit the recipe (no room for a long sentence, no cue to break):
        # draw again from the same generator, so the same seed still gives the same item.
        for attempt in range(10):
            try:
                speech, truth, cinfo = C.caption_scene(cfg.duration_s, cfg.sample_rate, rng, cfg.split,
                                                      needs=C.NEEDS.get(recipe_name, ()))
                if recipe_name == "clean":
                    cues, raw = truth, None
                else:
                    cues, raw, labels = C.inject(recipe_name, truth, dict(params), cfg.duration_s, cfg.fps, rng)
                break
            except SimulationError:
                if attempt == 9:
                    raise
        audio = np.repeat(speech[None, :], cfg.channels, axis=0)
        source = {**source, "audio_source": {"kind": "captioned_speech", **cinfo}}
        captions_uri = C.write_captions(out_dir, item_id, truth, cues, raw, recipe_name, rng)
    elif recipe.stream == "video":
        start, end = _span(recipe, cfg.duration_s, rng)
        kwargs = dict(params, rng=rng) if recipe_name in RANDOM_INJECTORS else params
        result = VIDEO_INJECTORS[recipe_name](frames, cfg.fps, start, end, **kwargs)
        frames, labels = result[0], result[1]
        if recipe_name in YUV_INJECTORS:
            yuv_edit = result[2]
        elif len(result) == 3:
            masks = (np.arange(len(frames)) / cfg.fps, result[2])
    elif recipe_name == "loudness_out_of_range":
        audio, labels = A.loudness_off_profile(audio, cfg.sample_rate, **params)
    elif recipe.stream == "audio":
        start, end = _span(recipe, cfg.duration_s, rng)
        if recipe_name == "audio_channel_fault" and audio.shape[0] < 2:
            raise SimulationError("audio_channel_fault needs at least two channels")
        kwargs = dict(params, rng=rng) if recipe_name in RANDOM_INJECTORS else params
        if recipe_name == "dc_offset":
            kwargs = {"offset": params["sign"] * params["offset"], "channel": min(params["channel"], audio.shape[0] - 1)}
        audio, labels = AUDIO_INJECTORS[recipe_name](audio, cfg.sample_rate, start, end, **kwargs)
    elif recipe_name == "av_sync":
        audio, labels = A.shift_audio(audio, cfg.sample_rate, params["offset_ms"])
    elif recipe_name == "av_drift":
        audio, labels = A.drift_audio(audio, cfg.sample_rate, params["drift_ms_per_min"])
    elif recipe_name == "duration_mismatch":
        keep = cfg.duration_s - params["audio_short_s"]
        audio = audio[:, : int(round(keep * cfg.sample_rate))]
        labels = [Label("duration_mismatch", keep, cfg.duration_s,
                        {"audio_duration_s": keep, "video_duration_s": cfg.duration_s, **params})]

    from rayqa.synth import encode

    if recipe.stream == "bitstream":
        from rayqa.simulate.bitstream import inject_block_corruption

        start, end = _span(recipe, cfg.duration_s, rng)
        with tempfile.TemporaryDirectory() as tmp:
            clean = encode(Path(tmp) / "clean.mp4", frames, cfg.fps, cfg.width, cfg.height, audio, cfg.sample_rate, cfg.gop)
            media_path.parent.mkdir(parents=True, exist_ok=True)
            labels, block_masks, times = inject_block_corruption(clean, media_path, start, end, rng, **params)
            masks = (times, block_masks)
    else:
        encode(media_path, frames, cfg.fps, cfg.width, cfg.height, audio, cfg.sample_rate, cfg.gop, yuv_edit=yuv_edit)
    if masks is not None:
        (out_dir / "masks").mkdir(parents=True, exist_ok=True)
        np.savez_compressed(out_dir / "masks" / f"{item_id}.npz", times_s=np.asarray(masks[0]), masks=masks[1], block=16)
    rows = []
    for label in labels:
        row = label.row(item_id)
        details = json.loads(row["details"])
        details.update({"recipe": recipe_name, **source})
        row["details"] = json.dumps(details, sort_keys=True)
        rows.append(row)
    return {"item_id": item_id, "uri": f"media/{item_id}.mp4", "recipe": recipe_name, "split": cfg.split,
            "seed": int(seed), "captions_uri": captions_uri or "", "video_kind": source.get("video_source", {}).get("kind", "user"),
            "audio_kind": source.get("audio_source", {}).get("kind", "user"), "labels": json.dumps(rows)}


def plan_items(n_items: int, seed: int, recipes: list[str], clean_fraction: float, split: str) -> list[dict]:
    """Which recipe each item gets and its own seed (from the dataset seed and its index only)."""
    if n_items < 1:
        raise SimulationError(f"items must be at least 1, got {n_items}")
    if not 0 <= clean_fraction < 1:
        raise SimulationError(f"clean_fraction must be in [0, 1), got {clean_fraction}")
    unknown = [r for r in recipes if r not in ALL_RECIPES]
    if unknown:
        raise SimulationError(f"unknown defect recipe(s) {', '.join(unknown)}; known: {', '.join(ALL_RECIPES)}, "
                              "captions (every caption recipe)")
    rng = np.random.default_rng([seed, 0 if split == "train" else 1])
    items = []
    for i in range(n_items):
        recipe = "clean" if rng.random() < clean_fraction else recipes[i % len(recipes)]
        items.append({"item_id": f"{split}-{i:06d}", "recipe": recipe,
                      "seed": int(np.random.SeedSequence([seed, i, 0 if split == "train" else 1]).generate_state(1)[0])})
    return items


def make_dataset(out_dir: str | Path, n_items: int, seed: int = 0, recipes: list[str] | None = None,
                 clean_fraction: float = 0.2, cfg: SimConfig | None = None, num_cpus: float = 1.0) -> pd.DataFrame:
    """Generate ``n_items`` items as a Ray Data job; writes media, labels.parquet, masks, manifest.csv."""
    import ray

    from rayqa.raytools import ensure_ray

    cfg = cfg or SimConfig()
    cfg.check()
    recipes = expand_recipes(recipes) or [r for r in RECIPES if r != "clean"]
    if any(r in CAPTION_RECIPES for r in recipes) and cfg.duration_s < CAPTION_MIN_S:
        raise SimulationError(f"caption recipes need items of at least {CAPTION_MIN_S:g} s (--duration-s), "
                              f"got {cfg.duration_s:g}")
    items = plan_items(n_items, seed, recipes, clean_fraction, cfg.split)
    out_dir = Path(out_dir).resolve()
    (out_dir / "media").mkdir(parents=True, exist_ok=True)
    ensure_ray()
    ds = ray.data.from_items(items, override_num_blocks=min(len(items), 200))
    ds = ds.map(_make_row, fn_kwargs={"out_dir": str(out_dir), "cfg": cfg}, num_cpus=num_cpus)
    rows = sorted(ds.take_all(), key=lambda r: r["item_id"])
    failed = [r for r in rows if r.get("error")]
    if failed:
        raise SimulationError(f"{len(failed)} item(s) failed, first: {failed[0]['item_id']}: {failed[0]['error']}")
    labels = [label for r in rows for label in json.loads(r["labels"])]
    label_df = pd.DataFrame(labels, columns=["item_id", "defect", "start_s", "end_s", "details"])
    meta = {r["item_id"]: r for r in rows}
    label_df["recipe"] = [meta[i]["recipe"] for i in label_df["item_id"]]
    label_df["split"] = cfg.split
    # Block-corruption labels point at their per-frame masks (times_s, masks, block) in masks/.
    label_df["masks_uri"] = [f"masks/{i}.npz" if (out_dir / "masks" / f"{i}.npz").exists() and d == "block_corruption"
                             else None for i, d in zip(label_df["item_id"], label_df["defect"])]
    label_df.to_parquet(out_dir / "labels.parquet", index=False)
    columns = ("item_id", "uri", "recipe", "split", "seed", "video_kind", "audio_kind")
    if any(r.get("captions_uri") for r in rows):
        columns += ("captions_uri",)  # relative to the manifest's folder; empty = none
    manifest = pd.DataFrame([{k: r.get(k, "") for k in columns} for r in rows])
    manifest.to_csv(out_dir / "manifest.csv", index=False)
    return label_df


def _make_row(item: dict, out_dir: str, cfg: SimConfig) -> dict:
    try:
        row = make_item(item["item_id"], item["recipe"], item["seed"], out_dir, cfg)
        row["error"] = ""
        return row
    except Exception as e:  # reported together by the driver, never silently dropped
        return {**item, "uri": "", "split": cfg.split, "video_kind": "", "audio_kind": "", "labels": "[]",
                "error": f"{type(e).__name__}: {e}"}


def describe_recipes() -> str:
    """Every defect recipe with its parameters and ranges, for ``rayqa simulate --help``."""
    lines = []
    for name, r in ALL_RECIPES.items():
        params = ", ".join(f"{k} in {list(v) if isinstance(v, list) else f'[{v[0]}, {v[1]}]'}" for k, v in r.params.items())
        span = "" if r.span_s == (0, 0) else f"; span {r.span_s[0]:g}-{r.span_s[1]:g} s"
        label = "" if r.defect == name else f" (label {r.defect})"
        lines.append(f"  {name}{label}: {r.doc}{'; ' + params if params else ''}{span}")
    lines.append("  captions: every caption recipe above (caption_*), run only when named; with --clean-captions the "
                 "clean items get speech and true captions")
    return "\n".join(lines)
