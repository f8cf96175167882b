"""Bad configuration, manifests, output folders and arguments: refused before any work starts
(exit 2, the key path or the rows in the message), leaving nothing behind. No Ray here: the scan
and the service are replaced by stand-ins that fail the test if a refusal ever reaches them."""

import json
import os
import sys
import types
from pathlib import Path

import pandas as pd
import pytest

from rayqa.cli import main
from rayqa.config import ConfigError, ScanConfig
from rayqa.detectors import REGISTRY
from rayqa.manifest import ManifestError, read_manifest
from rayqa.outdir_check import OutputError, check_output_dir


@pytest.fixture
def no_ray(monkeypatch, tmp_path):
    """rayqa.pipeline and rayqa.serve stand-ins: reaching run_scan / ensure_ray is a failure.
    RAYQA_HOME points at a folder that must stay absent (no MLflow store, no run)."""
    def reached(*a, **k):
        raise AssertionError("a refusal reached the scan or Ray")

    monkeypatch.setitem(sys.modules, "rayqa.pipeline", types.SimpleNamespace(run_scan=reached, ensure_ray=reached))
    monkeypatch.setitem(sys.modules, "rayqa.serve", types.SimpleNamespace(deploy=reached))
    home = tmp_path / "home"
    monkeypatch.setenv("RAYQA_HOME", str(home))
    return home


@pytest.fixture
def manifest(tmp_path):
    (tmp_path / "m.csv").write_text("item_id,uri\na,a.mp4\n")
    return tmp_path / "m.csv"


def _scan(tmp_path, manifest, *extra):
    return main(["scan", "--manifest", str(manifest), "--output", str(tmp_path / "out"), *extra])


def _refused(capsys, code, *needles):
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.startswith("rayqa: refused: ") and "Traceback" not in err, err
    for n in needles:
        assert n in err, (n, err)
    return err


# -- config ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("toml,needles", [
    ('[detectors.black_frames]\nmin_duration_s = "two"\n',
     ['detectors.black_frames.min_duration_s: expected a number, got "two"']),
    ("[detectors.black_frames]\npixel_treshold = 0.1\n",
     ["detectors.black_frames.pixel_treshold", "did you mean pixel_threshold?"]),
    ("[detectors.blackframes]\npixel_threshold = 0.1\n", ["detectors.blackframes", "did you mean black_frames?"]),
    ("[detectors.black_frames]\npixel_threshold = true\n",  # a bool is not a number
     ["detectors.black_frames.pixel_threshold: expected a number, got true"]),
    ("[detectors.black_frames]\nmerge_gap_s = -0.5\n", ["detectors.black_frames.merge_gap_s: must be >= 0"]),
    ("[detectors.black_frames]\npicture_threshold = 1.5\n", ["detectors.black_frames.picture_threshold: must be <= 1"]),
    ("[detectors.block_corruption]\nbatch_frames = 2.5\n",
     ["detectors.block_corruption.batch_frames: expected a whole number, got 2.5"]),
    ("[detectors.block_corruption]\nmin_duration_s = \"long\"\n",  # a default of None, but a duration
     ['detectors.block_corruption.min_duration_s: expected a number, got "long"']),
    ("[detectors.block_corruption]\nthreshold = 1.5\n", ["detectors.block_corruption: threshold must be in (0, 1)"]),
    ("[detectors.audio_artifacts]\nthreshold = 2\n", ["detectors.audio_artifacts.threshold: must be <= 1"]),
    ('[detectors.av_sync]\nshots = "cuts"\n', ["detectors.av_sync: shots must be auto, transnetv2 or histogram"]),
    ("[detectors]\nblack_frames = 3\n", ["detectors.black_frames: expected a table"]),
    ('[resources]\nisolation_pass = "false"\n', ['resources.isolation_pass: expected bool (true or false), got "false"']),
    ("[resources]\nmax_task_retries = 2.9\n", ["resources.max_task_retries: expected int (a whole number), got 2.9"]),
    ("[resources]\nmax_task_retries = -1\n", ["resources.max_task_retries: must be >= 0, got -1"]),
    ("[resources]\ndetector_pool_min = 3\ndetector_pool_max = 2\n", ["resources.detector_pool_max (2)"]),
    ("[resources]\nno_such_key = 1\n", ["unknown config key resources.no_such_key", "known: decode_num_cpus"]),
    ("[resources]\ndecode_num_cpu = 1\n", ["unknown config key resources.decode_num_cpu", "did you mean decode_num_cpus?"]),
    ("[resoures]\ndecode_num_cpus = 1\n", ["unknown config section [resoures]", "did you mean resources?"]),
    ("[decode]\nwindow_s = 0\n", ["decode.window_s: must be > 0, got 0"]),
    ("[decode]\nwindow_s = nan\n", ["decode.window_s"]),
    ('[decode]\nvideo_backend = "gstreamer"\n', ['decode.video_backend: expected "pyav" or "decord", got "gstreamer"']),
    ("decode = 5\n", ["decode: expected a table"]),
    ("[serve]\nmax_upload_mb = 0\n", ["serve.max_upload_mb: must be > 0"]),
    ("[pools.block_corruption]\ngpus = 1\n", ["unknown key(s) in [pools.block_corruption]: gpus", "did you mean num_gpus?"]),
    ("[pools.block_corruption]\nnum_gpus = \"one\"\n", ['pools.block_corruption.num_gpus: expected float (a number), got "one"']),
    ("[pools.block_corruption]\nmin_size = 3\nmax_size = 2\n", ["pools.block_corruption: max_size (2) is below min_size (3)"]),
    ("[pools.black_frames]\nnum_cpus = 1\n", ["[pools.black_frames]", "signal-processing"]),
    ("[pools.blockcorruption]\nnum_cpus = 1\n", ["[pools.blockcorruption]", "did you mean block_corruption?"]),
    ("[resources\n", ["is not valid TOML"]),
])
def test_bad_config_refused_before_any_work(tmp_path, manifest, no_ray, capsys, toml, needles):
    (tmp_path / "c.toml").write_text(toml)
    _refused(capsys, _scan(tmp_path, manifest, "--config", str(tmp_path / "c.toml")), *needles)
    assert not (tmp_path / "out").exists() and not no_ray.exists()  # no output folder, no MLflow store or run


