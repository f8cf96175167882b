"""Look at a report as a person would: headless Chromium (Debian's ``chromium``) renders it to a
screenshot or dumps its DOM after the page's scripts ran. For tests and the benchmark; the report
itself needs no browser to be made."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
         "--disable-extensions", "--mute-audio")


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


def _run(args: list[str], timeout_s: float) -> tuple[subprocess.CompletedProcess, float]:
    exe = find_chromium()
    if exe is None:
        raise FileNotFoundError("chromium not found (apt-get install -y chromium)")
    with tempfile.TemporaryDirectory(prefix="rayqa-chromium-") as profile:
        t0 = time.perf_counter()
        proc = subprocess.run([exe, *FLAGS, f"--user-data-dir={profile}", *args], capture_output=True,
                              timeout=timeout_s, env={**os.environ, "HOME": profile})
        return proc, time.perf_counter() - t0


def dump_dom(page: str | os.PathLike, timeout_s: float = 120) -> tuple[str, float]:
    """(the DOM after the page's scripts ran, seconds Chromium took from start to exit)."""
    proc, wall = _run(["--dump-dom", Path(page).resolve().as_uri()], timeout_s)
    if proc.returncode != 0 or not proc.stdout:
        raise RuntimeError(f"chromium --dump-dom failed ({proc.returncode}): {proc.stderr.decode()[-800:]}")
    return proc.stdout.decode("utf-8", "replace"), wall


def screenshot(page: str | os.PathLike, png: str | os.PathLike, width: int = 1400, height: int = 2000,
               timeout_s: float = 120) -> float:
    """Render ``page`` to ``png``; returns the seconds Chromium took."""
    png = Path(png).resolve()
    png.unlink(missing_ok=True)
    proc, wall = _run([f"--screenshot={png}", f"--window-size={width},{height}", Path(page).resolve().as_uri()],
                      timeout_s)
    if not png.is_file():
        raise RuntimeError(f"chromium --screenshot wrote nothing ({proc.returncode}): {proc.stderr.decode()[-800:]}")
    return wall
