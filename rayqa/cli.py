"""The ``rayqa`` command line. Exit codes: 0 scan completed (failed items included), 2 input
refused (bad manifest, arguments or config, with a message), 1 internal error."""

from __future__ import annotations

import argparse
import json
import sys
import traceback
from pathlib import Path

EXIT_OK, EXIT_INTERNAL, EXIT_REFUSED = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # argparse exits 2 already; keep the message on one line
        self.print_usage(sys.stderr)
        print(f"rayqa: error: {message}", file=sys.stderr)
        sys.exit(EXIT_REFUSED)


def detectors_help(what: str = "run") -> str:
    """The truth about ``--detectors``' default, from the registry."""
    from rayqa.detectors import REGISTRY

    default = [n for n, c in REGISTRY.items() if not c.experimental]
    experimental = [n for n, c in REGISTRY.items() if c.experimental]
    return (f"comma-separated detector names (default: every detector that is not experimental: {', '.join(default)}; "
            f"experimental ones {what} only when named: {', '.join(experimental) or 'none'})")


def add_scan_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--manifest", required=True, help="Parquet, CSV, JSONL (or a JSON array) with item_id, uri[, captions_uri]; "
                                                     "or a folder or glob of media (ids from relative paths, captions found "
                                                     "beside the media by name)")
    p.add_argument("--output", required=True, help="output folder (findings/, items/, run.json): a new or empty folder, "
                                                  "or one holding a scan, which is resumed")
    p.add_argument("--detectors", default=None, help=detectors_help())
    p.add_argument("--config", default=None, help="TOML file overriding thresholds and resources (checked against the "
                                                  "schema before any work starts; see README, Configuration)")
    p.add_argument("--address", default=None,
                   help="Ray cluster address ('auto' for a running cluster; default: RAY_ADDRESS or a local Ray)")
    p.add_argument("--policy", default=None, help="TOML policy: findings it calls intentional are kept with suppressed=true "
                                                  "and the rule's name (see docs/report.md)")
    p.add_argument("--verbose", action="store_true", help="also show Ray Data's own progress bars and operator logs")
    p.add_argument("--no-progress", action="store_true", help="no progress line (one is shown on a terminal, and every "
                                                            "30 s when the output is a log)")
    again = p.add_mutually_exclusive_group()
    again.add_argument("--rescan", action="store_true", help="start over instead of resuming")
    again.add_argument("--retry-failed", action="store_true",
                       help="resume, and scan the items that failed before again (e.g. after fixing their files)")


