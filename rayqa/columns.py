"""The one list of output columns: findings and item summaries.

Both Arrow schemas, the scan's Parquet rows and the service's JSON are made from these lists, so a
column is named, typed and documented once. A detector's item columns are declared on the
detector (:attr:`rayqa.detectors.base.Detector.item_columns`) and filled only by its
:meth:`~rayqa.detectors.base.Detector.summarise`; every registered detector's columns are in the
items schema (null where it did not run), so every part of a scan folder has the same schema.
"""

from __future__ import annotations

import json
import math
from typing import Any, Iterable

import pyarrow as pa

from rayqa.types import Column, Hit, ItemInfo

ARROW_TYPES = {"string": pa.string(), "float64": pa.float64(), "float32": pa.float32(), "int32": pa.int32(),
               "bool": pa.bool_()}

FINDINGS: tuple[Column, ...] = (
    Column("run_id", "string", "the scan run (MLflow run id), or serve-<id> for a request"),
    Column("item_id", "string", "from the manifest"),
    Column("detector", "string", "the detector that found it"),
    Column("defect", "string", "one name of the defect vocabulary"),
    Column("start_s", "float64", "where in the item, seconds from its start (to the millisecond)"),
    Column("end_s", "float64", "end of the event, seconds from the item's start (to the millisecond)"),
    Column("score", "float32", "confidence in [0, 1]"),
    Column("model", "string", "registry name for learned detectors, dsp for signal processing"),
    Column("model_version", "string", "registry version, or the algorithm's version for dsp"),
    Column("details", "string", "JSON evidence (an object in the service's responses)"),
    # A policy (rayqa scan --policy) keeps an intentional finding but sets it apart.
    Column("suppressed", "bool", "true when a policy rule says the finding is intentional"),
    Column("suppressed_by", "string", "the name of the rule that suppressed it, or null"),
)

# Item-summary columns before and after the detectors' own (kept in the order of 0.1-0.4).
ITEM_HEAD: tuple[Column, ...] = (
    Column("run_id", "string", "the scan run"),
    Column("item_id", "string", "from the manifest"),
    Column("uri", "string", "the media, as resolved from the manifest"),
    Column("status", "string", "ok / failed"),
    Column("error", "string", "null, or a one-line reason the item failed"),
    Column("duration_s", "float64", "container duration"),
    Column("fps", "float64", "declared frame rate"),
    Column("width", "int32", "coded width"),
    Column("height", "int32", "coded height"),
    Column("has_audio", "bool", "whether the item has an audio stream"),
    Column("n_findings", "int32", "findings of the item in this scan"),
)
ITEM_TAIL: tuple[Column, ...] = (
    Column("wall_s", "float64", "work seconds the item cost across stages"),
    Column("captions_uri", "string", "the caption sidecar from the manifest, or null"),
    Column("video_codec", "string", "video codec name from the probe"),
    Column("audio_codec", "string", "audio codec name from the probe"),
    Column("container", "string", "container format from the probe"),
    Column("audio_channels", "int32", "audio channel count"),
    Column("color_range", "string", "limited (16..235) or full range, as the stream says"),
    Column("video_profile", "string", "video codec profile (High, Main 10, ...)"),
    Column("audio_profile", "string", "audio codec profile (LC, HE-AAC, ...)"),
    Column("audio_layout", "string", "channel layout as FFmpeg names it (stereo, 5.1(side), ...)"),
    Column("field_order", "string", "progressive / tff / bff; null where the stream does not say"),
    Column("bit_depth", "int32", "bits per video sample"),
    Column("color_primaries", "string", "colour primaries (bt709, bt2020, ...)"),
    Column("color_transfer", "string", "transfer characteristics (bt709, smpte2084 = PQ, arib-std-b67 = HLG, ...)"),
    Column("dynamic_range", "string", "SDR / HDR10 / HLG, from the transfer"),
    Column("vfr", "bool", "variable frame rate: frame durations differ by over 10 % in the first 300 packets"),
    Column("fps_min", "float64", "lowest frame rate seen in those packets"),
    Column("fps_max", "float64", "highest frame rate seen in those packets"),
)
# Item columns the probe fills (ItemInfo attribute of the same name).
PROBE_COLUMNS = ("duration_s", "fps", "width", "height", "has_audio", "video_codec", "audio_codec", "container",
                 "audio_channels", "color_range", "video_profile", "audio_profile", "audio_layout", "field_order", "bit_depth",
                 "color_primaries", "color_transfer", "dynamic_range", "vfr", "fps_min", "fps_max")


