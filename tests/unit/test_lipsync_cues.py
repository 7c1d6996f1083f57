"""benchmarks/lipsync_cues.py: each lower-face cue moves the way its docstring says, on pictures where the answer is known."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import cv2
import numpy as np
import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "lipsync_cues.py"


@pytest.fixture(scope="module")
def cues():
    spec = importlib.util.spec_from_file_location("lipsync_cues", SCRIPT)
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def skin(seed: int, side: int) -> np.ndarray:
    """Grey 'skin': smooth shading plus fine texture."""
    rng = np.random.default_rng(seed)
    tex = cv2.GaussianBlur(rng.normal(0, 12, (side, side)).astype(np.float32), (0, 0), 0.7)
    ramp = np.linspace(90, 140, side, dtype=np.float32)[:, None]
    return ramp + tex


def lower_rows(cues) -> slice:
    """Rows of the levelled face from just below the upper-cheek patches down."""
    top = int(cues.EYE_Y + (cues.UPPER[0][1] + cues.HALF) * cues.D) + 8
    return slice(top, cues.SIDE)


def test_detail_drops_when_the_lower_face_is_pasted_in_at_low_resolution(cues):
    img = skin(0, cues.SIDE)
    assert abs(cues.detail(img)) < 0.15
    pasted = img.copy()
    rows = lower_rows(cues)
    low = cv2.resize(cv2.resize(img[rows], (48, 24), interpolation=cv2.INTER_AREA),
                     (cues.SIDE, rows.stop - rows.start), interpolation=cv2.INTER_LINEAR)
    pasted[rows] = low
    assert cues.detail(pasted) < -0.5


def test_coherence_drops_when_the_lower_face_is_redrawn_each_frame(cues):
    a = skin(1, cues.SIDE)
    b = np.roll(a, (2, 1), axis=(0, 1))  # the whole face moved: texture moves with it
    assert abs(cues.coherence(a, b)) < 0.1
    redrawn = b.copy()
    rows = lower_rows(cues)
    redrawn[rows] = skin(2, cues.SIDE)[rows]  # new texture in the lower face only
    assert cues.coherence(a, redrawn) < -0.5


def test_auc_low_ranks_lower_values_as_more_suspicious(cues):
    assert cues.auc_low([0.0, 0.1], [1.0, 2.0]) == 1.0
    assert cues.auc_low([3.0], [1.0, 2.0]) == 0.0
    assert cues.auc_low([1.0], [1.0]) == 0.5
    assert cues.auc_low([], [1.0]) is None


def test_a_missing_or_wrong_manifest_is_a_one_line_error(cues, tmp_path, capsys):
    for bad in (tmp_path / "nope.csv", SCRIPT):
        with pytest.raises(SystemExit) as e:
            cues.main([str(bad), "--out", str(tmp_path / "out")])
        assert e.value.code == 2
        err = capsys.readouterr().err.strip().splitlines()[-1]
        assert err.startswith("lipsync_cues.py: error: ") and ("no such manifest" in err or "not a media manifest" in err)
