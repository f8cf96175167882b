"""The catalogue scan: manifest → windows → decode → detector pools → findings, on Ray Data.

    items ──flat_map: probe + cut into windows──▶ repartition: ≤ decode_task_windows a block
          ──▶ map_batches: decode (CPU tasks) + dsp detectors on those frames (or their own
              actor pool: resources.dsp_pool = "actor")
          ──▶ map_batches: one actor pool per learned detector (GPU when the cluster has one)
          ──▶ driver: merge each finished item's hits into events, commit Parquet parts

Each stage is a piece of the Ray-free item runner (:mod:`rayqa.runner`, through
:mod:`rayqa.stages`); the driver's side is :class:`rayqa.collector.Collector`, the MLflow run
:class:`rayqa.tracking.TrackedRun`. Resources and pool sizes come from
:class:`rayqa.config.ScanConfig` only.
"""

from __future__ import annotations

import logging
import math
import os
import time
import warnings
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from rayqa import __version__
from rayqa.collector import Collector
from rayqa.config import ConfigError, ScanConfig
from rayqa.detectors import build, parse_names
from rayqa.detectors.base import Detector
from rayqa.manifest import passthrough_columns, read_manifest
from rayqa.output import OutputDir, passthrough_schema
from rayqa.progress import Progress, quiet_ray_data
from rayqa.raytools import ensure_ray, stage_seconds
from rayqa.runner import input_specs
from rayqa.stages import DetectStage, decode_batch, from_frame, plan_item
from rayqa.tracking import TrackedRun, git_commit

log = logging.getLogger("rayqa")
SCAN_EXPERIMENT = "rayqa-scans"

__all__ = ["ScanResult", "build_dataset", "ensure_ray", "run_scan"]


@dataclass
class ScanResult:
    run_id: str
    output: Path
    counts: dict
    findings_by_defect: dict
    skipped: int
    content_s: float
    run_json: Path
    stage_s: dict = field(default_factory=dict)  # Ray Data operator → task wall seconds
    profile: dict = field(default_factory=dict)  # run.json's profile_seconds


