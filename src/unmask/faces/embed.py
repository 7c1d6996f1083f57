"""dlib face embeddings: who a face looks like, as a 128-D vector.

Used by the temporal analyzer (does the identity drift along one track? swaps
flicker between the source and target person) and, later, by a reference mode
(is this the claimed person?). Embeddings cost ~80-100 ms each on one core, so
callers embed a few observations per track, never every frame.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from unmask.errors import ModelError
from unmask.types import FaceObs

#: distance between two embeddings of the same person is usually below this (dlib's own threshold is 0.6)
SAME_PERSON_DISTANCE = 0.4
#: a face smaller than this (frame pixels) is too blurry for a useful embedding (matches the gate's default)
MIN_FACE_PX = 64.0


#: embeddings remembered per embedder, so two analyzers asking for the same face pay once
MEMO_SIZE = 64


class FaceEmbedder:
    """Lazy dlib 5-point aligner + ResNet embedder. One instance per process is enough.

    ``embed(obs)`` returns a 128-D float32 vector (unit length), or ``None`` when the
    face is too small to say who it is. Models load on the first call (about 1.4 s).
    The last :data:`MEMO_SIZE` results are remembered by observation (the same
    object, not an equal one), so analyzers sharing an embedder share the cost.
    """

    def __init__(self) -> None:
        self._shape: Any = None
        self._net: Any = None
        self._memo: OrderedDict[int, tuple[FaceObs, npt.NDArray[np.float32] | None]] = OrderedDict()

    @property
    def loaded(self) -> bool:
        return self._net is not None

    def load(self) -> None:
        """Load the dlib model files shipped by ``face_recognition_models`` (once)."""
        if self._net is not None:
            return
        try:
            import dlib

            models = _models_dir()
            self._shape = dlib.shape_predictor(str(models / "shape_predictor_5_face_landmarks.dat"))
            self._net = dlib.face_recognition_model_v1(str(models / "dlib_face_recognition_resnet_model_v1.dat"))
        except (ImportError, RuntimeError, OSError) as e:
            raise ModelError(f"cannot load the dlib face embedding models: {e}") from None

    def embed(self, obs: FaceObs) -> npt.NDArray[np.float32] | None:
        """128-D embedding of the face in ``obs.crop`` (aligned with dlib's 5-point model)."""
        hit = self._memo.get(id(obs))
        if hit is not None and hit[0] is obs:
            self._memo.move_to_end(id(obs))
            return hit[1]
        vec = self._embed(obs)
        self._memo[id(obs)] = (obs, vec)  # holding obs keeps its id from being reused while remembered
        while len(self._memo) > MEMO_SIZE:
            self._memo.popitem(last=False)
        return vec

    def _embed(self, obs: FaceObs) -> npt.NDArray[np.float32] | None:
        import dlib

        self.load()
        s = obs.crop_scale
        x0, y0, x1, y1 = obs.box
        cx0, cy0 = obs.crop_box[0], obs.crop_box[1]
        side = obs.crop.shape[0]
        left, top = (x0 - cx0) * s, (y0 - cy0) * s
        right, bottom = (x1 - cx0) * s, (y1 - cy0) * s
        if obs.size < MIN_FACE_PX:
            return None
        rect = dlib.rectangle(
            int(max(0, round(left))), int(max(0, round(top))),
            int(min(side - 1, round(right))), int(min(side - 1, round(bottom))),
        )
        crop = np.ascontiguousarray(obs.crop)
        shape = self._shape(crop, rect)
        vec = self._net.compute_face_descriptor(crop, shape)
        return np.asarray(vec, dtype=np.float32)

    def embed_many(self, observations: Sequence[FaceObs]) -> list[tuple[FaceObs, npt.NDArray[np.float32]]]:
        """Embeddings of the observations that gave one, paired with their observation."""
        out = []
        for o in observations:
            v = self.embed(o)
            if v is not None:
                out.append((o, v))
        return out


def _models_dir() -> Path:
    """The model files' folder in the ``face_recognition_models`` package, found without importing it: its
    ``__init__`` imports pkg_resources (~0.1 s, and a deprecation warning) only to build these paths."""
    spec = find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("the face_recognition_models package is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "models"


def evenly_spaced(observations: Sequence[FaceObs], n: int) -> list[FaceObs]:
    """``n`` observations spread evenly over the track (all of them when there are fewer)."""
    if n <= 0 or not observations:
        return []
    if len(observations) <= n:
        return list(observations)
    idx = np.unique(np.round(np.linspace(0, len(observations) - 1, n)).astype(int))
    return [observations[i] for i in idx]


def distances_to_median(embeddings: npt.NDArray[np.floating[Any]]) -> npt.NDArray[np.floating[Any]]:
    """Euclidean distance of each embedding (rows) to the element-wise median embedding, in the embeddings' own
    precision (float32 for dlib's: the temporal features are rounded from float32 sums)."""
    med = np.median(embeddings, axis=0)
    d: npt.NDArray[np.floating[Any]] = np.linalg.norm(embeddings - med, axis=1)
    return d
