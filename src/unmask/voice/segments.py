"""Cut a sound track into stretches of speech to embed, with the speech detection lip sync already uses.

Speech frames are those :func:`unmask.media.speech.speech_envelope` marks
voiced (within 20 dB of the track's loud level), widened by 100 ms each side
so word edges stay; the rest (pauses, silence) is dropped, as resemblyzer's
own VAD trimming does. The speech left is cut, in time order, into
:data:`SEGMENT_S` segments (a remainder of at least :data:`MIN_SEGMENT_S` is
kept): one speaker embedding each, so two voices in one clip fall into
different segments and can be told apart.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.ndimage import binary_dilation

from unmask.media.audio import AudioTrack
from unmask.media.speech import SoundClass, classify_sound, speech_envelope
from unmask.voice.mel import RATE

SEGMENT_S = 3.0
MIN_SEGMENT_S = 1.6  # one encoder window
WIDEN_S = 0.1


@dataclass(frozen=True)
class SpeechSegment:
    """One stretch of speech: its samples (16 kHz, pauses removed) and where it lies on the video clock."""

    samples: npt.NDArray[np.float32]
    start_s: float
    end_s: float

    def __post_init__(self) -> None:
        if self.samples.ndim != 1 or self.samples.dtype != np.float32:
            s = self.samples
            raise ValueError(f"SpeechSegment: samples must be 1-D float32, got {s.shape} {s.dtype}")

    @property
    def speech_s(self) -> float:
        return len(self.samples) / RATE


@dataclass(frozen=True)
class SpeechCut:
    """What a sound track holds (:class:`SoundClass`) and its speech segments."""

    sound: SoundClass
    segments: tuple[SpeechSegment, ...]
    speech_s: float  # seconds of speech kept (pauses removed)


def speech_segments(audio: AudioTrack, segment_s: float = SEGMENT_S) -> SpeechCut:
    """The speech in ``audio`` (16 kHz mono) in ``segment_s`` segments; see the module docstring."""
    if audio.rate != RATE:
        raise ValueError(f"speech_segments needs {RATE} Hz audio, got {audio.rate}")
    env = speech_envelope(audio)
    sound = classify_sound(env)
    if len(env.voiced) == 0:
        return SpeechCut(sound, (), 0.0)
    widen = max(1, int(round(WIDEN_S / env.hop_s)))
    mask = binary_dilation(env.voiced, np.ones(2 * widen + 1, bool))
    hop = int(round(env.hop_s * RATE))
    keep = np.repeat(mask, hop)[:len(audio.samples)]
    keep = np.pad(keep, (0, len(audio.samples) - len(keep)))
    idx = np.flatnonzero(keep)
    speech = audio.samples[idx]
    seg = int(round(segment_s * RATE))
    out: list[SpeechSegment] = []
    for a in range(0, len(speech), seg):
        b = min(a + seg, len(speech))
        if b - a < MIN_SEGMENT_S * RATE:
            break
        t0 = audio.start_s + idx[a] / RATE
        t1 = audio.start_s + idx[b - 1] / RATE
        out.append(SpeechSegment(np.ascontiguousarray(speech[a:b], np.float32), float(t0), float(t1)))
    return SpeechCut(sound, tuple(out), len(speech) / RATE)


__all__ = ["MIN_SEGMENT_S", "SEGMENT_S", "SpeechCut", "SpeechSegment", "speech_segments"]
