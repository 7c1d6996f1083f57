"""Run the shipped blend CNN with onnxruntime only, so scanning never needs torch.

The weights are checked against the manifest's sha256 before first use: a
truncated download or a swapped file must fail loudly, not score quietly.
"""

from __future__ import annotations

import hashlib
import json
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from unmask.errors import ModelError

ONNX_NAME = "blend_cnn.onnx"
MANIFEST_NAME = "blend_cnn.json"
BATCH = 32
THREADS = 2


def _shipped(name: str) -> Path:
    return Path(str(resources.files("unmask.models").joinpath(name)))


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def top_mean(p: NDArray[Any], fraction: float = 0.25) -> float:
    """Mean of the highest ``fraction`` of values: robust to a few bad frames, sensitive to a swap that flickers."""
    k = max(1, int(round(fraction * len(p))))
    return float(np.mean(np.sort(np.asarray(p))[-k:]))


def crop_views(views: NDArray[Any], view_zoom: float, crop_zoom: float, size: int) -> NDArray[Any]:
    """Centre crops of whole-face views (``faces.align.face_view`` at ``view_zoom``) at ``crop_zoom``, resized.

    Training validation and scanning both go through this, so the network sees the same pixels.
    """
    import cv2

    views = np.asarray(views)
    if views.ndim != 4 or views.shape[1] != views.shape[2] or views.shape[-1] != 3:
        raise ModelError(f"expected N x S x S x 3 face views, got shape {views.shape}")
    side = views.shape[1]
    c = int(round(side * crop_zoom / view_zoom))
    o = (side - c) // 2
    interp = cv2.INTER_AREA if c > size else cv2.INTER_LINEAR
    out = np.empty((len(views), size, size, 3), np.uint8)
    for i, v in enumerate(views):
        out[i] = cv2.resize(np.ascontiguousarray(v[o : o + c, o : o + c]), (size, size), interpolation=interp)
    return out


def _sigmoid(x: NDArray[Any]) -> NDArray[Any]:
    out: NDArray[np.float32] = (1.0 / (1.0 + np.exp(-np.clip(x, -60.0, 60.0)))).astype(np.float32)
    return out


