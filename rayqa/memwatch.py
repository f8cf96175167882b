"""Peak memory of a scan's processes, sampled from /proc while a block runs.

Used by the benchmarks and the memory tests: ``ru_maxrss`` would count whatever ran before, and
Ray's workers are other processes. Ray worker processes are the ones whose command line names
``ray::`` (a task or actor) or ``default_worker.py`` (an idle worker); the raylet's resident memory
includes the object store's shared pages it has touched, so it stands in for object-store use.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path


_AGENTS = (b"ray::DashboardAgent", b"ray::RuntimeEnvAgent")  # per-node agents, not workers


def _rss(pid: str) -> int:
    return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class PeakMemory:
    """``with PeakMemory() as mem: ...`` then read the peaks, in bytes:

    - ``workers_total``: all Ray workers together; ``worker``: the largest single worker, and
      ``worker_name``: what it was running (its ``ray::`` title);
    - ``worker_growth``: the most any one worker grew over what it held when the block began
      (a worker Ray reuses may still hold what an earlier job left in its heap: that is not this
      block's; a worker started during the block grows from 0);
    - ``raylet``: the raylets (object-store pages included); ``driver``: this process.
    """

    def __init__(self, interval_s: float = 0.25):
        self.interval_s = interval_s
        self.workers_total = self.worker = self.raylet = self.driver = self.worker_growth = 0
        self.worker_name = ""
        self._start: dict[str, int] | None = None  # worker pid -> RSS at the first sample
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="rayqa-peak-memory")

    def sample(self) -> None:
        total = raylet = 0
        first = self._start is None
        if first:
            self._start = {}
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
                exe = cmd.split(b"\0")[0]
                if exe.endswith(b"/raylet"):  # its arguments name default_worker.py: test it first
                    raylet += _rss(pid)
                elif (exe.startswith(b"ray::") and exe not in _AGENTS) or b"default_worker.py" in cmd:
                    rss = _rss(pid)
                    total += rss
                    if first:
                        self._start[pid] = rss
                    self.worker_growth = max(self.worker_growth, rss - self._start.get(pid, 0))
                    if rss > self.worker:
                        self.worker = rss
                        self.worker_name = exe.decode(errors="replace")[:120]
            except (OSError, ValueError, IndexError):
                continue  # the process ended between listing and reading
        self.workers_total = max(self.workers_total, total)
        self.raylet = max(self.raylet, raylet)
        self.driver = max(self.driver, _rss("self"))

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval_s)

    def __enter__(self) -> "PeakMemory":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()
