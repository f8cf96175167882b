"""Resume: a second scan into the same folder does nothing; a deleted summary is scanned again, once."""

import hashlib
import json

import pandas as pd
import pyarrow.parquet as pq
import pytest

from conftest import write_manifest
from rayqa.pipeline import run_scan


def _snapshot(folder):
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*.parquet"))}


@pytest.fixture
def scanned(ray_local, clips, tmp_path):
    rows = [{"item_id": n, "uri": str(clips[n])} for n in ["clean", "black", "freeze", "silence", "damaged"]]
    manifest = write_manifest(tmp_path / "m.csv", rows)
    out = tmp_path / "out"
    first = run_scan(manifest, out)
    return manifest, out, first


def test_second_scan_does_no_work_and_changes_nothing(scanned):
    manifest, out, first = scanned
    before = _snapshot(out)
    second = run_scan(manifest, out)
    assert second.counts == {} and second.skipped == 5
    assert _snapshot(out) == before
    run = json.loads((out / "run.json").read_text())
    assert run["items"]["skipped_done"] == 5 and run["items"]["ok"] == 5


def test_deleted_summary_is_rescanned_once(scanned):
    manifest, out, first = scanned
    findings_before = pd.read_parquet(out / "findings")
    # Remove the "black" item's summary from whichever part holds it.
    for part in (out / "items").glob("part-*.parquet"):
        t = pq.read_table(part)
        ids = t.column("item_id").to_pylist()
        if "black" in ids:
            pq.write_table(t.filter(pd.Series(ids).ne("black").to_numpy()), part)
    second = run_scan(manifest, out)
    assert second.counts == {"ok": 1} and second.skipped == 4
    items = pd.read_parquet(out / "items")
    assert sorted(items["item_id"]) == ["black", "clean", "damaged", "freeze", "silence"]
    findings = pd.read_parquet(out / "findings")
    key = ["item_id", "defect", "start_s", "end_s"]
    assert not findings.duplicated(key).any()
    assert findings[key].sort_values(key).reset_index(drop=True).equals(
        findings_before[key].sort_values(key).reset_index(drop=True))
    black = findings[findings["item_id"] == "black"]
    assert list(black["defect"]) == ["black_frames"] and black["run_id"].iloc[0] == second.run_id


def test_rescan_starts_over(scanned):
    manifest, out, first = scanned
    again = run_scan(manifest, out, rescan=True)
    assert again.counts == {"ok": 5} and again.skipped == 0
    items = pd.read_parquet(out / "items")
    assert len(items) == 5 and set(items["run_id"]) == {again.run_id}


def test_orphan_findings_part_is_dropped(scanned):
    """A findings part whose items part never landed (a kill between the two writes) is ignored."""
    manifest, out, first = scanned
    findings = pd.read_parquet(out / "findings")
    orphan = findings.assign(item_id="ghost")
    orphan.to_parquet(out / "findings" / "part-deadbeef.parquet", index=False)
    run_scan(manifest, out)
    assert "ghost" not in set(pd.read_parquet(out / "findings")["item_id"])


def test_resume_with_other_detectors_or_parameters_is_refused(scanned):
    from rayqa.cli import main
    from rayqa.config import ScanConfig
    from rayqa.output import ScanMismatch

    manifest, out, first = scanned
    before = _snapshot(out)
    with pytest.raises(ScanMismatch, match="detectors .*--rescan"):
        run_scan(manifest, out, detectors="black_frames")
    cfg = ScanConfig().merged({"detectors": {"black_frames": {"pixel_threshold": 0.2}}})
    with pytest.raises(ScanMismatch, match="parameters of black_frames"):
        run_scan(manifest, out, config=cfg)
    assert main(["scan", "--manifest", str(manifest), "--output", str(out), "--detectors", "black_frames"]) == 2
    assert _snapshot(out) == before  # nothing was touched
    scan = json.loads((out / "scan.json").read_text())
    assert "black_frames" in scan["detectors"] and scan["params"]["black_frames"]["pixel_threshold"] == 0.1


def test_resume_with_other_detector_versions_is_refused(scanned, monkeypatch):
    """A detector whose version changed since the folder was scanned (an upgrade, a new champion)
    would leave the done items with the old version's findings: the resume is refused."""
    from rayqa.detectors.black_frames import BlackFrames
    from rayqa.output import ScanMismatch

    manifest, out, first = scanned
    before = _snapshot(out)
    scan = json.loads((out / "scan.json").read_text())
    old = scan["versions"]["black_frames"]
    assert old == BlackFrames.version and set(scan["versions"]) == set(scan["detectors"])
    monkeypatch.setattr(BlackFrames, "version", old + "-next")
    with pytest.raises(ScanMismatch, match=f"versions of black_frames {old} → {old}-next.*--rescan"):
        run_scan(manifest, out)
    assert _snapshot(out) == before  # nothing was touched
    again = run_scan(manifest, out, rescan=True)  # the way out the message names
    assert again.counts == {"ok": 5}
    assert json.loads((out / "scan.json").read_text())["versions"]["black_frames"] == old + "-next"


def test_folder_without_recorded_versions_is_checked_against_its_run_json(scanned, monkeypatch):
    """A folder scanned before scan.json held versions: run.json's detector versions stand in."""
    from rayqa.detectors.black_frames import BlackFrames
    from rayqa.output import ScanMismatch

    manifest, out, first = scanned
    scan = json.loads((out / "scan.json").read_text())
    del scan["versions"]
    (out / "scan.json").write_text(json.dumps(scan))
    assert run_scan(manifest, out).skipped == 5  # same versions: resumed
    scan = json.loads((out / "scan.json").read_text())
    del scan["versions"]
    (out / "scan.json").write_text(json.dumps(scan))
    monkeypatch.setattr(BlackFrames, "version", BlackFrames.version + "-next")
    with pytest.raises(ScanMismatch, match="versions of black_frames"):
        run_scan(manifest, out)
    (out / "run.json").unlink()  # nothing to tell the versions by: resumed as before
    assert run_scan(manifest, out).skipped == 5


def test_retry_failed_scans_only_the_failed_items_again(ray_local, clips, tmp_path):
    missing = tmp_path / "late.mp4"
    rows = [{"item_id": "clean", "uri": str(clips["clean"])}, {"item_id": "late", "uri": str(missing)}]
    manifest = write_manifest(tmp_path / "m.csv", rows)
    out = tmp_path / "out"
    first = run_scan(manifest, out)
    assert first.counts == {"ok": 1, "failed": 1}
    assert run_scan(manifest, out).counts == {}  # a plain resume leaves failed items alone
    missing.write_bytes(clips["black"].read_bytes())  # the file arrives
    again = run_scan(manifest, out, retry_failed=True)
    assert again.counts == {"ok": 1} and again.skipped == 1
    items = pd.read_parquet(out / "items").set_index("item_id")
    assert len(items) == 2 and items.loc["late", "status"] == "ok" and items.loc["clean", "run_id"] == first.run_id
    findings = pd.read_parquet(out / "findings")
    assert list(findings[findings["item_id"] == "late"]["defect"]) == ["black_frames"]
