"""BlendBoundaryAnalyzer on the astronaut portrait, and on a synthetic pasted face made from it."""

from __future__ import annotations

import math
from dataclasses import replace

import cv2
import numpy as np
import pytest
from conftest import assert_well_formed

from unmask.analyzers.blend_boundary import BlendBoundaryAnalyzer, frame_features
from unmask.faces.regions import in_frame_mask, oval_polygon, polygon_mask, scale_polygon
from unmask.synth import astronaut
from unmask.types import FaceObs, FaceTrack, Frame, MediaContext, MediaInfo, SampledFrame

N_FRAMES = 6  # copies of the face at 8 frames/s: a short "video" track


@pytest.fixture(scope="module")
def face() -> FaceObs:
    from unmask.faces.finder import find_tracks

    tracks = find_tracks([Frame(0, 0.0, astronaut())])
    assert tracks and tracks[0].observations[0].landmarks is not None
    return tracks[0].observations[0]


def _ctx(*tracks: FaceTrack, size: int = 512) -> MediaContext:
    info = MediaInfo("astronaut.mp4", "0" * 64, 1, "mp4", "video", "h264", 1.0, 8.0, size, size)
    n = max(len(t) for t in tracks)
    sampled = tuple(SampledFrame(i, i / 8.0, 0, 1) for i in range(n))
    return MediaContext(info, (), sampled, tracks)


def _track(obs: FaceObs, track_id: int = 1, n: int = N_FRAMES) -> FaceTrack:
    return FaceTrack(track_id, tuple(replace(obs, frame_index=i, t=i / 8.0) for i in range(n)))


def pasted(obs: FaceObs) -> FaceObs:
    """The inner face blurred and colour-shifted behind a soft mask; the ring around it untouched."""
    xy = obs.landmarks_in_crop()
    assert xy is not None
    mask = polygon_mask(scale_polygon(oval_polygon(xy), 0.8), obs.crop.shape[:2]).astype(np.float32)
    mask = cv2.GaussianBlur(mask, (0, 0), 4)[..., None]
    inner = cv2.GaussianBlur(obs.crop, (0, 0), 3).astype(np.float32) + np.array([25.0, -10.0, -15.0], np.float32)
    crop = np.clip(mask * inner + (1 - mask) * obs.crop, 0, 255).astype(np.uint8)
    return replace(obs, crop=crop)


def test_real_face_is_ok_with_finite_features(face: FaceObs) -> None:
    res = BlendBoundaryAnalyzer().analyze(_ctx(_track(face)))
    assert_well_formed(res)
    ts = res.for_track(1)
    assert ts is not None and len(ts.per_frame) == N_FRAMES
    for key in ("noise_ratio_med", "sharp_ratio_med", "color_dist_med", "seam_med", "seam_p90"):
        assert key in ts.features


def test_still_image_single_frame(face: FaceObs) -> None:
    res = BlendBoundaryAnalyzer().analyze(_ctx(_track(face, n=1)))
    assert_well_formed(res)
    assert len(res.tracks) == 1


def test_pasted_face_scores_clearly_higher(face: FaceObs) -> None:
    fake = pasted(face)
    real_f, fake_f = frame_features(face), frame_features(fake)
    assert real_f is not None and fake_f is not None
    assert fake_f["sharp_ratio"] < real_f["sharp_ratio"] - 0.5  # inner face blurrier
    assert fake_f["color_dist"] > real_f["color_dist"] + 0.5  # inner face off-colour
    res = BlendBoundaryAnalyzer().analyze(_ctx(_track(face, 1), _track(fake, 2)))
    assert_well_formed(res)
    real_s, fake_s = res.for_track(1), res.for_track(2)
    assert real_s is not None and fake_s is not None
    assert fake_s.score > real_s.score + 0.25
    fake_ev = [e for e in res.evidence if e.track_id == 2]
    assert fake_ev and fake_ev[0].t_start == 0.0 and fake_ev[0].t_end == pytest.approx((N_FRAMES - 1) / 8.0)
    assert "Face 2" in fake_ev[0].detail


def test_track_without_landmarks_is_not_scored(face: FaceObs) -> None:
    bare = FaceTrack(7, (replace(face, landmarks=None),))
    res = BlendBoundaryAnalyzer().analyze(_ctx(bare))
    assert res.status == "skipped" and res.reason
    mixed = BlendBoundaryAnalyzer().analyze(_ctx(_track(face, 1), bare))
    assert mixed.status == "ok" and mixed.for_track(7) is None and mixed.for_track(1) is not None


def test_face_at_frame_edge_ignores_padding(face: FaceObs) -> None:
    # the frame ends a quarter of the way into the crop: what lies beyond is black padding
    side = face.crop_box[2] - face.crop_box[0]
    frame_w = int(face.crop_box[0] + 0.75 * side)
    crop = face.crop.copy()
    crop[:, int(0.75 * crop.shape[1]) + 1:] = 0
    edge = replace(face, crop=crop)
    valid = in_frame_mask(edge, (frame_w, 512))
    assert not valid[:, -1].any() and valid[:, 0].all()
    assert 0.7 < valid.mean() < 0.8
    f = frame_features(edge, (frame_w, 512))
    assert f is not None and all(math.isfinite(v) for v in f.values())


def test_explanation_never_denies_its_own_findings(face: FaceObs) -> None:
    """A pasted face in one frame of twelve: the track scores low, but that frame is a finding, so the
    explanation must not say "no pasting boundary was found" above it."""
    fake = pasted(face)
    obs = tuple(replace(fake if i == 5 else face, frame_index=i, t=i / 8.0) for i in range(12))
    res = BlendBoundaryAnalyzer().analyze(_ctx(FaceTrack(1, obs)))
    assert_well_formed(res)
    assert res.evidence and res.tracks[0].score < 0.5
    assert "no pasting boundary was found" not in res.explanation, res.explanation
    clean = BlendBoundaryAnalyzer().analyze(_ctx(_track(face)))
    assert not clean.evidence and "no pasting boundary was found" in clean.explanation
