"""Ray at the edges: connecting, and reading a finished dataset's stage timings."""

from __future__ import annotations

import logging
import os


def ensure_ray(address: str | None = None) -> None:
    """Connect to ``address`` (``auto`` for a running ``ray start`` cluster) or ``RAY_ADDRESS`` (set
    under ``ray job submit``); with neither, start an embedded local Ray.

    A plain ``ray.init()`` would instead join whatever cluster ``/tmp/ray/ray_current_cluster``
    names, and wait minutes on a stale one."""
    import ray

    if ray.is_initialized():
        return
    # Ray 2.60 warns at every start that token authentication is on (it is our choice, and the
    # README says how it works); real authentication errors are still logged.
    logging.getLogger("ray._private.authentication.authentication_token_setup").setLevel(logging.ERROR)
    address = address or os.environ.get("RAY_ADDRESS") or "local"
    kwargs = dict(address=address, logging_level=logging.WARNING, log_to_driver=True)
    if address == "local":
        kwargs["include_dashboard"] = False
    ray.init(**kwargs)


def stage_seconds(ds, pools: list[tuple[str, ...]]) -> dict[str, float]:
    """Seconds of task/actor wall time per stage of a finished dataset (planning, decode, each
    detector pool by its detectors' names, in plan order), from Ray Data's own stats; empty if this
    Ray does not offer them."""
    try:
        summary = ds._get_stats_summary()  # a private API: timing is a report, never a reason to fail
    except Exception:
        return {}
    ops = []

    def walk(node) -> None:  # earlier stages live in the parents' summaries
        for parent in getattr(node, "parents", None) or []:
            walk(parent)
        ops.extend(getattr(node, "operators_stats", None) or [])

    walk(summary)
    pools = list(pools)
    out: dict[str, float] = {}
    for op in ops:
        if op.wall_time is None:
            continue
        name = op.operator_name
        if "DetectStage" in name and pools:
            name = "detect:" + "+".join(pools.pop(0))
        elif "decode_batch" in name:
            name = "decode"
        elif "plan_item" in name:
            name = "plan"
        elif "Repartition" in name:
            name = "split"
        out[name] = round(out.get(name, 0.0) + float(op.wall_time.sum), 3)
    return out
