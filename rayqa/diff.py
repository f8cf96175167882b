"""``rayqa diff SCAN_A SCAN_B``: findings that appeared, disappeared or moved between two scans
(a new model version, new thresholds), per defect and item.

Findings of one item and defect are paired across the scans, closest first, when their spans
overlap once widened by the tolerance; a pair whose start or end moved by more than the tolerance
(0.5 s) has *moved*, an unpaired finding of A *disappeared*, one of B *appeared*. Only items both
scans hold are compared (the others are counted apart), so a scan of more items is no flood of
appearances.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

MOVE_TOLERANCE_S = 0.5
CHANGES = ("appeared", "disappeared", "moved")
COLUMNS = ["change", "item_id", "defect", "detector", "start_s_a", "end_s_a", "start_s_b", "end_s_b",
           "delta_start_s", "delta_end_s", "score_a", "score_b"]


@dataclass
class ScanDiff:
    changes: pd.DataFrame  # one row per change, COLUMNS
    by_defect: pd.DataFrame  # defect, appeared, disappeared, moved, unchanged
    items_compared: int
    items_only_a: list[str] = field(default_factory=list)
    items_only_b: list[str] = field(default_factory=list)
    run_a: str | None = None
    run_b: str | None = None
    tolerance_s: float = MOVE_TOLERANCE_S


def read_scan(folder: str | os.PathLike) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """(items, findings, run.json) of a scan folder; FileNotFoundError when it holds no scan."""
    root = Path(folder)
    for sub in ("items", "findings"):
        if not (root / sub).is_dir():
            raise FileNotFoundError(f"not a scan folder (no {sub}/): {root}")
    items = pd.read_parquet(root / "items")
    findings = pd.read_parquet(root / "findings")
    run = {}
    if (root / "run.json").is_file():
        try:
            run = json.loads((root / "run.json").read_text())
        except ValueError:
            run = {}
    return items, findings, run


def _pairs(a: pd.DataFrame, b: pd.DataFrame, tol: float) -> list[tuple[int, int]]:
    """Greedy closest-first pairing of two lists of spans that overlap once widened by ``tol``."""
    cands = []
    for i, ra in enumerate(a.itertuples()):
        for j, rb in enumerate(b.itertuples()):
            if ra.start_s - tol <= rb.end_s and rb.start_s - tol <= ra.end_s:
                cands.append((abs(ra.start_s - rb.start_s) + abs(ra.end_s - rb.end_s), i, j))
    used_a, used_b, out = set(), set(), []
    for _, i, j in sorted(cands):
        if i not in used_a and j not in used_b:
            used_a.add(i), used_b.add(j), out.append((i, j))
    return out


def diff_findings(a: pd.DataFrame, b: pd.DataFrame, tolerance_s: float = MOVE_TOLERANCE_S
                  ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(changes, by_defect) between two findings tables (item_id, defect, detector, start_s, end_s,
    score); callers restrict both to the items they compare."""
    rows, unchanged = [], {}
    keys = sorted(set(zip(a["item_id"], a["defect"])) | set(zip(b["item_id"], b["defect"])))
    ga = {k: g.sort_values("start_s").reset_index(drop=True) for k, g in a.groupby(["item_id", "defect"])} if len(a) else {}
    gb = {k: g.sort_values("start_s").reset_index(drop=True) for k, g in b.groupby(["item_id", "defect"])} if len(b) else {}
    empty = a.iloc[0:0] if len(a) else b.iloc[0:0]
    for key in keys:
        fa, fb = ga.get(key, empty), gb.get(key, empty)
        pairs = _pairs(fa, fb, tolerance_s)
        paired_a, paired_b = {i for i, _ in pairs}, {j for _, j in pairs}
        for i, j in pairs:
            ra, rb = fa.iloc[i], fb.iloc[j]
            ds, de = float(rb.start_s - ra.start_s), float(rb.end_s - ra.end_s)
            if abs(ds) > tolerance_s + 1e-9 or abs(de) > tolerance_s + 1e-9:
                rows.append(_row("moved", key, rb.detector, ra, rb, ds, de))
            else:
                unchanged[key[1]] = unchanged.get(key[1], 0) + 1
        for i in range(len(fa)):
            if i not in paired_a:
                rows.append(_row("disappeared", key, fa.iloc[i].detector, fa.iloc[i], None))
        for j in range(len(fb)):
            if j not in paired_b:
                rows.append(_row("appeared", key, fb.iloc[j].detector, None, fb.iloc[j]))
    changes = pd.DataFrame(rows, columns=COLUMNS)
    if len(changes):
        order = {c: k for k, c in enumerate(CHANGES)}
        changes = changes.sort_values(["defect", "item_id", "change", "start_s_b", "start_s_a"],
                                      key=lambda s: s.map(order) if s.name == "change" else s,
                                      na_position="last").reset_index(drop=True)
    defects = sorted(set(changes["defect"]) | set(unchanged))
    counts = changes.groupby(["defect", "change"]).size() if len(changes) else pd.Series(dtype=int)
    by_defect = pd.DataFrame([
        {"defect": d, **{c: int(counts.get((d, c), 0)) for c in CHANGES}, "unchanged": unchanged.get(d, 0)}
        for d in defects], columns=["defect", *CHANGES, "unchanged"])
    return changes, by_defect


