"""Contact sheet of self-blended pseudo-fakes (learned/sbi.py) on a public-domain face.

    PYTHONPATH=src python benchmarks/sbi_contact_sheet.py --out docs/sbi-examples.png

The face is scikit-image's ``astronaut`` photo (NASA, Eileen Collins; public domain), the one the
demo uses: ``../shared/data`` is research-only and must not be copied into the repository, not even
as thumbnails. The photo is meshed by the face stage as it is, mirrored, and turned and scaled a
little, then cut into whole-face views (``faces.align.face_view``, as the training caches hold
them). Each column is a fresh draw of ``sbi.self_blend`` (mask shape, blend ratio, colour and
frequency change) on one of those views; rows: the real view, its self-blend, the boundary map
(Face X-ray target), |difference| x4.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

from unmask.config import FaceConfig
from unmask.errors import UnmaskError
from unmask.faces.align import VIEW_ZOOM, face_view
from unmask.faces.finder import FaceFinder
from unmask.synth import astronaut
from unmask.types import Frame
from unmask_training.learned.sbi import contact_sheet

#: (mirrored, degrees of roll, scale) of the photo before meshing: a little variety on one face
VARIANTS = ((False, 0.0, 1.0), (True, 0.0, 1.0), (False, 8.0, 0.9), (True, -6.0, 1.1))


def transformed(img: np.ndarray, mirror: bool, deg: float, scale: float) -> np.ndarray:
    """The photo mirrored, rotated ``deg`` degrees and scaled about its centre (edges replicated)."""
    out = img[:, ::-1] if mirror else img
    h, w = out.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2.0, h / 2.0), deg, scale)
    return np.ascontiguousarray(cv2.warpAffine(np.ascontiguousarray(out), m, (w, h), flags=cv2.INTER_LINEAR,
                                               borderMode=cv2.BORDER_REFLECT))


def astronaut_views(size: int = 256, zoom: float = VIEW_ZOOM, variants=VARIANTS,
                    finder: FaceFinder | None = None) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """``(view, landmarks (478 x 2), depth (478,))`` of the astronaut's face, one per variant.

    Landmarks are in view pixels; depth is mediapipe's relative z scaled to the same pixels (what a
    procedural head turn needs). Raises when the mesh misses the face.
    """
    own = finder is None
    finder = finder or FaceFinder(FaceConfig(crop_size=size))
    try:
        out = []
        for mirror, deg, scale in variants:
            finder.reset()
            faces = [o for o in finder.process(Frame(0, 0.0, transformed(astronaut(), mirror, deg, scale)))
                     if o.landmarks is not None]
            if not faces:
                raise UnmaskError(f"astronaut (mirror={mirror}, roll={deg}, scale={scale}): no meshed face")
            obs = max(faces, key=lambda o: o.size)
            view = face_view(obs, size, zoom)
            if view is None:
                raise UnmaskError("astronaut: no face view")
            xy = view.map_points(obs.landmarks_in_crop())
            k = float(np.sqrt(abs(np.linalg.det(view.matrix[:, :2]))) * obs.crop_scale)
            out.append((view.image, xy, (obs.landmarks[:, 2] * k).astype(np.float32)))
        return out
    finally:
        if own:
            finder.close()


def save_small(rgb: np.ndarray, out: Path, max_bytes: int) -> None:
    """A PNG; re-saved with a 256-colour palette when the full-colour one is over ``max_bytes``."""
    from PIL import Image

    out.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rgb).save(out, optimize=True)
    if out.stat().st_size > max_bytes:
        Image.fromarray(rgb).quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE) \
            .save(out, optimize=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, default=Path("docs/sbi-examples.png"))
    p.add_argument("--columns", type=int, default=8, help="blends drawn (columns cycle through the photo's variants)")
    p.add_argument("--size", type=int, default=256, help="face view side the blends are made at")
    p.add_argument("--tile", type=int, default=128)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-kb", type=int, default=380, help="palette-reduce the PNG when it is larger")
    a = p.parse_args(argv)
    try:
        views = astronaut_views(a.size)
        with tempfile.TemporaryDirectory() as tmp:
            raw = contact_sheet([(v, xy) for v, xy, _ in views], np.random.default_rng(a.seed),
                                Path(tmp) / "sheet.png", n=a.columns, tile=a.tile)
            sheet = cv2.imread(str(raw))[..., ::-1]
        save_small(np.ascontiguousarray(sheet), a.out, a.max_kb * 1000)
        print(f"{a.out}: {sheet.shape[1]}x{sheet.shape[0]}, {a.out.stat().st_size / 1e3:.0f} kB")
    except (UnmaskError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
