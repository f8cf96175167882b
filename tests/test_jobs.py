"""The Ray job entry point: alone with an embedded Ray, and through `ray job submit` to a real cluster."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pandas as pd
import pytest

from conftest import REPO, write_manifest

BIN = Path(sys.executable).parent


def _env(tmp_path):
    env = dict(os.environ)
    env.pop("RAY_ADDRESS", None)
    env["PATH"] = f"{BIN}:{env.get('PATH', '')}"
    env["RAYQA_HOME"] = str(tmp_path / "home")
    return env


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def manifest(clips, tmp_path):
    return write_manifest(tmp_path / "m.csv", [{"item_id": "black", "uri": str(clips["black"])},
                                               {"item_id": "missing", "uri": str(tmp_path / "gone.mp4")}])


def _check_output(out):
    items = pd.read_parquet(out / "items").set_index("item_id")
    assert items.loc["black", "status"] == "ok" and items.loc["missing", "status"] == "failed"
    findings = pd.read_parquet(out / "findings")
    assert list(findings["defect"]) == ["black_frames"]
    assert json.loads((out / "run.json").read_text())["items"]["total"] == 2


@pytest.mark.slow
def test_job_script_without_a_cluster(manifest, tmp_path):
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "jobs/catalogue_scan.py", "--manifest", str(manifest), "--output", str(out)],
                          cwd=REPO, env=_env(tmp_path), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "2 items (1 ok, 1 failed)" in proc.stdout
    # One progress line for a person (a plain line in a log), none of Ray Data's own.
    assert "scan: 2/2 items (1 failed)" in proc.stderr
    assert "Running Dataset" not in proc.stdout + proc.stderr and "Execution finished" not in proc.stdout + proc.stderr
    _check_output(out)


@pytest.mark.slow
def test_demo_prints_the_table_and_the_paths_only(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "rayqa.cli", "demo", "--workdir", str(tmp_path / "demo")],
                          cwd=REPO, env=_env(tmp_path), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    assert any(line.startswith("item") and "expected" in line for line in lines)
    assert any("black_frames 3.0-6.0" in line for line in lines)
    report = next(line for line in lines if line.startswith("report: ")).split()[1]
    page = Path(report).read_text()
    assert Path(report).stat().st_size > 10_000 and "data:image/" in page and "black_frames" in page
    assert "Running Dataset" not in proc.stdout + proc.stderr and "logging_progress" not in proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.slow
def test_ray_job_submit_to_a_started_cluster(manifest, tmp_path):
    env = _env(tmp_path)
    gcs_port, dash_port, agent_port = _free_port(), _free_port(), _free_port()
    # --block keeps the cluster's lifetime tied to this process, so stopping it never touches
    # another Ray on the machine (`ray stop` would stop them all).
    head = subprocess.Popen(
        [str(BIN / "ray"), "start", "--head", "--block", "--node-ip-address=127.0.0.1", f"--port={gcs_port}",
         "--num-cpus=2", "--dashboard-host=127.0.0.1", f"--dashboard-port={dash_port}",
         # The session's own local Ray already holds the default agent port (52365); without a
         # port of its own this cluster's job agent never comes up ("No available agent").
         f"--dashboard-agent-listen-port={agent_port}", "--disable-usage-stats"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        api = f"http://127.0.0.1:{dash_port}"
        deadline = time.time() + 120
        while True:
            try:
                urllib.request.urlopen(api + "/api/version", timeout=2)
                break
            except urllib.error.HTTPError:
                break  # the server answers (401 without the token): it is up
            except OSError:
                if time.time() > deadline or head.poll() is not None:
                    raise AssertionError("ray head did not start")
                time.sleep(1)
        out = tmp_path / "out"
        env_job = {**env, "RAY_API_SERVER_ADDRESS": api, "RAY_AUTH_MODE": "token"}
        runtime_env = json.dumps({"env_vars": {"RAYQA_HOME": str(tmp_path / "job-home")}})
        agent_deadline = time.time() + 120  # on a fresh venv the agent's first imports are slow
        while True:
            proc = subprocess.run(
                [str(BIN / "ray"), "job", "submit", "--working-dir", str(REPO), "--runtime-env-json", runtime_env,
                 "--", "python", "jobs/catalogue_scan.py", "--manifest", str(manifest), "--output", str(out)],
                cwd=REPO, env=env_job, capture_output=True, text=True, timeout=400)
            # The dashboard answers a few seconds before its job agent is up; that one is worth a retry.
            if "No available agent to submit job" not in proc.stdout + proc.stderr or time.time() > agent_deadline:
                break
            time.sleep(3)
        assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
        assert "succeeded" in proc.stdout + proc.stderr
        _check_output(out)
        assert (tmp_path / "job-home" / "mlflow.db").exists()
    finally:
        os.killpg(head.pid, signal.SIGINT)
        try:
            head.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(head.pid, signal.SIGKILL)
        # `ray start` recorded this cluster as the machine's current one; it is gone now.
        current = Path("/tmp/ray/ray_current_cluster")
        if current.exists() and current.read_text().strip().endswith(f":{gcs_port}"):
            current.unlink()
