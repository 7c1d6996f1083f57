"""How a person moves: correlations between facial movements and head rotation, window by window.

Agarwal & Farid ("Protecting World Leaders Against Deep Fakes", CVPR-W 2019)
found that each person has a stable signature in how their expressions and
head movements co-vary (Obama tilts his head as his brows rise; someone
else nods as they smile), and that a face swap or a puppet of that person
moves with somebody else's signature. Following them, each window of footage
becomes a vector of Pearson correlations between every pair of the twelve
signals of :mod:`unmask.faces.signals` (66 pairs; Fisher z so they
add up like normal variables).

Their windows were 10 s; the development clips are 3-8 s, so windows here are
:data:`WINDOW_S` = 4 s, every :data:`HOP_S` = 1 s (an 8 s clip gives 5), at
the scan's 8 frames per second (32 samples per window: noisy correlations,
which is why many windows are pooled). A clip shorter than one window has no
mannerisms to compare, and the report says so.

The per-person model is a Gaussian "two-covariance" model with diagonal
covariances (the simplest version of what speaker and face verification use
with few enrolment samples): the population of people has a mean signature
and a between-person spread; one person's windows scatter around their own
mean with a within-person spread. Both spreads and the population mean are
measured on real development videos and shipped (``models/reference.json``).
Enrolment gives the posterior of the person's mean; a checked clip's score is
the log-likelihood ratio of its windows under "this person" against "anyone
else", which needs no other person's footage at check time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from unmask.faces.signals import SIGNAL_NAMES, SIGNALS, TrackSignals

WINDOW_S = 4.0
HOP_S = 1.0
#: a window needs at least this share of the samples its length allows at the scan's rate
MIN_COVERAGE = 0.6
NOMINAL_FPS = 8.0
#: correlations are clipped before Fisher's transform (|r| -> 1 would dominate)
R_CLIP = 0.95
MAX_GAP_S = 0.5

PAIRS: tuple[tuple[int, int], ...] = tuple((i, j) for i in range(len(SIGNAL_NAMES))
                                           for j in range(i + 1, len(SIGNAL_NAMES)))
PAIR_NAMES: tuple[str, ...] = tuple(f"{SIGNAL_NAMES[i]}~{SIGNAL_NAMES[j]}" for i, j in PAIRS)


def pair_words(k: int) -> str:
    """Plain words for pair ``k``: "how brow raise goes with head nod"."""
    i, j = PAIRS[k]
    a = SIGNALS[SIGNAL_NAMES[i]].split(" (")[0]
    b = SIGNALS[SIGNAL_NAMES[j]].split(" (")[0]
    return f"how {a} goes with {b}"


@dataclass(frozen=True)
class Windows:
    """Correlation vectors of a track's windows and where each window lies in time."""

    vectors: npt.NDArray[np.float32]  # (m, len(PAIRS)) float32, Fisher z
    spans: tuple[tuple[float, float], ...]

    def __len__(self) -> int:
        return len(self.spans)


def correlation_vector(x: npt.ArrayLike) -> npt.NDArray[np.float32]:
    """Fisher-z Pearson correlations of every signal pair over the rows of ``x`` (n, 12); constant signals give 0."""
    x = np.asarray(x, dtype=np.float64)
    sd = x.std(axis=0)
    z = np.zeros((x.shape[0], x.shape[1]))
    ok = sd > 1e-9
    z[:, ok] = (x[:, ok] - x[:, ok].mean(axis=0)) / sd[ok]
    c = (z.T @ z) / max(len(x), 1)
    r = np.array([c[i, j] for i, j in PAIRS])
    return np.asarray(np.arctanh(np.clip(r, -R_CLIP, R_CLIP)), dtype=np.float32)


def track_windows(sig: TrackSignals, window_s: float = WINDOW_S, hop_s: float = HOP_S,
                  nominal_fps: float = NOMINAL_FPS) -> Windows:
    """Overlapping windows along the contiguous stretches of one track (a gap over 0.5 s or a new burst splits it)."""
    vecs: list[npt.NDArray[np.float32]] = []
    spans: list[tuple[float, float]] = []
    t, seg = sig.t, sig.segment
    if len(t) == 0:
        return Windows(np.zeros((0, len(PAIRS)), np.float32), ())
    need = MIN_COVERAGE * window_s * nominal_fps
    start_idx = 0
    for i in range(1, len(t) + 1):
        if i < len(t) and t[i] - t[i - 1] <= MAX_GAP_S and seg[i] == seg[i - 1]:
            continue
        rt = t[start_idx:i]
        rv = sig.values[start_idx:i]
        a = float(rt[0])
        while a + window_s <= float(rt[-1]) + 1e-6:
            m = (rt >= a - 1e-9) & (rt < a + window_s - 1e-9)
            if m.sum() >= need:
                vecs.append(correlation_vector(rv[m]))
                spans.append((a, a + window_s))
            a += hop_s
        start_idx = i
    arr = np.stack(vecs).astype(np.float32) if vecs else np.zeros((0, len(PAIRS)), np.float32)
    return Windows(arr, tuple(spans))


