"""The catalogue scan: manifest → windows → decode → detector pools → findings, on Ray Data.

    items ──flat_map: probe + cut into windows──▶ map_batches: decode (CPU tasks)
                                                    + dsp detectors on those frames (or their own
                                                      actor pool: resources.dsp_pool = "actor")
          ──▶ map_batches: one actor pool per learned detector (GPU when the cluster has one)
          ──▶ driver: merge each finished item's hits into events, commit Parquet parts

Resources and pool sizes come from :class:`rayqa.config.ScanConfig` only.
"""

from __future__ import annotations

import json
import logging
import math
import os
import subprocess
import time
import warnings
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from rayqa import __version__
from rayqa.columns import summary_row
from rayqa.config import ScanConfig
from rayqa.detectors import build, parse_names
from rayqa.detectors.base import Detector
from rayqa.types import Hit, ItemInfo
from rayqa.manifest import passthrough_columns, read_manifest
from rayqa.output import OutputDir, passthrough_schema
from rayqa.stages import DecodeStage, DetectStage, hits_of, input_specs, plan_item, to_frame

log = logging.getLogger("rayqa")


def decode_batch(batch: pd.DataFrame, video_specs, audio_specs, backend: str,
                 dsp: dict | None = None) -> pd.DataFrame:
    """Decode a batch of windows; with ``dsp`` (DetectStage arguments) also run the signal-processing
    detectors right here, where the frames already are."""
    rows = DecodeStage(video_specs, audio_specs, backend).decode_rows(batch.to_dict("records"))
    if dsp:
        rows = DetectStage(**dsp).detect_rows(rows)  # on the decoded windows, no pickling round trip
    return to_frame(rows)


def ensure_ray(address: str | None = None) -> None:
    """Connect to ``address`` (``auto`` for a running ``ray start`` cluster) or ``RAY_ADDRESS`` (set
    under ``ray job submit``); with neither, start an embedded local Ray.

    A plain ``ray.init()`` would instead join whatever cluster ``/tmp/ray/ray_current_cluster``
    names, and wait minutes on a stale one."""
    import ray

    if ray.is_initialized():
        return
    address = address or os.environ.get("RAY_ADDRESS") or "local"
    kwargs = dict(address=address, logging_level=logging.WARNING, log_to_driver=True)
    if address == "local":
        kwargs["include_dashboard"] = False
    ray.init(**kwargs)


def git_commit() -> str | None:
    root = Path(__file__).resolve().parent.parent
    try:
        out = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5)
        return out.stdout.strip() or None if out.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None


def _by_detector(hits: list[tuple[str, "Hit"]]) -> dict[str, list["Hit"]]:
    by_det: dict[str, list] = defaultdict(list)
    for name, hit in hits:
        by_det[name].append(hit)
    return by_det


def finding_rows(run_id: str, item_id: str, detectors: dict[str, Detector], hits: list[tuple[str, "Hit"]]) -> list[dict]:
    """An item's hits, merged per detector into events, as rows of the findings schema (the scan's
    Parquet and the service's JSON alike), in time order."""
    rows = []
    for name, det_hits in _by_detector(hits).items():
        det = detectors[name]
        for ev in det.merge(det_hits):
            rows.append({
                "run_id": run_id, "item_id": item_id, "detector": name, "defect": ev.defect,
                "start_s": float(ev.start_s), "end_s": float(ev.end_s), "score": float(min(1.0, max(0.0, ev.score))),
                "model": det.model_name, "model_version": det.model_version,
                "details": json.dumps(ev.details, sort_keys=True, default=str),
            })
    rows.sort(key=lambda f: (f["start_s"], f["detector"]))
    return rows


def item_columns(detectors: dict[str, Detector], hits: list[tuple[str, "Hit"]]) -> dict:
    """Summary columns the detectors decide from an item's hits (:meth:`Detector.summarise`)."""
    by_det = _by_detector(hits)
    cols: dict = {}
    for name, det in detectors.items():
        cols.update(det.summarise(by_det.get(name, [])))
    return cols


@dataclass
class _ItemState:
    n_windows: int
    uri: str
    info: str = ""
    seen: set = field(default_factory=set)
    hits: list = field(default_factory=list)
    errors: list = field(default_factory=list)
    work_s: float = 0.0


