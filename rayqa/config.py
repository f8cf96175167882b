"""One configuration object for a scan: detector thresholds, decode windows and Ray resources.

Defaults fit a 2-CPU laptop; a TOML file given with ``--config`` overrides any of them, e.g.::

    [decode]
    window_s = 8.0

    [resources]
    decode_num_cpus = 1.0
    detector_pool_max = 16

    [detectors.black_frames]
    pixel_threshold = 0.12
"""

from __future__ import annotations

import copy
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class ConfigError(ValueError):
    """A configuration that cannot work (unknown key, resources that do not fit the cluster)."""


@dataclass
class DecodeConfig:
    # Length of the unit of work. Detectors segment inside a window (1 s audio segments, 4 s AV
    # fragments), so the window must be a multiple of every detector's segment length.
    window_s: float = 8.0
    # Items longer than this many windows are still windowed; this only bounds one planning row.
    max_windows_per_item: int = 200_000
    # "pyav" reports concealed damage frame by frame; "decord" reports none and falls back to
    # pyav for a span it gives up on (see rayqa/media.py).
    video_backend: str = "pyav"


@dataclass
class ResourceConfig:
    """Ray resources for every stage. Fractions let all stages share a 2-CPU machine."""

    # One decode task (CPU, always; one decoder thread per task). Probing an item and cutting it
    # into windows asks for the same, so Ray Data fuses the two into one task per item: measured
    # on 2 CPUs, separate probe tasks starved behind the decoders and halved throughput.
    decode_num_cpus: float = 0.5
    decode_batch_windows: int = 4
    # Actor pool for the cheap signal-processing detectors, which share one actor. A request
    # different from decode_num_cpus keeps decoding in tasks (Ray Data fuses equal ones into the
    # actor, which then decodes one batch at a time).
    dsp_num_cpus: float = 0.25
    # "decode": the signal-processing detectors (no weights, ~10 % of decoding's cost) run inside
    # the decode task on the frames it just decoded, and only learned detectors' pools receive
    # windows through the object store. "actor": they get one shared actor pool of their own
    # (measured on 2 CPUs: 1.4x the wall time and 0.7 GB more worker memory).
    dsp_pool: str = "decode"
    dsp_batch_windows: int = 4
    # Each learned detector gets its own pool; on a GPU node it asks for this much GPU.
    model_num_cpus: float = 0.5
    model_num_gpus: float = 0.5
    model_batch_windows: int = 4
    detector_pool_min: int = 1
    detector_pool_max: int = 4
    # Findings are committed to Parquet every N finished items (and at the end).
    commit_every_items: int = 64
    # Ray Data's per-operator resource reservation holds back half the CPUs for operators that are
    # idle most of the time here; measured on 2 CPUs, decoding ran 1.4x faster without it.
    ray_data_reservation: bool = False


@dataclass
class ServeConfig:
    """``rayqa serve``: replicas and their reservations (a Serve replica reserves a whole CPU
    unless told otherwise), batching of learned detectors, upload limit."""

    ingress_replicas: int = 1
    ingress_num_cpus: float = 0.25  # HTTP handling, decoding and the signal-processing detectors
    model_replicas: int = 1  # per learned detector
    model_num_cpus: float = 0.5
    model_num_gpus: float = 0.5  # only where the cluster has GPUs
    max_batch_windows: int = 16  # windows (of decode.window_s) per forward batch across requests
    batch_wait_timeout_s: float = 0.02  # how long a batch waits to fill
    max_ongoing_requests: int = 32  # per replica; batching needs several requests in one replica
    max_upload_mb: float = 512.0  # RAYQA_MAX_UPLOAD_MB overrides


