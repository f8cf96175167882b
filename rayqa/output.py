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

    def prepare(self, rescan: bool) -> set[str]:
        """Create the folders; with ``rescan`` empty them. Returns the item ids already done."""
        if rescan:
            for d in (self.findings_dir, self.items_dir):
                shutil.rmtree(d, ignore_errors=True)
            (self.root / "run.json").unlink(missing_ok=True)
        self.findings_dir.mkdir(parents=True, exist_ok=True)
        self.items_dir.mkdir(parents=True, exist_ok=True)
        for d in (self.findings_dir, self.items_dir):
            for tmp in d.glob(".*.tmp"):
                tmp.unlink()
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
