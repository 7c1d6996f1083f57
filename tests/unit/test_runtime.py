"""BlendModel: onnxruntime inference of the exported net, with its sha256 checked."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from unmask.errors import ModelError
from unmask.learned.runtime import BlendModel, file_sha256


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random-init BlendNet exported at size 32 with a minimal manifest."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("onnx")
    from unmask_training.learned.model import BlendNet
    from unmask_training.learned.onnx_export import export_onnx

    torch.set_flush_denormal(True)
    torch.manual_seed(0)
    d = tmp_path_factory.mktemp("model")
    export_onnx(BlendNet(), d / "blend_cnn.onnx", 32)
    (d / "blend_cnn.json").write_text(json.dumps({"sha256": file_sha256(d / "blend_cnn.onnx"), "input": {"size": 32}}))
    return d


def test_predicts_probabilities_and_maps(exported: Path) -> None:
    m = BlendModel(exported / "blend_cnn.onnx", exported / "blend_cnn.json")
    assert m.available and m.size == 32
    faces = np.random.default_rng(0).integers(0, 255, (37, 48, 48, 3), dtype=np.uint8)  # > one batch, other size
    prob, maps = m.predict(faces)
    assert prob.shape == (37,) and prob.dtype == np.float32
    assert maps.shape == (37, 8, 8) and maps.dtype == np.float32
    assert np.all((prob >= 0) & (prob <= 1)) and np.all((maps >= 0) & (maps <= 1))
    p1, _ = m.predict(faces[:1])
    assert np.allclose(p1, prob[:1], atol=1e-5)  # batching does not change answers


def test_tampered_weights_raise(exported: Path, tmp_path: Path) -> None:
    shutil.copy(exported / "blend_cnn.json", tmp_path / "blend_cnn.json")
    data = bytearray((exported / "blend_cnn.onnx").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (tmp_path / "blend_cnn.onnx").write_bytes(bytes(data))
    m = BlendModel(tmp_path / "blend_cnn.onnx", tmp_path / "blend_cnn.json")
    assert m.available
    with pytest.raises(ModelError, match="do not match"):
        m.load()


def test_missing_files(tmp_path: Path) -> None:
    m = BlendModel(tmp_path / "nope.onnx", tmp_path / "nope.json")
    assert not m.available
    with pytest.raises(ModelError, match="not found"):
        m.load()
    with pytest.raises(ModelError):
        m.predict(np.zeros((1, 32, 32, 3), np.uint8))


def test_shipped_default_paths_resolve() -> None:
    m = BlendModel()
    assert m.onnx_path.name == "blend_cnn.onnx" and m.manifest_path.name == "blend_cnn.json"
    if not m.available:
        with pytest.raises(ModelError):
            m.load()


def test_runtime_does_not_import_torch() -> None:
    import subprocess
    import sys

    code = "import sys, unmask.learned.runtime as r; r.BlendModel().available; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_polar_model_unwraps_the_outline_and_needs_landmarks(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    pytest.importorskip("onnx")
    from unmask.learned.polar import MAP_SHAPE, N_ANGLES, N_RADII
    from unmask_training.learned.onnx_export import export_onnx
    from unmask_training.learned.polar_net import PolarNet

    torch.manual_seed(0)
    export_onnx(PolarNet(), tmp_path / "blend_cnn.onnx", (N_RADII, N_ANGLES))
    (tmp_path / "blend_cnn.json").write_text(json.dumps(
        {"sha256": file_sha256(tmp_path / "blend_cnn.onnx"), "input": {"kind": "polar", "size": 64}}))
    m = BlendModel(tmp_path / "blend_cnn.onnx", tmp_path / "blend_cnn.json")
    assert m.polar
    faces = np.random.default_rng(0).integers(0, 255, (3, 64, 64, 3), dtype=np.uint8)
    t = np.linspace(0, 2 * np.pi, 478, endpoint=False)
    lm = np.stack([32 + 20 * np.cos(t), 32 + 24 * np.sin(t)], axis=1).astype(np.float32)  # a ring of points
    prob, maps = m.predict(faces, np.stack([lm] * 3))
    assert prob.shape == (3,) and maps.shape == (3, *MAP_SHAPE)
    with pytest.raises(ModelError, match="landmarks"):
        m.predict(faces)