def build_parser() -> argparse.ArgumentParser:
    from rayqa import __version__

    parser = _Parser(prog="rayqa", description="Audiovisual quality control for video catalogues, on Ray.")
    parser.add_argument("--version", action="version", version=f"rayqa {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("scan", help="scan a catalogue manifest and write Parquet findings")
    add_scan_arguments(p)

    p = sub.add_parser("demo", help="make a small demo catalogue with known defects, scan it, print a table")
    p.add_argument("--workdir", default="demo_out", help="where the catalogue and the scan go (default: demo_out; "
                                                        "its scan is redone each time)")
    p.add_argument("--address", default=None, help="Ray cluster address (default: RAY_ADDRESS or a local Ray)")

    p = sub.add_parser("models", help="the MLflow model registry (rayqa-<detector>@champion)")
    msub = p.add_subparsers(dest="models_command", required=True, parser_class=_Parser)
    ls = msub.add_parser("list", help="every registered version: alias, when (UTC), origin and training run, "
                                      "metrics, whether its detector is experimental")
    ls.add_argument("--json", action="store_true", help="print one JSON document instead of the table")
    b = msub.add_parser("bootstrap", help="register the shipped weights in models/ for every detector that has no "
                                          "@champion yet")
    b.add_argument("--models-dir", default=None, help="shipped model folders (default: RAYQA_MODELS_DIR or the "
                                                      "repository's models/)")
    rg = msub.add_parser("register", help="register a model folder (model.json + weights) as a new version of "
                                          "rayqa-DETECTOR, after checking that it loads")
    rg.add_argument("detector", help="a detector with a model (block_corruption, audio_artifacts, av_sync)")
    rg.add_argument("folder", help="a model folder: model.json and its weights")
    rg.add_argument("--promote", action="store_true", help="make the new version @champion")
    pr = msub.add_parser("promote", help="point NAME@champion at VERSION")
    pr.add_argument("name", help="rayqa-<detector> or <detector>")
    pr.add_argument("version", help="a registered version (rayqa models list shows them)")

    p = sub.add_parser("detectors", help="the detectors with their inputs, models and default parameters, "
                                         "as one JSON document")

    p = sub.add_parser("serve", help="the detectors over HTTP on Ray Serve (POST /v1/score, GET /v1/models, /healthz)",
                       description="Deploys the scoring app on Ray Serve. Without --address a local Ray is started and "
                                   "the command serves until interrupted; with --address auto it deploys to the running "
                                   "cluster (ray start --head) and, with --detach, returns: run it again after "
                                   "`rayqa models promote` to roll the learned detectors over to the new version. "
                                   "Environment: RAYQA_API_TOKEN (bearer token), RAYQA_ALLOWED_ROOTS (colon-separated "
                                   "folders that {\"uri\": ...} requests may read), RAYQA_MAX_UPLOAD_MB.")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=8000, help="HTTP port (default 8000)")
    p.add_argument("--config", default=None, help="TOML file: [serve] replicas, CPU/GPU fractions, batching")
    p.add_argument("--address", default=None, help="Ray cluster address ('auto' for a running cluster)")
    p.add_argument("--detach", action="store_true", help="deploy and return instead of serving in the foreground")
    p.add_argument("--detectors", default=None, help=detectors_help("are served"))

    add_simulate_parser(sub)
    add_train_parser(sub)

    p = sub.add_parser("evaluate", help="event-level recall and precision per defect against simulation labels")
    p.add_argument("--findings", required=True, help="a scan's output folder (findings/ and items/)")
    p.add_argument("--labels", required=True, help="labels Parquet written by `rayqa simulate`")
    p.add_argument("--tolerance-s", type=float, default=0.5,
                   help="a finding matches a label when their spans overlap once widened by this (default 0.5)")
    p.add_argument("--defects", default=None, help="comma-separated defects to score (default: all)")
    p.add_argument("--json", default=None, help="also write the table to this JSON file")

    p = sub.add_parser("report", help="one self-contained HTML report over a scan's output, with evidence cut from "
                                      "the media (opens with no network)")
    p.add_argument("scan_dir", metavar="SCAN_DIR", help="a scan's output folder (findings/, items/, run.json)")
    p.add_argument("--out", default=None, help="the HTML file (default: SCAN_DIR/report.html)")
    p.add_argument("--policy", default=None, help="TOML policy: what is intentional (suppressed findings are shown "
                                                  "apart); default: what the scan decided")
    p.add_argument("--diff", default=None, metavar="SCAN_A", help="an earlier scan: add a section of the findings "
                                                                   "that appeared, disappeared or moved since")
    p.add_argument("--evidence-per-defect", type=int, default=12,
                   help="findings per defect that get thumbnails / spectrograms, highest score first (default 12)")

    p = sub.add_parser("diff", help="findings that appeared, disappeared or moved between two scans")
    p.add_argument("scan_a", metavar="SCAN_A", help="the earlier scan's output folder")
    p.add_argument("scan_b", metavar="SCAN_B", help="the later scan's output folder")
    p.add_argument("--tolerance-s", type=float, default=0.5,
                   help="a finding moved when its start or end changed by more than this (default 0.5)")
    p.add_argument("--out", default=None, help="also write every change to this file (.csv, .json or .parquet)")
    p.add_argument("--limit", type=int, default=200, help="changes printed (default 200; --out has them all)")
    return parser


def add_simulate_parser(sub) -> argparse.ArgumentParser:
    from rayqa.simulate.dataset import describe_recipes

    p = sub.add_parser(
        "simulate", help="make labelled training/evaluation data by injecting defects into pristine media",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Generate items (MP4) from pristine content with one defect each (or none: --clean-fraction), "
                    "at random times and with "
                    "parameters drawn from the ranges below, plus labels.parquet, masks/ and manifest.csv. "
                    "Deterministic: the same --seed gives the same bytes.",
        epilog="defect recipes (--defects), with their parameters:\n" + describe_recipes())
    add_simulate_arguments(p)
    return p


