"""Catalogue manifests: Parquet, CSV or JSONL, validated before any work starts."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlparse

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.json as pajson
import pyarrow.parquet as pq

REQUIRED = ("item_id", "uri")
OPTIONAL = ("captions_uri",)
class ManifestError(ValueError):
    """The manifest is refused; the message names the problem and the rows."""


def _rows(index) -> str:
    rows = [int(i) + 1 for i in index]  # 1-based data rows, as a person counts them
    shown = ", ".join(str(r) for r in rows[:10])
    return f"row{'s' if len(rows) > 1 else ''} {shown}{' …' if len(rows) > 10 else ''}"


def _read_table(path: Path) -> pa.Table:
    ext = "".join(path.suffixes[-2:]).lower() if path.suffix.lower() == ".gz" else path.suffix.lower()
    # item_id must stay a string even when it looks like a number.
    try:
        if ext in (".parquet", ".pq"):
            return pq.read_table(path)
        if ext in (".csv", ".csv.gz"):
            return pacsv.read_csv(
                path,
                convert_options=pacsv.ConvertOptions(
                    column_types={"item_id": pa.string(), "uri": pa.string(), "captions_uri": pa.string()},
                    strings_can_be_null=True,
                ),
            )
        if ext in (".jsonl", ".ndjson", ".json", ".jsonl.gz"):
            return pajson.read_json(path)
    except (pa.ArrowInvalid, OSError) as e:
        raise ManifestError(f"manifest {path} cannot be read: {str(e).splitlines()[0]}") from e
    raise ManifestError(f"manifest {path}: unknown format {ext!r} (use .parquet, .csv or .jsonl)")


def resolve_uri(uri: str, base_dir: Path) -> str:
    """A relative local path is relative to the manifest's folder; URIs with a scheme stay as they are."""
    parsed = urlparse(uri)
    if parsed.scheme == "file":
        return str(Path(parsed.path).resolve())
    if parsed.scheme and len(parsed.scheme) > 1:  # not a Windows drive letter
        return uri
    p = Path(uri).expanduser()
    return str(p if p.is_absolute() else (base_dir / p).resolve())


def read_manifest(path: str | os.PathLike) -> pd.DataFrame:
    """Read and validate a manifest. Returns a frame with ``item_id``, ``uri`` (resolved),
    ``captions_uri`` and pass-through columns (renamed ``manifest_<name>`` on collision)."""
    path = Path(path)
    if not path.is_file():
        raise ManifestError(f"manifest not found: {path}")
    table = _read_table(path)
    missing = [c for c in REQUIRED if c not in table.column_names]
    if missing:
        raise ManifestError(
            f"manifest {path} lacks required column(s) {', '.join(missing)}; it has {', '.join(table.column_names) or 'none'}"
        )
    if table.num_rows == 0:
        raise ManifestError(f"manifest {path} has no rows")

    df = table.to_pandas()
    for col in REQUIRED + OPTIONAL:
        if col in df.columns:
            df[col] = df[col].map(lambda v: None if v is None or (isinstance(v, float) and pd.isna(v)) else str(v))

    problems = []
    empty_id = df.index[df["item_id"].isna() | (df["item_id"].str.strip() == "")]
    if len(empty_id):
        problems.append(f"empty item_id at {_rows(empty_id)}")
    dup = df.index[df["item_id"].notna() & df["item_id"].duplicated(keep=False)]
    if len(dup):
        ids = sorted(set(df.loc[dup, "item_id"]))[:5]
        problems.append(f"duplicate item_id {', '.join(repr(i) for i in ids)} at {_rows(dup)}")
    empty_uri = df.index[df["uri"].isna() | (df["uri"].str.strip() == "")]
    if len(empty_uri):
        problems.append(f"empty uri at {_rows(empty_uri)}")
    if problems:
        raise ManifestError(f"manifest {path} refused: " + "; ".join(problems))

    base = path.resolve().parent
    df["uri"] = df["uri"].map(lambda u: resolve_uri(u.strip(), base))
    if "captions_uri" in df.columns:
        df["captions_uri"] = df["captions_uri"].map(lambda u: resolve_uri(u.strip(), base) if u else None)
    else:
        df["captions_uri"] = None

    from rayqa.columns import item_column_names

    summary = set(item_column_names())
    renames = {c: f"manifest_{c}" for c in df.columns if c in summary and c not in REQUIRED + OPTIONAL}
    return df.rename(columns=renames).reset_index(drop=True)


def passthrough_columns(df: pd.DataFrame) -> list[str]:
    return [c for c in df.columns if c not in REQUIRED + OPTIONAL]
