"""``rayqa serve``: the detectors over HTTP, on Ray Serve.

    HTTP ──▶ Api (FastAPI ingress: auth, limits, upload or allowed uri, probe + decode, the
                  signal-processing detectors on the decoded windows, merge into findings)
               └──▶ one LearnedDetector deployment per learned detector: @serve.batch gathers the
                    windows of concurrent requests into shared forward passes (GPU when present)

Every piece is the scan's own: the Ray-free item runner (:mod:`rayqa.runner`) plans the file,
decodes it a batch of windows at a time (so a long file is held a batch at a time, as in the scan),
runs the signal-processing detectors on each batch and sends each learned detector its part of the
batch; hits merge into the same rows (:mod:`rayqa.columns`) a scan writes. Model versions are
resolved from the registry when the app is deployed and written into every response; deploying again after ``rayqa models promote`` rolls the learned deployments over
to the new version while requests in flight finish on the old replicas.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import os
import re
import shutil
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse
from ray import serve

from rayqa import __version__
from rayqa.columns import to_json

API = FastAPI(title="rayqa", version=__version__,
              description="Audiovisual defect detectors over HTTP: POST a file (or an allowed uri) to /v1/score.")
MAX_JSON_BYTES = 1 << 20


@API.exception_handler(Exception)
async def _internal_error(request: Request, exc: Exception) -> JSONResponse:
    """Every 5xx says why in JSON, as every 4xx does (the server's paths left out)."""
    import traceback

    traceback.print_exception(exc)  # the replica's log keeps the whole story
    return JSONResponse({"detail": f"internal error: {type(exc).__name__}: {str(exc).splitlines()[0][:300] if str(exc) else ''}"},
                        status_code=500)


class _TooLarge(Exception):
    pass


def _safe_name(name: str | None) -> str:
    base = Path(name or "upload").name
    return re.sub(r"[^A-Za-z0-9._-]", "_", base)[:200] or "upload"


def _flag(value: str | None) -> bool:
    """A query flag: ``?evidence=true`` (or 1 / yes); anything else is off."""
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def _public(message: str, path: Path, item_id: str) -> str:
    """A media error as the client may see it: the server's own paths replaced by the item's name."""
    for secret in sorted({str(path), str(path.parent)}, key=len, reverse=True):
        message = message.replace(secret, item_id if secret == str(path) else "<upload>")
    return message


@serve.deployment
class LearnedDetector:
    """One learned detector's replica: weights of the version the deployment was given."""

    def __init__(self, name: str, params: dict, resolved, max_batch_size: int, batch_wait_timeout_s: float,
                 use_gpu: bool):
        from rayqa.detectors import build
        from rayqa.loading import load_detector

        self.det = load_detector(build([name], {name: params})[0], resolved, device="cuda" if use_gpu else "cpu")
        self.score.set_max_batch_size(max_batch_size)
        self.score.set_batch_wait_timeout_s(batch_wait_timeout_s)

    def info(self) -> dict:
        return {"model": self.det.model_name, "version": self.det.model_version, "device": self.det.device}

    @serve.batch(max_batch_size=16, batch_wait_timeout_s=0.02, batch_size_fn=lambda reqs: sum(len(r[0]) for r in reqs))
    async def score(self, requests: list[tuple[list, Any]]) -> list[dict]:
        """Each request is one ``(windows, info)`` pair, at most ``max_batch_size`` windows (the
        ingress splits longer files); all windows of all requests go through one call."""
        flat = [(w, info) for windows, info in requests for w in windows]
        started = time.perf_counter()
        hits = self.det(flat)
        ms = (time.perf_counter() - started) * 1000
        out, at = [], 0
        for windows, _ in requests:
            out.append({"hits": hits[at:at + len(windows)], "ms": ms, "batch_windows": len(flat),
                        "model": self.det.model_name, "version": self.det.model_version})
            at += len(windows)
        return out


@serve.deployment
@serve.ingress(API)
class Api:
    def __init__(self, learned: dict, settings: dict):
        from rayqa.detectors import REGISTRY, build

        self.learned = learned  # detector name → DeploymentHandle
        self.s = settings
        self.detectors = {d.name: d for d in build(list(REGISTRY), settings["overrides"])}
        for name, info in settings["learned_versions"].items():
            self.detectors[name].model_name, self.detectors[name].model_version = info["model"], info["version"]
        self.tmp = Path(tempfile.mkdtemp(prefix="rayqa-serve-"))

    def __del__(self):
        """Serve calls this as the replica stops (a redeploy, ``serve.shutdown``): the folder its
        uploads went through goes with it (each request's own folder is removed as it ends)."""
        tmp = getattr(self, "tmp", None)
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)

    # -- helpers -------------------------------------------------------------------------------
    def _auth(self, request: Request) -> None:
        token = self.s.get("token")
        if not token:
            return
        given = request.headers.get("authorization", "")
        if not (given.startswith("Bearer ") and hmac.compare_digest(given[7:].encode(), token.encode())):
            raise HTTPException(401, "missing or wrong bearer token", headers={"WWW-Authenticate": "Bearer"})

    def _names(self, detectors) -> list[str]:
        from rayqa.detectors import UnknownDetector, parse_names

        if detectors is not None and not isinstance(detectors, (str, list)):
            raise HTTPException(400, "detectors must be a list of names or a comma-separated string")
        if isinstance(detectors, list) and not all(isinstance(n, str) for n in detectors):
            raise HTTPException(400, "detectors must be a list of names")
        served = self.s["served"]
        if detectors is None or detectors == "" or detectors == []:
            return list(served)
        try:
            names = parse_names(detectors)
        except UnknownDetector as e:
            raise HTTPException(400, str(e)) from None
        missing = [n for n in names if n not in served]
        if missing:
            raise HTTPException(400, f"detector(s) {', '.join(missing)} not served here; served: {', '.join(served)}")
        return names

    def _resolve_uri(self, uri: Any) -> Path:
        if not isinstance(uri, str) or not uri.strip():
            raise HTTPException(400, "uri must be a non-empty string")
        if "://" in uri:
            if not uri.startswith("file://"):
                raise HTTPException(403, "only local files under the allowed roots can be scored by uri")
            uri = uri[len("file://"):]
        roots = [Path(r).resolve() for r in self.s["allowed_roots"]]
        if not roots:
            raise HTTPException(403, "scoring by uri is off: no allowed roots are configured (RAYQA_ALLOWED_ROOTS)")
        path = Path(uri)
        if not path.is_absolute():
            raise HTTPException(403, "uri must be an absolute path under an allowed root")
        path = path.resolve()  # symlinks and ../ resolved before the check
        if not any(path == r or path.is_relative_to(r) for r in roots):
            raise HTTPException(403, "uri is outside the allowed roots")
        if not path.is_file():
            raise HTTPException(404, f"no such file under the allowed roots: {uri}")
        return path

    async def _read_upload(self, request: Request, folder: Path) -> tuple[Path, str, Any, Path | None]:
        limit = int(self.s["max_upload_mb"] * (1 << 20))
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > limit + 65536:
            raise HTTPException(413, f"upload larger than the limit of {self.s['max_upload_mb']:g} MB")
        seen = 0

        async def capped():
            nonlocal seen
            msg = await request.receive()
            if msg.get("type") == "http.request":
                seen += len(msg.get("body", b""))
                if seen > limit + 65536:
                    raise _TooLarge()
            return msg

        try:
            form = await Request(request.scope, capped).form(max_files=2, max_fields=8)
        except _TooLarge:
            raise HTTPException(413, f"upload larger than the limit of {self.s['max_upload_mb']:g} MB") from None
        except HTTPException:
            raise
        except Exception as e:
            raise HTTPException(400, f"malformed multipart body: {e}") from None
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            raise HTTPException(400, "multipart body needs the media in a field named 'file'")
        name = _safe_name(upload.filename)
        path = await self._save(upload, folder / name, limit, "upload")
        captions = form.get("captions")
        captions_path = None
        if captions is not None and not isinstance(captions, str):
            # Kept whatever it holds: a bad caption file is a caption finding, not a refused request.
            captions_path = await self._save(captions, folder / ("captions-" + _safe_name(captions.filename or "captions.srt")),
                                             limit, "caption file")
        elif isinstance(captions, str) and captions:
            raise HTTPException(400, "send the caption sidecar as a file in the field 'captions', not as text")
        return path, upload.filename or name, form.get("detectors"), captions_path

    async def _save(self, upload, path: Path, limit: int, what: str) -> Path:
        """An uploaded part to ``path``, refused (413) as soon as it passes ``limit`` bytes."""
        size = 0
        with open(path, "wb") as out:
            while chunk := await upload.read(1 << 20):
                size += len(chunk)
                if size > limit:
                    raise HTTPException(413, f"{what} larger than the limit of {self.s['max_upload_mb']:g} MB")
                out.write(chunk)
        return path

    # -- routes --------------------------------------------------------------------------------
    @API.get("/healthz")
    def healthz(self) -> dict:
        return {"status": "ok", "version": __version__}

    @API.get("/v1/models")
    async def models(self, request: Request) -> dict:
        self._auth(request)
        out = {}
        for name in self.s["served"]:
            det = self.detectors[name]
            entry = {"defects": list(det.defects), "model": det.model_name, "version": det.model_version,
                     "kind": "learned" if det.pool == "model" else "dsp"}
            if name in self.learned:
                entry.update(await self.learned[name].info.remote())
            out[name] = entry
        return {"detectors": out}

    @API.post("/v1/score")
    async def score(self, request: Request):
        self._auth(request)
        started = time.perf_counter()
        folder = Path(tempfile.mkdtemp(dir=self.tmp))
        try:
            ctype = request.headers.get("content-type", "")
            if ctype.startswith("multipart/form-data"):
                path, item_id, detectors, captions_path = await self._read_upload(request, folder)
                uri = item_id
            elif ctype.startswith("application/json"):
                body = await request.body()
                if len(body) > MAX_JSON_BYTES:
                    raise HTTPException(413, "JSON body too large")
                try:
                    data = json.loads(body)
                except ValueError:
                    raise HTTPException(400, "body is not valid JSON") from None
                if not isinstance(data, dict) or "uri" not in data:
                    raise HTTPException(400, 'JSON body must be {"uri": "...", "detectors": [...]}')
                path = self._resolve_uri(data["uri"])
                item_id = uri = data["uri"]
                detectors = data.get("detectors")
                captions_path = self._resolve_uri(data["captions_uri"]) if data.get("captions_uri") else None
            else:
                raise HTTPException(400, "send multipart/form-data with a 'file' field, or JSON with a 'uri'")
            names = self._names(detectors)
            captions_label = (data.get("captions_uri") if ctype.startswith("application/json")
                              else captions_path.name.removeprefix("captions-") if captions_path else None)
            result = await self._score(path, item_id, uri, names, started, captions_path, captions_label)
            if _flag(request.query_params.get("evidence")):
                # Cut from the media while it is still here (an upload is deleted after the answer).
                from rayqa.evidence import item_evidence

                t = time.perf_counter()
                result["evidence"] = await asyncio.to_thread(item_evidence, str(path), result["findings"],
                                                             result["item"].get("duration_s"))
                result["timing_ms"]["evidence"] = round((time.perf_counter() - t) * 1000, 1)
            return JSONResponse(result)
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    async def _score(self, path: Path, item_id: str, uri: str, names: list[str], started: float,
                     captions_path: Path | None = None, captions_label: str | None = None) -> dict:
        from rayqa import runner

        dets = [self.detectors[n] for n in names]
        p = await asyncio.to_thread(runner.plan, item_id, str(path), self.s["window_s"], self.s["max_windows"],
                                    str(captions_path) if captions_path else None)
        if p.error:
            raise HTTPException(422, f"cannot score this media: {_public(p.error, path, item_id)}")
        limit = self.s.get("max_duration_s") or 0
        if limit and p.info.duration_s > limit:
            raise HTTPException(413, f"media is {p.info.duration_s:.1f} s long, over this service's limit of {limit:g} s")
        for _ in range(3):
            scored = await self._score_pass(p, dets, item_id, uri, path, started, captions_label)
            if scored is not None:
                return scored
            # A rollover landed between this file's batches: score it again, all on one version.
        raise HTTPException(503, "model version kept changing while scoring; retry", headers={"Retry-After": "1"})

    async def _score_pass(self, p, dets: list, item_id: str, uri: str, path: Path, started: float,
                          captions_label: str | None = None) -> dict | None:
        """One pass over the file; None when a learned detector's version changed part-way."""
        from rayqa import runner

        info = p.info
        local = [d for d in dets if d.pool != "model"]
        learned = [d for d in dets if d.pool == "model" and d.applies_to(info)]
        video_specs, audio_specs = runner.input_specs(dets)
        timing = {"decode": 0.0, **{d.name: 0.0 for d in dets if d.pool != "model" or d in learned}}
        versions: dict[str, set] = {d.name: set() for d in learned}
        hits: list = []
        chunk = self.s["max_batch_windows"]
        # One batch of windows at a time: decode, the local detectors, then every learned detector's
        # replica on its part of the batch; the windows are dropped before the next batch.
        batches = runner.decode_batches(p, video_specs, audio_specs, chunk, self.s["backend"])
        while True:
            t = time.perf_counter()
            nxt = await asyncio.to_thread(next, batches, None)
            timing["decode"] += (time.perf_counter() - t) * 1000
            if nxt is None:
                break
            at, windows = nxt
            if isinstance(windows, str):
                raise HTTPException(422, f"cannot score this media: {_public(windows, path, item_id)}")
            indices = list(range(at, at + len(windows)))
            if local:
                per_window, seconds = await asyncio.to_thread(runner.detect, local, windows, indices, info)
                for name, sec in seconds.items():
                    timing[name] += sec * 1000
                failed = next((r for r in per_window if isinstance(r, str)), None)
                if failed:
                    raise HTTPException(500, failed)
                hits.extend(h for r in per_window for h in r)

            async def remote(det):
                t = time.perf_counter()
                res = await self.learned[det.name].score.remote(([runner.only(w, det) for w in windows], info))
                versions[det.name].add((res["model"], res["version"]))
                timing[det.name] += (time.perf_counter() - t) * 1000
                return runner.detect_one(det, windows, indices, info, call=lambda _batch, hits=res["hits"]: hits)

            for per_window in await asyncio.gather(*[remote(d) for d in learned]):
                failed = next((r for r in per_window if isinstance(r, str)), None)
                if failed:
                    raise HTTPException(500, failed)
                hits.extend(h for r in per_window for h in r)
            del windows
        if any(len(v) > 1 for v in versions.values()):
            return None
        used = {n: next(iter(v)) for n, v in versions.items() if v}
        models = {d.name: dict(zip(("model", "version"), used.get(d.name, (d.model_name, d.model_version))))
                  for d in dets}
        run_id = f"serve-{uuid.uuid4().hex[:12]}"
        wall = time.perf_counter() - started
        result = runner.finish(run_id, item_id, uri, info, None, hits, {d.name: d for d in dets}, wall,
                               captions_uri=captions_label, versions=used)
        timing = {k: round(v, 1) for k, v in timing.items()}
        timing["total"] = round(wall * 1000, 1)
        return {"item": to_json(result.summary), "findings": [to_json(f) for f in result.findings], "models": models,
                "timing_ms": timing}


