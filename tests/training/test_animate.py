"""One-photo animation pseudo-fakes (unmask_training/learned/animate.py) on a drawn face: no models, no shared data."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from drawn_face import WHITE, S, closed_mouth, driver, face_image, face_landmarks, similar  # tests/ is on sys.path

from unmask.errors import UnmaskError
from unmask.faces.regions import FACE_OVAL
from unmask.faces.warp import (
    INNER_LIPS,
    LEFT_LIDS,
    OUTER_LIPS,
    RIGHT_LIDS,
    BadWarpInput,
    eye_aspect_ratio,
    mouth_opening,
    warp_to,
)
from unmask_training.learned.animate import (
    Animation,
    AnimationOptions,
    AnimationPairSampler,
    BadAnimationInput,
    NoAnimationPairs,
    animate,
    retarget,
)
from unmask_training.learned.dataset import FaceSet


@pytest.fixture(scope="module")
def still() -> tuple[np.ndarray, np.ndarray]:
    xy = face_landmarks()
    return face_image(xy), xy


@pytest.fixture(scope="module")
def closed_still() -> tuple[np.ndarray, np.ndarray]:
    xy = closed_mouth(face_landmarks())
    return face_image(xy), xy


FROZEN = AnimationOptions(background="static", blink="frozen", expression_gain=1.0)


def test_shapes_and_types(still):
    img, xy = still
    an = animate(img, xy, driver(xy, t=5, mouth=1.0), np.random.default_rng(0))
    assert isinstance(an, Animation)
    assert an.frames.shape == (5, S, S, 3) and an.frames.dtype == np.uint8
    assert an.landmarks.shape == (5, 478, 2) and an.landmarks.dtype == np.float32
    assert an.openness.shape == (5,) and an.mouth_filled.shape == (5,) and an.mouth_filled.dtype == bool
    assert not np.array_equal(an.frames[-1], img)


def test_same_seed_same_frames_different_seed_differs(still):
    img, xy = still
    drv = driver(xy, t=4, mouth=1.5, blink_at=2)
    a = animate(img, xy, drv, np.random.default_rng(11))
    b = animate(img, xy, drv, np.random.default_rng(11))
    assert np.array_equal(a.frames, b.frames) and np.array_equal(a.landmarks, b.landmarks)
    assert a.options == b.options and np.array_equal(a.openness, b.openness)
    others = [animate(img, xy, drv, np.random.default_rng(s)) for s in range(12, 16)]
    assert any(not np.array_equal(a.frames, o.frames) for o in others)


def test_zero_motion_gives_the_still_back(still):
    img, xy = still
    an = animate(img, xy, np.repeat(xy[None], 3, axis=0), np.random.default_rng(0), FROZEN)
    for f in an.frames:
        assert np.abs(f.astype(int) - img.astype(int)).max() <= 1
    assert not an.mouth_filled.any()
    np.testing.assert_allclose(an.landmarks, np.repeat(xy[None], 3, axis=0), atol=1e-3)


def test_motion_is_the_drivers_relative_motion(still):
    """A driver that is the still itself seen elsewhere (scaled, tilted, shifted) and moving: the output is the
    still moved the same way, in the still's frame, whatever the driver's own size and place."""
    img, xy = still
    motions = [(1.0, 0.0, (0.0, 0.0)), (1.03, 3.0, (4.0, -2.0)), (0.97, -4.0, (-3.0, 5.0))]
    moved = [similar(xy, s, d, sh, centre=(S / 2, S / 2)) for s, d, sh in motions]
    seen = np.stack([similar(m, 0.6, 25.0, (40.0, -30.0), centre=(0.0, 0.0)) for m in moved])
    out, _ = retarget(xy, seen)
    np.testing.assert_allclose(out, np.stack(moved), atol=1e-3)


def test_pixels_land_on_the_output_landmarks(still):
    """Dots drawn on the still at some landmarks are found where the output says those landmarks went."""
    img, xy = still
    dotted = img.copy()
    points = (1, 152, 105, 334, 50, 280, 10)
    for i in points:
        cv2.circle(dotted, (int(round(xy[i, 0])), int(round(xy[i, 1]))), 2, (0, 255, 0), -1)
    an = animate(dotted, xy, driver(xy, t=6, turn=2.5, mouth=1.2), np.random.default_rng(0), FROZEN)
    f, lm = an.frames[-1].astype(int), an.landmarks[-1]
    green = (f[..., 1] > 200) & (f[..., 0] < 80) & (f[..., 2] < 80)
    for i in points:
        x0, y0 = np.round(lm[i]).astype(int)
        ys, xs = np.nonzero(green[y0 - 6:y0 + 7, x0 - 6:x0 + 7])
        assert len(xs) >= 3, i
        found = np.array([xs.mean() + x0 - 6, ys.mean() + y0 - 6])
        expected = lm[i] + (np.round(xy[i]) - xy[i])  # the dot was drawn at the rounded position
        assert np.linalg.norm(found - expected) < 1.5, (i, found, expected)


def test_texture_is_frozen(still):
    """Undo each output frame's warp: inside the face (eyes and mouth aside) the still's pixels come back,
    while a real clip's later frame would differ; the frames themselves do move."""
    img, xy = still
    an = animate(img, xy, driver(xy, t=6, turn=2.5, mouth=1.0), np.random.default_rng(0), FROZEN)
    face = np.zeros((S, S), np.uint8)
    cv2.fillPoly(face, [np.round(xy[list(FACE_OVAL)] + (xy[list(FACE_OVAL)] - xy.mean(0)) * -0.15).astype(np.int32)], 1)
    for idx in ([u for u, _ in RIGHT_LIDS] + [lo for _, lo in RIGHT_LIDS][::-1],
                [u for u, _ in LEFT_LIDS] + [lo for _, lo in LEFT_LIDS][::-1], OUTER_LIPS):
        cv2.fillPoly(face, [np.round(xy[list(idx)]).astype(np.int32)], 0)
    inner = cv2.erode(face, np.ones((9, 9), np.uint8)) > 0
    for f, lm in zip(an.frames[1:], an.landmarks[1:]):
        back = warp_to(f, lm, xy)
        undone = np.abs(back.astype(float) - img.astype(float)).mean(axis=2)[inner].mean()
        moved = np.abs(f.astype(float) - img.astype(float)).mean(axis=2)[inner].mean()
        assert undone < 2.0 and moved > 4 * undone, (undone, moved)