def add_simulate_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--output", required=True, help="dataset folder")
    p.add_argument("--items", type=int, default=100, help="how many items (default 100)")
    p.add_argument("--seed", type=int, default=0, help="default 0")
    p.add_argument("--defects", default=None, help="comma-separated recipes (default: all); see below")
    p.add_argument("--clean-fraction", type=float, default=0.2, help="share of items left clean (default 0.2)")
    p.add_argument("--split", choices=["train", "heldout"], default="train",
                   help="which pristine sources: held-out voices, music, noise beds and photos never appear in train")
    p.add_argument("--pristine", default=None, help="a folder of your own pristine media to use instead")
    p.add_argument("--sources", choices=["synthetic", "real"], default="synthetic",
                   help="pristine content: synthetic (default: procedural scenes, bundled photos, espeak-ng) or real "
                        "(photographs, footage, recorded music and voices from Debian packages: `make real-media`)")
    p.add_argument("--duration-s", type=float, default=10.0, help="seconds per item (default 10)")
    p.add_argument("--clean-captions", action="store_true",
                   help="clean items get speech and true captions (the negatives of a caption set)")
    p.add_argument("--master-loudness", action="store_true",
                   help="master every item's programme sound to EBU R128 (-23 LUFS, true peak <= -2 dBTP) before "
                        "its defect, so clean items are in spec for loudness_out_of_range")
    p.add_argument("--width", type=int, default=320, help="default 320")
    p.add_argument("--height", type=int, default=180, help="default 180")
    p.add_argument("--fps", type=int, default=25, help="default 25")
    p.add_argument("--sample-rate", type=int, default=48000, help="Hz (default 48000)")
    p.add_argument("--channels", type=int, default=2, help="audio channels (default 2)")


def cmd_simulate(args) -> int:
    from rayqa.simulate.dataset import SimConfig, make_dataset

    cfg = SimConfig(duration_s=args.duration_s, width=args.width, height=args.height, fps=args.fps,
                    sample_rate=args.sample_rate, channels=args.channels, split=args.split, pristine_dir=args.pristine,
                    clean_captions=args.clean_captions, sources=args.sources, master_loudness=args.master_loudness)
    recipes = [r.strip() for r in args.defects.split(",")] if args.defects else None
    labels = make_dataset(args.output, args.items, args.seed, recipes, args.clean_fraction, cfg)
    out = Path(args.output).resolve()
    print(f"{args.items} items in {out}/media, {len(labels)} labels in {out}/labels.parquet")
    if len(labels):
        print("labels by defect: " + ", ".join(f"{k} {v}" for k, v in labels["defect"].value_counts().items()))
    print(f"scan it: rayqa scan --manifest {out}/manifest.csv --output {out}/scan")
    return EXIT_OK


TRAINABLE = ("block_corruption", "audio_artifacts")  # rayqa/train/<detector>.py each