@dataclass(frozen=True)
class Population:
    """Population statistics of the window vectors (measured on real videos, shipped)."""

    mean: npt.NDArray[np.float64]  # (k,)
    within_var: npt.NDArray[np.float64]  # (k,) spread of one person's windows around their own mean
    between_var: npt.NDArray[np.float64]  # (k,) spread of people's means around the population mean

    def __post_init__(self) -> None:
        k = len(PAIRS)
        for name in ("mean", "within_var", "between_var"):
            a = getattr(self, name)
            if a.shape != (k,) or not np.all(np.isfinite(a)):
                raise ValueError(f"Population.{name} must be {k} finite values, got {a.shape}")
        if np.any(self.within_var <= 0) or np.any(self.between_var <= 0):
            raise ValueError("Population variances must be positive")

    @classmethod
    def fit(cls, groups: list[npt.NDArray[np.floating[Any]]], floor: float = 1e-3) -> Population:
        """From window vectors grouped by person (one array per person)."""
        groups = [g for g in groups if len(g)]
        if len(groups) < 3:
            raise ValueError("Population.fit needs windows of at least 3 people")
        allw = np.concatenate(groups)
        mean = allw.mean(axis=0)
        within = np.concatenate([g - g.mean(axis=0) for g in groups])
        vw = within.var(axis=0) + floor
        means = np.stack([g.mean(axis=0) for g in groups])
        n_bar = float(np.mean([effective_windows(len(g)) for g in groups]))
        vb = np.maximum(means.var(axis=0) - vw / n_bar, floor)
        return cls(mean.astype(np.float64), vw.astype(np.float64), vb.astype(np.float64))


def effective_windows(n_windows: int, window_s: float = WINDOW_S, hop_s: float = HOP_S) -> float:
    """Independent windows among ``n`` overlapping ones (windows overlapping by 3/4 share most samples)."""
    return max(1.0, n_windows * hop_s / window_s) if n_windows else 0.0


@dataclass(frozen=True)
class MannerismMatch:
    """Log-likelihood ratio of the checked windows (this person vs anyone else) and what differed most."""

    llr: float  # natural log; > 0 favours "this person"
    n_windows: int
    # (pair index, checked mean r, enrolled mean r), most different first
    top_pairs: tuple[tuple[int, float, float], ...]


def match(enrolled: npt.NDArray[np.floating[Any]], checked: npt.NDArray[np.floating[Any]], pop: Population,
          n_top: int = 3) -> MannerismMatch:
    """Score checked window vectors against a person's enrolled ones under the two-covariance model."""
    if len(enrolled) == 0 or len(checked) == 0:
        raise ValueError("match needs enrolled and checked windows")
    ne = effective_windows(len(enrolled))
    nc = effective_windows(len(checked))
    mu, vw, vb = pop.mean, pop.within_var, pop.between_var
    post_var = 1.0 / (1.0 / vb + ne / vw)
    post_mean = post_var * (mu / vb + ne * enrolled.mean(axis=0) / vw)
    x = checked.astype(np.float64).mean(axis=0)
    v_same = post_var + vw / nc
    v_diff = vb + vw / nc
    lp_same = -0.5 * ((x - post_mean) ** 2 / v_same + np.log(v_same))
    lp_diff = -0.5 * ((x - mu) ** 2 / v_diff + np.log(v_diff))
    llr = float(np.sum(lp_same - lp_diff))
    dev = (x - post_mean) / np.sqrt(v_same)
    order = np.argsort(-np.abs(dev))[:n_top]
    top = tuple((int(k), float(math.tanh(x[k])), float(math.tanh(post_mean[k]))) for k in order)
    return MannerismMatch(llr, len(checked), top)


__all__ = ["HOP_S", "MannerismMatch", "PAIRS", "PAIR_NAMES", "Population", "Windows", "WINDOW_S", "correlation_vector",
           "effective_windows", "match", "pair_words", "track_windows"]
