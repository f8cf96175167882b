"""Event-level scoring of a scan's findings against simulation labels: the one scorer every
detector's benchmark uses.

A finding matches a label of the same item and defect when their time ranges overlap once each
is widened by ``tolerance_s``. Recall is the share of labels matched by at least one finding;
precision the share of findings that match at least one label.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

LABEL_COLUMNS = ("item_id", "defect", "start_s", "end_s")


def read_labels(path: str | Path) -> pd.DataFrame:
    labels = pd.read_parquet(path)
    missing = [c for c in LABEL_COLUMNS if c not in labels.columns]
    if missing:
        raise ValueError(f"labels {path} lack column(s) {', '.join(missing)}")
    return labels


def _matches(a: pd.DataFrame, b: pd.DataFrame, tolerance_s: float) -> np.ndarray:
    """For each row of ``a``: does any row of ``b`` (same item and defect) overlap it?"""
    hit = np.zeros(len(a), bool)
    if a.empty or b.empty:
        return hit
    groups = {k: g for k, g in b.groupby(["item_id", "defect"])}
    for i, (item, defect, start, end) in enumerate(a[list(LABEL_COLUMNS)].itertuples(index=False)):
        g = groups.get((item, defect))
        if g is not None:
            hit[i] = bool(((g["start_s"].to_numpy() - tolerance_s < end) & (start - tolerance_s < g["end_s"].to_numpy())).any())
    return hit


def score(findings: pd.DataFrame, labels: pd.DataFrame, tolerance_s: float = 0.5,
          items: list[str] | None = None, defects: list[str] | None = None) -> pd.DataFrame:
    """One row per defect: labels, findings, matched of each, recall, precision.

    ``items`` limits both sides to the items that were scanned (findings on other items, and
    labels of items that were never scanned, are left out rather than counted as errors).
    ``defects`` limits the rows to those defects (a detector's benchmark scores its own)."""
    if items is not None:
        findings = findings[findings["item_id"].isin(items)]
        labels = labels[labels["item_id"].isin(items)]
    if defects is not None:
        findings = findings[findings["defect"].isin(defects)]
        labels = labels[labels["defect"].isin(defects)]
    label_hit = _matches(labels, findings, tolerance_s)
    finding_hit = _matches(findings, labels, tolerance_s)
    rows = []
    for defect in sorted(set(labels["defect"]) | set(findings["defect"])):
        lm, fm = (labels["defect"] == defect).to_numpy(), (findings["defect"] == defect).to_numpy()
        n_l, n_f = int(lm.sum()), int(fm.sum())
        rows.append({"defect": defect, "labels": n_l, "findings": n_f,
                     "labels_found": int(label_hit[lm].sum()), "findings_true": int(finding_hit[fm].sum()),
                     "recall": label_hit[lm].mean() if n_l else np.nan,
                     "precision": finding_hit[fm].mean() if n_f else np.nan})
    return pd.DataFrame(rows, columns=["defect", "labels", "findings", "labels_found", "findings_true",
                                       "recall", "precision"])


def evaluate_scan(scan_dir: str | Path, labels_path: str | Path, tolerance_s: float = 0.5,
                  defects: list[str] | None = None) -> pd.DataFrame:
    """Score a scan's output folder (``findings/`` and ``items/``) against a labels Parquet."""
    scan_dir = Path(scan_dir)
    findings = pd.read_parquet(scan_dir / "findings")
    items = None
    if (scan_dir / "items").is_dir():
        summary = pd.read_parquet(scan_dir / "items")
        items = list(summary.loc[summary["status"] == "ok", "item_id"])
    return score(findings, read_labels(labels_path), tolerance_s, items, defects)


def format_table(table: pd.DataFrame) -> str:
    def pct(v):
        return "   -" if pd.isna(v) else f"{v:5.3f}"

    lines = [f"{'defect':<24} {'labels':>6} {'found':>6} {'recall':>7} {'findings':>8} {'true':>6} {'precision':>9}"]
    for r in table.itertuples():
        lines.append(f"{r.defect:<24} {r.labels:>6} {r.labels_found:>6} {pct(r.recall):>7} {r.findings:>8} "
                     f"{r.findings_true:>6} {pct(r.precision):>9}")
    return "\n".join(lines)