@dataclass
class ScanConfig:
    decode: DecodeConfig = field(default_factory=DecodeConfig)
    resources: ResourceConfig = field(default_factory=ResourceConfig)
    serve: ServeConfig = field(default_factory=ServeConfig)
    # Per-detector parameter overrides: {"black_frames": {"pixel_threshold": 0.1}}
    detectors: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def load(cls, path: str | os.PathLike | None = None) -> "ScanConfig":
        cfg = cls()
        if path is None:
            return cfg
        p = Path(path)
        if not p.is_file():
            raise ConfigError(f"config file not found: {p}")
        try:
            data = tomllib.loads(p.read_text())
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(f"config file {p} is not valid TOML: {e}") from e
        return cfg.merged(data)

    def merged(self, data: dict[str, Any]) -> "ScanConfig":
        cfg = copy.deepcopy(self)
        for section, values in data.items():
            if section == "detectors":
                if not isinstance(values, dict):
                    raise ConfigError("[detectors] must be a table of tables")
                for name, params in values.items():
                    cfg.detectors.setdefault(name, {}).update(params)
                continue
            target = getattr(cfg, section, None)
            if target is None or not isinstance(values, dict):
                raise ConfigError(f"unknown config section [{section}]")
            for key, value in values.items():
                if not hasattr(target, key):
                    raise ConfigError(f"unknown config key {section}.{key}")
                current = getattr(target, key)
                try:
                    value = type(current)(value)
                except (TypeError, ValueError) as e:
                    raise ConfigError(f"{section}.{key}: expected {type(current).__name__}, got {value!r}") from e
                setattr(target, key, value)
        return cfg.validate()

    def validate(self) -> "ScanConfig":
        if self.decode.video_backend not in ("pyav", "decord"):
            raise ConfigError(f"decode.video_backend must be 'pyav' or 'decord', not {self.decode.video_backend!r}")
        if self.resources.dsp_pool not in ("actor", "decode"):
            raise ConfigError(f"resources.dsp_pool must be 'actor' or 'decode', not {self.resources.dsp_pool!r}")
        if self.decode.window_s <= 0 or self.resources.decode_batch_windows < 1:
            raise ConfigError("decode.window_s and resources.decode_batch_windows must be positive")
        if self.resources.detector_pool_min < 1 or self.resources.detector_pool_max < self.resources.detector_pool_min:
            raise ConfigError("resources.detector_pool_min must be >= 1 and <= detector_pool_max")
        sv = self.serve
        if sv.ingress_replicas < 1 or sv.model_replicas < 1 or sv.max_batch_windows < 1 or sv.max_ongoing_requests < 1:
            raise ConfigError("serve.*_replicas, serve.max_batch_windows and serve.max_ongoing_requests must be >= 1")
        if sv.batch_wait_timeout_s < 0 or sv.max_upload_mb <= 0:
            raise ConfigError("serve.batch_wait_timeout_s must be >= 0 and serve.max_upload_mb > 0")
        return self

    def check_serve_fits(self, cluster_cpus: float, n_learned: int) -> None:
        """Refuse a Serve app whose replicas reserve more CPUs than the cluster has (Serve would
        wait for them forever)."""
        sv = self.serve
        needed = sv.ingress_replicas * sv.ingress_num_cpus + n_learned * sv.model_replicas * sv.model_num_cpus
        if needed > cluster_cpus + 1e-9:
            raise ConfigError(f"serve replicas reserve {needed:g} CPUs but the cluster has {cluster_cpus:g}; lower "
                              "serve.*_num_cpus or serve.*_replicas")

    def check_fits(self, cluster_cpus: float, cluster_gpus: float, n_model_pools: int, use_gpu: bool) -> None:
        """Refuse a plan whose minimum actor reservations leave no CPU for the decode tasks.

        Ray Data waits forever (instead of failing) when actors reserve every CPU, so this is
        checked before any work starts.
        """
        r = self.resources
        dsp_actor = r.dsp_num_cpus if r.dsp_pool == "actor" else 0.0
        actor_cpus = r.detector_pool_min * (dsp_actor + n_model_pools * r.model_num_cpus)
        needed = actor_cpus + r.decode_num_cpus
        if needed > cluster_cpus + 1e-9:
            raise ConfigError(
                f"resources do not fit the cluster: detector pools reserve {actor_cpus:g} CPUs and a decode "
                f"task needs {r.decode_num_cpus:g}, but the cluster has {cluster_cpus:g} CPUs; lower "
                "resources.*_num_cpus or resources.detector_pool_min"
            )
        if use_gpu and n_model_pools and r.detector_pool_min * n_model_pools * r.model_num_gpus > cluster_gpus + 1e-9:
            raise ConfigError(
                f"GPU pools need {r.detector_pool_min * n_model_pools * r.model_num_gpus:g} GPUs, cluster has {cluster_gpus:g}"
            )