def _row(change, key, detector, ra, rb, ds=None, de=None) -> dict:
    return {"change": change, "item_id": key[0], "defect": key[1], "detector": detector,
            "start_s_a": None if ra is None else float(ra.start_s), "end_s_a": None if ra is None else float(ra.end_s),
            "start_s_b": None if rb is None else float(rb.start_s), "end_s_b": None if rb is None else float(rb.end_s),
            "delta_start_s": None if ds is None else round(ds, 3), "delta_end_s": None if de is None else round(de, 3),
            "score_a": None if ra is None else float(ra.score), "score_b": None if rb is None else float(rb.score)}


def diff_scans(scan_a: str | os.PathLike, scan_b: str | os.PathLike, tolerance_s: float = MOVE_TOLERANCE_S
               ) -> ScanDiff:
    items_a, fa, run_a = read_scan(scan_a)
    items_b, fb, run_b = read_scan(scan_b)
    ids_a, ids_b = set(items_a["item_id"]), set(items_b["item_id"])
    both = ids_a & ids_b
    changes, by_defect = diff_findings(fa[fa["item_id"].isin(both)], fb[fb["item_id"].isin(both)], tolerance_s)
    return ScanDiff(changes, by_defect, len(both), sorted(ids_a - ids_b), sorted(ids_b - ids_a),
                    run_a.get("run_id"), run_b.get("run_id"), tolerance_s)


def _fmt(v) -> str:
    if v is None or (isinstance(v, float) and pd.isna(v)):
        return "-"
    if isinstance(v, float):
        return f"{v:+.2f}"
    return str(v)


def format_diff(d: ScanDiff, limit: int | None = 200) -> str:
    """The diff as text: counts per defect, then one line per change (the first ``limit``)."""
    lines = [f"compared {d.items_compared} items (runs {d.run_a or '?'} → {d.run_b or '?'}; moved: start or end by "
             f"more than {d.tolerance_s:g} s)"]
    if d.items_only_a or d.items_only_b:
        lines.append(f"not compared: {len(d.items_only_a)} items only in A, {len(d.items_only_b)} only in B")
    if not len(d.by_defect):
        lines.append("no findings in either scan")
        return "\n".join(lines)
    lines.append("")
    lines.append(_table(["defect", *CHANGES, "unchanged"], d.by_defect.values.tolist()))
    if not len(d.changes):
        lines.append("\nno changes")
        return "\n".join(lines)
    lines.append("")
    shown = d.changes if limit is None else d.changes.head(limit)
    body = [[r.change, r.item_id, r.defect, _span(r.start_s_a, r.end_s_a), _span(r.start_s_b, r.end_s_b),
             _fmt(r.delta_start_s), _fmt(r.delta_end_s)] for r in shown.itertuples()]
    lines.append(_table(["change", "item", "defect", "A (s)", "B (s)", "Δstart", "Δend"], body))
    if limit is not None and len(d.changes) > limit:
        lines.append(f"... {len(d.changes) - limit} more (--out FILE writes them all)")
    return "\n".join(lines)


def _span(a, b) -> str:
    return "-" if a is None or pd.isna(a) else f"{a:.2f}-{b:.2f}"


def _table(header: list[str], rows: list[list]) -> str:
    rows = [[str(c) for c in r] for r in rows]
    widths = [max(len(str(h)), *(len(r[k]) for r in rows)) if rows else len(str(h)) for k, h in enumerate(header)]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in [header] + rows)


def write_diff(d: ScanDiff, path: str | os.PathLike) -> Path:
    """Every change to ``path``: .csv, .json, .parquet (by extension)."""
    p = Path(path)
    ext = p.suffix.lower()
    if ext == ".csv":
        d.changes.to_csv(p, index=False)
    elif ext == ".json":
        p.write_text(json.dumps({"run_a": d.run_a, "run_b": d.run_b, "tolerance_s": d.tolerance_s,
                                 "items_compared": d.items_compared, "items_only_a": d.items_only_a,
                                 "items_only_b": d.items_only_b, "by_defect": d.by_defect.to_dict("records"),
                                 "changes": json.loads(d.changes.to_json(orient="records"))}, indent=2) + "\n")
    elif ext == ".parquet":
        d.changes.to_parquet(p, index=False)
    else:
        raise ValueError(f"--out {p}: write .csv, .json or .parquet")
    return p