# ---------------------------------------------------------------------------------------------
# Deploying


def settings_from_env(cfg) -> dict:
    roots = [r for r in os.environ.get("RAYQA_ALLOWED_ROOTS", "").split(":") if r]
    try:
        max_mb = float(os.environ.get("RAYQA_MAX_UPLOAD_MB", cfg.serve.max_upload_mb))
    except ValueError:
        from rayqa.config import ConfigError

        raise ConfigError("RAYQA_MAX_UPLOAD_MB must be a number of megabytes") from None
    try:
        max_duration_s = float(os.environ.get("RAYQA_MAX_DURATION_S") or 0)
    except ValueError:
        from rayqa.config import ConfigError

        raise ConfigError("RAYQA_MAX_DURATION_S must be a number of seconds (0: no limit)") from None
    return {"token": os.environ.get("RAYQA_API_TOKEN") or None, "allowed_roots": roots, "max_upload_mb": max_mb,
            "max_duration_s": max_duration_s}


def build_app(cfg=None, settings: dict | None = None, registry=None, detectors: str | list[str] | None = None):
    """The Serve application for ``detectors`` (default: all): resolves each learned detector's
    champion once, checks it loads, and binds the deployments with resources from ``cfg.serve``."""
    import ray

    from rayqa.config import ScanConfig
    from rayqa.detectors import REGISTRY, build, parse_names
    from rayqa.loading import verify
    from rayqa.registry import ModelRegistry

    served = parse_names(detectors)
    cfg = cfg or ScanConfig()
    s = cfg.serve
    settings = {**settings_from_env(cfg), **(settings or {})}
    gpus = ray.cluster_resources().get("GPU", 0) if ray.is_initialized() else 0
    learned_names = [n for n in served if REGISTRY[n].pool == "model"]
    cfg.check_serve_fits(ray.cluster_resources().get("CPU", 0) if ray.is_initialized() else 0, len(learned_names))
    reg = registry or ModelRegistry()
    learned, versions = {}, {}
    for det in build(learned_names, cfg.detectors):
        resolved = reg.resolve(det.name).carried()  # the files travel with the deployment: no MLflow in replicas
        verify(det, resolved)
        versions[det.name] = {"model": resolved.name, "version": resolved.version}
        learned[det.name] = LearnedDetector.options(
            name=f"detector-{det.name}", num_replicas=s.model_replicas, max_ongoing_requests=s.max_ongoing_requests,
            ray_actor_options={"num_cpus": s.model_num_cpus, "num_gpus": s.model_num_gpus if gpus else 0},
        ).bind(det.name, cfg.detectors.get(det.name, {}), resolved, s.max_batch_windows, s.batch_wait_timeout_s,
               bool(gpus))
    return Api.options(num_replicas=s.ingress_replicas, max_ongoing_requests=s.max_ongoing_requests,
                       ray_actor_options={"num_cpus": s.ingress_num_cpus}).bind(learned, {
        **settings, "served": served, "overrides": cfg.detectors, "learned_versions": versions, "window_s": cfg.decode.window_s,
        "max_windows": cfg.decode.max_windows_per_item, "backend": cfg.decode.video_backend,
        "max_batch_windows": s.max_batch_windows})


def deploy(cfg=None, host: str = "127.0.0.1", port: int = 8000, settings: dict | None = None, registry=None,
           detectors: str | list[str] | None = None):
    """Start (or update) the app on the connected Ray cluster; returns its HTTP base URL."""
    app = build_app(cfg, settings, registry, detectors)  # refuses before anything starts
    serve.start(http_options={"host": host, "port": port})
    serve.run(app, name="rayqa", route_prefix="/")
    return f"http://{host}:{port}"
