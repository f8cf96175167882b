"""What a report shows, computed from a scan folder before any HTML: aggregates first, the few
findings that get evidence, and compact columnar tables the page pages through."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from rayqa.defects import known_defects
from rayqa.policy import Policy, apply_policy


@dataclass
class Scan:
    root: Path
    items: pd.DataFrame
    findings: pd.DataFrame  # with suppressed / suppressed_by
    run: dict
    policy_rules: list[dict] = field(default_factory=list)  # Policy.describe_rules(), or from the scan


def load_scan(folder: str | os.PathLike, policy: Policy | None = None) -> Scan:
    """A scan folder's items, findings and run.json; ``policy`` (re)decides what is suppressed,
    without one the scan's own ``suppressed`` columns (if any) stand."""
    from rayqa.diff import read_scan

    root = Path(folder).resolve()
    items, findings, run = read_scan(root)
    if policy is not None:
        findings = apply_policy(findings, items, policy)
        rules = policy.describe_rules()
    else:
        if "suppressed" not in findings.columns:
            findings = apply_policy(findings, items, None)
        else:
            findings = findings.copy()
            findings["suppressed"] = findings["suppressed"].fillna(False).astype(bool)
        rules = [{"name": n, "profile": None, "conditions": "(from the scan's policy)"}
                 for n in sorted(findings.loc[findings["suppressed"], "suppressed_by"].dropna().unique())]
    findings = findings.reset_index(drop=True)
    return Scan(root, items.reset_index(drop=True), findings, run, rules)


def _iso(text: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(text))
    except (TypeError, ValueError):
        return None


def overview(scan: Scan) -> dict:
    """The numbers at the top of the report."""
    items, f, run = scan.items, scan.findings, scan.run
    active = f[~f["suppressed"]]
    status = items["status"].value_counts().to_dict() if len(items) else {}
    dur = pd.to_numeric(items.get("duration_s", pd.Series(dtype=float)), errors="coerce")
    ok = items["status"] == "ok" if len(items) else pd.Series(dtype=bool)
    started, finished = _iso(run.get("started_at")), _iso(run.get("finished_at"))
    models = [{"detector": d.get("name"), "model": d.get("model"), "model_version": d.get("model_version")}
              for d in run.get("detectors", []) if isinstance(d, dict)]
    if not models and len(f):
        models = (f[["detector", "model", "model_version"]].drop_duplicates().sort_values("detector")
                  .to_dict("records"))
    by_det = (active.groupby(["defect", "detector"]).size().reset_index(name="findings")
              .sort_values(["findings", "defect"], ascending=[False, True]) if len(active) else
              pd.DataFrame(columns=["defect", "detector", "findings"]))
    errors = (items.loc[items["status"] == "failed", "error"].fillna("(no reason)").value_counts().head(20)
              if len(items) else pd.Series(dtype=int))
    return {
        "run_id": run.get("run_id"), "rayqa_version": run.get("rayqa_version"), "git_commit": run.get("git_commit"),
        "started_at": run.get("started_at"), "finished_at": run.get("finished_at"), "status": run.get("status"),
        "run_s": (finished - started).total_seconds() if started and finished else None,
        "items": int(len(items)), "items_by_status": {k: int(v) for k, v in status.items()},
        "content_h": float(dur[ok].sum() / 3600.0) if len(items) else 0.0,
        "content_s_this_run": run.get("content_seconds_scanned"),
        "findings": int(len(active)), "suppressed": int(f["suppressed"].sum()),
        "items_with_findings": int(active["item_id"].nunique()),
        "by_defect": active["defect"].value_counts().to_dict(),
        "suppressed_by_defect": f.loc[f["suppressed"], "defect"].value_counts().to_dict(),
        "by_defect_detector": by_det.to_dict("records"),
        "models": models, "failed_reasons": errors.to_dict(),
        "suppressed_by_rule": f.loc[f["suppressed"], "suppressed_by"].value_counts().to_dict(),
    }


