"""The cluster configs in the repo are valid for the tools that read them and agree with the scan.

`cluster.yaml` is checked against Ray's own cluster-launcher schema (after Ray fills its defaults,
as `ray up` does); the KubeRay RayJob's entrypoint is parsed by rayqa's own command line; the scan
config both use plans pools that fit the node shapes they declare.
"""

import copy
import shlex
import tomllib
from pathlib import Path

import pytest
import ray
import yaml

from rayqa.cli import build_parser
from rayqa.config import ScanConfig

REPO = Path(__file__).resolve().parent.parent
LEARNED = ["block_corruption", "audio_artifacts"]


@pytest.fixture(scope="module")
def launcher():
    return yaml.safe_load((REPO / "cluster.yaml").read_text())


@pytest.fixture(scope="module")
def rayjob():
    return yaml.safe_load((REPO / "deploy" / "rayjob.yaml").read_text())


def test_cluster_yaml_passes_rays_schema(launcher):
    from ray.autoscaler._private.util import prepare_config, validate_config

    validate_config(prepare_config(copy.deepcopy(launcher)))


def test_cluster_yaml_has_head_cpu_decode_and_gpu_detector_workers(launcher):
    types = launcher["available_node_types"]
    head = types[launcher["head_node_type"]]
    assert head["resources"] == {"CPU": 0}  # no work lands on the driver's node
    workers = {k: v for k, v in types.items() if k != launcher["head_node_type"]}
    cpu = [v for v in workers.values() if not v["resources"].get("GPU")]
    gpu = [v for v in workers.values() if v["resources"].get("GPU", 0) >= 1]
    assert cpu and gpu
    for v in workers.values():
        assert 0 <= v["min_workers"] <= v["max_workers"] <= launcher["max_workers"]
    assert sum(v["max_workers"] for v in workers.values()) <= launcher["max_workers"]
    # The nodes get this checkout and install it from its own pyproject; Ray runs with token auth.
    assert launcher["file_mounts"]["/home/ubuntu/rayqa"] == "."
    assert any("pip install" in c and "-e ~/rayqa" in c for c in launcher["setup_commands"])
    for cmd in launcher["head_start_ray_commands"][1:] + launcher["worker_start_ray_commands"][1:]:
        assert "RAY_AUTH_MODE=token" in cmd


def test_rayjob_runs_the_catalogue_scan_with_this_ray(rayjob):
    assert rayjob["apiVersion"] == "ray.io/v1" and rayjob["kind"] == "RayJob"
    spec = rayjob["spec"]
    assert spec["rayClusterSpec"]["rayVersion"] == ray.__version__
    pinned = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    assert f"ray[data,serve]=={ray.__version__}" in pinned
    argv = shlex.split(spec["entrypoint"])
    assert argv[:2] == ["python", "/app/jobs/catalogue_scan.py"]
    args = build_parser().parse_args(["scan", *argv[2:]])  # rayqa's own parser accepts them
    config = Path(args.config.replace("/app/", str(REPO) + "/"))
    assert config.is_file()
    ScanConfig.load(config)
    groups = spec["rayClusterSpec"]["workerGroupSpecs"]
    gpus = [g for g in groups if "nvidia.com/gpu" in g["template"]["spec"]["containers"][0]["resources"]["limits"]]
    assert gpus and len(gpus) < len(groups)
    for g in groups:
        assert 0 <= g["minReplicas"] <= g["replicas"] <= g["maxReplicas"]
    dockerfile = (REPO / "deploy" / "Dockerfile").read_text()
    for needed in ("rayqa", "jobs", "models", "deploy"):
        assert f"COPY {needed} {needed}" in dockerfile


@pytest.mark.parametrize("shape", ["gpu", "cpu_only"])
def test_cluster_scan_config_fits_the_declared_nodes(launcher, shape):
    """deploy/scan-gpu.toml on the smallest cluster cluster.yaml can be (one decode node, plus one
    GPU node) and on a CPU-only one (GPU pools fall back to CPU)."""
    cfg = ScanConfig.load(REPO / "deploy" / "scan-gpu.toml")
    types = launcher["available_node_types"]
    cpus = types["cpu_decode"]["resources"]["CPU"] + (types["gpu_detect"]["resources"]["CPU"] if shape == "gpu" else 0)
    gpus = types["gpu_detect"]["resources"]["GPU"] if shape == "gpu" else 0
    pools = cfg.plan_pools(["black_frames"], LEARNED, cpus, gpus, use_gpu=bool(gpus))
    assert [p.names[0] for p in pools] == LEARNED
    assert all((p.num_gpus > 0) == bool(gpus) for p in pools)
    assert all(p.max_size >= p.min_size for p in pools)
