"""Ranking metrics shared by the benchmark and the fusion fit."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def roc_metrics(y: Sequence[int], s: Sequence[float]) -> dict[str, float | None]:
    """AUC, AP and EER; None when a class is missing."""
    from sklearn.metrics import average_precision_score, roc_auc_score, roc_curve

    ya, sa = np.asarray(y), np.asarray(s, dtype=float)
    if len(set(ya.tolist())) < 2:
        return {"auc": None, "ap": None, "eer": None}
    fpr, tpr, _ = roc_curve(ya, sa)
    fnr = 1 - tpr
    i = int(np.nanargmin(np.abs(fnr - fpr)))
    return {
        "auc": round(float(roc_auc_score(ya, sa)), 4),
        "ap": round(float(average_precision_score(ya, sa)), 4),
        "eer": round(float((fpr[i] + fnr[i]) / 2), 4),
    }
