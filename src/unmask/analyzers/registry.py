"""The explicit list of analyzers. No import-time registration: add a line here."""

from __future__ import annotations

from importlib import import_module

from unmask.analyzers.base import Analyzer
from unmask.errors import ConfigError

#: name -> (module, class); modules are imported only when the analyzer is used
ANALYZERS: dict[str, tuple[str, str]] = {
    "blend_boundary": ("unmask.analyzers.blend_boundary", "BlendBoundaryAnalyzer"),
    "head_pose": ("unmask.analyzers.head_pose", "HeadPoseAnalyzer"),
    "temporal": ("unmask.analyzers.temporal", "TemporalAnalyzer"),
    "glitches": ("unmask.analyzers.glitches", "GlitchAnalyzer"),
    "blinks": ("unmask.analyzers.blinks", "BlinkAnalyzer"),
    "blend_cnn": ("unmask.analyzers.blend_cnn", "BlendCNNAnalyzer"),
    "av_sync": ("unmask.analyzers.av_sync", "AVSyncAnalyzer"),
    "animation": ("unmask.analyzers.animation", "AnimationAnalyzer"),
}


def analyzer_class(name: str) -> type[Analyzer]:
    """The named analyzer's class (its module imported now, not before)."""
    if name not in ANALYZERS:
        raise ConfigError(f"unknown analyzer {name!r}; known: {sorted(ANALYZERS)}")
    module, cls = ANALYZERS[name]
    return getattr(import_module(module), cls)  # type: ignore[no-any-return]


def build_analyzers(names: tuple[str, ...] | list[str]) -> list[Analyzer]:
    """Instantiate the named analyzers (not yet loaded), in the order given."""
    return [analyzer_class(name)() for name in names]
