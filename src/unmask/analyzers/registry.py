"""Builds the analyzers a configuration names. No import-time registration.

The one list of analyzers is :data:`unmask.config.ALL_ANALYZERS`; analyzer ``NAME`` is the one
:class:`~unmask.analyzers.base.Analyzer` subclass named ``NAME`` in module ``unmask.analyzers.NAME``,
imported only when the analyzer is used. A new analyzer: its module, and its name in that list.
"""

from __future__ import annotations

from importlib import import_module

from unmask.analyzers.base import Analyzer
from unmask.config import ALL_ANALYZERS, ScanConfig
from unmask.errors import ConfigError


def analyzer_class(name: str) -> type[Analyzer]:
    """The named analyzer's class (its module imported now, not before)."""
    if name not in ALL_ANALYZERS:
        raise ConfigError(f"unknown analyzer {name!r}; known: {sorted(ALL_ANALYZERS)}")
    module = import_module(f"unmask.analyzers.{name}")
    found = [obj for obj in vars(module).values()
             if isinstance(obj, type) and issubclass(obj, Analyzer) and obj.__module__ == module.__name__
             and getattr(obj, "name", None) == name]
    if len(found) != 1:
        raise ConfigError(f"module {module.__name__} must define one analyzer named {name!r}, found {len(found)}")
    return found[0]


def build_analyzers(config: ScanConfig) -> list[Analyzer]:
    """The configured analyzers (not yet loaded), in the configured order, each given its settings."""
    return [analyzer_class(name).from_config(config) for name in config.analyzers]
