"""Every error unmask raises on purpose.

Library code raises these, never prints or exits; the CLI turns them into
one line naming the file and what is wrong.

    UnmaskError
    ├── InputError                  the input cannot be scanned
    │   ├── MissingInput            path does not exist
    │   ├── NotAFile                a directory or a device, not a media file
    │   ├── UnreadableInput         permissions or I/O error
    │   ├── EmptyInput              0 bytes
    │   ├── UnsupportedMedia        not a container/codec we can decode (text, truncated, ...)
    │   ├── NoVideoStream           audio only, or no picture at all
    │   └── MediaTooLarge           frames beyond the configured pixel limit
    ├── ConfigError                 a bad setting (file, env or flag)
    ├── ModelError                  shipped weights/coefficients missing or corrupt
    ├── ManifestError               a benchmark manifest that cannot be read
    ├── ProvenanceError             a bad provenance setting (a bad file's credentials are a finding, not an error)
    ├── BatchError                  a batch's output folder (index, reports) cannot be read or written
    ├── StoreError                  the database of scans and people cannot be opened or used
    │   ├── UnknownScan             no scan with that id
    │   ├── UnknownEnrolment        no enrolment request with that id (the service's queue)
    │   └── UnknownPerson           no enrolled person with that name (or version)
    └── ReferenceModeError          reference mode: enrolling people, checking a claim
        ├── ProfileError            a person profile that cannot be read (damaged, wrong format, bad name)
        └── EnrolmentError          enrolment footage too little or inconsistent to build a profile
"""

from __future__ import annotations

from pathlib import Path


class UnmaskError(Exception):
    """Base class: catch this to handle anything unmask raises on purpose."""


class InputError(UnmaskError):
    """The input cannot be scanned. Carries the path for one-line messages."""

    def __init__(self, path: str | Path, problem: str) -> None:
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class MissingInput(InputError):
    pass


class NotAFile(InputError):
    pass


class UnreadableInput(InputError):
    pass


class EmptyInput(InputError):
    pass


class UnsupportedMedia(InputError):
    pass


class NoVideoStream(InputError):
    pass


class MediaTooLarge(InputError):
    pass


class ConfigError(UnmaskError):
    pass


class ModelError(UnmaskError):
    pass


class ManifestError(UnmaskError):
    pass


class ProvenanceError(UnmaskError):
    pass


class BatchError(UnmaskError):
    pass


class StoreError(UnmaskError):
    pass


class UnknownScan(StoreError):
    def __init__(self, scan_id: str) -> None:
        self.scan_id = scan_id
        super().__init__(f"no scan with id {scan_id!r}")


class UnknownEnrolment(StoreError):
    def __init__(self, enrolment_id: str) -> None:
        self.enrolment_id = enrolment_id
        super().__init__(f"no enrolment with id {enrolment_id!r}")


class UnknownPerson(StoreError):
    def __init__(self, name: str, version: int | None = None) -> None:
        self.name = name
        self.version = version
        what = f"{name!r} version {version}" if version is not None else repr(name)
        super().__init__(f"no enrolled person {what}")


class ReferenceModeError(UnmaskError):
    """Reference mode: enrolling people and checking a video against a claimed person."""


class ProfileError(ReferenceModeError):
    pass


class EnrolmentError(ReferenceModeError):
    pass


# Old spellings: still importable, with a DeprecationWarning, so callers can move at their own pace.
_RENAMED = {"EnrollmentError": "EnrolmentError"}


def __getattr__(name: str) -> type[UnmaskError]:
    if name in _RENAMED:
        import warnings

        new = _RENAMED[name]
        warnings.warn(f"unmask.errors.{name} is now {new}", DeprecationWarning, stacklevel=2)
        cls: type[UnmaskError] = globals()[new]
        return cls
    raise AttributeError(f"module 'unmask.errors' has no attribute {name!r}")