def test_every_config_error_is_reported_at_once_and_is_a_config_error():
    with pytest.raises(ConfigError) as e:
        ScanConfig().merged({"resources": {"isolation_pass": "false", "max_task_retries": 2.9},
                             "detectors": {"black_frames": {"min_duration_s": "two", "pixel_treshold": 1}}})
    message = str(e.value)
    for path in ("resources.isolation_pass", "resources.max_task_retries", "detectors.black_frames.min_duration_s",
                 "detectors.black_frames.pixel_treshold"):
        assert path in message
    for bad in (None, 3, "x", [1]):
        with pytest.raises(ConfigError):
            ScanConfig().merged(bad)
    with pytest.raises(ConfigError, match="detectors.black_frames.min_duration_s"):
        ScanConfig(detectors={"black_frames": {"min_duration_s": "two"}})


def test_good_config_is_kept_typed_and_merges(tmp_path):
    (tmp_path / "c.toml").write_text("[decode]\nwindow_s = 4\n[resources]\nmax_task_retries = 0\nisolation_pass = false\n"
                                     "[detectors.black_frames]\nmin_duration_s = 3\n"
                                     "[detectors.av_sync]\nshot_threshold = 0.4\n"
                                     "[pools.block_corruption]\nnum_gpus = 1\n")
    cfg = ScanConfig.load(tmp_path / "c.toml")
    assert cfg.decode.window_s == 4.0 and isinstance(cfg.decode.window_s, float)  # an int is fine for a number
    assert cfg.resources.max_task_retries == 0 and cfg.resources.isolation_pass is False
    assert cfg.detectors == {"black_frames": {"min_duration_s": 3.0}, "av_sync": {"shot_threshold": 0.4}}
    assert cfg.pools == {"block_corruption": {"num_gpus": 1.0}}
    again = cfg.merged({"detectors": {"black_frames": {"pixel_threshold": 0.2}}})
    assert again.detectors["black_frames"] == {"min_duration_s": 3.0, "pixel_threshold": 0.2}
    assert cfg.detectors["black_frames"] == {"min_duration_s": 3.0}  # merged() leaves the original alone
    default = ScanConfig()
    assert (default.decode.window_s, default.resources.max_task_retries, default.resources.dsp_pool) == (8.0, 3, "decode")