def run_scan(manifest: str | os.PathLike, output: str | os.PathLike, detectors: str | list[str] | None = None,
             config: ScanConfig | None = None, address: str | None = None, rescan: bool = False,
             retry_failed: bool = False, verbose: bool = False, progress: bool = True,
             policy: str | os.PathLike | None = None) -> ScanResult:
    """Scan every manifest item not already summarised in ``output`` (with ``retry_failed``, the
    failed ones again too). ``progress``: a live line on a terminal (a plain line every 30 s in a
    log); ``verbose``: Ray Data's own progress logging too. Raises ManifestError, UnknownDetector, ConfigError, ScanMismatch or
    RegistryError (input refused) before any work starts."""
    import ray

    from rayqa.loading import verify
    from rayqa.registry import ModelRegistry

    from rayqa.policy import load_policy

    cfg = config or ScanConfig()
    rules = load_policy(policy)  # a policy that does not parse is refused before any work
    names = parse_names(detectors)
    dets = build(names, cfg.detectors)  # checks parameter names up front
    for d in dets:
        if (cfg.decode.window_s / d.segment_s) % 1 > 1e-9:
            raise ConfigError(f"decode.window_s={cfg.decode.window_s:g} is not a multiple of {d.name}'s {d.segment_s:g} s segments")
    df = read_manifest(manifest)
    extra = passthrough_columns(df)
    out = OutputDir(output, passthrough_schema(df, extra))
    model_dets = [d for d in dets if d.pool == "model"]
    dsp_dets = [d for d in dets if d.pool != "model"]

    fixed: dict[str, float] = {}  # the scan's fixed costs (run.json profile_seconds.fixed)
    # The models first: a resume must match the versions the folder was scanned with.
    t = time.perf_counter()
    registry = ModelRegistry()
    resolved = {d.name: registry.resolve(d.name).carried() for d in model_dets}  # once per run, files and all
    for d in model_dets:
        verify(d, resolved[d.name])  # a damaged or misfit checkpoint is refused here, not in an actor
    fixed["models"] = time.perf_counter() - t
    done = out.prepare(rescan, scan_settings(dets, cfg), retry_failed)
    todo = df[~df["item_id"].isin(done)]

    t = time.perf_counter()
    ensure_ray(address)
    quiet_ray_data(verbose)
    fixed["ray_start"] = time.perf_counter() - t
    resources = ray.cluster_resources()
    use_gpu = resources.get("GPU", 0) > 0
    cfg.plan_pools([d.name for d in dsp_dets], [d.name for d in model_dets], resources.get("CPU", 0),
                   resources.get("GPU", 0), use_gpu)  # refuses a plan that cannot run, before any work

    t = time.perf_counter()
    started = datetime.now(timezone.utc)
    run = TrackedRun(SCAN_EXPERIMENT, f"scan-{Path(output).name}", registry=registry,
                     tags={"rayqa.version": __version__, "rayqa.output": str(out.root)})
    run.log_params({
        "manifest": str(Path(manifest).resolve()), "detectors": ",".join(names), "policy": policy_record(policy),
        "window_s": cfg.decode.window_s, "video_backend": cfg.decode.video_backend, "rescan": rescan,
        "items_in_manifest": len(df), "items_to_scan": len(todo),
        **{f"model.{k}": v.uri for k, v in resolved.items()},
    })

    fixed["mlflow_run"] = time.perf_counter() - t
    passthrough = {r["item_id"]: {c: r[c] for c in extra} for r in todo[["item_id"] + extra].to_dict("records")} if extra else {}
    collector = Collector(out, dets, run.run_id, passthrough, cfg.resources.commit_every_items,
                          captions=dict(zip(todo["item_id"], todo["captions_uri"])),
                          progress=Progress(len(todo), enabled=progress), policy=rules)
    expected = dict(zip(todo["item_id"], todo["uri"]))
    status = "FINISHED"
    t = time.perf_counter()
    try:
        passes = scan_passes(todo, cfg, collector, expected, dsp_dets, model_dets, resolved, use_gpu, resources)
        collector.close(expected, passes, cfg.resources.max_task_retries)
    except BaseException:
        status = "KILLED"
        collector.flush()
        raise
    finally:
        finished = datetime.now(timezone.utc)
        fixed["scan_wall"] = time.perf_counter() - t
        collector.fixed = {k: round(v, 3) for k, v in fixed.items()}
        run_json = out.write_run(run_record(run, collector, cfg, dets, df, done, out, manifest, started, finished, status))
        run.log_metrics({"items_ok": collector.counts.get("ok", 0), "items_failed": collector.counts.get("failed", 0),
                         "items_skipped": len(done), "content_seconds": collector.content_s,
                         "wall_seconds": (finished - started).total_seconds(),
                         **{f"findings.{k}": v for k, v in collector.by_defect.items()}})
        run.log_artifact(run_json)
        run.end(status)
    return ScanResult(run.run_id, out.root, dict(collector.counts), dict(collector.by_defect), len(done),
                      collector.content_s, run_json, dict(collector.stage_s), profile_of(collector))


def scan_settings(dets: list[Detector], cfg: ScanConfig) -> dict:
    """What makes two scans comparable (recorded in the folder's scan.json; a resume must match):
    the detectors, their parameters and versions (a signal-processing detector's own, a learned
    one's registry version, resolved before this is called) and the decode window."""
    return {"detectors": sorted(d.name for d in dets), "params": {d.name: d.params for d in dets},
            "versions": {d.name: str(d.model_version) for d in dets}, "window_s": cfg.decode.window_s}


def policy_record(policy) -> str | None:
    return str(Path(policy).resolve()) if policy else None


def profile_of(collector: Collector) -> dict:
    """Where the scan's time went: ``work`` sums each phase over every window (probe, seek, decode,
    frame conversion, audio resampling, serialisation between tasks, each detector) and the
    driver's merge and commit; ``fixed`` is what the run paid once (Ray start, models, MLflow run)
    and the wall time of the scan passes."""
    return {"work": {k: round(v, 3) for k, v in sorted(collector.profile.items())},
            "fixed": dict(collector.fixed)}


def run_record(run: TrackedRun, collector: Collector, cfg: ScanConfig, dets: list[Detector], df: pd.DataFrame,
               done: set, out: OutputDir, manifest, started: datetime, finished: datetime, status: str) -> dict:
    """What ``run.json`` says about the run."""
    all_items = out.read_items(columns=["status"]) if any(out.items_dir.glob("part-*.parquet")) else pd.DataFrame(columns=["status"])
    return {
        "run_id": run.run_id, "started_at": started.isoformat(), "finished_at": finished.isoformat(),
        "rayqa_version": __version__, "git_commit": git_commit(),
        "manifest": str(Path(manifest).resolve()), "output": str(out.root),
        "detectors": [{"name": d.name, "model": d.model_name, "model_version": d.model_version} for d in dets],
        "items": {"total": len(df), "scanned_this_run": sum(collector.counts.values()), "skipped_done": len(done),
                  **{k: int(v) for k, v in all_items["status"].value_counts().items()}},
        "items_this_run": dict(collector.counts),
        "content_seconds_scanned": round(collector.content_s, 3),
        "findings_this_run_by_defect": dict(collector.by_defect),
        "stage_wall_seconds": collector.stage_s,
        "profile_seconds": profile_of(collector),
        "mlflow_tracking_uri": run.tracking_uri, "status": status,
    }


