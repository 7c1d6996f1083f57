import cv2
import numpy as np
import pytest

from unmask.faces.align import EYE_X_LEFT, EYE_X_RIGHT, EYE_Y, LEFT_EYE, RIGHT_EYE, align_face
from unmask.synth import astronaut
from unmask.types import Frame


@pytest.fixture(scope="module")
def tilted_obs():
    """The astronaut rotated 20 degrees in the image plane, as the face stage sees it."""
    from unmask.faces.finder import FaceFinder

    img = astronaut()
    m = cv2.getRotationMatrix2D((256, 256), 20, 1.0)
    tilted = cv2.warpAffine(img, m, (512, 512), borderMode=cv2.BORDER_REFLECT)
    with FaceFinder() as finder:
        obs = finder.process(Frame(0, 0.0, tilted))
    assert obs and obs[0].landmarks is not None
    return obs[0]


def test_aligned_face_has_level_eyes_at_fixed_places(tilted_obs):
    a = align_face(tilted_obs, size=224)
    assert a is not None and a.image.shape == (224, 224, 3) and a.image.dtype == np.uint8
    assert abs(abs(a.roll_deg) - 20) < 6  # the tilt it removed
    lm = a.map_points(tilted_obs.landmarks_in_crop())
    right, left = lm[list(RIGHT_EYE)].mean(axis=0), lm[list(LEFT_EYE)].mean(axis=0)
    xs = sorted([right[0], left[0]])
    assert xs[0] == pytest.approx(EYE_X_LEFT * 224, abs=1) and xs[1] == pytest.approx(EYE_X_RIGHT * 224, abs=1)
    assert right[1] == pytest.approx(EYE_Y * 224, abs=1) and left[1] == pytest.approx(EYE_Y * 224, abs=1)


def test_no_landmarks_no_alignment(astronaut_obs):
    from dataclasses import replace

    assert align_face(replace(astronaut_obs, landmarks=None)) is None
