import av
import numpy as np
import pytest

from unmask.errors import ConfigError
from unmask.perturb import perturb_video
from unmask.synth import face_frames, write_video


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return write_video(tmp_path_factory.mktemp("p") / "c.mp4", face_frames(12, size=(640, 480)), fps=12)


def _first(path):
    with av.open(str(path)) as c:
        return next(c.decode(c.streams.video[0])).to_ndarray(format="rgb24"), c.streams.video[0].frames


def test_360p_and_flip_and_crf(clip, tmp_path):
    small, n = _first(perturb_video(clip, "360p", tmp_path))
    assert small.shape[0] == 360 and n == 12
    orig, _ = _first(clip)
    flipped, _ = _first(perturb_video(clip, "flip", tmp_path))
    assert np.abs(flipped.astype(int) - orig[:, ::-1].astype(int)).mean() < 6  # mirrored, near-lossless
    heavy = perturb_video(clip, "crf35", tmp_path)
    light = perturb_video(clip, "crf23", tmp_path)
    assert heavy.stat().st_size < light.stat().st_size


def test_unknown_perturbation(clip, tmp_path):
    with pytest.raises(ConfigError, match="unknown perturbation"):
        perturb_video(clip, "sepia", tmp_path)


def test_animated_webp_is_perturbed_through_pillow(tmp_path):
    from unmask.synth import write_webp

    src = write_webp(tmp_path / "a.webp", face_frames(6, size=(320, 240)), durations_ms=100)
    frame, n = _first(perturb_video(src, "crf30", tmp_path))
    assert frame.shape[:2] == (240, 320) and n == 6


def test_phone_chain_fits_1024x576_in_either_orientation(tmp_path):
    wide = write_video(tmp_path / "wide.mp4", face_frames(4, size=(1280, 720)), fps=12)
    tall = write_video(tmp_path / "tall.mp4", face_frames(4, size=(720, 1280)), fps=12)
    assert _first(perturb_video(wide, "phone", tmp_path))[0].shape[:2] == (576, 1024)
    assert _first(perturb_video(tall, "phone", tmp_path))[0].shape[:2] == (1024, 576)
    small = write_video(tmp_path / "small.mp4", face_frames(4, size=(320, 240)), fps=12)
    assert _first(perturb_video(small, "phone", tmp_path))[0].shape[:2] == (240, 320)  # never upscaled