def add_train_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "train", help="train a detector on simulated data, log it to MLflow and register a version",
        description="Simulates the training data (or reuses --data), trains with a fixed seed, writes weights, "
                    "model.json and MODEL_CARD.md to --out, logs params/metrics/artifacts and the data's hash to "
                    "MLflow and registers a new version of rayqa-<detector> (@champion only with --promote or when "
                    "it has none yet). `--out models/<detector>` reproduces the shipped weights.")
    p.add_argument("detector", choices=TRAINABLE)
    p.add_argument("--seed", type=int, default=None, help="default 0")
    p.add_argument("--items", type=int, default=None, help="simulated training items (default: the detector's)")
    p.add_argument("--steps", type=int, default=None, help="optimiser steps (default: the detector's)")
    p.add_argument("--batch", type=int, default=None, help="batch size (default: the detector's)")
    p.add_argument("--data", default=None, help="training data folder (default: under datasets/ in rayqa's home, "
                                                "$RAYQA_HOME or ~/.rayqa; simulated when missing)")
    p.add_argument("--out", default=None, help="where the model goes (default: models/<detector> in rayqa's home)")
    p.add_argument("--no-register", action="store_true", help="write the model but leave MLflow alone")
    p.add_argument("--promote", action="store_true", help="make the new version @champion")
    p.add_argument("--weights", default=None,
                   help="skip training: validate, calibrate, write and register this model folder's weights "
                        "(trained earlier or elsewhere) against the same data (block_corruption); audio_artifacts: "
                        "take this model folder's CNN trunk as it is and train only its context head")
    p.add_argument("--augment", type=float, default=None, metavar="SHARE",
                   help="share of training crops given a random tone curve and sensor noise (block_corruption; "
                        "default 0: the shipped release 2)")
    p.add_argument("--input", default=None,
                   help="what the network reads: luma (the shipped release 2) or yuv (Y, U and V as coded, so "
                        "colour damage is in its input) (block_corruption)")
    p.add_argument("--more-photos", action="store_const", const=True, default=None,
                   help="add the photographs of rayqa/simulate/SOURCES.md's more-photos package to the train "
                        "split's (block_corruption; default: without, the shipped release 2)")
    p.add_argument("--mine-items", type=int, default=None, metavar="N",
                   help="mine hard negatives from N further minutes of clean train-split programme: every "
                        "mine_every steps the net scores it, and a share of each batch are crops around its most "
                        "probable cells (block_corruption; default 0: the shipped release 2)")
    p.add_argument("--width", type=float, default=None,
                   help="the network's width (block_corruption: channels of its first layer, default 16, the "
                        "shipped release 2; audio_artifacts: the CNN's width multiplier, default 0.5)")
    p.add_argument("--decision-items", type=int, default=None, metavar="N",
                   help="learn the frame decision over the map (a small head on the frozen network) from N items "
                        "drawn from the more-photos package's pictures, which the map never saw (block_corruption; "
                        "with --weights, over that model's map; default 0: the top 2 %% of cells, release 2)")
    p.add_argument("--finetune", type=int, default=None, metavar="STEPS",
                   help="before the context head, train the trunk end to end for STEPS steps on crops of the real "
                        "training windows beside simulated ones (audio_artifacts; with --weights, from that trunk)")
    p.add_argument("--init-panns", default=None, metavar="CHECKPOINT",
                   help="start the trunk from a published PANNs checkpoint (Cnn6/Cnn10/Cnn14_mAP=*.pth; "
                        "trains that layout at width 1.0) instead of from scratch (audio_artifacts)")
    return p


def cmd_train(args) -> int:
    import importlib
    import inspect

    trainer = importlib.import_module(f"rayqa.train.{args.detector}")
    given = {k: getattr(args, k) for k in ("seed", "items", "steps", "batch") if getattr(args, k) is not None}

    def unsupported(flag: str) -> bool:  # a training option that this detector's TrainConfig lacks
        if flag.lstrip("-").replace("-", "_") in trainer.TrainConfig.__dataclass_fields__:
            return False
        print(f"rayqa: refused: {flag} is not supported for {args.detector}", file=sys.stderr)
        return True

    if args.init_panns:
        if unsupported("--init-panns"):
            return EXIT_REFUSED
        from rayqa.nets.audio_artifacts import panns_layout_of

        try:
            given.update(init_panns=args.init_panns, width=1.0, arch=panns_layout_of(args.init_panns))
        except Exception as e:  # ModelLoadError and unreadable files: say why
            print(f"rayqa: refused: --init-panns: {e}", file=sys.stderr)
            return EXIT_REFUSED
    if args.width is not None:
        kind = type(trainer.TrainConfig.width)
        if kind is int and args.width != int(args.width):
            print(f"rayqa: refused: --width is a whole number of channels for {args.detector}, got {args.width:g}",
                  file=sys.stderr)
            return EXIT_REFUSED
        given["width"] = kind(args.width)
    for option in ("augment", "finetune", "mine_items", "input", "more_photos", "decision_items"):  # options only some detectors' training has
        if getattr(args, option) is not None:
            if unsupported(f"--{option.replace('_', '-')}"):
                return EXIT_REFUSED
            given[option] = getattr(args, option)
    cfg = trainer.TrainConfig(**given)
    try:
        cfg.check()
    except ValueError as e:
        print(f"rayqa: refused: {e}", file=sys.stderr)
        return EXIT_REFUSED
    extra = {"weights": args.weights} if args.weights else {}
    if extra and "weights" not in inspect.signature(trainer.train).parameters:
        print(f"rayqa: refused: --weights is not supported for {args.detector}", file=sys.stderr)
        return EXIT_REFUSED
    result = trainer.train(cfg, data=args.data, out=args.out, register=not args.no_register, promote=args.promote,
                           **extra)
    print(json.dumps({k: v for k, v in result.items() if k != "train_seconds"}, indent=2))
    return EXIT_OK


