"""rayqa: audiovisual quality control for video catalogues on Ray."""

__version__ = "0.7.0"
