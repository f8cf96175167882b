"""One configuration object for a scan: detector thresholds, decode windows and Ray resources.

Defaults fit a 2-CPU laptop; a TOML file given with ``--config`` overrides any of them, e.g.::

    [decode]
    window_s = 8.0

    [resources]
    decode_num_cpus = 1.0
    detector_pool_max = 16

    [detectors.black_frames]
    pixel_threshold = 0.12

    [pools.block_corruption]     # one learned detector's actor pool
    num_gpus = 1.0
    batch_windows = 16

The file is checked against one typed, strict schema (pydantic) before any work starts: unknown
sections, keys, detectors and parameters, wrong types (no coercion: ``"false"`` is not a bool,
``2.9`` is not an int; an int is fine where a number is expected) and values out of range are a
:class:`ConfigError` naming the key's full path. A detector's parameters are typed by its
documented ``defaults`` (``rayqa.detectors.REGISTRY``), so a new detector needs no schema edit.
"""

from __future__ import annotations

import copy
import difflib
import functools
import json
import math
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, Optional

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, create_model, field_validator, \
    model_validator


class ConfigError(ValueError):
    """A configuration that cannot work (unknown key, wrong type, resources that do not fit the cluster)."""


def read_toml(path: str | os.PathLike, what: str, error: type[Exception]) -> dict:
    """A TOML file's table, or ``error`` saying in words why it cannot be had (missing, a folder,
    not UTF-8, not TOML, unreadable): the config and the policy read their files alike."""
    p = Path(path)
    if not p.exists():
        raise error(f"{what} not found: {p}")
    if not p.is_file():
        raise error(f"{what} {p} is not a file")
    try:
        return tomllib.loads(p.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as e:
        raise error(f"{what} {p} is not valid TOML: {e}") from None
    except UnicodeDecodeError:
        raise error(f"{what} {p} is not UTF-8 text (TOML)") from None
    except OSError as e:
        raise error(f"{what} {p} cannot be read: {e.strerror or e}") from None


_STRICT = ConfigDict(extra="forbid", strict=True, validate_default=False)


class DecodeConfig(BaseModel):
    model_config = _STRICT

    # Length of the unit of work. Detectors segment inside a window (1 s audio segments, 4 s AV
    # fragments), so the window must be a multiple of every detector's segment length.
    window_s: float = Field(8.0, gt=0)
    # Items longer than this many windows are still windowed; this only bounds one planning row.
    max_windows_per_item: int = Field(200_000, ge=1)
    # "pyav" reports concealed damage frame by frame; "decord" reports none and falls back to
    # pyav for a span it gives up on (see rayqa/media.py).
    video_backend: Literal["pyav", "decord"] = "pyav"


class ResourceConfig(BaseModel):
    """Ray resources for every stage. Fractions let all stages share a 2-CPU machine."""

    model_config = _STRICT

    # One decode task (CPU, always; one decoder thread per task). Probing an item and cutting it
    # into windows asks for the same, so Ray Data fuses the two into one task per item: measured
    # on 2 CPUs, separate probe tasks starved behind the decoders and halved throughput.
    # "auto": a whole CPU when no detector actor pool shares the cluster (the default scan: its
    # detectors run inside the decode task), half of one next to the learned detectors' pools.
    # Measured on 2 CPUs (bench/scan_throughput.py): two decoders at 1.0 beat four at 0.5 by
    # 1.4x decoding alone and 1.2x in the default scan.
    decode_num_cpus: Literal["auto"] | Annotated[float, Field(gt=0)] = "auto"
    decode_batch_windows: int = Field(4, ge=1)

    def decode_cpus(self, actor_pools: bool) -> float:
        """What one decode task reserves, with or without detector actor pools in the plan."""
        if self.decode_num_cpus != "auto":
            return float(self.decode_num_cpus)
        return 0.5 if actor_pools else 1.0
    # Windows per decode task: a long item is cut into runs this long (32 x 8 s ~ 4 minutes) that
    # separate tasks decode in parallel; short items share a task. Smaller spreads one long item
    # wider, larger seeks less.
    decode_task_windows: int = Field(32, ge=1)
    # Items probed and planned per task (fewer when the catalogue is small next to the cluster).
    plan_items_per_block: int = Field(16, ge=1)
    # Actor pool for the cheap signal-processing detectors, which share one actor. A request
    # different from decode_num_cpus keeps decoding in tasks (Ray Data fuses equal ones into the
    # actor, which then decodes one batch at a time).
    dsp_num_cpus: float = Field(0.25, ge=0)
    # "decode": the signal-processing detectors (no weights, ~10 % of decoding's cost) run inside
    # the decode task on the frames it just decoded, and only learned detectors' pools receive
    # windows through the object store. "actor": they get one shared actor pool of their own
    # (measured on 2 CPUs: 1.4x the wall time and 0.7 GB more worker memory).
    dsp_pool: Literal["decode", "actor"] = "decode"
    dsp_batch_windows: int = Field(4, ge=1)
    # Each learned detector gets its own pool; on a GPU node it asks for this much GPU. These are
    # the defaults of every pool; [pools.<detector>] overrides them for one detector.
    model_num_cpus: float = Field(0.5, ge=0)
    model_num_gpus: float = Field(0.5, ge=0)
    model_batch_windows: int = Field(4, ge=1)
    # Where the learned detectors run. "actor": each in its own actor pool (the model_* settings
    # above, [pools.<detector>]), as a GPU needs. "decode": inside the decode tasks, beside the
    # signal-processing detectors, on the frames just decoded; each task's worker process loads
    # the models once and keeps them. "auto": "actor" on a cluster with GPUs, or where
    # [pools.<detector>] sets anything for one of the scan's learned detectors; else "decode".
    # Measured on 2 CPUs (bench/scan_throughput.py, pass g on the real files): pools cost the
    # actors' start (torch and the model, each of up to four actors a pool, every scan), the
    # windows' trip through the object store, and cores left idle while one pool's actor is behind.
    model_pool: Literal["auto", "actor", "decode"] = "auto"
    detector_pool_min: int = Field(1, ge=1)
    # 0: as many actors as the cluster could hold (CPUs / num_cpus, or GPUs / num_gpus on GPU
    # nodes), so pools grow with the cluster; Ray Data's autoscaler starts them as work queues up.
    detector_pool_max: int = Field(0, ge=0)
    # Findings are committed to Parquet every N finished items (and at the end).
    commit_every_items: int = Field(64, ge=1)
    # Ray Data's per-operator resource reservation holds back half the CPUs for operators that are
    # idle most of the time here; measured on 2 CPUs, decoding ran 1.4x faster without it.
    ray_data_reservation: bool = False
    # Fault tolerance. A decode task or detector call whose worker dies (a crash, an out-of-memory
    # kill, a lost node) is retried this many times; Ray Data's default retries forever, so one
    # poisonous item would stall the scan. Items that still lost windows are then scanned again one
    # window per task (the isolation pass, so an innocent neighbour is not blamed), and an item
    # that fails there too ends as `failed` with the reason.
    max_task_retries: int = Field(3, ge=0)
    isolation_pass: bool = True

    @model_validator(mode="after")
    def _pool_bounds(self):
        if self.detector_pool_max and self.detector_pool_max < self.detector_pool_min:
            raise ValueError(f"resources.detector_pool_max ({self.detector_pool_max}) is below "
                             f"resources.detector_pool_min ({self.detector_pool_min}); 0 means auto")
        return self


POOL_KEYS = ("num_cpus", "num_gpus", "batch_windows", "min_size", "max_size")


class PoolOverride(BaseModel):
    """``[pools.<detector>]``: any of these, the rest from ``resources.model_*``."""

    model_config = _STRICT

    num_cpus: float = Field(None, ge=0)
    num_gpus: float = Field(None, ge=0)
    batch_windows: int = Field(None, ge=1)
    min_size: int = Field(None, ge=1)
    max_size: int = Field(None, ge=0)  # 0 = auto

    @model_validator(mode="after")
    def _bounds(self):
        if self.min_size is not None and self.max_size and self.max_size < self.min_size:
            raise ValueError(f"max_size ({self.max_size}) is below min_size ({self.min_size}); 0 means auto")
        return self


assert tuple(PoolOverride.model_fields) == POOL_KEYS


class ServeConfig(BaseModel):
    """``rayqa serve``: replicas and their reservations (a Serve replica reserves a whole CPU
    unless told otherwise), batching of learned detectors, upload limit."""

    model_config = _STRICT

    ingress_replicas: int = Field(1, ge=1)
    ingress_num_cpus: float = Field(0.25, ge=0)  # HTTP handling, decoding and the signal-processing detectors
    model_replicas: int = Field(1, ge=1)  # per learned detector
    model_num_cpus: float = Field(0.5, ge=0)
    model_num_gpus: float = Field(0.5, ge=0)  # only where the cluster has GPUs
    max_batch_windows: int = Field(16, ge=1)  # windows (of decode.window_s) per forward batch across requests
    batch_wait_timeout_s: float = Field(0.02, ge=0)  # how long a batch waits to fill
    max_ongoing_requests: int = Field(32, ge=1)  # per replica; batching needs several requests in one replica
    max_upload_mb: float = Field(512.0, gt=0)  # RAYQA_MAX_UPLOAD_MB overrides


@dataclass(frozen=True)
class PoolSpec:
    """One detector actor pool as the scan will start it."""

    names: tuple[str, ...]  # detectors sharing the pool (the dsp pool holds several)
    num_cpus: float
    num_gpus: float  # 0 on a cluster without GPUs
    batch_windows: int
    min_size: int
    max_size: int


# -- detector parameters: a schema from each detector's documented defaults ------------------------

# Parameter names whose meaning fixes a range, whatever the detector: durations are never negative;
# a fraction, ratio or recall (and a threshold documented inside [0, 1]) stays inside [0, 1],
# unless its default says it is a multiplier (a ratio above 1).
_DURATION_SUFFIXES = ("_s", "_ms")
_UNIT_SUFFIXES = ("_fraction", "_ratio", "_recall")
_NUMERIC_NAMES = _DURATION_SUFFIXES + _UNIT_SUFFIXES + ("_db", "threshold", "_fps")


def _simple_value(value: Any) -> Any:
    # A default of None ("decided at run time") takes any plain TOML value.
    if not isinstance(value, (str, int, float, bool)):
        raise ValueError(f"expected a string, a number or true/false, got {_show(value)}")
    return value


def _of_type(kind: type):
    def check(value: Any) -> Any:
        if not isinstance(value, kind):
            raise ValueError(f"expected {_kind_words(kind)}, got {_show(value)}")
        return value
    return check


def _kind_words(kind: type) -> str:
    return {list: "an array", tuple: "an array", dict: "a table"}.get(kind, kind.__name__)


def _param_annotation(name: str, default: Any):
    limits: dict[str, Any] = {}
    numeric = isinstance(default, (int, float)) and not isinstance(default, bool)
    if name.endswith(_DURATION_SUFFIXES):
        limits["ge"] = 0
    in_unit = numeric and 0 <= default <= 1
    if (name.endswith(_UNIT_SUFFIXES) and (default is None or in_unit)) or (name.endswith("threshold") and in_unit):
        limits.update(ge=0, le=1)
    elif name.endswith(_UNIT_SUFFIXES):  # a ratio documented above 1 is a multiplier: only >= 0
        limits["ge"] = 0
    if isinstance(default, bool):
        return bool
    if isinstance(default, int):
        return Annotated[int, Field(**limits)]
    if isinstance(default, float):
        return Annotated[float, Field(allow_inf_nan=False, **limits)]
    if isinstance(default, str):
        return str
    if default is None:
        if name.endswith(_NUMERIC_NAMES):
            return Annotated[Optional[float], Field(allow_inf_nan=False, **limits)]
        return Annotated[Any, AfterValidator(_simple_value)]
    return Annotated[Any, AfterValidator(_of_type(type(default)))]


@functools.cache
def param_schema(detector_cls: type) -> type[BaseModel]:
    """The strict schema of one detector's ``[detectors.<name>]`` table, typed by its defaults:
    a number where the default is a float (an int is fine), a whole number for an int, true/false
    for a bool (never a number), a string for a string, any plain value where the default is None
    (a number where the name says so: ``*_s``, ``*_threshold``...)."""
    fields = {name: (_param_annotation(name, default), None) for name, default in detector_cls.defaults.items()}
    return create_model(f"{detector_cls.__name__}Params", __config__=_STRICT, **fields)


class _Described(ValueError):
    """Messages that already name their keys' full paths (from our own validators)."""

    def __init__(self, messages: list[str]):
        super().__init__("; ".join(messages))
        self.messages = messages


class ScanConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, validate_assignment=False)

    decode: DecodeConfig = Field(default_factory=DecodeConfig)
    resources: ResourceConfig = Field(default_factory=ResourceConfig)
    serve: ServeConfig = Field(default_factory=ServeConfig)
    # Per-detector parameter overrides: {"black_frames": {"pixel_threshold": 0.1}}
    detectors: dict[str, dict[str, Any]] = Field(default_factory=dict)
    # Per-detector actor pool overrides: {"block_corruption": {"num_gpus": 1.0, "batch_windows": 16}}
    pools: dict[str, dict[str, Any]] = Field(default_factory=dict)

    def __init__(self, **data: Any):
        try:
            super().__init__(**data)
        except ValidationError as e:
            raise ConfigError(describe(e)) from None

    @field_validator("detectors")
    @classmethod
    def _check_detectors(cls, value: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        from rayqa.detectors import REGISTRY

        messages, checked = [], {}
        for name, params in value.items():
            det = REGISTRY.get(name)
            if det is None:
                messages.append(f"unknown detector [detectors.{name}]{_hint(name, list(REGISTRY))}")
                continue
            schema = param_schema(det)
            try:
                params = schema.model_validate(params).model_dump(exclude_unset=True)
            except ValidationError as e:
                messages.extend(_messages(e.errors(), schema, ("detectors", name)))
                continue
            try:
                det(**params)  # the detector's own documented ranges (hop_s <= segment, thresholds...)
            except (TypeError, ValueError) as e:
                text = str(e)
                messages.append(f"detectors.{name}: {text.removeprefix(f'{name}: ')}")
                continue
            checked[name] = params
        if messages:
            raise _Described(messages)
        return checked

    @field_validator("pools")
    @classmethod
    def _check_pools(cls, value: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        from rayqa.detectors import REGISTRY

        learned = [n for n, c in REGISTRY.items() if c.pool == "model"]
        messages, checked = [], {}
        for name, params in value.items():
            if name not in learned:
                what = ("a signal-processing detector: those share resources.dsp_*" if name in REGISTRY
                        else "not a detector")
                hint = _hint(name, learned, known_label="detectors with a pool")
                messages.append(f"[pools.{name}]: {what}{hint}")
                continue
            try:
                checked[name] = PoolOverride.model_validate(params).model_dump(exclude_unset=True)
            except ValidationError as e:
                messages.extend(_messages(e.errors(), PoolOverride, ("pools", name)))
        if messages:
            raise _Described(messages)
        return checked

    # -- building ------------------------------------------------------------------------------
    @classmethod
    def from_dict(cls, data: Any) -> "ScanConfig":
        """A config from plain data (a parsed TOML file), checked; raises ConfigError."""
        if not isinstance(data, dict):
            raise ConfigError(f"a config is a table of sections ([decode], [resources], ...), got {_show(data)}")
        try:
            return cls.model_validate(data)
        except ValidationError as e:
            raise ConfigError(describe(e)) from None

    @classmethod
    def load(cls, path: str | os.PathLike | None = None) -> "ScanConfig":
        cfg = cls()
        if path is None:
            return cfg
        data = read_toml(path, "config file", ConfigError)
        try:
            return cfg.merged(data)
        except ConfigError as e:
            raise ConfigError(f"{Path(path)}: {e}") from None

    def merged(self, data: dict[str, Any]) -> "ScanConfig":
        """This config with ``data`` (TOML-shaped) laid over it, section by section and, for
        ``detectors`` and ``pools``, detector by detector; the result is checked whole."""
        if not isinstance(data, dict):
            raise ConfigError(f"a config is a table of sections ([decode], [resources], ...), got {_show(data)}")
        merged = copy.deepcopy(self.model_dump())
        for section, values in data.items():
            current = merged.get(section)
            if section in ("detectors", "pools") and isinstance(values, dict) and isinstance(current, dict):
                for name, params in values.items():
                    old = current.get(name)
                    current[name] = {**old, **params} if isinstance(old, dict) and isinstance(params, dict) else params
            elif isinstance(values, dict) and isinstance(current, dict):
                merged[section] = {**current, **values}
            else:
                merged[section] = values
        return type(self).from_dict(merged)

    # -- checks against what runs ----------------------------------------------------------------
    def build_detectors(self, names: str | list[str] | None = None):
        """The detectors a scan (or the service) would run, built with this config's parameters;
        refuses (UnknownDetector, ConfigError) a name or a window they cannot work with, before any
        work starts."""
        from rayqa.detectors import build, parse_names

        names = parse_names(names)
        try:
            dets = build(names, self.detectors)
        except (TypeError, ValueError) as e:
            raise ConfigError(f"detectors: {e}") from None
        for d in dets:
            if (self.decode.window_s / d.segment_s) % 1 > 1e-9:
                raise ConfigError(f"decode.window_s={self.decode.window_s:g} is not a multiple of {d.name}'s "
                                  f"{d.segment_s:g} s segments")
        return dets

    def check_serve_fits(self, cluster_cpus: float, n_learned: int) -> None:
        """Refuse a Serve app whose replicas reserve more CPUs than the cluster has (Serve would
        wait for them forever)."""
        sv = self.serve
        needed = sv.ingress_replicas * sv.ingress_num_cpus + n_learned * sv.model_replicas * sv.model_num_cpus
        if needed > cluster_cpus + 1e-9:
            raise ConfigError(f"serve replicas reserve {needed:g} CPUs but the cluster has {cluster_cpus:g}; lower "
                              "serve.*_num_cpus or serve.*_replicas")

    def _pool(self, name: str, over: dict, cpus: float, gpus: float, use_gpu: bool, names=None) -> PoolSpec:
        r = self.resources
        num_cpus = float(over.get("num_cpus", r.model_num_cpus))
        num_gpus = float(over.get("num_gpus", r.model_num_gpus)) if use_gpu else 0.0
        batch = int(over.get("batch_windows", r.model_batch_windows))
        lo = int(over.get("min_size", r.detector_pool_min))
        hi = int(over.get("max_size", r.detector_pool_max))
        if num_cpus < 0 or num_gpus < 0 or batch < 1 or lo < 1 or hi < 0:
            raise ValueError("num_cpus/num_gpus must be >= 0, batch_windows and min_size >= 1, max_size >= 0 (0 = auto)")
        if num_cpus == 0 and num_gpus == 0 and (cpus or gpus):
            raise ValueError("a pool must reserve some CPU or GPU")
        if hi == 0:  # auto: what the cluster could hold of this pool alone
            hi = int((gpus / num_gpus) if num_gpus else (cpus / num_cpus if num_cpus else lo))
        return PoolSpec(tuple(names or (name,)), num_cpus, num_gpus, batch, lo, max(lo, hi))

    def models_in_decode(self, model_names: list[str], use_gpu: bool) -> bool:
        """The learned detectors ``model_names`` run inside the decode tasks, not in actor pools
        (``resources.model_pool``)."""
        mode = self.resources.model_pool
        if mode == "auto":
            mode = "actor" if use_gpu or any(self.pools.get(n) for n in model_names) else "decode"
        return mode == "decode" and bool(model_names)

    def plan_pools(self, dsp_names: list[str], model_names: list[str], cluster_cpus: float, cluster_gpus: float,
                   use_gpu: bool) -> list[PoolSpec]:
        """The detector actor pools for a scan, checked against the cluster (none for learned
        detectors that run in the decode tasks: :meth:`models_in_decode`).

        Ray Data waits forever (instead of failing) when actors reserve every CPU, so a plan whose
        minimum actor reservations leave no CPU for a decode task is refused before any work starts.
        """
        r = self.resources
        pools = []
        if self.models_in_decode(model_names, use_gpu):
            model_names = []
        if dsp_names and r.dsp_pool == "actor":
            dsp = {"num_cpus": r.dsp_num_cpus, "num_gpus": 0.0, "batch_windows": r.dsp_batch_windows}
            pools.append(self._pool("dsp", dsp, cluster_cpus, 0.0, False, names=dsp_names))
        for n in model_names:
            try:
                pools.append(self._pool(n, self.pools.get(n, {}), cluster_cpus, cluster_gpus, use_gpu))
            except (TypeError, ValueError) as e:
                raise ConfigError(f"[pools.{n}]: {e}") from None
        actor_cpus = sum(p.min_size * p.num_cpus for p in pools)
        decode_cpus = r.decode_cpus(bool(pools))
        if actor_cpus + decode_cpus > cluster_cpus + 1e-9:
            raise ConfigError(
                f"resources do not fit the cluster: detector pools reserve {actor_cpus:g} CPUs and a decode "
                f"task needs {decode_cpus:g}, but the cluster has {cluster_cpus:g} CPUs; lower "
                "resources.*_num_cpus, [pools.*] num_cpus or the pools' min_size"
            )
        gpu_need = sum(p.min_size * p.num_gpus for p in pools)
        if gpu_need > cluster_gpus + 1e-9:
            raise ConfigError(f"GPU pools need {gpu_need:g} GPUs, cluster has {cluster_gpus:g}")
        return pools


# -- messages --------------------------------------------------------------------------------------

def _show(value: Any) -> str:
    """A value as the user wrote it in TOML (strings in double quotes, true/false)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, (list, tuple)):
        return "an array"
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return repr(value) if value is not None else "nothing"


def _hint(name: str, known: list[str], known_label: str = "known") -> str:
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    if close:
        return f"; did you mean {close[0]}?"
    return f" ({known_label}: {', '.join(known) or 'none'})"


def _field_model(model: type[BaseModel], loc: tuple) -> type[BaseModel] | None:
    """The model that holds the key at ``loc`` (``loc`` relative to ``model``)."""
    for key in loc[:-1]:
        field = model.model_fields.get(str(key))
        ann = getattr(field, "annotation", None)
        if not (isinstance(ann, type) and issubclass(ann, BaseModel)):
            return None
        model = ann
    return model


_TYPE_WORDS = {  # (typed sections, detector parameters)
    "float_type": ("float (a number)", "a number"),
    "int_type": ("int (a whole number)", "a whole number"),
    "bool_type": ("bool (true or false)", "true or false"),
    "string_type": ("a string", "a string"),
    "dict_type": ("a table", "a table"),
    "model_type": ("a table", "a table"),
}
_BOUNDS = {"greater_than": ">", "greater_than_equal": ">=", "less_than": "<", "less_than_equal": "<="}


def _messages(errors: list[dict], model: type[BaseModel], prefix: tuple = ()) -> list[str]:
    out = []
    for e in errors:
        loc = tuple(e["loc"])
        full = prefix + loc
        path = ".".join(str(k) for k in full)
        kind, value, ctx = e["type"], e.get("input"), e.get("ctx") or {}
        if kind in ("value_error", "assertion_error"):
            err = ctx.get("error")
            if isinstance(err, _Described):
                out.extend(err.messages)
            else:
                text = str(err) if err is not None else e["msg"]
                out.append(f"{path}: {text}" if path and not text.startswith(path) else text)
        elif kind == "extra_forbidden":
            holder = _field_model(model, loc)
            known = list(holder.model_fields) if holder else []
            key = str(full[-1])
            if len(full) == 1:
                out.append(f"unknown config section [{key}]{_hint(key, known)}")
            elif full[0] == "detectors":
                out.append(f"unknown parameter {path}{_hint(key, known)}")
            elif full[0] == "pools":
                out.append(f"unknown key(s) in [{'.'.join(map(str, full[:-1]))}]: {key}{_hint(key, known)}")
            else:
                out.append(f"unknown config key {path}{_hint(key, known)}")
        elif kind in _TYPE_WORDS:
            words = _TYPE_WORDS[kind][1 if full[:1] == ("detectors",) else 0]
            where = f" ([{path}])" if kind in ("dict_type", "model_type") and len(full) <= 2 else ""
            out.append(f"{path}: expected {words}{where}, got {_show(value)}")
        elif kind in _BOUNDS:
            bound = next(iter(ctx.values()), None)
            out.append(f"{path}: must be {_BOUNDS[kind]} {bound:g}, got {_show(value)}" if isinstance(bound, (int, float))
                       else f"{path}: {e['msg'].lower()}, got {_show(value)}")
        elif kind == "finite_number":
            out.append(f"{path}: expected a finite number, got {_show(value)}")
        elif kind == "literal_error":
            expected = str(ctx.get("expected", "")).replace("'", '"')
            out.append(f"{path}: expected {expected}, got {_show(value)}")
        else:
            out.append(f"{path}: {e['msg']}, got {_show(value)}")
    return out


def describe(error: ValidationError, model: type[BaseModel] | None = None) -> str:
    """One line naming every refused key by its full path."""
    return "; ".join(_messages(error.errors(), model or ScanConfig)) or str(error)
