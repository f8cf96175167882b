"""The model seam: bootstrap shipped weights, resolve @champion once, promote, on the embedded store."""

import json

import pytest
import torch

from rayqa.cli import main
from rayqa.registry import ModelRegistry, RegistryError


def _ship_tiny(models_dir, seed):
    """A tiny model of the tests' own, laid out as rayqa ships weights: models/<detector>/."""
    folder = models_dir / "tiny"
    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    net = torch.nn.Linear(4, 2)
    torch.save(net.state_dict(), folder / "weights.pt")
    (folder / "model.json").write_text(json.dumps({"detector": "tiny", "architecture": "linear-4-2",
                                                   "metrics": {"accuracy": 0.5}}))
    (folder / "MODEL_CARD.md").write_text("# tiny\nA test model.\n")
    return net


@pytest.fixture
def registry(tmp_path, monkeypatch):
    monkeypatch.setenv("RAYQA_HOME", str(tmp_path / "home"))
    return ModelRegistry(models_dir=tmp_path / "models")


def test_bootstrap_resolve_promote(registry, tmp_path):
    net = _ship_tiny(tmp_path / "models", seed=0)
    with pytest.raises(RegistryError, match="no model rayqa-missing@champion"):
        registry.resolve("missing")
    resolved = registry.resolve("tiny")  # empty registry: filled from models/ first
    assert (resolved.name, resolved.version) == ("rayqa-tiny", "1")
    state = torch.load(resolved.download(tmp_path / "dl1") / "weights.pt")
    assert torch.equal(state["weight"], net.weight.detach())
    assert registry.bootstrap() == []  # already has a champion: nothing registered twice

    other = tmp_path / "v2"
    net2 = _ship_tiny(other, seed=1)
    v2 = registry.register("tiny", other / "tiny", metrics={"accuracy": 0.9}, alias=None)
    assert v2 == "2" and registry.resolve("tiny").version == "1"  # a new version is not champion yet
    registry.promote("rayqa-tiny", "2")
    again = registry.resolve("tiny")
    assert again.version == "2"
    state2 = torch.load(again.download(tmp_path / "dl2") / "weights.pt")
    assert torch.equal(state2["weight"], net2.weight.detach())
    rows = registry.list()
    assert [(r["version"], r["aliases"]) for r in rows] == [("1", []), ("2", ["champion"])]
    with pytest.raises(RegistryError, match="no version 9"):
        registry.promote("tiny", "9")


def test_actor_loads_exactly_the_resolved_version(registry, tmp_path, ray_local):
    """Resolved once on the driver; a Ray actor downloads that version, not whatever is champion later."""
    _ship_tiny(tmp_path / "models", seed=0)
    resolved = registry.resolve("tiny")

    @ray_local.remote(num_cpus=0.1)
    class Loader:
        def weight_sum(self, model):
            import torch as t

            return float(t.load(model.download() / "weights.pt")["weight"].sum())

    expected = float(torch.load(resolved.download(tmp_path / "d") / "weights.pt")["weight"].sum())
    _ship_tiny(tmp_path / "v2", seed=5)
    registry.register("tiny", tmp_path / "v2" / "tiny")  # becomes champion after the run resolved
    actor = Loader.remote()
    assert ray_local.get(actor.weight_sum.remote(resolved)) == pytest.approx(expected)


def test_a_carried_version_loads_without_mlflow_or_the_store(registry, tmp_path):
    """The scan's driver reads the resolved version's files once; a process that receives it writes
    them out (the same bytes) without importing MLflow, even with the tracking store gone."""
    import os
    import pickle
    import shutil
    import subprocess
    import sys

    _ship_tiny(tmp_path / "models", seed=3)
    resolved = registry.resolve("tiny")
    carried = resolved.carried()
    assert carried == resolved and carried.carried() is carried  # the same version; carried once
    assert sorted(rel for rel, _ in carried.files) == ["MODEL_CARD.md", "model.json", "weights.pt"]
    plain = resolved.download(tmp_path / "plain")
    for rel, data in carried.files:
        assert (plain / rel).read_bytes() == data
    shutil.rmtree(tmp_path / "home")  # the store (and its artifacts) gone: the carried files still load
    code = ("import pickle, sys, torch\n"
            "m = pickle.loads(sys.stdin.buffer.read())\n"
            "w = torch.load(m.download() / 'weights.pt')['weight']\n"
            "print(float(w.sum()), 'mlflow' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], input=pickle.dumps(carried), capture_output=True, check=True,
                         env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}).stdout.decode().split()
    expected = float(torch.load(plain / "weights.pt")["weight"].sum())
    assert float(out[0]) == pytest.approx(expected) and out[1] == "False"
    with pytest.raises(RegistryError, match="cannot download"):
        resolved.download(tmp_path / "again")  # the plain one still needs the store


def test_loading_a_registry_version_leaves_no_folder_behind(registry, tmp_path, monkeypatch):
    """Every load of a resolved version (the plan's check, each process's load) writes its files to
    a temporary folder; once the detector has read them the folder goes, carried or not, loaded or
    refused."""
    import tempfile

    from rayqa.detectors.base import Detector
    from rayqa.loading import load_detector, verify

    class Tiny(Detector):
        name = "tiny"
        pool = "model"

        def load(self, folder, device="cpu"):
            self.weight = torch.load(folder / "weights.pt")["weight"]

        def unload(self):
            self.weight = None

    class Refusing(Tiny):
        def load(self, folder, device="cpu"):
            from rayqa.nets.files import ModelLoadError

            raise ModelLoadError(f"{sorted(p.name for p in folder.iterdir())} is not what I read")

    net = _ship_tiny(tmp_path / "models", seed=4)
    temp = tmp_path / "temp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    resolved = registry.resolve("tiny")
    for model in (resolved, resolved.carried()):
        det = load_detector(Tiny(), model)
        assert torch.equal(det.weight, net.weight.detach()) and det.model_version == "1"
        verify(Tiny(), model)
        with pytest.raises(RegistryError, match="weights.pt.*is not what I read"):
            load_detector(Refusing(), model)
        assert list(temp.iterdir()) == []
    shipped = load_detector(Tiny(), tmp_path / "models" / "tiny")  # a local folder is the caller's: kept
    assert shipped.model_version == "file:tiny" and (tmp_path / "models" / "tiny" / "weights.pt").is_file()


def test_models_cli(registry, tmp_path, capsys, monkeypatch):
    _ship_tiny(tmp_path / "models", seed=0)
    monkeypatch.setenv("RAYQA_MODELS_DIR", str(tmp_path / "models"))
    assert main(["models", "list"]) == 0
    assert "no rayqa models registered" in capsys.readouterr().out
    assert main(["models", "bootstrap"]) == 0
    assert "registered rayqa-tiny version 1 as @champion" in capsys.readouterr().out
    _ship_tiny(tmp_path / "v2", seed=1)
    ModelRegistry().register("tiny", tmp_path / "v2" / "tiny", alias=None)
    assert main(["models", "promote", "rayqa-tiny", "2"]) == 0
    assert main(["models", "list"]) == 0
    out = capsys.readouterr().out
    assert "rayqa-tiny v2 @champion" in out and "rayqa-tiny v1 " in out
    assert main(["models", "promote", "tiny", "7"]) == 2
    assert "no version 7" in capsys.readouterr().err


def test_tracking_uri_override(tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'other.db'}")
    assert ModelRegistry().tracking_uri == f"sqlite:///{tmp_path / 'other.db'}"