class Collector:
    """Gathers window rows on the driver; an item is merged and committed once all its windows are in.

    Holds only items in flight, so driver memory does not grow with the catalogue.
    """

    def __init__(self, out: OutputDir, detectors: list[Detector], run_id: str, passthrough: dict[str, dict],
                 commit_every: int):
        self.out, self.run_id, self.passthrough, self.commit_every = out, run_id, passthrough, commit_every
        self.detectors = {d.name: d for d in detectors}
        self.state: dict[str, _ItemState] = {}
        self.pending_findings: list[dict] = []
        self.pending_items: list[dict] = []
        self.finished: set[str] = set()
        self.counts: Counter = Counter()
        self.by_defect: Counter = Counter()
        self.content_s = 0.0
        self.lost: dict[str, tuple[int, int]] = {}  # item → (windows seen, windows) when a pass lost some
        self.stage_s: dict[str, float] = {}  # Ray Data operator → task wall seconds (run.json)

    def add(self, row: dict) -> None:
        item_id = row["item_id"]
        if item_id in self.finished:
            return  # a retried task delivered this window twice
        st = self.state.get(item_id)
        if st is None:
            st = self.state[item_id] = _ItemState(int(row["n_windows"]), row["uri"])
        wi = int(row["window_index"])
        if wi in st.seen:
            return
        st.seen.add(wi)
        st.info = st.info or row["info"]
        st.work_s += float(row["work_s"])
        if row["error"]:
            st.errors.append(row["error"])
        else:
            st.hits.extend(hits_of(row["hits"]))
        if len(st.seen) >= st.n_windows:
            self._finish(item_id, self.state.pop(item_id))

    def _finish(self, item_id: str, st: _ItemState, error: str | None = None) -> None:
        info = ItemInfo.from_json(st.info) if st.info else None
        error = error or (st.errors[0] if st.errors else None)
        findings = [] if error is not None else finding_rows(self.run_id, item_id, self.detectors, st.hits)
        columns = None if error is not None else item_columns(self.detectors, st.hits)
        summary = {**summary_row(self.run_id, item_id, st.uri, info, error, len(findings), st.work_s, columns),
                   **self.passthrough.get(item_id, {})}
        self.pending_findings.extend(findings)
        self.pending_items.append(summary)
        self.finished.add(item_id)
        self.counts[summary["status"]] += 1
        self.by_defect.update(f["defect"] for f in findings)
        if info and not error:
            self.content_s += info.duration_s
        if len(self.pending_items) >= self.commit_every:
            self.flush()

    def flush(self) -> None:
        if self.pending_items:
            self.out.commit(self.pending_findings, self.pending_items)
            self.pending_findings, self.pending_items = [], []

    def unfinished(self, expected: dict[str, str]) -> dict[str, str]:
        """Items of ``expected`` without a summary yet; what was gathered for them is dropped, so a
        further pass scans each from its first window and no hit is counted twice."""
        for item_id in list(self.state):
            self.lost[item_id] = (len(self.state[item_id].seen), self.state.pop(item_id).n_windows)
        return {i: u for i, u in expected.items() if i not in self.finished}

    def close(self, expected: dict[str, str], passes: int = 1, retries: int = 0) -> None:
        """Every expected item gets exactly one row, even one whose windows never all arrived."""
        for item_id, uri in self.unfinished(expected).items():
            seen, n = self.lost.get(item_id, (0, 0))
            what = f"{n - seen} of its {n} windows" if n else "it"
            self._finish(item_id, _ItemState(1, uri), error=(
                f"lost: the worker processing {what} died in each of {passes} pass(es), {retries + 1} "
                "attempts each (a crash, an out-of-memory kill or a lost node; see the Ray logs)"))
        self.flush()


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


