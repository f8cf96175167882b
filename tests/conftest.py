import os
import tempfile
from pathlib import Path

import pytest

# Every test session gets its own embedded MLflow store, never the developer's .rayqa/.
os.environ.setdefault("RAYQA_HOME", tempfile.mkdtemp(prefix="rayqa-test-home-"))
os.environ.pop("MLFLOW_TRACKING_URI", None)
os.environ.pop("RAY_ADDRESS", None)

from rayqa.synth import ClipSpec, corrupt_video_packets, write_clip  # noqa: E402

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def ray_local():
    """One real local Ray for the session (2 CPUs, like the machine CI runs on)."""
    import ray

    # address="local": never join a cluster that /tmp/ray/ray_current_cluster names.
    ray.init(address="local", num_cpus=2, include_dashboard=False, logging_level="WARNING")
    yield ray
    ray.shutdown()


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="session")
def clips(media_dir) -> dict[str, Path]:
    """Real H.264/AAC clips with defects at known times (truth in the name's spec)."""
    specs = {
        "clean": ClipSpec(duration_s=12),
        "black": ClipSpec(duration_s=12, black=[(3.0, 6.0)]),
        "freeze": ClipSpec(duration_s=12, freeze=[(5.0, 8.5)]),
        "silence": ClipSpec(duration_s=12, silence=[(2.0, 5.0)]),
        "mismatch": ClipSpec(duration_s=12, audio_duration_s=10.0),
        "audio_only": ClipSpec(duration_s=8, video=False),
        "video_only": ClipSpec(duration_s=8, audio=False, black=[(2.0, 4.5)]),
        "faststart": ClipSpec(duration_s=12, faststart=True),
    }
    out = {name: write_clip(media_dir / f"{name}.mp4", spec) for name, spec in specs.items()}
    out["damaged"] = media_dir / "damaged.mp4"
    corrupt_video_packets(out["clean"], out["damaged"], 4.0, 5.0)
    return out


def write_manifest(path: Path, rows: list[dict]) -> Path:
    import pandas as pd

    pd.DataFrame(rows).to_csv(path, index=False)
    return path