def test_blink_closes_the_eyes_by_warping(still):
    img, xy = still
    drv = driver(xy, t=6, blink_at=3)
    an = animate(img, xy, drv, np.random.default_rng(0), AnimationOptions(blink="driver"))
    ear = [eye_aspect_ratio(lm) for lm in an.landmarks]
    assert an.openness[3] < 0.05 and ear[3] < 0.2 * eye_aspect_ratio(xy) and min(ear[:3] + ear[4:]) > 0.9 * ear[0]
    white = lambda f: int(np.all(np.abs(f.astype(int) - WHITE) <= 20, axis=2).sum())  # noqa: E731
    assert white(an.frames[3]) < 0.2 * white(img) and white(an.frames[0]) > 0.9 * white(img)
    frozen = animate(img, xy, drv, np.random.default_rng(0), FROZEN)
    assert np.all(frozen.openness == 1.0)
    np.testing.assert_allclose([eye_aspect_ratio(lm) for lm in frozen.landmarks], eye_aspect_ratio(xy), rtol=1e-3)
    inserted = animate(img, xy, driver(xy, t=12), np.random.default_rng(3), AnimationOptions(blink="inserted"))
    assert inserted.openness.min() < 0.2


def test_mouth_is_filled_only_when_the_driver_opens_wider(still, closed_still):
    img, xy = still
    shut = animate(img, xy, driver(xy, t=5, mouth=0.0), np.random.default_rng(0), FROZEN)
    assert not shut.mouth_filled.any()
    opening = animate(img, xy, driver(xy, t=6, mouth=2.0), np.random.default_rng(0), FROZEN)
    assert not opening.mouth_filled[0] and opening.mouth_filled[-1]
    assert all(mouth_opening(lm) > mouth_opening(xy) for lm in opening.landmarks[opening.mouth_filled])
    # a closed-mouth still: a dark interior with teeth is rendered, not the lips stretched
    cimg, cxy = closed_still
    lips = np.array([170, 70, 70])
    for teeth in (True, False):
        an = animate(cimg, cxy, driver(cxy, t=6, mouth=2.5), np.random.default_rng(0),
                     AnimationOptions(blink="frozen", teeth=teeth))
        assert an.mouth_filled[-1]
        poly = np.zeros((S, S), np.uint8)
        cv2.fillPoly(poly, [np.round(an.landmarks[-1][list(INNER_LIPS)]).astype(np.int32)], 1)
        px = an.frames[-1][cv2.erode(poly, np.ones((3, 3), np.uint8)) > 0].astype(int)
        assert len(px) > 30
        lip_like = np.all(np.abs(px - lips) <= 25, axis=1).mean()
        light = (px.mean(axis=1) > 150).mean()
        assert lip_like < 0.1, lip_like
        assert (light > 0.1) if teeth else (light == 0), light


def test_degenerate_but_valid_inputs_do_not_raise(still):
    img, xy = still
    outside = xy + np.array([300.0, -250.0], np.float32)  # the whole face beyond the frame
    an = animate(img, outside, driver(outside, t=3, mouth=1.0), np.random.default_rng(0))
    assert an.frames.shape == (3, S, S, 3)
    huge = driver(xy, t=3) * 1e4  # a driver in another unit
    assert animate(img, xy, huge, np.random.default_rng(0)).frames.shape == (3, S, S, 3)
    one = animate(img, xy, xy[None], np.random.default_rng(0))  # one frame, no motion
    assert one.frames.shape == (1, S, S, 3)
    small = cv2.resize(img, (64, 64))
    assert animate(small, xy / 4, driver(xy / 4, t=2, mouth=0.5), np.random.default_rng(0)).frames.shape == (2, 64, 64, 3)


