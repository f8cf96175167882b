"""Two block_corruption models at the same clean false-event rate, from bench/block_corruption.py's
saved scores (no scoring pass of its own).

    .venv/bin/python bench/block_corruption.py [--model A] --scores a.json --out a-bench.json
    .venv/bin/python bench/block_corruption.py --model B --scores b.json --out b-bench.json
    .venv/bin/python bench/block_corruption_same_rate.py a.json b.json [--names release2,trial]
        [--workdir /tmp/rayqa-block-bench] [--out bench/results/block_corruption_same_rate.json]

A model's own operating point (the threshold its calibration chose) mixes how well it ranks frames
with where that calibration landed. This asks the first question alone, where an operating point
could be: for each clean rate (false events per clean hour: 25.5, release 2's; 10, 5, 2, 1), the
lowest threshold at which each model's score alone (runs of 2 samples above it, the detector's
event rule without the decoder's corroboration) stays at or under that rate on the bench's clean
hours, and the event recall it then has in files and in captures (stretches of >= 0.4 s whose peak
covers >= 7 %). Both score files must come from the same ``--workdir`` media (the same damaged and
clean items); thresholds are searched on a grid to 0.9999 (``null`` where a model never gets that
low).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import block_corruption as B  # noqa: E402  (runs_events, event_figures: the bench's own rules)

RATES = (25.5, 10.0, 5.0, 2.0, 1.0)
GRID = np.concatenate([np.linspace(0.5, 0.95, 46), np.linspace(0.951, 0.9999, 200)])


def curve(scored: dict, stretches: list[dict], damaged: list[dict]) -> list[dict]:
    per = [(iid, kind, np.asarray(r["times"]), np.asarray(r["score"]), r["duration_s"])
           for (iid, kind, _), r in zip(scored["paths"], scored["scored"])]
    clean_h = sum(p[4] for p in per if p[1] == "clean") / 3600
    rows = []
    for thr in GRID:
        row = {"threshold": round(float(thr), 4)}
        for kind in ("file", "capture"):
            ev = {p[0]: B.runs_events(p[2], p[3] > thr, 2) for p in per if p[1] == kind}
            row[f"recall_{kind}s"] = B.event_figures(stretches, ev, damaged)["recall_peak_ge_7pct"]
        row["clean_false_events_per_hour"] = round(
            sum(len(B.runs_events(p[2], p[3] > thr, 2)) for p in per if p[1] == "clean") / clean_h, 2)
        rows.append(row)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("scores", nargs=2, help="two scored.json files of bench/block_corruption.py")
    ap.add_argument("--names", default="a,b", help="the two models' names in the output, comma-separated")
    ap.add_argument("--workdir", default="/tmp/rayqa-block-bench", help="the bench's media (damaged items' truth)")
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent / "results" / "block_corruption_same_rate.json"))
    args = ap.parse_args()
    names = args.names.split(",")
    if len(names) != 2:
        ap.error("--names takes two names")
    work = Path(args.workdir)
    loaded = [json.loads(Path(p).read_text()) for p in args.scores]
    if [x["paths"] for x in loaded][0] != loaded[1]["paths"]:
        sys.exit("the two score files are of different media: run both benches on the same --workdir")
    item_ids = sorted({iid for iid, kind, _ in loaded[0]["paths"] if kind == "file"})
    damaged = [json.loads((work / f"{iid}.json").read_text()) for iid in item_ids]
    stretches = [{**st, "item_id": d["item_id"]} for d in damaged for st in d["stretches"]]
    curves = {n: curve(x, stretches, damaged) for n, x in zip(names, loaded)}
    at_rate = []
    for rate in RATES:
        row = {"clean_false_events_per_hour_at_most": rate}
        for n, rows in curves.items():
            ok = [r for r in rows if r["clean_false_events_per_hour"] <= rate]
            row[n] = min(ok, key=lambda r: r["threshold"]) if ok else None
        at_rate.append(row)
        print(json.dumps(row))
    report = {"benchmark": "bench/block_corruption_same_rate.py",
              "command": " ".join(["python", "bench/block_corruption_same_rate.py"] + sys.argv[1:]),
              "models": {n: x["model"] for n, x in zip(names, loaded)}, "event_rule": "score alone, runs of 2 samples",
              "at_rate": at_rate}
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
