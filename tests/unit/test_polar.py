"""The face-outline strip: geometry, mirroring, and maps back onto the face."""

from __future__ import annotations

import numpy as np
import pytest

from unmask.errors import UnmaskError
from unmask.learned.polar import MAP_SHAPE, N_ANGLES, N_RADII, heat_on_face, mirror, sample_grid, sector_name, unwrap


def _ring(cx: float = 64, cy: float = 64, r: float = 40) -> np.ndarray:
    t = np.linspace(0, 2 * np.pi, 478, endpoint=False)
    return np.stack([cx + r * np.cos(t), cy + r * np.sin(t)], axis=1).astype(np.float32)


def test_a_circle_of_the_outline_radius_becomes_one_row() -> None:
    img = np.zeros((128, 128, 3), np.uint8)
    import cv2

    cv2.circle(img, (64, 64), 40, (255, 255, 255), 1)
    strip = unwrap(img, _ring())
    assert strip.shape == (N_RADII, N_ANGLES, 3) and strip.dtype == np.uint8
    rows = strip[..., 0].mean(axis=1)
    r_row = int(np.argmax(rows))
    radii = np.linspace(0.5, 1.25, N_RADII)
    assert abs(radii[r_row] - 1.0) < 0.05  # the seam at the outline is one row across every angle
    assert (strip[r_row, :, 0] > 0).mean() > 0.9


def test_grid_follows_jitter_and_rejects_bad_landmarks() -> None:
    mx, _ = sample_grid(_ring())
    mx2, _ = sample_grid(_ring(), radius_scale=1.1, shift=(0.1, 0.0))
    assert mx2.mean() > mx.mean()  # shifted right by a tenth of the radius
    with pytest.raises(UnmaskError, match="landmarks"):
        sample_grid(np.zeros((10, 2)))


def test_mirror_flips_image_and_landmarks_together() -> None:
    img = np.zeros((10, 20, 3), np.uint8)
    img[:, :5] = 255
    lm = np.array([[2.0, 3.0]] * 478, np.float32)
    im2, lm2 = mirror(img, lm)
    assert im2[0, -1, 0] == 255 and im2[0, 0, 0] == 0 and lm2[0, 0] == pytest.approx(17.0)


def test_heat_lands_where_the_strip_map_is_hot_and_sectors_have_names() -> None:
    strip_map = np.zeros(MAP_SHAPE, np.float32)
    strip_map[:, 4] = 1.0  # 0-45 degrees: right of the picture, below the middle
    heat = heat_on_face(strip_map, _ring(), (128, 128))
    assert heat.shape == (128, 128) and 0.0 <= heat.min() and heat.max() <= 1.0
    ys, xs = np.nonzero(heat > 0.5)
    assert xs.mean() > 64 and ys.mean() > 60
    assert sector_name(0, 12) == "the left cheek (as seen)"
    assert "chin" in sector_name(3 * 128 // 4, 128) and "forehead" in sector_name(128 // 4, 128)
