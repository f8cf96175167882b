"""The model registry seam: MLflow's ``rayqa-<detector>@champion``.

A learned detector never reads ``models/`` directly: the scan resolves the champion version once
per run (on the driver) and every actor downloads exactly that version. An empty registry is first
filled from the shipped weights in ``models/<detector>/`` (``rayqa models bootstrap``).

The tracking store is ``MLFLOW_TRACKING_URI`` when set, else an embedded SQLite store in rayqa's
home (:func:`rayqa.home.rayqa_home`: ``$RAYQA_HOME``, default ``~/.rayqa``).
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

from rayqa.home import rayqa_home  # noqa: F401  (re-exported: rayqa.train imports it from here)

CHAMPION = "champion"
PACKAGE_ROOT = Path(__file__).resolve().parent.parent
SCAN_EXPERIMENT = "rayqa-scans"


class RegistryError(RuntimeError):
    """A model that cannot be resolved, registered or promoted; the message says why."""


def tracking_uri() -> str:
    uri = os.environ.get("MLFLOW_TRACKING_URI")
    if uri:
        return uri
    return f"sqlite:///{rayqa_home() / 'mlflow.db'}"


def default_models_dir() -> Path:
    return Path(os.environ.get("RAYQA_MODELS_DIR") or PACKAGE_ROOT / "models")


def model_name(detector: str) -> str:
    return f"rayqa-{detector}"


# A resolved version's files travel with it (to actors and replicas) up to this size; larger ones
# are downloaded by each process that loads them.
CARRY_MAX_BYTES = 256 * 2**20


@dataclass(frozen=True)
class ResolvedModel:
    detector: str
    name: str
    version: str
    source: str  # the artifact URI the version points at
    tracking_uri: str
    # The version's files ((relative path, bytes), ...), read once where it was resolved
    # (:meth:`carried`); None: each process that loads it downloads them from the tracking store.
    files: tuple[tuple[str, bytes], ...] | None = field(default=None, repr=False, compare=False)

    @property
    def uri(self) -> str:
        return f"models:/{self.name}/{self.version}"

    def carried(self) -> ResolvedModel:
        """This version with its files downloaded here, once, so that they travel with it to every
        actor and replica (Ray's object store; any node) instead of each process importing MLflow and
        downloading the same files again: that was ~1.8 CPU-seconds of every learned actor's start
        on this machine, four actors a scan. Files over ``CARRY_MAX_BYTES`` in all stay behind."""
        if self.files is not None:
            return self
        with self.downloaded() as folder:
            paths = sorted(p for p in folder.rglob("*") if p.is_file())
            if sum(p.stat().st_size for p in paths) > CARRY_MAX_BYTES:
                return self
            return replace(self, files=tuple((p.relative_to(folder).as_posix(), p.read_bytes()) for p in paths))

    @contextmanager
    def downloaded(self) -> Iterator[Path]:
        """This version's files (:meth:`download`) in a temporary folder that is removed after the
        block: every load of a version (the plan's check, each process's) needs its files once."""
        with tempfile.TemporaryDirectory(prefix=self._temp_prefix, ignore_cleanup_errors=True) as tmp:
            yield self.download(tmp)

    @property
    def _temp_prefix(self) -> str:
        return f"rayqa-{self.detector}-v{self.version}-"

    def download(self, dst: str | os.PathLike | None = None) -> Path:
        """This exact version's files in ``dst`` (default: a new temporary folder, the caller's to
        remove; :meth:`downloaded` removes its own), on whichever node calls it: written from the
        files it carries, else fetched from the tracking store."""
        dst = Path(dst or tempfile.mkdtemp(prefix=self._temp_prefix))
        if self.files is not None:
            for rel, data in self.files:
                path = dst / rel
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)
            return dst
        import mlflow

        try:
            return Path(mlflow.artifacts.download_artifacts(artifact_uri=self.source, dst_path=str(dst),
                                                            tracking_uri=self.tracking_uri))
        except Exception as e:  # mlflow raises MlflowException, OSError, ...
            raise RegistryError(f"cannot download {self.uri} from {self.tracking_uri}: {e}") from e


class ModelRegistry:
    def __init__(self, uri: str | None = None, models_dir: str | os.PathLike | None = None):
        from mlflow.tracking import MlflowClient

        # Only the client is told the URI: mlflow.set_tracking_uri would also export it to the
        # environment, and every later ModelRegistry in the process would follow it.
        self.tracking_uri = uri or tracking_uri()
        self.models_dir = Path(models_dir) if models_dir else default_models_dir()
        self.client = MlflowClient(tracking_uri=self.tracking_uri, registry_uri=self.tracking_uri)

    # -- experiments ---------------------------------------------------------------------------
    def experiment_id(self, name: str) -> str:
        exp = self.client.get_experiment_by_name(name)
        if exp is not None:
            return exp.experiment_id
        location = None
        if self.tracking_uri.startswith("sqlite:"):
            # Keep artifacts beside the embedded store instead of in ./mlruns of whatever folder.
            location = (rayqa_home() / "mlartifacts" / name).as_uri()
        return self.client.create_experiment(name, artifact_location=location)

    # -- registry ------------------------------------------------------------------------------
    def shipped(self) -> dict[str, Path]:
        """Detectors with shipped weights: ``models/<detector>/model.json`` present."""
        if not self.models_dir.is_dir():
            return {}
        return {p.parent.name: p.parent for p in sorted(self.models_dir.glob("*/model.json"))}

    def register(self, detector: str, artifact_dir: str | os.PathLike, *, params: dict | None = None,
                 metrics: dict | None = None, tags: dict | None = None, alias: str | None = CHAMPION,
                 run_id: str | None = None) -> str:
        """Log ``artifact_dir`` in a run (a new one, or ``run_id``, e.g. the training run, which the
        caller has already given its params) and register it as a new version of ``rayqa-<detector>``."""
        from mlflow.entities import Metric, Param, RunTag
        from mlflow.exceptions import MlflowException

        name = model_name(detector)
        if run_id is None:
            run = self.client.create_run(self.experiment_id(f"rayqa-models-{detector}"), run_name=f"register-{detector}")
            run_id = run.info.run_id
        else:
            run = self.client.get_run(run_id)
        ts = int(time.time() * 1000)
        self.client.log_batch(
            run_id,
            params=[Param(k, str(v)[:500]) for k, v in (params or {}).items()],
            metrics=[Metric(k, float(v), ts, 0) for k, v in (metrics or {}).items()],
            tags=[RunTag(k, str(v)) for k, v in {"rayqa.detector": detector, **(tags or {})}.items()],
        )
        self.client.log_artifacts(run_id, str(artifact_dir), artifact_path="model")
        self.client.set_terminated(run_id)
        source = f"{run.info.artifact_uri}/model"
        try:
            self.client.get_registered_model(name)
        except MlflowException:
            self.client.create_registered_model(name, description=f"rayqa {detector} detector weights")
        mv = self.client.create_model_version(name, source=source, run_id=run_id, tags=tags or {})
        if alias:
            self.client.set_registered_model_alias(name, alias, mv.version)
        return str(mv.version)

    def register_trained(self, detector: str, out: str | os.PathLike, run_id: str, metrics: dict, step: int,
                         data_sha256: str, promote: bool = False, log=print) -> str:
        """What every ``rayqa train`` ends with: the final metrics into the training run, its model
        folder registered as a new version, made @champion when asked or when there is none."""
        import math

        from mlflow.entities import Metric

        ts = int(time.time() * 1000)
        self.client.log_batch(run_id, metrics=[Metric(k, float(v), ts, step) for k, v in metrics.items()
                                               if not math.isnan(v)])
        version = self.register(detector, out, run_id=run_id, alias=None,
                                tags={"rayqa.source": "train", "rayqa.data_sha256": data_sha256})
        if promote or self._champion(detector) is None:
            self.promote(detector, version)
        champion = str(self._champion(detector).version) == str(version)
        log(f"registered {model_name(detector)} version {version}{' as @champion' if champion else ''}")
        return version

    def bootstrap(self, detectors: list[str] | None = None) -> list[tuple[str, str]]:
        """Register shipped weights for every detector whose registry entry is missing or empty."""
        done = []
        for detector, folder in self.shipped().items():
            if detectors is not None and detector not in detectors:
                continue
            if self._champion(detector) is not None:
                continue
            meta = json.loads((folder / "model.json").read_text())
            version = self.register(
                detector, folder,
                params={k: v for k, v in meta.items() if isinstance(v, (str, int, float))},
                metrics=meta.get("metrics") or {},
                tags={"rayqa.source": "shipped", "rayqa.shipped_sha256": str(meta.get("weights_sha256", ""))},
            )
            done.append((model_name(detector), version))
        return done

    def _champion(self, detector: str):
        from mlflow.exceptions import MlflowException

        try:
            return self.client.get_model_version_by_alias(model_name(detector), CHAMPION)
        except MlflowException:
            return None

    def resolve(self, detector: str, bootstrap: bool = True) -> ResolvedModel:
        """The champion version of ``rayqa-<detector>``; fills an empty registry from ``models/`` first."""
        mv = self._champion(detector)
        if mv is None and bootstrap:
            self.bootstrap([detector])
            mv = self._champion(detector)
        if mv is None:
            raise RegistryError(
                f"no model {model_name(detector)}@{CHAMPION} in {self.tracking_uri}, and no shipped weights in "
                f"{self.models_dir / detector}; train one with `rayqa train {detector}` or register one"
            )
        return ResolvedModel(detector, model_name(detector), str(mv.version), mv.source, self.tracking_uri)

    def list(self) -> list[dict]:
        """Every version of every ``rayqa-*`` model: name, version, aliases, source, run_id, and
        ``registered_at`` (ISO 8601 UTC), ``origin`` (``train`` / ``shipped`` / ``user``, from the
        version's ``rayqa.source`` tag), ``experimental`` (the detector's flag; None for a name no
        detector has) and ``metrics`` (its run's final ``val_*`` metrics, else ``metric.*`` tags)."""
        from rayqa.detectors import REGISTRY

        rows = []
        for rm in self.client.search_registered_models():
            if not rm.name.startswith("rayqa-"):
                continue
            detector = rm.name.removeprefix("rayqa-")
            versions = self.client.search_model_versions(f"name='{rm.name}'")
            aliases = dict(getattr(rm, "aliases", {}) or {})
            for mv in sorted(versions, key=lambda m: int(m.version)):
                tags = dict(mv.tags or {})
                rows.append({
                    "name": rm.name, "version": str(mv.version),
                    "aliases": [a for a, v in aliases.items() if str(v) == str(mv.version)],
                    "source": mv.source, "run_id": mv.run_id,
                    "registered_at": _utc(mv.creation_timestamp),
                    "origin": tags.get("rayqa.source"),
                    "experimental": REGISTRY[detector].experimental if detector in REGISTRY else None,
                    "metrics": self._version_metrics(mv.run_id, tags),
                })
        return rows

    def _version_metrics(self, run_id: str | None, tags: dict) -> dict:
        metrics = {}
        if run_id:
            from mlflow.exceptions import MlflowException

            try:
                metrics = dict(self.client.get_run(run_id).data.metrics)
            except MlflowException:
                metrics = {}
        # Evaluation metrics only (training losses are logged per step in the same run).
        metrics = {k: v for k, v in metrics.items() if not k.startswith(("train_", "loss"))}
        for k, v in tags.items():
            if k.startswith(("metric.", "rayqa.metric.")):
                try:
                    metrics.setdefault(k.split("metric.", 1)[1], float(v))
                except ValueError:
                    pass
        return {k: round(float(v), 4) for k, v in sorted(metrics.items())}

    def model_names(self) -> list[str]:
        return sorted(rm.name for rm in self.client.search_registered_models() if rm.name.startswith("rayqa-"))

    def promote(self, name: str, version: str | int) -> None:
        """Point ``name@champion`` at ``version``; a wrong name or version is refused naming the
        models (or versions) that exist."""
        import difflib

        from mlflow.exceptions import MlflowException

        if not name.startswith("rayqa-"):
            name = model_name(name)
        try:
            self.client.get_registered_model(name)
        except MlflowException:
            known = self.model_names()
            if not known:
                raise RegistryError(f"no model {name} in {self.tracking_uri}: the registry is empty; "
                                    "`rayqa models bootstrap` registers the shipped weights") from None
            close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
            hint = f"did you mean {close[0]}? " if close else ""
            raise RegistryError(f"no model {name} in {self.tracking_uri}; {hint}registered: {', '.join(known)}") from None
        versions = sorted((str(mv.version) for mv in self.client.search_model_versions(f"name='{name}'")), key=int)
        if str(version) not in versions:
            raise RegistryError(f"no version {version} of {name} in {self.tracking_uri}; it has version"
                                f"{'s' if len(versions) != 1 else ''} {', '.join(versions) or 'none'}")
        self.client.set_registered_model_alias(name, CHAMPION, str(version))


def _utc(ms: int | None) -> str | None:
    if not ms:
        return None
    from datetime import datetime, timezone

    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
