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
    # Windows per decode task: a long item is cut into runs this long (32 x 8 s ~ 4 minutes) that
    # separate tasks decode in parallel; short items share a task. Smaller spreads one long item
    # wider, larger seeks less.
    decode_task_windows: int = 32
    # Items probed and planned per task (fewer when the catalogue is small next to the cluster).
    plan_items_per_block: int = 16
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
    # Each learned detector gets its own pool; on a GPU node it asks for this much GPU. These are
    # the defaults of every pool; [pools.<detector>] overrides them for one detector.
    model_num_cpus: float = 0.5
    model_num_gpus: float = 0.5
    model_batch_windows: int = 4
    detector_pool_min: int = 1
    # 0: as many actors as the cluster could hold (CPUs / num_cpus, or GPUs / num_gpus on GPU
    # nodes), so pools grow with the cluster; Ray Data's autoscaler starts them as work queues up.
    detector_pool_max: int = 0
    # Findings are committed to Parquet every N finished items (and at the end).
    commit_every_items: int = 64
    # Ray Data's per-operator resource reservation holds back half the CPUs for operators that are
    # idle most of the time here; measured on 2 CPUs, decoding ran 1.4x faster without it.
    ray_data_reservation: bool = False
    # Fault tolerance. A decode task or detector call whose worker dies (a crash, an out-of-memory
    # kill, a lost node) is retried this many times; Ray Data's default retries forever, so one
    # poisonous item would stall the scan. Items that still lost windows are then scanned again one
    # window per task (the isolation pass, so an innocent neighbour is not blamed), and an item
    # that fails there too ends as `failed` with the reason.
    max_task_retries: int = 3
    isolation_pass: bool = True


POOL_KEYS = ("num_cpus", "num_gpus", "batch_windows", "min_size", "max_size")


@dataclass(frozen=True)
class PoolSpec:
    """One detector actor pool as the scan will start it."""

    names: tuple[str, ...]  # detectors sharing the pool (the dsp pool holds several)
    num_cpus: float
    num_gpus: float  # 0 on a cluster without GPUs
    batch_windows: int
    min_size: int
    max_size: int


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
    # Per-detector actor pool overrides: {"block_corruption": {"num_gpus": 1.0, "batch_windows": 16}}
    pools: dict[str, dict[str, Any]] = field(default_factory=dict)

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
            if section == "pools":
                if not isinstance(values, dict) or not all(isinstance(v, dict) for v in values.values()):
                    raise ConfigError("[pools] must be a table of tables: [pools.<detector>]")
                for name, params in values.items():
                    unknown = set(params) - set(POOL_KEYS)
                    if unknown:
                        raise ConfigError(f"unknown key(s) in [pools.{name}]: {', '.join(sorted(unknown))}; "
                                          f"known: {', '.join(POOL_KEYS)}")
                    cfg.pools.setdefault(name, {}).update(params)
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
        if self.decode.window_s <= 0 or self.resources.decode_batch_windows < 1 or self.resources.decode_task_windows < 1 \
                or self.resources.plan_items_per_block < 1:
            raise ConfigError("decode.window_s, resources.decode_batch_windows, resources.decode_task_windows and "
                              "resources.plan_items_per_block must be positive")
        r = self.resources
        if r.detector_pool_min < 1 or (r.detector_pool_max and r.detector_pool_max < r.detector_pool_min):
            raise ConfigError("resources.detector_pool_min must be >= 1 and <= detector_pool_max (0 = auto)")
        if r.max_task_retries < 0:
            raise ConfigError("resources.max_task_retries must be >= 0 (a bounded number of retries)")
        for name, p in self.pools.items():
            try:
                self._pool(name, p, 0.0, 0.0, False)
            except (TypeError, ValueError) as e:
                raise ConfigError(f"[pools.{name}]: {e}") from None
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

    def plan_pools(self, dsp_names: list[str], model_names: list[str], cluster_cpus: float, cluster_gpus: float,
                   use_gpu: bool) -> list[PoolSpec]:
        """The detector actor pools for a scan, checked against the cluster.

        Ray Data waits forever (instead of failing) when actors reserve every CPU, so a plan whose
        minimum actor reservations leave no CPU for a decode task is refused before any work starts.
        """
        r = self.resources
        pools = []
        if dsp_names and r.dsp_pool == "actor":
            dsp = {"num_cpus": r.dsp_num_cpus, "num_gpus": 0.0, "batch_windows": r.dsp_batch_windows}
            pools.append(self._pool("dsp", dsp, cluster_cpus, 0.0, False, names=dsp_names))
        for n in model_names:
            try:
                pools.append(self._pool(n, self.pools.get(n, {}), cluster_cpus, cluster_gpus, use_gpu))
            except (TypeError, ValueError) as e:
                raise ConfigError(f"[pools.{n}]: {e}") from None
        actor_cpus = sum(p.min_size * p.num_cpus for p in pools)
        if actor_cpus + r.decode_num_cpus > cluster_cpus + 1e-9:
            raise ConfigError(
                f"resources do not fit the cluster: detector pools reserve {actor_cpus:g} CPUs and a decode "
                f"task needs {r.decode_num_cpus:g}, but the cluster has {cluster_cpus:g} CPUs; lower "
                "resources.*_num_cpus, [pools.*] num_cpus or the pools' min_size"
            )
        gpu_need = sum(p.min_size * p.num_gpus for p in pools)
        if gpu_need > cluster_gpus + 1e-9:
            raise ConfigError(f"GPU pools need {gpu_need:g} GPUs, cluster has {cluster_gpus:g}")
        return pools
