"""The maths of lip sync: the mouth signal, its correlation with the voice at each offset, and how suspicious a
correlation is (used by :mod:`unmask.analyzers.av_sync`, which decides which face speaks and what to report).

Signals are put on one 25 Hz grid, band-passed to 0.5-8 Hz (syllable rates) and correlated at offsets of
±0.5 s; significance counts the signals' real degrees of freedom, so short clips are not called out of sync
by chance.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from unmask.faces.signals import TrackSignals
from unmask.media.speech import Envelope

GRID_HZ = 25.0
BAND_HZ = (0.5, 8.0)
MAX_LAG_S = 0.5
LAG_STEP_S = 0.04
#: the mouth leads the voice by about this much in natural speech (video-first is positive)
PLAUSIBLE_LAG_S = (-0.12, 0.32)
#: the envelope is clipped this far below its loud (p90) level: pauses count as quiet, not as -90 dB
ENV_RANGE_DB = 30.0
MIN_RUN_S = 2.0  # shortest contiguous piece of track worth correlating
MAX_GAP_S = 0.5  # samples further apart split a run
WINDOW_S = 2.0
WINDOW_HOP_S = 1.0
#: mouth and voice "do not match" when the in-range correlation, one standard error above what was measured,
#: stays below this: 1 of the 29 real development clips with speech does (benchmarks/reference_eval.py,
#: docs/reference-benchmarks.md). The suspicion is 0.5 here, 1 at MISMATCH_SPAN below, 0 at MISMATCH_SPAN above.
MISMATCH_MAX_CORR = 0.25
MISMATCH_SPAN = 0.15
#: a peak this much stronger outside the physiological range than inside it means an offset
OFFSET_MARGIN = 0.10
_MOUTH = ("lower_lip", "jaw_drop", "mouth_open")
_SIGN = {"lower_lip": -1.0, "jaw_drop": 1.0, "mouth_open": 1.0}  # all three grow as the mouth opens


@dataclass(frozen=True)
class SyncCurve:
    """Correlation of mouth and voice at each offset (positive: the mouth moves first)."""

    lags: NDArray[Any]
    corr: NDArray[Any]
    n_eff: float  # independent samples behind each correlation (duration x 2 x bandwidth)
    speech_s: float

    @property
    def best(self) -> tuple[float, float]:
        """(offset s, correlation) at the highest correlation."""
        if not np.isfinite(self.corr).any():
            return 0.0, float("nan")
        i = int(np.nanargmax(self.corr))
        return float(self.lags[i]), float(self.corr[i])

    @property
    def in_range(self) -> tuple[float, float]:
        """(offset s, correlation) at the highest correlation within :data:`PLAUSIBLE_LAG_S`."""
        m = (self.lags >= PLAUSIBLE_LAG_S[0] - 1e-9) & (self.lags <= PLAUSIBLE_LAG_S[1] + 1e-9) & np.isfinite(self.corr)
        if not m.any():
            return 0.0, float("nan")
        i = int(np.flatnonzero(m)[np.argmax(self.corr[m])])
        return float(self.lags[i]), float(self.corr[i])

    def z(self, r: float) -> float:
        """Fisher z of correlation ``r`` against no relation, given ``n_eff``."""
        if not math.isfinite(r) or self.n_eff <= 3:
            return 0.0
        return float(math.atanh(max(-0.999, min(0.999, r))) * math.sqrt(self.n_eff - 3))


def mouth_signal(sig: TrackSignals) -> NDArray[Any]:
    """Mean of the standardised mouth-opening signals: rises as the mouth opens."""
    cols = []
    for name in _MOUTH:
        x = _SIGN[name] * sig.signal(name)
        sd = float(np.std(x))
        cols.append((x - float(np.mean(x))) / sd if sd > 1e-9 else np.zeros_like(x))
    return np.mean(cols, axis=0) if cols else np.zeros(len(sig))


def runs(
    t: NDArray[Any], segment: NDArray[Any], max_gap_s: float = MAX_GAP_S, min_len_s: float = MIN_RUN_S
) -> list[slice]:
    """Index slices of contiguous samples (same segment, no gap over ``max_gap_s``) at least ``min_len_s`` long."""
    out: list[slice] = []
    if len(t) == 0:
        return out
    start = 0
    for i in range(1, len(t) + 1):
        if i == len(t) or t[i] - t[i - 1] > max_gap_s or segment[i] != segment[i - 1]:
            if t[i - 1] - t[start] >= min_len_s:
                out.append(slice(start, i))
            start = i
    return out


def _bandpass(x: NDArray[Any], rate: float) -> NDArray[Any]:
    from scipy import signal  # ~1 s to import (it pulls scipy.stats): paid by files with a voice, not at start-up

    hi = min(BAND_HZ[1], 0.45 * rate)
    b, a = signal.butter(2, [BAND_HZ[0] / (rate / 2), hi / (rate / 2)], btype="band")
    if len(x) <= 3 * max(len(a), len(b)):
        centred: NDArray[Any] = x - x.mean()
        return centred
    out: NDArray[Any] = signal.filtfilt(b, a, x)
    return out


def sync_curve(t: NDArray[Any], mouth: NDArray[Any], segment: NDArray[Any], env: Envelope,
               max_lag_s: float = MAX_LAG_S, step_s: float = LAG_STEP_S) -> SyncCurve | None:
    """Correlate the mouth (sampled at times ``t``) with the speech envelope at offsets of ±``max_lag_s``.

    Each contiguous run of samples is put on a :data:`GRID_HZ` grid and band-passed on
    its own; the correlation pools every run's grid points. Positive offsets compare
    the mouth now with the voice later (the mouth moves first). None when no run is
    long enough or the sound does not cover the face.
    """
    if len(env.db) == 0:
        return None
    loud = float(np.percentile(env.db, 90))
    env_db = np.clip(env.smooth, loud - ENV_RANGE_DB, None)
    et = env.times
    lags = np.round(np.arange(-max_lag_s, max_lag_s + 1e-9, step_s), 6)
    pieces: list[tuple[NDArray[Any], NDArray[Any]]] = []  # (grid times, band-passed mouth)
    for sl in runs(t, segment):
        g = np.arange(t[sl][0], t[sl][-1], 1.0 / GRID_HZ)
        if len(g) < 8:
            continue
        m = np.interp(g, t[sl], mouth[sl])
        pieces.append((g, _bandpass(m, GRID_HZ)))
    if not pieces:
        return None
    corr = np.full(len(lags), np.nan)
    for k, lag in enumerate(lags):
        xs, ys = [], []
        for g, m in pieces:
            e = np.interp(g + lag, et, env_db, left=np.nan, right=np.nan)
            ok = np.isfinite(e)
            if ok.sum() < 0.8 * len(g):
                continue
            e = np.where(ok, e, np.nanmean(e))
            xs.append(m[ok])
            ys.append(_bandpass(e, GRID_HZ)[ok])
        if not xs:
            continue
        x, y = np.concatenate(xs), np.concatenate(ys)
        if len(x) < 20 or x.std() < 1e-9 or y.std() < 1e-9:
            continue
        corr[k] = float(np.corrcoef(x, y)[0, 1])
    covered = sum(float(g[-1] - g[0]) for g, _ in pieces)
    voiced = np.concatenate([env.voiced_at(g) for g, _ in pieces])
    speech_s = float(voiced.mean()) * covered if len(voiced) else 0.0
    n_eff = 2.0 * (BAND_HZ[1] - BAND_HZ[0]) * covered / 2.0  # the mouth rarely moves above ~4 Hz: half the band
    return SyncCurve(lags, corr, n_eff, speech_s)


def window_agreement(
    t: NDArray[Any],
    mouth: NDArray[Any],
    segment: NDArray[Any],
    env: Envelope,
    lag: float,
    window_s: float = WINDOW_S,
    hop_s: float = WINDOW_HOP_S,
) -> list[tuple[float, float, float, float]]:
    """(start, end, correlation at ``lag``, voiced share) for each window of speech along the track."""
    out: list[tuple[float, float, float, float]] = []
    if len(env.db) == 0:
        return out
    loud = float(np.percentile(env.db, 90))
    env_db = np.clip(env.smooth, loud - ENV_RANGE_DB, None)
    for sl in runs(t, segment, min_len_s=window_s):
        g = np.arange(t[sl][0], t[sl][-1], 1.0 / GRID_HZ)
        m = _bandpass(np.interp(g, t[sl], mouth[sl]), GRID_HZ)
        e = np.interp(g + lag, env.times, env_db, left=np.nan, right=np.nan)
        ok = np.isfinite(e)
        if ok.sum() < 0.8 * len(g):
            continue
        e = _bandpass(np.where(ok, e, np.nanmean(e)), GRID_HZ)
        voiced = env.voiced_at(g + lag)
        n = int(round(window_s * GRID_HZ))
        step = int(round(hop_s * GRID_HZ))
        for i in range(0, len(g) - n + 1, step):
            w = slice(i, i + n)
            if m[w].std() < 1e-9 or e[w].std() < 1e-9:
                continue
            r = float(np.corrcoef(m[w], e[w])[0, 1])
            out.append((float(g[i]), float(g[i + n - 1]), r, float(voiced[w].mean())))
    return out


def corr_upper(r: float, n_eff: float) -> float:
    """The correlation one standard error above ``r`` (Fisher z): short clips must not look out of sync by chance."""
    if not math.isfinite(r) or n_eff <= 4:
        return 1.0
    return float(math.tanh(math.atanh(max(-0.999, min(0.999, r))) + 1.0 / math.sqrt(n_eff - 3)))


def sync_suspicion(corr_in_range: float, corr_best: float, lag_best: float, n_eff: float = math.inf) -> float:
    """0..1: how far the mouth is from following the voice, giving short clips the benefit of the doubt.

    Uses the correlation one standard error above the measured one, so 3 s of speech
    needs a much lower correlation than 30 s to look out of sync; 0.5 at
    :data:`MISMATCH_MAX_CORR`, where the lip-sync rule of :mod:`unmask.rules` fires.
    """
    if not math.isfinite(corr_in_range):
        return 0.5
    r = corr_upper(corr_in_range, n_eff) if math.isfinite(n_eff) else corr_in_range
    s = 0.5 + 0.5 * (MISMATCH_MAX_CORR - r) / MISMATCH_SPAN
    if math.isfinite(corr_best) and not (PLAUSIBLE_LAG_S[0] <= lag_best <= PLAUSIBLE_LAG_S[1]) \
            and corr_best - corr_in_range >= OFFSET_MARGIN:
        s = max(s, 0.75)  # the mouth follows the voice, but shifted: an offset, not a match
    return float(min(1.0, max(0.0, s)))
