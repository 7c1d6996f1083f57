"""Shared fixtures: synthetic clips (built once per session) and the development data location."""

from __future__ import annotations

from pathlib import Path

import pytest

from unmask.config import ScanConfig

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
SHARED_MANIFEST = SHARED_DATA / "manifest.csv"

needs_shared_data = pytest.mark.skipif(
    not SHARED_MANIFEST.exists(), reason=f"development media not found at {SHARED_DATA} (see README: ../shared/data)"
)


@pytest.fixture(scope="session")
def face_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """4 s, 25 fps, 640x480 clip of the astronaut portrait drifting in frame."""
    from unmask.synth import write_face_clip

    return write_face_clip(tmp_path_factory.mktemp("clips") / "face.mp4", seconds=4.0)


@pytest.fixture(scope="session")
def face_image(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The astronaut portrait as a JPEG still."""
    from PIL import Image

    from unmask.synth import astronaut

    p = tmp_path_factory.mktemp("images") / "astronaut.jpg"
    Image.fromarray(astronaut()).save(p, quality=92)
    return p


@pytest.fixture(scope="session")
def scanner():
    """One Scanner for the session: models load once."""
    from unmask.pipeline import Scanner

    return Scanner(ScanConfig())
