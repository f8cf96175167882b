"""Fault injection for resilience tests and drills: off unless ``RAYQA_FAULTS`` is set.

A scan must survive a worker that dies on one item, a node that disappears and a driver that is
killed between two writes. Those are hard to cause on purpose with real media, so the pipeline
calls :func:`inject` at a few points and this module acts when the environment asks it to.
``RAYQA_FAULTS`` is a comma-separated list of ``ACTION@POINT[:ARG]`` rules:

    crash@decode:poison     the process decoding a window of an item whose id contains "poison"
                            dies at once (SIGKILL, as a decoder segfault or an OOM kill would)
    crash@detect:poison     the same in a detector actor
    sleep@decode:0.3        every decode batch takes 0.3 s longer (a test can then kill a scan
                            part-way)
    kill@commit:3           the driver dies (SIGKILL) on its 3rd commit, after the findings part is
                            written and before the item summaries that make it count

Ray workers inherit the variable from the process that starts the cluster (``ray start`` or the
driver of an embedded local Ray); ``ray job submit --runtime-env-json`` can set it per job.
"""

from __future__ import annotations

import os
import signal
import time

_commits = 0


def _rules() -> list[tuple[str, str, str]]:
    spec = os.environ.get("RAYQA_FAULTS", "")
    rules = []
    for part in filter(None, (p.strip() for p in spec.split(","))):
        action, _, rest = part.partition("@")
        point, _, arg = rest.partition(":")
        rules.append((action, point, arg))
    return rules


def inject(point: str, item_ids=()) -> None:
    """Act on the rules for ``point`` (``decode``, ``detect``, ``commit``) and these items."""
    global _commits
    rules = [r for r in _rules() if r[1] == point]
    if not rules:
        return
    if point == "commit":
        _commits += 1
    for action, _, arg in rules:
        if action == "crash" and arg and any(arg in str(i) for i in item_ids):
            os.kill(os.getpid(), signal.SIGKILL)
        elif action == "sleep":
            time.sleep(float(arg or 0.1))
        elif action == "kill" and point == "commit" and _commits == int(arg or 1):
            os.kill(os.getpid(), signal.SIGKILL)
