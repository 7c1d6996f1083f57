"""The trained network as ONNX: export, a check against torch, and the manifest's input block and digest."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from unmask.errors import ModelError

if TYPE_CHECKING:
    from unmask_training.learned.train import TrainConfig


def sha256(path: Path) -> str:
    from unmask.learned.runtime import file_sha256

    return file_sha256(path)


def input_spec(config: TrainConfig, face_side: int) -> dict[str, Any]:
    """The manifest's input block: what the runtime must feed the network."""
    align = f"unmask.faces.align.align_face(obs, {face_side})"
    if config.arch == "polar":
        from unmask.learned import polar

        return {"kind": "polar", "size": face_side, "shape": [polar.N_RADII, polar.N_ANGLES], "layout": "NCHW",
                "range": "0-255 RGB", "radii": [polar.R_MIN, polar.R_MAX],
                "face_alignment": f"{align}, then unmask.learned.polar.unwrap(image, aligned landmarks)"}
    return {"kind": "face", "size": config.size, "layout": "NCHW", "range": "0-255 RGB",
            "face_alignment": f"{align} then resize"}


def export_onnx(model: Any, path: Path, size: int | tuple[int, int]) -> None:
    """Write the eval-mode model as opset-17 ONNX with a dynamic batch axis; ``size`` is a side or (h, w)."""
    import torch

    model.eval()
    h, w = (size, size) if isinstance(size, int) else size
    x = torch.zeros(1, 3, h, w)
    try:
        torch.onnx.export(
            model, x, str(path), dynamo=False, opset_version=17, input_names=["image"],
            output_names=["logit", "boundary"],
            dynamic_axes={"image": {0: "batch"}, "logit": {0: "batch"}, "boundary": {0: "batch"}},
        )
    except Exception as e:  # torch.onnx raises many unrelated types
        raise ModelError(f"ONNX export to {path} failed: {e}") from e


def check_onnx(model: Any, path: Path, images: np.ndarray) -> float:
    """Largest |torch - onnxruntime| logit difference on a few faces; raises if the export is wrong."""
    import onnxruntime as ort
    import torch

    if not len(images):
        return 0.0
    x = images.transpose(0, 3, 1, 2).astype(np.float32)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 2
    sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    got = sess.run(["logit"], {"image": x})[0]
    with torch.no_grad():
        want = model(torch.from_numpy(x))[0].numpy()
    diff = float(np.max(np.abs(got - want)))
    if not diff < 1e-2:
        raise ModelError(f"exported ONNX disagrees with torch (max logit difference {diff:.3g})")
    return diff