def scan_passes(todo: pd.DataFrame, cfg: ScanConfig, collector: Collector, expected: dict[str, str],
                dsp_dets: list[Detector], model_dets: list[Detector], resolved: dict, use_gpu: bool,
                resources: dict) -> int:
    """Run the dataset over ``todo``; then, for items that lost windows (a worker that kept dying,
    or a pass the cluster could not finish), an isolation pass with one window per task, so a
    poisonous item fails alone and its neighbours are scanned. Returns the passes run."""
    from ray.exceptions import RayError

    remaining = expected
    passes = 0
    for isolated in (False, True) if cfg.resources.isolation_pass else (False,):
        if not remaining:
            break
        passes += 1
        if isolated:
            log.warning("isolation pass for %d item(s) that lost windows: %s", len(remaining),
                        ", ".join(list(remaining)[:10]) + (" ..." if len(remaining) > 10 else ""))
        part = todo[todo["item_id"].isin(remaining)]
        try:
            ds = build_dataset(part, cfg, dsp_dets, model_dets, resolved, use_gpu, resources, isolated=isolated)
            for batch in ds.iter_batches(batch_size=None, batch_format="pandas"):
                for row in from_frame(batch):
                    collector.add(row)
            for name, sec in stage_seconds(ds, ds._rayqa_pools).items():
                collector.stage_s[name] = round(collector.stage_s.get(name, 0.0) + sec, 3)
        except RayError as e:  # the cluster lost what it could not rebuild: what finished stays
            log.warning("scan pass %d stopped: %s: %s", passes, type(e).__name__, str(e).splitlines()[0][:300])
        remaining = collector.unfinished(remaining)
    return passes