def test_every_detector_parameter_has_a_schema_that_takes_its_default():
    """The schema comes from each detector's documented defaults: a config naming every default
    explicitly is accepted for every registered detector."""
    for name, cls in REGISTRY.items():
        given = {k: v for k, v in cls.defaults.items() if v is not None}
        assert ScanConfig().merged({"detectors": {name: given}}).detectors[name] == given


def test_window_that_a_detector_cannot_segment_is_refused(tmp_path, manifest, no_ray, capsys):
    (tmp_path / "c.toml").write_text("[detectors.av_sync]\nfragment_s = 3.0\n")
    code = _scan(tmp_path, manifest, "--config", str(tmp_path / "c.toml"), "--detectors", "av_sync")
    _refused(capsys, code, "decode.window_s=8 is not a multiple of av_sync's 3 s segments")
    assert not (tmp_path / "out").exists()


def test_missing_config_and_unknown_detector_refused(tmp_path, manifest, no_ray, capsys):
    _refused(capsys, _scan(tmp_path, manifest, "--config", str(tmp_path / "nope.toml")), "config file not found")
    _refused(capsys, _scan(tmp_path, manifest, "--config", str(tmp_path)), "is not a file")
    _refused(capsys, _scan(tmp_path, manifest, "--detectors", "blackframes"), "unknown detector(s) blackframes",
             "did you mean black_frames?")
    assert not (tmp_path / "out").exists() and not no_ray.exists()


def test_serve_refuses_bad_config_and_detectors_before_ray(tmp_path, no_ray, capsys):
    (tmp_path / "c.toml").write_text("[serve]\nmodel_replicas = 0\n")
    _refused(capsys, main(["serve", "--config", str(tmp_path / "c.toml")]), "serve.model_replicas: must be >= 1")
    _refused(capsys, main(["serve", "--detectors", "black_frames,nonsense"]), "unknown detector(s) nonsense")


# -- manifest -------------------------------------------------------------------------------------

