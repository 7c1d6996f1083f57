import av
import numpy as np
import pytest

from unmask.errors import ConfigError
from unmask.synth import face_frames, write_video
from unmask_training.perturb import perturb_video


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


def test_beauty_mode_smooths_skin_and_leaves_the_rest():
    from unmask_training.perturb import beauty_filter

    rng = np.random.default_rng(0)
    skin = np.clip(np.array([200, 150, 130]) + rng.normal(0, 12, (64, 64, 3)), 0, 255).astype(np.uint8)
    sky = np.clip(np.array([40, 90, 220]) + rng.normal(0, 12, (64, 64, 3)), 0, 255).astype(np.uint8)
    img = np.concatenate([skin, sky], axis=1)
    out = beauty_filter(img)
    assert out.shape == img.shape and out.dtype == np.uint8
    core = (slice(16, 48), slice(8, 24))  # inside the skin patch, away from the blurred mask edge
    spread = lambda a: float(a.astype(float).std(axis=(0, 1)).mean())  # noqa: E731 - per channel
    assert spread(out[core]) < 0.6 * spread(img[core])  # smoothed
    assert out[core].mean() > img[core].mean()  # and lifted
    blue = (slice(16, 48), slice(100, 120))
    assert np.abs(out[blue].astype(int) - img[blue].astype(int)).mean() < 1.0  # not skin: untouched


def test_beauty_perturbation_is_the_phone_chain_plus_smoothing(clip, tmp_path):
    frame, n = _first(perturb_video(clip, "beauty", tmp_path))
    assert frame.shape[:2] == (480, 640) and n == 12
