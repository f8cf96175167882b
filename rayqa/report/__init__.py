"""``rayqa report SCAN_DIR``: one self-contained HTML file over a scan's output, with evidence.

The page opens with no network (plotly.js inlined once, images as data URIs). Large scans stay
usable because everything is aggregated first and only a bounded number of findings get evidence
(the top ``evidence_per_defect`` by score of each defect); the items and findings tables are one
compact JSON block that the page's script pages through, 50 or 100 rows at a time.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from rayqa.evidence import EvidenceOptions, item_evidence
from rayqa.policy import Policy
from rayqa.report import render
from rayqa.report.data import Scan, load_scan, overview, page_data, pick_evidence

__all__ = ["ReportOptions", "build_report", "cut_evidence", "load_scan"]


@dataclass
class ReportOptions:
    evidence_per_defect: int = 12  # findings per defect that get thumbnails / spectrograms
    evidence_suppressed_per_rule: int = 3
    timeline_items: int = 30  # rows of the timeline figure (every item has its own in the Items table)
    evidence_workers: int = 2  # items whose media is read at once (decoding releases the GIL)
    evidence: EvidenceOptions = field(default_factory=EvidenceOptions)


def cut_evidence(scan: Scan, rows: list[int], options: ReportOptions) -> dict[int, dict]:
    """Evidence for the findings at ``rows``, reading each item's media once."""
    f = scan.findings
    uri = dict(zip(scan.items["item_id"].astype(str), scan.items["uri"])) if "uri" in scan.items.columns else {}
    dur = dict(zip(scan.items["item_id"].astype(str), pd.to_numeric(scan.items["duration_s"], errors="coerce"))) \
        if "duration_s" in scan.items.columns else {}
    by_item: dict[str, list[int]] = {}
    for i in rows:
        by_item.setdefault(str(f.at[i, "item_id"]), []).append(i)

    def one(item_id: str) -> list[tuple[int, dict]]:
        idx = sorted(by_item[item_id], key=lambda i: f.at[i, "start_s"])
        d = dur.get(item_id)
        evs = item_evidence(uri.get(item_id), [f.loc[i].to_dict() for i in idx],
                            None if d is None or pd.isna(d) else float(d), options.evidence)
        return list(zip(idx, evs))

    out: dict[int, dict] = {}
    with ThreadPoolExecutor(max(1, options.evidence_workers)) as pool:
        for pairs in pool.map(one, sorted(by_item)):
            out.update(pairs)
    return out


def build_report(scan_dir: str | os.PathLike, out: str | os.PathLike | None = None, policy: Policy | None = None,
                 diff_against: str | os.PathLike | None = None, options: ReportOptions | None = None) -> Path:
    """Write the report of the scan in ``scan_dir`` to ``out`` (default ``SCAN_DIR/report.html``);
    ``policy`` decides what is suppressed (default: what the scan decided), ``diff_against`` an
    earlier scan whose changes get a section. Returns the path."""
    opts = options or ReportOptions()
    scan = load_scan(scan_dir, policy)
    ov = overview(scan)
    picked = pick_evidence(scan.findings, opts.evidence_per_defect, opts.evidence_suppressed_per_rule)
    anchors = {i: k for k, i in enumerate(picked)}
    evidence = cut_evidence(scan, picked, opts)
    data = page_data(scan, anchors)
    palette = render.colors(data["defects"])
    diff = None
    if diff_against is not None:
        from rayqa.diff import diff_scans

        diff = diff_scans(diff_against, scan.root)
    nav = [("overview", "Overview"), ("timeline", "Timeline"), ("evidence", "Evidence"), ("av-sync", "AV sync"),
           ("items", "Items"), ("findings", "Findings"), ("suppressed", "Suppressed")] + \
          ([("diff", "Changes")] if diff is not None else [])
    sections = [
        render.overview_section(ov, scan, palette),
        render.timeline_section(scan, palette, opts.timeline_items),
        render.evidence_section(scan, picked, evidence, anchors, opts.evidence_per_defect, ov["findings"],
                                data["defects"]),
        render.av_sync_section(scan),
        render.items_section(scan),
        render.findings_section(data),
        render.suppressed_section(scan, data, picked, evidence, anchors, getattr(policy, "source", None)),
    ]
    if diff is not None:
        sections.append(render.diff_section(diff))
    title = f"rayqa report: {scan.root.name}"
    path = Path(out) if out is not None else scan.root / "report.html"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(render.page(title, sections, data, palette, nav), encoding="utf-8")
    os.replace(tmp, path)
    return path
