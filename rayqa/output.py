"""The scan's output folder: findings and item summaries as plain Parquet, committed in parts.

A commit writes ``findings/part-<id>.parquet`` first and ``items/part-<id>.parquet`` second, each
through a temporary name and an atomic rename. An item is done exactly when its summary exists, so
a resumed scan skips those items and deletes any findings part whose items part never landed:
no finding is duplicated and no item is lost, wherever a kill came.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from rayqa import faults
from rayqa.columns import FINDINGS_SCHEMA, items_schema

SCAN_FILE = "scan.json"  # the detectors, parameters and versions a scan folder was made with


class ScanMismatch(ValueError):
    """A resume whose detectors, parameters or versions differ from the scan already in the folder."""


def _changed(before: dict | None, now: dict | None) -> list[str]:
    """The keys whose values differ between two per-detector tables (missing on one side counts)."""
    before, now = before or {}, now or {}
    return sorted(n for n in set(before) | set(now) if before.get(n) != now.get(n))


def _atomic_write(table: pa.Table, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    pq.write_table(table, tmp)
    os.replace(tmp, path)


class OutputDir:
    def __init__(self, root: str | os.PathLike, passthrough_schema: pa.Schema | None = None):
        self.root = Path(root).resolve()
        self.findings_dir = self.root / "findings"
        self.items_dir = self.root / "items"
        self.passthrough_schema = passthrough_schema or pa.schema([])
        self.items_schema = pa.schema(list(items_schema()) + list(self.passthrough_schema))

    def check_resumable(self, scan: dict) -> None:
        """Refuse to resume a scan made with other detectors, parameters or detector versions (its
        done items would silently keep the old ones' findings). ``scan``: what :meth:`prepare`
        records in scan.json."""
        path = self.root / SCAN_FILE
        if not path.is_file() or not self.done_items():
            return
        try:
            before = json.loads(path.read_text())
        except ValueError:
            raise ScanMismatch(f"{path} is not valid JSON; use --rescan to start the scan over") from None
        if "versions" in scan and "versions" not in before:
            # A folder from before scan.json recorded versions: its run.json names them, if it has one.
            known = self._run_versions()
            if known is None:
                scan = {k: v for k, v in scan.items() if k != "versions"}
            else:
                before = {**before, "versions": known}
        diffs = [k for k in sorted(set(scan) | set(before)) if before.get(k) != scan.get(k)]
        if diffs:
            what = []
            for k in diffs:
                if k == "detectors":
                    what.append(f"detectors {','.join(before.get(k) or [])} → {','.join(scan.get(k) or [])}")
                elif k == "params":
                    what.append(f"parameters of {', '.join(_changed(before.get(k), scan.get(k)))}")
                elif k == "versions":
                    old_v, new_v = before.get(k) or {}, scan.get(k) or {}
                    changed = (f"{n} {old_v.get(n, '-')} → {new_v.get(n, '-')}" for n in _changed(old_v, new_v))
                    what.append(f"versions of {', '.join(changed)}")
                else:
                    what.append(f"{k} {before.get(k)!r} → {scan.get(k)!r}")
            raise ScanMismatch(
                f"{self.root} holds a scan made with other settings ({'; '.join(what)}); resuming would mix "
                "findings of both. Use --rescan to scan every item again with the new settings, another --output "
                "for a separate scan, or the original settings to resume (--retry-failed also rescans its failed items)")

    def _run_versions(self) -> dict | None:
        """``{detector: model_version}`` from the folder's run.json, or None where it has none."""
        try:
            dets = json.loads((self.root / "run.json").read_text())["detectors"]
            return {d["name"]: str(d["model_version"]) for d in dets}
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def prepare(self, rescan: bool, scan: dict | None = None, retry_failed: bool = False) -> set[str]:
        """Create the folders; with ``rescan`` empty them; with ``retry_failed`` forget the failed
        items' summaries so they are scanned again. Records ``scan`` (detectors, parameters,
        versions) in scan.json. Returns the item ids already done."""
        if rescan:
            for d in (self.findings_dir, self.items_dir):
                shutil.rmtree(d, ignore_errors=True)
            (self.root / "run.json").unlink(missing_ok=True)
            (self.root / SCAN_FILE).unlink(missing_ok=True)
        elif scan is not None:
            self.check_resumable(scan)
        self.findings_dir.mkdir(parents=True, exist_ok=True)
        self.items_dir.mkdir(parents=True, exist_ok=True)
        for d in (self.findings_dir, self.items_dir):
            for tmp in d.glob(".*.tmp"):
                tmp.unlink()
        if scan is not None:
            tmp = self.root / f".{SCAN_FILE}.tmp"
            tmp.write_text(json.dumps(scan, indent=2, sort_keys=True, default=str) + "\n")
            os.replace(tmp, self.root / SCAN_FILE)
        if retry_failed:
            self.forget_failed()
        done = self.done_items()
        # Findings count only for items that have a summary: drop the rest (a part written just
        # before a kill, or an item whose summary was deleted to have it scanned again).
        for p in sorted(self.findings_dir.glob("part-*.parquet")):
            table = pq.read_table(p)
            keep = pc.is_in(table.column("item_id"), value_set=pa.array(sorted(done), pa.string()))
            if table.num_rows and not pc.all(keep).as_py():
                kept = table.filter(keep)
                if kept.num_rows:
                    _atomic_write(kept, p)
                else:
                    p.unlink()
        return done

    def forget_failed(self) -> int:
        """Drop the summaries of failed items (atomically, part by part); returns how many."""
        n = 0
        for p in sorted(self.items_dir.glob("part-*.parquet")):
            table = pq.read_table(p)
            failed = pc.equal(table.column("status"), "failed")
            k = pc.sum(failed).as_py() or 0
            if k:
                kept = table.filter(pc.invert(failed))
                if kept.num_rows:
                    _atomic_write(kept, p)
                else:
                    p.unlink()
                n += k
        return n

    def done_items(self) -> set[str]:
        parts = sorted(self.items_dir.glob("part-*.parquet"))
        if not parts:
            return set()
        ids = pq.ParquetDataset([str(p) for p in parts]).read(columns=["item_id"]).column("item_id")
        return set(ids.to_pylist())

    def commit(self, findings: list[dict], items: list[dict]) -> str:
        """Write one part: findings first, then the summaries that make those items done."""
        part = f"part-{uuid.uuid4().hex[:16]}.parquet"
        f_table = pa.Table.from_pylist(findings, schema=FINDINGS_SCHEMA)
        i_table = pa.Table.from_pylist(items, schema=self.items_schema)
        _atomic_write(f_table, self.findings_dir / part)
        faults.inject("commit")  # a kill here leaves findings without summaries: prepare() drops them
        _atomic_write(i_table, self.items_dir / part)
        return part

    def write_run(self, run: dict) -> Path:
        path = self.root / "run.json"
        tmp = path.with_name(".run.json.tmp")
        tmp.write_text(json.dumps(run, indent=2, default=str) + "\n")
        os.replace(tmp, path)
        return path

    def read_items(self, columns: list[str] | None = None) -> pd.DataFrame:
        return pd.read_parquet(self.items_dir, columns=columns)

    def read_findings(self) -> pd.DataFrame:
        return pd.read_parquet(self.findings_dir)


def passthrough_schema(df: pd.DataFrame, columns: list[str]) -> pa.Schema:
    """Arrow types of the manifest's pass-through columns, fixed once so every part agrees."""
    if not columns:
        return pa.schema([])
    table = pa.Table.from_pandas(df[columns], preserve_index=False)
    fields = [pa.field(f.name, pa.string() if pa.types.is_null(f.type) else f.type) for f in table.schema]
    return pa.schema(fields)
