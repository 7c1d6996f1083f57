"""The shipped speaker encoder (GE2E, exported from resemblyzer) run with onnxruntime, so scans need no torch.

As resemblyzer's ``embed_utterance``: a stretch of speech is cut into 1.6 s
mel windows (160 frames) about 1.3 per second, each window is embedded, and
the stretch's embedding is the L2-normalised mean of its windows'. The file
is checked against its manifest's sha256 before first use.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from unmask.errors import ModelError
from unmask.learned.runtime import file_sha256
from unmask.voice.mel import HOP, N_MELS, RATE, mel_spectrogram

ONNX_NAME = "voice_encoder.onnx"
MANIFEST_NAME = "voice_encoder.json"
PARTIAL_FRAMES = 160  # 1.6 s
PARTIALS_PER_S = 1.3
MIN_COVERAGE = 0.75
EMBEDDING_DIM = 256
THREADS = 1  # the LSTM is sequential: a second thread gains little on 2 cores
BATCH = 64


def _shipped(name: str) -> Path:
    return Path(str(resources.files("unmask.models").joinpath(name)))


def partial_starts(n_samples: int) -> list[int]:
    """Mel-frame starts of the 1.6 s windows covering ``n_samples`` (resemblyzer's ``compute_partial_slices``)."""
    n_frames = int(np.ceil((n_samples + 1) / HOP))
    step = int(np.round((RATE / PARTIALS_PER_S) / HOP))
    starts = list(range(0, max(1, n_frames - PARTIAL_FRAMES + step + 1), step))
    last = starts[-1] * HOP
    coverage = (n_samples - last) / (PARTIAL_FRAMES * HOP)
    if coverage < MIN_COVERAGE and len(starts) > 1:
        starts = starts[:-1]
    return starts


def partial_mels(wav: npt.NDArray[np.floating[Any]]) -> npt.NDArray[np.float32]:
    """(n, 160, 40) mel windows of one stretch of 16 kHz speech (zero-padded at the end as resemblyzer does)."""
    starts = partial_starts(len(wav))
    need = (starts[-1] + PARTIAL_FRAMES) * HOP
    x = np.asarray(wav, np.float32)
    if need >= len(x):
        x = np.pad(x, (0, need - len(x)))
    mel = mel_spectrogram(x)
    return np.asarray(np.stack([mel[s:s + PARTIAL_FRAMES] for s in starts]), dtype=np.float32)


def normalise_volume(wav: npt.ArrayLike, target_dbfs: float = -30.0) -> npt.NDArray[np.float32]:
    """Raise quiet speech to ``target_dbfs`` RMS (never lower it), as resemblyzer's ``preprocess_wav``."""
    x = np.asarray(wav, np.float32)
    rms = float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) if len(x) else 0.0
    if rms <= 0:
        return x
    change = target_dbfs - 20 * np.log10(rms)
    return x if change < 0 else (x * (10 ** (change / 20))).astype(np.float32)


class VoiceEncoder:
    """Lazy onnxruntime wrapper around voice_encoder.onnx and its manifest."""

    def __init__(self, onnx_path: Path | None = None, manifest_path: Path | None = None) -> None:
        self.onnx_path = Path(onnx_path) if onnx_path is not None else _shipped(ONNX_NAME)
        self.manifest_path = (Path(manifest_path) if manifest_path is not None else
                              self.onnx_path.with_suffix(".json") if onnx_path is not None else _shipped(MANIFEST_NAME))
        self._session: Any = None

    def load(self) -> None:
        """Verify and open the model once; ``ModelError`` says what is wrong."""
        if self._session is not None:
            return
        for p, what in ((self.onnx_path, "weights"), (self.manifest_path, "manifest")):
            if not p.is_file():
                raise ModelError(f"voice encoder {what} not found at {p} (reinstall unmask)")
        try:
            expected = str(json.loads(self.manifest_path.read_text())["sha256"])
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise ModelError(f"voice encoder manifest {self.manifest_path} is unreadable: {e}") from None
        actual = file_sha256(self.onnx_path)
        if actual != expected:
            raise ModelError(f"voice encoder weights {self.onnx_path} do not match their manifest (sha256 "
                             f"{actual[:12]}..., expected {expected[:12]}...): the file is corrupt or replaced")
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = THREADS
        opts.inter_op_num_threads = 1
        try:
            self._session = ort.InferenceSession(str(self.onnx_path), opts, providers=["CPUExecutionProvider"])
        except Exception as e:  # onnxruntime raises its own untyped errors
            raise ModelError(f"voice encoder {self.onnx_path} cannot be loaded: {e}") from None

    def embed_partials(self, mels: npt.NDArray[np.floating[Any]]) -> npt.NDArray[np.float32]:
        """(n, 256) L2-normalised embeddings of (n, 160, 40) mel windows."""
        if mels.ndim != 3 or mels.shape[1:] != (PARTIAL_FRAMES, N_MELS):
            raise ValueError(f"embed_partials needs (n, {PARTIAL_FRAMES}, {N_MELS}) mels, got {mels.shape}")
        self.load()
        out = [self._session.run(None, {"mels": mels[i:i + BATCH].astype(np.float32)})[0]
               for i in range(0, len(mels), BATCH)]
        return np.asarray(np.concatenate(out), dtype=np.float32) if out else np.zeros((0, EMBEDDING_DIM), np.float32)

    def embed_many(self, wavs: Sequence[npt.ArrayLike]) -> npt.NDArray[np.float32]:
        """(len(wavs), 256): one embedding per stretch of speech, all windows run in one batch."""
        if not wavs:
            return np.zeros((0, EMBEDDING_DIM), np.float32)
        parts = [partial_mels(normalise_volume(w)) for w in wavs]
        embs = self.embed_partials(np.concatenate(parts))
        out, i = [], 0
        for p in parts:
            m = embs[i:i + len(p)].mean(axis=0)
            out.append(m / max(float(np.linalg.norm(m)), 1e-12))
            i += len(p)
        return np.asarray(np.stack(out), dtype=np.float32)


__all__ = ["EMBEDDING_DIM", "VoiceEncoder", "normalise_volume", "partial_mels", "partial_starts"]
