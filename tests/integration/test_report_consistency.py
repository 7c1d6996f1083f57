"""Every report of a set of synthetic inputs is free of contradictions (``report_checks.contradictions``).

The inputs cover each way a verdict can be reached: a face video, a still photo (no validated model:
``cannot_assess``), a video without a face, a rotated phone clip, an animated GIF, a clip cut off at
60 % (capped at ``inconclusive``) and at 30 % (``cannot_assess``), and one damaged in the middle.
The shared-data tests run the same check on the development set (tests/integration/test_shared_data.py).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import jsonschema
import numpy as np
import pytest
from report_checks import contradictions

from unmask import synth
from unmask.report.build import load_schema

SCHEMA = load_schema()


def _faces(n: int = 50) -> list[np.ndarray]:
    return synth.face_frames(n, (480, 360))


MAKERS: dict[str, Callable[[Path, Path, Path], Path]] = {
    "face-video": lambda tmp, clip, image: clip,
    "still-photo": lambda tmp, clip, image: image,
    "no-face": lambda tmp, clip, image: synth.write_video(tmp / "wall.mp4", [np.full((120, 160, 3), 90 + i % 7, np.uint8)
                                                                             for i in range(20)], fps=10),
    "rotated-phone-clip": lambda tmp, clip, image: synth.write_video(tmp / "phone.mp4", [np.rot90(f).copy() for f in _faces()],
                                                                     rotation=90),
    "animated-gif": lambda tmp, clip, image: synth.write_gif(tmp / "face.gif", _faces(20)[::2], 100),
    "cut-at-60": lambda tmp, clip, image: synth.truncate(
        synth.write_video(tmp / "f.mp4", _faces(100), faststart=True, gop=10), tmp / "cut60.mp4", 0.6),
    "cut-at-30": lambda tmp, clip, image: synth.truncate(
        synth.write_video(tmp / "f.mp4", _faces(100), faststart=True, gop=10), tmp / "cut30.mp4", 0.3),
    "damaged-middle": lambda tmp, clip, image: synth.corrupt(
        synth.write_video(tmp / "f.mkv", _faces(100), gop=10), tmp / "middle.mkv", 0.45, 0.6),
}


@pytest.mark.parametrize("name", list(MAKERS))
def test_report_has_no_contradictions(scanner, face_clip: Path, face_image: Path, tmp_path: Path, name: str) -> None:
    report = scanner.scan(MAKERS[name](tmp_path, face_clip, face_image))
    jsonschema.validate(report.data, SCHEMA)
    assert contradictions(report.data) == []
    if name.startswith(("cut", "damaged")):
        assert report.data["sampling"]["damaged"] and report.label not in ("likely_real", "likely_fake")
    if name == "still-photo":
        assert report.label == "cannot_assess" and "no validated model for still images" in report.summary