def run_scan(manifest: str | os.PathLike, output: str | os.PathLike, detectors: str | list[str] | None = None,
             config: ScanConfig | None = None, address: str | None = None, rescan: bool = False) -> ScanResult:
    """Scan every manifest item not already summarised in ``output``. Raises ManifestError,
    UnknownDetector or ConfigError (input refused) before any work starts."""
    import ray
    from mlflow.entities import Metric, Param

    from rayqa.config import ConfigError
    from rayqa.registry import SCAN_EXPERIMENT, ModelRegistry

    cfg = config or ScanConfig()
    names = parse_names(detectors)
    dets = build(names, cfg.detectors)  # checks parameter names up front
    for d in dets:
        if (cfg.decode.window_s / d.segment_s) % 1 > 1e-9:
            raise ConfigError(f"decode.window_s={cfg.decode.window_s:g} is not a multiple of {d.name}'s {d.segment_s:g} s segments")
    df = read_manifest(manifest)
    extra = passthrough_columns(df)
    out = OutputDir(output, passthrough_schema(df, extra))
    done = out.prepare(rescan)
    todo = df[~df["item_id"].isin(done)]

    ensure_ray(address)
    resources = ray.cluster_resources()
    use_gpu = resources.get("GPU", 0) > 0
    model_dets = [d for d in dets if d.pool == "model"]
    dsp_dets = [d for d in dets if d.pool != "model"]
    cfg.plan_pools([d.name for d in dsp_dets], [d.name for d in model_dets], resources.get("CPU", 0),
                   resources.get("GPU", 0), use_gpu)  # refuses a plan that cannot run, before any work

    registry = ModelRegistry()
    resolved = {d.name: registry.resolve(d.name) for d in model_dets}  # once per run
    for d in model_dets:
        d.verify(resolved[d.name])  # a damaged or misfit checkpoint is refused here, not in an actor
        d.model_name, d.model_version = resolved[d.name].name, resolved[d.name].version

    started = datetime.now(timezone.utc)
    exp_id = registry.experiment_id(SCAN_EXPERIMENT)
    mlrun = registry.client.create_run(exp_id, run_name=f"scan-{Path(output).name}",
                                       tags={"rayqa.version": __version__, "rayqa.output": str(out.root)})
    run_id = mlrun.info.run_id
    registry.client.log_batch(run_id, params=[
        Param(k, str(v)[:500]) for k, v in {
            "manifest": str(Path(manifest).resolve()), "detectors": ",".join(names),
            "window_s": cfg.decode.window_s, "video_backend": cfg.decode.video_backend, "rescan": rescan,
            "items_in_manifest": len(df), "items_to_scan": len(todo),
            **{f"model.{k}": v.uri for k, v in resolved.items()},
        }.items()])

    passthrough = {r["item_id"]: {c: r[c] for c in extra} for r in todo[["item_id"] + extra].to_dict("records")} if extra else {}
    collector = Collector(out, dets, run_id, passthrough, cfg.resources.commit_every_items)
    expected = dict(zip(todo["item_id"], todo["uri"]))
    status = "FINISHED"
    try:
        passes = scan_passes(todo, cfg, collector, expected, dsp_dets, model_dets, resolved, use_gpu, resources)
        collector.close(expected, passes, cfg.resources.max_task_retries)
    except BaseException:
        status = "KILLED"
        collector.flush()
        raise
    finally:
        finished = datetime.now(timezone.utc)
        all_items = out.read_items(columns=["status"]) if any(out.items_dir.glob("part-*.parquet")) else pd.DataFrame(columns=["status"])
        run = {
            "run_id": run_id, "started_at": started.isoformat(), "finished_at": finished.isoformat(),
            "rayqa_version": __version__, "git_commit": git_commit(),
            "manifest": str(Path(manifest).resolve()), "output": str(out.root),
            "detectors": [{"name": d.name, "model": d.model_name, "model_version": d.model_version} for d in dets],
            "items": {"total": len(df), "scanned_this_run": sum(collector.counts.values()), "skipped_done": len(done),
                      **{k: int(v) for k, v in all_items["status"].value_counts().items()}},
            "items_this_run": dict(collector.counts),
            "content_seconds_scanned": round(collector.content_s, 3),
            "findings_this_run_by_defect": dict(collector.by_defect),
            "stage_wall_seconds": collector.stage_s,
            "mlflow_tracking_uri": registry.tracking_uri, "status": status,
        }
        run_json = out.write_run(run)
        metrics = {"items_ok": collector.counts.get("ok", 0), "items_failed": collector.counts.get("failed", 0),
                   "items_skipped": len(done), "content_seconds": collector.content_s,
                   "wall_seconds": (finished - started).total_seconds(),
                   **{f"findings.{k}": v for k, v in collector.by_defect.items()}}
        ts = int(time.time() * 1000)
        registry.client.log_batch(run_id, metrics=[Metric(k, float(v), ts, 0) for k, v in metrics.items()])
        registry.client.log_artifact(run_id, str(run_json))
        registry.client.set_terminated(run_id, status=status)
    return ScanResult(run_id, out.root, dict(collector.counts), dict(collector.by_defect), len(done),
                      collector.content_s, run_json, dict(collector.stage_s))


