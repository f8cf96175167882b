"""What the block-corruption network can read, and the frames each input decodes: shared by the
network, the detector and its training (plain Python, no torch)."""

from __future__ import annotations

from rayqa.types import VideoSpec

# input -> (channels, architecture name): blur's full-range luma (the shipped release 2), or the
# Y, U and V planes as coded, sampled to the same grid (video_levels' kind of frames).
INPUTS = {"luma": (1, "luma-s8-map-v2"), "yuv": (3, "yuv-s8-map-v2")}


def check_input(input: str) -> None:
    if input not in INPUTS:
        raise ValueError(f"block_corruption: input must be {' or '.join(map(repr, INPUTS))}, got {input!r}")


def input_spec(input: str, fps: float, width: int, height: int) -> VideoSpec:
    """The frames a network of ``input`` reads, as the scan decodes them (training decodes the same)."""
    check_input(input)
    yuv = input == "yuv"
    return VideoSpec(fps=fps, width=width, height=height, gray=not yuv, raw=yuv)
