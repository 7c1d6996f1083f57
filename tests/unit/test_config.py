import pytest

from unmask.config import ScanConfig
from unmask.errors import ConfigError


def test_defaults_validate_and_digest_is_stable():
    a, b = ScanConfig(), ScanConfig()
    assert a.validate() is a
    assert a.digest() == b.digest() and len(a.digest()) == 64


def test_precedence_file_env_overrides(tmp_path):
    f = tmp_path / "u.toml"
    f.write_text("[sampling]\nfps = 4\nmax_frames = 50\n[faces]\nmin_confidence = 0.6\n")
    c = ScanConfig.load(f, env={"UNMASK_SAMPLING__FPS": "6", "UNMASK_DATABASE_URL": "sqlite://"}, overrides={"sampling.max_frames": "70"})
    assert c.sampling.fps == 6.0  # env beats file
    assert c.sampling.max_frames == 70  # overrides beat env and file
    assert c.faces.min_confidence == 0.6
    assert c.digest() != ScanConfig().digest()


def test_round_trip_through_dict():
    c = ScanConfig.load(env={}, overrides={"analyzers": "glitches,blinks", "gate.min_face_px": 80})
    assert ScanConfig.from_dict(c.to_dict()) == c


@pytest.mark.parametrize(
    "overrides, needle",
    [
        ({"sampling.fps": "0"}, "fps must be positive"),
        ({"sampling.fps": "fast"}, "must be float"),
        ({"faces.min_confidence": "1.5"}, "min_confidence"),
        ({"nope": 1}, "unknown setting"),
        ({"sampling.nope": 1}, "unknown setting"),
        ({"analyzers": "blend_boundary,magic"}, "unknown analyzers"),
    ],
    ids=["zero-fps", "not-a-number", "confidence-range", "unknown-top", "unknown-nested", "unknown-analyzer"],
)
def test_bad_settings_raise_config_error(overrides, needle):
    with pytest.raises(ConfigError, match=needle):
        ScanConfig.load(env={}, overrides=overrides)


def test_bad_file_is_a_config_error(tmp_path):
    f = tmp_path / "bad.toml"
    f.write_text("[sampling\nfps=")
    with pytest.raises(ConfigError, match="not valid TOML"):
        ScanConfig.load(f, env={})
    with pytest.raises(ConfigError, match="cannot read"):
        ScanConfig.load(tmp_path / "missing.toml", env={})


def test_with_overrides_validates_and_leaves_the_base_alone():
    base = ScanConfig()
    cfg = base.with_overrides({"sampling.fps": 4})
    assert cfg.sampling.fps == 4.0 and base.sampling.fps != 4.0
    assert base.with_overrides({}) is base
    with pytest.raises(ConfigError):
        base.with_overrides({"sampling.nope": 1})
