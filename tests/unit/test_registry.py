"""The one list of analyzers (config.ALL_ANALYZERS) and the registry that builds them."""

import pytest

from unmask.analyzers.registry import analyzer_class, build_analyzers
from unmask.analyzers.temporal import TemporalAnalyzer
from unmask.config import ALL_ANALYZERS, DEFAULT_ANALYZERS, ScanConfig
from unmask.errors import ConfigError


@pytest.mark.parametrize("name", ALL_ANALYZERS)
def test_every_listed_analyzer_has_its_class(name: str) -> None:
    cls = analyzer_class(name)
    assert cls.name == name and cls.__module__ == f"unmask.analyzers.{name}"


def test_unknown_analyzer_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="unknown analyzer"):
        analyzer_class("reference")  # added by a claim, never by the list
    with pytest.raises(ConfigError, match="unknown analyzers"):
        ScanConfig(analyzers=("nope",)).validate()


def test_build_gives_each_analyzer_its_settings() -> None:
    built = build_analyzers(ScanConfig(analyzers=("temporal", "glitches"), identity_frames=3))
    assert [a.name for a in built] == ["temporal", "glitches"]
    assert isinstance(built[0], TemporalAnalyzer) and built[0].identity_frames == 3
    assert set(DEFAULT_ANALYZERS) <= set(ALL_ANALYZERS)
