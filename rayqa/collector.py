"""The driver's side of a scan: window rows in, each finished item merged and committed.

Holds only items in flight, so driver memory does not grow with the catalogue. An item is
finished (merged by :func:`rayqa.runner.finish`) once all its windows are in; a window delivered
twice (a retried task) counts once.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field

from rayqa import runner
from rayqa.detectors.base import Detector
from rayqa.output import OutputDir
from rayqa.types import ItemInfo


@dataclass
class _ItemState:
    n_windows: int
    uri: str
    info: ItemInfo | None = None
    seen: set = field(default_factory=set)
    hits: list = field(default_factory=list)
    errors: list = field(default_factory=list)
    work_s: float = 0.0


class Collector:
    def __init__(self, out: OutputDir, detectors: list[Detector], run_id: str, passthrough: dict[str, dict],
                 commit_every: int, captions: dict[str, str | None] | None = None, progress=None, policy=None):
        self.out, self.run_id, self.passthrough, self.commit_every = out, run_id, passthrough, commit_every
        self.detectors = {d.name: d for d in detectors}
        self.captions = captions or {}
        self.progress = progress  # a rayqa.progress.Progress, or None
        self.policy = policy  # a rayqa.policy.Policy: findings it says are intentional are kept, suppressed
        self.state: dict[str, _ItemState] = {}
        self.pending_findings: list[dict] = []
        self.pending_items: list[dict] = []
        self.finished: set[str] = set()
        self.counts: Counter = Counter()
        self.by_defect: Counter = Counter()
        self.content_s = 0.0
        self.lost: dict[str, tuple[int, int]] = {}  # item → (windows seen, windows) when a pass lost some
        self.stage_s: dict[str, float] = {}  # Ray Data operator → task wall seconds (run.json)
        self.profile: Counter = Counter()  # phase → seconds, summed over windows (run.json)
        self.fixed: dict[str, float] = {}  # the run's one-off costs, set by the scan (run.json)

    def add(self, row: dict) -> None:
        """One window row (objects, as :func:`rayqa.stages.from_frame` gives them)."""
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
        self.profile.update(row.get("profile") or {})
        st.info = st.info or row["info"]
        st.work_s += float(row["work_s"])
        if row["error"]:
            st.errors.append(row["error"])
        else:
            st.hits.extend(row["hits"])
        if len(st.seen) >= st.n_windows:
            self._finish(item_id, self.state.pop(item_id))
        self.report()

    def report(self, final: bool = False) -> None:
        if self.progress is not None:
            args = (sum(self.counts.values()), self.counts.get("failed", 0), self.content_s, sum(self.by_defect.values()))
            self.progress.close(*args) if final else self.progress.update(*args)

    def _finish(self, item_id: str, st: _ItemState, error: str | None = None) -> None:
        error = error or (st.errors[0] if st.errors else None)
        started = time.perf_counter()
        result = runner.finish(self.run_id, item_id, st.uri, st.info, error, st.hits, self.detectors, st.work_s,
                               captions_uri=self.captions.get(item_id), extra=self.passthrough.get(item_id, {}))
        if self.policy is not None and result.findings:
            result.findings = suppressed(result.findings, result.summary, self.policy)
        self.profile["merge"] += time.perf_counter() - started
        self.pending_findings.extend(result.findings)
        self.pending_items.append(result.summary)
        self.finished.add(item_id)
        self.counts[result.summary["status"]] += 1
        self.by_defect.update(f["defect"] for f in result.findings)
        if st.info and not error:
            self.content_s += st.info.duration_s
        if len(self.pending_items) >= self.commit_every:
            self.flush()

    def flush(self) -> None:
        if self.pending_items:
            started = time.perf_counter()
            self.out.commit(self.pending_findings, self.pending_items)
            self.profile["commit"] += time.perf_counter() - started
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
        self.report(final=True)


def suppressed(findings: list[dict], summary: dict, policy) -> list[dict]:
    """An item's finding rows with the policy's ``suppressed`` / ``suppressed_by`` set."""
    import pandas as pd

    from rayqa.policy import apply_policy

    applied = apply_policy(pd.DataFrame(findings), pd.DataFrame([summary]), policy)
    for row, flag, rule in zip(findings, applied["suppressed"], applied["suppressed_by"]):
        row["suppressed"], row["suppressed_by"] = bool(flag), (rule if isinstance(rule, str) else None)
    return findings
