"""The output folder, checked before any work starts (and before Ray starts).

A scan writes ``findings/``, ``items/``, ``run.json`` and ``scan.json`` into its folder, each
through a dot-named temporary file. Scanning into a folder that holds only those resumes the
scan there; anything else in it (a photo library, a source tree, a typo for another folder) is
refused rather than mixed with a scan's files, and so are folders the scan could not write.
"""

from __future__ import annotations

import os
from pathlib import Path

SCAN_ENTRIES = {"findings": "dir", "items": "dir", "run.json": "file", "scan.json": "file"}


class OutputError(ValueError):
    """The output folder is refused; the message says why."""


def _is_temp(name: str) -> bool:
    return name.startswith(".") and name.endswith(".tmp")


def _writable(p: Path) -> bool:
    return os.access(p, os.W_OK | os.X_OK)


def check_output_dir(path: str | os.PathLike) -> None:
    """Raise :class:`OutputError` unless ``path`` is a folder a scan can be written to: a new one
    (its nearest existing parent a writable folder), an empty one, or one that holds a scan.
    Creates nothing."""
    p = Path(path).expanduser()
    if p.is_symlink() and not p.exists():
        raise OutputError(f"output {p} is a broken symbolic link (to {os.readlink(p)})")
    if not p.exists():
        parent = p.absolute().parent
        while not parent.exists() and parent != parent.parent:
            parent = parent.parent
        if not parent.is_dir():
            raise OutputError(f"output {p} cannot be created: {parent} is a file, not a folder")
        if not _writable(parent):
            raise OutputError(f"output {p} cannot be created: {parent} is not writable")
        return
    if not p.is_dir():
        raise OutputError(f"output {p} exists and is a file, not a folder; give a folder (new or holding a scan)")
    if not _writable(p):
        raise OutputError(f"output folder {p} is not writable")
    entries = sorted(e.name for e in p.iterdir())
    foreign = [n for n in entries if n not in SCAN_ENTRIES and not _is_temp(n)]
    if foreign:
        shown = ", ".join(repr(n) for n in foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
        raise OutputError(f"output folder {p} is not empty and is not a rayqa scan (it holds {shown}); a scan folder "
                          "holds only findings/, items/, run.json and scan.json: give a new or empty folder")
    for name, kind in SCAN_ENTRIES.items():
        q = p / name
        if not q.exists() and not q.is_symlink():
            continue
        if kind == "dir" and not q.is_dir():
            raise OutputError(f"output folder {p}: {name} is a file, but a scan keeps its {name} there as a folder")
        if kind == "file" and not q.is_file():
            raise OutputError(f"output folder {p}: {name} is not a file")
        if kind == "dir" and not _writable(q):
            raise OutputError(f"output folder {p}: {name}/ is not writable")
