"""unmask: tell whether a face in a video was swapped or re-animated by AI, and show why.

    >>> from unmask import Scanner
    >>> report = Scanner().scan("clip.mp4")
    >>> report.label, report.score
"""

__version__ = "0.1.0"

from unmask.config import ScanConfig  # noqa: E402
from unmask.errors import (  # noqa: E402
    ConfigError,
    EmptyInput,
    EnrollmentError,
    InputError,
    ManifestError,
    MediaTooLarge,
    MissingInput,
    ModelError,
    NoVideoStream,
    NotAFile,
    ProfileError,
    ReferenceModeError,
    UnmaskError,
    UnreadableInput,
    UnsupportedMedia,
)
from unmask.report.build import Report  # noqa: E402
from unmask.pipeline import Scanner, scan  # noqa: E402

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
    "EnrollmentError",
]
