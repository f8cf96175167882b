"""Where rayqa keeps local state: the embedded MLflow store and its artifacts, training data,
trained models. ``$RAYQA_HOME`` when set, else ``~/.rayqa`` of the user the process runs as (a Ray
job included: its workers use their user's home unless the job's env sets ``RAYQA_HOME``), so the
registry and the runs do not scatter across working directories. Until 0.4 it was ``./.rayqa``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

_warned = False


class HomeError(RuntimeError):
    """The local state folder cannot be used; the message says why and what to set."""


def default_home() -> Path:
    return Path(os.path.expanduser("~")) / ".rayqa"


def rayqa_home(create: bool = True) -> Path:
    """The local state folder (created unless ``create`` is false)."""
    given = os.environ.get("RAYQA_HOME")
    home = Path(given).expanduser().resolve() if given else default_home().resolve()
    if not given:
        _notice_old_store(home)
    if create:
        try:
            home.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise HomeError(f"cannot create rayqa's local state folder {home}: {e.strerror or e}; "
                            "set RAYQA_HOME to a writable folder") from None
    return home


def _notice_old_store(home: Path) -> None:
    """Say once where a store made by rayqa <= 0.4 in the working directory went."""
    global _warned
    old = Path.cwd() / ".rayqa"
    if _warned or old.resolve() == home or not (old / "mlflow.db").is_file():
        return
    _warned = True
    print(f"rayqa: local state now lives in {home} (not ./.rayqa); to keep using the store in {old}, "
          f"set RAYQA_HOME={old}", file=sys.stderr)
