"""unmask: tell whether a face in a video was swapped or re-animated by AI, and show why.

    >>> from unmask import Scanner
    >>> report = Scanner().scan("clip.mp4")
    >>> report.label, report.score
"""

from typing import TYPE_CHECKING, Any

from unmask.config import ScanConfig
from unmask.errors import (
    ConfigError,
    EmptyInput,
    EnrolmentError,
    InputError,
    ManifestError,
    MediaTooLarge,
    MissingInput,
    ModelError,
    NotAFile,
    NoVideoStream,
    ProfileError,
    ReferenceModeError,
    UnmaskError,
    UnreadableInput,
    UnsupportedMedia,
)
from unmask.version import __version__

if TYPE_CHECKING:
    from unmask.pipeline import Scanner, scan
    from unmask.report.build import Report

# The scanner pulls in PyAV, mediapipe and dlib: load it on first use, so that light submodules
# (unmask_training.learned.train on a GPU machine that has torch but none of those) import on their own.
_LAZY = {"Scanner": "unmask.pipeline", "scan": "unmask.pipeline", "Report": "unmask.report.build"}


def __getattr__(name: str) -> Any:
    if name == "EnrollmentError":  # the old spelling, still importable, with a DeprecationWarning
        import warnings

        warnings.warn("unmask.EnrollmentError is now unmask.EnrolmentError", DeprecationWarning, stacklevel=2)
        return EnrolmentError
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'unmask' has no attribute {name!r}")

__all__ = [
    "__version__",
    "scan",
    "Scanner",
    "ScanConfig",
    "Report",
    "UnmaskError",
    "InputError",
    "MissingInput",
    "NotAFile",
    "UnreadableInput",
    "EmptyInput",
    "UnsupportedMedia",
    "NoVideoStream",
    "MediaTooLarge",
    "ConfigError",
    "ModelError",
    "ManifestError",
    "ReferenceModeError",
    "ProfileError",
    "EnrolmentError",
]
