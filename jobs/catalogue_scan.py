"""Ray job entry point for a catalogue scan; takes the same arguments as ``rayqa scan``.

    python jobs/catalogue_scan.py --manifest M --output DIR          # local Ray, no cluster needed
    ray job submit --working-dir . -- python jobs/catalogue_scan.py --manifest /abs/M --output /abs/DIR

Under ``ray job submit`` the job runs in an unpacked copy of the working dir, so give absolute paths.
"""

import sys
from pathlib import Path

# The working dir holds the package; make it importable even where rayqa is not installed.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rayqa.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(["scan", *sys.argv[1:]]))
