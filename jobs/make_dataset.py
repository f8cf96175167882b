"""Ray job entry point for dataset generation; the same code path and arguments as ``rayqa simulate``.

    python jobs/make_dataset.py --output /abs/data/train --items 2000 --seed 0
    ray job submit --working-dir . -- python jobs/make_dataset.py --output /abs/data/train --items 2000
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rayqa.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(["simulate", *sys.argv[1:]]))
