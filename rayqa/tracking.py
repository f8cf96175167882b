"""Runs in MLflow: a scan or a training is one run (parameters, metrics, artifacts, status).

Shared by the scan and by ``rayqa train``; the tracking store is the registry's
(``MLFLOW_TRACKING_URI``, or the embedded store under the rayqa home).
"""

from __future__ import annotations

import math
import os
import time
import subprocess
from pathlib import Path

from rayqa.registry import ModelRegistry


def git_commit() -> str | None:
    root = Path(__file__).resolve().parent.parent
    try:
        out = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5)
        return out.stdout.strip() or None if out.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None


class TrackedRun:
    def __init__(self, experiment: str, run_name: str, tags: dict | None = None, registry: ModelRegistry | None = None):
        self.registry = registry or ModelRegistry()
        self.client = self.registry.client
        exp_id = self.registry.experiment_id(experiment)
        self.run_id = self.client.create_run(exp_id, run_name=run_name, tags=tags or {}).info.run_id

    @property
    def tracking_uri(self) -> str:
        return self.registry.tracking_uri

    def log_params(self, params: dict) -> None:
        from mlflow.entities import Param

        self.client.log_batch(self.run_id, params=[Param(k, str(v)[:500]) for k, v in params.items()])

    def log_metrics(self, metrics: dict, step: int = 0) -> None:
        from mlflow.entities import Metric

        ts = int(time.time() * 1000)
        self.client.log_batch(self.run_id, metrics=[Metric(k, float(v), ts, step) for k, v in metrics.items()
                                                    if v is not None and not math.isnan(float(v))])

    def log_artifact(self, path: str | os.PathLike) -> None:
        self.client.log_artifact(self.run_id, str(path))

    def end(self, status: str = "FINISHED") -> None:
        self.client.set_terminated(self.run_id, status=status)