def stage_seconds(ds) -> dict[str, float]:
    """Seconds of task/actor wall time per stage of a finished dataset (planning, decode, each
    detector pool by its detectors' names), from Ray Data's own stats; empty if this Ray does not
    offer them."""
    try:
        summary = ds._get_stats_summary()
    except Exception:  # a private API: timing is a report, never a reason to fail a scan
        return {}
    ops = []

    def walk(node) -> None:  # earlier stages live in the parents' summaries
        for parent in getattr(node, "parents", None) or []:
            walk(parent)
        ops.extend(getattr(node, "operators_stats", None) or [])

    walk(summary)
    pools = list(getattr(ds, "_rayqa_pools", []))
    out: dict[str, float] = {}
    for op in ops:
        if op.wall_time is None:
            continue
        name = op.operator_name
        if "DetectStage" in name and pools:
            name = "detect:" + "+".join(pools.pop(0))
        elif "decode_batch" in name:
            name = "decode"
        elif "plan_item" in name:
            name = "plan"
        elif "Repartition" in name:
            name = "split"
        out[name] = round(out.get(name, 0.0) + float(op.wall_time.sum), 3)
    return out


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
                for row in batch.to_dict("records"):
                    collector.add(row)
            for name, sec in stage_seconds(ds).items():
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
    plans and decodes exactly what the detectors need but runs none of them (the benchmarks'
    decode-only baseline; rows keep their decoded windows).
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
    actor_retries = {"max_restarts": -1, "max_task_retries": r.max_task_retries}
    # Ray 2.60 takes retry bounds only through **ray_remote_args, which it warns will go in 2.64.
    warnings.filterwarnings("ignore", message=".*ray_remote_args.* is deprecated", category=DeprecationWarning)
    items = todo[["item_id", "uri"]].to_dict("records")
    video_specs, audio_specs = input_specs(dsp_dets + model_dets)
    # Items per planning task: enough blocks to keep every CPU busy (4 per CPU), but no more than
    # needed: Ray keeps some bookkeeping per task on the driver after a dataset finishes
    # (measured: ~12 MiB per 1,000 one-item tasks, ~1 MiB at 16 items per task).
    per_block = 1 if isolated else max(1, min(r.plan_items_per_block,
                                              math.ceil(len(items) / (4 * max(1.0, resources.get("CPU", 1))))))
    ds = ray.data.from_items(items, override_num_blocks=max(1, math.ceil(len(items) / per_block)))
    ds = ds.flat_map(plan_item, fn_kwargs={"window_s": cfg.decode.window_s,
                                           "max_windows": cfg.decode.max_windows_per_item},
                     num_cpus=r.decode_num_cpus, **task_retries)
    # An item's windows leave the planner as one block; split it (streaming, no shuffle) so a long
    # item's windows are decoded by several tasks at once, on any node.
    decode_batch_windows = 1 if isolated else r.decode_batch_windows
    ds = ds.repartition(target_num_rows_per_block=1 if isolated else r.decode_task_windows)
    dsp_in_decode = run_detectors and bool(dsp_dets) and r.dsp_pool == "decode"
    dsp = {"names": [d.name for d in dsp_dets], "overrides": cfg.detectors, "drop_media": not model_dets}
    ds = ds.map_batches(decode_batch, fn_kwargs={"video_specs": video_specs, "audio_specs": audio_specs,
                                                 "backend": cfg.decode.video_backend,
                                                 "dsp": dsp if dsp_in_decode else None},
                        batch_size=decode_batch_windows, batch_format="pandas",
                        num_cpus=r.decode_num_cpus, **task_retries)
    for i, p in enumerate(pools):
        ds = ds.map_batches(
            DetectStage,
            fn_constructor_kwargs={"names": list(p.names), "overrides": cfg.detectors,
                                   "resolved": {n: resolved[n] for n in p.names if n in resolved},
                                   "drop_media": i == len(pools) - 1, "device": "cuda" if p.num_gpus else "cpu"},
            compute=ray.data.ActorPoolStrategy(min_size=p.min_size, max_size=p.max_size),
            num_cpus=p.num_cpus, num_gpus=p.num_gpus, batch_size=1 if isolated else p.batch_windows,
            batch_format="pandas", **actor_retries,
        )
    ds._rayqa_pools = [p.names for p in pools]  # names the detector stages in stage_seconds()
    return ds
