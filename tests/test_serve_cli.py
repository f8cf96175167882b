"""``rayqa serve`` as a person runs it: a port in use is one line and exit 2, SIGTERM a clean stop."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rayqa(*args, **kw):
    return subprocess.Popen([sys.executable, "-m", "rayqa.cli", *args], cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "RAY_ADDRESS": ""}, **kw)


def test_port_in_use_is_refused_in_one_line(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        p = _rayqa("serve", "--port", str(port))
        out, err = p.communicate(timeout=120)
    assert p.returncode == 2, (out, err)
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "in use" in lines[0] and str(port) in lines[0], err
    assert "Traceback" not in err


def test_sigterm_stops_cleanly(tmp_path):
    port = _free_port()
    p = _rayqa("serve", "--port", str(port), "--detectors", "black_frames")
    started = time.monotonic()
    line = ""
    while time.monotonic() - started < 240:
        line = p.stdout.readline()
        if "serving on" in line or p.poll() is not None:
            break
    assert "serving on" in line, (line, p.stderr.read() if p.poll() is not None else "")
    p.send_signal(signal.SIGTERM)
    out, err = p.communicate(timeout=120)
    assert p.returncode == 0, err[-2000:]
    assert "Traceback" not in err and "stopping the service" in err
