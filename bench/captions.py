"""Caption detectors, end to end on a simulated caption set: precision and recall per caption defect,
and what voice-activity detection costs per content-second.

    python bench/captions.py [--items 90] [--seed 1] [--split heldout] [--out /tmp/capbench]

1. ``rayqa simulate --defects captions --clean-captions`` (library call): speech from recorded
   voice clips (hedgewars-data) and espeak-ng at known times, true cues, one caption defect per item
   injected into a copy of them (clean items keep the true cues);
2. ``rayqa scan`` with the caption detectors;
3. ``rayqa evaluate`` on the caption defects; then the findings on clean items, and the
   caption_speech_mismatch detector's own time on decoded windows (no Ray), per content-second.

Run it under the CPU lock on a shared machine: ``flock /tmp/rayqa-cpu.lock python bench/captions.py``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import pandas as pd

DETECTORS = ["caption_file", "caption_timing", "caption_reading_speed", "caption_speech_mismatch"]
DEFECTS = ["caption_timing", "caption_reading_speed", "caption_speech_mismatch", "caption_missing", "caption_malformed"]


def vad_cost(out: Path, manifest: pd.DataFrame, n: int = 20) -> tuple[float, float]:
    """(detector seconds, content seconds) of caption_speech_mismatch over ``n`` captioned items."""
    from rayqa import runner
    from rayqa.detectors import build

    det = build(["caption_speech_mismatch"])[0]
    video, audio = runner.input_specs([det])
    spent = content = 0.0
    rows = manifest[manifest["captions_uri"].fillna("") != ""].head(n)
    for r in rows.itertuples():
        p = runner.plan(r.item_id, str(out / r.uri), 8.0, 10_000, str(out / r.captions_uri))
        for at, windows in runner.decode_batches(p, video, audio, 32):
            _, seconds = runner.detect([det], windows, list(range(at, at + len(windows))), p.info)
            spent += seconds[det.name]
        content += p.info.duration_s
    return spent, content


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--items", type=int, default=90)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--split", default="heldout", choices=["train", "heldout"])
    ap.add_argument("--clean-fraction", type=float, default=0.25)
    ap.add_argument("--out", default="/tmp/rayqa-captions-bench")
    args = ap.parse_args()

    from rayqa.evaluate import evaluate_scan, format_table
    from rayqa.pipeline import run_scan
    from rayqa.simulate.dataset import SimConfig, make_dataset

    out = Path(args.out)
    started = time.perf_counter()
    labels = make_dataset(out, args.items, seed=args.seed, recipes=["captions"], clean_fraction=args.clean_fraction,
                          cfg=SimConfig(duration_s=10.0, split=args.split, clean_captions=True))
    made = time.perf_counter() - started
    started = time.perf_counter()
    run_scan(out / "manifest.csv", out / "scan", detectors=DETECTORS, rescan=True)
    scanned = time.perf_counter() - started
    table = evaluate_scan(out / "scan", out / "labels.parquet", defects=DEFECTS)
    manifest = pd.read_csv(out / "manifest.csv", keep_default_na=False)
    found = pd.read_parquet(out / "scan" / "findings")
    clean = set(manifest.loc[manifest["recipe"] == "clean", "item_id"])
    on_clean = found[found["item_id"].isin(clean)]
    spent, content = vad_cost(out, manifest)

    print(f"{len(manifest)} items ({len(clean)} clean with true captions), {len(labels)} labels; "
          f"simulated in {made:.0f} s, scanned in {scanned:.0f} s")
    print(format_table(table))
    print(f"findings on the {len(clean)} clean items: {len(on_clean)}"
          + (" (" + ", ".join(f"{k} {v}" for k, v in on_clean["defect"].value_counts().items()) + ")" if len(on_clean) else ""))
    kinds = found.assign(kind=[json.loads(d).get("kind") or json.loads(d).get("reason") for d in found["details"]])
    print("findings by defect and kind: " + ", ".join(f"{d}/{k} {n}" for (d, k), n in
                                                       kinds.groupby(["defect", "kind"]).size().items()))
    print(f"caption_speech_mismatch (silero-vad + checks): {spent:.2f} s for {content:.0f} content-s = "
          f"{1000 * spent / max(content, 1e-9):.1f} ms per content-second ({content / max(spent, 1e-9):.0f}x real time)")
    items = pd.read_parquet(out / "scan" / "items")
    cov = items.set_index("item_id").loc[sorted(clean), "caption_speech_coverage"]
    print(f"caption_speech_coverage on clean items: median {cov.median():.3f}, min {cov.min():.3f}")
    print(f"command: python bench/captions.py --items {args.items} --seed {args.seed} --split {args.split}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
