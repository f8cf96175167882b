"""The audio taxonomy detectors (clipping, loudness, channel faults, DC offset, test tone):

1. cost per content-second, on 60 s of 48 kHz stereo programme-like audio cut into the scan's
   8 s windows (the detectors' own work, not decoding);
2. event-level recall and precision on simulated items: music-like programme at -23 LUFS with one
   defect each at a random time, level and channel (and clean items, some with held
   instrument-like notes), encoded to AAC in MP4 (48 or 44.1 kHz) and decoded as the scan does.
   A finding matches a label of its defect when their spans overlap; a finding on a clean item, or
   not overlapping its item's label, is a false alarm.

    PYTHONPATH=. flock /tmp/rayqa-cpu.lock python bench/audio_taxonomy.py [--items-per-defect 20] [--ffmpeg]

3. with ``--ffmpeg``, FFmpeg's ``ebur128`` (integrated loudness, LRA, true peak: against rayqa's
   item columns, and each side's EBU R128 verdict against the labels) and ``astats`` (DC offset
   and full-scale blocks per 0.1 s, under rayqa's duration rules, against the clipping and DC
   labels) on the same encoded files.
"""

from __future__ import annotations

import time

import numpy as np

from rayqa.detectors import build
from rayqa.synth import audio_signal
from rayqa.types import AudioSamples, ItemInfo, Window

SR = 48000
NAMES = ["audio_clipping", "loudness_out_of_range", "audio_channel_fault", "dc_offset", "test_tone"]