def build_dataset(todo: pd.DataFrame, cfg: ScanConfig, dsp_dets: list[Detector], model_dets: list[Detector],
                  resolved: dict, use_gpu: bool, resources: dict | None = None, isolated: bool = False,
                  run_detectors: bool = True):
    """The Ray Data plan. Reads top to bottom; every number comes from ``cfg``.

    Every task and actor call is retried at most ``resources.max_task_retries`` times (Ray Data
    would retry forever); a block that still fails is skipped rather than failing the scan, and its
    items are the ones :func:`scan_passes` scans again. ``isolated``: one item per block and one
    window per batch, so a failure takes no other item's windows with it. ``run_detectors=False``
    plans and decodes exactly what the detectors need but runs none of them, and drops the decoded
    windows where they were decoded, as the scan's in-decode detectors do (the benchmarks'
    decode-only baseline: rows keep their profile, not their frames).
    """
    import ray

    r = cfg.resources
    ctx = ray.data.DataContext.get_current()
    ctx.op_resource_reservation_enabled = r.ray_data_reservation
    ctx.max_errored_blocks = -1
    resources = resources or ray.cluster_resources()
    pools = cfg.plan_pools([d.name for d in dsp_dets], [d.name for d in model_dets], resources.get("CPU", 0),
                           resources.get("GPU", 0), use_gpu) if run_detectors else []
    task_retries = {"max_retries": r.max_task_retries}
    decode_cpus = r.decode_cpus(bool(pools))
    actor_retries = {"max_restarts": -1, "max_task_retries": r.max_task_retries}
    # Ray 2.60 takes retry bounds only through **ray_remote_args, which it warns will go in 2.64.
    warnings.filterwarnings("ignore", message=".*ray_remote_args.* is deprecated", category=DeprecationWarning)
    items = todo[["item_id", "uri", "captions_uri"]].to_dict("records")
    video_specs, audio_specs = input_specs(dsp_dets + model_dets)
    # Items per planning task: enough blocks to keep every CPU busy (at least 4 per CPU, so the
    # last round of decode tasks leaves few CPUs idle: 20 items on 2 CPUs make 10 blocks of 2, not
    # 7 of 3 with one CPU alone for the last), but no more than needed: Ray keeps some bookkeeping
    # per task on the driver after a dataset finishes (measured: ~12 MiB per 1,000 one-item tasks,
    # ~1 MiB at 16 items per task).
    per_block = 1 if isolated else max(1, min(r.plan_items_per_block,
                                              len(items) // (4 * max(1, int(resources.get("CPU", 1))))))
    ds = ray.data.from_items(items, override_num_blocks=max(1, math.ceil(len(items) / per_block)))
    ds = ds.flat_map(plan_item, fn_kwargs={"window_s": cfg.decode.window_s,
                                           "max_windows": cfg.decode.max_windows_per_item},
                     num_cpus=decode_cpus, **task_retries)
    # An item's windows leave the planner as one block; split it (streaming, no shuffle) so a long
    # item's windows are decoded by several tasks at once, on any node.
    ds = ds.repartition(target_num_rows_per_block=1 if isolated else r.decode_task_windows)
    # Ray Data gives its repartition tasks no resource arguments, so each would reserve a whole CPU
    # and wait forever once the detector pools hold the rest (all learned detectors on 2 CPUs):
    # they reserve what a decode task does, which plan_pools keeps free.
    split_op = getattr(getattr(ds, "_logical_plan", None), "dag", None)
    if split_op is not None and hasattr(split_op, "ray_remote_args"):  # a frozen dataclass in Ray 2.60
        object.__setattr__(split_op, "ray_remote_args",
                           {**(split_op.ray_remote_args or {}), "num_cpus": decode_cpus, **task_retries})
    by_name = {d.name: d for d in dsp_dets + model_dets}

    def reads(later: list) -> tuple[list[str], list[str]]:
        """The video and audio spec keys the detectors of the ``later`` pools read: all that a
        window carries on to them (what the detectors before them read stays behind)."""
        dets = [by_name[n] for p in later for n in p.names]
        return (sorted({d.video.key for d in dets if d.video is not None}),
                sorted({d.audio.key for d in dets if d.audio is not None}))

    # The detectors that run in the decode task, on the frames it just decoded: the signal-processing
    # ones (resources.dsp_pool) and, on CPU clusters, the learned ones (resources.model_pool).
    here = [d.name for d in dsp_dets] if r.dsp_pool == "decode" else []
    if run_detectors and cfg.models_in_decode([d.name for d in model_dets], use_gpu):
        here += [d.name for d in model_dets]
    dsp_in_decode = run_detectors and bool(here)
    dsp = {"names": here, "overrides": cfg.detectors, "drop_media": not pools,
           "resolved": {n: resolved[n] for n in here if n in resolved}}
    # Where the decoded windows never leave the decode task (its detectors drop them), a task takes
    # its whole block and decodes each item's run of windows in one pass, one seek, handing
    # decode_batch_windows at a time to the detectors (bounded memory); where they travel on to
    # detector pools, a batch is what one call ships.
    in_task = not isolated and (not run_detectors or (dsp_in_decode and not pools))
    ds = ds.map_batches(decode_batch, fn_kwargs={"video_specs": video_specs, "audio_specs": audio_specs,
                                                 "backend": cfg.decode.video_backend,
                                                 "dsp": dsp if dsp_in_decode else None,
                                                 "drop_media": not run_detectors,
                                                 "chunk_windows": r.decode_batch_windows if in_task else None,
                                                 "keep": reads(pools)},
                        batch_size=None if in_task else (1 if isolated else r.decode_batch_windows),
                        batch_format="pandas", num_cpus=decode_cpus, **task_retries)
    for i, p in enumerate(pools):
        ds = ds.map_batches(
            DetectStage,
            fn_constructor_kwargs={"names": list(p.names), "overrides": cfg.detectors,
                                   "resolved": {n: resolved[n] for n in p.names if n in resolved},
                                   "drop_media": i == len(pools) - 1, "device": "cuda" if p.num_gpus else "cpu",
                                   "keep": reads(pools[i + 1:])},
            compute=ray.data.ActorPoolStrategy(min_size=p.min_size, max_size=p.max_size),
            num_cpus=p.num_cpus, num_gpus=p.num_gpus, batch_size=1 if isolated else p.batch_windows,
            batch_format="pandas", **actor_retries,
        )
    ds._rayqa_pools = [p.names for p in pools]  # names the detector stages in stage_seconds()
    return ds
