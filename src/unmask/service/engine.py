"""The seam between the service and the scanner: one method, ``scan``.

Workers call ``engine.scan(path, overrides, progress)`` and get a
:class:`~unmask.report.build.Report`. :class:`ScannerEngine` is the real pipeline;
tests pass a stub with the same method so the queue, API and web app can be
tested in milliseconds. An engine factory is any picklable callable
``factory(config) -> engine`` (process workers build their own).
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path
from typing import Any, Callable, Mapping, Protocol

from unmask.config import ScanConfig
from unmask.report.build import Report

Progress = Callable[[str, float], None]


class ScanEngine(Protocol):
    def scan(self, path: Path, overrides: Mapping[str, Any], progress: Progress) -> Report:
        """Scan one file with the server's settings plus ``overrides``; raise ``UnmaskError`` for bad input."""
        ...


EngineFactory = Callable[[ScanConfig], ScanEngine]


def merged_config(base: ScanConfig, overrides: Mapping[str, Any]) -> ScanConfig:
    """The server's configuration with a request's dotted overrides on top, validated (``ConfigError``)."""
    if not overrides:
        return base
    flat = _flatten(base.to_dict())
    flat.update(overrides)
    return ScanConfig.from_flat(flat)


def _flatten(d: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, Mapping):
            out.update(_flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


class ScannerEngine:
    """The real pipeline. Keeps a Scanner (loaded models) per distinct configuration, the two most recent."""

    MAX_SCANNERS = 2

    def __init__(self, config: ScanConfig) -> None:
        self.config = config
        self._scanners: OrderedDict[str, Any] = OrderedDict()

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
        """Load the default configuration's models before the first scan arrives."""
        self._scanner(self.config).load()

    def scan(self, path: Path, overrides: Mapping[str, Any], progress: Progress) -> Report:
        scanner = self._scanner(merged_config(self.config, overrides))
        report: Report = scanner.scan(path, progress=progress)
        return report

    def settings_for(self, overrides: Mapping[str, Any]) -> dict[str, Any]:
        return merged_config(self.config, overrides).to_dict()
