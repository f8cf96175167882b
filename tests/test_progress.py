"""The progress line a person follows: what it says, and how often it says it."""

import io

from rayqa.progress import Progress, progress_line


def test_progress_line_says_items_content_rate_eta_and_findings():
    line = progress_line(done=250, total=1000, failed=3, content_s=9000, elapsed_s=60, findings=41)
    assert line == "scan: 250/1000 items (3 failed) · 2.50 h of content · 150 content-s/s · ETA 3m00s · 41 findings"
    assert "ETA -" in progress_line(0, 10, 0, 0, 1, 0) and "1 finding" in progress_line(1, 1, 0, 4, 1, 1)


class _Tty(io.StringIO):
    def isatty(self):
        return True


def test_a_log_gets_a_plain_line_per_interval_and_a_terminal_one_rewritten_line():
    log = io.StringIO()
    p = Progress(4, stream=log, interval_s=3600)
    p.update(1, 0, 10, 0)  # within the interval: nothing yet
    p.close(4, 1, 40, 2)
    assert log.getvalue().count("\n") == 1 and log.getvalue().startswith("scan: 4/4 items (1 failed)")
    tty = _Tty()
    p = Progress(4, stream=tty, tty_interval_s=0)
    for done in range(1, 5):
        p.update(done, 0, done * 10, 0)
    p.close(4, 0, 40, 0)
    text = tty.getvalue()
    assert text.count("\r") == 5 and text.endswith("\n") and text.count("\n") == 1


def test_disabled_progress_writes_nothing():
    out = io.StringIO()
    p = Progress(3, stream=out, enabled=False)
    p.update(1, 0, 1, 0, force=True)
    p.close(3, 0, 3, 0)
    assert out.getvalue() == ""