def test_empty_optional_cells_are_null_in_every_format(tmp_path):
    rows = [{"item_id": "a", "uri": "a.mp4", "captions_uri": ""}, {"item_id": "b", "uri": "b.mp4", "captions_uri": "b.srt"},
            {"item_id": "c", "uri": "c.mp4", "captions_uri": None}]
    (tmp_path / "m.csv").write_text("item_id,uri,captions_uri,note\na,a.mp4,,\nb,b.mp4,b.srt,x\nc,c.mp4,,\n")
    pd.DataFrame(rows).to_parquet(tmp_path / "m.parquet")
    pd.DataFrame(rows).astype({"captions_uri": object}).to_parquet(tmp_path / "m2.parquet")
    (tmp_path / "m.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    (tmp_path / "m.json").write_text(json.dumps(rows))  # a JSON array of objects
    for name in ("m.csv", "m.parquet", "m2.parquet", "m.jsonl", "m.json"):
        df = read_manifest(tmp_path / name)
        assert list(df["item_id"]) == ["a", "b", "c"], name
        assert list(df["captions_uri"]) == [None, str(tmp_path / "b.srt"), None], name
    (tmp_path / "n.jsonl").write_text('{"item_id": "a", "uri": "a.mp4", "note": ""}\n{"item_id": "b", "uri": "b.mp4", "note": "x"}\n')
    for name in ("m.csv", "n.jsonl"):  # pass-through columns too
        notes = read_manifest(tmp_path / name)["note"].tolist()
        assert pd.isna(notes[0]) and notes[1] == "x", (name, notes)


def test_item_ids_stripped_like_uris_and_duplicates_named(tmp_path):
    (tmp_path / "m.csv").write_text('item_id,uri\n" a ", a.mp4 \nNA,b.mp4\n')
    df = read_manifest(tmp_path / "m.csv")
    assert list(df["item_id"]) == ["a", "NA"] and df["uri"].iloc[0] == str(tmp_path / "a.mp4")
    (tmp_path / "d.csv").write_text('item_id,uri\na,a.mp4\nb,b.mp4\n"a ",c.mp4\n')
    with pytest.raises(ManifestError, match=r"duplicate item_id 'a' at rows 1, 3"):
        read_manifest(tmp_path / "d.csv")
    (tmp_path / "e.jsonl").write_text('{"item_id": "  ", "uri": "a.mp4"}\n{"item_id": "b", "uri": " "}\n')
    with pytest.raises(ManifestError, match=r"empty item_id at row 1; empty uri at row 2"):
        read_manifest(tmp_path / "e.jsonl")
    (tmp_path / "f.jsonl").write_text('{"item_id": "a", "uri": ["x.mp4"]}\n')
    with pytest.raises(ManifestError, match=r"uri is not a string at row 1"):
        read_manifest(tmp_path / "f.jsonl")


@pytest.mark.parametrize("header,shown", [(" uri", "' uri'"), ("URI", "'URI'"), ("uri ", "'uri '")])
def test_header_names_are_quoted_with_a_hint(tmp_path, header, shown):
    (tmp_path / "m.csv").write_text(f"item_id,{header}\na,a.mp4\n")
    with pytest.raises(ManifestError) as e:
        read_manifest(tmp_path / "m.csv")
    assert "lacks required column(s) uri" in str(e.value) and f"it has 'item_id', {shown}" in str(e.value)
    assert f"column {shown} differs from 'uri' only by surrounding spaces or case" in str(e.value)


def test_json_manifests_that_are_not_arrays_of_objects_refused(tmp_path):
    (tmp_path / "a.json").write_text('[{"item_id": "a", "uri": "a.mp4"}, "b.mp4", 3]')
    with pytest.raises(ManifestError, match=r"every element of the JSON array must be an object.*rows 2, 3"):
        read_manifest(tmp_path / "a.json")
    (tmp_path / "b.json").write_text('[{"item_id": "a", "uri": "a.mp4"')
    with pytest.raises(ManifestError, match="is not valid JSON"):
        read_manifest(tmp_path / "b.json")
    (tmp_path / "c.json").write_text("[]")
    with pytest.raises(ManifestError, match="lacks required column"):
        read_manifest(tmp_path / "c.json")


def test_bad_manifest_refused_by_the_cli_before_any_work(tmp_path, no_ray, capsys):
    (tmp_path / "m.csv").write_text("item_id, uri\na,a.mp4\n")
    _refused(capsys, _scan(tmp_path, tmp_path / "m.csv"), "it has 'item_id', ' uri'")
    (tmp_path / "d.csv").write_text("item_id,uri\na ,a.mp4\na,b.mp4\n")
    _refused(capsys, _scan(tmp_path, tmp_path / "d.csv"), "duplicate item_id 'a' at rows 1, 2")
    assert not (tmp_path / "out").exists() and not no_ray.exists()


# -- output folder --------------------------------------------------------------------------------

def test_output_folder_accepted_when_new_empty_or_a_scan(tmp_path):
    check_output_dir(tmp_path / "new" / "deeper")
    assert not (tmp_path / "new").exists()  # the check creates nothing
    (tmp_path / "empty").mkdir()
    check_output_dir(tmp_path / "empty")
    scan = tmp_path / "scan"
    for d in ("findings", "items"):
        (scan / d).mkdir(parents=True)
    (scan / "run.json").write_text("{}")
    (scan / "scan.json").write_text("{}")
    (scan / ".run.json.tmp").write_text("")
    check_output_dir(scan)


def test_output_folder_refusals(tmp_path, monkeypatch):
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(OutputError, match="exists and is a file"):
        check_output_dir(tmp_path / "file.txt")
    with pytest.raises(OutputError, match=r"cannot be created: .*file.txt is a file"):
        check_output_dir(tmp_path / "file.txt" / "out")
    photos = tmp_path / "photos"
    photos.mkdir()
    (photos / "holiday.jpg").write_bytes(b"\xff\xd8")
    (photos / "items").mkdir()
    with pytest.raises(OutputError, match=r"not a rayqa scan \(it holds 'holiday.jpg'\)"):
        check_output_dir(photos)
    half = tmp_path / "half"
    half.mkdir()
    (half / "findings").write_text("")
    with pytest.raises(OutputError, match="findings is a file"):
        check_output_dir(half)
    (tmp_path / "link").symlink_to(tmp_path / "gone")
    with pytest.raises(OutputError, match="broken symbolic link"):
        check_output_dir(tmp_path / "link")

    # Not writable (the tests may run as root, whom permissions do not stop: ask os.access).
    locked = tmp_path / "locked"
    locked.mkdir()
    real = os.access
    monkeypatch.setattr("rayqa.outdir_check.os.access",
                        lambda p, mode: False if Path(p) == locked else real(p, mode))
    with pytest.raises(OutputError, match="is not writable"):
        check_output_dir(locked)
    with pytest.raises(OutputError, match=r"cannot be created: .*locked is not writable"):
        check_output_dir(locked / "a" / "b")


def test_bad_output_refused_by_the_cli(tmp_path, manifest, no_ray, capsys):
    (tmp_path / "out").write_text("not a folder")
    _refused(capsys, _scan(tmp_path, manifest), "exists and is a file")
    (tmp_path / "out").unlink()
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "findings").write_text("")
    _refused(capsys, _scan(tmp_path, manifest), "findings is a file")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["findings"] and not no_ray.exists()


