"""Self-blended pseudo-fakes and face extraction for the learned blend detector."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from unmask.errors import UnmaskError
from unmask.faces.align import align_face
from unmask.faces.regions import FACE_OVAL
from unmask_training.learned.dataset import FaceSet, extract_faces, split_by_group
from unmask_training.learned.sbi import PseudoFake, contact_sheet, make_sample, self_blend

S = 256


@pytest.fixture(scope="module")
def face(astronaut_obs) -> tuple[np.ndarray, np.ndarray]:
    aligned = align_face(astronaut_obs, S)
    return aligned.image, aligned.map_points(astronaut_obs.landmarks_in_crop())


def _signed_distance(lm: np.ndarray) -> np.ndarray:
    """Per pixel: distance to the face-oval hull edge, positive outside."""
    hull = cv2.convexHull(np.round(lm[list(FACE_OVAL)]).astype(np.int32))
    inside = np.zeros((S, S), np.uint8)
    cv2.fillConvexPoly(inside, hull, 1)
    d_out = cv2.distanceTransform(1 - inside, cv2.DIST_L2, 5)
    d_in = cv2.distanceTransform(inside, cv2.DIST_L2, 5)
    return d_out - d_in


def test_shapes_and_types(face):
    img, lm = face
    pf = self_blend(img, lm, np.random.default_rng(0))
    assert isinstance(pf, PseudoFake) and pf.label == 1
    assert pf.image.shape == (S, S, 3) and pf.image.dtype == np.uint8
    assert pf.boundary.shape == (S, S) and pf.boundary.dtype == np.float32
    assert 0.0 <= pf.boundary.min() and pf.boundary.max() <= 1.0 and pf.boundary.max() > 0.99
    assert not np.array_equal(pf.image, img)


def test_same_seed_same_sample_different_seed_differs(face):
    img, lm = face
    a = self_blend(img, lm, np.random.default_rng(7))
    b = self_blend(img, lm, np.random.default_rng(7))
    c = self_blend(img, lm, np.random.default_rng(8))
    assert np.array_equal(a.image, b.image) and np.array_equal(a.boundary, b.boundary)
    assert not np.array_equal(a.image, c.image)


def test_real_sample_is_untouched(face):
    img, lm = face
    pf = make_sample(img, lm, np.random.default_rng(0), p_fake=0.0)
    assert pf.label == 0 and np.array_equal(pf.image, img) and pf.image is not img
    assert pf.boundary.shape == (S, S) and not pf.boundary.any()
    assert make_sample(img, lm, np.random.default_rng(0), p_fake=1.0).label == 1
    labels = [make_sample(img, lm, np.random.default_rng(i)).label for i in range(40)]
    assert 8 < sum(labels) < 32


def test_boundary_follows_the_face_outline_and_far_pixels_unchanged(face):
    img, lm = face
    dist = _signed_distance(lm)
    band = np.abs(dist) < 0.08 * S
    far_out = dist > 0.16 * S
    assert far_out.sum() > 1000, far_out.sum()
    for seed in range(6):
        pf = self_blend(img, lm, np.random.default_rng(seed), side="inner")
        assert pf.boundary[band].mean() > 10 * (pf.boundary[far_out].mean() + 1e-3), seed
        changed = np.abs(pf.image.astype(int) - img.astype(int)).max(axis=2)
        assert (changed[far_out] <= 1).mean() > 0.99, seed


def test_bad_inputs_raise_unmask_errors(face):
    img, lm = face
    with pytest.raises(UnmaskError):
        self_blend(img.astype(np.float32), lm, np.random.default_rng(0))
    with pytest.raises(UnmaskError):
        self_blend(img, lm[:68], np.random.default_rng(0))


def test_contact_sheet(face, tmp_path):
    p = contact_sheet([face], np.random.default_rng(0), tmp_path / "s.png", n=2, tile=64)
    sheet = cv2.imread(str(p))
    assert sheet.shape == (4 * 64, 2 * 64, 3)


def test_split_by_group_keeps_groups_apart():
    groups = np.array(["a"] * 5 + ["b"] * 3 + ["c"] * 4 + ["d"] * 8)
    tr, va = split_by_group(groups, 0.3, seed=1)
    assert len(tr) + len(va) == len(groups) and len(va) > 0 and len(tr) > 0
    assert not set(groups[tr]) & set(groups[va])
    tr2, va2 = split_by_group(groups, 0.3, seed=1)
    assert np.array_equal(tr, tr2) and np.array_equal(va, va2)


def test_extract_faces_on_a_tiny_manifest(tmp_path, astronaut_obs):
    from unmask.synth import astronaut, write_face_clip

    write_face_clip(tmp_path / "a.mp4", seconds=1.0, fps=10.0)
    write_face_clip(tmp_path / "b.mp4", seconds=1.0, fps=10.0, seed=1)
    (tmp_path / "broken.mp4").write_bytes(b"not a video")
    x0, y0, x1, y1 = (int(round(v)) for v in astronaut_obs.box)  # a tight face crop, as some datasets ship
    cv2.imwrite(str(tmp_path / "tight.png"), astronaut()[y0:y1, x0:x1, ::-1].copy())
    with (tmp_path / "m.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["path", "label", "kind", "source_repo"])
        w.writerow(["a.mp4", "real", "video", "repo/a"])
        w.writerow(["b.mp4", "real", "video", "repo/b"])
        w.writerow(["broken.mp4", "real", "video", "repo/c"])
        w.writerow(["tight.png", "real", "image", "repo/d"])
        w.writerow(["a.mp4", "fake", "video", "repo/a"])
    seen: list[tuple[int, int]] = []
    fs = extract_faces(tmp_path / "m.csv", per_video=2, size=128, progress=lambda d, t: seen.append((d, t)))
    assert seen[-1] == (4, 4)
    assert 3 <= len(fs) <= 5 and "tight.png" in set(fs.sources)
    assert fs.images.shape[1:] == (128, 128, 3) and fs.images.dtype == np.uint8
    assert fs.landmarks.shape == (len(fs), 478, 2) and fs.landmarks.dtype == np.float32
    assert set(fs.groups) == {"repo/a", "repo/b", "repo/d"} and not fs.labels.any()
    assert len(fs.skipped) == 1 and fs.skipped[0].startswith("broken.mp4")
    fs.save(tmp_path / "f.npz")
    back = FaceSet.load(tmp_path / "f.npz")
    assert np.array_equal(back.images, fs.images) and np.array_equal(back.groups, fs.groups)
    assert back.labels.dtype == np.int8 and back.skipped == fs.skipped
    fs.save(tmp_path / "packed.npz", jpeg_quality=90)  # the form that travels to a GPU machine
    packed = FaceSet.load(tmp_path / "packed.npz")
    assert (tmp_path / "packed.npz").stat().st_size < (tmp_path / "f.npz").stat().st_size / 3
    assert packed.images.shape == fs.images.shape and packed.images.dtype == np.uint8
    assert np.abs(packed.images.astype(int) - fs.images).mean() < 3.0
    assert np.array_equal(packed.landmarks, fs.landmarks) and np.array_equal(packed.native, fs.native)
    with pytest.raises(UnmaskError, match="jpeg_quality"):
        fs.save(tmp_path / "bad.npz", jpeg_quality=10)
    with pytest.raises(UnmaskError):
        FaceSet.load(Path(tmp_path / "missing.npz"))


def test_training_code_imports_without_the_scan_stack() -> None:
    """A GPU machine has torch but not PyAV, mediapipe or dlib: training must not need them."""
    code = (
        "import sys, importlib.abc\n"
        "class Block(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path, target=None):\n"
        "        if name.split('.')[0] in {'av', 'mediapipe', 'dlib', 'sqlalchemy', 'fastapi'}:\n"
        "            raise ImportError('blocked ' + name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "import unmask_training.learned.train, unmask_training.learned.train_cli, unmask_training.learned.sbi\n"
        "import unmask_training.learned.dataset, unmask_training.learned.evaluate\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