def check_scan_inputs(args):
    """Everything about a scan's input that can be refused, refused before Ray starts (or is even
    imported): the config, the detector list with its parameters, the manifest, the output folder.
    Returns the config."""
    from rayqa.config import ScanConfig
    from rayqa.manifest import read_manifest
    from rayqa.outdir_check import check_output_dir

    from rayqa.policy import load_policy

    cfg = ScanConfig.load(args.config)
    cfg.build_detectors(args.detectors)
    load_policy(getattr(args, "policy", None))
    read_manifest(args.manifest)
    check_output_dir(args.output)
    return cfg


def cmd_scan(args) -> int:
    cfg = check_scan_inputs(args)
    from rayqa.pipeline import run_scan

    result = run_scan(args.manifest, args.output, detectors=args.detectors, config=cfg, address=args.address,
                      rescan=args.rescan, retry_failed=args.retry_failed, verbose=args.verbose,
                      progress=not args.no_progress, policy=args.policy)
    print_summary(result)
    return EXIT_OK


def print_summary(result) -> None:
    import pandas as pd

    items = pd.read_parquet(result.output / "items")
    findings = pd.read_parquet(result.output / "findings")
    counts = items["status"].value_counts().to_dict()
    print()
    print(f"run {result.run_id}: {len(items)} items ({', '.join(f'{counts[k]} {k}' for k in ('ok', 'failed') if k in counts)}); "
          f"this run scanned {sum(result.counts.values())}, skipped {result.skipped} already done; "
          f"{result.content_s:.1f} s of content")
    if len(findings):
        print("findings by defect: " + ", ".join(f"{k} {v}" for k, v in findings["defect"].value_counts().items()))
    else:
        print("no findings")
    failed = items[items["status"] == "failed"]
    for _, r in failed.head(20).iterrows():
        print(f"  failed {r['item_id']}: {r['error']}")
    print(f"output: {result.output}/findings, {result.output}/items, {result.run_json}")


def cmd_models(args) -> int:
    from rayqa.registry import ModelRegistry

    if args.models_command == "bootstrap":
        reg = ModelRegistry(models_dir=args.models_dir)
        done = reg.bootstrap()
        shipped = reg.shipped()
        if not shipped:
            print(f"no shipped weights in {reg.models_dir}; nothing to register")
        for name, version in done:
            print(f"registered {name} version {version} as @champion")
        if shipped and not done:
            print("registry already has a champion for every shipped model")
        return EXIT_OK
    reg = ModelRegistry()
    if args.models_command == "list":
        rows = reg.list()
        if args.json:
            print(json.dumps({"tracking_uri": reg.tracking_uri, "models": rows}, indent=2))
        elif not rows:
            print(f"no rayqa models registered in {reg.tracking_uri}; `rayqa models bootstrap` registers the "
                  "shipped weights (a scan that needs a model does so by itself)")
        else:
            print(f"registry {reg.tracking_uri}")
            print(format_models_table(rows))
        return EXIT_OK
    if args.models_command == "register":
        return _register_folder(reg, args.detector, Path(args.folder), args.promote)
    reg.promote(args.name, args.version)
    print(f"{args.name if args.name.startswith('rayqa-') else 'rayqa-' + args.name}@champion → version {args.version}")
    return EXIT_OK


_HEADLINE = ("auc", "balanced_accuracy", "false_alarm", "false_positive", "precision", "recall", "accuracy")


def _headline(metrics: dict, n: int = 3) -> str:
    """A version's few headline metrics: AUC, balanced accuracy, false alarms... (not per-class recalls)."""
    picked = []
    for word in _HEADLINE:
        for k, v in metrics.items():
            if word in k and k not in picked and not k.startswith("val_recall_") and len(picked) < n:
                picked.append(k)
    return ", ".join(f"{k.removeprefix('val_')} {metrics[k]:g}" for k in picked) or "-"