def music_like(seconds: float, seed: int = 0) -> np.ndarray:
    """Notes with harmonics and decaying envelopes over noise, stereo, about -20 dBFS RMS."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    t = np.arange(n) / SR
    x = np.zeros((2, n))
    for start in np.arange(0, seconds, 0.25):
        f0 = rng.choice([110, 147, 196, 262, 330, 392, 523])
        a = int(start * SR)
        b = min(n, a + SR)
        tt = t[a:b] - start
        note = sum(0.6 ** h * np.sin(2 * np.pi * f0 * (h + 1) * tt) for h in range(5)) * np.exp(-tt * 4)
        pan = rng.uniform(0.2, 0.8)
        x[0, a:b] += (1 - pan) * note
        x[1, a:b] += pan * note
    x += 0.05 * rng.standard_normal(x.shape)
    return (x * 0.1 / np.sqrt(np.mean(x ** 2))).astype(np.float32)


def windows(x: np.ndarray, win_s: float = 8.0) -> list[Window]:
    step = int(win_s * SR)
    out = []
    for a in range(0, x.shape[1], step):
        w = Window("bench", a / SR, min(x.shape[1], a + step) / SR)
        w.audio["audio_48000hz_multi"] = AudioSamples(a / SR, SR, np.ascontiguousarray(x[:, a : a + step]))
        out.append(w)
    return out


def cost(det, ws, info, repeats: int = 3) -> float:
    best = float("inf")
    for _ in range(repeats):
        started = time.process_time()
        hits = [h for w in ws for h in det.detect(w, info)]
        det.merge(hits)
        det.summarise(hits)
        best = min(best, time.process_time() - started)
    return best


def held_note(seconds: float, f0: float, rng) -> np.ndarray:
    """An instrument-like held note: harmonics, vibrato, attack and a slow swell."""
    t = np.arange(int(seconds * SR)) / SR
    phase = 2 * np.pi * np.cumsum(f0 * (1 + rng.uniform(0.003, 0.008) * np.sin(2 * np.pi * rng.uniform(4.5, 6.5) * t))) / SR
    note = sum(a * np.sin((h + 1) * phase) for h, a in enumerate(rng.uniform(0.1, 0.7, 5) * [1, 0.8, 0.6, 0.4, 0.3]))
    env = np.minimum(1.0, t / 0.08) * (0.8 + 0.2 * np.sin(2 * np.pi * rng.uniform(0.3, 1.0) * t))
    x = 0.3 * note * env / np.abs(note).max()
    return np.stack([x, x * rng.uniform(0.7, 1.0)])


def to_lufs(x: np.ndarray, target: float, rate: int) -> np.ndarray:
    import pyloudnorm

    return x * 10 ** ((target - pyloudnorm.Meter(rate).integrated_loudness(x.T)) / 20)


def simulated_item(kind: str, k: int, seconds: float = 10.0):
    """(audio, rate, labels [(defect, start, end)]) for one item of ``kind``."""
    rng = np.random.default_rng(1000 + k)
    rate = 44100 if k % 3 == 0 else SR
    x = music_like(seconds, seed=k).astype(np.float64)
    if rate != SR:
        from scipy.signal import resample_poly

        x = resample_poly(x, 147, 160, axis=1)
    if kind == "clean" and k % 2:
        a = int(rng.uniform(1, 4) * rate)
        note = held_note(rng.uniform(2, 5), float(rng.choice([262, 440, 523, 1000])), rng)
        x[:, a : a + note.shape[1]] = note[:, : x.shape[1] - a] * 0.3
    x = to_lufs(x, -23.0 + rng.uniform(-0.5, 0.5), rate)
    n = x.shape[1]
    start = float(np.round(rng.uniform(1, seconds - 5), 2))
    dur = float(np.round(rng.uniform(2, 4), 2))
    span = slice(int(start * rate), int((start + dur) * rate))
    ch = int(rng.integers(2))
    labels = []
    if kind == "audio_clipping":
        x[ch, span] = np.clip(x[ch, span] * 10 ** (rng.uniform(18, 30) / 20), -1, 1)
        labels.append(("audio_clipping", start, start + dur))
    elif kind == "loudness_out_of_range":
        x *= 10 ** (rng.choice([-1, 1]) * rng.uniform(2, 10) / 20)
        labels.append(("loudness_out_of_range", 0.0, seconds))
    elif kind == "dc_offset":
        x[ch, span] += rng.choice([-1, 1]) * rng.uniform(0.015, 0.1)
        labels.append(("dc_offset", start, start + dur))
    elif kind == "test_tone":
        f = float(rng.choice([1000.0, 440.0, rng.uniform(200, 8000)]))
        t = np.arange(span.stop - span.start) / rate
        x[:, span] = 10 ** (rng.uniform(-30, -18) / 20) * np.sin(2 * np.pi * f * t)
        labels.append(("test_tone", start, start + dur))
    elif kind == "audio_channel_fault":
        fault = ["dead", "phase", "dual"][k % 3]
        if fault == "dead":
            x[ch, span] = 0.0
        elif fault == "phase":
            x[1, span] = -x[0, span]
        else:
            x[1] = x[0]
            start, dur = 0.0, seconds
        labels.append(("audio_channel_fault", start, start + dur))
    # Any defect can move the item's loudness (a dead channel, a tone, a clipped passage): its
    # loudness label comes from pyloudnorm and a 4x resample_poly peak of the final signal, and
    # items within 0.2 LU / dB of a limit are not scored for loudness (None).
    import pyloudnorm
    from scipy.signal import resample_poly

    x = np.clip(x, -1, 1)
    lufs = pyloudnorm.Meter(rate).integrated_loudness(x.T)
    tp = 20 * np.log10(np.abs(resample_poly(x, 4, 1, axis=1)).max())
    if abs(abs(lufs + 23.0) - 1.0) < 0.2 or abs(tp + 1.0) < 0.2:
        labels = [l for l in labels if l[0] != "loudness_out_of_range"] + [("loudness_out_of_range", None, None)]
    elif (abs(lufs + 23.0) > 1.0 or tp > -1.0) and not any(l[0] == "loudness_out_of_range" for l in labels):
        labels.append(("loudness_out_of_range", 0.0, seconds))
    return np.clip(x, -1, 1).astype(np.float32)[:, :n], rate, labels


def evaluate(items_per_defect: int, verbose: bool = False, ffmpeg: bool = False) -> dict:
    import tempfile
    from pathlib import Path

    from rayqa import media
    from rayqa.synth import encode

    dets = build(NAMES)
    kinds = NAMES + ["clean"]
    stats = {d: {"labels": 0, "found": 0, "findings": 0, "false": 0} for d in NAMES}
    tol = 0.2
    start_err: dict[str, list[float]] = {d: [] for d in NAMES}
    ff_stats: dict[str, list] = {"loudness": [], "audio_clipping": [], "dc_offset": []}
    folder = Path(tempfile.mkdtemp(prefix="audio_taxonomy_"))
    k = 0
    for kind in kinds:
        for _ in range(items_per_defect * (2 if kind == "clean" else 1)):
            k += 1
            audio, rate, labels = simulated_item(kind, k)
            path = encode(folder / f"{k}.mp4", None, 25, 320, 180, audio, rate)
            info = media.probe(str(path))
            ws = media.decode_windows(str(path), info, media.plan_windows(info, 8.0), [], [dets[0].audio])
            ff = ffmpeg_item(str(path)) if ffmpeg else None
            for det in dets:
                hits = [h for w in ws for h in det.detect(w, info)]
                events = det.merge(hits)
                if ff is not None:
                    mine_ = [l for l in labels if l[0] == det.name]
                    if det.name == "loudness_out_of_range":
                        cols = det.summarise(hits)
                        ff_stats["loudness"].append({"labels": mine_, "rayqa": cols, "ffmpeg": ff["ebur128"],
                                                     "rate": rate, "kind": kind})
                    elif det.name in ("audio_clipping", "dc_offset"):
                        ff_stats[det.name].append({"labels": mine_, "blocks": ff["astats"],
                                                   "rayqa": [(e.start_s, e.end_s) for e in events]})
                mine = [l for l in labels if l[0] == det.name]
                if any(l[1] is None for l in mine):  # borderline: not scored
                    stats[det.name]["borderline"] = stats[det.name].get("borderline", 0) + 1
                    continue
                if det.name == "loudness_out_of_range" and events:
                    events = events[:1]  # one item-level verdict (integrated and true peak may both fire)
                stats[det.name]["labels"] += len(mine)
                stats[det.name]["findings"] += len(events)
                for l in mine:
                    hit = [e for e in events if e.start_s < l[2] and e.end_s > l[1]]
                    if hit:
                        stats[det.name]["found"] += 1
                        start_err[det.name].append(max(abs(hit[0].start_s - l[1]), abs(hit[0].end_s - l[2])))
                false = [e for e in events if not any(e.start_s < l[2] and e.end_s > l[1] for l in mine)]
                stats[det.name]["false"] += len(false)
                missed = [l for l in mine if not any(e.start_s < l[2] and e.end_s > l[1] for e in events)]
                if verbose and (false or missed):
                    print(f"item {k} ({kind}, {rate} Hz) {det.name}: missed {missed}, false "
                          f"{[(round(e.start_s, 2), round(e.end_s, 2), e.details) for e in false]}")
            path.unlink()
    print(f"\nsimulated items: {items_per_defect} per defect, {2 * items_per_defect} clean (half with held notes); "
          f"AAC in MP4, 10 s, a third at 44.1 kHz")
    print(f"{'defect':24s}{'labels':>8s}{'recall':>8s}{'precision':>11s}{'false':>7s}{'edges <= 0.2 s':>16s}")
    for d, s in stats.items():
        rec = s["found"] / s["labels"] if s["labels"] else float("nan")
        prec = (s["findings"] - s["false"]) / s["findings"] if s["findings"] else float("nan")
        within = sum(e <= tol for e in start_err[d])
        note = f"  ({s['borderline']} borderline items not scored)" if s.get("borderline") else ""
        print(f"{d:24s}{s['labels']:8d}{rec:8.3f}{prec:11.3f}{s['false']:7d}{within:>10d}/{len(start_err[d])}{note}")
    out = {"stats": stats, "items_per_defect": items_per_defect}
    if ffmpeg:
        out["ffmpeg"] = ffmpeg_scores(ff_stats, k * 10.0 / 3600)
        print_ffmpeg(out["ffmpeg"])
    return out


# -- FFmpeg's ebur128 and astats on the same files ---------------------------------------------------
def ffmpeg_item(path: str) -> dict:
    """FFmpeg on one file: ebur128's item measures (integrated, LRA, true peak) and astats per
    0.1 s block per channel (DC offset, peak level, peak count)."""
    import re
    import subprocess
    import tempfile

    log = subprocess.run(["ffmpeg", "-hide_banner", "-nostats", "-threads", "1", "-i", path, "-af", "ebur128=peak=true",
                          "-f", "null", "-"], capture_output=True, text=True, check=True).stderr
    summary = log[log.rfind("Summary:"):]
    num = lambda label: float(re.search(label + r"\s+(-?[\d.]+|-inf)", summary).group(1))  # noqa: E731
    ebur = {"loudness_lufs": num("I:"), "loudness_range_lu": num("LRA:"), "true_peak_dbtp": num("Peak:")}
    with tempfile.NamedTemporaryFile("r", suffix=".txt") as f:
        subprocess.run(["ffmpeg", "-hide_banner", "-nostats", "-loglevel", "error", "-threads", "1", "-i", path, "-af",
                        f"asetnsamples=n=4800,astats=metadata=1:reset=1,ametadata=mode=print:file={f.name}",
                        "-f", "null", "-"], check=True)
        blocks: list[dict] = []
        for line in f.read().splitlines():
            if line.startswith("frame:"):
                blocks.append({"t": float(line.split("pts_time:")[1].split()[0])})
            elif line.startswith("lavfi.astats.") and blocks:
                key, value = line[len("lavfi.astats."):].split("=", 1)
                if "." not in key:  # the filter's own counters (NaNs, Infs)
                    continue
                ch, name = key.split(".", 1)
                if ch != "Overall":
                    blocks[-1].setdefault(int(ch), {})[name] = float(value)
    return {"ebur128": ebur, "astats": blocks}


def _block_events(blocks: list[dict], flag, merge_gap_s: float, min_duration_s: float, block_s: float = 0.1):
    """Per channel spans of flagged 0.1 s blocks, merged across gaps, at least ``min_duration_s``."""
    spans = []
    channels = sorted({c for b in blocks for c in b if isinstance(c, int)})
    for ch in channels:
        cur = None
        for b in blocks:
            if ch in b and flag(b[ch]):
                if cur and b["t"] <= cur[1] + merge_gap_s + 1e-6:
                    cur[1] = b["t"] + block_s
                else:
                    if cur and cur[1] - cur[0] + 1e-6 >= min_duration_s:
                        spans.append(tuple(cur))
                    cur = [b["t"], b["t"] + block_s]
        if cur and cur[1] - cur[0] + 1e-6 >= min_duration_s:
            spans.append(tuple(cur))
    return sorted(spans)


def _event_score(items: list[dict], events_of, hours: float) -> dict:
    labels = found = false = findings = 0
    for it in items:
        evs = events_of(it)
        labs = [l for l in it["labels"] if l[1] is not None]
        labels += len(labs)
        found += sum(1 for l in labs if any(s < l[2] and e > l[1] for s, e in evs))
        findings += len(evs)
        false += sum(1 for s, e in evs if not any(s < l[2] and e > l[1] for l in labs))
    prec = (findings - false) / findings if findings else float("nan")
    rec = found / labels if labels else float("nan")
    return {"labels": labels, "recall": rec, "precision": prec, "false": false, "findings": findings,
            "false_alarms_per_hour": false / hours, "f1": 2 * prec * rec / (prec + rec) if findings and found else 0.0}


def ffmpeg_scores(ff: dict, hours: float) -> dict:
    out: dict = {"content_hours": hours}
    # Loudness: ebur128 against rayqa's item columns, and each side's R128 verdict against the labels.
    diffs = {k: [] for k in ("loudness_lufs", "loudness_range_lu", "true_peak_dbtp")}
    verdicts = {"rayqa": [0, 0, 0, 0], "ffmpeg": [0, 0, 0, 0]}  # tp, fp, fn, tn
    for it in ff["loudness"]:
        for k in diffs:
            r, f = it["rayqa"].get(k), it["ffmpeg"][k]
            if r is not None and np.isfinite(f):
                diffs[k].append(abs(r - f))
        lab = [l for l in it["labels"] if l[0] == "loudness_out_of_range"]
        if any(l[1] is None for l in lab):
            continue  # borderline: not scored
        truth = bool(lab)
        for side, m in (("rayqa", it["rayqa"]), ("ffmpeg", it["ffmpeg"])):
            lufs, tp = m.get("loudness_lufs"), m.get("true_peak_dbtp")
            bad = lufs is not None and (abs(lufs + 23.0) > 1.0 or (tp is not None and tp > -1.0))
            verdicts[side][0 if bad and truth else 1 if bad else 2 if truth else 3] += 1
    out["ebur128_vs_rayqa"] = {k: {"items": len(v), "mean_abs_diff": float(np.mean(v)) if v else None,
                                   "max_abs_diff": float(np.max(v)) if v else None} for k, v in diffs.items()}
    out["r128_verdict"] = {side: {"recall": tp / max(1, tp + fn), "precision": tp / max(1, tp + fp), "false": fp,
                                  "items": tp + fp + fn + tn} for side, (tp, fp, fn, tn) in verdicts.items()}
    # astats: DC offset per 0.1 s block, and blocks at full scale, under rayqa's duration rules.
    dc_grid = [0.003, 0.005, 0.01, 0.02]
    sc = {g: _event_score(ff["dc_offset"], lambda it, g=g: _block_events(it["blocks"], lambda c: abs(c["DC_offset"]) >= g,
                                                                         0.0, 1.0), hours) for g in dc_grid}
    best = max(sc, key=lambda g: sc[g]["f1"])
    out["astats_dc"] = {"default": {"setting": "|DC_offset| >= 0.01 (rayqa's -40 dB; astats has no threshold)", **sc[0.01]},
                        "best": {"setting": f"|DC_offset| >= {best}", **sc[best]},
                        "rayqa": _event_score(ff["dc_offset"], lambda it: it["rayqa"], hours)}
    clip_grid = [1, 2, 4, 8, 16]
    sc = {g: _event_score(ff["audio_clipping"], lambda it, g=g: _block_events(
        it["blocks"], lambda c: c["Peak_level"] >= -0.1 and c["Peak_count"] >= g, 0.5, 0.0), hours) for g in clip_grid}
    best = max(sc, key=lambda g: sc[g]["f1"])
    out["astats_clipping"] = {"default": {"setting": "Peak_level >= -0.1 dBFS in a 0.1 s block", **sc[1]},
                              "best": {"setting": f"Peak_level >= -0.1 dBFS and Peak_count >= {best}", **sc[best]},
                              "rayqa": _event_score(ff["audio_clipping"], lambda it: it["rayqa"], hours)}
    return out


def print_ffmpeg(f: dict) -> None:
    print("\nFFmpeg on the same files:")
    for k, v in f["ebur128_vs_rayqa"].items():
        print(f"  ebur128 vs rayqa {k:18s} items {v['items']:4d}  mean |diff| {v['mean_abs_diff']:.3f}  max {v['max_abs_diff']:.3f}")
    for side, v in f["r128_verdict"].items():
        print(f"  EBU R128 verdict from {side:6s}: recall {v['recall']:.3f} precision {v['precision']:.3f} "
              f"false {v['false']} ({v['items']} items scored)")
    for name in ("astats_dc", "astats_clipping"):
        for which in ("rayqa", "default", "best"):
            x = f[name][which]
            print(f"  {name:16s} {which:8s} recall {x['recall']:.3f} precision {x['precision']:.3f} "
                  f"false alarms/h {x['false_alarms_per_hour']:.1f}  {x.get('setting', '')}")


def main() -> None:
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--items-per-defect", type=int, default=20)
    ap.add_argument("--skip-cost", action="store_true")
    ap.add_argument("--verbose", action="store_true", help="print every miss and false alarm")
    ap.add_argument("--ffmpeg", action="store_true", help="also score FFmpeg's ebur128 and astats on the same files")
    ap.add_argument("--json", default=None, help="also write the figures to this file")
    args = ap.parse_args()
    if not args.skip_cost:
        cost_table()
    if args.items_per_defect > 0:
        res = evaluate(args.items_per_defect, args.verbose, args.ffmpeg)
        if args.json:
            import json
            from pathlib import Path

            Path(args.json).parent.mkdir(parents=True, exist_ok=True)
            Path(args.json).write_text(json.dumps(res, indent=1, default=str))


def cost_table() -> None:
    seconds = 60.0
    info = ItemInfo(duration_s=seconds, has_video=False, has_audio=True, audio_sample_rate=SR, audio_channels=2)
    signals = {"music-like": music_like(seconds), "synth programme": audio_signal(int(seconds * SR), SR, 0)}
    print(f"CPU seconds per content-second (60 s, 48 kHz stereo, 8 s windows; best of 3):")
    print(f"{'detector':24s}" + "".join(f"{k:>18s}" for k in signals))
    total = {k: 0.0 for k in signals}
    for det in build(NAMES):
        row = f"{det.name:24s}"
        for k, x in signals.items():
            c = cost(det, windows(x), info) / seconds
            total[k] += c
            row += f"{c * 1000:15.2f} ms"
        print(row)
    print(f"{'all five':24s}" + "".join(f"{total[k] * 1000:15.2f} ms" for k in signals))


if __name__ == "__main__":
    main()
