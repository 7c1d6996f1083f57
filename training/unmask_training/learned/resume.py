"""Continue a fine-tune from shipped ONNX weights.

The ONNX export folds each BatchNorm into the convolution before it, so the shipped file holds
``W' = W * g / s`` and ``b' = beta - mean * g / s`` and no BatchNorm. To train on, the network needs
its BatchNorm layers back (a short fine-tune without them is unstable). They are put back so that the
network computes exactly the shipped function: each convolution takes ``W'``, and its BatchNorm is
calibrated on real training batches (running mean ``m`` and variance ``v`` of the convolution's output)
with ``weight = sqrt(v + eps)`` and ``bias = b' + m``. In eval mode that is ``y + b'``, the folded
network; in train mode the batch statistics are close to the calibrated ones, so training resumes
where the shipped run stopped instead of from a re-normalised network.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from unmask.errors import ModelError


def _folded_convs(path: Path) -> list[tuple[np.ndarray, np.ndarray | None]]:
    """(weight, bias) of every Conv node of an ONNX graph, in graph order."""
    import onnx
    from onnx import numpy_helper

    try:
        graph = onnx.load(str(path)).graph
    except Exception as e:  # onnx raises DecodeError, OSError, ...
        raise ModelError(f"{path}: not an ONNX model we can read ({e})") from e
    inits = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    out = []
    for node in graph.node:
        if node.op_type != "Conv":
            continue
        if node.input[1] not in inits:
            raise ModelError(f"{path}: convolution {node.name} has no constant weight")
        bias = inits.get(node.input[2]) if len(node.input) > 2 else None
        out.append((inits[node.input[1]], bias))
    return out


def _conv_bn_pairs(model: Any) -> list[tuple[Any, Any | None]]:
    """Each Conv2d of ``model`` in definition (= forward) order, with the BatchNorm2d that follows it, if any."""
    from torch import nn

    pairs: list[list[Any]] = []
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            pairs.append([m, None])
        elif isinstance(m, nn.BatchNorm2d):
            if not pairs or pairs[-1][1] is not None:
                raise ModelError("a BatchNorm layer that follows no convolution: cannot map folded weights")
            pairs[-1][1] = m
    return [(c, b) for c, b in pairs]


def load_folded(model: Any, onnx_path: Path, calibration: np.ndarray) -> float:
    """Load ``onnx_path``'s folded weights into ``model`` (a ``SwapNet`` of the same architecture, at any input
    size: the network is fully convolutional) with calibrated BatchNorm layers; returns the largest
    |torch - ONNX Runtime| logit difference on ``calibration[:8]`` at the file's input size (raises
    ``ModelError`` above 1e-2 or when the layers do not match).

    ``calibration``: N x S x S x 3 uint8 network inputs like the training batches (real and self-blended).
    """
    import torch

    from unmask_training.learned.onnx_export import check_onnx

    folded = _folded_convs(Path(onnx_path))
    pairs = _conv_bn_pairs(model)
    if len(folded) != len(pairs):
        raise ModelError(f"{onnx_path}: {len(folded)} convolutions, the network has {len(pairs)}")
    for k, ((w, _b), (conv, _bn)) in enumerate(zip(folded, pairs, strict=True)):
        if tuple(w.shape) != tuple(conv.weight.shape):
            raise ModelError(f"{onnx_path}: convolution {k} has shape {w.shape}, the network's "
                             f"{tuple(conv.weight.shape)}")
    stats: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}
    hooks = []
    with torch.no_grad():
        for k, ((w, b), (conv, bn)) in enumerate(zip(folded, pairs, strict=True)):
            conv.weight.copy_(torch.from_numpy(np.array(w)))
            bias = torch.from_numpy(np.array(b)) if b is not None else torch.zeros(w.shape[0])
            if bn is None:
                if conv.bias is None:
                    raise ModelError(f"{onnx_path}: convolution {k} has a bias the network's lacks")
                conv.bias.copy_(bias)
                continue
            if conv.bias is not None:
                conv.bias.zero_()
            # identity BatchNorm plus the folded bias: the network is now the shipped one
            bn.running_mean.zero_()
            bn.running_var.fill_(1.0 - bn.eps)
            bn.weight.fill_(1.0)
            bn.bias.copy_(bias)

            def grab(_m: Any, _i: Any, y: torch.Tensor, k: int = k) -> None:
                stats[k] = (y.mean(dim=(0, 2, 3)), y.var(dim=(0, 2, 3), unbiased=True))

            hooks.append(conv.register_forward_hook(grab))
        model.eval()
        x = torch.from_numpy(calibration.transpose(0, 3, 1, 2).astype(np.float32))
        model(x)
        for h in hooks:
            h.remove()
        for k, (_conv, bn) in enumerate(pairs):
            if bn is None:
                continue
            mean, var = stats[k]
            bn.running_mean.copy_(mean)
            bn.running_var.copy_(var)
            bn.weight.copy_(torch.sqrt(var + bn.eps))
            bn.bias.add_(mean)
    return check_onnx(model, Path(onnx_path), _at_input_size(Path(onnx_path), calibration[:8]))


def _at_input_size(onnx_path: Path, images: np.ndarray) -> np.ndarray:
    """``images`` resized to the file's fixed input size, if it has one (a run continued at another size is
    compared with its parent where the parent runs)."""
    import cv2
    import onnxruntime as ort

    shape = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"]).get_inputs()[0].shape
    side = shape[2] if len(shape) == 4 and isinstance(shape[2], int) else None
    if side is None or side == images.shape[1]:
        return images
    return np.stack([cv2.resize(im, (side, side), interpolation=cv2.INTER_AREA) for im in images])
