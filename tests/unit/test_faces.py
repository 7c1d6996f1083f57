"""Faces: detection, mesh, crops and tracking on synthetic astronaut frames (fast, no shared data)."""

from __future__ import annotations

import numpy as np
import pytest

from unmask.config import FaceConfig
from unmask.faces import FaceFinder, face_crop, find_tracks
from unmask.faces.track import FaceTracker
from unmask.synth import face_frames
from unmask.types import Frame

FPS = 8.0


def _frames(rgbs: list[np.ndarray], t0: float = 0.0, start: int = 0, segment: int = 0) -> list[Frame]:
    return [Frame(start + i, t0 + i / FPS, f, segment=segment) for i, f in enumerate(rgbs)]


@pytest.fixture(scope="module")
def astro() -> list[np.ndarray]:
    return face_frames(12, size=(640, 480))


@pytest.fixture(scope="module")
def astro_tracks(astro: list[np.ndarray]):
    return find_tracks(_frames(astro))


def test_one_track_with_mesh(astro_tracks) -> None:
    assert len(astro_tracks) == 1
    tr = astro_tracks[0]
    assert tr.id == 1 and len(tr) == 12
    assert len(tr.with_landmarks) == 12
    for o in tr.observations:
        assert o.landmarks is not None and o.landmarks.shape == (478, 3) and o.landmarks.dtype == np.float32
        assert o.crop.shape == (256, 256, 3) and o.crop.dtype == np.uint8
        x0, y0, x1, y1 = o.crop_box
        assert x1 - x0 == pytest.approx(y1 - y0)
        assert 40 < o.size < 200


def test_landmarks_in_crop_near_eyes(astro_tracks) -> None:
    for o in astro_tracks[0].observations:
        lc = o.landmarks_in_crop()
        assert lc is not None
        assert np.all(lc > -5) and np.all(lc < o.crop.shape[0] + 5)
        iris_r, iris_l = lc[468], lc[473]  # iris centres: subject's right (image left), left
        assert iris_r[0] < iris_l[0]
        assert abs(iris_r[1] - iris_l[1]) < 15  # the astronaut's eyes are level
        # eyes sit in the upper half of the crop, around the middle horizontally
        mid = (iris_r + iris_l) / 2
        assert 0.3 * 256 < mid[0] < 0.7 * 256 and 0.25 * 256 < mid[1] < 0.55 * 256
        # and the crop is darker at the pupil than the sclera next to it (really an eye)
        crop_grey = o.crop.mean(axis=2)
        px = crop_grey[int(iris_r[1]), int(iris_r[0])]
        assert px < 120


def test_crop_box_matches_crop_pixels(astro) -> None:
    rgb = astro[0]
    box = (300.0, 100.0, 380.0, 190.0)
    crop, cb = face_crop(rgb, box, 0.45, 128)
    side = cb[2] - cb[0]
    assert side == cb[3] - cb[1] and cb[0] == int(cb[0])
    full = rgb[int(cb[1]) : int(cb[3]), int(cb[0]) : int(cb[2])]
    import cv2

    ref = cv2.resize(full, (128, 128), interpolation=cv2.INTER_AREA)
    assert np.abs(ref.astype(int) - crop.astype(int)).max() <= 1


def test_crop_at_frame_edge_is_padded_black() -> None:
    rgb = np.full((100, 100, 3), 200, np.uint8)
    crop, cb = face_crop(rgb, (0.0, 0.0, 40.0, 40.0), 0.5, 80)
    assert cb[0] < 0 and cb[1] < 0
    assert crop.shape == (80, 80, 3)
    assert crop[0, 0].max() == 0 and crop[-1, -1].min() == 200


def test_two_faces_two_tracks(astro: list[np.ndarray]) -> None:
    pairs = [np.concatenate([a, b], axis=1) for a, b in zip(astro[:6], astro[6:12])]
    finder = FaceFinder(FaceConfig())
    for f in _frames(pairs):
        obs = finder.process(f)
        assert len(obs) == 2
        assert all(o.landmarks is not None for o in obs)
    tracks = finder.tracks()
    assert [t.id for t in tracks] == [1, 2]
    assert all(len(t) == 6 for t in tracks)
    # ids in order of first appearance, left to right
    assert tracks[0].observations[0].box[0] < 640 <= tracks[1].observations[0].box[0]
    # each mesh sits on its own face
    for t in tracks:
        for o in t.observations:
            cx = float(o.landmarks[:, 0].mean())
            assert o.box[0] < cx < o.box[2]


def test_face_leaves_and_returns_gets_new_id(astro: list[np.ndarray]) -> None:
    noise = np.random.default_rng(1).integers(0, 255, (480, 640, 3), dtype=np.uint8)
    gap_frames = int(FaceConfig().track_max_gap_s * FPS) + 4
    rgbs = astro[:4] + [noise] * gap_frames + astro[4:8]
    tracks = find_tracks(_frames(rgbs))
    assert [t.id for t in tracks] == [1, 2]
    assert tracks[0].end_t < tracks[1].start_t


def test_short_gap_keeps_id(astro: list[np.ndarray]) -> None:
    noise = np.random.default_rng(2).integers(0, 255, (480, 640, 3), dtype=np.uint8)
    rgbs = astro[:4] + [noise] * 3 + astro[4:8]
    tracks = find_tracks(_frames(rgbs))
    assert len(tracks) == 1 and len(tracks[0]) == 8


def test_new_segment_ends_tracks(astro: list[np.ndarray]) -> None:
    frames = _frames(astro[:3]) + _frames(astro[3:6], t0=3 / FPS, start=3, segment=1)
    tracks = find_tracks(frames)
    assert [len(t) for t in tracks] == [3, 3]


