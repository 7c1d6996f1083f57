"""unmask: tell whether a face in a video was swapped or re-animated by AI, and show why."""

__version__ = "0.1.0"