class BlendModel:
    """Lazy onnxruntime wrapper around blend_cnn.onnx and its manifest."""

    def __init__(self, onnx_path: Path | None = None, manifest_path: Path | None = None) -> None:
        self.onnx_path = Path(onnx_path) if onnx_path is not None else _shipped(ONNX_NAME)
        if manifest_path is not None:
            self.manifest_path = Path(manifest_path)
        elif onnx_path is not None:
            self.manifest_path = self.onnx_path.with_suffix(".json")
        else:
            self.manifest_path = _shipped(MANIFEST_NAME)
        self._session: Any = None
        self._manifest: dict[str, Any] | None = None

    @property
    def available(self) -> bool:
        """Both the weights and their manifest are present (not yet verified)."""
        return self.onnx_path.is_file() and self.manifest_path.is_file()

    @property
    def manifest(self) -> dict[str, Any]:
        self.load()
        assert self._manifest is not None
        return self._manifest

    @property
    def size(self) -> int:
        """Side of the aligned face the model wants (a polar model unwraps its strip from this)."""
        return int(self.manifest["input"]["size"])

    @property
    def view(self) -> bool:
        """Whether the model reads whole-face views (``faces.align.face_view``) rather than eye-aligned faces."""
        return bool(self.manifest["input"].get("kind") == "view")

    @property
    def view_size(self) -> int:
        """Side of the view to hand :meth:`predict` (for a view model; else the aligned face's side)."""
        return int(self.manifest["input"].get("view_size", self.size))

    @property
    def view_zoom(self) -> float:
        return float(self.manifest["input"].get("view_zoom", 1.5))

    @property
    def polar(self) -> bool:
        """Whether the model reads the face-outline strip (``learned.polar``), which needs landmarks."""
        return bool(self.manifest["input"].get("kind") == "polar")

    def load(self) -> None:
        """Verify and open the model once; raises ModelError with what is wrong."""
        if self._session is not None:
            return
        for p, what in ((self.onnx_path, "weights"), (self.manifest_path, "manifest")):
            if not p.is_file():
                raise ModelError(f"blend CNN {what} not found at {p} (train with `unmask-train train` or reinstall)")
        try:
            manifest = json.loads(self.manifest_path.read_text())
            expected = str(manifest["sha256"])
            int(manifest["input"]["size"])
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise ModelError(f"blend CNN manifest {self.manifest_path} is unreadable: {e}") from e
        actual = file_sha256(self.onnx_path)
        if actual != expected:
            raise ModelError(
                f"blend CNN weights {self.onnx_path} do not match their manifest "
                f"(sha256 {actual[:12]}..., expected {expected[:12]}...): the file is corrupt or replaced"
            )
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = THREADS
        opts.inter_op_num_threads = 1
        try:
            session = ort.InferenceSession(str(self.onnx_path), opts, providers=["CPUExecutionProvider"])
        except Exception as e:  # onnxruntime raises its own untyped errors
            raise ModelError(f"blend CNN weights {self.onnx_path} cannot be loaded: {e}") from e
        self._manifest = manifest
        self._session = session

    def predict(self, faces: NDArray[Any], landmarks: NDArray[Any] | None = None) -> tuple[NDArray[Any], NDArray[Any]]:
        """Aligned N×S×S×3 uint8 RGB faces -> (fake probability N, maps N×h×w), all in [0,1].

        A view model takes ``view_size`` px whole-face views and returns its class-activation maps;
        ``landmarks`` (N×478×2, aligned-face pixels) are required by a polar model.
        """
        self.load()
        faces = np.asarray(faces)
        if faces.ndim == 3:
            faces = faces[None]
            landmarks = None if landmarks is None else np.asarray(landmarks)[None]
        if faces.ndim != 4 or faces.shape[-1] != 3:
            raise ModelError(f"blend CNN expects N×S×S×3 RGB faces, got shape {faces.shape}")
        size = self.size
        if self.polar and (landmarks is None or len(landmarks) != len(faces)):
            raise ModelError("this blend CNN reads the face outline: pass one set of landmarks per face")
        if len(faces) == 0:
            from unmask.learned.polar import MAP_SHAPE

            side = size // 32 if self.view else size // 4
            return np.zeros(0, np.float32), np.zeros((0, *(MAP_SHAPE if self.polar else (side, side))), np.float32)
        probs: list[NDArray[Any]] = []
        maps: list[NDArray[Any]] = []
        out_names = [o.name for o in self._session.get_outputs()]
        map_name = "cam" if "cam" in out_names else "boundary"
        for start in range(0, len(faces), BATCH):
            if self.view:
                inp = self.manifest["input"]
                crops = crop_views(faces[start : start + BATCH], float(inp["view_zoom"]), float(inp["crop_zoom"]), size)
                x = np.ascontiguousarray(crops.transpose(0, 3, 1, 2), dtype=np.float32)
            elif self.polar:
                assert landmarks is not None
                x = self._prepare_polar(faces[start : start + BATCH], np.asarray(landmarks)[start : start + BATCH],
                                        size)
            else:
                x = self._prepare(faces[start : start + BATCH], size)
            logit, boundary = self._session.run(["logit", map_name], {"image": x})
            probs.append(_sigmoid(np.asarray(logit).reshape(-1)))
            maps.append(_sigmoid(np.asarray(boundary)[:, 0]))
        return np.concatenate(probs), np.concatenate(maps)

    @staticmethod
    def _prepare_polar(batch: NDArray[Any], landmarks: NDArray[Any], size: int) -> NDArray[Any]:
        from unmask.learned.polar import unwrap_all

        if batch.shape[1] != size:
            raise ModelError(f"this blend CNN unwraps {size} px aligned faces, got {batch.shape[1]} px")
        return np.ascontiguousarray(unwrap_all(batch, landmarks).transpose(0, 3, 1, 2), dtype=np.float32)

    @staticmethod
    def _prepare(batch: NDArray[Any], size: int) -> NDArray[Any]:
        import cv2

        if batch.shape[1:3] != (size, size):
            interp = cv2.INTER_AREA if batch.shape[1] > size else cv2.INTER_LINEAR
            batch = np.stack([cv2.resize(f, (size, size), interpolation=interp) for f in batch])
        return np.ascontiguousarray(batch.transpose(0, 3, 1, 2), dtype=np.float32)
