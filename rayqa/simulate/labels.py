"""Labels in the findings' own terms, so a scan is scored against them with one join."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np


class SimulationError(ValueError):
    """Bad injector parameters (negative duration, offset longer than the item, ...)."""


@dataclass
class Label:
    defect: str  # a name from the defect vocabulary (DESIGN.md)
    start_s: float
    end_s: float
    details: dict[str, Any] = field(default_factory=dict)  # the injector's parameters, JSON-able

    def row(self, item_id: str) -> dict:
        return {"item_id": item_id, "defect": self.defect, "start_s": float(self.start_s),
                "end_s": float(self.end_s), "details": json.dumps(self.details, sort_keys=True, default=_jsonable)}


def _jsonable(v):
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, np.ndarray):
        return v.tolist()
    return str(v)


def check_span(start_s: float, end_s: float, duration_s: float, what: str = "span") -> None:
    """Refuse a span that is empty, negative or outside ``[0, duration_s]``."""
    if not (np.isfinite(start_s) and np.isfinite(end_s)):
        raise SimulationError(f"{what}: start and end must be finite numbers")
    if start_s < 0 or end_s <= start_s:
        raise SimulationError(f"{what}: needs 0 <= start_s < end_s, got {start_s}..{end_s}")
    if end_s > duration_s + 1e-9:
        raise SimulationError(f"{what}: ends at {end_s} s, after the item's end at {duration_s} s")