def pick_evidence(findings: pd.DataFrame, per_defect: int, suppressed_per_rule: int) -> list[int]:
    """Row indices of the findings that get evidence: the top ``per_defect`` by score (then length)
    of each defect among the active ones, and the top ``suppressed_per_rule`` of each rule."""
    if not len(findings):
        return []
    f = findings.assign(_len=findings["end_s"] - findings["start_s"])
    f = f.sort_values(["score", "_len", "item_id", "start_s"], ascending=[False, False, True, True])
    active = f[~f["suppressed"]].groupby("defect", sort=False).head(per_defect)
    sup = f[f["suppressed"]].groupby("suppressed_by", sort=False).head(suppressed_per_rule)
    return list(active.index) + list(sup.index)


def av_fragments(details: Any) -> list[dict]:
    try:
        d = json.loads(details) if isinstance(details, str) else (details or {})
    except ValueError:
        return []
    frags = d.get("fragments") if isinstance(d, dict) else None
    return [x for x in frags if isinstance(x, dict)] if isinstance(frags, list) else []


def _num(s: pd.Series, digits: int) -> list:
    v = pd.to_numeric(s, errors="coerce").round(digits)
    return [None if pd.isna(x) else (int(x) if float(x).is_integer() else float(x)) for x in v]


def _short(text: Any, n: int) -> str:
    if not isinstance(text, str):
        text = "" if text is None else json.dumps(text, default=str)
    return text if len(text) <= n else text[: n - 1] + "…"


def page_data(scan: Scan, evidence_anchor: dict[int, int], details_chars: int = 160) -> dict:
    """The tables the page's script pages through: columnar, strings interned (an index into a
    list), times to the millisecond, details cut short. A 10,000-item scan is a few MB."""
    items, f = scan.items, scan.findings
    order = list(known_defects())
    defects = sorted(set(f["defect"]), key=lambda d: (order.index(d) if d in order else len(order), d))
    detectors = sorted(set(f["detector"]))
    rules = [r["name"] for r in scan.policy_rules]
    rules += sorted(set(f["suppressed_by"].dropna()) - set(rules))
    ids = list(items["item_id"].astype(str))
    extra_ids = sorted(set(f["item_id"].astype(str)) - set(ids))  # findings of an item with no summary
    ids += extra_ids
    at = {k: i for i, k in enumerate(ids)}
    d_at, det_at, r_at = ({k: i for i, k in enumerate(x)} for x in (defects, detectors, rules))
    n_extra = len(extra_ids)
    col = lambda name, default=None: (list(items[name]) if name in items.columns else [default] * len(items))
    active = f[~f["suppressed"]]
    counts = active["item_id"].astype(str).value_counts()
    sup_counts = f.loc[f["suppressed"], "item_id"].astype(str).value_counts()
    status = [s if isinstance(s, str) else "?" for s in col("status", "?")] + ["?"] * n_extra
    verdict = [v if isinstance(v, str) else None for v in col("av_sync_verdict")] + [None] * n_extra
    err = [_short(e, 200) if isinstance(e, str) else None for e in col("error")] + [None] * n_extra
    return {
        "defects": defects, "detectors": detectors, "rules": rules,
        "items": {
            "id": ids, "status": status,
            "dur": _num(items.get("duration_s", pd.Series([None] * len(items))), 3) + [None] * n_extra,
            "n": [int(counts.get(i, 0)) for i in ids], "ns": [int(sup_counts.get(i, 0)) for i in ids],
            "av": verdict, "off": _num(items.get("av_offset_ms", pd.Series([None] * len(items))), 1) + [None] * n_extra,
            "err": err,
        },
        "findings": {
            "item": [at[str(i)] for i in f["item_id"]],
            "defect": [d_at[d] for d in f["defect"]],
            "detector": [det_at[d] for d in f["detector"]],
            "s": _num(f["start_s"], 3), "e": _num(f["end_s"], 3), "score": _num(f["score"], 3),
            "sup": [r_at[r] if isinstance(r, str) else -1 for r in f["suppressed_by"]],
            "ev": [evidence_anchor.get(i, -1) for i in range(len(f))],
            "det": [_short(d, details_chars) for d in f["details"]],
        },
    }


def top_items(findings: pd.DataFrame, n: int) -> list[str]:
    """The items with the most active findings (ties by id): the timeline figure's rows."""
    active = findings[~findings["suppressed"]]
    if not len(active):
        return []
    c = active.groupby("item_id").size().reset_index(name="n").sort_values(["n", "item_id"], ascending=[False, True])
    return list(c["item_id"].astype(str).head(n))


def finite(x) -> float | None:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if np.isfinite(v) else None