# -- local state home -----------------------------------------------------------------------------

def test_local_state_lives_in_the_users_home_not_the_working_directory(tmp_path, monkeypatch, capsys):
    from rayqa.home import HomeError, rayqa_home
    from rayqa.registry import tracking_uri

    monkeypatch.delenv("RAYQA_HOME", raising=False)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    for cwd in ("a", "b"):
        (tmp_path / cwd).mkdir()
        monkeypatch.chdir(tmp_path / cwd)
        assert rayqa_home() == (tmp_path / "user" / ".rayqa").resolve()
        assert tracking_uri() == f"sqlite:///{(tmp_path / 'user' / '.rayqa' / 'mlflow.db').resolve()}"
    assert not (tmp_path / "a" / ".rayqa").exists()
    # A store an older rayqa left in the working directory is pointed at, not silently ignored.
    (tmp_path / "b" / ".rayqa").mkdir()
    (tmp_path / "b" / ".rayqa" / "mlflow.db").write_text("")
    monkeypatch.setattr("rayqa.home._warned", False)
    rayqa_home()
    assert f"set RAYQA_HOME={tmp_path / 'b' / '.rayqa'}" in capsys.readouterr().err
    monkeypatch.setenv("RAYQA_HOME", str(tmp_path / "mine"))  # RAYQA_HOME wins
    assert rayqa_home() == (tmp_path / "mine").resolve()
    (tmp_path / "afile").write_text("")
    monkeypatch.setenv("RAYQA_HOME", str(tmp_path / "afile" / "home"))
    with pytest.raises(HomeError, match="set RAYQA_HOME to a writable folder"):
        rayqa_home()


# -- models and detectors -------------------------------------------------------------------------

def _model_folder(path, detector):
    path.mkdir(parents=True)
    (path / "model.json").write_text(json.dumps({"detector": detector}))
    (path / "weights.pt").write_bytes(b"0")
    return path