def format_models_table(rows: list[dict]) -> str:
    def origin(r):
        if r.get("origin") == "train" and r.get("run_id"):
            return f"train run {r['run_id']}"
        return r.get("origin") or "-"

    table = [("MODEL", "REGISTERED (UTC)", "FROM", "EXPERIMENTAL", "METRICS")]
    for r in rows:
        alias = f" @{','.join(r['aliases'])}" if r["aliases"] else ""
        exp = {True: "yes", False: "no"}.get(r.get("experimental"), "?")
        when = (r.get("registered_at") or "-").replace("T", " ").removesuffix("Z")
        table.append((f"{r['name']} v{r['version']}{alias}", when, origin(r), exp, _headline(r.get("metrics") or {})))
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]) - 1)]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths)) + "  " + row[-1] for row in table)


def _register_folder(reg, detector: str, folder: Path, promote: bool) -> int:
    """A user's model folder (e.g. av_sync with the original syncnet_v2.model) into the registry:
    refused unless the detector loads it."""
    from rayqa.detectors import REGISTRY, UnknownDetector
    from rayqa.loading import verify
    from rayqa.registry import RegistryError

    if detector not in REGISTRY or REGISTRY[detector].pool != "model":
        raise UnknownDetector(f"{detector} is not a detector with a model; ones with: "
                              f"{', '.join(n for n, c in REGISTRY.items() if c.pool == 'model')}")
    if not (folder / "model.json").is_file():
        raise FileNotFoundError(f"not found: {folder / 'model.json'} (a model folder holds model.json and its weights)")
    det = REGISTRY[detector]()
    try:
        verify(det, folder)
    except RegistryError:
        raise
    except Exception as e:
        raise RegistryError(f"{folder} does not load as a {detector} model: {type(e).__name__}: {e}") from e
    version = reg.register(detector, folder, tags={"rayqa.source": "user"}, alias=None)
    if promote:
        reg.promote(detector, version)
    print(f"registered rayqa-{detector} version {version}{' as @champion' if promote else ''}")
    return EXIT_OK


def cmd_detectors(args) -> int:
    from rayqa.detectors import REGISTRY, build

    described = []
    for det in build(list(REGISTRY)):
        d = det.describe()
        learned = det.pool == "model"
        d["kind"] = "learned" if learned else "dsp"
        d["runs_by_default"] = not det.experimental
        if learned:  # its weights: the registry's champion, resolved when a scan or the service starts
            d["model"], d["model_version"] = f"rayqa-{det.name}", "champion"
        described.append(d)
    print(json.dumps({"detectors": described}, indent=2, default=str))
    return EXIT_OK


def port_free(host: str, port: int) -> bool:
    import socket

    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def cmd_serve(args) -> int:
    import signal
    import time

    from rayqa.config import ConfigError, ScanConfig

    cfg = ScanConfig.load(args.config)
    cfg.build_detectors(args.detectors)  # refused before Ray starts (or is imported)
    from rayqa.serve import settings_from_env

    settings_from_env(cfg)  # bad environment values too
    if not 0 < args.port < 65536:
        raise ConfigError(f"--port must be in 1..65535, not {args.port}")
    if not port_free(args.host, args.port):
        raise ConfigError(f"port {args.port} on {args.host} is in use (another rayqa serve or program); "
                          "stop it or choose another with --port")

    from rayqa.raytools import ensure_ray
    from rayqa.serve import deploy

    ensure_ray(args.address)
    url = deploy(cfg, host=args.host, port=args.port, detectors=args.detectors)

    def stop(signum, frame):  # SIGTERM (a service manager, kill): a clean stop, not a stack dump
        raise KeyboardInterrupt

    serving = f"rayqa serving on {url} (docs: {url}/docs); POST {url}/v1/score"
    if args.detach:
        print(serving, flush=True)
        return EXIT_OK
    # After Ray's start, whose own handler prints a stack dump, and before we say we serve; the
    # line is printed inside the try, so a SIGTERM sent the moment it is read stops cleanly too.
    signal.signal(signal.SIGTERM, stop)
    try:
        print(serving, flush=True)
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        from ray import serve

        print("rayqa: stopping the service", file=sys.stderr, flush=True)
        serve.shutdown()
    return EXIT_OK


def cmd_evaluate(args) -> int:
    from rayqa.evaluate import evaluate_scan, format_table

    for path in (Path(args.findings) / "findings", Path(args.labels)):
        if not path.exists():
            raise FileNotFoundError(f"not found: {path}")
    defects = [d.strip() for d in args.defects.split(",")] if args.defects else None
    table = evaluate_scan(args.findings, args.labels, args.tolerance_s, defects)
    print(format_table(table))
    if args.json:
        table.to_json(args.json, orient="records", indent=2)
    return EXIT_OK


