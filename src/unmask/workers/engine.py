"""The seam between the workers (service and batch) and the scanner: ``scan``, and ``enroll`` for reference mode.

Workers call ``engine.scan(path, overrides, progress, claims=profile)`` and get a
:class:`~unmask.report.build.Report`, and ``engine.enroll(name, files, progress)``
for an enrolment (an :class:`~unmask.reference.enroll.Enrolment`). :class:`ScannerEngine`
is the real pipeline; tests pass a stub with the same methods so the queue, API and
web app can be tested in milliseconds. An engine factory is any picklable callable
``factory(config) -> engine`` (process workers build their own).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from unmask.config import ScanConfig
from unmask.report.build import Report

if TYPE_CHECKING:
    from unmask.reference.enroll import Enrolment
    from unmask.reference.profile import PersonProfile

Progress = Callable[[str, float], None]

#: imported by the scanner at first use, not when it loads (~0.4-1 s each): a voice, several faces, a warped still
LAZY_LIBRARIES = ("scipy.signal", "scipy.optimize", "scipy.spatial")


class ScanEngine(Protocol):
    def scan(self, path: Path, overrides: Mapping[str, Any], progress: Progress,
             claims: PersonProfile | None = None) -> Report:
        """Scan one file with the server's settings plus ``overrides`` (checked against ``claims`` when given);
        raise ``UnmaskError`` for bad input."""
        ...

    def enroll(self, name: str, files: Sequence[tuple[Path, str]], progress: Progress) -> Enrolment:
        """Build ``name``'s profile from ``files`` ((server path, the client's name) each); ``EnrolmentError``
        when the footage cannot support one."""
        ...


EngineFactory = Callable[[ScanConfig], ScanEngine]


class ScannerEngine:
    """The real pipeline. Keeps a Scanner (loaded models) per distinct configuration, the two most recent."""

    MAX_SCANNERS = 2

    def __init__(self, config: ScanConfig) -> None:
        self.config = config
        self._scanners: OrderedDict[str, Any] = OrderedDict()
        self._enroller: Any = None

    def _scanner(self, config: ScanConfig) -> Any:
        from unmask.pipeline import Scanner

        key = config.digest()
        if key in self._scanners:
            self._scanners.move_to_end(key)
        else:
            self._scanners[key] = Scanner(config)
            while len(self._scanners) > self.MAX_SCANNERS:
                self._scanners.popitem(last=False)
        return self._scanners[key]

    def load(self) -> None:
        """Load the default configuration's models, and import what some files need, before the first scan
        arrives: a worker's first file then costs what the later ones do."""
        self._scanner(self.config).load()
        for name in LAZY_LIBRARIES:
            import_module(name)

    def scan(self, path: Path, overrides: Mapping[str, Any], progress: Progress,
             claims: PersonProfile | None = None) -> Report:
        scanner = self._scanner(self.config.with_overrides(overrides))
        report: Report = scanner.scan(path, progress=progress, claims=claims)
        return report

    def enroll(self, name: str, files: Sequence[tuple[Path, str]], progress: Progress) -> Enrolment:
        """Enrol with the server's settings; the enroller (face and embedding models) loads at the first enrolment."""
        if self._enroller is None:
            from unmask.reference.enroll import Enroller

            self._enroller = Enroller(self.config)
        result: Enrolment = self._enroller.enroll(name, [p for p, _ in files], progress, names=[n for _, n in files])
        return result

    def settings_for(self, overrides: Mapping[str, Any]) -> dict[str, Any]:
        return self.config.with_overrides(overrides).to_dict()