def test_models_cli_names_what_exists(tmp_path, monkeypatch, capsys):
    from rayqa.registry import ModelRegistry

    monkeypatch.setenv("RAYQA_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("RAYQA_MODELS_DIR", str(tmp_path / "none"))
    assert main(["models", "list"]) == 0
    assert "rayqa models bootstrap" in capsys.readouterr().out
    _refused(capsys, main(["models", "promote", "block_corruption", "1"]), "the registry is empty",
             "rayqa models bootstrap")

    reg = ModelRegistry()
    reg.register("block_corruption", _model_folder(tmp_path / "bc", "block_corruption"),
                 metrics={"val_v1_auc": 0.91, "train_map_loss": 0.2}, tags={"rayqa.source": "shipped"})
    run = reg.client.create_run(reg.experiment_id("rayqa-train-test"))
    v2 = reg.register("block_corruption", _model_folder(tmp_path / "bc2", "block_corruption"), run_id=run.info.run_id,
                      metrics={"val_v1_auc": 0.95}, tags={"rayqa.source": "train"}, alias=None)
    reg.register("tiny", _model_folder(tmp_path / "t", "tiny"), tags={"rayqa.source": "user", "metric.accuracy": "0.5"})

    _refused(capsys, main(["models", "promote", "blockcorruption", "2"]), "no model rayqa-blockcorruption",
             "did you mean rayqa-block_corruption?", "registered: rayqa-block_corruption, rayqa-tiny")
    _refused(capsys, main(["models", "promote", "block_corruption", "7"]), "no version 7 of rayqa-block_corruption",
             "it has versions 1, 2")
    assert main(["models", "promote", "block_corruption", v2]) == 0
    capsys.readouterr()

    assert main(["models", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    header = next(line for line in lines if line.startswith("MODEL"))
    for column in ("REGISTERED (UTC)", "FROM", "EXPERIMENTAL", "METRICS"):
        assert column in header
    v1_line = next(line for line in lines if line.startswith("rayqa-block_corruption v1 "))
    v2_line = next(line for line in lines if line.startswith("rayqa-block_corruption v2 @champion"))
    assert "shipped" in v1_line and "v1_auc 0.91" in v1_line and "train_map_loss" not in v1_line
    assert f"train run {run.info.run_id}" in v2_line and "v1_auc 0.95" in v2_line and " yes " in v2_line

    assert main(["models", "list", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    rows = {(r["name"], r["version"]): r for r in doc["models"]}
    two = rows[("rayqa-block_corruption", "2")]
    assert two["aliases"] == ["champion"] and two["origin"] == "train" and two["run_id"] == run.info.run_id
    assert two["experimental"] is REGISTRY["block_corruption"].experimental and two["registered_at"].endswith("Z")
    assert two["metrics"] == {"val_v1_auc": 0.95}
    assert rows[("rayqa-tiny", "1")]["experimental"] is None and rows[("rayqa-tiny", "1")]["metrics"] == {"accuracy": 0.5}


def test_help_and_detectors_tell_the_truth(capsys):
    with pytest.raises(SystemExit) as e:
        main(["scan", "--help"])
    assert e.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    default = [n for n, c in REGISTRY.items() if not c.experimental]
    experimental = [n for n, c in REGISTRY.items() if c.experimental]
    assert f"every detector that is not experimental: {', '.join(default)}" in text
    assert f"named: {', '.join(experimental)}" in text and "(default: all)" not in text
    with pytest.raises(SystemExit):
        main(["serve", "--help"])
    assert "every detector that is not experimental" in " ".join(capsys.readouterr().out.split())

    assert main(["detectors"]) == 0
    doc = json.loads(capsys.readouterr().out)  # one JSON document, not JSON lines
    described = {d["name"]: d for d in doc["detectors"]}
    assert list(described) == list(REGISTRY)
    for name, cls in REGISTRY.items():
        d = described[name]
        assert d["experimental"] is cls.experimental and d["runs_by_default"] is not cls.experimental
        assert d["model"] == (f"rayqa-{name}" if cls.pool == "model" else "dsp"), d


def test_the_command_exits_with_mains_code_after_its_output_and_exit_handlers(tmp_path):
    """``rayqa`` (cli.entry) skips the interpreter's teardown, not what a normal exit does: every
    byte written reaches the pipe, atexit handlers run (Ray's shutdown is one), the code is main's."""
    marker = tmp_path / "atexit-ran"
    script = ("import atexit, sys\n"
              "from rayqa import cli\n"
              f"atexit.register(lambda: open({str(marker)!r}, 'w').write('ran'))\n"
              "sys.argv = ['rayqa'] + sys.argv[1:]\n"
              "cli.entry()\n")
    env = {**os.environ, "RAYQA_HOME": str(tmp_path / "home")}
    import subprocess

    listed = subprocess.run([sys.executable, "-c", script, "detectors"], capture_output=True, text=True, env=env,
                            timeout=120)
    assert listed.returncode == 0, listed.stderr
    assert sorted(d["name"] for d in json.loads(listed.stdout)["detectors"]) == sorted(REGISTRY)
    assert marker.read_text() == "ran"
    marker.unlink()
    refused = subprocess.run([sys.executable, "-c", script, "scan", "--manifest", str(tmp_path / "absent.csv"),
                              "--output", str(tmp_path / "out")], capture_output=True, text=True, env=env, timeout=120)
    assert refused.returncode == 2
    assert "rayqa: refused" in refused.stderr and "absent.csv" in refused.stderr
    assert marker.read_text() == "ran"
    assert not (tmp_path / "home").exists()
