"""Faces on the shared development media: real videos and photos, several people, 480p-1080p."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from unmask.config import FaceConfig
from unmask.faces import FaceFinder, find_tracks
from unmask.types import Frame

DATA = Path(os.environ.get("UNMASK_DATA_DIR", Path(__file__).resolve().parents[3] / "shared" / "data"))
pytestmark = [
    pytest.mark.shared_data,
    pytest.mark.skipif(not (DATA / "manifest.csv").exists(), reason=f"shared data not found at {DATA}"),
]


def _video(rel: str, fps: float = 8.0, seconds: float = 3.0) -> list[Frame]:
    """Frames sampled at about ``fps`` from the first ``seconds`` (PyAV, timestamps from pts)."""
    import av

    out: list[Frame] = []
    next_t = 0.0
    with av.open(str(DATA / rel)) as c:
        for i, f in enumerate(c.decode(video=0)):
            t = float(f.time) if f.time is not None else i / 25.0
            if t > seconds:
                break
            if t + 1e-6 >= next_t:
                out.append(Frame(i, t, f.to_ndarray(format="rgb24")))
                next_t += 1.0 / fps
    if not out:
        pytest.skip(f"no frames decoded from {rel}")
    return out


def _image(rel: str) -> Frame:
    import cv2

    bgr = cv2.imread(str(DATA / rel))
    if bgr is None:
        pytest.skip(f"cannot read {rel}")
    return Frame(0, 0.0, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))


@pytest.mark.parametrize("rel", ["media/real/ffpp/004.mp4", "media/real/ffpp/519.mp4", "media/real/dfdc/lynaeydofd.mp4"])
def test_single_speaker_one_track(rel: str) -> None:
    frames = _video(rel)
    tracks = find_tracks(frames)
    main = max(tracks, key=len)
    assert main.id == 1
    assert len(main) >= 0.9 * len(frames)
    assert len(main.with_landmarks) >= 0.9 * len(main)
    assert sum(len(t) for t in tracks if t is not main) <= 2  # at most a stray detection
    assert main.median_size > 64


def test_portrait_video_one_track() -> None:
    frames = _video("media/fake/dfdc/brtujopkby.mp4", seconds=2.0)
    tracks = find_tracks(frames)
    assert max(len(t) for t in tracks) >= 0.9 * len(frames)


@pytest.mark.parametrize("rel,n_min", [("media/real/insightface/t1.jpg", 5), ("media/real/facenet_pytorch/multiface.jpg", 6)])
def test_group_photo_many_faces(rel: str, n_min: int) -> None:
    finder = FaceFinder(FaceConfig(max_faces=10))
    obs = finder.process(_image(rel))
    assert len(obs) >= n_min
    tracks = finder.tracks()
    assert [t.id for t in tracks] == list(range(1, len(obs) + 1))
    assert sum(o.landmarks is not None for o in obs) >= n_min - 1
    # no two boxes on the same face
    centres = np.array([((o.box[0] + o.box[2]) / 2, (o.box[1] + o.box[3]) / 2) for o in obs])
    d = np.linalg.norm(centres[:, None] - centres[None], axis=2) + np.eye(len(obs)) * 1e9
    assert d.min() > 0.5 * min(o.size for o in obs)


def test_street_scene_several_people() -> None:
    frames = _video("media/real/facenet_pytorch/video.mp4", seconds=2.5)
    tracks = find_tracks(frames, FaceConfig(max_faces=8))
    long_tracks = [t for t in tracks if len(t) >= len(frames) // 2]
    assert len(long_tracks) >= 2
    # ids are handed out in order of first appearance
    starts = [t.start_t for t in tracks]
    assert starts == sorted(starts)
