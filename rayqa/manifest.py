"""Catalogue manifests: Parquet, CSV or JSONL (or a JSON array of objects), validated before any
work starts.

Whatever the format, an empty cell of ``captions_uri`` (or of a pass-through column) is null, and
``item_id``, ``uri`` and ``captions_uri`` are stripped of surrounding whitespace before they are
checked, so ``" a"`` and ``"a"`` are the same item (and two rows with them a duplicate)."""

from __future__ import annotations

import json
import math
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


def _format(path: Path) -> str:
    return "".join(path.suffixes[-2:]).lower() if path.suffix.lower() == ".gz" else path.suffix.lower()


def _read_json_array(path: Path) -> pd.DataFrame:
    try:
        records = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ManifestError(f"manifest {path} is not valid JSON: {e}") from None
    if not isinstance(records, list):
        raise ManifestError(f"manifest {path}: a JSON manifest is one object per line (JSONL) or an array of objects, "
                            f"not a {type(records).__name__}")
    bad = [i for i, r in enumerate(records) if not isinstance(r, dict)]
    if bad:
        raise ManifestError(f"manifest {path}: every element of the JSON array must be an object "
                            f"({{\"item_id\": ..., \"uri\": ...}}); not at {_rows(bad)}")
    columns = list(dict.fromkeys(k for r in records for k in r))
    return pd.DataFrame.from_records(records, columns=columns).astype(object)


def _starts_with_bracket(path: Path) -> bool:
    if path.suffix.lower() == ".gz":
        return False
    with open(path, "rb") as f:
        head = f.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
    return head.startswith(b"[")


def _read_frame(path: Path) -> pd.DataFrame:
    ext = _format(path)
    try:
        if ext in (".parquet", ".pq"):
            table = pq.read_table(path)
        elif ext in (".csv", ".csv.gz"):
            # item_id must stay a string even when it looks like a number; only an empty cell is
            # null (pyarrow's default would also read an item called "NA" or "null" as missing).
            table = pacsv.read_csv(
                path,
                convert_options=pacsv.ConvertOptions(
                    column_types={c: pa.string() for c in REQUIRED + OPTIONAL},
                    strings_can_be_null=True, null_values=[""],
                ),
            )
        elif ext in (".jsonl", ".ndjson", ".json", ".jsonl.gz"):
            if _starts_with_bracket(path):  # a JSON array of objects, not JSON lines
                return _read_json_array(path)
            table = pajson.read_json(path)
        else:
            raise ManifestError(f"manifest {path}: unknown format {ext!r} (use .parquet, .csv or .jsonl)")
    except (pa.ArrowInvalid, OSError) as e:
        raise ManifestError(f"manifest {path} cannot be read: {str(e).splitlines()[0]}") from None
    dup = sorted({c for c in table.column_names if table.column_names.count(c) > 1})
    if dup:
        raise ManifestError(f"manifest {path} has duplicate column name(s) {', '.join(repr(c) for c in dup)}")
    return table.to_pandas()


def _cell(value):
    """A rayqa column's cell as a stripped string, or None when empty; raises TypeError otherwise."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise TypeError(type(value).__name__)
    value = str(value).strip()
    return value or None


def _empty_to_null(value):
    return None if isinstance(value, str) and not value.strip() else value


def resolve_uri(uri: str, base_dir: Path) -> str:
    """A relative local path is relative to the manifest's folder; URIs with a scheme stay as they are."""
    parsed = urlparse(uri)
    if parsed.scheme == "file":
        return str(Path(parsed.path).resolve())
    if parsed.scheme and len(parsed.scheme) > 1:  # not a Windows drive letter
        return uri
    p = Path(uri).expanduser()
    return str(p if p.is_absolute() else (base_dir / p).resolve())


def _missing_columns(path: Path, columns: list[str]) -> str | None:
    missing = [c for c in REQUIRED if c not in columns]
    if not missing:
        return None
    hints = []
    for want in missing:
        near = [c for c in columns if str(c).strip(" \t\ufeff").lower() == want]
        if near:
            hints.append(f"column {near[0]!r} differs from {want!r} only by surrounding spaces or case; rename it")
    has = ", ".join(repr(c) for c in columns) or "none"
    return (f"manifest {path} lacks required column(s) {', '.join(missing)}; it has {has}"
            + (f" ({'; '.join(hints)})" if hints else ""))


# What a folder or glob scan takes as media, and as a caption sidecar beside it.
MEDIA_EXTENSIONS = {".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".mxf", ".ts", ".m2ts", ".mts", ".mpg",
                    ".mpeg", ".flv", ".wmv", ".ogv", ".3gp", ".wav", ".mp3", ".aac", ".m4a", ".flac", ".ogg", ".opus"}
CAPTION_EXTENSIONS = (".srt", ".vtt", ".ttml", ".dfxp", ".ass", ".ssa")


def _is_glob(text: str) -> bool:
    return any(ch in text for ch in "*?[")


