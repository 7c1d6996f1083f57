"""The mel spectrogram resemblyzer's speaker encoder was trained on, in plain numpy.

resemblyzer computes it with ``librosa.feature.melspectrogram`` (16 kHz, 25 ms
Hann window, 10 ms hop, 40 Slaney-normalised mel bands, power 2, centred
frames zero-padded at both ends). librosa is not a dependency of unmask (its
first call compiles numba caches for ~28 s), so the same numbers are
reproduced here; ``tests/unit/test_voice.py`` checks them against librosa
when it is installed.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import numpy.typing as npt

RATE = 16000
N_FFT = 400  # 25 ms
HOP = 160  # 10 ms
N_MELS = 40


def _hz_to_mel(f: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Slaney's mel scale (librosa's default, htk=False): linear below 1 kHz, logarithmic above."""
    f = np.asarray(f, dtype=np.float64)
    f_sp = 200.0 / 3
    mels = f / f_sp
    min_log_hz = 1000.0
    min_log_mel = min_log_hz / f_sp
    logstep = np.log(6.4) / 27.0
    return np.where(f >= min_log_hz, min_log_mel + np.log(np.maximum(f, 1e-10) / min_log_hz) / logstep, mels)


def _mel_to_hz(m: npt.ArrayLike) -> npt.NDArray[np.float64]:
    m = np.asarray(m, dtype=np.float64)
    f_sp = 200.0 / 3
    min_log_hz = 1000.0
    min_log_mel = min_log_hz / f_sp
    logstep = np.log(6.4) / 27.0
    return np.where(m >= min_log_mel, min_log_hz * np.exp(logstep * (m - min_log_mel)), f_sp * m)


@lru_cache(maxsize=4)
def mel_filters(sr: int = RATE, n_fft: int = N_FFT, n_mels: int = N_MELS) -> npt.NDArray[np.float32]:
    """(n_mels, 1 + n_fft // 2) triangular filters, Slaney area-normalised, as ``librosa.filters.mel``."""
    fftfreqs = np.fft.rfftfreq(n_fft, 1.0 / sr)
    mel_f = _mel_to_hz(np.linspace(_hz_to_mel(np.array(0.0)), _hz_to_mel(np.array(sr / 2.0)), n_mels + 2))
    fdiff = np.diff(mel_f)
    ramps = mel_f[:, None] - fftfreqs[None, :]
    lower = -ramps[:-2] / fdiff[:-1, None]
    upper = ramps[2:] / fdiff[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    weights *= (2.0 / (mel_f[2:n_mels + 2] - mel_f[:n_mels]))[:, None]
    out: npt.NDArray[np.float32] = weights.astype(np.float32)
    out.setflags(write=False)
    return out


def mel_spectrogram(wav: npt.ArrayLike) -> npt.NDArray[np.float32]:
    """(frames, 40) float32 power mel spectrogram of 16 kHz samples (frame k centred on sample k * 160)."""
    x = np.asarray(wav, dtype=np.float32)
    if x.ndim != 1:
        raise ValueError(f"mel_spectrogram needs 1-D samples, got shape {x.shape}")
    pad = N_FFT // 2
    x = np.pad(x, (pad, pad), mode="constant")
    if len(x) < N_FFT:
        x = np.pad(x, (0, N_FFT - len(x)))
    frames = np.lib.stride_tricks.sliding_window_view(x, N_FFT)[::HOP]
    window = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(N_FFT) / N_FFT)).astype(np.float32)  # periodic Hann
    spec = np.abs(np.fft.rfft(frames * window, axis=1)) ** 2
    return np.asarray(spec.astype(np.float32) @ mel_filters().T, dtype=np.float32)


__all__ = ["HOP", "N_FFT", "N_MELS", "RATE", "mel_filters", "mel_spectrogram"]