def test_face_below_min_face_px_gives_no_track(astro: list[np.ndarray]) -> None:
    # the astronaut's face is ~90 px here: found at the default 24 px, ignored at 150 px
    assert len(find_tracks(_frames(astro[:3]), FaceConfig(min_face_px=24))) == 1
    assert find_tracks(_frames(astro[:3]), FaceConfig(min_face_px=150)) == ()


def test_tiny_face_gives_no_track() -> None:
    small = face_frames(4, size=(40, 30))  # the whole portrait is 27 px tall, the face ~10 px
    canvas = []
    for s in small:
        c = np.full((480, 640, 3), 90, np.uint8)
        c[200:230, 300:340] = s
        canvas.append(c)
    assert find_tracks(_frames(canvas), FaceConfig(min_face_px=24)) == ()


def test_noise_gives_no_tracks() -> None:
    rng = np.random.default_rng(0)
    rgbs = [rng.integers(0, 255, (360, 480, 3), dtype=np.uint8) for _ in range(5)]
    assert find_tracks(_frames(rgbs)) == ()


def test_deterministic(astro: list[np.ndarray], astro_tracks) -> None:
    again = find_tracks(_frames(astro))
    assert len(again) == len(astro_tracks)
    for a, b in zip(again, astro_tracks):
        assert a.id == b.id and len(a) == len(b)
        for oa, ob in zip(a.observations, b.observations):
            assert oa.box == ob.box and oa.crop_box == ob.crop_box
            np.testing.assert_array_equal(oa.crop, ob.crop)
            np.testing.assert_allclose(oa.landmarks, ob.landmarks, atol=1e-4)


def test_tracker_hungarian_and_gap() -> None:
    tr = FaceTracker(FaceConfig(track_iou=0.3, track_max_gap_s=1.0))
    a, b = (0.0, 0.0, 10.0, 10.0), (50.0, 0.0, 60.0, 10.0)
    assert tr.update(0.0, [b, a]) == [2, 1]  # new ids left to right
    assert tr.update(0.1, [(1.0, 0.0, 11.0, 10.0), (51.0, 0.0, 61.0, 10.0)]) == [1, 2]
    assert tr.update(0.5, [(51.0, 0.0, 61.0, 10.0)]) == [2]
    assert tr.update(1.05, [(1.0, 0.0, 11.0, 10.0)]) == [1]  # 0.95 s gap: same track
    assert tr.update(2.2, [(1.0, 0.0, 11.0, 10.0)]) == [3]  # 1.15 s gap: new track
    assert tr.update(2.3, [(1.0, 0.0, 11.0, 10.0)], segment=1) == [4]  # new segment


def test_tracker_links_fast_motion_but_not_strangers() -> None:
    tr = FaceTracker(FaceConfig())
    assert tr.update(0.0, [(100.0, 100.0, 200.0, 200.0)]) == [1]
    assert tr.update(0.125, [(140.0, 100.0, 240.0, 200.0)]) == [1]  # IoU 0.43: plain match
    assert tr.update(0.25, [(215.0, 95.0, 325.0, 205.0)]) == [1]  # IoU 0.13, centre 0.76 sizes away: fallback
    # a same-size face two face-widths away is somebody else
    assert tr.update(0.375, [(215.0, 95.0, 325.0, 205.0), (440.0, 95.0, 550.0, 205.0)]) == [1, 2]
    # with both candidates near, the overlapping one wins over the fallback one
    assert tr.update(0.5, [(300.0, 95.0, 410.0, 205.0), (220.0, 95.0, 330.0, 205.0)]) == [3, 1]


def test_tracker_refuses_link_between_different_looks(astro: list[np.ndarray]) -> None:
    from unmask.faces.track import appearance, looks_alike

    finder = FaceFinder(FaceConfig())
    box = finder.detector.detect(astro[0])[0].box
    look0, look1 = appearance(astro[0], box), appearance(astro[1], box)
    assert looks_alike(look0, look1)  # same face a frame later
    # a "cut": same place, other content (a smooth dark-green gradient)
    other = np.zeros_like(astro[0])
    other[..., 1] = np.linspace(20, 120, other.shape[1], dtype=np.uint8)[None, :]
    look_other = appearance(other, box)
    assert not looks_alike(look0, look_other)
    tr = FaceTracker(FaceConfig())
    assert tr.update(0.0, [box], looks=[look0]) == [1]
    assert tr.update(0.125, [box], looks=[look1]) == [1]
    assert tr.update(0.25, [box], looks=[look_other]) == [2]
    assert tr.update(0.375, [box], looks=[look_other]) == [2]  # the new face keeps its own track
    finder.close()


def test_mesh_rejects_box_without_face(astro: list[np.ndarray]) -> None:
    from unmask.faces.mesh import FaceMesher

    m = FaceMesher()
    rgb = astro[0]
    dets = FaceFinder(FaceConfig()).detector.detect(rgb)
    assert len(dets) == 1 and m.mesh(rgb, dets[0].box) is not None
    x0, y0, x1, y1 = dets[0].box
    w = x1 - x0
    # a box of the same size shifted off the face, onto the suit/background
    assert m.mesh(rgb, (x0 + 2.2 * w, y0 + 1.5 * w, x1 + 2.2 * w, y1 + 1.5 * w)) is None
    m.close()


def test_load_is_lazy_and_once() -> None:
    f = FaceFinder(FaceConfig())
    assert f.detector._model is None and f.mesher._model is None
    f.load()
    m = f.detector._model
    f.load()
    assert f.detector._model is m
    f.close()

