"""Policies: what in a catalogue is intentional, so its findings are kept but set apart.

A policy is a TOML file of named rules. A finding that every condition of a rule holds for is
*suppressed*: it stays in the findings with ``suppressed = true`` and ``suppressed_by`` = the
rule's name (the first rule that matched, in file order: the top-level rules, then the item's
profile's). Nothing is suppressed without a policy. ::

    [[rules]]
    name = "black or silence at head or tail"
    defects = ["black_frames", "audio_silence", "video_freeze"]
    edge = "either"            # "head", "tail" or "either"
    within_s = 3.0             # starts within 3 s of the head / ends within 3 s of the tail

    [[rules]]
    name = "fades through black"
    defects = ["black_frames"]
    max_duration_s = 1.5

    [[rules]]
    name = "titles marked intentional"
    defects = ["black_frames"]
    when = { intentional_black = true }   # the item's manifest column

    profile_column = "policy_profile"      # (the default) the manifest column naming a profile

    [[profiles.music_video.rules]]         # only for items whose policy_profile is "music_video"
    name = "music video silence"
    defects = ["audio_silence"]

Conditions of a rule (all must hold; at least one is required): ``defects``, ``detectors``,
``item_ids`` (lists), ``edge`` with ``within_s`` (default 0.5: the finding touches the edge; a
finding's ``details.edge`` of ``"head"``/``"tail"`` counts too, and without it ``start_s`` /
``end_s`` against the item's ``duration_s``), ``min_duration_s`` / ``max_duration_s`` (the
finding's length), ``below_score`` (score under it), ``when`` (manifest pass-through columns of
the item equal to these values; ``manifest_<name>`` where the manifest's name collided).

The file is checked strictly before any work starts, as ``--config`` is: unknown keys, wrong types,
unknown defects or detectors, duplicate rule names are a :class:`PolicyError` (a
:class:`~rayqa.config.ConfigError`) naming the key's full path, e.g. ``rules[1].edg``.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any, Literal, Optional

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from rayqa.config import ConfigError, _hint, _show, read_toml
from rayqa.columns import FINDINGS

# The findings columns a policy sets (DESIGN.md), from the one column list; readers that predate
# them ignore them.
POLICY_COLUMNS = tuple(c for c in FINDINGS if c.name in ("suppressed", "suppressed_by"))
CONDITIONS = ("defects", "detectors", "item_ids", "edge", "min_duration_s", "max_duration_s", "below_score", "when")


class PolicyError(ConfigError):
    """A policy file that cannot be used (refused with exit 2, like a bad --config)."""


_STRICT = ConfigDict(extra="forbid", strict=True)
Scalar = str | bool | int | float


class Rule(BaseModel):
    model_config = _STRICT

    name: str = Field(min_length=1)
    defects: Optional[list[str]] = None
    detectors: Optional[list[str]] = None
    item_ids: Optional[list[str]] = None
    edge: Optional[Literal["head", "tail", "either"]] = None
    within_s: float = Field(0.5, ge=0, allow_inf_nan=False)
    min_duration_s: Optional[float] = Field(None, ge=0, allow_inf_nan=False)
    max_duration_s: Optional[float] = Field(None, ge=0, allow_inf_nan=False)
    below_score: Optional[float] = Field(None, ge=0, le=1)
    when: Optional[dict[str, Scalar]] = None

    @field_validator("defects")
    @classmethod
    def _known_defects(cls, value):
        from rayqa.defects import known_defects

        known = list(known_defects())
        bad = [d for d in value or [] if d not in known]
        if bad:
            raise ValueError(f"unknown defect {_show(bad[0])}{_hint(bad[0], known)}")
        return value

    @field_validator("detectors")
    @classmethod
    def _known_detectors(cls, value):
        from rayqa.detectors import REGISTRY

        bad = [d for d in value or [] if d not in REGISTRY]
        if bad:
            raise ValueError(f"unknown detector {_show(bad[0])}{_hint(bad[0], list(REGISTRY))}")
        return value

    @model_validator(mode="after")
    def _meaningful(self):
        given = [c for c in CONDITIONS if getattr(self, c) is not None]
        if not given:
            raise ValueError(f"rule {_show(self.name)} has no condition, so it would suppress every finding; give "
                             f"one or more of {', '.join(CONDITIONS)}")
        if "within_s" in self.model_fields_set and self.edge is None:
            raise ValueError("within_s needs edge (\"head\", \"tail\" or \"either\")")
        if self.min_duration_s is not None and self.max_duration_s is not None \
                and self.min_duration_s > self.max_duration_s:
            raise ValueError(f"min_duration_s ({self.min_duration_s:g}) is above max_duration_s "
                             f"({self.max_duration_s:g})")
        for key in ("defects", "detectors", "item_ids"):
            if getattr(self, key) == []:
                raise ValueError(f"{key} is empty: leave it out to match any")
        return self


class Profile(BaseModel):
    model_config = _STRICT

    rules: list[Rule] = Field(default_factory=list)


class PolicyModel(BaseModel):
    model_config = _STRICT

    profile_column: str = Field("policy_profile", min_length=1)
    rules: list[Rule] = Field(default_factory=list)
    profiles: dict[str, Profile] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _unique_names(self):
        seen: dict[str, str] = {}
        for where, rule in self.all_rules():
            if rule.name in seen:
                raise ValueError(f"{where}: rule name {_show(rule.name)} is also used by {seen[rule.name]}; "
                                 "names must be unique (suppressed_by names the rule)")
            seen[rule.name] = where
        return self

    def all_rules(self):
        for i, r in enumerate(self.rules):
            yield f"rules[{i}]", r
        for p, prof in self.profiles.items():
            for i, r in enumerate(prof.rules):
                yield f"profiles.{p}.rules[{i}]", r


# -- loading -----------------------------------------------------------------------------------------

def _path(loc: tuple) -> str:
    parts: list[str] = []
    for k in loc:
        if isinstance(k, int) and parts:
            parts[-1] += f"[{k}]"
        else:
            parts.append(str(k))
    return ".".join(parts)


def _holder(loc: tuple) -> type[BaseModel]:
    """The model whose key is at the end of ``loc``."""
    if any(isinstance(k, int) for k in loc[:-1]):
        return Rule
    if loc[:1] == ("profiles",) and len(loc) >= 3:
        return Profile
    return PolicyModel


_TYPES = {"float_type": "a number", "int_type": "a whole number", "bool_type": "true or false",
          "string_type": "a string", "list_type": "an array", "dict_type": "a table", "model_type": "a table",
          "model_attributes_type": "a table"}


def describe(error: ValidationError) -> str:
    """One line naming every refused key by its full path (``rules[1].edg``)."""
    out = []
    for e in error.errors():
        loc = tuple(k for k in e["loc"] if not (isinstance(k, str) and k in ("str", "bool", "int", "float")))
        path, kind, value, ctx = _path(loc), e["type"], e.get("input"), e.get("ctx") or {}
        if kind == "extra_forbidden":
            key = str(loc[-1])
            out.append(f"unknown policy key {path}{_hint(key, list(_holder(loc).model_fields))}")
        elif kind == "missing":
            out.append(f"{path}: required")
        elif kind in _TYPES and len(loc) >= 2 and loc[-2] == "when":
            out.append(f"{path}: expected a string, a number or true/false, got {_show(value)}")
        elif kind in _TYPES:
            out.append(f"{path}: expected {_TYPES[kind]}, got {_show(value)}")
        elif kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
            op = {"greater_than_equal": ">=", "less_than_equal": "<=", "greater_than": ">", "less_than": "<"}[kind]
            bound = next(iter(ctx.values()), None)
            out.append(f"{path}: must be {op} {bound:g}, got {_show(value)}")
        elif kind == "literal_error":
            out.append(f"{path}: expected {str(ctx.get('expected', '')).replace(chr(39), chr(34))}, got {_show(value)}")
        elif kind == "string_too_short":
            out.append(f"{path}: must not be empty")
        elif kind == "finite_number":
            out.append(f"{path}: expected a finite number, got {_show(value)}")
        elif kind == "value_error":
            text = str(ctx.get("error", e["msg"]))
            out.append(f"{path}: {text}" if path else text)
        else:
            out.append(f"{path}: {e['msg']}, got {_show(value)}")
    # a wrong-typed `when` value reports once per allowed type: say it once
    return "; ".join(dict.fromkeys(out)) or str(error)


class Policy:
    """A checked policy. ``Policy.load(path)``, ``Policy.from_dict(data)``; ``None`` means no policy."""

    def __init__(self, model: PolicyModel, source: str | None = None):
        self.model = model
        self.source = source

    @classmethod
    def from_dict(cls, data: Any, source: str | None = None) -> "Policy":
        if not isinstance(data, dict):
            raise PolicyError(f"a policy is a table ([[rules]], [profiles.*]), got {_show(data)}")
        try:
            return cls(PolicyModel.model_validate(data), source)
        except ValidationError as e:
            prefix = f"{source}: " if source else ""
            raise PolicyError(prefix + describe(e)) from None

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Policy":
        return cls.from_dict(read_toml(path, "policy file", PolicyError), source=str(Path(path)))

    @property
    def rules(self) -> list[Rule]:
        return [r for _, r in self.model.all_rules()]

    def describe_rules(self) -> list[dict]:
        """Each rule as ``{"name", "profile", "conditions"}`` (for the report)."""
        out = []
        for r in self.model.rules:
            out.append({"name": r.name, "profile": None, "conditions": _conditions(r)})
        for p, prof in self.model.profiles.items():
            for r in prof.rules:
                out.append({"name": r.name, "profile": p, "conditions": _conditions(r)})
        return out


def _conditions(r: Rule) -> str:
    parts = []
    for key in CONDITIONS:
        v = getattr(r, key)
        if v is None:
            continue
        if key == "edge":
            parts.append(f"at the {'head or tail' if v == 'either' else v} (within {r.within_s:g} s)")
        elif isinstance(v, list):
            parts.append(f"{key} {', '.join(map(str, v))}")
        elif isinstance(v, dict):
            parts.append("when " + ", ".join(f"{k} = {_show(x)}" for k, x in v.items()))
        else:
            parts.append(f"{key} {v:g}" if isinstance(v, float) else f"{key} {v}")
    return "; ".join(parts)


def load_policy(path: str | os.PathLike | None) -> Policy | None:
    return Policy.load(path) if path else None


# -- applying ------------------------------------------------------------------------------------------

_TRUE = {"true", "yes", "1", "y", "t"}
_FALSE = {"false", "no", "0", "n", "f", ""}


def value_matches(item_value: Any, wanted: Scalar) -> bool:
    """A manifest cell against a policy value, loosely typed (a CSV manifest gives "true" or 1 for a
    TOML true, "3" for 3); null never matches."""
    if item_value is None or (isinstance(item_value, float) and math.isnan(item_value)) or item_value is pd.NA:
        return False
    if isinstance(wanted, bool):
        if isinstance(item_value, (bool, np.bool_)):
            return bool(item_value) == wanted
        if isinstance(item_value, (int, float, np.integer, np.floating)):
            return bool(item_value) == wanted and item_value in (0, 1)
        text = str(item_value).strip().lower()
        return text in (_TRUE if wanted else _FALSE)
    if isinstance(wanted, (int, float)):
        try:
            return float(item_value) == float(wanted)
        except (TypeError, ValueError):
            return False
    return str(item_value).strip() == wanted


def _column(items: pd.DataFrame, name: str) -> str | None:
    """The items column that holds manifest column ``name`` (``manifest_<name>`` where it collided)."""
    if f"manifest_{name}" in items.columns:
        return f"manifest_{name}"
    return name if name in items.columns else None


def _edges(findings: pd.DataFrame) -> pd.Series:
    def edge(text):
        try:
            d = json.loads(text) if isinstance(text, str) else (text or {})
        except ValueError:
            return None
        return d.get("edge") if isinstance(d, dict) else None

    return findings["details"].map(edge) if "details" in findings.columns else pd.Series(None, index=findings.index)


def _rule_mask(rule: Rule, f: pd.DataFrame, items: pd.DataFrame, duration: pd.Series, edge: pd.Series | None
               ) -> pd.Series:
    m = pd.Series(True, index=f.index)
    if rule.defects is not None:
        m &= f["defect"].isin(rule.defects)
    if rule.detectors is not None:
        m &= f["detector"].isin(rule.detectors)
    if rule.item_ids is not None:
        m &= f["item_id"].astype(str).isin(rule.item_ids)
    length = f["end_s"].astype(float) - f["start_s"].astype(float)
    if rule.min_duration_s is not None:
        m &= length >= rule.min_duration_s - 1e-9
    if rule.max_duration_s is not None:
        m &= length <= rule.max_duration_s + 1e-9
    if rule.below_score is not None:
        m &= f["score"].astype(float) < rule.below_score
    if rule.edge is not None:
        head = (edge == "head") | (f["start_s"].astype(float) <= rule.within_s + 1e-9)
        tail = (edge == "tail") | (f["end_s"].astype(float) >= duration - rule.within_s - 1e-9).fillna(False)
        m &= {"head": head, "tail": tail, "either": head | tail}[rule.edge]
    if rule.when is not None:
        ok = pd.Series(True, index=items.index)
        for name, wanted in rule.when.items():
            col = _column(items, name)
            ok &= items[col].map(lambda v: value_matches(v, wanted)) if col else False
        m &= f["item_id"].map(dict(zip(items["item_id"], ok))).fillna(False).astype(bool)
    return m


def apply_policy(findings: pd.DataFrame, items: pd.DataFrame | None, policy: Policy | None) -> pd.DataFrame:
    """``findings`` with ``suppressed`` (bool) and ``suppressed_by`` (the rule's name, or None) set
    by ``policy`` (replacing any earlier policy's); with no policy nothing is suppressed. ``items``
    (the scan's item summaries: ``item_id``, ``duration_s``, manifest columns) serves the edge,
    ``when`` and profile conditions; without it those match nothing (but ``details.edge``)."""
    out = findings.copy()
    by = pd.Series([None] * len(out), index=out.index, dtype=object)
    if policy is not None and len(out):
        items = items if items is not None else pd.DataFrame({"item_id": pd.Series([], dtype=str)})
        items = items.drop_duplicates("item_id", keep="last")
        duration = out["item_id"].map(dict(zip(items["item_id"], items["duration_s"]))) \
            if "duration_s" in items.columns else pd.Series(np.nan, index=out.index)
        duration = pd.to_numeric(duration, errors="coerce").astype(float)
        uses_edge = any(r.edge is not None for r in policy.rules)
        edge = _edges(out) if uses_edge else None
        pcol = _column(items, policy.model.profile_column)
        profile = out["item_id"].map(dict(zip(items["item_id"], items[pcol].astype(object)))) if pcol else None
        ordered = [(None, r) for r in policy.model.rules] + [
            (name, r) for name, prof in policy.model.profiles.items() for r in prof.rules]
        for prof_name, rule in ordered:
            open_ = by.isna()
            if not open_.any():
                break
            m = _rule_mask(rule, out, items, duration, edge) & open_
            if prof_name is not None:
                m &= profile.map(lambda v: value_matches(v, prof_name)).astype(bool) if profile is not None else False
            by[m] = rule.name
    out["suppressed"] = by.notna().astype(bool)
    out["suppressed_by"] = by
    return out