def media_manifest(spec: str | os.PathLike) -> pd.DataFrame:
    """A manifest made from a folder (every media file under it) or a glob of media: ``item_id`` is
    the path relative to the folder (or to the glob's fixed prefix), and a caption file beside a
    media file with the same stem (``show.mp4`` + ``show.srt``, or ``show.en.vtt``) is its
    ``captions_uri``."""
    import glob

    text = os.fspath(spec)
    if _is_glob(text):
        fixed = Path(text.split("*")[0].split("?")[0].split("[")[0])
        root = fixed if text.endswith(os.sep) or fixed.is_dir() else fixed.parent
        paths = [Path(p) for p in glob.glob(text, recursive=True)]
        what = f"the glob {text!r}"
    else:
        root = Path(text)
        paths = list(root.rglob("*"))
        what = f"the folder {root}"
    media = sorted(p for p in paths if p.is_file() and p.suffix.lower() in MEDIA_EXTENSIONS)
    if not media:
        raise ManifestError(f"no media files in {what} (looked for {', '.join(sorted(MEDIA_EXTENSIONS))})")
    root = root.resolve()
    rows = []
    for p in media:
        p = p.resolve()
        item_id = p.relative_to(root).as_posix() if p.is_relative_to(root) else p.name
        sidecars = sorted(c for c in p.parent.glob(glob.escape(p.stem) + ".*")
                          if c.suffix.lower() in CAPTION_EXTENSIONS and
                          (c.stem == p.stem or c.stem.rsplit(".", 1)[0] == p.stem))
        rows.append({"item_id": item_id, "uri": str(p), "captions_uri": str(sidecars[0]) if sidecars else None})
    return pd.DataFrame({k: pd.Series([r[k] for r in rows], dtype=object) for k in ("item_id", "uri", "captions_uri")})


def read_manifest(path: str | os.PathLike) -> pd.DataFrame:
    """Read and validate a manifest (or make one from a folder or glob of media: :func:`media_manifest`).
    Returns a frame with ``item_id``, ``uri`` (resolved), ``captions_uri`` and pass-through columns
    (renamed ``manifest_<name>`` on collision)."""
    if Path(path).is_dir() or (_is_glob(os.fspath(path)) and not Path(path).exists()):
        return media_manifest(path)
    path = Path(path)
    if not path.is_file():
        raise ManifestError(f"manifest not found: {path}" if not path.exists() else f"manifest {path} is not a file")
    df = _read_frame(path)
    columns = [str(c) for c in df.columns]
    problem = _missing_columns(path, columns)
    if problem:
        raise ManifestError(problem)
    if len(df) == 0:
        raise ManifestError(f"manifest {path} has no rows")
    df = df.reset_index(drop=True)

    problems = []
    for col in REQUIRED + OPTIONAL:
        if col not in df.columns:
            continue
        values, bad = [], []
        for i, v in enumerate(df[col].tolist()):
            try:
                values.append(_cell(v))
            except TypeError:
                values.append(None)
                bad.append(i)
        if bad:
            problems.append(f"{col} is not a string at {_rows(bad)}")
        df[col] = pd.Series(values, index=df.index, dtype=object)
    for col in df.columns:
        if col not in REQUIRED + OPTIONAL and (df[col].dtype == object or pd.api.types.is_string_dtype(df[col])):
            df[col] = df[col].map(_empty_to_null)

    ids = df["item_id"]
    empty_id = df.index[ids.isna()]
    if len(empty_id):
        problems.append(f"empty item_id at {_rows(empty_id)}")
    dup = df.index[ids.notna() & ids.duplicated(keep=False)]
    if len(dup):
        shown = sorted(set(df.loc[dup, "item_id"]))[:5]
        problems.append(f"duplicate item_id {', '.join(repr(i) for i in shown)} at {_rows(dup)} "
                        "(ids are compared without surrounding spaces)")
    empty_uri = df.index[df["uri"].isna()]
    if len(empty_uri):
        problems.append(f"empty uri at {_rows(empty_uri)}")
    if problems:
        raise ManifestError(f"manifest {path} refused: " + "; ".join(problems))

    base = path.resolve().parent
    df["uri"] = pd.Series([resolve_uri(u, base) for u in df["uri"]], index=df.index, dtype=object)
    captions = df["captions_uri"].tolist() if "captions_uri" in df.columns else [None] * len(df)
    df["captions_uri"] = pd.Series([resolve_uri(u, base) if u else None for u in captions], index=df.index, dtype=object)

    from rayqa.columns import item_column_names

    summary = set(item_column_names())
    renames = {c: f"manifest_{c}" for c in df.columns if c in summary and c not in REQUIRED + OPTIONAL}
    return df.rename(columns=renames).reset_index(drop=True)


def passthrough_columns(df: pd.DataFrame) -> list[str]:
    return [c for c in df.columns if c not in REQUIRED + OPTIONAL]