def arrow_schema(columns: Iterable[Column]) -> pa.Schema:
    return pa.schema([(c.name, ARROW_TYPES[c.type]) for c in columns])


def detector_columns(detector_classes: Iterable[type] | None = None) -> tuple[Column, ...]:
    """Every item column the detectors declare (all registered detectors by default)."""
    if detector_classes is None:
        from rayqa.detectors import REGISTRY

        detector_classes = REGISTRY.values()
    out: dict[str, Column] = {}
    for cls in detector_classes:
        for c in cls.item_columns:
            out.setdefault(c.name, c)
    return tuple(out.values())


def item_columns(detector_classes: Iterable[type] | None = None) -> tuple[Column, ...]:
    return ITEM_HEAD + detector_columns(detector_classes) + ITEM_TAIL


FINDINGS_SCHEMA = arrow_schema(FINDINGS)


def items_schema() -> pa.Schema:
    return arrow_schema(item_columns())


def item_column_names() -> tuple[str, ...]:
    return tuple(c.name for c in item_columns())


def ms(t: float) -> float:
    """A time rounded to the millisecond (no float noise such as 9.479999999999999)."""
    return round(float(t), 3)


def finding_row(run_id: str, item_id: str, detector: str, model: str, model_version: str, event: Hit) -> dict:
    """One event as a row of the findings schema (Parquet and JSON alike; ``details`` as JSON text)."""
    return {
        "run_id": run_id, "item_id": item_id, "detector": detector, "defect": event.defect,
        "start_s": ms(event.start_s), "end_s": ms(event.end_s), "score": float(min(1.0, max(0.0, event.score))),
        "model": model, "model_version": model_version,
        "details": json.dumps(event.details, sort_keys=True, default=str),
        "suppressed": False, "suppressed_by": None,
    }


def summary_row(run_id: str, item_id: str, uri: str, info: ItemInfo | None, error: str | None, n_findings: int,
                wall_s: float, detector_values: dict[str, Any] | None = None, captions_uri: str | None = None) -> dict:
    """One item's row of the items schema (pass-through manifest columns are the caller's): every
    column present, the probe's from ``info``, the detectors' from ``detector_values``
    (:meth:`Detector.summarise`), null where unknown."""
    row: dict[str, Any] = {c: None for c in item_column_names()}
    row.update(run_id=run_id, item_id=item_id, uri=uri, status="failed" if error else "ok", error=error,
               n_findings=n_findings, wall_s=round(wall_s, 4), captions_uri=captions_uri)
    if info is not None:
        for name in PROBE_COLUMNS:
            row[name] = getattr(info, name, None)
    if detector_values and not error:
        unknown = set(detector_values) - set(row)
        if unknown:
            raise ValueError(f"detector item column(s) not declared in any item_columns: {', '.join(sorted(unknown))}")
        row.update(detector_values)
    return row


def to_json(row: dict) -> dict:
    """A row as the service returns it: ``details`` as an object, NaN as null."""
    out = {}
    for k, v in row.items():
        if k == "details" and isinstance(v, str):
            v = json.loads(v)
        elif isinstance(v, float) and math.isnan(v):
            v = None
        out[k] = v
    return out


_PANDAS = {"string": "str (pandas 3; NaN where null)", "float64": "float64 (NaN where null)", "float32": "float32",
           "int32": "float64 where any is null, else int32 (`Int32` with `dtype_backend=\"numpy_nullable\"`)",
           "bool": "object (True / False / None) where any is null, else bool (`boolean` with numpy_nullable)"}


def markdown_tables() -> str:
    """The findings and items columns as the docs show them (docs/scanning.md holds this text;
    ``python -m rayqa.columns`` prints it)."""
    from rayqa.detectors import REGISTRY

    owner = {c.name: n for n, cls in REGISTRY.items() for c in cls.item_columns}

    def table(cols, items: bool) -> str:
        out = ["| column | Parquet type | as pandas reads it | meaning |", "|---|---|---|---|"]
        for c in cols:
            doc = c.doc
            if items and c.name in owner:
                doc += f" (filled by `{owner[c.name]}`)"
            elif items and c.name in PROBE_COLUMNS:
                doc += " (from the probe)"
            out.append(f"| `{c.name}` | {c.type} | {_PANDAS[c.type]} | {doc} |")
        return "\n".join(out)

    return "### findings/\n\n" + table(FINDINGS, False) + "\n\n### items/\n\n" + table(item_columns(), True) + "\n"


if __name__ == "__main__":
    print(markdown_tables(), end="")
