"""HeadPoseAnalyzer on the astronaut portrait, and with its central landmarks moved off the outline."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from conftest import assert_well_formed

from unmask.analyzers.head_pose import HeadPoseAnalyzer, PoseSolver
from unmask.faces.regions import CENTRAL, load_canonical_face
from unmask.synth import astronaut
from unmask.types import FaceObs, FaceTrack, Frame, MediaContext, MediaInfo, SampledFrame

N_FRAMES = 6
SIZE = 512  # the astronaut portrait is 512 x 512


@pytest.fixture(scope="module")
def face() -> FaceObs:
    from unmask.faces.finder import find_tracks

    tracks = find_tracks([Frame(0, 0.0, astronaut())])
    assert tracks and tracks[0].observations[0].landmarks is not None
    return tracks[0].observations[0]


def _ctx(*tracks: FaceTrack) -> MediaContext:
    info = MediaInfo("astronaut.mp4", "0" * 64, 1, "mp4", "video", "h264", 1.0, 8.0, SIZE, SIZE)
    n = max(len(t) for t in tracks)
    return MediaContext(info, (), tuple(SampledFrame(i, i / 8.0, 0, 1) for i in range(n)), tracks)


def _track(obs: FaceObs, track_id: int = 1, n: int = N_FRAMES) -> FaceTrack:
    return FaceTrack(track_id, tuple(replace(obs, frame_index=i, t=i / 8.0) for i in range(n)))


def shifted_centre(obs: FaceObs, dx: float) -> FaceObs:
    """The eyes, brows, nose and mouth moved ``dx`` pixels sideways; the outline left in place."""
    assert obs.landmarks is not None
    lm = obs.landmarks.copy()
    lm[list(CENTRAL), 0] += dx
    return replace(obs, landmarks=lm)


def test_canonical_model_is_shipped() -> None:
    pts = load_canonical_face()
    assert pts.shape == (468, 3)
    assert int(np.argmax(pts[:, 2])) in (1, 4)  # the nose tip is the point nearest the viewer
    assert pts[33, 0] == pytest.approx(-pts[263, 0])  # outer eye corners mirror each other
    assert pts[10, 1] > pts[152, 1]  # forehead top above the chin (y up)


def test_canonical_model_matches_mesh_order(face: FaceObs) -> None:
    """The model's vertices are in the mesh's landmark order: a similarity fit leaves little residual."""
    assert face.landmarks is not None
    x = face.landmarks[:468].astype(np.float64) * np.array([1.0, -1.0, -1.0])  # to y up, z to viewer
    m = load_canonical_face()

    def residual(a: np.ndarray, b: np.ndarray) -> float:
        a, b = a - a.mean(axis=0), b - b.mean(axis=0)
        a, b = a / np.linalg.norm(a), b / np.linalg.norm(b)
        return float(1.0 - np.linalg.svd(a.T @ b, compute_uv=False).sum() ** 2)

    assert residual(x, m) < 0.05
    assert residual(x, m[np.random.default_rng(0).permutation(468)]) > 0.5


def test_real_face_ok_and_poses_agree(face: FaceObs) -> None:
    res = HeadPoseAnalyzer().analyze(_ctx(_track(face)))
    assert_well_formed(res)
    ts = res.for_track(1)
    assert ts is not None and len(ts.per_frame) == N_FRAMES
    for key in ("angle_med", "angle_p90", "yaw_med", "roll_med", "shift_med", "outline_err_med"):
        assert key in ts.features
    assert ts.features["yaw_med"] < 4.0 and ts.features["roll_med"] < 4.0
    assert ts.score < 0.5


def test_still_image_single_frame(face: FaceObs) -> None:
    res = HeadPoseAnalyzer().analyze(_ctx(_track(face, n=1)))
    assert_well_formed(res)
    assert res.tracks[0].features["angle_dev_p90"] == 0.0


def test_moving_central_landmarks_raises_disagreement(face: FaceObs) -> None:
    solver = PoseSolver(load_canonical_face())
    assert face.landmarks is not None
    base = solver.features(face.landmarks[:, :2].astype(np.float64), (SIZE, SIZE))
    moved = solver.features(shifted_centre(face, 6.0).landmarks[:, :2].astype(np.float64), (SIZE, SIZE))
    assert base is not None and moved is not None
    assert moved["yaw"] > base["yaw"] + 2.0
    assert moved["outline_err"] > base["outline_err"]
    res = HeadPoseAnalyzer().analyze(_ctx(_track(face, 1), _track(shifted_centre(face, 12.0), 2)))
    assert_well_formed(res)
    real_s, fake_s = res.for_track(1), res.for_track(2)
    assert real_s is not None and fake_s is not None
    assert fake_s.features["angle_med"] > real_s.features["angle_med"]
    assert fake_s.score > real_s.score + 0.25
    ev = [e for e in res.evidence if e.track_id == 2]
    assert ev and "Face 2" in ev[0].detail


def test_track_without_landmarks_is_not_scored(face: FaceObs) -> None:
    bare = FaceTrack(7, (replace(face, landmarks=None),))
    res = HeadPoseAnalyzer().analyze(_ctx(bare))
    assert res.status == "skipped" and res.reason
    mixed = HeadPoseAnalyzer().analyze(_ctx(_track(face, 1), bare))
    assert mixed.status == "ok" and mixed.for_track(7) is None and mixed.for_track(1) is not None


def test_degenerate_landmarks_do_not_crash(face: FaceObs) -> None:
    flat = replace(face, landmarks=np.zeros_like(face.landmarks))
    res = HeadPoseAnalyzer().analyze(_ctx(FaceTrack(3, (flat,))))
    assert res.status in ("ok", "skipped")


def test_evidence_points_at_the_frames_that_disagree(face: FaceObs) -> None:
    # 10 frames at 8 fps; frames 6 and 7 (0.75-0.875 s) have the central face moved off the outline
    obs = [replace(shifted_centre(face, 12.0) if i in (6, 7) else face, frame_index=i, t=i / 8.0) for i in range(10)]
    res = HeadPoseAnalyzer().analyze(_ctx(FaceTrack(1, tuple(obs))))
    assert_well_formed(res)
    per = dict(res.tracks[0].per_frame)
    assert per[0.75] > per[0.0] + 0.25
    assert res.evidence and res.evidence[0].t_start == 0.75 and res.evidence[0].t_end == 0.875
    assert res.evidence[0].frame_start == 6 and res.evidence[0].frame_end == 7


def test_explanation_never_says_no_sign_above_its_findings(face: FaceObs) -> None:
    """Two frames in twelve disagree: the track as a whole agrees, but the findings are named, not denied."""
    obs = [replace(shifted_centre(face, 12.0) if i in (6, 7) else face, frame_index=i, t=i / 8.0) for i in range(12)]
    res = HeadPoseAnalyzer().analyze(_ctx(FaceTrack(1, tuple(obs))))
    assert res.evidence and res.tracks[0].score < 0.5
    assert "no sign" not in res.explanation and "stretch" in res.explanation, res.explanation