def _bad(xy: np.ndarray, i: int, v: float) -> np.ndarray:
    out = xy.copy()
    out[i, 0] = v
    return out


XY = face_landmarks()
IMG = face_image(XY)
BAD_INPUTS = [
    pytest.param(IMG.astype(np.float32), XY, XY[None], None, id="float-image"),
    pytest.param(IMG[..., 0], XY, XY[None], None, id="grey-image"),
    pytest.param(IMG[:4, :4], XY, XY[None], None, id="tiny-image"),
    pytest.param(IMG, XY[:468], XY[None], None, id="468-landmarks"),
    pytest.param(IMG, _bad(XY, 5, np.nan), XY[None], None, id="nan-landmark"),
    pytest.param(IMG, np.zeros_like(XY), XY[None], None, id="collapsed-still"),
    pytest.param(IMG, XY, XY, None, id="driver-not-a-sequence"),
    pytest.param(IMG, XY, XY[None][:0], None, id="empty-driver"),
    pytest.param(IMG, XY, np.stack([XY, _bad(XY, 3, np.inf)]), None, id="inf-in-driver"),
    pytest.param(IMG, XY, np.stack([XY, np.full_like(XY, 7.0)]), None, id="collapsed-driver-frame"),
]


@pytest.mark.parametrize("image, landmarks, driving, options", BAD_INPUTS)
def test_invalid_input_raises(image, landmarks, driving, options):
    with pytest.raises(BadWarpInput) as e:
        animate(image, landmarks, driving, np.random.default_rng(0), options)
    assert isinstance(e.value, UnmaskError)


@pytest.mark.parametrize("kwargs", [{"background": "moving"}, {"blink": "wink"}, {"expression_gain": -1.0},
                                    {"teeth_height": float("nan")}], ids=["background", "blink", "gain", "teeth"])
def test_bad_options_raise(kwargs):
    with pytest.raises(BadAnimationInput):
        AnimationOptions(**kwargs)


# --- the pair sampler ---------------------------------------------------------------------------------

def _face_set(clips: dict[str, tuple[str, int, int]], labels: int = 0) -> FaceSet:
    """Clips (name -> (person, views, seed)): each view the drawn face, moving a little, its own texture seed."""
    images, lms, groups, sources = [], [], [], []
    base = face_landmarks(128)
    for name, (person, n, seed) in clips.items():
        for k in range(n):
            xy = similar(base, 1.0, 0.5 * k, (0.3 * k, 0.0))
            images.append(face_image(xy, seed=seed, size=128))
            lms.append(xy)
            groups.append(person)
            sources.append(name)
    n = len(images)
    return FaceSet(np.stack(images), np.stack(lms), np.full(n, labels, np.int8), np.array(groups), np.array(sources))


def test_sampler_pairs_a_real_window_with_a_still_driven_by_another_person():
    faces = _face_set({"a.mp4": ("ann", 6, 1), "b.mp4": ("bob", 5, 2), "c.mp4": ("ann", 3, 3)})
    sampler = AnimationPairSampler(faces, window=4)
    assert [c[0] for c in sampler.clips] == ["a.mp4", "b.mp4"]  # c.mp4 is shorter than a window
    for pair in sampler.pairs(6, seed=5):
        assert pair.real.shape == pair.fake.frames.shape == (4, 128, 128, 3)
        assert pair.real_landmarks.shape == (4, 478, 2)
        src = faces.sources
        assert len({src[i] for i in pair.real_indices}) == 1 and src[pair.still_index] == src[pair.real_indices[0]]
        assert list(pair.real_indices) == list(range(pair.real_indices[0], pair.real_indices[0] + 4))
        assert faces.groups[pair.driver_indices[0]] != faces.groups[pair.still_index]
        np.testing.assert_array_equal(pair.real, faces.images[list(pair.real_indices)])
    a, b = sampler.pairs(3, seed=9), sampler.pairs(3, seed=9)
    for x, y in zip(a, b):
        assert np.array_equal(x.fake.frames, y.fake.frames) and x.real_indices == y.real_indices
        assert x.driver_indices == y.driver_indices and x.still_index == y.still_index


def test_sampler_refuses_fakes_and_single_person_sets():
    with pytest.raises(NoAnimationPairs):
        AnimationPairSampler(_face_set({"a.mp4": ("ann", 4, 1), "b.mp4": ("ann", 4, 2)}), window=3)
    with pytest.raises(BadAnimationInput):
        AnimationPairSampler(_face_set({"a.mp4": ("ann", 4, 1), "b.mp4": ("bob", 4, 2)}, labels=1), window=3)
    with pytest.raises(UnmaskError):
        AnimationPairSampler(_face_set({"a.mp4": ("ann", 4, 1), "b.mp4": ("bob", 4, 2)}), window=0)