def cmd_report(args) -> int:
    from rayqa.policy import load_policy

    policy = load_policy(args.policy)  # refused (exit 2) before any work
    for folder in [args.scan_dir] + ([args.diff] if args.diff else []):
        for sub in ("items", "findings"):
            if not (Path(folder) / sub).is_dir():
                raise FileNotFoundError(f"not a scan folder (no {sub}/): {folder}")
    if args.evidence_per_defect < 0:
        from rayqa.config import ConfigError

        raise ConfigError("--evidence-per-defect must be >= 0")
    from rayqa.report import ReportOptions, build_report

    path = build_report(args.scan_dir, args.out, policy=policy, diff_against=args.diff,
                        options=ReportOptions(evidence_per_defect=args.evidence_per_defect))
    print(f"report: {path} ({path.stat().st_size / 1e6:.1f} MB)")
    return EXIT_OK


def cmd_diff(args) -> int:
    from rayqa.diff import diff_scans, format_diff, write_diff

    if args.out and Path(args.out).suffix.lower() not in (".csv", ".json", ".parquet"):
        from rayqa.config import ConfigError

        raise ConfigError(f"--out {args.out}: write .csv, .json or .parquet")
    if args.tolerance_s < 0:
        from rayqa.config import ConfigError

        raise ConfigError("--tolerance-s must be >= 0")
    d = diff_scans(args.scan_a, args.scan_b, args.tolerance_s)
    print(format_diff(d, limit=args.limit))
    if args.out:
        print(f"changes: {write_diff(d, args.out)}")
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from rayqa.config import ConfigError
    from rayqa.detectors import UnknownDetector
    from rayqa.home import HomeError
    from rayqa.manifest import ManifestError
    from rayqa.outdir_check import OutputError
    from rayqa.output import ScanMismatch
    from rayqa.registry import RegistryError
    from rayqa.simulate.labels import SimulationError

    try:
        if args.command == "scan":
            return cmd_scan(args)
        if args.command == "demo":
            from rayqa.demo import run_demo

            return run_demo(Path(args.workdir), address=args.address)
        if args.command == "models":
            return cmd_models(args)
        if args.command == "detectors":
            return cmd_detectors(args)
        if args.command == "evaluate":
            return cmd_evaluate(args)
        if args.command == "simulate":
            return cmd_simulate(args)
        if args.command == "train":
            return cmd_train(args)
        if args.command == "serve":
            return cmd_serve(args)
        if args.command == "report":
            return cmd_report(args)
        if args.command == "diff":
            return cmd_diff(args)
    except (ManifestError, UnknownDetector, ConfigError, OutputError, ScanMismatch, RegistryError, HomeError,
            FileNotFoundError, SimulationError) as e:
        print(f"rayqa: refused: {e}", file=sys.stderr)
        return EXIT_REFUSED
    except BrokenPipeError:  # `rayqa detectors | head`: the reader left; not an error of ours
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except KeyboardInterrupt:
        print("rayqa: interrupted; run the same command again to resume", file=sys.stderr)
        return EXIT_INTERNAL
    except Exception:
        traceback.print_exc()
        print("rayqa: internal error (see the traceback above)", file=sys.stderr)
        return EXIT_INTERNAL
    return EXIT_INTERNAL


def entry() -> None:
    """The ``rayqa`` command (and ``python -m rayqa.cli``): :func:`main`, then an exit that skips
    the interpreter's teardown.

    Everything of a normal exit that has an effect still happens, in the same order: threads that
    are not daemons are waited for, the atexit handlers run (Ray's shutdown of a local cluster,
    logging's flush, MLflow's, tempfile's clean-up) and standard output and error are flushed.
    What is skipped is freeing thousands of modules' objects one by one, which after a scan took
    about 1.4 s of a one-item scan's 12 (issue 22's fixed costs) and has no effect outside the
    process. In-process callers (the tests) call :func:`main`, which returns."""
    import atexit
    import os
    import threading

    rc = main()
    for t in threading.enumerate():
        if t is not threading.main_thread() and not t.daemon:
            t.join()
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe or stream: nothing more can reach it
            pass
    os._exit(rc)


if __name__ == "__main__":
    entry()
