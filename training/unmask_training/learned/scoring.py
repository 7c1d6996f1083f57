"""Scoring faces with a torch model during training: device choice, batched prediction, AUC."""

from __future__ import annotations

from typing import Any

import numpy as np

from unmask.errors import UnmaskError


def auc(y: np.ndarray, score: np.ndarray) -> float | None:
    if len(np.unique(y)) < 2:
        return None
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, score))


def predict(model: Any, images: np.ndarray, batch: int = 64, device: str = "cpu") -> np.ndarray:
    import torch

    model.eval()
    out = []
    with torch.no_grad():
        for k in range(0, len(images), batch):
            x = torch.from_numpy(images[k : k + batch].transpose(0, 3, 1, 2).astype(np.float32)).to(device)
            out.append(model(x)[0].float().cpu().numpy())
    return np.concatenate(out) if out else np.zeros(0, np.float32)


def resolve_device(name: str) -> str:
    import torch

    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise UnmaskError("device 'cuda' asked for, but torch sees no GPU (use --device cpu or auto)")
    if name not in ("cpu", "cuda"):
        raise UnmaskError(f"device must be cpu, cuda or auto, got {name!r}")
    return name
