"""What a person watching a scan sees: one live line on a terminal, a plain line every 30 s elsewhere.

    scan: 412/1000 items (3 failed) · 11.4 h of content · 128 content-s/s · ETA 4m10s · 37 findings

Ray's own per-operator progress logging is off unless ``--verbose`` asks for it
(:func:`quiet_ray_data`).
"""

from __future__ import annotations

import logging
import sys
import time
from typing import TextIO


def _duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}h{m:02d}m" if h else f"{m}m{s:02d}s" if m else f"{s}s"


def progress_line(done: int, total: int, failed: int, content_s: float, elapsed_s: float, findings: int) -> str:
    rate = content_s / elapsed_s if elapsed_s > 0 else 0.0
    eta = (total - done) * elapsed_s / done if done else None
    parts = [f"{done}/{total} items" + (f" ({failed} failed)" if failed else ""),
             f"{content_s / 3600:.2f} h of content" if content_s >= 360 else f"{content_s:.0f} s of content",
             f"{rate:.0f} content-s/s", f"ETA {_duration(eta)}" if eta is not None else "ETA -",
             f"{findings} finding{'s' if findings != 1 else ''}"]
    return "scan: " + " · ".join(parts)


class Progress:
    """Throttled progress reports: every ``tty_interval_s`` rewriting one line on a terminal, every
    ``interval_s`` a new line when the output is a log (CI, job logs)."""

    def __init__(self, total: int, stream: TextIO | None = None, interval_s: float = 30.0,
                 tty_interval_s: float = 0.5, enabled: bool = True):
        self.total, self.stream = total, stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.interval_s = tty_interval_s if self.tty else interval_s
        self.enabled = enabled and total > 0
        self.started = time.monotonic()
        self.last = self.started
        self.shown = ""

    def update(self, done: int, failed: int, content_s: float, findings: int, force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if not force and now - self.last < self.interval_s:
            return
        self.last = now
        line = progress_line(done, self.total, failed, content_s, now - self.started, findings)
        if self.tty:
            pad = max(0, len(self.shown) - len(line))
            self.stream.write("\r" + line + " " * pad)
        else:
            self.stream.write(line + "\n")
        self.stream.flush()
        self.shown = line

    def close(self, done: int, failed: int, content_s: float, findings: int) -> None:
        if not self.enabled:
            return
        self.update(done, failed, content_s, findings, force=True)
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()


def quiet_ray_data(verbose: bool) -> None:
    """Ray Data's progress bars and per-operator log lines are for debugging a plan, not for following
    a scan: off unless ``verbose``."""
    import ray

    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = verbose
    ctx.enable_operator_progress_bars = verbose
    ctx.print_on_execution_start = verbose
    for name in ("ray.data", "ray.data._internal.execution.streaming_executor"):
        logging.getLogger(name).setLevel(logging.INFO if verbose else logging.WARNING)
    # "Progress bars disabled. To enable ...": true, and what we asked for.
    logging.getLogger("ray.data._internal.progress").setLevel(logging.INFO if verbose else logging.ERROR)
